package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

// Paging: limit defaults to defaultLimit and is at most maxLimit.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// listRuns: GET /runs?sync=&status=&since=&until=&limit=&cursor=, newest
// first. A page may hold fewer than limit runs when a status filter on
// interrupted or running drops some; next_cursor is there while more may
// follow.
func (s *server) listRuns(w http.ResponseWriter, r *http.Request) error {
	f, want, err := runFilter(r)
	if err != nil {
		return err
	}
	recs, err := s.opts.Service.ListRuns(r.Context(), f)
	if err != nil {
		return err
	}
	out := runList{Runs: make([]runItem, 0, len(recs))}
	for _, rec := range recs {
		if len(want) == 0 || slices.Contains(want, status(rec)) {
			out.Runs = append(out.Runs, runOf(rec))
		}
	}
	if len(recs) == f.Limit {
		last := recs[len(recs)-1]
		out.NextCursor = EncodeCursor(state.RunCursor{Started: last.Started, ID: last.ID})
	}
	return writeJSON(w, http.StatusOK, out)
}

// runFilter reads the query of GET /runs. want is the statuses asked for,
// as shown (interrupted included); the filter asks the store for the
// recorded statuses they can come from.
func runFilter(r *http.Request) (state.RunFilter, []string, error) {
	q := r.URL.Query()
	f := state.RunFilter{Sync: q.Get("sync")}
	var err error
	if f.Limit, err = intParam(r, "limit", defaultLimit, 1, maxLimit); err != nil {
		return f, nil, err
	}
	var want []string
	for _, v := range q["status"] {
		for st := range strings.SplitSeq(v, ",") {
			if !slices.Contains(report.Statuses(), report.Status(st)) {
				return f, nil, problemBadRequest(fmt.Sprintf("status=%q: use one or more of %s, separated by commas", st, statusList()))
			}
			want = append(want, st)
		}
	}
	if len(want) > 0 {
		f.Statuses = slices.Clone(want)
		// A run a crash left running is recorded as running.
		if slices.Contains(want, string(report.StatusInterrupted)) && !slices.Contains(want, string(report.StatusRunning)) {
			f.Statuses = append(f.Statuses, string(report.StatusRunning))
		}
	}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, nil, problemBadRequest(fmt.Sprintf("%s=%q: give a time in RFC 3339 (2026-01-02T15:04:05Z)", p.name, v))
		}
		*p.to = t
	}
	if v := q.Get("cursor"); v != "" {
		c, err := DecodeCursor(v)
		if err != nil {
			return f, nil, problemBadRequest(fmt.Sprintf("cursor=%q is not one this API handed out: use next_cursor from a listing", v))
		}
		f.After = &c
	}
	return f, want, nil
}

func statusList() string {
	var names []string
	for _, st := range report.Statuses() {
		names = append(names, string(st))
	}
	return strings.Join(names, ", ")
}

// getRun: GET /runs/{id}, the run with its per-destination figures.
func (s *server) getRun(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.opts.Service.RunRecord(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, runOf(rec))
}

// storedReport returns the report of run id as stored, or the problem
// saying why there is none.
func (s *server) storedReport(r *http.Request) ([]byte, error) {
	rec, err := s.opts.Service.RunRecord(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	switch {
	case len(rec.Report) > 0:
		return rec.Report, nil
	case rec.Interrupted:
		return nil, &problem{Type: "no-report", Title: "No report", Status: http.StatusNotFound,
			Detail: fmt.Sprintf("run %s was interrupted (its process stopped before the run ended) and has no report; "+
				"the next run of %s carries on from what it committed", rec.ID, rec.Sync)}
	default:
		return nil, &problem{Type: "run-in-progress", Title: "Run in progress", Status: http.StatusConflict,
			Detail: fmt.Sprintf("run %s is still running: poll %s/runs/%s until its status is no longer running", rec.ID, Prefix, rec.ID)}
	}
}

// getReport: GET /runs/{id}/report, the report JSON as stored.
func (s *server) getReport(w http.ResponseWriter, r *http.Request) error {
	body, err := s.storedReport(r)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, body)
	return nil
}

// rejected: GET /runs/{id}/rejected, why rows were rejected: reasons,
// counts and line numbers from the report, never row content.
func (s *server) rejected(w http.ResponseWriter, r *http.Request) error {
	body, err := s.storedReport(r)
	if err != nil {
		return err
	}
	var rep report.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("decode the report of run %s: %w", r.PathValue("id"), err)
	}
	out := rejectedRows{RunID: rep.RunID, Sync: rep.Sync, Read: rep.Source.Read,
		Reasons: ReasonsOf(rep.Source.Rejected, rep.Source.RejectedLines), Destinations: make([]destRejected, 0, len(rep.Destinations))}
	for _, n := range rep.Source.Rejected {
		out.Rejected += n
	}
	for _, d := range rep.Destinations {
		out.Destinations = append(out.Destinations, destRejected{Name: d.Name, Reasons: ReasonsOf(d.Rejected, nil),
			Platform: ReasonsOf(d.PlatformRejected, nil)})
	}
	return writeJSON(w, http.StatusOK, out)
}

// ReasonsOf lists counts by reason, most frequent first (ties by reason),
// with the line numbers lines holds for each. The web UI lists them too.
func ReasonsOf(counts map[string]int64, lines map[string][]int64) []RejectedReason {
	out := make([]RejectedReason, 0, len(counts))
	for reason, n := range counts {
		out = append(out, RejectedReason{Reason: reason, Count: n, Lines: lines[reason]})
	}
	slices.SortFunc(out, func(a, b RejectedReason) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Reason, b.Reason))
	})
	return out
}
