package syncs

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// reachable reports whether the sandbox at url answers.
func reachable(t *testing.T, url string) bool {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/_sandbox/state", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestSandboxStopsWithItsLastUser: the in-process sandbox starts on first
// use, keeps running while any run may use it, and stops (its state file
// written) when the last one ends, before that run releases its lock.
func TestSandboxStopsWithItsLastUser(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audiencesync.sandbox.json")
	h := &sandboxHost{statePath: path, log: zap.NewNop()}

	done1, done2 := h.use(), h.use()
	url, err := h.baseURL(t.Context())
	require.NoError(t, err)
	again, err := h.baseURL(t.Context())
	require.NoError(t, err)
	require.Equal(t, url, again, "one sandbox per process")
	require.FileExists(t, path)
	require.True(t, reachable(t, url))

	require.NoError(t, done1())
	require.True(t, reachable(t, url), "another run still uses it")
	require.NoError(t, done1(), "done is idempotent")
	require.True(t, reachable(t, url), "a repeated done does not count twice")
	require.NoError(t, os.Remove(path))
	require.NoError(t, done2())
	require.False(t, reachable(t, url), "stopped with its last user")
	require.FileExists(t, path, "stopping writes the state file")

	// The next run starts it afresh; Close stops it whoever uses it.
	h.use()
	url, err = h.baseURL(t.Context())
	require.NoError(t, err)
	require.True(t, reachable(t, url))
	require.NoError(t, h.close())
	require.False(t, reachable(t, url))
	_, err = h.baseURL(t.Context())
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, h.close())
}
