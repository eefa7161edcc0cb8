package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/internal/servetest"
)

// TestSegmentedSync serves the segments quickstart on the export's
// clock: before a run the sync lists each segment's destinations under
// segment/destination with its segment; after one, each has its size,
// and the stored report (segments and moves included) matches the
// document.
func TestSegmentedSync(t *testing.T) {
	t.Parallel()
	at := servetest.SegmentsAt
	b := setupOn(t, false, servetest.Segments(t, ".."), func() time.Time { return at }, nil)
	servetest.FixHoldoutKey(t, b.store, "retargeting")

	type dest struct{ name, segment, conn string }
	want := []dest{
		{"abandoned-0-3d/google", "abandoned-0-3d", "google"}, {"abandoned-0-3d/meta", "abandoned-0-3d", "meta"},
		{"abandoned-4-14d/google", "abandoned-4-14d", "google"}, {"abandoned-4-14d/meta", "abandoned-4-14d", "meta"},
		{"frequent-visitors/meta", "frequent-visitors", "meta"},
	}
	check := func(sizes map[string]string) {
		t.Helper()
		resp := b.call(t, "GET", "/api/v1/syncs/retargeting", b.viewer, nil)
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.raw)
		got := resp.field(t, "destinations").([]any)
		require.Len(t, got, len(want))
		for i, w := range want {
			d := got[i].(map[string]any)
			require.Equal(t, w.name, d["name"])
			require.Equal(t, w.segment, d["segment"])
			require.Equal(t, w.conn, d["connection"])
			s := d["sizes"].([]any)
			if sizes == nil {
				require.Empty(t, s, w.name)
				continue
			}
			require.Len(t, s, 1, w.name)
			require.Equal(t, sizes[w.name], fmt.Sprint(s[0].(map[string]any)["members"]), w.name)
		}
	}
	check(nil)
	first := b.runOnce(t, "retargeting")
	check(map[string]string{"abandoned-0-3d/google": "245", "abandoned-0-3d/meta": "245",
		"abandoned-4-14d/google": "642", "abandoned-4-14d/meta": "642", "frequent-visitors/meta": "320"})

	// Three days on, members move stage: the report says so, per
	// destination, and still matches the document.
	at = at.Add(72 * time.Hour)
	second := b.runOnce(t, "retargeting")
	require.NotEqual(t, first, second)
	resp := b.call(t, "GET", "/api/v1/runs/"+second+"/report", b.viewer, nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.Len(t, resp.field(t, "segments").([]any), 4)
	moves := resp.field(t, "moves").([]any)
	require.Len(t, moves, 2)
	for _, m := range moves {
		mv := m.(map[string]any)
		require.Equal(t, "abandoned-0-3d", mv["from"])
		require.Equal(t, "abandoned-4-14d", mv["to"])
		require.Equal(t, "161", fmt.Sprint(mv["members"]))
	}
}
