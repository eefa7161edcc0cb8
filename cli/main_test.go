package cli

import (
	"os"
	"testing"
)

// mainEnv, when set to 1, makes the test binary run Main on its arguments
// instead of the tests, so a test can start real audiencesync processes.
const mainEnv = "AUDIENCESYNC_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
