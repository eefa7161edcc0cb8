package statetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The suite's assertions: each stops the subtest at the first failure.

// requireSame fails with a diff unless got equals want. Times compare with
// time.Time.Equal.
func requireSame(t *testing.T, want, got any, msg ...any) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%smismatch (-want +got):\n%s", prefix(msg), diff)
	}
}

func check(t *testing.T, ok bool, msg ...any) {
	t.Helper()
	if !ok {
		t.Fatalf("%scheck failed", prefix(msg))
	}
}

func noError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func isError(t *testing.T, err error, msg ...any) {
	t.Helper()
	if err == nil {
		t.Fatalf("%sexpected an error, got nil", prefix(msg))
	}
}

func errorIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want one wrapping %v", err, target)
	}
}

// prefix formats an optional message (a format and its arguments) as the
// start of a failure line.
func prefix(msg []any) string {
	if len(msg) == 0 {
		return ""
	}
	format, ok := msg[0].(string)
	if !ok {
		return fmt.Sprint(msg...) + ": "
	}
	return fmt.Sprintf(format, msg[1:]...) + ": "
}
