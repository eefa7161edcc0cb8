package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/report"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

var started = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// syncReport is a run with one destination of each kind of outcome and
// every optional part of a report filled in.
func syncReport() *report.Report {
	return &report.Report{
		RunID:       "20260304T050607Z-abcdef",
		Sync:        "cart-abandoners",
		FullRefresh: true,
		Forced:      true,
		Status:      report.StatusInterrupted,
		StartedAt:   started,
		FinishedAt:  started.Add(2*time.Second + 345*time.Millisecond + 678*time.Microsecond),
		Source: report.Source{
			Read: 1200, Valid: 1150, Duplicates: 30,
			Rejected: map[string]int64{"row.malformed": 12, "key.missing": 8},
			RejectedLines: map[string][]int64{
				"row.malformed": {3, 17, 99, 120, 133, 140, 151, 160, 171, 180},
				"key.missing":   {44},
			},
			Attributes: []report.AttributeCount{
				{Name: "lifecycle_stage", Present: 1150},
				{Name: "visits", Present: 1000, Missing: 140, Invalid: 10},
			},
		},
		Destinations: []*report.Destination{
			{
				Name: "google", Type: "google_ads", Profile: "google", AudienceID: "customers/1/userLists/2",
				Status: report.StatusSucceeded, Members: 1100,
				Planned:   report.Planned{Add: 1000, Remove: 5, Update: 50, Refresh: 20, Unchanged: 80},
				Applied:   report.Applied{Added: 998, Removed: 5, Updated: 50, Refreshed: 20, Failed: 2},
				Rejected:  map[string]int64{"email.malformed": 4, "phone.invalid": 9, "member.no_identifiers": 3},
				PreHashed: 7, ConsentDenied: 3,
				PlatformRejected: map[string]int64{"INVALID_FORMAT": 2},
				Batches:          2, Retries: 1,
				Platform: &connectors.PlatformReport{Status: "SUCCESS", MatchRate: "50-60%", Size: 1000,
					Counts: map[string]int64{"records": 998, "identifiers": 1500}, Pending: []string{"req-9"}},
			},
			{
				// The token expired after 400 of 1000: the batch it
				// refused and those never sent are not attempted.
				Name: "meta", Type: "meta", Profile: "meta", Status: report.StatusPartial, Members: 1000,
				Planned: report.Planned{Add: 1000},
				Applied: report.Applied{Added: 400, NotAttempted: 600},
				Batches: 3, Retries: 0,
				Platform: &connectors.PlatformReport{Size: -1, Counts: map[string]int64{"num_received": 400}},
				Errors:   []string{"add batch 3 (200 members): token expired: reconnect the Meta system user"},
			},
			{
				Name: "x", Type: "x", Profile: "x", Status: report.StatusInterrupted, Members: 480,
				Planned: report.Planned{Add: 500, Remove: 20, Unchanged: 0},
				Applied: report.Applied{Added: 200, Removed: 20, NotAttempted: 300},
				Batches: 3, Retries: 2,
				Platform: &connectors.PlatformReport{Size: -1},
				Errors:   []string{"interrupted: acknowledged batches were committed"},
			},
		},
		Error: "interrupted: context canceled; acknowledged batches were committed, the next run continues from there",
	}
}

// feedbackReport has platform reports that leave things out, and a match
// rate that spans several requests.
func feedbackReport() *report.Report {
	return &report.Report{
		RunID: "r2", Sync: "s", Status: report.StatusSucceeded, StartedAt: started, FinishedAt: started.Add(time.Second),
		Source: report.Source{Read: 10, Valid: 10, Rejected: map[string]int64{}},
		Destinations: []*report.Destination{
			{Name: "google", Type: "google_ads", Profile: "google", Status: report.StatusSucceeded, Members: 10,
				Planned: report.Planned{Add: 10}, Applied: report.Applied{Added: 10}, Batches: 2,
				Platform: &connectors.PlatformReport{MatchRate: "41-50% to 61-70%", Size: -1}},
			{Name: "meta", Type: "meta", Profile: "meta", Status: report.StatusSucceeded, Members: 10,
				Planned: report.Planned{Add: 10}, Applied: report.Applied{Added: 10}, Batches: 1,
				Platform: &connectors.PlatformReport{Status: "PROCESSING", Size: -1}},
		},
	}
}

