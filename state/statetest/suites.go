package statetest

import (
	"testing"

	"github.com/audiencesync/audiencesync/state"
)

// Run runs every suite against a whole Store, and the cases that span its
// parts: Reset keeps the scope's audience id, for one.
func Run(t *testing.T, open func(t *testing.T) state.Store) {
	t.Helper()
	whole := func(t *testing.T) *bundle {
		s := open(t)
		return &bundle{ms: s, aud: s, wa: s, log: s, pend: s, locker: s, tokens: s, holdouts: s, ctx: t.Context()}
	}
	for p := partMembers; p <= partStore; p++ {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			runPart(t, p, whole)
		})
	}
}

// Suite is the conformance suite of one part S of state.Store, runnable
// alone against an implementation of just that part:
//
//	statetest.Members.Run(t, func(t *testing.T) state.MemberStore { return openStore(t) })
type Suite[S any] struct {
	part part
	// set puts the implementation under test into a subtest's bundle.
	set func(b *bundle, s S)
}

// Run runs the suite: open is called once per subtest, possibly from
// parallel subtests, and returns an empty store it closes in a t.Cleanup.
func (s Suite[S]) Run(t *testing.T, open func(t *testing.T) S) {
	t.Helper()
	runPart(t, s.part, func(t *testing.T) *bundle {
		b := &bundle{ctx: t.Context()}
		s.set(b, open(t))
		return b
	})
}

// WriteAheadStore is what the WriteAhead suite runs against: taints are
// about committed members, so it needs both parts.
type WriteAheadStore interface {
	state.MemberStore
	state.WriteAhead
}

// The suites, one per part.
var (
	// Members pins down what the MemberStore contract leaves to prose:
	// changes in one Commit apply in order, identifiers come back exactly
	// as committed (order, kind, hashed flag and value), and times come
	// back in UTC to at least the second.
	Members = Suite[state.MemberStore]{partMembers, func(b *bundle, s state.MemberStore) { b.ms = s }}
	// AudienceIDs is the suite of state.AudienceIDs.
	AudienceIDs = Suite[state.AudienceIDs]{partAudienceIDs, func(b *bundle, s state.AudienceIDs) { b.aud = s }}
	// WriteAhead is the suite of state.WriteAhead, on a store that also
	// holds the members the taints are about.
	WriteAhead = Suite[WriteAheadStore]{partWriteAhead, func(b *bundle, s WriteAheadStore) { b.ms, b.wa = s, s }}
	// RunLog is the suite of state.RunLog: runs, their reports and typed
	// summaries, and the size history read from them.
	RunLog = Suite[state.RunLog]{partRunLog, func(b *bundle, s state.RunLog) { b.log = s }}
	// PendingRequests is the suite of state.PendingRequests: request ids
	// kept per scope, the first recording of an id kept, removal by id.
	PendingRequests = Suite[state.PendingRequests]{partPending, func(b *bundle, s state.PendingRequests) { b.pend = s }}
	// Locker is the suite of state.Locker: leases taken, contended,
	// renewed, released and taken over once expired. It drives time
	// through the now arguments only, so expiry is tested without
	// sleeping.
	Locker = Suite[state.Locker]{partLocker, func(b *bundle, s state.Locker) { b.locker = s }}
	// Tokens is the suite of state.Tokens: API tokens created, listed,
	// revoked by name or id, and touched when used.
	Tokens = Suite[state.Tokens]{partTokens, func(b *bundle, s state.Tokens) { b.tokens = s }}
	// Holdouts is the suite of state.Holdouts: one key per sync, the
	// first recorded wins, also under concurrent first use; held-out
	// keys replaced per segment and read back sorted.
	Holdouts = Suite[state.Holdouts]{partHoldouts, func(b *bundle, s state.Holdouts) { b.holdouts = s }}
)

// part is one part of state.Store, as the suites name them.
type part int

const (
	partMembers part = iota
	partAudienceIDs
	partWriteAhead
	partRunLog
	partPending
	partLocker
	partTokens
	partHoldouts
	// partStore: cases that span several parts, run by Run only.
	partStore
)

func (p part) String() string {
	return [...]string{"Members", "AudienceIDs", "WriteAhead", "RunLog", "PendingRequests", "Locker", "Tokens", "Holdouts", "Store"}[p]
}

