package syncs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

// RunRecord is one recorded run: its row in the run log, with the typed
// per-destination figures in Summaries (empty for a run that never
// finished), and whether it was interrupted.
type RunRecord struct {
	state.Run
	// Interrupted is set for a run recorded as running whose lock is no
	// longer held by the run's owner: its process stopped (killed,
	// crashed) before it could record how the run ended. Such a run has
	// no summaries and no report.
	Interrupted bool
}

// ErrNoReport is wrapped by Report's error for a run without a report.
var ErrNoReport = errors.New("the run has no report")

// Runs lists recorded runs, newest first: of one sync, or of all when sync
// is "". limit <= 0 lists the store's default number (50). The records
// carry summaries, not reports: a listing decodes no report.
func (s *Service) Runs(ctx context.Context, sync string, limit int) ([]RunRecord, error) {
	return s.ListRuns(ctx, state.RunFilter{Sync: sync, Limit: limit})
}

// ListRuns lists the recorded runs filter selects, newest first (see
// state.RunLog.Runs). The filter's statuses are the recorded ones: a run
// recorded as running that is Interrupted matches "running".
func (s *Service) ListRuns(ctx context.Context, filter state.RunFilter) ([]RunRecord, error) {
	st, locker, err := s.stores(ctx)
	if err != nil {
		return nil, err
	}
	runs, err := st.Runs(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	holders := map[string]*state.Lock{}
	out := make([]RunRecord, 0, len(runs))
	for _, r := range runs {
		rec, err := s.record(ctx, locker, r, holders)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// SizeHistory returns the size of one destination's audience after each
// run of sync that succeeded there (or partly succeeded), oldest first, at
// most limit points (the newest; limit <= 0 means the store's default,
// 500). See state.RunLog.SizeHistory.
func (s *Service) SizeHistory(ctx context.Context, sync, destination string, limit int) ([]state.SizePoint, error) {
	st, _, err := s.stores(ctx)
	if err != nil {
		return nil, err
	}
	points, err := st.SizeHistory(ctx, state.Scope{Sync: sync, Destination: destination}, limit)
	if err != nil {
		return nil, fmt.Errorf("audience size history: %w", err)
	}
	return points, nil
}

// RunRecord returns the record of run id, with its report as stored (nil while
// it runs, and for an interrupted run); an unknown id wraps ErrNotFound.
func (s *Service) RunRecord(ctx context.Context, id string) (RunRecord, error) {
	st, locker, err := s.stores(ctx)
	if err != nil {
		return RunRecord{}, err
	}
	run, err := st.Run(ctx, id)
	if errors.Is(err, state.ErrNotFound) {
		return RunRecord{}, notFound(fmt.Sprintf("no run %q", id))
	}
	if err != nil {
		return RunRecord{}, err
	}
	return s.record(ctx, locker, run, map[string]*state.Lock{})
}

// Tokens returns the state store's API tokens, opening the store on first
// use.
func (s *Service) Tokens(ctx context.Context) (state.Tokens, error) {
	st, _, err := s.stores(ctx)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Report returns the report of run id. A run with no report yet (running
// or interrupted) is an error wrapping ErrNoReport that says which; an
// unknown id wraps ErrNotFound.
func (s *Service) Report(ctx context.Context, id string) (*report.Report, error) {
	rec, err := s.RunRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	run := rec.Run
	switch {
	case len(run.Report) > 0:
		var rep report.Report
		if err := json.Unmarshal(run.Report, &rep); err != nil {
			return nil, fmt.Errorf("decode report of run %s: %w", run.ID, err)
		}
		return &rep, nil
	case rec.Interrupted:
		return nil, fmt.Errorf("run %s has no report: it was interrupted (its process stopped before the run ended); "+
			"the next run of sync %s carries on from what it committed: %w", run.ID, run.Sync, ErrNoReport)
	default:
		return nil, fmt.Errorf("run %s has no report yet (status %s): it is still running: %w", run.ID, run.Status, ErrNoReport)
	}
}

// record tells whether a run was interrupted. holders caches each sync's
// lock (nil when free) for one listing.
func (s *Service) record(ctx context.Context, locker state.Locker, r state.Run, holders map[string]*state.Lock) (RunRecord, error) {
	rec := RunRecord{Run: r}
	if r.Status != string(report.StatusRunning) || !r.Finished.IsZero() {
		return rec, nil
	}
	holder, seen := holders[r.Sync]
	if !seen {
		l, err := locker.LockHolder(ctx, lockName(r.Sync))
		switch {
		case errors.Is(err, state.ErrNotFound):
		case err != nil:
			return rec, fmt.Errorf("look up the lock of sync %s: %w", r.Sync, err)
		default:
			holder = &l
		}
		holders[r.Sync] = holder
	}
	// A run in progress holds its sync's lock under its own owner. A run
	// recorded before runs had owners counts as in progress while anyone
	// holds the lock.
	live := holder != nil && holder.Live(s.now()) && (r.Owner == "" || holder.Owner == r.Owner)
	rec.Interrupted = !live
	return rec, nil
}

// RanStatuses are the recorded statuses of runs that ran: every status
// but skipped. A filter on them (state.RunFilter.Statuses) finds a sync's
// last real run, which a skipped tick never hides.
func RanStatuses() []string {
	var out []string
	for _, st := range report.Statuses() {
		if st != report.StatusSkipped {
			out = append(out, string(st))
		}
	}
	return out
}

// RecordSkipped records in the run log that a scheduled tick of sync did
// not run, and why (reason: that the sync was still running, and where;
// no contact data), with what would have started it (startedBy, as in
// state.Run.StartedBy: "schedule" or "catch-up"). The record is a run with status skipped that started
// and finished now, with no destinations and a report saying why, so
// that `runs`, the API and the web UI show the skip where they show runs.
// It takes no lock and leaves the sync's state alone. It returns the id
// it recorded.
func (s *Service) RecordSkipped(ctx context.Context, sync, reason, startedBy string) (string, error) {
	st, _, err := s.stores(ctx)
	if err != nil {
		return "", err
	}
	now := s.now()
	id := engine.RunID(now)
	rep := report.Report{RunID: id, Sync: sync, StartedBy: startedBy, Status: report.StatusSkipped, StartedAt: now, FinishedAt: now,
		Source: report.Source{Rejected: map[string]int64{}}, Destinations: []*report.Destination{}, Error: reason}
	body, err := json.Marshal(rep)
	if err != nil {
		return "", fmt.Errorf("record the skipped tick of sync %s: %w", sync, err)
	}
	if err := st.BeginRun(ctx, state.Run{ID: id, Sync: sync, Status: string(report.StatusSkipped), Started: now, Finished: now,
		Report: body, StartedBy: startedBy}); err != nil {
		return "", fmt.Errorf("record the skipped tick of sync %s: %w", sync, err)
	}
	return id, nil
}
