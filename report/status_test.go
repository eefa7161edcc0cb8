package report_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
)

func TestDestinationStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		outcome report.Outcome
		want    report.Status
	}{
		{"everything applied", report.Outcome{Applied: 10}, report.StatusSucceeded},
		{"nothing to apply", report.Outcome{}, report.StatusSucceeded},
		{"dry run", report.Outcome{DryRun: true}, report.StatusPlanned},
		{"guard", report.Outcome{Aborted: true}, report.StatusAborted},
		{"guard wins over an unavailable destination", report.Outcome{Aborted: true, Stopped: true}, report.StatusAborted},
		{"stopped before applying", report.Outcome{Stopped: true}, report.StatusFailed},
		{"stopped part-way", report.Outcome{Stopped: true, Applied: 3}, report.StatusPartial},
		{"stopped and interrupted, nothing applied", report.Outcome{Stopped: true, Interrupted: true}, report.StatusFailed},
		{"interrupted", report.Outcome{Interrupted: true, Applied: 3}, report.StatusInterrupted},
		{"interrupted before any batch", report.Outcome{Interrupted: true}, report.StatusInterrupted},
		{"interrupted after a failed batch", report.Outcome{Interrupted: true, BatchFailed: true, Applied: 3}, report.StatusInterrupted},
		{"stopped part-way, then interrupted", report.Outcome{Stopped: true, Interrupted: true, Applied: 3}, report.StatusPartial},
		{"dry run interrupted", report.Outcome{DryRun: true, Interrupted: true}, report.StatusInterrupted},
		{"guard wins over an interrupt", report.Outcome{Aborted: true, Interrupted: true}, report.StatusAborted},
		{"a batch failed", report.Outcome{BatchFailed: true, Applied: 3}, report.StatusPartial},
		{"source failure in a dry run", report.Outcome{Stopped: true, DryRun: true}, report.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, report.DestinationStatus(tt.outcome))
		})
	}
}

func TestRunStatus(t *testing.T) {
	t.Parallel()
	const (
		ok      = report.StatusSucceeded
		partial = report.StatusPartial
		failed  = report.StatusFailed
		aborted = report.StatusAborted
		planned = report.StatusPlanned
		running = report.StatusRunning
		intr    = report.StatusInterrupted
	)
	tests := []struct {
		name   string
		shared bool // a step every destination depends on failed
		dests  []report.Status
		want   report.Status
	}{
		{"all succeeded", false, []report.Status{ok, ok}, ok},
		{"all planned", false, []report.Status{planned, planned}, planned},
		{"planned and succeeded", false, []report.Status{planned, ok}, planned},
		{"one failed", false, []report.Status{ok, failed}, partial},
		{"one partial", false, []report.Status{ok, partial}, partial},
		{"only partial", false, []report.Status{partial}, partial},
		{"all failed", false, []report.Status{failed, failed}, failed},
		{"planned and failed", false, []report.Status{planned, failed}, failed},
		{"aborted", false, []report.Status{aborted, aborted}, aborted},
		{"aborted beside anything", false, []report.Status{ok, aborted, failed}, aborted},
		{"interrupted", false, []report.Status{intr, intr}, intr},
		{"interrupted beside a success", false, []report.Status{ok, intr}, intr},
		{"interrupted beside a failure", false, []report.Status{failed, intr}, intr},
		{"aborted wins over interrupted", false, []report.Status{aborted, intr}, aborted},
		{"left running counts as failed", false, []report.Status{running}, failed},
		{"left running beside a success", false, []report.Status{ok, running}, partial},
		{"shared step failed", true, []report.Status{running, running}, failed},
		{"shared step failed, whatever the destinations say", true, []report.Status{ok}, failed},
		{"shared step failed with no destination", true, nil, failed},
		{"no destination", false, nil, ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dests := make([]*report.Destination, len(tt.dests))
			for i, s := range tt.dests {
				dests[i] = &report.Destination{Name: string(rune('a' + i)), Status: s}
			}
			require.Equal(t, tt.want, report.RunStatus(tt.shared, dests))
		})
	}
}

// TestStatusValues pins the documented values: they are stored in the run
// log and read by scripts, so none may change.
func TestStatusValues(t *testing.T) {
	t.Parallel()
	want := []string{"running", "planned", "succeeded", "partial", "failed", "aborted", "interrupted", "skipped"}
	got := make([]string, len(report.Statuses()))
	for i, s := range report.Statuses() {
		got[i] = string(s)
	}
	require.Equal(t, want, got)
}
