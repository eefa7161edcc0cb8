package statetest

import (
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

// PendingRequests runs the conformance suite of state.PendingRequests.
// open is called once per subtest, possibly from parallel subtests, and
// must return an empty store that it closes in a t.Cleanup.
func PendingRequests(t *testing.T, open func(t *testing.T) state.PendingRequests) {
	t.Helper()
	runSuite(t, pendingTests, func(t *testing.T) *bundle { return &bundle{pend: open(t), ctx: t.Context()} })
}

// pendingTests are the cases of the PendingRequests suite.
var pendingTests = []suiteTest{
	{"PendingLifecycle", testPendingLifecycle},
	{"PendingAddKeepsFirst", testPendingAddKeepsFirst},
	{"PendingScopesIsolated", testPendingScopesIsolated},
}

func (b *bundle) pending(t *testing.T, scope state.Scope) []state.PendingRequest {
	t.Helper()
	got, err := b.pend.ListPending(b.ctx, scope)
	noError(t, err)
	return got
}

func testPendingLifecycle(t *testing.T, b *bundle) {
	requireSame(t, 0, len(b.pending(t, scopeA)))
	later := sentAt.Add(time.Hour)
	noError(t, b.pend.AddPending(b.ctx, scopeA, []state.PendingRequest{
		{ID: "req-c", Kind: "google_ads", Recorded: later},
		{ID: "req-b", Kind: "google_ads", Recorded: sentAt},
		{ID: "req-a", Kind: "google_ads", Recorded: later},
	}))
	requireSame(t, []state.PendingRequest{
		{ID: "req-b", Kind: "google_ads", Recorded: sentAt},
		{ID: "req-a", Kind: "google_ads", Recorded: later},
		{ID: "req-c", Kind: "google_ads", Recorded: later},
	}, b.pending(t, scopeA), "oldest first, then by id")

	noError(t, b.pend.RemovePending(b.ctx, scopeA, []string{"req-a", "req-unknown", "req-b"}))
	requireSame(t, []state.PendingRequest{{ID: "req-c", Kind: "google_ads", Recorded: later}}, b.pending(t, scopeA))

	// Nothing to add or remove, or a scope never written, is harmless.
	noError(t, b.pend.AddPending(b.ctx, scopeA, nil))
	noError(t, b.pend.RemovePending(b.ctx, scopeA, nil))
	noError(t, b.pend.RemovePending(b.ctx, state.Scope{Sync: "never", Destination: "written"}, []string{"req-c"}))
	requireSame(t, 1, len(b.pending(t, scopeA)))
	noError(t, b.pend.RemovePending(b.ctx, scopeA, []string{"req-c"}))
	requireSame(t, 0, len(b.pending(t, scopeA)))
}

func testPendingAddKeepsFirst(t *testing.T, b *bundle) {
	first := state.PendingRequest{ID: "req-1", Kind: "google_ads", Recorded: sentAt}
	noError(t, b.pend.AddPending(b.ctx, scopeA, []state.PendingRequest{first}))
	noError(t, b.pend.AddPending(b.ctx, scopeA, []state.PendingRequest{
		{ID: "req-1", Kind: "other", Recorded: sentAt.Add(time.Hour)},
		{ID: "req-2", Kind: "google_ads", Recorded: sentAt.Add(time.Hour)},
		{ID: "req-2", Kind: "google_ads", Recorded: sentAt.Add(2 * time.Hour)}, // twice in one call
	}))
	requireSame(t, []state.PendingRequest{first, {ID: "req-2", Kind: "google_ads", Recorded: sentAt.Add(time.Hour)}},
		b.pending(t, scopeA), "a request recorded again keeps its kind and first time")
}

func testPendingScopesIsolated(t *testing.T, b *bundle) {
	// Names that would collide if a store joined sync and destination.
	tricky1 := state.Scope{Sync: "a", Destination: "b/c"}
	tricky2 := state.Scope{Sync: "a/b", Destination: "c"}
	for i, scope := range []state.Scope{scopeA, scopeB, tricky1, tricky2} {
		noError(t, b.pend.AddPending(b.ctx, scope, []state.PendingRequest{
			{ID: "shared", Kind: "google_ads", Recorded: sentAt.Add(time.Duration(i) * time.Minute)},
		}))
	}
	noError(t, b.pend.RemovePending(b.ctx, scopeB, []string{"shared"}))
	requireSame(t, 0, len(b.pending(t, scopeB)))
	requireSame(t, []state.PendingRequest{{ID: "shared", Kind: "google_ads", Recorded: sentAt}}, b.pending(t, scopeA))
	requireSame(t, []state.PendingRequest{{ID: "shared", Kind: "google_ads", Recorded: sentAt.Add(3 * time.Minute)}}, b.pending(t, tricky2))
	requireSame(t, 0, len(b.pending(t, scopeC)))
}
