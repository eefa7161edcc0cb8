package engine_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// bundle is what each test works with: a real SQLite store in a temp dir,
// an in-memory destination and an engine with a settable clock.
type bundle struct {
	t     *testing.T
	store *sqlite.Store
	dest  *fake.Destination
	eng   *engine.Engine
	now   time.Time
	path  string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	return setupAt(t, path, fake.NewDestination("google"))
}

func setupAt(t *testing.T, path string, dest *fake.Destination) *bundle {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := &bundle{t: t, store: st, dest: dest, path: path, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b.eng = &engine.Engine{
		Store: st,
		Now:   func() time.Time { return b.now },
		Retry: engine.RetryPolicy{Attempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond},
		// Every test with more than 37 sends also runs the spooled path.
		SpillAfter: 37,
	}
	return b
}

func (b *bundle) job(src connectors.Source, mods ...func(*engine.Job)) *engine.Job {
	b.t.Helper()
	prof, err := platformbuiltin.Profile("google")
	require.NoError(b.t, err)
	j := &engine.Job{
		Sync:   "test-sync",
		Source: src,
		Request: connectors.ReadRequest{Key: "id", Fields: map[audience.Kind]string{
			audience.Email: "email", audience.Phone: "phone"}},
		DefaultRegion:     "US",
		MaxRemoveFraction: 0.2,
		Targets: []*engine.Target{{
			Name: "dest", Type: "fake", Dest: b.dest, Info: b.dest.Info(), Profile: prof,
			Audience:       connectors.AudienceSpec{Name: "Test audience", Create: true},
			DefaultConsent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
			RefreshMargin:  30 * 24 * time.Hour,
		}},
	}
	for _, m := range mods {
		m(j)
	}
	return j
}

func (b *bundle) run(ms []audience.Member, opts engine.Options, mods ...func(*engine.Job)) (*report.Report, error) {
	b.t.Helper()
	rep, err := b.eng.Run(context.Background(), b.job(&fake.Source{Members: ms}, mods...), opts)
	// Every run of every test: each destination's counts add up.
	requireCounts(b.t, rep)
	return rep, err
}

// members makes synthetic members numbered from..to-1, each with its own
// e-mail address.
func members(from, to int) []audience.Member {
	var out []audience.Member
	for i := from; i < to; i++ {
		var m audience.Member
		m.Key = fmt.Sprintf("C%05d", i)
		m.Fields[audience.Email] = fmt.Sprintf("member-%05d@example.com", i)
		out = append(out, m)
	}
	return out
}

// held is what the destination should hold for ms.
func held(t *testing.T, ms []audience.Member) []string {
	t.Helper()
	prof, err := platformbuiltin.Profile("google")
	require.NoError(t, err)
	set := map[string]bool{}
	for _, m := range ms {
		if m.Consent.Denied() {
			continue
		}
		for _, k := range []audience.Kind{audience.Email, audience.Phone} {
			if m.Fields[k] == "" {
				continue
			}
			id, r := prof.Value(k, m.Fields[k], normalize.Options{DefaultRegion: "US"})
			require.Empty(t, r)
			set[id.Kind.String()+":"+id.Value] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dest(r *report.Report) *report.Destination { return r.Destinations[0] }

func (b *bundle) audienceID() string {
	id, err := b.store.AudienceID(context.Background(), state.Scope{Sync: "test-sync", Destination: "dest"})
	require.NoError(b.t, err)
	return id
}

func (b *bundle) count() int64 {
	n, err := b.store.Count(context.Background(), state.Scope{Sync: "test-sync", Destination: "dest"})
	require.NoError(b.t, err)
	return n
}

func TestFirstRunAddsThenNoChangeSendsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 250)
	rep, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	require.Equal(t, report.Planned{Add: 250}, dest(rep).Planned)
	require.Equal(t, int64(250), dest(rep).Applied.Added)
	require.Equal(t, 3, dest(rep).Batches, "250 members in batches of at most 100")
	require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))
	require.Equal(t, int64(250), b.count())

	b.dest.ResetCalls()
	rep, err = b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.Planned{Unchanged: 250}, dest(rep).Planned)
	require.Empty(t, b.dest.Calls(), "a run with no change makes no destination call")
}

