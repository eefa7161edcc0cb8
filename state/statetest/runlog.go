package statetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

func testRunLifecycle(t *testing.T, b *bundle) {
	started := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	noError(t, b.log.BeginRun(b.ctx, state.Run{ID: "run-1", Sync: "cart-abandoners", Status: "running", Started: started}))
	isError(t, b.log.BeginRun(b.ctx, state.Run{ID: "run-1", Sync: "other", Status: "running", Started: started}),
		"a run id is recorded once")

	got, err := b.log.Run(b.ctx, "run-1")
	noError(t, err)
	requireSame(t, state.Run{ID: "run-1", Sync: "cart-abandoners", Status: "running", Started: started}, got)
	check(t, got.Finished.IsZero())
	check(t, got.Report == nil, "report of a running run is %q, want nil", got.Report)

	report := []byte(`{"run_id":"run-1","status":"succeeded","destinations":[]}`)
	finished := started.Add(90 * time.Second)
	noError(t, b.log.FinishRun(b.ctx, "run-1", "succeeded", finished, report, nil))
	got, err = b.log.Run(b.ctx, "run-1")
	noError(t, err)
	requireSame(t, state.Run{ID: "run-1", Sync: "cart-abandoners", Status: "succeeded", Started: started, Finished: finished, Report: report}, got)

	err = b.log.FinishRun(b.ctx, "no-such-run", "failed", finished, nil, []state.Summary{{Destination: "google", Status: "failed"}})
	errorIs(t, err, state.ErrNotFound)
}

func testRunsNewestFirst(t *testing.T, b *bundle) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Begin out of order so insertion order cannot pass for time order.
	const n = 60
	for _, i := range []int{5, 0, 59} {
		noError(t, b.log.BeginRun(b.ctx, runAt(i, base)))
	}
	for i := range n {
		if i == 5 || i == 0 || i == 59 {
			continue
		}
		noError(t, b.log.BeginRun(b.ctx, runAt(i, base)))
	}

	all, err := b.log.Runs(b.ctx, state.RunFilter{})
	noError(t, err)
	requireSame(t, 50, len(all), "limit <= 0 means 50")
	for j, r := range all {
		requireSame(t, fmt.Sprintf("run-%02d", n-1-j), r.ID)
	}

	some, err := b.log.Runs(b.ctx, state.RunFilter{Sync: "sync-b", Limit: 4})
	noError(t, err)
	requireSame(t, []string{"run-59", "run-56", "run-53", "run-50"}, runIDs(some))
	for _, r := range some {
		var i int
		_, err := fmt.Sscanf(r.ID, "run-%d", &i)
		noError(t, err)
		requireSame(t, runAt(i, base), r)
	}

	wide, err := b.log.Runs(b.ctx, state.RunFilter{Sync: "sync-a", Limit: 1000})
	noError(t, err)
	requireSame(t, 20, len(wide))

	none, err := b.log.Runs(b.ctx, state.RunFilter{Sync: "no-such-sync"})
	noError(t, err)
	requireSame(t, 0, len(none))
}

// runAt is run i of three syncs taking turns, started i minutes after base.
func runAt(i int, base time.Time) state.Run {
	return state.Run{
		ID:      fmt.Sprintf("run-%02d", i),
		Sync:    []string{"sync-a", "sync-c", "sync-b"}[i%3],
		Status:  "running",
		Started: base.Add(time.Duration(i) * time.Minute),
	}
}

