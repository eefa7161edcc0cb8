package daemon_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/syncs"
)

// The web factory's handler serves every path the daemon's own and the
// API's leave, is built again on reload, and the run log records what
// started each run: the caller's words given to Trigger ("web:NAME"),
// else "api", and "schedule" for a tick.
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
	addr, _ := b.start(t, 2)
	base := "http://" + addr
	for path, want := range map[string]string{"/": "web / buyers", "/runs/x": "web /runs/x buyers", "/api/v1/syncs": "api", "/healthz": "ok\n"} {
		code, body := get(t, base+path)
		require.Equal(t, http.StatusOK, code, path)
		require.Equal(t, want, body, path)
	}

	rep, err := b.d.Trigger(t.Context(), "buyers", syncs.RunOptions{})
	require.NoError(t, err)
	recv(t, b.gate.finished, "triggered run")
	named, err := b.d.Trigger(t.Context(), "buyers", syncs.RunOptions{StartedBy: "web:marketing"})
	require.NoError(t, err)
	recv(t, b.gate.finished, "triggered run, named")
	b.advanceTo(nextMinute)
	sched := recv(t, b.gate.finished, "scheduled run")
	for id, want := range map[string]string{rep.RunID: "api", named.RunID: "web:marketing", sched.Run.ID: "schedule"} {
		rec, err := b.d.Service().RunRecord(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, want, rec.StartedBy, "run %s", id)
	}
	require.Equal(t, "web:marketing", named.StartedBy, "in the report too")

	writeConfig(t, b.dir, "", "sellers", "* * * * *")
	require.NoError(t, b.d.Reload(t.Context()))
	require.Equal(t, int32(2), built.Load(), "the UI is built again on the new config")
	_, body := get(t, base+"/")
	require.Equal(t, "web / sellers", body)
}
