package engine_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/report"
)

// recorder is an observer that keeps every event, in the order received.
type recorder struct {
	mu     sync.Mutex
	events []engine.Event
}

func (r *recorder) Observe(ev engine.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) all() []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// of returns the recorded events of type E, with their positions.
func of[E engine.Event](evs []engine.Event) (got []E, at []int) {
	for i, ev := range evs {
		if e, ok := ev.(E); ok {
			got = append(got, e)
			at = append(at, i)
		}
	}
	return got, at
}

// destinationOf names the destination an event is about; "" for run-wide
// events.
func destinationOf(ev engine.Event) string {
	switch ev := ev.(type) {
	case engine.DestinationPlanned:
		return ev.Destination
	case engine.DestinationProgress:
		return ev.Destination
	case engine.BatchApplied:
		return ev.Destination
	case engine.DestinationDone:
		return ev.Destination
	}
	return ""
}

// kinds is the sequence of event types, a run of one type folded into one.
func kinds(evs []engine.Event) []string {
	var out []string
	for _, ev := range evs {
		k := fmt.Sprintf("%T", ev)[len("engine."):]
		if len(out) == 0 || out[len(out)-1] != k {
			out = append(out, k)
		}
	}
	return out
}

// rejectEmail makes the fake platform refuse the member with e-mail addr.
func rejectEmail(t *testing.T, d *fake.Destination, addr string) {
	t.Helper()
	id, reason := google.Platform().Profile.Value(audience.Email, addr, normalize.Options{})
	require.Empty(t, reason)
	d.Reject = map[string]string{id.Value: "INVALID_FORMAT"}
}

// TestEventsDescribeTheRun runs two syncs into two destinations at once
// and checks that the events tell the same story as the report: in order,
// with the same counts, batch by batch.
func TestEventsDescribeTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := &recorder{}
	b.eng.Observer = rec
	second := fake.NewDestination("google")
	twoTargets := func(j *engine.Job) {
		t2 := *j.Targets[0]
		t2.Name, t2.Dest, t2.Info = "second", second, second.Info()
		j.Targets = append(j.Targets, &t2)
	}

	// First run: 2,500 adds, one refused by the platform, one retry.
	ms := members(0, 2500)
	rejectEmail(t, b.dest, ms[42].Fields[audience.Email])
	b.dest.Transient = 1
	src := &fake.Source{Members: ms, Rejects: []string{"row.malformed", "row.short"}}
	rep, err := b.eng.Run(context.Background(), b.job(src, twoTargets), engine.Options{})
	require.NoError(t, err)
	requireEventsMatchReport(t, rec.all(), rep)
	require.Equal(t, int64(1), rep.Destinations[0].Applied.Failed)
	require.Equal(t, 1, rep.Destinations[0].Retries)

	// Second run: removals as well as adds, forced past the guard.
	rec.events = nil
	b.dest.Reject = nil
	next := members(400, 2600)
	rep, err = b.eng.Run(context.Background(), b.job(&fake.Source{Members: next}, twoTargets), engine.Options{Force: true})
	require.NoError(t, err)
	require.Equal(t, int64(400), rep.Destinations[1].Applied.Removed)
	requireEventsMatchReport(t, rec.all(), rep)
}