// cases are every suite's cases, by the part they test: one table, so a
// new case is one line and names stay unique across suites.
var cases = []struct {
	part part
	name string
	fn   func(t *testing.T, b *bundle)
}{
	{partMembers, "CommitInsertUpdateDelete", testCommitInsertUpdateDelete},
	{partMembers, "CommitEmpty", testCommitEmpty},
	{partMembers, "CommitAppliesInOrder", testCommitAppliesInOrder},
	{partMembers, "CommitManyAppliesInOrder", testCommitManyAppliesInOrder},
	{partMembers, "CommitDeleteUnknown", testCommitDeleteUnknown},
	{partMembers, "CommitCancelledLeavesNothing", testCommitCancelledLeavesNothing},
	{partMembers, "CommitConcurrent", testCommitConcurrent},
	{partMembers, "MembersWithoutIdentifiers", testMembersWithoutIdentifiers},
	{partMembers, "MembersStopsOnError", testMembersStopsOnError},
	{partMembers, "MembersEmptyScope", testMembersEmptyScope},
	{partMembers, "IdentifiersExact", testIdentifiersExact},
	{partMembers, "CommitPacked", testCommitPacked},
	{partMembers, "IdentifiersManyKeys", testIdentifiersManyKeys},
	{partMembers, "SnapshotOrderedWithIdentifiers", testSnapshotOrdered},
	{partMembers, "SnapshotBreakEarly", testSnapshotBreakEarly},
	{partMembers, "MembersOrdered", testMembersOrdered},
	{partMembers, "Count", testCount},
	{partMembers, "ResetOnlyItsScope", testResetOnlyItsScope},
	{partMembers, "ScopesIsolated", testScopesIsolated},
	{partMembers, "LastSentRoundTrip", testLastSentRoundTrip},
	{partAudienceIDs, "AudienceID", testAudienceID},
	{partWriteAhead, "TaintKeepsIdentifiers", testTaintKeepsIdentifiers},
	{partWriteAhead, "TaintThenCommitClears", testTaintThenCommitClears},
	{partWriteAhead, "TaintManyKeys", testTaintManyKeys},
	{partWriteAhead, "TaintAllOnlyItsScope", testTaintAllOnlyItsScope},
	{partWriteAhead, "IntentLifecycle", testIntentLifecycle},
	{partRunLog, "RunLifecycle", testRunLifecycle},
	{partRunLog, "RunsNewestFirst", testRunsNewestFirst},
	{partRunLog, "RunsFilter", testRunsFilter},
	{partRunLog, "RunsPaging", testRunsPaging},
	{partRunLog, "RunNotFound", testRunNotFound},
	{partRunLog, "RunOwner", testRunOwner},
	{partRunLog, "RunStartedBy", testRunStartedBy},
	{partRunLog, "SummariesRoundTrip", testSummariesRoundTrip},
	{partRunLog, "FinishRunReplacesSummaries", testFinishRunReplacesSummaries},
	{partRunLog, "RunsReadAreCopies", testRunsReadAreCopies},
	{partRunLog, "RunsListSummariesNotReports", testRunsListSummariesNotReports},
	{partRunLog, "SizeHistory", testSizeHistory},
	{partRunLog, "SizeHistoryLimit", testSizeHistoryLimit},
	{partPending, "PendingLifecycle", testPendingLifecycle},
	{partPending, "PendingAddKeepsFirst", testPendingAddKeepsFirst},
	{partPending, "PendingScopesIsolated", testPendingScopesIsolated},
	{partLocker, "AcquireFree", testLockAcquireFree},
	{partLocker, "Contend", testLockContend},
	{partLocker, "ReacquireByOwner", testLockReacquireByOwner},
	{partLocker, "Release", testLockRelease},
	{partLocker, "ReleaseByNonOwnerRefused", testLockReleaseByNonOwner},
	{partLocker, "RenewExtends", testLockRenewExtends},
	{partLocker, "ExpiryTakeover", testLockExpiryTakeover},
	{partLocker, "RenewExpiredNotTakenOver", testLockRenewExpired},
	{partLocker, "NamesIndependent", testLockNamesIndependent},
	{partLocker, "ConcurrentAcquireOneWins", testLockConcurrentAcquire},
	{partLocker, "InvalidRequests", testLockInvalid},
	{partLocker, "HolderNotFound", testLockHolderNotFound},
	{partTokens, "CreateAndRead", testTokenCreateAndRead},
	{partTokens, "NameAndIDUnique", testTokenUnique},
	{partTokens, "ListOldestFirst", testTokenList},
	{partTokens, "RevokeByNameOrID", testTokenRevoke},
	{partTokens, "Touch", testTokenTouch},
	{partHoldouts, "KeyFirstWins", testHoldoutKeyFirstWins},
	{partHoldouts, "KeyConcurrentFirstUse", testHoldoutKeyConcurrent},
	{partHoldouts, "HeldOutReplaced", testHeldOutReplaced},
	{partStore, "ResetKeepsAudienceID", testResetKeepsAudienceID},
	{partStore, "MembersMakeNoAudienceID", testMembersMakeNoAudienceID},
	{partStore, "ScopePartsIndependent", testScopePartsIndependent},
}

// runPart runs the cases of p (see runSuite).
func runPart(t *testing.T, p part, open func(t *testing.T) *bundle) {
	t.Helper()
	var of []caseOf[*bundle]
	for _, c := range cases {
		if c.part == p {
			of = append(of, caseOf[*bundle]{c.name, c.fn})
		}
	}
	runSuite(t, of, open)
}
