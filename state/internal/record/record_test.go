package record

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

// The stores' conformance suites (state/statetest) read and write these
// rows through real databases; this checks what a suite would only see as
// a driver error: every column list and the values or destinations given
// for it agree in number.
func TestColumnsMatchValues(t *testing.T) {
	t.Parallel()
	var (
		run RunScan
		sum SummaryScan
	)
	tests := []struct {
		name string
		cols string
		n    int
	}{
		{"run scan", RunCols, len(run.Dest())},
		{"summary scan", SummaryCols, len(sum.Dest())},
		{"summary values", SummaryInsertCols, len(SummaryValues("r", 1, 0, state.Summary{}))},
		{"token values", TokenCols, len(TokenValues(state.Token{}))},
		{"lock values", LockCols, len(LockValues(state.Lock{}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if cols := len(strings.Split(tt.cols, ",")); cols != tt.n {
				t.Errorf("%d columns, %d values", cols, tt.n)
			}
		})
	}
}

// fakeRow scans its values (nil for NULL) into the destinations, as a
// driver does.
type fakeRow []any

func (r fakeRow) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("%d destinations for %d columns", len(dest), len(r))
	}
	for i, d := range dest {
		switch d := d.(type) {
		case sql.Scanner:
			if err := d.Scan(r[i]); err != nil {
				return err
			}
		case *string:
			*d = r[i].(string)
		case *int64:
			*d = r[i].(int64)
		default:
			return fmt.Errorf("destination %d: unexpected %T", i, d)
		}
	}
	return nil
}

func TestSummaryScanNulls(t *testing.T) {
	t.Parallel()
	started := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	finished := started.Add(time.Minute)
	counts := func() []any {
		out := make([]any, 12)
		for i := range out {
			out[i] = int64(i + 1)
		}
		return out
	}
	row := func(pStatus, pRate, pSize any) fakeRow {
		r := fakeRow{"ads", "succeeded"}
		r = append(r, counts()...)
		return append(r, pStatus, pRate, pSize, state.UnixMicros(started), state.UnixMicros(finished))
	}
	want := state.Summary{
		Destination: "ads", Status: "succeeded",
		Planned:  state.Planned{Add: 1, Remove: 2, Update: 3, Refresh: 4, Unchanged: 5},
		Applied:  state.Applied{Added: 6, Removed: 7, Updated: 8, Refreshed: 9, Failed: 10, NotAttempted: 11},
		Members:  12,
		Started:  started,
		Finished: finished,
	}
	tests := []struct {
		name     string
		row      fakeRow
		platform *state.PlatformFigures
	}{
		{"no platform figures", row(nil, nil, nil), nil},
		{"no size", row("DONE", "20-30%", nil), &state.PlatformFigures{Status: "DONE", MatchRate: "20-30%", Size: -1}},
		{"all", row("DONE", "20-30%", int64(42)), &state.PlatformFigures{Status: "DONE", MatchRate: "20-30%", Size: 42}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s SummaryScan
			if err := tt.row.Scan(s.Dest()...); err != nil {
				t.Fatal(err)
			}
			if !s.Valid() {
				t.Fatal("a scanned summary is not Valid")
			}
			got := s.Summary()
			w := want
			w.Platform = tt.platform
			if got.Platform == nil != (w.Platform == nil) || got.Platform != nil && *got.Platform != *w.Platform {
				t.Errorf("platform %+v, want %+v", got.Platform, w.Platform)
			}
			got.Platform, w.Platform = nil, nil
			if !got.Started.Equal(w.Started) || !got.Finished.Equal(w.Finished) {
				t.Errorf("times %v–%v, want %v–%v", got.Started, got.Finished, w.Started, w.Finished)
			}
			got.Started, got.Finished, w.Started, w.Finished = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if got != w {
				t.Errorf("summary %+v, want %+v", got, w)
			}
		})
	}
}