func requireEventsMatchReport(t *testing.T, evs []engine.Event, rep *report.Report) {
	t.Helper()
	run := engine.RunRef{ID: rep.RunID, Sync: rep.Sync}

	// Bracketed by one RunStarted and one RunFinished.
	started, at := of[engine.RunStarted](evs)
	require.Len(t, started, 1)
	require.Zero(t, at[0])
	require.Equal(t, engine.RunStarted{Run: run, StartedAt: rep.StartedAt, Force: rep.Forced,
		Destinations: []string{"dest", "second"}}, started[0])
	finished, at := of[engine.RunFinished](evs)
	require.Len(t, finished, 1)
	require.Equal(t, len(evs)-1, at[0])
	require.Equal(t, rep.Status, finished[0].Status)
	require.Equal(t, rep.FinishedAt.Sub(rep.StartedAt), finished[0].Duration)
	require.NoError(t, finished[0].Err)

	// Source progress: at the start, every ProgressEvery records, at the
	// end with the report's counts.
	src, srcAt := of[engine.SourceProgress](evs)
	require.Equal(t, 1+int(rep.Source.Read)/engine.ProgressEvery+1, len(src))
	require.Equal(t, engine.SourceProgress{Run: run}, src[0])
	for i, p := range src[1 : len(src)-1] {
		require.Equal(t, int64((i+1)*engine.ProgressEvery), p.Read)
		require.Equal(t, p.Read, p.Valid+p.Duplicates+p.Rejected, "every record read is counted once")
		require.False(t, p.Done)
	}
	var rejected int64
	for _, n := range rep.Source.Rejected {
		rejected += n
	}
	require.Equal(t, engine.SourceProgress{Run: run, Read: rep.Source.Read, Valid: rep.Source.Valid,
		Duplicates: rep.Source.Duplicates, Rejected: rejected, Done: true}, src[len(src)-1])
	lastSource := srcAt[len(srcAt)-1]

	for _, d := range rep.Destinations {
		var mine []engine.Event
		var firstAt int
		for i, ev := range evs {
			if destinationOf(ev) == d.Name {
				if mine == nil {
					firstAt = i
				}
				mine = append(mine, ev)
			}
		}
		require.Greater(t, firstAt, lastSource, "%s: planned once the source is read", d.Name)
		k := kinds(mine)
		require.Equal(t, []string{"DestinationPlanned", "DestinationProgress"}, k[:2], d.Name)
		require.Equal(t, "DestinationDone", k[len(k)-1], d.Name)
		done, _ := of[engine.DestinationDone](mine)
		require.Len(t, done, 1, "%s: done once", d.Name)
		planned := mine[0].(engine.DestinationPlanned)
		changes := d.Planned.Add + d.Planned.Remove + d.Planned.Update + d.Planned.Refresh
		require.Equal(t, engine.DestinationPlanned{Run: run, Destination: d.Name, Planned: d.Planned, Members: d.Members,
			Changes: changes}, planned)

		// Batches sum to what the report says was applied.
		batches, _ := of[engine.BatchApplied](mine)
		require.Len(t, batches, d.Batches, d.Name)
		var added, removed, refused, retries int
		var seqs []int
		for _, bt := range batches {
			require.Equal(t, run, bt.Run)
			require.NoError(t, bt.Err)
			require.Equal(t, bt.Size, bt.Accepted+bt.Rejected)
			require.LessOrEqual(t, bt.Size, 100, "the fake's batch limit")
			require.Positive(t, bt.Latency)
			seqs = append(seqs, bt.Seq)
			retries += bt.Retries
			refused += bt.Rejected
			if bt.Op == connectors.OpAdd {
				added += bt.Accepted
			} else {
				removed += bt.Accepted
			}
		}
		require.Equal(t, d.Applied.Added+d.Applied.Updated+d.Applied.Refreshed, int64(added), d.Name)
		require.Equal(t, d.Applied.Removed, int64(removed), d.Name)
		require.Equal(t, d.Applied.Failed, int64(refused), d.Name)
		require.Equal(t, d.Retries, retries, d.Name)
		slices.Sort(seqs)
		for i, seq := range seqs {
			require.Equal(t, i+1, seq, "%s: batches numbered 1… without gaps or repeats", d.Name)
		}

		// Progress runs from zero to every planned change.
		progress, _ := of[engine.DestinationProgress](mine)
		require.Equal(t, engine.DestinationProgress{Run: run, Destination: d.Name, Total: changes}, progress[0])
		var sum int64
		for _, p := range progress {
			sum += p.Members
			require.Equal(t, changes, p.Total)
		}
		require.Equal(t, changes, sum, d.Name)
		require.Equal(t, changes, slices.MaxFunc(progress, func(a, b engine.DestinationProgress) int { return int(a.Done - b.Done) }).Done)

		// Done last, with the report's figures.
		require.Equal(t, engine.DestinationDone{Run: run, Destination: d.Name, Status: d.Status, Applied: d.Applied,
			Batches: d.Batches, Retries: d.Retries}, mine[len(mine)-1])
	}
}

