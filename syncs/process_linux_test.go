package syncs_test

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// TestGoneLocalHolderIsTakenOverAtOnce leaves the lock of a process of
// this host that has exited (as kill -9 leaves it, lease still running):
// the next run takes it over at once, without waiting for the lease. A
// holder that is alive, or whose pid belongs to another PID namespace, is
// still waited for.
func TestGoneLocalHolderIsTakenOverAtOnce(t *testing.T) {
	t.Parallel()
	ns, err := os.Readlink("/proc/self/ns/pid")
	require.NoError(t, err)
	host, err := os.Hostname()
	require.NoError(t, err)
	exited := exec.Command("true")
	require.NoError(t, exited.Run())
	gone := exited.Process.Pid

	tests := []struct {
		name     string
		holder   state.Lock
		takeOver bool
	}{
		{"gone, this namespace", state.Lock{Owner: ns + "/dead-1", PID: gone, Host: host}, true},
		{"alive, this namespace", state.Lock{Owner: ns + "/alive-1", PID: os.Getppid(), Host: host}, false},
		{"gone, another namespace", state.Lock{Owner: "pid:[1]/dead-1", PID: gone, Host: host}, false},
		{"gone, another host", state.Lock{Owner: ns + "/dead-1", PID: gone, Host: "elsewhere"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, syncs.Options{})
			st := b.openStore(t)
			now := time.Now().UTC()
			holder := tt.holder
			holder.Name, holder.Expires = "sync:buyers", now.Add(time.Hour)
			_, err := st.AcquireLock(t.Context(), holder, now)
			require.NoError(t, err)
			b.gate.release()
			start := time.Now()
			rep, err := b.svc.Run(t.Context(), "buyers", syncs.RunOptions{Wait: time.Second})
			if !tt.takeOver {
				require.ErrorIs(t, err, syncs.ErrBusy)
				return
			}
			require.NoError(t, err)
			require.Equal(t, report.StatusSucceeded, rep.Status)
			require.Less(t, time.Since(start), 900*time.Millisecond, "taken over at once, not after the wait")
		})
	}
}