func TestRemovesAndAddsExactlyTheDifference(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.run(members(0, 100), engine.Options{})
	require.NoError(t, err)

	next := append(members(10, 100), members(100, 105)...) // 10 gone, 5 new
	b.dest.ResetCalls()
	rep, err := b.run(next, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.Planned{Add: 5, Remove: 10, Unchanged: 90}, dest(rep).Planned)
	require.Equal(t, int64(5), dest(rep).Applied.Added)
	require.Equal(t, int64(10), dest(rep).Applied.Removed)
	var adds, removes int
	for _, c := range b.dest.Calls() {
		if c.Op == connectors.OpAdd {
			adds += len(c.Members)
		} else {
			removes += len(c.Members)
		}
	}
	require.Equal(t, 5, adds)
	require.Equal(t, 10, removes)
	require.Equal(t, held(t, next), b.dest.Held(b.audienceID()))
	require.Equal(t, int64(95), b.count())
}

func TestSourceFailurePartWayRemovesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 100)
	_, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	before := b.dest.Held(b.audienceID())

	b.dest.ResetCalls()
	src := &fake.Source{Members: members(0, 100), FailAfter: 30}
	rep, err := b.eng.Run(context.Background(), b.job(src), engine.Options{Force: true})
	require.ErrorIs(t, err, engine.ErrSourceFailed)
	require.ErrorIs(t, err, fake.ErrBroken)
	require.Equal(t, report.StatusFailed, rep.Status)
	require.Zero(t, dest(rep).Applied.Removed)
	require.Empty(t, b.dest.Calls(), "nothing is uploaded or removed after a failed read")
	require.Equal(t, before, b.dest.Held(b.audienceID()))
	require.Equal(t, int64(100), b.count())

	stored, err := b.store.Run(context.Background(), rep.RunID)
	require.NoError(t, err)
	require.Equal(t, string(report.StatusFailed), stored.Status)
	require.Contains(t, string(stored.Report), "source read failed")
}

func TestRemovalGuardStopsBeforeUploadUnlessForced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.run(members(0, 100), engine.Options{})
	require.NoError(t, err)

	b.dest.ResetCalls()
	next := append(members(30, 100), members(200, 210)...) // 30% removed, 10 added
	rep, err := b.run(next, engine.Options{})
	var g *engine.GuardError
	require.ErrorAs(t, err, &g)
	require.Equal(t, report.StatusAborted, rep.Status)
	require.Contains(t, err.Error(), "--force")
	require.Contains(t, err.Error(), "max_remove_fraction")
	require.Empty(t, b.dest.Calls(), "the guard stops the run before any upload, adds included")
	require.Equal(t, int64(100), b.count())

	rep, err = b.run(next, engine.Options{Force: true})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	require.Equal(t, held(t, next), b.dest.Held(b.audienceID()))
}

func TestGuardRefusesToEmptyAudience(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.run(members(0, 20), engine.Options{})
	require.NoError(t, err)
	rep, err := b.run(nil, engine.Options{}, func(j *engine.Job) { j.MaxRemoveFraction = 1 })
	var g *engine.GuardError
	require.ErrorAs(t, err, &g)
	require.True(t, g.Empty)
	require.Equal(t, report.StatusAborted, rep.Status)
	require.Equal(t, int64(20), b.count())

	_, err = b.run(nil, engine.Options{}, func(j *engine.Job) { j.AllowEmpty = true })
	require.NoError(t, err)
	require.Empty(t, b.dest.Held(b.audienceID()))
	require.Zero(t, b.count())
}

