package statetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
)

func testHoldoutKeyFirstWins(t *testing.T, b *bundle) {
	first, err := b.holdouts.HoldoutKey(b.ctx, "retargeting", []byte("key one"))
	noError(t, err)
	requireSame(t, []byte("key one"), first)
	again, err := b.holdouts.HoldoutKey(b.ctx, "retargeting", []byte("key two"))
	noError(t, err)
	requireSame(t, []byte("key one"), again, "the first key recorded stays")
	other, err := b.holdouts.HoldoutKey(b.ctx, "newsletter", []byte("key three"))
	noError(t, err)
	requireSame(t, []byte("key three"), other, "each sync has its own key")
}

func testHoldoutKeyConcurrent(t *testing.T, b *bundle) {
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := b.holdouts.HoldoutKey(b.ctx, "retargeting", fmt.Appendf(nil, "key %d", i))
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys {
		check(t, bytes.Equal(k, keys[0]), "every first use gets the same key: %q and %q", k, keys[0])
	}
}

func testHeldOutReplaced(t *testing.T, b *bundle) {
	keys, at, err := b.holdouts.HeldOut(b.ctx, "retargeting", "carts")
	noError(t, err)
	requireSame(t, 0, len(keys))
	check(t, at.IsZero(), "nothing recorded: zero time")

	k := func(s string) audience.MemberKey { return audience.KeyFromSource(s) }
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	noError(t, b.holdouts.SetHeldOut(b.ctx, "retargeting", "carts", []audience.MemberKey{k("c"), k("a"), k("b")}, t0))
	noError(t, b.holdouts.SetHeldOut(b.ctx, "retargeting", "browsers", []audience.MemberKey{k("z")}, t0))
	noError(t, b.holdouts.SetHeldOut(b.ctx, "retargeting", "carts", []audience.MemberKey{k("b"), k("d")}, t0.Add(time.Hour)))
	keys, at, err = b.holdouts.HeldOut(b.ctx, "retargeting", "carts")
	noError(t, err)
	want := []audience.MemberKey{k("b"), k("d")}
	if want[0].Compare(want[1]) > 0 {
		want[0], want[1] = want[1], want[0]
	}
	requireSame(t, want, keys, "the last record replaces the first, sorted")
	requireSame(t, t0.Add(time.Hour), at)
	keys, _, err = b.holdouts.HeldOut(b.ctx, "retargeting", "browsers")
	noError(t, err)
	requireSame(t, []audience.MemberKey{k("z")}, keys, "segments are independent")
	keys, _, err = b.holdouts.HeldOut(b.ctx, "newsletter", "carts")
	noError(t, err)
	requireSame(t, 0, len(keys), "syncs are independent")
}
