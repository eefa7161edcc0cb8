// Package statetest holds the conformance suites of the state store: one
// per part of state.Store, each runnable alone against an implementation
// of just that part, and Run, which runs them all (and the cases that span
// parts) against a whole Store:
//
//	func TestConformance(t *testing.T) {
//		statetest.Run(t, func(t *testing.T) state.Store {
//			s, err := mystore.Open(t.Context(), ...)
//			noError(t, err)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suites: Members (state.MemberStore), AudienceIDs, WriteAhead, RunLog
// and PendingRequests (each a Suite: statetest.RunLog.Run(t, open)), and
// Locker(t, open) and Tokens(t, open). Each open function is called once per subtest, possibly
// from parallel subtests, and must return an empty store that it closes in
// a t.Cleanup.
package statetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

// bundle is what every subtest starts with: the parts of the store its
// suite tests (the others are nil), and the test's context.
type bundle struct {
	ms     state.MemberStore
	aud    state.AudienceIDs
	wa     state.WriteAhead
	log    state.RunLog
	pend   state.PendingRequests
	locker state.Locker
	tokens state.Tokens
	// holdouts is the Holdouts part.
	holdouts state.Holdouts
	ctx      context.Context
}

// caseOf is one case of a suite whose subtests start with a B.
type caseOf[B any] struct {
	name string
	fn   func(t *testing.T, b B)
}

// runSuite runs each test in its own parallel subtest, on a fresh B.
func runSuite[B any](t *testing.T, tests []caseOf[B], open func(t *testing.T) B) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var (
	scopeA = state.Scope{Sync: "cart-abandoners", Destination: "google"}
	scopeB = state.Scope{Sync: "cart-abandoners", Destination: "meta"}
	scopeC = state.Scope{Sync: "newsletter", Destination: "google"}

	// sentAt is a LastSent with whole seconds, which every store keeps.
	sentAt = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
)

// key returns the member key of source record n.
func key(n int) audience.MemberKey { return audience.KeyFromSource(fmt.Sprintf("contact-%d", n)) }

// hashed returns the hashed identifier of clear value v.
func hashed(kind audience.Kind, v string) audience.Identifier {
	sum := sha256.Sum256([]byte(v))
	return audience.Identifier{Kind: kind, Value: hex.EncodeToString(sum[:]), Hashed: true}
}

// add returns the change that adds member n with an e-mail and a phone.
func add(n int) state.Change {
	ids := []audience.Identifier{
		hashed(audience.Email, fmt.Sprintf("person%d@example.com", n)),
		hashed(audience.Phone, fmt.Sprintf("+1555%07d", n)),
	}
	return state.Change{
		Key:         key(n),
		Fingerprint: audience.FingerprintOf(ids, audience.Consent{}),
		Identifiers: ids,
		LastSent:    sentAt,
	}
}

func del(n int) state.Change { return state.Change{Key: key(n), Delete: true} }

func adds(from, to int) []state.Change {
	out := make([]state.Change, 0, to-from)
	for n := from; n < to; n++ {
		out = append(out, add(n))
	}
	return out
}

// entry is what the store should hold after ch, without identifiers.
func entry(ch state.Change) state.Entry {
	return state.Entry{Key: ch.Key, Fingerprint: ch.Fingerprint, LastSent: ch.LastSent}
}

func entries(changes []state.Change) map[audience.MemberKey]state.Entry {
	out := make(map[audience.MemberKey]state.Entry, len(changes))
	for _, ch := range changes {
		out[ch.Key] = entry(ch)
	}
	return out
}

func (b *bundle) commit(t *testing.T, scope state.Scope, changes ...state.Change) {
	t.Helper()
	noError(t, b.ms.Commit(b.ctx, scope, changes))
}

func (b *bundle) members(t *testing.T, scope state.Scope) map[audience.MemberKey]state.Entry {
	t.Helper()
	out := map[audience.MemberKey]state.Entry{}
	err := b.ms.Members(b.ctx, scope, func(e state.Entry) error {
		if _, dup := out[e.Key]; dup {
			return fmt.Errorf("member %s yielded twice", e.Key)
		}
		out[e.Key] = e
		return nil
	})
	noError(t, err)
	return out
}

func (b *bundle) snapshot(t *testing.T, scope state.Scope) []state.Entry {
	t.Helper()
	var out []state.Entry
	for e, err := range b.ms.Snapshot(b.ctx, scope) {
		noError(t, err)
		out = append(out, e)
	}
	return out
}

func (b *bundle) count(t *testing.T, scope state.Scope) int64 {
	t.Helper()
	n, err := b.ms.Count(b.ctx, scope)
	noError(t, err)
	return n
}

func testResetKeepsAudienceID(t *testing.T, b *bundle) {
	b.commit(t, scopeA, adds(0, 50)...)
	noError(t, b.aud.SetAudienceID(b.ctx, scopeA, "aud-1"))
	noError(t, b.ms.Reset(b.ctx, scopeA))
	requireSame(t, int64(0), b.count(t, scopeA))
	id, err := b.aud.AudienceID(b.ctx, scopeA)
	noError(t, err)
	requireSame(t, "aud-1", id, "Reset keeps the remote audience")
}

func testMembersMakeNoAudienceID(t *testing.T, b *bundle) {
	// Members committed to a scope do not make up an audience id.
	b.commit(t, scopeC, add(1))
	_, err := b.aud.AudienceID(b.ctx, scopeC)
	errorIs(t, err, state.ErrNotFound)
}

// testScopePartsIndependent records every part for one scope and clears
// each in turn: clearing one leaves the others.
func testScopePartsIndependent(t *testing.T, b *bundle) {
	b.commit(t, scopeA, add(1))
	noError(t, b.aud.SetAudienceID(b.ctx, scopeA, "aud-1"))
	noError(t, b.wa.SetIntent(b.ctx, scopeA, []byte("intent")))
	noError(t, b.pend.AddPending(b.ctx, scopeA, []state.PendingRequest{{ID: "req-1", Kind: "google_ads", Recorded: sentAt}}))

	noError(t, b.ms.Reset(b.ctx, scopeA))
	noError(t, b.wa.SetIntent(b.ctx, scopeA, nil))
	pending, err := b.pend.ListPending(b.ctx, scopeA)
	noError(t, err)
	requireSame(t, []state.PendingRequest{{ID: "req-1", Kind: "google_ads", Recorded: sentAt}}, pending,
		"Reset and a cleared intent keep pending requests")
	noError(t, b.pend.RemovePending(b.ctx, scopeA, []string{"req-1"}))
	id, err := b.aud.AudienceID(b.ctx, scopeA)
	noError(t, err)
	requireSame(t, "aud-1", id)
}
