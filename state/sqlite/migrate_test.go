package sqlite

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

// schema3File writes a state file as audiencesync wrote it at schema
// version 3, with runs recorded as that version did: reports as JSON and
// nothing else. It returns the file's path.
func schema3File(t *testing.T, runs []state.Run) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := openPool(path, writerParams())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, m := range migrations[:3] {
		for _, stmt := range m.stmts {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, stmt := range []string{`PRAGMA user_version = 3`, `PRAGMA application_id = ` + strconv.Itoa(applicationID)} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range runs {
		if _, err := db.Exec(`INSERT INTO runs (id, sync, status, started, finished, report, owner) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Sync, r.Status, toMicros(r.Started), nullMicros(r.Finished), r.Report, r.Owner); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// oldRun is a finished run with the report a schema-3 audiencesync stored.
func oldRun(t *testing.T, id, sync string, started time.Time, dests ...*report.Destination) state.Run {
	t.Helper()
	rep := report.Report{RunID: id, Sync: sync, Status: report.StatusSucceeded, StartedAt: started,
		FinishedAt: started.Add(time.Minute), Destinations: dests}
	body, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return state.Run{ID: id, Sync: sync, Status: string(rep.Status), Started: started, Finished: rep.FinishedAt, Report: body}
}

// TestOpenMigratesVersion3Backfills opens a schema-3 file: every run with a
// report gets its summaries, the size history reads them, and the request
// ids the newest report of each sync left pending become pending requests.
// A run a crash left running gets no summary; a report that does not
// decode is skipped.
func TestOpenMigratesVersion3Backfills(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	google := func(status report.Status, members int64, pending ...string) *report.Destination {
		return &report.Destination{
			Name: "google", Type: "google_ads", Status: status, Members: members,
			Planned: report.Planned{Add: 10, Remove: 2, Update: 1, Refresh: 3, Unchanged: members - 10},
			Applied: report.Applied{Added: 10, Removed: 2, Updated: 1, Refreshed: 3, Failed: 0},
			Platform: &connectors.PlatformReport{Status: "PROCESSING", MatchRate: "MATCH_RATE_RANGE_41_TO_50",
				Size: -1, Pending: pending},
		}
	}
	meta := &report.Destination{Name: "meta", Type: "meta", Status: report.StatusPartial, Members: 77,
		Planned: report.Planned{Add: 5}, Applied: report.Applied{Added: 3, Failed: 2},
		// Size 0 is left out of the JSON: it must come back as 0.
		Platform: &connectors.PlatformReport{}}
	x := &report.Destination{Name: "x", Type: "x", Status: report.StatusFailed}

	crashed := state.Run{ID: "run-4-crashed", Sync: "buyers", Status: "running", Started: t0.Add(4 * time.Hour), Owner: "dead-1"}
	garbled := oldRun(t, "run-0-garbled", "buyers", t0.Add(-time.Hour))
	garbled.Report = []byte(`{"destinations": [`)
	runs := []state.Run{
		oldRun(t, "run-1", "buyers", t0, google(report.StatusSucceeded, 100, "req-old")),
		oldRun(t, "run-2", "buyers", t0.Add(time.Hour), google(report.StatusSucceeded, 120, "req-1", "req-2"), meta, x),
		oldRun(t, "run-3", "newsletter", t0.Add(2*time.Hour), google(report.StatusSucceeded, 5)),
		crashed,
		garbled,
	}
	path := schema3File(t, runs)

	s := openAt(t, path)
	if s.Backup() == "" {
		t.Error("no backup made before the schema upgrade")
	}
	ctx := t.Context()
	got, err := s.Run(ctx, "run-2")
	if err != nil {
		t.Fatal(err)
	}
	fin := t0.Add(time.Hour)
	want := []state.Summary{
		{Destination: "google", Status: "succeeded", Members: 120,
			Planned:  state.Planned{Add: 10, Remove: 2, Update: 1, Refresh: 3, Unchanged: 110},
			Applied:  state.Applied{Added: 10, Removed: 2, Updated: 1, Refreshed: 3},
			Platform: &state.PlatformFigures{Status: "PROCESSING", MatchRate: "MATCH_RATE_RANGE_41_TO_50", Size: -1},
			Started:  fin, Finished: fin.Add(time.Minute)},
		{Destination: "meta", Status: "partial", Members: 77, Planned: state.Planned{Add: 5},
			Applied: state.Applied{Added: 3, Failed: 2}, Platform: &state.PlatformFigures{},
			Started: fin, Finished: fin.Add(time.Minute)},
		{Destination: "x", Status: "failed", Started: fin, Finished: fin.Add(time.Minute)},
	}
	if diff := cmp.Diff(want, got.Summaries); diff != "" {
		t.Errorf("backfilled summaries of run-2 (-want +got):\n%s", diff)
	}
	if string(got.Report) != string(runs[1].Report) {
		t.Error("the report is kept as stored")
	}

	listed, err := s.Runs(ctx, state.RunFilter{Sync: "buyers"})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range listed {
		counts[r.ID] = len(r.Summaries)
	}
	if diff := cmp.Diff(map[string]int{"run-4-crashed": 0, "run-2": 3, "run-1": 1, "run-0-garbled": 0}, counts); diff != "" {
		t.Errorf("summaries per run (-want +got):\n%s", diff)
	}

	sizes, err := s.SizeHistory(ctx, state.Scope{Sync: "buyers", Destination: "google"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantSizes := []state.SizePoint{
		{RunID: "run-1", Status: "succeeded", Finished: t0.Add(time.Minute), Members: 100},
		{RunID: "run-2", Status: "succeeded", Finished: fin.Add(time.Minute), Members: 120},
	}
	if diff := cmp.Diff(wantSizes, sizes); diff != "" {
		t.Errorf("size history (-want +got):\n%s", diff)
	}

	pending, err := s.ListPending(ctx, state.Scope{Sync: "buyers", Destination: "google"})
	if err != nil {
		t.Fatal(err)
	}
	wantPending := []state.PendingRequest{
		{ID: "req-1", Kind: "google_ads", Recorded: fin.Add(time.Minute)},
		{ID: "req-2", Kind: "google_ads", Recorded: fin.Add(time.Minute)},
	}
	if diff := cmp.Diff(wantPending, pending, cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("pending requests from the newest report, not older ones (-want +got):\n%s", diff)
	}
	if p, err := s.ListPending(ctx, state.Scope{Sync: "newsletter", Destination: "google"}); err != nil || len(p) != 0 {
		t.Errorf("newsletter pending %v, %v; want none", p, err)
	}

	// The migrated file works as a new one: a crashed run still finishes.
	if err := s.FinishRun(ctx, crashed.ID, "partial", crashed.Started.Add(time.Minute), []byte(`{}`), want[:1]); err != nil {
		t.Fatal(err)
	}
}

// TestOpenMigratesVersion4AddsTokens opens a schema-4 file: it is copied
// first, the copy keeps schema 4, and the store then holds API tokens
// beside the runs it had.
func TestOpenMigratesVersion4AddsTokens(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	schemaFile(t, path, 4, `INSERT INTO runs (id, sync, status, started, owner) VALUES ('run-1', 'buyers', 'succeeded', 1, '')`)

	s := openAt(t, path)
	if s.Backup() == "" || !strings.Contains(s.Backup(), ".v4-") {
		t.Fatalf("backup %q, want a copy of the schema-4 file", s.Backup())
	}
	old, err := openPool(s.Backup(), readerParams())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	var version, tables int
	if err := old.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if err := old.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'api_tokens'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if version != 4 || tables != 0 {
		t.Errorf("backup has schema %d and %d api_tokens tables, want 4 and 0", version, tables)
	}
	ctx := t.Context()
	if _, err := s.Run(ctx, "run-1"); err != nil {
		t.Errorf("the run recorded before the upgrade: %v", err)
	}
	tok := state.Token{ID: "t1", Name: "ci", Role: "viewer", Hash: []byte{1, 2, 3}, Created: time.Unix(5, 0).UTC()}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenByID(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tok, got); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}
}

// TestOpenMigratesVersion5AddsHoldouts opens a schema-5 file holding a
// token: the token stays, and the store then keeps holdout keys and
// held-out members.
func TestOpenMigratesVersion5AddsHoldouts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	schemaFile(t, path, 5, `INSERT INTO api_tokens (id, name, role, hash, created) VALUES ('t1', 'ci', 'viewer', x'010203', 5)`)

	s := openAt(t, path)
	if !strings.Contains(s.Backup(), ".v5-") {
		t.Fatalf("backup %q, want a copy of the schema-5 file", s.Backup())
	}
	ctx := t.Context()
	if _, err := s.TokenByID(ctx, "t1"); err != nil {
		t.Errorf("the token recorded before the upgrade: %v", err)
	}
	key, err := s.HoldoutKey(ctx, "carts", []byte("fresh"))
	if err != nil || string(key) != "fresh" {
		t.Fatalf("HoldoutKey = %q, %v", key, err)
	}
	k := audience.KeyFromSource("c1")
	if err := s.SetHeldOut(ctx, "carts", "stage", []audience.MemberKey{k}, time.Unix(9, 0)); err != nil {
		t.Fatal(err)
	}
	keys, _, err := s.HeldOut(ctx, "carts", "stage")
	if err != nil || len(keys) != 1 || keys[0] != k {
		t.Fatalf("HeldOut = %v, %v", keys, err)
	}
}

// schemaFile writes a state file at path as a build that knew schema
// version v wrote it (its first v migrations, without backfills), then
// runs rows on it.
func schemaFile(t *testing.T, path string, v int, rows ...string) {
	t.Helper()
	db, err := openPool(path, writerParams())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:v] {
		for _, stmt := range m.stmts {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, stmt := range append([]string{fmt.Sprintf(`PRAGMA user_version = %d`, v), `PRAGMA application_id = ` + strconv.Itoa(applicationID)}, rows...) {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenMigratesVersion6RecordsStartedBy opens a schema-6 file holding
// a finished run and one a crash left running: both read with StartedBy
// "" (schema 6 did not record it), the crashed one still finishes, and
// runs recorded after the upgrade keep who started them.
func TestOpenMigratesVersion6RecordsStartedBy(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	schemaFile(t, path, 6,
		`INSERT INTO runs (id, sync, status, started, finished, report, owner) VALUES ('run-old', 'buyers', 'succeeded', 1000000, 2000000, x'7b7d', '')`,
		`INSERT INTO runs (id, sync, status, started, owner) VALUES ('run-crashed', 'buyers', 'running', 3000000, 'dead-1')`)

	s := openAt(t, path)
	if !strings.Contains(s.Backup(), ".v6-") {
		t.Fatalf("backup %q, want a copy of the schema-6 file", s.Backup())
	}
	ctx := t.Context()
	old, err := s.Run(ctx, "run-old")
	if err != nil {
		t.Fatal(err)
	}
	if old.StartedBy != "" || string(old.Report) != "{}" {
		t.Errorf("run-old after the upgrade: started by %q, report %q; want \"\" and the report kept", old.StartedBy, old.Report)
	}
	if err := s.FinishRun(ctx, "run-crashed", "partial", time.Unix(4, 0), []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginRun(ctx, state.Run{ID: "run-new", Sync: "buyers", Status: "running", Started: time.Unix(5, 0), StartedBy: "cli"}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx, state.RunFilter{Sync: "buyers"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range runs {
		got[r.ID] = r.StartedBy
	}
	if diff := cmp.Diff(map[string]string{"run-old": "", "run-crashed": "", "run-new": "cli"}, got); diff != "" {
		t.Errorf("started by, as listed (-want +got):\n%s", diff)
	}
}
