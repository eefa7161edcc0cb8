package engine_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/report"
)

// requireCounts checks what every report must say, however its run ended:
// each destination has a final status, and its counts add up
// (report.CheckCounts).
func requireCounts(t *testing.T, rep *report.Report) {
	t.Helper()
	require.NotEqual(t, report.StatusRunning, rep.Status, "the run has a final status")
	for _, d := range rep.Destinations {
		require.NotEqual(t, report.StatusRunning, d.Status, "destination %s has a final status", d.Name)
	}
	require.NoError(t, rep.CheckCounts())
}

// failing fails the Apply calls listed in fail (1-based, in call order)
// with their error, and passes every other call to the destination. It
// has none of the destination's optional capabilities (it cannot empty an
// audience in one call).
type failing struct {
	connectors.Destination
	fail map[int]error

	mu    sync.Mutex
	calls int
}

func (d *failing) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	d.mu.Lock()
	d.calls++
	err := d.fail[d.calls]
	d.mu.Unlock()
	if err != nil {
		return connectors.BatchResult{}, err
	}
	return d.Destination.Apply(ctx, aud, b)
}

// mixed sets up a store holding members 0..399 sent 20 days ago, and
// returns the source of a run that plans every kind of change, in batches
// of 30 sent one at a time:
//
//   - 40 removes (members 0..39 gone);
//   - 50 updates (members 100..149 with a new e-mail address);
//   - 310 refreshes (the other members, due after 15 days);
//   - 200 adds (members 400..599).
//
// Applying sends the removes and the updates' removal halves first
// (batches 1-3: 40 removes, then 50 halves, the second batch holding
// removes 30..39 and halves 0..19), then the updates' add halves, then
// the adds and refreshes in source order.
func mixed(t *testing.T, b *bundle) ([]audience.Member, func(*engine.Job)) {
	t.Helper()
	mod := func(j *engine.Job) {
		tg := j.Targets[0]
		tg.Audience.MembershipDays = 30
		tg.RefreshMargin = 30 * 24 * time.Hour // the window is then half the membership: 15 days
		tg.BatchSize, tg.Concurrency = 30, 1
	}
	_, err := b.run(members(0, 400), engine.Options{}, mod)
	require.NoError(t, err)
	b.now = b.now.Add(20 * 24 * time.Hour)
	ms := members(40, 600)
	for i := range ms {
		if n := i + 40; n >= 100 && n < 150 {
			ms[i].Fields[audience.Email] = fmt.Sprintf("moved-%05d@example.com", n)
		}
	}
	b.dest.ResetCalls()
	return ms, mod
}

var mixedPlan = report.Planned{Add: 200, Remove: 40, Update: 50, Refresh: 310}

