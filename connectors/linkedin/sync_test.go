package linkedin

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox/linkedindmp"
)

// Adds, updates and removals through the engine leave the segment
// exactly as the source says after each run.
func TestSyncAddUpdateRemove(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	d := r.dest(t, nil, func(l *limits) { l.maxElements = 25 })
	s := newSyncer(t, d)

	first := crmMembers(0, 120, 0)
	rep, err := s.run(first, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, int64(120), rep.Applied.Added)
	require.Equal(t, 5, rep.Batches, "120 members in batches of 25")
	id := r.segmentOf(t)
	require.Equal(t, want(t, first), r.members(id))
	for _, n := range r.rec.requestElements() {
		require.LessOrEqual(t, n, 25)
	}

	// Gone: 0-9; changed e-mail: every third; new: 120-139.
	second := crmMembers(10, 140, 1)
	rep, err = s.run(second, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, int64(10), rep.Applied.Removed)
	require.Equal(t, int64(20), rep.Applied.Added)
	require.Positive(t, rep.Applied.Updated)
	require.Equal(t, want(t, second), r.members(id))

	// Nothing changed: nothing is sent.
	before := len(r.rec.requestElements())
	rep, err = s.run(second, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.Planned{Unchanged: 130}, rep.Planned)
	require.Len(t, r.rec.requestElements(), before)
	require.Equal(t, want(t, second), r.members(id))

	// The segment is below LinkedIn's minimum: said, not failed.
	require.NotNil(t, rep.Platform)
	require.Contains(t, rep.Platform.Status, "below LinkedIn's minimum")
	require.Positive(t, rep.Platform.Counts["matched_count"])
}

// LinkedIn can neither empty nor replace a segment, so on --full-refresh
// the engine removes everything state knows, then re-adds: the segment
// ends equal to the source.
func TestSyncFullRefresh(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	d := r.dest(t, nil, func(l *limits) { l.maxElements = 40 })
	s := newSyncer(t, d)
	_, err := s.run(crmMembers(0, 100, 0), engine.Options{})
	require.NoError(t, err)
	id := r.segmentOf(t)

	added := r.rec.sent("ADD")
	second := crmMembers(5, 105, 2)
	rep, err := s.run(second, engine.Options{FullRefresh: true, Force: true})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, want(t, second), r.members(id))
	require.GreaterOrEqual(t, r.rec.sent("REMOVE"), 100, "every committed member was removed first")
	require.GreaterOrEqual(t, r.rec.sent("ADD")-added, 100, "then every member was added again")
}

// A segment of 300 matched members or more is not warned about.
func TestSyncAboveMinimum(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	s := newSyncer(t, r.dest(t, nil))
	ms := crmMembers(0, 600, 0)
	rep, err := s.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, want(t, ms), r.members(r.segmentOf(t)))
	require.Equal(t, "READY", rep.Platform.Status)
	require.GreaterOrEqual(t, rep.Platform.Counts["matched_count"], int64(300))
	require.Equal(t, rep.Platform.Counts["matched_count"], rep.Platform.Size)
}

// Every fault the sandbox injects is retried to the exact segment.
func TestSyncFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		faults  string
		retried bool
	}{
		{name: "429 with Retry-After", faults: "linkedin.users:429*2,retry-after=1s", retried: true},
		{name: "500", faults: "linkedin.users:500*3", retried: true},
		{name: "502 and 504", faults: "linkedin.users:502*1,linkedin.users:504*1", retried: true},
		{name: "503 beyond the client's attempts", faults: "linkedin.users:503*6", retried: true},
		{name: "connection reset", faults: "linkedin.users:reset*3", retried: true},
		{name: "lost answers", faults: "linkedin.users:lost*2", retried: true},
		{name: "one in three fail", faults: "linkedin.users:500@0.33,seed=3", retried: true},
		{name: "segment lookup fails", faults: "linkedin.segments:503*2,linkedin.segments:reset*1"},
		{name: "token endpoint fails", faults: "linkedin.oauth:503*2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, tc.faults, nil)
			s := newSyncer(t, r.dest(t, nil, func(l *limits) { l.maxElements = 20 }))
			ms := crmMembers(0, 90, 0)
			rep, err := s.run(ms, engine.Options{})
			require.NoError(t, err, "errors: %v", rep.Errors)
			require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
			require.Equal(t, int64(90), rep.Applied.Added)
			require.Equal(t, want(t, ms), r.members(r.segmentOf(t)))
			if tc.retried {
				require.Positive(t, rep.Retries, "retries are reported")
			}
			rep, err = s.run(ms, engine.Options{})
			require.NoError(t, err)
			require.Equal(t, want(t, ms), r.members(r.segmentOf(t)))
			require.Equal(t, report.Planned{Unchanged: 90}, rep.Planned)
		})
	}
}

// When the replica's per-member window is spent, 429s (which carry no
// wait) are backed off until it resets, and the segment ends exact. The
// replica's clock moves 10ms each time it is read, so its windows fill
// the same way however fast the test runs.
func TestSyncRateLimitExhausted(t *testing.T) {
	t.Parallel()
	var ticks atomic.Int64
	start := time.Now()
	clock := func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * 10 * time.Millisecond) }
	r := newReplica(t, "", &linkedindmp.Options{RateLimit: 2, RateWindow: 100 * time.Millisecond, Now: clock})
	set := r.settings()
	set.Concurrency = 1
	s := newSyncer(t, r.dest(t, set, func(l *limits) { l.maxElements = 10 }))
	ms := crmMembers(0, 60, 0)
	rep, err := s.run(ms, engine.Options{})
	require.NoError(t, err, "errors: %v", rep.Errors)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, want(t, ms), r.members(r.segmentOf(t)))
	require.Positive(t, r.rec.count(http.MethodPost, "/users", http.StatusTooManyRequests), "the window was spent")
	require.Positive(t, rep.Retries)
}

// A segment below LinkedIn's minimum is logged as a warning once a run
// ends, with its figures and no contact data; the run succeeds.
func TestSyncWarnsBelowMinimum(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	core, logs := observer.New(zap.WarnLevel)
	d, err := newDestination(r.settings(), connectors.Env{Now: time.Now, Logger: zap.New(core)}, testLimits())
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	rep, err := newSyncer(t, d).run(crmMembers(0, 20, 0), engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	warned := logs.FilterMessageSnippet("fewer matched members than LinkedIn needs").All()
	require.Len(t, warned, 1)
	fields := warned[0].ContextMap()
	require.EqualValues(t, MinMatched, fields["minimum"])
	require.Positive(t, fields["matched"])
	for _, e := range logs.All() {
		require.NotContains(t, e.Message, "@", "no address in a log line")
	}
}
