package report_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
)

// TestCheckCounts: the invariant holds for the golden reports, and each way
// counts can fail to add up is caught and names the destination.
func TestCheckCounts(t *testing.T) {
	t.Parallel()
	require.NoError(t, syncReport().CheckCounts())
	require.NoError(t, planReport().CheckCounts())
	planned := report.Planned{Add: 10, Remove: 2, Update: 3, Refresh: 4, Unchanged: 100}
	tests := []struct {
		name    string
		dryRun  bool
		applied report.Applied
		want    string // "" when the counts add up
	}{
		{"all applied", false, report.Applied{Added: 10, Removed: 2, Updated: 3, Refreshed: 4}, ""},
		{"some failed, some not attempted", false, report.Applied{Added: 5, Removed: 2, Failed: 3, NotAttempted: 9}, ""},
		{"nothing attempted", false, report.Applied{NotAttempted: 19}, ""},
		{"not attempted left out", false, report.Applied{Added: 5, Failed: 3}, "19 planned changes, but 5 applied + 3 failed + 0 not attempted = 8"},
		{"counted twice", false, report.Applied{Added: 10, Removed: 2, Updated: 3, Refreshed: 4, Failed: 1}, "= 20"},
		{"more added than planned", false, report.Applied{Added: 11, Removed: 2, Updated: 2, Refreshed: 4}, "exceeds planned"},
		{"negative", false, report.Applied{Added: 20, NotAttempted: -1}, "negative"},
		{"dry run applies nothing", true, report.Applied{}, ""},
		{"dry run with applied counts", true, report.Applied{NotAttempted: 19}, "a dry run applied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &report.Report{DryRun: tt.dryRun, Destinations: []*report.Destination{
				{Name: "ok", Planned: planned, Applied: report.Applied{NotAttempted: planned.Changes()}},
				{Name: "checked", Planned: planned, Applied: tt.applied},
			}}
			if tt.dryRun {
				r.Destinations[0].Applied = report.Applied{}
			}
			err := r.CheckCounts()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "destination checked: ")
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "destination ok")
		})
	}
}
