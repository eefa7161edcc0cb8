package engine_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any of them leaves a goroutine
// running: the worker pools must wind down with the call that started
// them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
