package syncs

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// flakyLocker fails the first fails AcquireLock calls as a store that
// cannot answer does (SQLITE_BUSY), then behaves.
type flakyLocker struct {
	state.Locker
	fails atomic.Int32
	calls atomic.Int32
}

var errStoreBusy = errors.New("database is locked (5) (SQLITE_BUSY)")

func (f *flakyLocker) AcquireLock(ctx context.Context, want state.Lock, now time.Time) (state.Lock, error) {
	f.calls.Add(1)
	if f.fails.Add(-1) >= 0 {
		return state.Lock{}, errStoreBusy
	}
	return f.Locker.AcquireLock(ctx, want, now)
}

// TestLockSyncStoreErrors: a store error fails at once a run that does not
// wait, and is asked again by one that waits.
func TestLockSyncStoreErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fails   int32
		wait    time.Duration
		wantErr bool
		calls   int32
	}{
		{"no wait: the error is the answer", 1, 0, true, 1},
		{"waiting: asked again until it answers", 2, 30 * time.Second, false, 3},
		{"waiting: the last error once the wait is over", 100, 300 * time.Millisecond, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "state.db"))
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			locker := &flakyLocker{Locker: st}
			locker.fails.Store(tt.fails)
			s := &Service{log: zap.NewNop(), lockTTL: time.Minute, id: "test"}
			held, err := s.lockSync(t.Context(), locker, "buyers", tt.wait)
			if tt.wantErr {
				require.ErrorIs(t, err, errStoreBusy)
				require.NotErrorIs(t, err, ErrBusy, "a store error is not a busy sync")
			} else {
				require.NoError(t, err)
				require.NoError(t, held.release(t.Context()))
			}
			if tt.calls > 0 {
				require.Equal(t, tt.calls, locker.calls.Load())
			}
		})
	}
}
