package connectortest

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// Golden compares got with the golden file at path, first rewriting the
// file when update is set (tests pass the value of their own -update flag,
// so this package defines no flags of its own).
func Golden(t *testing.T, path string, got []byte, update bool) {
	t.Helper()
	if update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create golden files")
	require.Equal(t, string(want), string(got), "differs from %s; run go test -update if the change is intended", path)
}
