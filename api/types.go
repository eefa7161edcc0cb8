package api

import (
	"time"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// The response bodies. Field names are the OpenAPI document's schemas;
// times are RFC 3339 in UTC; absent values are left out, never null.

type syncList struct {
	Syncs []syncItem `json:"syncs"`
}

type syncItem struct {
	Name         string       `json:"name"`
	Schedule     string       `json:"schedule,omitempty"`
	NextRun      *time.Time   `json:"next_run,omitempty"`
	Source       sourceItem   `json:"source"`
	Destinations []destItem   `json:"destinations"`
	LastRun      *runHeadline `json:"last_run,omitempty"`
}

type sourceItem struct {
	Connection string `json:"connection"`
	Type       string `json:"type"`
	Audience   string `json:"audience,omitempty"`
}

type destItem struct {
	// Name is the destination's name in the run log and reports:
	// segment/destination for a segment's destination.
	Name string `json:"name"`
	// Segment is the segment whose members the destination receives;
	// absent for a sync without segments.
	Segment    string `json:"segment,omitempty"`
	Connection string `json:"connection"`
	Type       string `json:"type"`
	Audience   string `json:"audience,omitempty"`
	// Sizes are the audience sizes after the newest run that succeeded
	// (or partly succeeded) on it: one, under the destination's name, or
	// one per profile for a destination that splits (exports/google …);
	// empty before any such run.
	Sizes []namedSize `json:"sizes"`
}

type namedSize struct {
	Name string `json:"name"`
	sizePoint
}

// runHeadline is a run without its figures: a sync's last run.
type runHeadline struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

type runList struct {
	Runs []runItem `json:"runs"`
	// NextCursor, when present, fetches the next page (cursor=…).
	NextCursor string `json:"next_cursor,omitempty"`
}

type runItem struct {
	ID         string     `json:"id"`
	Sync       string     `json:"sync"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Interrupted: recorded as running, but its process is gone.
	Interrupted bool `json:"interrupted,omitempty"`
	// StartedBy says who or what started the run (state.Run.StartedBy);
	// absent for runs recorded before the run log kept it.
	StartedBy    string        `json:"started_by,omitempty"`
	Destinations []destSummary `json:"destinations"`
	Links        runLinks      `json:"links"`
}

type runLinks struct {
	Self     string `json:"self"`
	Report   string `json:"report"`
	Rejected string `json:"rejected"`
}

type destSummary struct {
	Name     string           `json:"name"`
	Status   string           `json:"status"`
	Members  int64            `json:"members"`
	Planned  report.Planned   `json:"planned"`
	Applied  report.Applied   `json:"applied"`
	Platform *platformFigures `json:"platform,omitempty"`
}

type platformFigures struct {
	Status    string `json:"status,omitempty"`
	MatchRate string `json:"match_rate,omitempty"`
	// Size is absent when the platform reported none.
	Size *int64 `json:"size,omitempty"`
}

type sizeHistory struct {
	Sync        string      `json:"sync"`
	Destination string      `json:"destination"`
	Points      []sizePoint `json:"points"`
}

type sizePoint struct {
	RunID      string    `json:"run_id"`
	Status     string    `json:"status"`
	FinishedAt time.Time `json:"finished_at"`
	Members    int64     `json:"members"`
}

type rejectedRows struct {
	RunID        string           `json:"run_id"`
	Sync         string           `json:"sync"`
	Read         int64            `json:"read"`
	Rejected     int64            `json:"rejected"`
	Reasons      []RejectedReason `json:"reasons"`
	Destinations []destRejected   `json:"destinations"`
}

// RejectedReason is one reason rows (or identifiers, or members) were
// rejected: how many, and the line numbers of the first few in the
// source. Never their content. The web UI lists reasons with it too.
type RejectedReason struct {
	Reason string  `json:"reason"`
	Count  int64   `json:"count"`
	Lines  []int64 `json:"lines,omitempty"`
}

type destRejected struct {
	Name    string           `json:"name"`
	Reasons []RejectedReason `json:"reasons"`
	// Platform are the members the platform refused, by its reason.
	Platform []RejectedReason `json:"platform"`
}

type triggered struct {
	RunID  string `json:"run_id,omitempty"`
	Sync   string `json:"sync"`
	Status string `json:"status"`
	Links  *struct {
		Run    string `json:"run"`
		Report string `json:"report"`
	} `json:"links,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// status is the run's status as shown: a run a crash left running is
// interrupted.
func status(rec syncs.RunRecord) string {
	if rec.Interrupted {
		return "interrupted"
	}
	return rec.Status
}

func runOf(rec syncs.RunRecord) runItem {
	dests := make([]destSummary, 0, len(rec.Summaries))
	for _, s := range rec.Summaries {
		dests = append(dests, summaryOf(s))
	}
	self := Prefix + "/runs/" + rec.ID
	return runItem{
		ID: rec.ID, Sync: rec.Sync, Status: status(rec), StartedAt: rec.Started.UTC(), FinishedAt: timePtr(rec.Finished),
		Interrupted: rec.Interrupted, StartedBy: rec.StartedBy, Destinations: dests,
		Links: runLinks{Self: self, Report: self + "/report", Rejected: self + "/rejected"},
	}
}

func summaryOf(s state.Summary) destSummary {
	out := destSummary{
		Name: s.Destination, Status: s.Status, Members: s.Members,
		// The report's count types: the same JSON in the listing as in
		// the report.
		Planned: report.Planned{Add: s.Planned.Add, Remove: s.Planned.Remove, Update: s.Planned.Update, Refresh: s.Planned.Refresh,
			Unchanged: s.Planned.Unchanged},
		Applied: report.Applied{Added: s.Applied.Added, Removed: s.Applied.Removed, Updated: s.Applied.Updated,
			Refreshed: s.Applied.Refreshed, Failed: s.Applied.Failed, NotAttempted: s.Applied.NotAttempted},
	}
	if p := s.Platform; p != nil {
		out.Platform = &platformFigures{Status: p.Status, MatchRate: p.MatchRate}
		if p.Size >= 0 {
			size := p.Size
			out.Platform.Size = &size
		}
	}
	return out
}

func pointOf(p state.SizePoint) sizePoint {
	return sizePoint{RunID: p.RunID, Status: p.Status, FinishedAt: p.Finished.UTC(), Members: p.Members}
}
