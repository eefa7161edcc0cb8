package cli

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any of them leaves a goroutine
// running: a command's in-process sandbox and engine pools must wind down
// before it returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
