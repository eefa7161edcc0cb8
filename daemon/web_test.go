package daemon_test

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/syncs"
)

// The web factory's handler serves every path the daemon's own and the
// API's leave, is built again on reload, and StartedBy hears what started
// each run: "api" for Trigger, "schedule" for a tick.
func TestWebMountAndStartedBy(t *testing.T) {
	t.Parallel()
	b := setup(t, "serve: {max_jitter: 0s}\n", "buyers", "* * * * *")
	var built atomic.Int32
	b.opts.Web = func(deps daemon.APIDeps) http.Handler {
		built.Add(1)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "web "+r.URL.Path+" "+deps.Service.Syncs()[0].Name)
		})
	}
	b.opts.API = func(daemon.APIDeps) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "api") })
	}
	var mu sync.Mutex
	started := map[string]string{}
	b.opts.StartedBy = func(run engine.RunRef, trigger string) {
		mu.Lock()
		started[run.ID] = trigger
		mu.Unlock()
	}
	addr, _ := b.start(t, 2)
	base := "http://" + addr
	for path, want := range map[string]string{"/": "web / buyers", "/runs/x": "web /runs/x buyers", "/api/v1/syncs": "api", "/healthz": "ok\n"} {
		code, body := get(t, base+path)
		require.Equal(t, http.StatusOK, code, path)
		require.Equal(t, want, body, path)
	}

	rep, err := b.d.Trigger(t.Context(), "buyers", syncs.RunOptions{})
	require.NoError(t, err)
	b.advanceTo(nextMinute)
	recv(t, b.gate.finished, "triggered run")
	sched := recv(t, b.gate.finished, "scheduled run")
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(started) == 2 }, 10*time.Second, 5*time.Millisecond)
	mu.Lock()
	require.Equal(t, "api", started[rep.RunID])
	require.Equal(t, "schedule", started[sched.Run.ID])
	mu.Unlock()

	writeConfig(t, b.dir, "", "sellers", "* * * * *")
	require.NoError(t, b.d.Reload(t.Context()))
	require.Equal(t, int32(2), built.Load(), "the UI is built again on the new config")
	_, body := get(t, base+"/")
	require.Equal(t, "web / sellers", body)
}
