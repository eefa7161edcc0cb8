package cli

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// mainEnv, when set to 1, makes the test binary run Main on its arguments
// instead of the tests, so a test can start real audiencesync processes.
const mainEnv = "AUDIENCESYNC_TEST_RUN_MAIN"

// TestMain runs Main when asked to (see mainEnv); otherwise it runs the
// tests and fails them if any leaves a goroutine running: a command's
// in-process sandbox and engine pools must wind down before it returns.
func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}