// TestEventsWhenTheRunStopsEarly checks the events of runs that never
// apply: each destination still ends with DestinationDone carrying its
// status, and RunFinished the run's.
func TestEventsWhenTheRunStopsEarly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(b *bundle) // runs before the observed run
		src     *fake.Source
		opts    engine.Options
		kinds   []string
		status  report.Status
	}{
		{
			name:   "dry run",
			src:    &fake.Source{Members: members(0, 50)},
			opts:   engine.Options{DryRun: true},
			kinds:  []string{"RunStarted", "SourceProgress", "DestinationPlanned", "DestinationDone", "RunFinished"},
			status: report.StatusPlanned,
		},
		{
			name: "removal guard",
			prepare: func(b *bundle) {
				_, err := b.run(members(0, 100), engine.Options{})
				require.NoError(b.t, err)
			},
			src:    &fake.Source{Members: members(50, 100)},
			kinds:  []string{"RunStarted", "SourceProgress", "DestinationPlanned", "DestinationDone", "RunFinished"},
			status: report.StatusAborted,
		},
		{
			name:   "source failure",
			src:    &fake.Source{Members: members(0, 50), FailAfter: 10},
			kinds:  []string{"RunStarted", "SourceProgress", "DestinationDone", "RunFinished"},
			status: report.StatusFailed,
		},
		{
			name:    "destination stops",
			prepare: func(b *bundle) { b.dest.FailFrom = 2 },
			src:     &fake.Source{Members: members(0, 500)},
			// The committer and the upload lane race: only the ends of
			// the sequence are fixed.
			kinds:  []string{"RunStarted", "SourceProgress", "DestinationPlanned", "DestinationProgress", "BatchApplied"},
			status: report.StatusPartial,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if tt.prepare != nil {
				tt.prepare(b)
			}
			rec := &recorder{}
			b.eng.Observer = rec
			job := b.job(tt.src, func(j *engine.Job) { j.Targets[0].Concurrency = 1 })
			rep, runErr := b.eng.Run(context.Background(), job, tt.opts)
			evs := rec.all()
			k := kinds(evs)
			require.Equal(t, tt.kinds, k[:min(len(tt.kinds), len(k))])
			require.Equal(t, []string{"DestinationDone", "RunFinished"}, k[len(k)-2:])
			done, _ := of[engine.DestinationDone](evs)
			require.Len(t, done, 1)
			require.Equal(t, dest(rep).Status, done[0].Status)
			finished, _ := of[engine.RunFinished](evs)
			require.Equal(t, tt.status, rep.Status)
			require.Equal(t, tt.status, finished[0].Status)
			require.Equal(t, runErr, finished[0].Err)
			if tt.status == report.StatusPartial {
				batches, _ := of[engine.BatchApplied](evs)
				require.Len(t, batches, 2, "one acknowledged, one that stopped the destination")
				require.NoError(t, batches[0].Err)
				require.Error(t, batches[len(batches)-1].Err, "the batch that stopped the destination")
				require.Zero(t, batches[len(batches)-1].Accepted)
			}
		})
	}
}

func TestFanout(t *testing.T) {
	t.Parallel()
	a, c := &recorder{}, &recorder{}
	require.Nil(t, engine.Fanout(), "nobody watching: no observer at all")
	require.Nil(t, engine.Fanout(nil, nil))
	require.Same(t, a, engine.Fanout(nil, a), "one observer is used as it is")

	var order []string
	both := engine.Fanout(a, engine.ObserverFunc(func(engine.Event) { order = append(order, "func") }), c)
	b := setup(t)
	b.eng.Observer = both
	_, err := b.run(members(0, 10), engine.Options{})
	require.NoError(t, err)
	require.NotEmpty(t, a.all())
	require.Equal(t, a.all(), c.all(), "every observer sees every event")
	require.Len(t, order, len(a.all()))
}
