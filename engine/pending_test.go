package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

// poller is a destination whose requests stay processing while their id is
// in processing, and whose feedback fails while fail is set.
type poller struct {
	plainDest
	mu         sync.Mutex
	n          int
	processing map[string]bool
	fail       bool
	asked      [][]string
}

func (p *poller) Apply(ctx context.Context, a connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	res, err := p.plainDest.Apply(ctx, a, b)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	res.RequestID = fmt.Sprintf("req-%d", p.n)
	return res, err
}

func (p *poller) Feedback(_ context.Context, _ connectors.Audience, ids []string) (connectors.PlatformReport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, slices.Clone(ids))
	if p.fail {
		return connectors.PlatformReport{}, errors.New("status endpoint unavailable")
	}
	rep := connectors.PlatformReport{Status: "SUCCESS", Size: 1234}
	for _, id := range ids {
		if p.processing[id] {
			rep.Status = "PROCESSING"
			rep.Pending = append(rep.Pending, id)
		}
	}
	return rep, nil
}

var pendingScope = state.Scope{Sync: "test-sync", Destination: "dest"}

func (b *bundle) pending() []state.PendingRequest {
	b.t.Helper()
	got, err := b.store.ListPending(context.Background(), pendingScope)
	require.NoError(b.t, err)
	return got
}

func pendingIDs(reqs []state.PendingRequest) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.ID)
	}
	return out
}

// TestPendingRequestsKeptAsData follows request ids through the store's
// pending requests: one still processing is recorded with this run's time
// and polled on every later run until it finishes, then dropped; a poll
// that fails keeps what was pending and adds the run's own requests.
func TestPendingRequestsKeptAsData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pd := &poller{plainDest: plainDest{b.dest}, processing: map[string]bool{"req-1": true}}
	use := func(j *engine.Job) { j.Targets[0].Dest = pd; j.Targets[0].Concurrency = 1 }
	first := b.now

	_, err := b.run(members(0, 150), engine.Options{}, use)
	require.NoError(t, err)
	require.Equal(t, []string{"req-1", "req-2"}, pd.asked[0])
	require.Equal(t, []state.PendingRequest{{ID: "req-1", Kind: "fake", Recorded: first}}, b.pending(),
		"the request still processing is recorded; the finished one is not")

	// Still processing on the next run: polled again, kept with its first time.
	b.now = b.now.Add(time.Hour)
	_, err = b.run(members(0, 160), engine.Options{}, use)
	require.NoError(t, err)
	require.Equal(t, []string{"req-3", "req-1"}, pd.asked[1])
	require.Equal(t, []state.PendingRequest{{ID: "req-1", Kind: "fake", Recorded: first}}, b.pending())

	// The poll fails: nothing is known, so nothing is dropped.
	pd.fail = true
	b.now = b.now.Add(time.Hour)
	rep, err := b.run(members(0, 170), engine.Options{}, use)
	require.NoError(t, err, "a failed poll is reported, not a failed run")
	require.Contains(t, dest(rep).Errors, "platform feedback: status endpoint unavailable")
	require.Equal(t, []string{"req-4", "req-1"}, pd.asked[2])
	require.Equal(t, []string{"req-1", "req-4"}, pendingIDs(b.pending()))

	// It works again and both finished: polled once more, then dropped.
	pd.fail = false
	pd.processing = nil
	b.now = b.now.Add(time.Hour)
	rep, err = b.run(members(0, 180), engine.Options{}, use)
	require.NoError(t, err)
	require.Equal(t, []string{"req-5", "req-1", "req-4"}, pd.asked[3])
	require.Equal(t, "SUCCESS", dest(rep).Platform.Status)
	require.Empty(t, b.pending())

	b.now = b.now.Add(time.Hour)
	_, err = b.run(members(0, 190), engine.Options{}, use)
	require.NoError(t, err)
	require.Equal(t, []string{"req-6"}, pd.asked[4], "finished requests are not polled again")
}

// TestPendingRequestsReadFromTheStoreOnly seeds pending requests with no
// run recorded at all: the engine polls them from the store, and forgets
// those another type of destination issued without sending them here.
func TestPendingRequestsReadFromTheStoreOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	require.NoError(t, b.store.AddPending(ctx, pendingScope, []state.PendingRequest{
		{ID: "old-fake", Kind: "fake", Recorded: b.now.Add(-time.Hour)},
		{ID: "old-meta", Kind: "meta", Recorded: b.now.Add(-time.Hour)},
	}))
	pd := &poller{plainDest: plainDest{b.dest}, processing: map[string]bool{"old-fake": true}}
	_, err := b.run(members(0, 10), engine.Options{}, func(j *engine.Job) { j.Targets[0].Dest = pd })
	require.NoError(t, err)
	require.Equal(t, []string{"req-1", "old-fake"}, pd.asked[0])
	require.Equal(t, []state.PendingRequest{{ID: "old-fake", Kind: "fake", Recorded: b.now.Add(-time.Hour)}}, b.pending())
}

// TestDryRunLeavesPendingRequests: a plan polls nothing and changes no
// pending request.
func TestDryRunLeavesPendingRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	seeded := []state.PendingRequest{{ID: "req-9", Kind: "fake", Recorded: b.now}}
	require.NoError(t, b.store.AddPending(ctx, pendingScope, seeded))
	pd := &poller{plainDest: plainDest{b.dest}}
	_, err := b.run(members(0, 10), engine.Options{DryRun: true}, func(j *engine.Job) { j.Targets[0].Dest = pd })
	require.NoError(t, err)
	require.Empty(t, pd.asked)
	require.Equal(t, seeded, b.pending())
}

// TestRunRecordsSummaries: a run's figures land in the run log as typed
// summaries, equal to its report's, and the size history reads them.
func TestRunRecordsSummaries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pd := &poller{plainDest: plainDest{b.dest}}
	use := func(j *engine.Job) { j.Targets[0].Dest = pd }
	rep1, err := b.run(members(0, 50), engine.Options{}, use)
	require.NoError(t, err)
	b.now = b.now.Add(24 * time.Hour)
	rep2, err := b.run(members(10, 70), engine.Options{}, use)
	require.NoError(t, err)

	stored, err := b.store.Run(context.Background(), rep2.RunID)
	require.NoError(t, err)
	d := dest(rep2)
	require.Equal(t, []state.Summary{{
		Destination: "dest",
		Status:      string(report.StatusSucceeded),
		Planned:     state.Planned{Add: d.Planned.Add, Remove: d.Planned.Remove, Unchanged: d.Planned.Unchanged},
		Applied:     state.Applied{Added: d.Applied.Added, Removed: d.Applied.Removed},
		Members:     60,
		Platform:    &state.PlatformFigures{Status: "SUCCESS", Size: 1234},
		Started:     rep2.StartedAt,
		Finished:    rep2.FinishedAt,
	}}, stored.Summaries)
	require.Equal(t, int64(20), d.Planned.Add)
	require.Equal(t, int64(10), d.Planned.Remove)

	sizes, err := b.store.SizeHistory(context.Background(), pendingScope, 0)
	require.NoError(t, err)
	require.Equal(t, []state.SizePoint{
		{RunID: rep1.RunID, Status: "succeeded", Finished: rep1.FinishedAt, Members: 50},
		{RunID: rep2.RunID, Status: "succeeded", Finished: rep2.FinishedAt, Members: 60},
	}, sizes)
}