func TestUpdateRemovesOldIdentifiersAndAddsNew(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 20)
	_, err := b.run(ms, engine.Options{})
	require.NoError(t, err)

	ms[3].Fields[audience.Email] = "changed-00003@example.com"
	ms[4].Fields[audience.Phone] = "+1 202-555-0104"
	rep, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.Planned{Update: 2, Unchanged: 18}, dest(rep).Planned)
	require.Equal(t, int64(2), dest(rep).Applied.Updated)
	require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))

	b.dest.ResetCalls()
	rep, err = b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.Planned{Unchanged: 20}, dest(rep).Planned)
	require.Empty(t, b.dest.Calls())
}

func TestSharedIdentifierIsRemovedOnlyWhenNoMemberCarriesIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 10)
	ms[1].Fields[audience.Email] = ms[0].Fields[audience.Email] // two records, one address
	ms[1].Fields[audience.Phone] = "+1 202-555-0111"
	ms[3].Fields = ms[2].Fields // two records that reduce to the same identifiers
	rep, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(10), dest(rep).Planned.Add)
	require.Equal(t, int64(10), dest(rep).Applied.Added)
	var sent []string
	for _, c := range b.dest.Calls() {
		for _, m := range c.Members {
			sent = append(sent, fmt.Sprint(m.Identifiers))
		}
	}
	require.Len(t, sent, 9, "an identical record goes up once; records sharing only an address go up whole")
	require.Equal(t, int64(9), b.count()-1, "both identical records are committed")

	// Member 0 leaves; member 1 still carries the address: it stays.
	rest := ms[1:]
	rep, err = b.run(rest, engine.Options{Force: true})
	require.NoError(t, err)
	require.Equal(t, int64(1), dest(rep).Applied.Removed)
	require.Equal(t, held(t, rest), b.dest.Held(b.audienceID()))

	// Member 2 leaves; its twin 3 carries everything: nothing is sent.
	b.dest.ResetCalls()
	rest = append([]audience.Member{rest[0]}, rest[2:]...)
	rep, err = b.run(rest, engine.Options{Force: true})
	require.NoError(t, err)
	require.Equal(t, int64(1), dest(rep).Applied.Removed)
	require.Empty(t, b.dest.Calls())
	require.Equal(t, held(t, rest), b.dest.Held(b.audienceID()))
}

func TestConsentDeniedIsNotUploadedAndIsRemoved(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 10)
	ms[2].Consent.AdUserData = audience.ConsentDenied
	rep, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(9), dest(rep).Planned.Add)
	require.Equal(t, int64(1), dest(rep).ConsentDenied)
	require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))

	ms[5].Consent.AdPersonalization = audience.ConsentDenied
	rep, err = b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(1), dest(rep).Applied.Removed)
	require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))
}

func TestRefreshResendsBeforeMembershipLapses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	withMembership := func(j *engine.Job) { j.Targets[0].Audience.MembershipDays = 540 }
	ms := members(0, 50)
	_, err := b.run(ms[:20], engine.Options{}, withMembership)
	require.NoError(t, err)
	b.now = b.now.Add(200 * 24 * time.Hour)
	_, err = b.run(ms, engine.Options{}, withMembership) // 30 more, sent later
	require.NoError(t, err)

	// 540 - 30 days margin = 510 days after the first send: only the
	// first 20 are due.
	b.now = b.now.Add(311 * 24 * time.Hour)
	b.dest.ResetCalls()
	rep, err := b.run(ms, engine.Options{}, withMembership)
	require.NoError(t, err)
	require.Equal(t, report.Planned{Refresh: 20, Unchanged: 30}, dest(rep).Planned)
	require.Equal(t, int64(20), dest(rep).Applied.Refreshed)
	require.Len(t, b.dest.Calls(), 1)

	b.dest.ResetCalls()
	rep, err = b.run(ms, engine.Options{}, withMembership)
	require.NoError(t, err)
	require.Equal(t, report.Planned{Unchanged: 50}, dest(rep).Planned, "a refresh resets the clock")
}

func TestTransientErrorsAreRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dest.Transient = 2
	ms := members(0, 150)
	rep, err := b.run(ms, engine.Options{}, func(j *engine.Job) { j.Targets[0].Concurrency = 1 })
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	require.Equal(t, 2, dest(rep).Retries)
	require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))
}

