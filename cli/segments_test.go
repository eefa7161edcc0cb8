package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
)

// segmentsQuickstart copies the segments quickstart (config, CRM export
// and shop export) to a temporary directory and returns its config.
func segmentsQuickstart(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "quickstart"), 0o700))
	for from, to := range map[string]string{
		"../configs/quickstart-segments.yaml":   "quickstart-segments.yaml",
		"../configs/quickstart/contacts.csv":    "quickstart/contacts.csv",
		"../configs/quickstart/shop-orders.csv": "quickstart/shop-orders.csv",
	} {
		data, err := os.ReadFile(from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, to), data, 0o600))
	}
	return filepath.Join(dir, "quickstart-segments.yaml")
}

// TestSegmentsQuickstart runs the README's segments walkthrough through
// the CLI: two runs at the export's instant (the second all unchanged),
// a buyer converting in the shop export leaves every stage in one run,
// and a plan three days on moves members between stages.
func TestSegmentsQuickstart(t *testing.T) {
	t.Parallel()
	cfg := segmentsQuickstart(t)
	const at = "2026-12-01T09:00:00Z"
	first, r := syncJSON(t, cfg, "--now", at)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Len(t, first.Segments, 4)
	require.Len(t, first.Destinations, 5)
	for _, d := range first.Destinations {
		require.Positive(t, d.Applied.Added, d.Name)
		require.NotEmpty(t, d.Segment, d.Name)
	}
	again, r := syncJSON(t, cfg, "--now", at)
	require.Equal(t, ExitOK, r.code, r.stderr)
	for _, d := range again.Destinations {
		require.Zero(t, d.Planned.Changes(), "%s: a second run changes nothing", d.Name)
	}

	// Jonas Novak (C01809) orders in the shop, under the shop's key and
	// spelling: out of his stage on Google and Meta at once.
	shop := filepath.Join(filepath.Dir(cfg), "quickstart", "shop-orders.csv")
	f, err := os.OpenFile(shop, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("ORD-80000,Jonas.Novak.1809@Example.com,2026-12-01T10:15:00Z\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	bought, r := syncJSON(t, cfg, "--now", at)
	require.Equal(t, ExitOK, r.code, r.stderr)
	for _, d := range bought.Destinations {
		want := int64(0)
		if d.Segment == "abandoned-0-3d" {
			want = 1
		}
		require.Equal(t, want, d.Applied.Removed, d.Name)
		require.Zero(t, d.Applied.Added, d.Name)
	}
	require.Equal(t, again.Segments[1].Suppressed["shop"]+1, bought.Segments[1].Suppressed["shop"])

	// Three days on: members move from the first stage to the second.
	r = run(t, "", "plan", "--config", cfg, "--output", "json", "--now", "2026-12-04T09:00:00Z")
	require.Equal(t, ExitOK, r.code, r.stderr)
	plan := decodeReports(t, r)[0]
	require.NotEmpty(t, plan.Moves)
	var moved int64
	for _, m := range plan.Moves {
		require.Equal(t, report.Move{Group: "cart", From: "abandoned-0-3d", To: "abandoned-4-14d", Destination: m.Destination, Members: m.Members}, m)
		moved += m.Members
	}
	require.Positive(t, moved)

	r = run(t, "", "plan", "--config", cfg, "--now", "next tuesday")
	require.Equal(t, ExitUsage, r.code)
	require.Contains(t, r.stderr, "--now \"next tuesday\": use an RFC 3339 instant")
}
