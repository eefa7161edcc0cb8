package statetest

import (
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

// WriteAheadStore is what the WriteAhead suite runs against: taints are
// about committed members, so it needs both parts.
type WriteAheadStore interface {
	state.MemberStore
	state.WriteAhead
}

// WriteAhead runs the conformance suite of state.WriteAhead. open is
// called once per subtest, possibly from parallel subtests, and must
// return an empty store that it closes in a t.Cleanup.
func WriteAhead(t *testing.T, open func(t *testing.T) WriteAheadStore) {
	t.Helper()
	runSuite(t, writeAheadTests, func(t *testing.T) *bundle {
		s := open(t)
		return &bundle{ms: s, wa: s, ctx: t.Context()}
	})
}

// writeAheadTests are the cases of the WriteAhead suite.
var writeAheadTests = []suiteTest{
	{"TaintKeepsIdentifiers", testTaintKeepsIdentifiers},
	{"TaintThenCommitClears", testTaintThenCommitClears},
	{"TaintManyKeys", testTaintManyKeys},
	{"TaintAllOnlyItsScope", testTaintAllOnlyItsScope},
	{"IntentLifecycle", testIntentLifecycle},
}

// tainted is entry(ch) as Taint leaves it.
func tainted(ch state.Change) state.Entry {
	e := entry(ch)
	e.Fingerprint = audience.Fingerprint{}
	return e
}

func testTaintKeepsIdentifiers(t *testing.T, b *bundle) {
	b.commit(t, scopeA, add(1), add(2), add(3))
	b.commit(t, scopeB, add(1))
	unknown := key(99)
	noError(t, b.wa.Taint(b.ctx, scopeA, []audience.MemberKey{key(1), key(3), unknown}))

	want := entries([]state.Change{add(2)})
	want[key(1)], want[key(3)] = tainted(add(1)), tainted(add(3))
	requireSame(t, want, b.members(t, scopeA), "tainted members keep their key and send time, lose their fingerprint")
	requireSame(t, int64(3), b.count(t, scopeA), "an unknown key is not added")
	got, err := b.ms.Identifiers(b.ctx, scopeA, []audience.MemberKey{key(1), key(3)})
	noError(t, err)
	requireSame(t, add(1).Identifiers, got[key(1)], "tainted members keep their identifiers")
	requireSame(t, add(3).Identifiers, got[key(3)])
	requireSame(t, entries([]state.Change{add(1)}), b.members(t, scopeB), "other scopes are untouched")

	// Tainting twice, nothing, or a scope never written is harmless.
	noError(t, b.wa.Taint(b.ctx, scopeA, []audience.MemberKey{key(1)}))
	noError(t, b.wa.Taint(b.ctx, scopeA, nil))
	noError(t, b.wa.Taint(b.ctx, state.Scope{Sync: "never", Destination: "written"}, []audience.MemberKey{key(1)}))
	requireSame(t, want, b.members(t, scopeA))
}

func testTaintThenCommitClears(t *testing.T, b *bundle) {
	b.commit(t, scopeA, add(1), add(2))
	noError(t, b.wa.TaintAll(b.ctx, scopeA))
	// The acknowledged re-send commits the member afresh; the acknowledged
	// removal deletes it.
	b.commit(t, scopeA, add(1), del(2))
	requireSame(t, entries([]state.Change{add(1)}), b.members(t, scopeA))
}

func testTaintManyKeys(t *testing.T, b *bundle) {
	// More keys than any store would put in one statement.
	const n = 2100
	b.commit(t, scopeA, adds(0, n)...)
	keys := make([]audience.MemberKey, 0, n)
	for i := 0; i < n; i += 2 {
		keys = append(keys, key(i))
	}
	noError(t, b.wa.Taint(b.ctx, scopeA, keys))
	got := b.members(t, scopeA)
	requireSame(t, n, len(got))
	for i := range n {
		want := entry(add(i))
		if i%2 == 0 {
			want = tainted(add(i))
		}
		requireSame(t, want, got[key(i)], "member", i)
	}
}

func testTaintAllOnlyItsScope(t *testing.T, b *bundle) {
	b.commit(t, scopeA, adds(0, 30)...)
	b.commit(t, scopeB, adds(0, 10)...)
	noError(t, b.wa.TaintAll(b.ctx, scopeA))
	want := map[audience.MemberKey]state.Entry{}
	for _, ch := range adds(0, 30) {
		want[ch.Key] = tainted(ch)
	}
	requireSame(t, want, b.members(t, scopeA))
	requireSame(t, entries(adds(0, 10)), b.members(t, scopeB))
	for i, e := range b.snapshot(t, scopeA) {
		requireSame(t, 2, len(e.Identifiers), "TaintAll keeps identifiers, member", i)
	}
	got, err := b.ms.Identifiers(b.ctx, scopeA, []audience.MemberKey{key(7)})
	noError(t, err)
	requireSame(t, add(7).Identifiers, got[key(7)])
	noError(t, b.wa.TaintAll(b.ctx, state.Scope{Sync: "never", Destination: "written"}))
}

func testIntentLifecycle(t *testing.T, b *bundle) {
	_, err := b.wa.Intent(b.ctx, scopeA)
	errorIs(t, err, state.ErrNotFound)

	noError(t, b.wa.SetIntent(b.ctx, scopeA, []byte(`{"replace":{"id":"1","batch":1}}`)))
	noError(t, b.wa.SetIntent(b.ctx, scopeB, []byte("b")))
	got, err := b.wa.Intent(b.ctx, scopeA)
	noError(t, err)
	requireSame(t, `{"replace":{"id":"1","batch":1}}`, string(got))

	noError(t, b.wa.SetIntent(b.ctx, scopeA, []byte(`{"replace":{"id":"1","batch":2}}`)))
	got, err = b.wa.Intent(b.ctx, scopeA)
	noError(t, err)
	requireSame(t, `{"replace":{"id":"1","batch":2}}`, string(got), "a later intent replaces the earlier")

	// Members and their reset leave the intent alone.
	b.commit(t, scopeA, add(1))
	noError(t, b.ms.Reset(b.ctx, scopeA))
	_, err = b.wa.Intent(b.ctx, scopeA)
	noError(t, err)

	noError(t, b.wa.SetIntent(b.ctx, scopeA, nil))
	_, err = b.wa.Intent(b.ctx, scopeA)
	errorIs(t, err, state.ErrNotFound)
	got, err = b.wa.Intent(b.ctx, scopeB)
	noError(t, err)
	requireSame(t, "b", string(got), "clearing one scope keeps the others")
	noError(t, b.wa.SetIntent(b.ctx, state.Scope{Sync: "never", Destination: "written"}, nil))
}