func TestPlatformRejectedMembersAreReportedAndRetriedNextRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 10)
	prof, _ := platformbuiltin.Profile("google")
	bad, _ := prof.Value(audience.Email, ms[7].Fields[audience.Email], normalize.Options{})
	b.dest.Reject = map[string]string{bad.Value: "INVALID_FORMAT"}
	rep, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(9), dest(rep).Applied.Added)
	require.Equal(t, int64(1), dest(rep).Applied.Failed)
	require.Equal(t, map[string]int64{"INVALID_FORMAT": 1}, dest(rep).PlatformRejected)
	require.Equal(t, int64(9), b.count(), "a rejected member is not committed")

	b.dest.Reject = nil
	rep, err = b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(1), dest(rep).Planned.Add)
	require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))
}

func TestDestinationDyingMidApplyConvergesNextRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := members(0, 300)
	_, err := b.run(first, engine.Options{})
	require.NoError(t, err)

	next := append(members(50, 300), members(300, 550)...) // 50 removes, 250 adds
	b.dest.ResetCalls()
	b.dest.FailFrom = 3 // the remove batch and one add batch land, then it dies
	rep, err := b.run(next, engine.Options{}, func(j *engine.Job) { j.Targets[0].Concurrency = 1 })
	require.Error(t, err)
	require.Equal(t, report.StatusPartial, rep.Status)
	require.Equal(t, int64(50), dest(rep).Applied.Removed)
	require.Equal(t, int64(100), dest(rep).Applied.Added)

	b.dest.ResetCalls()
	rep, err = b.run(next, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	require.Equal(t, held(t, next), b.dest.Held(b.audienceID()), "no member lost, none wrongly removed")
	require.Equal(t, int64(len(next)), b.count())
	for _, c := range b.dest.Calls() {
		require.Equal(t, connectors.OpAdd, c.Op, "the removes went through before the failure: no spurious remove (%d members)", len(c.Members))
	}
}

// failingCommits is a store whose commits fail from the failFrom-th on.
type failingCommits struct {
	state.Store
	mu       sync.Mutex
	commits  int
	failFrom int
}

func (f *failingCommits) Commit(ctx context.Context, scope state.Scope, changes []state.Change) error {
	f.mu.Lock()
	f.commits++
	n := f.commits
	f.mu.Unlock()
	if n >= f.failFrom {
		return errors.New("disk full")
	}
	return f.Store.Commit(ctx, scope, changes)
}

func TestStateCommitFailureStopsAndConvergesNextRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 500)
	b.eng.Store = &failingCommits{Store: b.store, failFrom: 2}
	rep, err := b.run(ms, engine.Options{}, func(j *engine.Job) {
		j.Targets[0].Info.MaxBatch = 100
		j.Targets[0].Concurrency = 1
	})
	require.Error(t, err)
	require.Equal(t, report.StatusPartial, dest(rep).Status, "a commit succeeded before the store failed")
	// Batches waiting together are committed together: the first commit
	// holds one or more whole batches.
	committed := b.count()
	require.Positive(t, committed)
	require.Less(t, committed, int64(len(ms)))
	require.Zero(t, committed%100)
	require.Equal(t, committed, dest(rep).Applied.Added, "only what was committed counts as applied")
	require.NotEmpty(t, dest(rep).Errors)
	require.Contains(t, dest(rep).Errors[0], "commit batch")
	require.Contains(t, dest(rep).Errors[0], "disk full")

	b.eng.Store = b.store
	rep, err = b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, dest(rep).Status)
	require.Equal(t, int64(len(ms))-committed, dest(rep).Applied.Added, "what was uploaded but never committed is sent again")
	require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))
	require.Equal(t, int64(len(ms)), b.count())
}

func TestBatchRejectedSkipsOnlyThatBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dest.MaxBatch = 50
	ms := members(0, 150)
	rep, err := b.run(ms, engine.Options{}, func(j *engine.Job) {
		j.Targets[0].Info.MaxBatch = 100 // the engine's cut is larger than the platform takes
		j.Targets[0].Concurrency = 1
	})
	require.Error(t, err)
	require.Equal(t, report.StatusPartial, rep.Status)
	require.Equal(t, int64(100), dest(rep).Applied.Failed)
	require.Equal(t, int64(50), dest(rep).Applied.Added)
	require.Len(t, dest(rep).Errors, 1)
	require.Contains(t, dest(rep).Errors[0], "too_many_members")
}

func TestFullRefreshResendsEverything(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 40)
	_, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	b.dest.ResetCalls()
	rep, err := b.run(ms, engine.Options{FullRefresh: true})
	require.NoError(t, err)
	require.Equal(t, int64(40), dest(rep).Planned.Refresh)
	require.Equal(t, int64(40), dest(rep).Applied.Refreshed)
	require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))
	require.Equal(t, int64(40), b.count())
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 30)
	rep, err := b.run(ms, engine.Options{DryRun: true})
	require.NoError(t, err)
	require.Equal(t, report.StatusPlanned, rep.Status)
	require.Equal(t, int64(30), dest(rep).Planned.Add)
	require.Empty(t, b.dest.Calls())
	require.Zero(t, b.count())
	runs, err := b.store.Runs(context.Background(), state.RunFilter{})
	require.NoError(t, err)
	require.Empty(t, runs, "a dry run records no run")
}

func TestInterruptKeepsAcknowledgedBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.dest.OnApply = func(call int) {
		if call == 3 {
			cancel()
		}
	}
	ms := members(0, 500)
	job := b.job(&fake.Source{Members: ms}, func(j *engine.Job) { j.Targets[0].Concurrency = 1 })
	rep, err := b.eng.Run(ctx, job, engine.Options{})
	require.Error(t, err)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, int64(200), dest(rep).Applied.Added, "two batches acknowledged before the interrupt")
	require.Equal(t, int64(200), b.count(), "and committed")
	stored, err := b.store.Run(context.Background(), rep.RunID)
	require.NoError(t, err)
	require.NotEqual(t, string(report.StatusRunning), stored.Status)

	b.dest.OnApply = nil
	rep, err = b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(300), dest(rep).Applied.Added)
	require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))
}

func TestDuplicateSourceKeysCountedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 10)
	ms = append(ms, ms[3], ms[4])
	rep, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(12), rep.Source.Read)
	require.Equal(t, int64(2), rep.Source.Duplicates)
	require.Equal(t, int64(10), rep.Source.Valid)
	require.Equal(t, int64(10), dest(rep).Planned.Add)
}

// TestSourceKeyConflictsCounted checks that a record repeating an earlier
// record's key with other data is counted as a key.conflict, with its line,
// and that the first record is the one sent.
func TestSourceKeyConflictsCounted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 10)
	again := ms[3]
	again.Fields[audience.Email] = "other.member@example.com"
	again.Line = 42
	ms = append(ms, again, ms[4])
	rep, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(12), rep.Source.Read)
	require.Equal(t, int64(1), rep.Source.Duplicates, "the same data again is a duplicate")
	require.Equal(t, map[string]int64{engine.ReasonKeyConflict: 1}, rep.Source.Rejected)
	require.Equal(t, []int64{42}, rep.Source.RejectedLines[engine.ReasonKeyConflict])
	require.Equal(t, int64(10), rep.Source.Valid)
	require.Equal(t, held(t, members(0, 10)), b.dest.Held(b.audienceID()), "the first record wins")
}

func TestReportsCarryNoContactData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 30)
	ms[4].Fields[audience.Email] = "broken-address-at-example.com"
	rep, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	var sb strings.Builder
	require.NoError(t, rep.WriteJSON(&sb))
	require.NoError(t, rep.WriteText(&sb))
	for _, m := range ms {
		require.NotContains(t, sb.String(), m.Fields[audience.Email])
	}
	require.Equal(t, int64(1), dest(rep).Rejected["email.malformed"])
}

