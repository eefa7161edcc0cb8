package daemon_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/syncs"
)

// A sync that has not succeeded for alerts.stale_after gets one stale
// alert (the per-sync webhook replacing the global one), not one a
// minute; a success ends the episode.
func TestStaleAlert(t *testing.T) {
	t.Parallel()
	global, own := newReceiver(t, 0), newReceiver(t, 0)
	b := setup(t, "serve: {max_jitter: 0s}\nalerts: {webhook: \""+global.srv.URL+"\", stale_after: 90m}\n", "buyers", "0 0 1 1 *")
	cfg, err := os.ReadFile(b.path)
	require.NoError(t, err)
	cfg = append(cfg, "    alerts: {webhook: \""+own.srv.URL+"/own\", stale_after: 2h}\n"...)
	require.NoError(t, os.WriteFile(b.path, cfg, 0o600))
	b.opts.Alerts = &daemon.Sender{Backoff: time.Millisecond}
	b.opts.StaleCheckEvery = 30 * time.Minute
	b.start(t, 2)
	require.NoError(t, os.Remove(filepath.Join(b.dir, "contacts.csv")))
	_, err = b.d.Trigger(t.Context(), "buyers", syncs.RunOptions{})
	require.Error(t, err)
	require.Eventually(t, func() bool { a, _ := own.alerts(); return len(a) == 1 }, 10*time.Second, 5*time.Millisecond)

	// Checked every 30 minutes: nothing before 2h.
	for range 3 {
		b.clock.Advance(30 * time.Minute)
		b.waitTimers(t, 2)
	}
	time.Sleep(100 * time.Millisecond)
	got, _ := own.alerts()
	require.Len(t, got, 1, "no stale alert before stale_after")
	// Checks run in the scheduler's goroutines, possibly late under load:
	// go on ticking until one has seen 2h pass.
	require.Eventually(t, func() bool {
		if a, _ := own.alerts(); len(a) == 2 {
			return true
		}
		b.clock.Advance(30 * time.Minute)
		_ = b.clock.BlockUntilContext(t.Context(), 2)
		return false
	}, 30*time.Second, 100*time.Millisecond)
	got, _ = own.alerts()
	require.Equal(t, "stale", got[1].Reason)
	require.Contains(t, got[1].Text, "has not succeeded since the daemon started")
	require.Zero(t, global.calls.Load(), "the sync's own webhook replaces the global one")
	time.Sleep(200 * time.Millisecond)
	got, _ = own.alerts()
	require.Len(t, got, 2, "one stale alert per episode")
}

// The sender retries 5xx and 429 with back-off, gives up at once on other
// 4xx, and never puts the webhook URL (it holds a token) in its errors.
func TestSenderRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		codes   []int
		wantErr bool
		calls   int32
	}{
		{"ok first time", []int{200}, false, 1},
		{"503 then ok", []int{503, 200}, false, 2},
		{"429 twice then ok", []int{429, 429, 204}, false, 3},
		{"always 500", []int{500, 500, 500, 500, 500}, true, 3},
		{"404 is not retried", []int{404, 200}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				w.WriteHeader(tc.codes[min(int(n), len(tc.codes))-1])
			}))
			defer srv.Close()
			s := &daemon.Sender{Attempts: 3, Backoff: time.Millisecond}
			err := s.Send(t.Context(), srv.URL+"/services/T/B/s3cr3t?token=s3cr3t", daemon.TestAlert("buyers"))
			require.Equal(t, tc.calls, calls.Load())
			if !tc.wantErr {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.NotContains(t, err.Error(), "s3cr3t")
		})
	}

	// A receiver that cannot be reached: the transport's error names the
	// URL; the sender's does not.
	s := &daemon.Sender{Attempts: 2, Backoff: time.Millisecond}
	err := s.Send(t.Context(), "http://127.0.0.1:1/services/T/B/s3cr3t", daemon.TestAlert("buyers"))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cr3t")
	require.Contains(t, err.Error(), "127.0.0.1:1")
}