func runIDs(runs []state.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

func testRunNotFound(t *testing.T, b *bundle) {
	_, err := b.log.Run(b.ctx, "no-such-run")
	errorIs(t, err, state.ErrNotFound)
}

// testRunOwner: a run records the lock owner it was started under.
func testRunOwner(t *testing.T, b *bundle) {
	started := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	noError(t, b.log.BeginRun(b.ctx, state.Run{ID: "run-owned", Sync: "s", Status: "running", Started: started, Owner: "owner-1"}))
	noError(t, b.log.BeginRun(b.ctx, state.Run{ID: "run-free", Sync: "s", Status: "running", Started: started.Add(time.Second)}))
	got, err := b.log.Run(b.ctx, "run-owned")
	noError(t, err)
	requireSame(t, "owner-1", got.Owner)
	noError(t, b.log.FinishRun(b.ctx, "run-owned", "succeeded", started.Add(time.Minute), []byte(`{}`), nil))
	runs, err := b.log.Runs(b.ctx, state.RunFilter{Sync: "s"})
	noError(t, err)
	requireSame(t, []string{"run-free", "run-owned"}, runIDs(runs))
	requireSame(t, []string{"", "owner-1"}, []string{runs[0].Owner, runs[1].Owner}, "owners as listed")
}

// testRunStartedBy: a run records who or what started it, as given, and
// Run and Runs return it, before and after the run finishes; a run that
// does not say reads as "".
func testRunStartedBy(t *testing.T, b *bundle) {
	started := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	by := map[string]string{"run-sched": "schedule", "run-api": "api:ci-deploy", "run-web": "web:marketing", "run-unsaid": ""}
	for id, who := range by {
		noError(t, b.log.BeginRun(b.ctx, state.Run{ID: id, Sync: "s", Status: "running", Started: started, StartedBy: who}))
	}
	got, err := b.log.Run(b.ctx, "run-api")
	noError(t, err)
	requireSame(t, "api:ci-deploy", got.StartedBy, "while running")
	noError(t, b.log.FinishRun(b.ctx, "run-api", "succeeded", started.Add(time.Minute), []byte(`{}`),
		[]state.Summary{summaryAt("google", "succeeded", started, 1)}))
	got, err = b.log.Run(b.ctx, "run-api")
	noError(t, err)
	requireSame(t, "api:ci-deploy", got.StartedBy, "once finished: FinishRun keeps it")
	runs, err := b.log.Runs(b.ctx, state.RunFilter{Sync: "s"})
	noError(t, err)
	listed := map[string]string{}
	for _, r := range runs {
		listed[r.ID] = r.StartedBy
	}
	requireSame(t, by, listed, "as listed")
}

// summaryAt is a summary of destination dest for a run that started at
// started and took a minute, with figures made from n.
func summaryAt(dest, status string, started time.Time, n int64) state.Summary {
	return state.Summary{
		Destination: dest,
		Status:      status,
		Planned:     state.Planned{Add: n, Remove: n + 1, Update: n + 2, Refresh: n + 3, Unchanged: n + 4},
		Applied:     state.Applied{Added: n + 5, Removed: n + 6, Updated: n + 7, Refreshed: n + 8, Failed: n + 9, NotAttempted: n + 10},
		Members:     n * 100,
		Started:     started,
		Finished:    started.Add(time.Minute),
	}
}

// finishWith begins run id of sync at started and finishes it a minute
// later with summaries.
func (b *bundle) finishWith(t *testing.T, id, sync string, started time.Time, summaries ...state.Summary) {
	t.Helper()
	noError(t, b.log.BeginRun(b.ctx, state.Run{ID: id, Sync: sync, Status: "running", Started: started}))
	noError(t, b.log.FinishRun(b.ctx, id, "succeeded", started.Add(time.Minute), []byte(`{"run_id":"`+id+`"}`), summaries))
}

func testSummariesRoundTrip(t *testing.T, b *bundle) {
	started := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	google := summaryAt("google", "succeeded", started, 1)
	google.Platform = &state.PlatformFigures{Status: "SUCCESS", MatchRate: "MATCH_RATE_RANGE_41_TO_50", Size: 4200}
	meta := summaryAt("meta", "partial", started, 2)
	meta.Platform = &state.PlatformFigures{Size: -1} // reported, but no size
	x := summaryAt("x", "failed", started, 0)
	empty := state.Summary{Destination: "exports", Started: started, Finished: started}
	// Not in name order: the recorded order is kept.
	want := []state.Summary{meta, google, x, empty}
	b.finishWith(t, "run-1", "cart-abandoners", started, want...)

	got, err := b.log.Run(b.ctx, "run-1")
	noError(t, err)
	requireSame(t, want, got.Summaries)
	for _, s := range got.Summaries {
		check(t, s.Finished.Location() == time.UTC, "summary times come back in UTC")
	}
	runs, err := b.log.Runs(b.ctx, state.RunFilter{Sync: "cart-abandoners"})
	noError(t, err)
	requireSame(t, 1, len(runs))
	requireSame(t, want, runs[0].Summaries)

	// A run finished without summaries has none; a running one neither.
	b.finishWith(t, "run-2", "cart-abandoners", started.Add(time.Hour))
	noError(t, b.log.BeginRun(b.ctx, state.Run{ID: "run-3", Sync: "cart-abandoners", Status: "running", Started: started.Add(2 * time.Hour)}))
	runs, err = b.log.Runs(b.ctx, state.RunFilter{})
	noError(t, err)
	requireSame(t, []string{"run-3", "run-2", "run-1"}, runIDs(runs))
	requireSame(t, 0, len(runs[0].Summaries), "a running run has no summaries")
	requireSame(t, 0, len(runs[1].Summaries))
	requireSame(t, want, runs[2].Summaries)
}

func testFinishRunReplacesSummaries(t *testing.T, b *bundle) {
	started := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	b.finishWith(t, "run-1", "s", started, summaryAt("google", "partial", started, 1), summaryAt("meta", "failed", started, 2))
	// Read first, as a listing and as one run, so that a store keeping
	// what it read must let the new end replace it.
	_, err := b.log.Run(b.ctx, "run-1")
	noError(t, err)
	_, err = b.log.Runs(b.ctx, state.RunFilter{})
	noError(t, err)
	again := []state.Summary{summaryAt("google", "succeeded", started, 3)}
	noError(t, b.log.FinishRun(b.ctx, "run-1", "succeeded", started.Add(time.Hour), []byte(`{"again":true}`), again))
	got, err := b.log.Run(b.ctx, "run-1")
	noError(t, err)
	requireSame(t, again, got.Summaries)
	requireSame(t, "succeeded", got.Status)
	requireSame(t, `{"again":true}`, string(got.Report))
	requireSame(t, started.Add(time.Hour), got.Finished)
	runs, err := b.log.Runs(b.ctx, state.RunFilter{})
	noError(t, err)
	requireSame(t, again, runs[0].Summaries)
	requireSame(t, "succeeded", runs[0].Status)
}

func testRunsReadAreCopies(t *testing.T, b *bundle) {
	started := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	sum := summaryAt("google", "succeeded", started, 1)
	sum.Platform = &state.PlatformFigures{Status: "SUCCESS", Size: 10}
	want := sum
	want.Platform = &state.PlatformFigures{Status: "SUCCESS", Size: 10}
	b.finishWith(t, "run-1", "s", started, sum)
	// Whatever a caller does to what it read changes no later read.
	for range 2 {
		one, err := b.log.Run(b.ctx, "run-1")
		noError(t, err)
		requireSame(t, []state.Summary{want}, one.Summaries)
		requireSame(t, `{"run_id":"run-1"}`, string(one.Report))
		one.Summaries[0].Members, one.Summaries[0].Platform.Size, one.Report[0] = 99, 99, 'X'
		runs, err := b.log.Runs(b.ctx, state.RunFilter{})
		noError(t, err)
		requireSame(t, []state.Summary{want}, runs[0].Summaries)
		runs[0].Summaries[0].Members, runs[0].Summaries[0].Platform.Size = 98, 98
	}
}

func testRunsListSummariesNotReports(t *testing.T, b *bundle) {
	started := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	sum := summaryAt("google", "succeeded", started, 1)
	b.finishWith(t, "run-1", "s", started, sum)
	runs, err := b.log.Runs(b.ctx, state.RunFilter{})
	noError(t, err)
	requireSame(t, 1, len(runs))
	check(t, runs[0].Report == nil, "Runs leaves reports out, got %q", runs[0].Report)
	requireSame(t, []state.Summary{sum}, runs[0].Summaries)
	one, err := b.log.Run(b.ctx, "run-1")
	noError(t, err)
	requireSame(t, `{"run_id":"run-1"}`, string(one.Report), "Run returns the report")
}

func testSizeHistory(t *testing.T, b *bundle) {
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	day := func(i int) time.Time { return base.Add(time.Duration(i) * 24 * time.Hour) }
	// Finished out of order, so insertion order cannot pass for time order.
	b.finishWith(t, "run-3", "cart-abandoners", day(3), summaryAt("google", "succeeded", day(3), 3), summaryAt("meta", "succeeded", day(3), 30))
	b.finishWith(t, "run-1", "cart-abandoners", day(1), summaryAt("google", "succeeded", day(1), 1))
	b.finishWith(t, "run-2", "cart-abandoners", day(2), summaryAt("google", "partial", day(2), 2))
	b.finishWith(t, "run-4", "cart-abandoners", day(4), summaryAt("google", "aborted", day(4), 4))
	b.finishWith(t, "run-5", "cart-abandoners", day(5), summaryAt("google", "failed", day(5), 5))
	b.finishWith(t, "run-6", "newsletter", day(6), summaryAt("google", "succeeded", day(6), 6))
	noError(t, b.log.BeginRun(b.ctx, state.Run{ID: "run-7", Sync: "cart-abandoners", Status: "running", Started: day(7)}))
	b.finishWith(t, "run-8", "cart-abandoners", day(8), summaryAt("google", "interrupted", day(8), 8))

	got, err := b.log.SizeHistory(b.ctx, scopeA, 0)
	noError(t, err)
	requireSame(t, []state.SizePoint{
		{RunID: "run-1", Status: "succeeded", Finished: day(1).Add(time.Minute), Members: 100},
		{RunID: "run-2", Status: "partial", Finished: day(2).Add(time.Minute), Members: 200},
		{RunID: "run-3", Status: "succeeded", Finished: day(3).Add(time.Minute), Members: 300},
		{RunID: "run-8", Status: "interrupted", Finished: day(8).Add(time.Minute), Members: 800},
	}, got, "oldest first; aborted, failed and running runs left out; other syncs and destinations apart")

	got, err = b.log.SizeHistory(b.ctx, scopeB, 0)
	noError(t, err)
	requireSame(t, []state.SizePoint{{RunID: "run-3", Status: "succeeded", Finished: day(3).Add(time.Minute), Members: 3000}}, got)
	got, err = b.log.SizeHistory(b.ctx, state.Scope{Sync: "never", Destination: "recorded"}, 0)
	noError(t, err)
	requireSame(t, 0, len(got))
}

func testSizeHistoryLimit(t *testing.T, b *bundle) {
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	const n = 510
	for i := range n {
		at := base.Add(time.Duration(i) * time.Hour)
		b.finishWith(t, fmt.Sprintf("run-%03d", i), scopeA.Sync, at, summaryAt(scopeA.Destination, "succeeded", at, int64(i)))
	}
	got, err := b.log.SizeHistory(b.ctx, scopeA, 3)
	noError(t, err)
	requireSame(t, []string{"run-507", "run-508", "run-509"}, []string{got[0].RunID, got[1].RunID, got[2].RunID},
		"the newest points, oldest first")
	requireSame(t, 3, len(got))
	all, err := b.log.SizeHistory(b.ctx, scopeA, 0)
	noError(t, err)
	requireSame(t, 500, len(all), "limit <= 0 means 500")
	requireSame(t, "run-010", all[0].RunID)
	requireSame(t, int64(50900), all[499].Members)
}

// testRunsFilter: each field of a RunFilter narrows the listing, and the
// fields combine.
func testRunsFilter(t *testing.T, b *bundle) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 30 {
		r := runAt(i, base)
		noError(t, b.log.BeginRun(b.ctx, r))
		if i%2 == 0 {
			noError(t, b.log.FinishRun(b.ctx, r.ID, "succeeded", r.Started.Add(time.Second), []byte(`{}`), nil))
		} else if i%5 == 0 {
			noError(t, b.log.FinishRun(b.ctx, r.ID, "failed", r.Started.Add(time.Second), []byte(`{}`), nil))
		}
	}
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	tests := []struct {
		name   string
		filter state.RunFilter
		want   []string
	}{
		{"sync", state.RunFilter{Sync: "sync-b", Limit: 3}, []string{"run-29", "run-26", "run-23"}},
		{"one status", state.RunFilter{Statuses: []string{"failed"}}, []string{"run-25", "run-15", "run-05"}},
		{"statuses", state.RunFilter{Statuses: []string{"failed", "running"}, Since: at(20)},
			[]string{"run-29", "run-27", "run-25", "run-23", "run-21"}},
		{"sync and status", state.RunFilter{Sync: "sync-a", Statuses: []string{"succeeded"}, Limit: 2}, []string{"run-24", "run-18"}},
		{"since inclusive, until exclusive", state.RunFilter{Since: at(3), Until: at(6)}, []string{"run-05", "run-04", "run-03"}},
		{"until only", state.RunFilter{Until: at(2)}, []string{"run-01", "run-00"}},
		{"after", state.RunFilter{After: &state.RunCursor{Started: at(3), ID: "run-03"}, Limit: 5}, []string{"run-02", "run-01", "run-00"}},
		{"after with sync", state.RunFilter{Sync: "sync-c", After: &state.RunCursor{Started: at(10), ID: "run-10"}}, []string{"run-07", "run-04", "run-01"}},
		{"unknown status", state.RunFilter{Statuses: []string{"no-such-status"}}, nil},
	}
	for _, tt := range tests {
		got, err := b.log.Runs(b.ctx, tt.filter)
		noError(t, err)
		requireSame(t, tt.want, nilIfEmpty(runIDs(got)), tt.name)
	}
}

// testRunsPaging: paging with After through runs that share start times
// yields every run once, in the order of one listing.
func testRunsPaging(t *testing.T, b *bundle) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 23
	for i := range n {
		// Three runs per second: ties on Started are broken by ID.
		noError(t, b.log.BeginRun(b.ctx, state.Run{ID: fmt.Sprintf("run-%02d", i), Sync: "s", Status: "running",
			Started: base.Add(time.Duration(i/3) * time.Second)}))
	}
	all, err := b.log.Runs(b.ctx, state.RunFilter{Limit: 100})
	noError(t, err)
	requireSame(t, n, len(all))
	var paged []state.Run
	f := state.RunFilter{Limit: 4}
	for {
		page, err := b.log.Runs(b.ctx, f)
		noError(t, err)
		paged = append(paged, page...)
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		f.After = &state.RunCursor{Started: last.Started, ID: last.ID}
	}
	requireSame(t, runIDs(all), runIDs(paged), "pages in order, none skipped or repeated")
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