// TestCrashBetweenAckAndCommit kills a real process after the platform
// acknowledged a batch but before state recorded it, then checks the next
// run converges: nothing lost, nothing removed that should stay.
func TestCrashBetweenAckAndCommit(t *testing.T) {
	if os.Getenv("ENGINE_CRASH_HELPER") != "" {
		crashHelper(t)
		return
	}
	t.Parallel()
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.db")
	remote := filepath.Join(dir, "remote.json")

	crash := func(phase string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashBetweenAckAndCommit$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ENGINE_CRASH_HELPER="+phase, "ENGINE_CRASH_STATE="+statePath, "ENGINE_CRASH_REMOTE="+remote)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "helper should crash, got %v: %s", err, out)
		require.Equal(t, 3, ee.ExitCode(), "%s", out)
	}
	converge := func(ms []audience.Member) {
		d := fake.NewDestination("google")
		d.Persist = remote
		require.NoError(t, d.Load())
		b := setupAt(t, statePath, d)
		rep, err := b.run(ms, engine.Options{Force: true})
		require.NoError(t, err)
		require.Equal(t, report.StatusSucceeded, rep.Status)
		require.Equal(t, held(t, ms), d.Held(b.audienceID()))
		require.Equal(t, int64(len(ms)), b.count())
		require.NoError(t, b.store.Close())
	}

	crash("add") // crashes after the 2nd of 3 add batches
	converge(members(0, 250))
	crash("remove") // crashes after the 1st remove batch of a 150-member removal
	converge(members(150, 250))
}

func crashHelper(t *testing.T) {
	d := fake.NewDestination("google")
	d.Persist = os.Getenv("ENGINE_CRASH_REMOTE")
	require.NoError(t, d.Load())
	b := setupAt(t, os.Getenv("ENGINE_CRASH_STATE"), d)
	one := func(j *engine.Job) { j.Targets[0].Concurrency = 1 }
	switch os.Getenv("ENGINE_CRASH_HELPER") {
	case "add":
		d.ExitAfter = 2
		_, _ = b.run(members(0, 250), engine.Options{}, one)
	case "remove":
		d.ExitAfter = 1
		_, _ = b.run(members(150, 250), engine.Options{Force: true}, one)
	}
	t.Fatal("helper did not crash")
}

// plainDest hides the fake's Resetter, like a platform that cannot empty an
// audience in one call.
type plainDest struct{ d *fake.Destination }

func (p plainDest) Info() connectors.DestinationInfo { return p.d.Info() }
func (p plainDest) Ensure(ctx context.Context, s connectors.AudienceSpec) (connectors.Audience, error) {
	return p.d.Ensure(ctx, s)
}
func (p plainDest) Apply(ctx context.Context, a connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	return p.d.Apply(ctx, a, b)
}
func (p plainDest) Close() error { return nil }

// replacer replaces the whole audience in one call, as Meta's
// usersreplace session does.
type replacer struct {
	plainDest
	replaced int
}

func (r *replacer) Replace(ctx context.Context, a connectors.Audience, total int, ms iter.Seq2[connectors.Upload, error]) (connectors.BatchResult, error) {
	var all []connectors.Upload
	for m, err := range ms {
		if err != nil {
			return connectors.BatchResult{}, err
		}
		all = append(all, m)
	}
	if len(all) != total {
		return connectors.BatchResult{}, fmt.Errorf("told %d members, got %d", total, len(all))
	}
	if err := r.d.RemoveAll(ctx, a); err != nil {
		return connectors.BatchResult{}, err
	}
	r.replaced++
	_, err := r.d.Apply(ctx, a, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: all})
	return connectors.BatchResult{}, err
}