// TestCountsAddUp runs one plan of every kind of change through each way
// a destination's part of a run can end, and checks that planned = applied
// + failed + not attempted, with the exact figures each ending must give.
func TestCountsAddUp(t *testing.T) {
	t.Parallel()
	rejected := connectors.RejectBatch("INVALID_ARGUMENT", errors.New("fake: bad batch"))
	tests := []struct {
		name string
		// fail lists the Apply calls that fail, with their error.
		fail map[int]error
		// cancelAt cancels the run's context when that Apply call
		// starts; deadline makes that a deadline instead.
		cancelAt int
		deadline bool
		want     report.Applied
		status   report.Status
	}{
		{
			name:   "everything applied",
			want:   report.Applied{Added: 200, Removed: 40, Updated: 50, Refreshed: 310},
			status: report.StatusSucceeded,
		},
		{
			// Batch 2 holds removes 30..39 and the removal halves of
			// updates 0..19: those updates count failed once, though
			// their add halves go in.
			name:   "a removal batch refused",
			fail:   map[int]error{2: rejected},
			want:   report.Applied{Added: 200, Removed: 30, Updated: 30, Refreshed: 310, Failed: 30},
			status: report.StatusPartial,
		},
		{
			// Batch 4 holds the add halves of updates 0..29.
			name:   "an add batch refused",
			fail:   map[int]error{4: rejected},
			want:   report.Applied{Added: 200, Removed: 40, Updated: 20, Refreshed: 310, Failed: 30},
			status: report.StatusPartial,
		},
		{
			// After 3 batches: removes done, updates' halves sent, no
			// add. The batch that met the fatal error and every later
			// one were never considered by the platform.
			name:   "fatal mid-run",
			fail:   map[int]error{4: connectors.Fatal(errors.New("fake: audience flagged"))},
			want:   report.Applied{Removed: 40, NotAttempted: 560},
			status: report.StatusPartial,
		},
		{
			name: "token expired mid-run",
			fail: map[int]error{5: connectors.Reauthenticate(errors.New("fake: token expired"))},
			// Batch 4: the add halves of updates 0..29.
			want:   report.Applied{Removed: 40, Updated: 30, NotAttempted: 530},
			status: report.StatusPartial,
		},
		{
			name:     "interrupt mid-apply",
			cancelAt: 5,
			want:     report.Applied{Removed: 40, Updated: 30, NotAttempted: 530},
			status:   report.StatusInterrupted,
		},
		{
			name:     "deadline mid-apply",
			cancelAt: 5,
			deadline: true,
			want:     report.Applied{Removed: 40, Updated: 30, NotAttempted: 530},
			status:   report.StatusInterrupted,
		},
		{
			name:     "interrupt after a refused batch",
			fail:     map[int]error{2: rejected},
			cancelAt: 5,
			want:     report.Applied{Removed: 30, Updated: 10, Failed: 30, NotAttempted: 530},
			status:   report.StatusInterrupted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ms, mod := mixed(t, b)
			d := &failing{Destination: b.dest, fail: tt.fail}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if tt.cancelAt > 0 {
				b.dest.OnApply = func(call int) {
					if call != tt.cancelAt-len(tt.fail) { // the fake does not see the calls failed before it
						return
					}
					if !tt.deadline {
						cancel(context.Canceled)
						return
					}
					// Wait out a deadline the way max_run_duration sets one.
					dctx, stop := context.WithTimeout(context.Background(), time.Millisecond)
					defer stop()
					<-dctx.Done()
					cancel(context.DeadlineExceeded)
				}
			}
			job := b.job(&fake.Source{Members: ms}, mod, func(j *engine.Job) { j.Targets[0].Dest = d })
			rep, err := b.eng.Run(ctx, job, engine.Options{})
			requireCounts(t, rep)
			require.Equal(t, mixedPlan, withoutUnchanged(dest(rep).Planned))
			require.Equal(t, tt.want, dest(rep).Applied, "errors: %v", dest(rep).Errors)
			require.Equal(t, tt.status, dest(rep).Status)
			require.Equal(t, tt.status, rep.Status)
			if tt.status == report.StatusSucceeded {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
			// What state holds agrees with what the report says was
			// applied: the members kept or added, less those removed.
			a := dest(rep).Applied
			if a.Failed == 0 {
				require.Equal(t, 400-a.Removed+a.Added, b.count())
			}

			// Whatever the run said, the next one converges.
			b.dest.OnApply = nil
			rep, err = b.run(ms, engine.Options{}, mod)
			require.NoError(t, err, "errors: %v", dest(rep).Errors)
			requireCounts(t, rep)
			require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))
		})
	}
}

// failingReplacer is a replacer whose Replace fails with fail, and calls
// before first when set.
type failingReplacer struct {
	replacer
	fail   error
	before func()
}

func (r *failingReplacer) Replace(ctx context.Context, a connectors.Audience, total int, ms iter.Seq2[connectors.Upload, error]) (connectors.BatchResult, error) {
	if r.before != nil {
		r.before()
		return connectors.BatchResult{}, ctx.Err()
	}
	if r.fail != nil {
		return connectors.BatchResult{}, r.fail
	}
	return r.replacer.Replace(ctx, a, total, ms)
}

