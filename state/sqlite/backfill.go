package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/audiencesync/audiencesync/state"
)

// storedReport is the part of a run report (package report's JSON) that
// schema 4 backfills from. It is frozen here rather than borrowed from
// package report: it must keep decoding what versions before schema 4
// stored, however the report type changes later.
type storedReport struct {
	Destinations []struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Status  string `json:"status"`
		Members int64  `json:"members"`
		Planned struct {
			Add       int64 `json:"add"`
			Remove    int64 `json:"remove"`
			Update    int64 `json:"update"`
			Refresh   int64 `json:"refresh"`
			Unchanged int64 `json:"unchanged"`
		} `json:"planned"`
		Applied struct {
			Added     int64 `json:"added"`
			Removed   int64 `json:"removed"`
			Updated   int64 `json:"updated"`
			Refreshed int64 `json:"refreshed"`
			Failed    int64 `json:"failed"`
			// NotAttempted is absent from reports older than the
			// count, so 0 there.
			NotAttempted int64 `json:"not_attempted"`
		} `json:"applied"`
		Platform *struct {
			Status    string `json:"status"`
			MatchRate string `json:"match_rate"`
			// Size is omitted when 0; -1 is written, meaning unknown.
			Size    int64    `json:"size"`
			Pending []string `json:"pending"`
		} `json:"platform"`
	} `json:"destinations"`
}

// backfilledRun is what backfillFromReports keeps of one stored run.
type backfilledRun struct {
	id, sync  string
	summaries []state.Summary
	// pending are the request ids each destination left processing, with
	// the destination's type.
	pending map[string][]state.PendingRequest
}

// backfillFromReports fills run_summaries from the reports of runs
// recorded before schema 4, and pending_requests from the newest report
// of each sync (where earlier versions looked them up). A report that
// does not decode is skipped: its run is listed without figures, as
// before.
func backfillFromReports(ctx context.Context, tx *sql.Tx) error {
	runs, err := readStoredReports(ctx, tx)
	if err != nil {
		return fmt.Errorf("backfill run summaries: %w", err)
	}
	newest := map[string]bool{}
	for _, r := range runs {
		if err := writeSummaries(ctx, tx, r.id, r.sync, r.summaries); err != nil {
			return fmt.Errorf("backfill run summaries of run %q: %w", r.id, err)
		}
		// runs come newest first within each sync.
		if newest[r.sync] {
			continue
		}
		newest[r.sync] = true
		for dest, reqs := range r.pending {
			scopeID, err := ensureScope(ctx, tx, state.Scope{Sync: r.sync, Destination: dest})
			if err == nil {
				err = addPending(ctx, tx, scopeID, reqs)
			}
			if err != nil {
				return fmt.Errorf("backfill pending requests of run %q: %w", r.id, err)
			}
		}
	}
	return nil
}

// readStoredReports decodes every stored report, newest first within each
// sync, keeping only the figures (reports are large; the summaries are
// not).
func readStoredReports(ctx context.Context, tx *sql.Tx) ([]backfilledRun, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, sync, started, finished, report FROM runs
		WHERE report IS NOT NULL AND finished IS NOT NULL ORDER BY sync, started DESC, id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []backfilledRun
	for rows.Next() {
		var (
			r                 backfilledRun
			started, finished int64
			body              []byte
			rep               storedReport
		)
		if err := rows.Scan(&r.id, &r.sync, &started, &finished, &body); err != nil {
			return nil, err
		}
		if json.Unmarshal(body, &rep) != nil {
			continue
		}
		r.pending = map[string][]state.PendingRequest{}
		for _, d := range rep.Destinations {
			sum := state.Summary{
				Destination: d.Name,
				Status:      d.Status,
				Planned:     state.Planned(d.Planned),
				Applied:     state.Applied(d.Applied),
				Members:     d.Members,
				Started:     fromMicros(started),
				Finished:    fromMicros(finished),
			}
			if p := d.Platform; p != nil {
				sum.Platform = &state.PlatformFigures{Status: p.Status, MatchRate: p.MatchRate, Size: p.Size}
				for _, id := range p.Pending {
					r.pending[d.Name] = append(r.pending[d.Name], state.PendingRequest{ID: id, Kind: d.Type, Recorded: sum.Finished})
				}
			}
			r.summaries = append(r.summaries, sum)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