func TestFullRefreshWithoutResetRemovesThenReadds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	use := func(j *engine.Job) { j.Targets[0].Dest = plainDest{b.dest} }
	_, err := b.run(members(0, 40), engine.Options{}, use)
	require.NoError(t, err)
	b.dest.ResetCalls()
	next := members(10, 40)
	rep, err := b.run(next, engine.Options{FullRefresh: true, Force: true}, use)
	require.NoError(t, err)
	require.Equal(t, report.Planned{Remove: 10, Refresh: 30}, dest(rep).Planned)
	require.Equal(t, int64(10), dest(rep).Applied.Removed)
	require.Equal(t, int64(30), dest(rep).Applied.Refreshed)
	var removed, added int
	for _, c := range b.dest.Calls() {
		if c.Op == connectors.OpRemove {
			removed += len(c.Members)
		} else {
			added += len(c.Members)
		}
	}
	require.Equal(t, 40, removed, "everything state knows is removed first")
	require.Equal(t, 30, added, "then the audience is re-added")
	require.Equal(t, held(t, next), b.dest.Held(b.audienceID()))
	require.Equal(t, int64(30), b.count())
}

func TestFullRefreshThroughReplacer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := &replacer{plainDest: plainDest{b.dest}}
	use := func(j *engine.Job) { j.Targets[0].Dest = r }
	_, err := b.run(members(0, 40), engine.Options{}, use)
	require.NoError(t, err)
	next := append(members(5, 40), members(50, 52)...)
	rep, err := b.run(next, engine.Options{FullRefresh: true}, use)
	require.NoError(t, err)
	require.Equal(t, 1, r.replaced)
	require.Equal(t, report.Planned{Add: 2, Remove: 5, Refresh: 35}, dest(rep).Planned)
	require.Equal(t, int64(5), dest(rep).Applied.Removed)
	require.Equal(t, held(t, next), b.dest.Held(b.audienceID()))
	require.Equal(t, int64(37), b.count())

	b.dest.ResetCalls()
	rep, err = b.run(next, engine.Options{}, use)
	require.NoError(t, err)
	require.Equal(t, report.Planned{Unchanged: 37}, dest(rep).Planned)
	require.Empty(t, b.dest.Calls())
}

// polling answers feedback and keeps one request processing.
type polling struct {
	plainDest
	mu    sync.Mutex
	n     int
	asked [][]string
}

func (p *polling) Apply(ctx context.Context, a connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	res, err := p.plainDest.Apply(ctx, a, b)
	p.mu.Lock()
	p.n++
	res.RequestID = fmt.Sprintf("req-%d", p.n)
	p.mu.Unlock()
	return res, err
}

func (p *polling) Feedback(_ context.Context, _ connectors.Audience, ids []string) (connectors.PlatformReport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, slices.Clone(ids))
	rep := connectors.PlatformReport{Status: "SUCCESS", MatchRate: "MATCH_RATE_RANGE_51_TO_60", Counts: map[string]int64{"records": int64(len(ids))}}
	for _, id := range ids {
		if id == "req-1" && len(p.asked) == 1 {
			rep.Status = "PROCESSING"
			rep.Pending = append(rep.Pending, id)
		}
	}
	return rep, nil
}

func TestFeedbackPollsPendingRequestsOnTheNextRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pd := &polling{plainDest: plainDest{b.dest}}
	use := func(j *engine.Job) { j.Targets[0].Dest = pd; j.Targets[0].Concurrency = 1 }
	rep, err := b.run(members(0, 150), engine.Options{}, use)
	require.NoError(t, err)
	require.Equal(t, []string{"req-1", "req-2"}, pd.asked[0])
	require.Equal(t, "PROCESSING", dest(rep).Platform.Status)
	require.Equal(t, []string{"req-1"}, dest(rep).Platform.Pending)

	rep, err = b.run(members(0, 160), engine.Options{}, use)
	require.NoError(t, err)
	require.Equal(t, []string{"req-3", "req-1"}, pd.asked[1], "this run's request and the one left processing")
	require.Equal(t, "SUCCESS", dest(rep).Platform.Status)
	require.Empty(t, dest(rep).Platform.Pending)
	var sb strings.Builder
	require.NoError(t, rep.WriteText(&sb))
	require.Contains(t, sb.String(), "MATCH_RATE_RANGE_51_TO_60")
}