func withoutUnchanged(p report.Planned) report.Planned {
	p.Unchanged = 0
	return p
}

// TestCountsPlatformRejectsMembers: members refused one by one count
// failed (no failure of the run: the platform judged them), and an update
// whose removal half is refused counts failed once.
func TestCountsPlatformRejectsMembers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms, mod := mixed(t, b)
	// Refuse the old address of update 100 (its removal half) and the
	// addresses of add 450 and refresh 300.
	b.dest.Reject = map[string]string{}
	for _, addr := range []string{"member-00100@example.com", "member-00450@example.com", "member-00300@example.com"} {
		id, reason := google.Platform().Profile.Value(audience.Email, addr, normalize.Options{})
		require.Empty(t, reason)
		b.dest.Reject[id.Value] = "INVALID_FORMAT"
	}
	rep, err := b.run(ms, engine.Options{}, mod)
	require.NoError(t, err)
	requireCounts(t, rep)
	require.Equal(t, report.Applied{Added: 199, Removed: 40, Updated: 49, Refreshed: 309, Failed: 3}, dest(rep).Applied)
	require.Equal(t, report.StatusSucceeded, dest(rep).Status)
	require.Equal(t, map[string]int64{"INVALID_FORMAT": 3}, dest(rep).PlatformRejected)
}

// TestCountsFullRefreshWithoutReset: on a destination that cannot empty
// an audience, a full refresh clears each member that stays, then re-adds
// it; a refused clear counts the member failed once.
func TestCountsFullRefreshWithoutReset(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := members(0, 120)
	_, err := b.run(ms, engine.Options{})
	require.NoError(t, err)
	d := &failing{Destination: b.dest, fail: map[int]error{1: connectors.RejectBatch("INVALID_ARGUMENT", errors.New("fake: bad batch"))}}
	rep, err := b.run(ms, engine.Options{FullRefresh: true}, func(j *engine.Job) {
		j.Targets[0].Dest = d
		j.Targets[0].BatchSize, j.Targets[0].Concurrency = 50, 1
	})
	require.Error(t, err)
	requireCounts(t, rep)
	require.Equal(t, report.Planned{Refresh: 120}, dest(rep).Planned)
	require.Equal(t, report.Applied{Refreshed: 70, Failed: 50}, dest(rep).Applied)
}

// TestCountsReplacer: a Replacer's session fails as a whole, or is
// interrupted, with every member counted once.
func TestCountsReplacer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		cancel bool
		want   report.Applied
		status report.Status
	}{
		{"applied", nil, false, report.Applied{Refreshed: 60}, report.StatusSucceeded},
		{"refused", connectors.RejectBatch("INVALID_ARGUMENT", errors.New("fake: bad upload")), false,
			report.Applied{Failed: 60}, report.StatusFailed},
		{"token expired", connectors.Reauthenticate(errors.New("fake: token expired")), false,
			report.Applied{NotAttempted: 60}, report.StatusFailed},
		{"interrupted", nil, true, report.Applied{NotAttempted: 60}, report.StatusInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ms := members(0, 60)
			_, err := b.run(ms, engine.Options{})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &failingReplacer{replacer: replacer{plainDest: plainDest{d: b.dest}}, fail: tt.err}
			if tt.cancel {
				r.before = cancel
			}
			job := b.job(&fake.Source{Members: ms}, func(j *engine.Job) { j.Targets[0].Dest = r })
			rep, _ := b.eng.Run(ctx, job, engine.Options{FullRefresh: true})
			requireCounts(t, rep)
			require.Equal(t, tt.want, dest(rep).Applied, "errors: %v", dest(rep).Errors)
			require.Equal(t, tt.status, dest(rep).Status)
		})
	}
}

