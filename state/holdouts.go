package state

import (
	"context"
	"time"

	"github.com/audiencesync/audiencesync/audience"
)

// Holdouts keeps what segment holdouts need across runs and processes:
// one secret key per sync, which picks the members held out (so the same
// people stay held out however many processes share the store), and who
// is held out of each segment, as member keys (hashes: never contact
// data), so a campaign's lift can be measured against them later. All
// methods are safe for concurrent use.
type Holdouts interface {
	// HoldoutKey returns sync's holdout key. The first call for a sync
	// records fresh and returns it; every later call, from any process
	// sharing the store, returns that key, so two processes racing to
	// create it agree on one.
	HoldoutKey(ctx context.Context, sync string, fresh []byte) ([]byte, error)
	// SetHeldOut replaces the members held out of segment of sync with
	// keys, recorded at.
	SetHeldOut(ctx context.Context, sync, segment string, keys []audience.MemberKey, at time.Time) error
	// HeldOut returns the keys held out of segment of sync, sorted, and
	// when they were recorded; none and the zero time when nothing is.
	HeldOut(ctx context.Context, sync, segment string) ([]audience.MemberKey, time.Time, error)
}
