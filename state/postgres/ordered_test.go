package postgres_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

// TestMembersOrdered: the key-ordered stream a bounded-memory plan
// merges with the source is the scope's members, and only them, in
// bytewise key order (what the engine's merge compares with), as
// Snapshot has them but without identifiers; a scope never committed
// yields nothing, and a stream stopped early lets the store go on.
// (statetest's conformance case of state.OrderedMembers covers it too
// once that optional interface is merged.)
func TestMembersOrdered(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := t.Context()
	scope, other := state.Scope{Sync: "buyers", Destination: "x"}, state.Scope{Sync: "buyers", Destination: "meta"}
	var changes []state.Change
	for i := range 500 {
		// Hashed keys: their bytes, high bits included, are in no order.
		changes = append(changes, state.Change{Key: audience.KeyFromSource(fmt.Sprintf("C%04d", i)),
			Identifiers: []audience.Identifier{{Kind: audience.Email, Value: fmt.Sprintf("%064d", i)}}, LastSent: time.Unix(1700000000+int64(i), 0)})
	}
	require.NoError(t, s.Commit(ctx, scope, changes))
	require.NoError(t, s.Commit(ctx, scope, []state.Change{{Key: changes[7].Key, Delete: true}}))
	require.NoError(t, s.Commit(ctx, other, changes[:3]))

	var want []state.Entry
	for e, err := range s.Snapshot(ctx, scope) {
		require.NoError(t, err)
		e.Identifiers = nil
		want = append(want, e)
	}
	require.Len(t, want, 499)
	var got []state.Entry
	for e, err := range s.MembersOrdered(ctx, scope) {
		require.NoError(t, err)
		require.Nil(t, e.Identifiers, "no identifiers in the ordered stream")
		if n := len(got); n > 0 {
			require.Negative(t, bytes.Compare(got[n-1].Key[:], e.Key[:]), "member %d out of key order", n)
		}
		got = append(got, e)
	}
	require.Equal(t, want, got)

	for e, err := range s.MembersOrdered(ctx, state.Scope{Sync: "never", Destination: "x"}) {
		t.Fatalf("a scope never committed yielded %v, %v", e, err)
	}
	for range 20 { // more than the pool's connections: each early stop gives its own back
		for _, err := range s.MembersOrdered(ctx, scope) {
			require.NoError(t, err)
			break
		}
	}
	n, err := s.Count(ctx, other)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
}
