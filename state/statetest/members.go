package statetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

func testCommitInsertUpdateDelete(t *testing.T, b *bundle) {
	b.commit(t, scopeA, add(1), add(2), add(3))
	requireSame(t, entries([]state.Change{add(1), add(2), add(3)}), b.members(t, scopeA))

	updated := add(2)
	updated.Identifiers = []audience.Identifier{hashed(audience.Email, "new@example.com")}
	updated.Fingerprint = audience.FingerprintOf(updated.Identifiers, audience.Consent{})
	updated.LastSent = sentAt.Add(time.Hour)
	b.commit(t, scopeA, updated, del(3), add(4))

	requireSame(t, entries([]state.Change{add(1), updated, add(4)}), b.members(t, scopeA))
	ids, err := b.ms.Identifiers(b.ctx, scopeA, []audience.MemberKey{key(2), key(3)})
	noError(t, err)
	requireSame(t, map[audience.MemberKey][]audience.Identifier{key(2): updated.Identifiers}, ids)
}

func testCommitEmpty(t *testing.T, b *bundle) {
	noError(t, b.ms.Commit(b.ctx, scopeA, nil))
	requireSame(t, int64(0), b.count(t, scopeA))
}

func testCommitAppliesInOrder(t *testing.T, b *bundle) {
	later := add(1)
	later.LastSent = sentAt.Add(time.Minute)
	b.commit(t, scopeA, add(1), later, add(2), del(2), del(3), add(3))
	requireSame(t, entries([]state.Change{later, add(3)}), b.members(t, scopeA))
}

// testCommitManyAppliesInOrder commits hundreds of changes in one call,
// with keys changed several times and deleted and added again, so that a
// store writing many rows a statement must still apply them in order.
func testCommitManyAppliesInOrder(t *testing.T, b *bundle) {
	var changes []state.Change
	want := map[audience.MemberKey]state.Change{}
	apply := func(ch state.Change) {
		changes = append(changes, ch)
		if ch.Delete {
			delete(want, ch.Key)
		} else {
			want[ch.Key] = ch
		}
	}
	for n := range 400 {
		apply(add(n))
		if n%3 == 0 {
			later := add(n / 2)
			later.Identifiers = []audience.Identifier{hashed(audience.Email, fmt.Sprintf("later%d@example.com", n))}
			later.Fingerprint = audience.FingerprintOf(later.Identifiers, audience.Consent{})
			later.LastSent = sentAt.Add(time.Duration(n) * time.Second)
			apply(later)
		}
		if n%7 == 0 {
			apply(del(n / 3))
		}
		if n%11 == 0 {
			apply(add(n / 3))
		}
	}
	b.commit(t, scopeA, changes...)
	wantEntries := map[audience.MemberKey]state.Entry{}
	wantIDs := map[audience.MemberKey][]audience.Identifier{}
	keys := make([]audience.MemberKey, 0, len(want))
	for k, ch := range want {
		wantEntries[k] = entry(ch)
		wantIDs[k] = ch.Identifiers
		keys = append(keys, k)
	}
	requireSame(t, wantEntries, b.members(t, scopeA))
	ids, err := b.ms.Identifiers(b.ctx, scopeA, keys)
	noError(t, err)
	requireSame(t, wantIDs, ids)
}

func testCommitDeleteUnknown(t *testing.T, b *bundle) {
	b.commit(t, scopeA, add(1))
	b.commit(t, scopeA, del(7), del(1), del(1))
	requireSame(t, int64(0), b.count(t, scopeA))
	b.commit(t, scopeC, del(1)) // a scope never written
	requireSame(t, int64(0), b.count(t, scopeC))
}

func testCommitCancelledLeavesNothing(t *testing.T, b *bundle) {
	b.commit(t, scopeA, adds(0, 10)...)
	before := b.snapshot(t, scopeA)

	ctx, cancel := context.WithCancel(b.ctx)
	cancel()
	changes := append(adds(10, 5000), del(0), del(1))
	changes[0].LastSent = sentAt.Add(time.Hour)
	isError(t, b.ms.Commit(ctx, scopeA, changes))
	isError(t, b.ms.Commit(ctx, scopeB, adds(0, 10)))

	requireSame(t, before, b.snapshot(t, scopeA))
	requireSame(t, int64(0), b.count(t, scopeB))
}

