package x

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox/xads"
)

// audienceOf returns the id of the one audience the run made.
func audienceOf(t *testing.T, r *replica) string {
	t.Helper()
	st := r.x.State(false)
	require.Len(t, st, 1)
	return st[0].ID
}

// Adds, updates and removals through the engine leave the replica exactly
// as the source says after each run.
func TestSyncAddUpdateRemove(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", 0, nil)
	d := r.dest(t, nil, func(l *limits) { l.maxOps = 25 })
	s := newSyncer(t, d)

	first := crmMembers(0, 120, 0)
	rep, err := s.run(first, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	require.Equal(t, int64(120), rep.Applied.Added)
	require.Equal(t, 5, rep.Batches, "120 members in batches of 25")
	id := audienceOf(t, r)
	require.Equal(t, want(t, first), r.members(id))

	// Gone: 0-9; changed e-mail: every third; new: 120-139.
	second := crmMembers(10, 140, 1)
	rep, err = s.run(second, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	require.Equal(t, int64(10), rep.Applied.Removed)
	require.Equal(t, int64(20), rep.Applied.Added)
	require.Positive(t, rep.Applied.Updated)
	require.Equal(t, want(t, second), r.members(id))

	// Nothing changed: nothing is sent.
	before := len(r.rec.requestOps())
	rep, err = s.run(second, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.Planned{Unchanged: 130}, rep.Planned)
	require.Len(t, r.rec.requestOps(), before)
	require.Equal(t, want(t, second), r.members(id))
}

// X can neither empty nor replace an audience, so on --full-refresh the
// engine removes everything state knows, then re-adds.
func TestSyncFullRefresh(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", 0, nil)
	d := r.dest(t, nil, func(l *limits) { l.maxOps = 40 })
	s := newSyncer(t, d)
	first := crmMembers(0, 100, 0)
	_, err := s.run(first, engine.Options{})
	require.NoError(t, err)
	id := audienceOf(t, r)

	before := len(r.rec.requestOps())
	second := crmMembers(5, 105, 2)
	rep, err := s.run(second, engine.Options{FullRefresh: true, Force: true})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	require.Equal(t, want(t, second), r.members(id))

	// Every committed member was removed, then every member re-added.
	var removed, added int
	for _, body := range r.rec.usersBodies()[before:] {
		n := countOps(t, body)
		if slices.Contains(operationTypes(t, body), "Delete") {
			removed += n
		} else {
			added += n
		}
	}
	require.GreaterOrEqual(t, removed, 100)
	require.GreaterOrEqual(t, added, 100)
}

// Every fault the sandbox injects is retried to the exact audience, and
// no nonce is ever sent twice (the replica would refuse it).
func TestSyncFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		faults  string
		latency time.Duration
		retried bool
		// minElapsed is a wait the platform asked for.
		minElapsed time.Duration
	}{
		{name: "429 with Retry-After", faults: "x.users:429*2,retry-after=1s", retried: true, minElapsed: time.Second},
		{name: "500", faults: "x.users:500*3", retried: true},
		{name: "502 and 504", faults: "x.users:502*1,x.users:504*1", retried: true},
		{name: "503 beyond the client's attempts", faults: "x.users:503*6", retried: true},
		{name: "connection reset", faults: "x.users:reset*3", retried: true},
		{name: "throttle", faults: "x.users:ratelimit*1,retry-after=1s", retried: true},
		{name: "latency and a slow request", faults: "x.users:slow=300ms*1", latency: 50 * time.Millisecond},
		{name: "one in three fail", faults: "x.users:500@0.33,seed=3", retried: true},
		{name: "audience lookup fails", faults: "x.custom_audiences:503*2,x.custom_audiences:reset*1", retried: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, tc.faults, tc.latency, nil)
			d := r.dest(t, nil, func(l *limits) { l.maxOps = 20 })
			s := newSyncer(t, d)
			ms := crmMembers(0, 90, 0)
			start := time.Now()
			rep, err := s.run(ms, engine.Options{})
			require.NoError(t, err, "errors: %v", rep.Errors)
			require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
			require.Equal(t, int64(90), rep.Applied.Added)
			require.Equal(t, want(t, ms), r.members(audienceOf(t, r)))
			if tc.retried {
				require.Positive(t, rep.Retries, "retries are reported")
			}
			require.GreaterOrEqual(t, time.Since(start), tc.minElapsed)
			nonces := r.rec.allNonces()
			require.Len(t, compactSorted(nonces), len(nonces), "a nonce was reused")
			require.Zero(t, r.rec.count(401), "no attempt was refused for its signature")

			// Another run after the faults sends nothing and changes nothing.
			// Counted faults are spent; probabilistic ones may fire again.
			rep, err = s.run(ms, engine.Options{})
			require.NoError(t, err)
			require.Equal(t, want(t, ms), r.members(audienceOf(t, r)))
			require.Equal(t, report.Planned{Unchanged: 90}, rep.Planned)
		})
	}
}

// When a window's budget is spent, requests wait for x-rate-limit-reset
// instead of hammering X, and the audience ends exact.
func TestSyncRateLimitExhausted(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", 0, &xads.Options{RateLimit: 3, RateWindow: 2 * time.Second})
	d := r.dest(t, nil, func(l *limits) { l.maxOps = 10 })
	s := newSyncer(t, d)
	ms := crmMembers(0, 50, 0) // five users requests against a budget of three a window
	start := time.Now()
	rep, err := s.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, want(t, ms), r.members(audienceOf(t, r)))
	require.GreaterOrEqual(t, time.Since(start), 2*time.Second, "the run waited for windows to reset")
	// Only requests sent before the first answer told the budget can run
	// into 429: at most one window's worth of concurrent requests.
	require.LessOrEqual(t, r.rec.count(429), d.Info().Concurrency)
}

// A revoked token stops the destination at its first batch with what to
// do, and commits nothing.
func TestSyncRevokedToken(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "x.users:expired", 0, nil)
	d := r.dest(t, nil, func(l *limits) { l.maxOps = 10 })
	s := newSyncer(t, d)
	rep, err := s.run(crmMembers(0, 50, 0), engine.Options{})
	require.Error(t, err)
	require.Equal(t, report.StatusFailed, rep.Status)
	require.Zero(t, rep.Applied.Added)
	require.NotEmpty(t, rep.Errors)
	require.Contains(t, rep.Errors[0], "regenerate the access token and secret in the X developer portal")
	// Batches in flight when the stop lands, and one the engine may have
	// been dispatching, still reach X; no others do.
	require.LessOrEqual(t, r.rec.count(401), d.Info().Concurrency+1, "batches were sent after the stop")
	require.Empty(t, r.members(audienceOf(t, r)))
}

// countOps and operationTypes read a users request body.
func countOps(t *testing.T, body []byte) int {
	t.Helper()
	var ops []json.RawMessage
	require.NoError(t, json.Unmarshal(body, &ops))
	return len(ops)
}

func operationTypes(t *testing.T, body []byte) []string {
	t.Helper()
	var ops []struct {
		OperationType string `json:"operation_type"`
	}
	require.NoError(t, json.Unmarshal(body, &ops))
	var out []string
	for _, op := range ops {
		out = append(out, op.OperationType)
	}
	return compactSorted(out)
}

func compactSorted(v []string) []string {
	v = slices.Clone(v)
	slices.Sort(v)
	return slices.Compact(v)
}