// segmentsReport is a plan of a sync with stages, a suppression list
// and a holdout.
func segmentsReport() *report.Report {
	return &report.Report{
		RunID: "r3", Sync: "retargeting", DryRun: true, Status: report.StatusPlanned, StartedAt: started, FinishedAt: started.Add(time.Second),
		Source: report.Source{Read: 100, Valid: 100, Rejected: map[string]int64{},
			Attributes: []report.AttributeCount{{Name: "last_cart_at", Present: 90, Missing: 10}}},
		Segments: []*report.Segment{
			{Name: "buyers", Destinations: nil, Members: 12, Matched: 12, Filtered: 88},
			{Name: "cart-1-3d", Group: "cart", Destinations: []string{"cart-1-3d/google"}, Members: 20, Matched: 25, Filtered: 65,
				Missing: map[string]int64{"last_cart_at": 10}, Suppressed: map[string]int64{"buyers": 4, "shop": 1}},
			{Name: "cart-4-14d", Group: "cart", Destinations: []string{"cart-4-14d/google"}, Members: 27, Matched: 35, Filtered: 30,
				Missing: map[string]int64{"last_cart_at": 10}, EarlierStage: 25, Suppressed: map[string]int64{"buyers": 5}, HeldOut: 3},
		},
		Moves: []report.Move{
			{Group: "cart", From: "cart-1-3d", To: "cart-4-14d", Destination: "google", Members: 7},
		},
		Destinations: []*report.Destination{
			{Name: "cart-1-3d/google", Segment: "cart-1-3d", Type: "google_ads", Profile: "google", Status: report.StatusPlanned, Members: 20,
				Planned:  report.Planned{Add: 2, Remove: 8, Unchanged: 18},
				Excluded: map[string]int64{"segment.filtered": 65, "attribute.missing:last_cart_at": 10, "suppressed:buyers": 4, "suppressed:shop": 1}},
			{Name: "cart-4-14d/google", Segment: "cart-4-14d", Type: "google_ads", Profile: "google", Status: report.StatusPlanned, Members: 27,
				Planned:  report.Planned{Add: 7, Unchanged: 20},
				Excluded: map[string]int64{"segment.filtered": 30, "attribute.missing:last_cart_at": 10, "stage.earlier": 25, "suppressed:buyers": 5, "holdout": 3}},
		},
	}
}

func planReport() *report.Report {
	r := syncReport()
	r.DryRun, r.FullRefresh, r.Forced = true, false, false
	r.Status, r.Error = report.StatusPlanned, ""
	for _, d := range r.Destinations {
		d.Status, d.Applied, d.Batches, d.Retries, d.Errors, d.Platform, d.PlatformRejected = report.StatusPlanned, report.Applied{}, 0, 0, nil, nil, nil
	}
	return r
}

// TestWrite renders reports as text and JSON against golden files. The
// JSON is the report as stored and printed: field names, omitted empties
// and status values are its contract with anyone reading reports.
func TestWrite(t *testing.T) {
	t.Parallel()
	unfinished := &report.Report{RunID: "r1", Sync: "s", Status: report.StatusRunning, StartedAt: started,
		Source: report.Source{Rejected: map[string]int64{}}}
	tests := []struct {
		name   string
		report *report.Report
		json   bool
	}{
		{"sync", syncReport(), true},
		{"plan", planReport(), true},
		{"unfinished", unfinished, false},
		{"feedback", feedbackReport(), false},
		{"segments", segmentsReport(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var text bytes.Buffer
			require.NoError(t, tt.report.WriteText(&text))
			connectortest.Golden(t, filepath.Join("testdata", tt.name+".txt"), text.Bytes(), *update)
			if !tt.json {
				return
			}
			var js bytes.Buffer
			require.NoError(t, tt.report.WriteJSON(&js))
			connectortest.Golden(t, filepath.Join("testdata", tt.name+".json"), js.Bytes(), *update)
			var back report.Report
			require.NoError(t, json.Unmarshal(js.Bytes(), &back))
			require.Equal(t, tt.report, &back, "a report survives a round trip through its JSON")
		})
	}
}

// TestJSONShape pins the top-level and destination keys, so a renamed or
// newly emitted field is a deliberate change.
func TestJSONShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		report      *report.Report
		top, detail []string
	}{
		{
			name:   "everything set",
			report: syncReport(),
			top:    []string{"destinations", "error", "finished_at", "forced", "full_refresh", "run_id", "source", "started_at", "status", "sync"},
			detail: []string{"applied", "audience_id", "batches", "consent_denied", "members", "name", "planned", "platform",
				"platform_rejected", "pre_hashed", "profile", "rejected", "retries", "status", "type"},
		},
		{
			name: "empties omitted",
			report: &report.Report{RunID: "r", Sync: "s", Status: report.StatusSucceeded, StartedAt: started, FinishedAt: started,
				Destinations: []*report.Destination{{Name: "d", Type: "file", Profile: "x", Status: report.StatusSucceeded}}},
			top:    []string{"destinations", "finished_at", "run_id", "source", "started_at", "status", "sync"},
			detail: []string{"applied", "batches", "members", "name", "planned", "profile", "retries", "status", "type"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, err := json.Marshal(tt.report)
			require.NoError(t, err)
			var top map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(body, &top))
			require.ElementsMatch(t, tt.top, keys(top))
			var dests []map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(top["destinations"], &dests))
			require.ElementsMatch(t, tt.detail, keys(dests[0]))
			require.JSONEq(t, `"`+string(tt.report.Status)+`"`, string(top["status"]), "a status is a plain JSON string")
		})
	}
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
