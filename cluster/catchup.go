package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// Catching up on election. River's periodic jobs live in the leader's
// memory: while no node is leader (the leader was killed and its lease
// has not lapsed yet, or every node was down) no tick is enqueued, and a
// newly elected leader starts each schedule afresh from the moment of
// its election. So when a node becomes leader it looks, for each sync,
// at the last tick that was enqueued (the newest run job of the sync in
// river_job, whatever its state) or run (the newest run in the run log
// that ran), both shared by every node and kept when a node dies, and
// applies serve.catch_up as the single daemon does at start:
//
//   - once (the default): a sync with one or more ticks due since then
//     gets one run job with trigger "catch-up" (the run log's started_by),
//     through the same unique run job as a tick, so it never overlaps a
//     run of the sync still queued or running (it is then recorded as a
//     skipped tick, saying so); and each schedule carries on from the
//     last tick rather than from the election, so an @every schedule
//     keeps its phase across leaders and a tick due after the election is
//     enqueued on time.
//   - none: nothing is run, and the schedules start at the election, as
//     before.
//
// The look and the inserts are one transaction under an advisory lock:
// two nodes that both believe they are leader for a moment (a lapsed
// lease, a resignation) take turns, and the second finds the first's
// catch-up jobs and does not run a tick twice.

// catchUpLock is the advisory lock key of the catch-up ("audsyncc" in
// ASCII): one bigint key, as River's own, apart from the state store's
// two-key locks.
const catchUpLock int64 = 0x61756473796e6363

// tickSlack is how long after a tick a record still counts as that
// tick's: River inserts a tick's job up to 100 ms before it is due.
const tickSlack = 200 * time.Millisecond

// tickSchedule is a sync's schedule (its daemon.Schedule) as River's
// periodic schedule, which a catch-up can anchor at the sync's last tick.
type tickSchedule struct {
	s river.PeriodicSchedule

	mu     sync.Mutex
	anchor time.Time
}

// anchorAt makes the next Next (River's first, once the enqueuer of the
// new leader starts) the schedule's first tick after t, when that is
// still to come.
func (ts *tickSchedule) anchorAt(t time.Time) {
	ts.mu.Lock()
	ts.anchor = t
	ts.mu.Unlock()
}

// Next is part of river.PeriodicSchedule.
func (ts *tickSchedule) Next(now time.Time) time.Time {
	ts.mu.Lock()
	a := ts.anchor
	ts.anchor = time.Time{}
	ts.mu.Unlock()
	if !a.IsZero() {
		if n := ts.s.Next(a.Add(tickSlack)); n.After(now) {
			return n
		}
	}
	return ts.s.Next(now)
}

// elected is the hook River calls when this node's periodic job
// enqueuer starts, that is when the node has become leader. It never
// fails: an error would keep River's maintenance from starting.
func (c *Cluster) elected(ctx context.Context, _ *rivertype.HookPeriodicJobsStartParams) error {
	d := c.daemon()
	if d == nil {
		return nil
	}
	svc := d.Service()
	policy := svc.Config().Serve.CatchUpPolicy()
	c.log.Info("elected the leader: enqueueing the ticks", zap.String("client_id", c.client.ID()), zap.String("catch_up", policy))
	if policy != configs.CatchUpOnce {
		return nil
	}
	if _, err := c.catchUp(ctx, svc, time.Now()); err != nil {
		c.log.Error("catch-up on election failed: the syncs wait for their next tick", zap.Error(err))
	}
	return nil
}

// catchUp queues a catch-up run of each sync with a tick due at or
// before now since its last tick enqueued or run, anchors each schedule
// at its last tick, and returns the syncs it queued a run of (not those
// whose job is still queued or running: the insert of theirs is skipped
// and recorded as a skipped tick). A sync that never ran and was never
// queued waits for its first tick, as on one node.
func (c *Cluster) catchUp(ctx context.Context, svc *syncs.Service, now time.Time) ([]string, error) {
	scheds := c.tickSchedules()
	if len(scheds) == 0 {
		return nil, nil
	}
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("catch-up: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", catchUpLock); err != nil {
		return nil, fmt.Errorf("catch-up: lock: %w", err)
	}
	queued, err := lastQueued(ctx, tx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(scheds))
	for name := range scheds {
		names = append(names, name)
	}
	slices.Sort(names)
	var due, queuedNow []string
	var params []river.InsertManyParams
	for _, name := range names {
		last := queued[name]
		runs, err := svc.ListRuns(ctx, state.RunFilter{Sync: name, Statuses: syncs.RanStatuses(), Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("catch-up: the last run of sync %s: %w", name, err)
		}
		ran := time.Time{}
		if len(runs) > 0 {
			ran = runs[0].Started
		}
		// The schedule carries on from the tick the newest job was
		// enqueued for (a run starts late when workers are busy); from
		// the last run when no job is left (a CLI run, or River's cleaner
		// removed them).
		anchor := last
		if anchor.IsZero() {
			anchor = ran
		}
		if ran.After(last) {
			last = ran
		}
		if last.IsZero() {
			continue
		}
		scheds[name].anchorAt(anchor)
		if n := scheds[name].s.Next(last.Add(tickSlack)); n.IsZero() || n.After(now) {
			continue
		}
		c.log.Info("catch-up: a tick was missed while no node was enqueueing: running now", zap.String("sync", name),
			zap.Time("last_tick", last))
		due = append(due, name)
		params = append(params, river.InsertManyParams{Args: RunArgs{Sync: name, Trigger: "catch-up"}})
	}
	if len(params) > 0 {
		res, err := c.client.InsertManyTx(ctx, tx, params)
		if err != nil {
			return nil, fmt.Errorf("catch-up: queue %d runs: %w", len(params), err)
		}
		for i, r := range res {
			if !r.UniqueSkippedAsDuplicate {
				queuedNow = append(queuedNow, due[i])
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("catch-up: commit: %w", err)
	}
	return queuedNow, nil
}

// lastQueued returns when the newest run job of each sync was inserted.
func lastQueued(ctx context.Context, tx pgx.Tx) (map[string]time.Time, error) {
	rows, err := tx.Query(ctx, "SELECT args->>'sync', max(created_at) FROM river_job WHERE kind = $1 GROUP BY 1", RunArgs{}.Kind())
	if err != nil {
		return nil, fmt.Errorf("catch-up: the last job of each sync: %w", err)
	}
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		var at time.Time
		if err := rows.Scan(&name, &at); err != nil {
			return nil, fmt.Errorf("catch-up: the last job of each sync: %w", err)
		}
		out[name] = at
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catch-up: the last job of each sync: %w", err)
	}
	return out, nil
}

// tickSchedules returns the current periodic schedules by sync.
func (c *Cluster) tickSchedules() map[string]*tickSchedule {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.scheds)
}
