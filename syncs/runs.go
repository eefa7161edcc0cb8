package syncs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

// RunRecord is one recorded run.
type RunRecord struct {
	state.Run
	// Interrupted is set for a run recorded as running whose lock is no
	// longer held by the run's owner: its process stopped (killed,
	// crashed) before it could record how the run ended.
	Interrupted bool
	// Report is the decoded run report; nil while the run has none.
	Report *report.Report
}

// ErrNoReport is wrapped by Report's error for a run without a report.
var ErrNoReport = errors.New("the run has no report")

// Runs lists recorded runs, newest first: of one sync, or of all when sync
// is "". limit <= 0 lists the store's default number (50).
func (s *Service) Runs(ctx context.Context, sync string, limit int) ([]RunRecord, error) {
	st, locker, err := s.stores(ctx)
	if err != nil {
		return nil, err
	}
	runs, err := st.Runs(ctx, sync, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	holders := map[string]*state.Lock{}
	out := make([]RunRecord, 0, len(runs))
	for _, r := range runs {
		rec, decodeErr, err := s.record(ctx, locker, r, holders)
		if err != nil {
			return nil, err
		}
		if decodeErr != nil {
			// A listing still shows the run, without its counts.
			s.log.Warn("list runs", zap.Error(decodeErr))
		}
		out = append(out, rec)
	}
	return out, nil
}

// Report returns the report of run id. A run with no report yet (running
// or interrupted) is an error wrapping ErrNoReport that says which; an
// unknown id wraps ErrNotFound.
func (s *Service) Report(ctx context.Context, id string) (*report.Report, error) {
	st, locker, err := s.stores(ctx)
	if err != nil {
		return nil, err
	}
	run, err := st.Run(ctx, id)
	if errors.Is(err, state.ErrNotFound) {
		return nil, notFound(fmt.Sprintf("no run %q", id))
	}
	if err != nil {
		return nil, err
	}
	rec, decodeErr, err := s.record(ctx, locker, run, map[string]*state.Lock{})
	switch {
	case err != nil:
		return nil, err
	case decodeErr != nil:
		return nil, decodeErr
	case rec.Report != nil:
		return rec.Report, nil
	case rec.Interrupted:
		return nil, fmt.Errorf("run %s has no report: it was interrupted (its process stopped before the run ended); "+
			"the next run of sync %s carries on from what it committed: %w", run.ID, run.Sync, ErrNoReport)
	default:
		return nil, fmt.Errorf("run %s has no report yet (status %s): it is still running: %w", run.ID, run.Status, ErrNoReport)
	}
}

// record tells whether a run was interrupted and decodes its report. A
// report that does not decode is left nil and its error returned beside
// the record. holders caches each sync's lock (nil when free) for one
// listing.
func (s *Service) record(ctx context.Context, locker state.Locker, r state.Run, holders map[string]*state.Lock) (rec RunRecord, decodeErr, err error) {
	rec = RunRecord{Run: r}
	if len(r.Report) > 0 {
		var rep report.Report
		if err := json.Unmarshal(r.Report, &rep); err != nil {
			decodeErr = fmt.Errorf("decode report of run %s: %w", r.ID, err)
		} else {
			rec.Report = &rep
		}
	}
	if r.Status != string(report.StatusRunning) || !r.Finished.IsZero() {
		return rec, decodeErr, nil
	}
	holder, seen := holders[r.Sync]
	if !seen {
		l, err := locker.LockHolder(ctx, lockName(r.Sync))
		switch {
		case errors.Is(err, state.ErrNotFound):
		case err != nil:
			return rec, decodeErr, fmt.Errorf("look up the lock of sync %s: %w", r.Sync, err)
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
	return rec, decodeErr, nil
}
