package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A tick `serve` skipped is a run with status skipped: listed, filtered
// on, its report served (all against the document), and never the sync's
// last run.
func TestSkippedRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, false, nil)
	seedRuns(t, b.store, 3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	id, err := b.svc.RecordSkipped(t.Context(), "cart-abandoners", "skipped: the previous run of this sync was still running", "schedule")
	require.NoError(t, err)

	resp := b.call(t, "GET", "/api/v1/runs?status=skipped", b.viewer, nil)
	require.Equal(t, http.StatusOK, resp.status)
	runs := resp.field(t, "runs").([]any)
	require.Len(t, runs, 1)
	run := runs[0].(map[string]any)
	require.Equal(t, id, run["id"])
	require.Equal(t, "skipped", run["status"])
	require.Equal(t, "schedule", run["started_by"])
	require.NotContains(t, run, "interrupted")
	require.Empty(t, run["destinations"])
	require.Equal(t, run["started_at"], run["finished_at"])

	resp = b.call(t, "GET", "/api/v1/runs?sync=cart-abandoners", b.viewer, nil)
	runs = resp.field(t, "runs").([]any)
	require.Len(t, runs, 2)
	require.Equal(t, id, runs[0].(map[string]any)["id"], "newest first")
	resp = b.call(t, "GET", "/api/v1/runs?sync=cart-abandoners&status=succeeded,failed", b.viewer, nil)
	require.Len(t, resp.field(t, "runs").([]any), 1, "the other statuses leave the skip out")

	resp = b.call(t, "GET", "/api/v1/runs/"+id+"/report", b.viewer, nil)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.raw)
	require.Equal(t, "skipped", resp.field(t, "status"))
	require.Contains(t, resp.field(t, "error"), "still running")
	resp = b.call(t, "GET", "/api/v1/runs/"+id+"/rejected", b.viewer, nil)
	require.Equal(t, http.StatusOK, resp.status)

	resp = b.call(t, "GET", "/api/v1/syncs/cart-abandoners", b.viewer, nil)
	require.Equal(t, "run-000", resp.field(t, "last_run.id"), "a skipped tick is not the last run")
	require.Equal(t, "failed", resp.field(t, "last_run.status"))
}