func testCommitConcurrent(t *testing.T, b *bundle) {
	const (
		writers   = 6
		commits   = 10
		perCommit = 50
	)
	scopes := []state.Scope{scopeA, scopeB}
	var wg sync.WaitGroup
	errs := make(chan error, writers*commits+writers)
	for w := range writers {
		wg.Go(func() {
			scope := scopes[w%len(scopes)]
			for c := range commits {
				from := (w*commits + c) * perCommit
				if err := b.ms.Commit(b.ctx, scope, adds(from, from+perCommit)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// Readers run alongside the writers.
	for range 2 {
		wg.Go(func() {
			for range commits {
				if _, err := b.ms.Count(b.ctx, scopeA); err != nil {
					errs <- err
					return
				}
				if err := b.ms.Members(b.ctx, scopeB, func(state.Entry) error { return nil }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noError(t, err)
	}

	want := map[state.Scope]map[audience.MemberKey]state.Entry{scopeA: {}, scopeB: {}}
	for w := range writers {
		from := w * commits * perCommit
		for k, e := range entries(adds(from, from+commits*perCommit)) {
			want[scopes[w%len(scopes)]][k] = e
		}
	}
	for _, scope := range scopes {
		requireSame(t, want[scope], b.members(t, scope))
	}
}

func testMembersWithoutIdentifiers(t *testing.T, b *bundle) {
	changes := adds(0, 300)
	b.commit(t, scopeA, changes...)
	got := b.members(t, scopeA)
	for _, e := range got {
		check(t, e.Identifiers == nil, "Members must not load identifiers")
	}
	requireSame(t, entries(changes), got)
}

func testMembersStopsOnError(t *testing.T, b *bundle) {
	b.commit(t, scopeA, adds(0, 100)...)
	stop := errors.New("stop here")
	calls := 0
	err := b.ms.Members(b.ctx, scopeA, func(state.Entry) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	errorIs(t, err, stop)
	requireSame(t, 3, calls)
	// The store is still usable after an abandoned stream.
	requireSame(t, int64(100), b.count(t, scopeA))
}

func testMembersEmptyScope(t *testing.T, b *bundle) {
	b.commit(t, scopeA, add(1))
	requireSame(t, 0, len(b.members(t, scopeB)))
	requireSame(t, 0, len(b.members(t, scopeC)))
}

func testIdentifiersExact(t *testing.T, b *bundle) {
	// Hashed values in hex, hashed values in another shape, clear
	// platform values, several kinds and repeated kinds, and none at all.
	mixed := state.Change{
		Key: key(1),
		Identifiers: []audience.Identifier{
			hashed(audience.Email, "a@example.com"),
			hashed(audience.Email, "b@example.com"),
			hashed(audience.Phone, "+15551234567"),
			{Kind: audience.Zip, Value: "94103"},
			{Kind: audience.Country, Value: "us"},
			{Kind: audience.MobileID, Value: "not-hex-but-hashed", Hashed: true},
			{Kind: audience.City, Value: ""},
		},
		LastSent: sentAt,
	}
	mixed.Fingerprint = audience.FingerprintOf(mixed.Identifiers, audience.Consent{})
	bare := state.Change{Key: key(2), LastSent: sentAt}
	b.commit(t, scopeA, mixed, bare, add(3), add(4))

	got, err := b.ms.Identifiers(b.ctx, scopeA, []audience.MemberKey{key(1), key(2), key(3), key(99)})
	noError(t, err)
	requireSame(t, 3, len(got))
	requireSame(t, mixed.Identifiers, got[key(1)])
	_, ok := got[key(2)]
	check(t, ok, "a member without identifiers is still in the map")
	requireSame(t, 0, len(got[key(2)]))
	requireSame(t, add(3).Identifiers, got[key(3)])
	_, ok = got[key(99)]
	check(t, !ok, "an unknown key is absent from the map")

	none, err := b.ms.Identifiers(b.ctx, scopeA, nil)
	noError(t, err)
	requireSame(t, 0, len(none))
	other, err := b.ms.Identifiers(b.ctx, scopeB, []audience.MemberKey{key(1)})
	noError(t, err)
	requireSame(t, 0, len(other))
}

// testCommitPacked commits identifiers already packed: the store keeps them
// as if they had come unpacked, and Packed wins over Identifiers.
func testCommitPacked(t *testing.T, b *bundle) {
	want := add(7).Identifiers
	ch := state.Change{
		Key:         key(7),
		Fingerprint: add(7).Fingerprint,
		Identifiers: []audience.Identifier{hashed(audience.Email, "ignored@example.com")},
		Packed:      audience.EncodeIdentifiers(nil, want),
		LastSent:    sentAt,
	}
	b.commit(t, scopeA, ch)
	got, err := b.ms.Identifiers(b.ctx, scopeA, []audience.MemberKey{key(7)})
	noError(t, err)
	requireSame(t, want, got[key(7)])
	snap := b.snapshot(t, scopeA)
	requireSame(t, 1, len(snap))
	requireSame(t, want, snap[0].Identifiers)
}

func testIdentifiersManyKeys(t *testing.T, b *bundle) {
	const n = 2600 // spans several lookup batches in every implementation
	changes := adds(0, n)
	for from := 0; from < n; from += 1000 {
		b.commit(t, scopeA, changes[from:min(from+1000, n)]...)
	}
	keys := make([]audience.MemberKey, 0, n+n/2)
	want := map[audience.MemberKey][]audience.Identifier{}
	for i := 0; i < n; i += 2 {
		keys = append(keys, changes[i].Key)
		want[changes[i].Key] = changes[i].Identifiers
	}
	for i := n; i < n+n/2; i++ {
		keys = append(keys, key(i))
	}
	got, err := b.ms.Identifiers(b.ctx, scopeA, keys)
	noError(t, err)
	requireSame(t, want, got)
}

func testSnapshotOrdered(t *testing.T, b *bundle) {
	changes := adds(0, 500)
	b.commit(t, scopeA, changes...)
	b.commit(t, scopeB, adds(1000, 1010)...)

	slices.SortFunc(changes, func(x, y state.Change) int { return bytes.Compare(x.Key[:], y.Key[:]) })
	want := make([]state.Entry, len(changes))
	for i, ch := range changes {
		want[i] = entry(ch)
		want[i].Identifiers = ch.Identifiers
	}
	requireSame(t, want, b.snapshot(t, scopeA))
	requireSame(t, 0, len(b.snapshot(t, scopeC)))
}

func testSnapshotBreakEarly(t *testing.T, b *bundle) {
	b.commit(t, scopeA, adds(0, 200)...)
	// Abandon more streams than any sane connection pool holds: each must
	// release what it holds, or the later calls block.
	for range 40 {
		seen := 0
		for _, err := range b.ms.Snapshot(b.ctx, scopeA) {
			noError(t, err)
			seen++
			if seen == 5 {
				break
			}
		}
		requireSame(t, 5, seen)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	noError(t, b.ms.Commit(ctx, scopeA, []state.Change{del(0)}))
	n, err := b.ms.Count(ctx, scopeA)
	noError(t, err)
	requireSame(t, int64(199), n)
}

func testCount(t *testing.T, b *bundle) {
	requireSame(t, int64(0), b.count(t, scopeA))
	b.commit(t, scopeA, adds(0, 1234)...)
	b.commit(t, scopeB, adds(0, 5)...)
	b.commit(t, scopeA, del(0), del(1), add(1), del(5000))
	requireSame(t, int64(1233), b.count(t, scopeA))
	requireSame(t, int64(5), b.count(t, scopeB))
}

func testResetOnlyItsScope(t *testing.T, b *bundle) {
	b.commit(t, scopeA, adds(0, 50)...)
	b.commit(t, scopeB, adds(0, 20)...)
	b.commit(t, scopeC, adds(0, 10)...)

	noError(t, b.ms.Reset(b.ctx, scopeA))
	requireSame(t, int64(0), b.count(t, scopeA))
	requireSame(t, 0, len(b.members(t, scopeA)))
	requireSame(t, entries(adds(0, 20)), b.members(t, scopeB))
	requireSame(t, int64(10), b.count(t, scopeC))

	noError(t, b.ms.Reset(b.ctx, state.Scope{Sync: "never", Destination: "written"}))
	b.commit(t, scopeA, add(7))
	requireSame(t, int64(1), b.count(t, scopeA))
}

func testScopesIsolated(t *testing.T, b *bundle) {
	// Names that would collide if a store joined sync and destination.
	tricky1 := state.Scope{Sync: "a", Destination: "b/c"}
	tricky2 := state.Scope{Sync: "a/b", Destination: "c"}
	scopes := []state.Scope{scopeA, scopeB, scopeC, tricky1, tricky2}
	for i, scope := range scopes {
		ch := add(1) // the same member key everywhere
		ch.LastSent = sentAt.Add(time.Duration(i) * time.Minute)
		ch.Identifiers = []audience.Identifier{hashed(audience.Email, fmt.Sprintf("scope%d@example.com", i))}
		ch.Fingerprint = audience.FingerprintOf(ch.Identifiers, audience.Consent{})
		b.commit(t, scope, ch)
	}
	b.commit(t, scopeB, del(1))
	for i, scope := range scopes {
		got, err := b.ms.Identifiers(b.ctx, scope, []audience.MemberKey{key(1)})
		noError(t, err)
		if scope == scopeB {
			requireSame(t, 0, len(got))
			requireSame(t, int64(0), b.count(t, scope))
			continue
		}
		requireSame(t, int64(1), b.count(t, scope))
		want := []audience.Identifier{hashed(audience.Email, fmt.Sprintf("scope%d@example.com", i))}
		requireSame(t, want, got[key(1)])
		check(t, b.members(t, scope)[key(1)].LastSent.Equal(sentAt.Add(time.Duration(i)*time.Minute)))
	}
}

func testLastSentRoundTrip(t *testing.T, b *bundle) {
	paris := time.FixedZone("CET", 3600)
	times := []time.Time{
		time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2025, 7, 4, 9, 30, 15, 123_456_789, paris),
		time.Date(1999, 12, 31, 0, 0, 1, 0, time.UTC),
		time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 0),
		{}, // never sent
	}
	changes := make([]state.Change, len(times))
	for i, at := range times {
		changes[i] = add(i)
		changes[i].LastSent = at
	}
	b.commit(t, scopeA, changes...)

	got := b.members(t, scopeA)
	var snap = map[audience.MemberKey]state.Entry{}
	for _, e := range b.snapshot(t, scopeA) {
		snap[e.Key] = e
	}
	for i, at := range times {
		for _, e := range []state.Entry{got[key(i)], snap[key(i)]} {
			if at.IsZero() {
				check(t, e.LastSent.IsZero(), "zero LastSent came back as %v", e.LastSent)
				continue
			}
			check(t, e.LastSent.Location() == time.UTC, "LastSent comes back in %v, want UTC", e.LastSent.Location())
			diff := e.LastSent.Sub(at)
			check(t, diff > -time.Second && diff < time.Second,
				"LastSent %v came back as %v", at, e.LastSent)
		}
	}
}

// testMembersOrdered checks state.OrderedMembers, for a store that has
// it (the part is optional: a store without it plans in memory): every
// member of the scope and no other, in key order, without identifiers,
// and a stream abandoned early releases what it holds.
func testMembersOrdered(t *testing.T, b *bundle) {
	om, ok := b.ms.(state.OrderedMembers)
	if !ok {
		t.Skip("the store does not implement the optional state.OrderedMembers")
	}
	changes := adds(0, 700)
	b.commit(t, scopeA, changes...)
	b.commit(t, scopeB, adds(1000, 1010)...)
	tainted := add(5)
	tainted.Fingerprint = audience.Fingerprint{}
	b.commit(t, scopeA, tainted, del(6))
	want := map[audience.MemberKey]state.Entry{}
	for _, ch := range changes {
		want[ch.Key] = entry(ch)
	}
	want[tainted.Key] = entry(tainted)
	delete(want, key(6))

	var got []state.Entry
	for e, err := range om.MembersOrdered(b.ctx, scopeA) {
		noError(t, err)
		check(t, e.Identifiers == nil, "MembersOrdered must not load identifiers")
		got = append(got, e)
	}
	requireSame(t, len(want), len(got))
	for i, e := range got {
		if i > 0 {
			check(t, bytes.Compare(got[i-1].Key[:], e.Key[:]) < 0, fmt.Sprintf("member %d out of key order", i))
		}
		requireSame(t, want[e.Key], e)
	}
	for e, err := range om.MembersOrdered(b.ctx, scopeC) {
		t.Fatalf("an empty scope yielded %v, %v", e, err)
	}
	for range 40 {
		for _, err := range om.MembersOrdered(b.ctx, scopeA) {
			noError(t, err)
			break
		}
	}
	n := 0
	for _, err := range om.MembersOrdered(b.ctx, scopeB) {
		noError(t, err)
		n++
	}
	requireSame(t, 10, n)
}