// TestInterruptBeforeApplyLeavesNoDestinationRunning cancels a run at each
// step before applying starts: every destination of the report ends
// interrupted, nothing is sent, and every planned change is not
// attempted.
func TestInterruptBeforeApplyLeavesNoDestinationRunning(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// source returns the source to read, given the run's cancel.
		source func(ms []audience.Member, cancel context.CancelFunc) connectors.Source
		status report.Status
	}{
		{"while the source is read", func(ms []audience.Member, cancel context.CancelFunc) connectors.Source {
			return &cancelling{Source: fake.Source{Members: ms}, after: 100, cancel: cancel}
		}, report.StatusInterrupted},
		{"once the source is read, while planning", func(ms []audience.Member, cancel context.CancelFunc) connectors.Source {
			return &cancelling{Source: fake.Source{Members: ms}, after: len(ms), cancel: cancel}
		}, report.StatusInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			second := fake.NewDestination("meta")
			two := func(j *engine.Job) {
				extra := *j.Targets[0]
				extra.Name, extra.Dest, extra.Info = "second", second, second.Info()
				j.Targets = append(j.Targets, &extra)
			}
			_, err := b.run(members(0, 300), engine.Options{}, two)
			require.NoError(t, err)
			b.dest.ResetCalls()
			second.ResetCalls()

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ms := members(20, 500)
			rep, err := b.eng.Run(ctx, b.job(tt.source(ms, cancel), two), engine.Options{})
			require.ErrorIs(t, err, context.Canceled)
			requireCounts(t, rep)
			require.Equal(t, tt.status, rep.Status)
			require.Len(t, rep.Destinations, 2)
			for _, d := range rep.Destinations {
				require.Equal(t, tt.status, d.Status, d.Name)
				require.Equal(t, d.Planned.Changes(), d.Applied.NotAttempted, d.Name)
			}
			require.Empty(t, b.dest.Calls())
			require.Empty(t, second.Calls())
			stored, err := b.store.Run(context.Background(), rep.RunID)
			require.NoError(t, err)
			require.Equal(t, string(tt.status), stored.Status, "the run log records the final status")
		})
	}
}

// TestInterruptBeforeTheRunStarts: a run whose context is already done
// records nothing and says so, with a final status.
func TestInterruptBeforeTheRunStarts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := b.eng.Run(ctx, b.job(&fake.Source{Members: members(0, 10)}), engine.Options{})
	require.ErrorIs(t, err, context.Canceled)
	requireCounts(t, rep)
	require.Equal(t, report.StatusInterrupted, rep.Status)
	require.Empty(t, b.dest.Calls())
}

// TestRetriesLoggedAtInfo: each retry is logged as it happens, at info
// level, naming the destination, the batch, the wait, the reason and the
// attempt, with no contact data.
func TestRetriesLoggedAtInfo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	core, logs := observer.New(zapcore.InfoLevel)
	b.eng.Logger = zap.New(core)
	b.dest.Transient = 2
	ms := members(0, 150)
	rep, err := b.run(ms, engine.Options{}, func(j *engine.Job) { j.Targets[0].Concurrency = 1 })
	require.NoError(t, err)
	require.Equal(t, 2, dest(rep).Retries)
	var retries []observer.LoggedEntry
	for _, e := range logs.All() {
		if e.ContextMap()["retrying"] != nil {
			retries = append(retries, e)
		}
		for _, m := range ms {
			require.NotContains(t, e.Message, m.Fields[audience.Email])
			require.NotContains(t, fmt.Sprint(e.ContextMap()), m.Fields[audience.Email])
		}
	}
	require.Len(t, retries, 2)
	for i, e := range retries {
		require.Equal(t, zapcore.InfoLevel, e.Level)
		require.Regexp(t, fmt.Sprintf(`^dest retrying batch 1 \(add, 100 members\) in \d+(\.\d+)?m?s: `+
			`retry after 0s: fake: temporarily unavailable, attempt %d of 3$`, i+2), e.Message)
		require.Equal(t, "dest", e.ContextMap()["destination"])
		require.EqualValues(t, i+2, e.ContextMap()["attempt"])
	}
}
