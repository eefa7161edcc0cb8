package syncs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state/sqlite"
	"github.com/audiencesync/audiencesync/syncs"
)

// funnelConfig is a sync with two cart stages (0–3 and 4–14 days) sending
// to one file connection, a 10% holdout on the second, a buyers segment
// and a shop export as suppression lists.
const funnelConfig = `state:
  path: ./state.db
connections:
  crm: {type: csv, path: ./crm.csv}
  shop: {type: csv, path: ./shop.csv}
  exports: {type: file, dir: ./out, formats: [google]}
syncs:
  - name: carts
    source:
      connection: crm
      key: id
      fields: {email: email}
      attributes:
        last_cart_at: {field: cart, type: timestamp}
        purchased_at: {field: bought, type: timestamp}
    segments:
      - name: buyers
        filter: purchased_at != nil
      - name: cart-0-3d
        group: cart
        exclusive: true
        filter: days_since(last_cart_at) <= 3
        destinations: [{connection: exports}]
      - name: cart-4-14d
        group: cart
        exclusive: true
        holdout: 10%
        filter: days_since(last_cart_at) <= 14
        destinations: [{connection: exports}]
    suppress:
      - segment: buyers
      - source: {connection: shop, key: order, fields: {email: mail}}
    safety: {max_remove_fraction: 0.5}
`

var funnelNow = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// writeFunnel writes n CRM members, member i with a cart abandoned i/2
// days before funnelNow (0..n/2 days); members bought have a purchase,
// and the shop export lists shopEmails (in another letter case, under
// other keys).
func writeFunnel(t *testing.T, dir string, n int, bought []int, shopEmails []int) {
	t.Helper()
	var crm strings.Builder
	crm.WriteString("id,email,cart,bought\n")
	buyer := map[int]bool{}
	for _, i := range bought {
		buyer[i] = true
	}
	for i := range n {
		b := ""
		if buyer[i] {
			b = funnelNow.Format(time.RFC3339)
		}
		fmt.Fprintf(&crm, "c%03d,member-%03d@example.com,%s,%s\n", i, i, funnelNow.Add(-time.Duration(i)*12*time.Hour).Format(time.RFC3339), b)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "crm.csv"), []byte(crm.String()), 0o600))
	var shop strings.Builder
	shop.WriteString("order,mail\n")
	for k, i := range shopEmails {
		fmt.Fprintf(&shop, "o%d, MEMBER-%03d@Example.COM \n", k, i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "shop.csv"), []byte(shop.String()), 0o600))
}

func openFunnel(t *testing.T, dir string, now time.Time) *syncs.Service {
	t.Helper()
	path := filepath.Join(dir, "audiencesync.yaml")
	require.NoError(t, os.WriteFile(path, []byte(funnelConfig), 0o600))
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: path, Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return svc
}

func segmentOf(rep *report.Report, name string) *report.Segment { return rep.SegmentNamed(name) }

func destOf(rep *report.Report, name string) *report.Destination { return rep.DestinationNamed(name) }

// TestSegmentedSync runs a configured funnel end to end: stages by days
// since the cart, suppression by a segment and by another source matched
// on the normalised e-mail, a holdout recorded in state and the same in
// another process; a buyer converting leaves every stage in one run, and
// a clock three days on moves members on with exact counts.
func TestSegmentedSync(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// 60 members: carts 0..29.5 days old; 0..7 are in 0–3 days, 8..29
	// in 4–14 days (22), 30.. in none. Member 3 bought; 5 and 10 are in
	// the shop export.
	writeFunnel(t, dir, 60, []int{3}, []int{5, 10})
	svc := openFunnel(t, dir, funnelNow)
	rep, err := svc.Run(t.Context(), "carts", syncs.RunOptions{})
	require.NoError(t, err)

	early, late := segmentOf(rep, "cart-0-3d"), segmentOf(rep, "cart-4-14d")
	require.Equal(t, int64(8), early.Matched)
	require.Equal(t, map[string]int64{"buyers": 1, "shop": 1}, early.Suppressed)
	require.Equal(t, int64(6), early.Members)
	require.Equal(t, int64(22), late.Matched, "members the first stage took are not evaluated again")
	require.Equal(t, int64(8), late.EarlierStage)
	require.Equal(t, map[string]int64{"shop": 1}, late.Suppressed)
	require.Equal(t, int64(6), destOf(rep, "cart-0-3d/exports/google").Members)
	require.Equal(t, "cart-0-3d", destOf(rep, "cart-0-3d/exports/google").Segment)
	heldOut := late.HeldOut
	require.Equal(t, 22-1-heldOut, late.Members)
	require.Equal(t, late.Members, destOf(rep, "cart-4-14d/exports/google").Members)
	requireStageFiles(t, dir, rep)

	// The holdout is in state, by member key, and the same from another
	// process sharing the state, whose plan changes nothing.
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "state.db"))
	require.NoError(t, err)
	keys, _, err := st.HeldOut(t.Context(), "carts", "cart-4-14d")
	require.NoError(t, err)
	require.NoError(t, st.Close())
	require.Len(t, keys, int(heldOut))
	other := openFunnel(t, dir, funnelNow)
	plan, err := other.Plan(t.Context(), "carts", syncs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, heldOut, segmentOf(plan, "cart-4-14d").HeldOut)
	for _, d := range plan.Destinations {
		require.Zero(t, d.Planned.Add+d.Planned.Remove, "%s: the same members, the same holdout", d.Name)
	}

	// A buyer converts (member 1): the next run removes them everywhere.
	writeFunnel(t, dir, 60, []int{3, 1}, []int{5, 10})
	rep, err = svc.Run(t.Context(), "carts", syncs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(1), destOf(rep, "cart-0-3d/exports/google").Planned.Remove)
	require.Equal(t, int64(0), destOf(rep, "cart-4-14d/exports/google").Planned.Add)
	require.Equal(t, map[string]int64{"buyers": 2, "shop": 1}, segmentOf(rep, "cart-0-3d").Suppressed)

	// Three days pass (a plan with --now): member i's cart is then
	// i/2+3 days old, so the first stage keeps member 0 only, and its
	// members 2, 4, 6 and 7 move on to the second (those the holdout
	// does not keep out); the second's oldest leave the funnel.
	plan, err = svc.Plan(t.Context(), "carts", syncs.RunOptions{FilterTime: funnelNow.Add(72 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, int64(4), destOf(plan, "cart-0-3d/exports/google").Planned.Remove)
	require.Equal(t, int64(1), destOf(plan, "cart-0-3d/exports/google").Members)
	require.Len(t, plan.Moves, 1)
	m := plan.Moves[0]
	require.Equal(t, report.Move{Group: "cart", From: "cart-0-3d", To: "cart-4-14d", Destination: "exports/google", Members: m.Members}, m)
	require.Equal(t, m.Members, destOf(plan, "cart-4-14d/exports/google").Planned.Add, "every add to the second stage is a move")
	require.LessOrEqual(t, m.Members, int64(4))
	require.Positive(t, m.Members)
}

// requireStageFiles checks that the two stages of the funnel, sending to
// one file connection, each got their own upload files (under their
// audience's directory) holding exactly their members, in the run's
// directory and in latest.
func requireStageFiles(t *testing.T, dir string, rep *report.Report) {
	t.Helper()
	sync := filepath.Join(dir, "out", "carts")
	for _, seg := range []string{"cart-0-3d", "cart-4-14d"} {
		d := destOf(rep, seg+"/exports/google")
		require.Positive(t, d.Members, seg)
		for _, path := range []string{
			filepath.Join(sync, rep.RunID, seg+"-exports", "google-adds.csv"),
			filepath.Join(sync, rep.RunID, seg+"-exports", "google-audience.csv"),
			filepath.Join(sync, "latest", seg+"-exports", "google-audience.csv"),
		} {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			rows := strings.Count(string(data), "\n") - 1 // after the header
			require.Equal(t, int(d.Members), rows, path)
		}
	}
	entries, err := os.ReadDir(filepath.Join(sync, "latest"))
	require.NoError(t, err)
	require.Len(t, entries, 2, "one directory per stage, nothing shared")
}

// TestSuppressionSourceFailureUploadsNothing checks that a run whose
// suppression source cannot be read fails before anything is sent or
// removed: no destination file changes and state keeps its members.
func TestSuppressionSourceFailureUploadsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFunnel(t, dir, 40, nil, []int{5})
	svc := openFunnel(t, dir, funnelNow)
	_, err := svc.Run(t.Context(), "carts", syncs.RunOptions{})
	require.NoError(t, err)
	before := snapshotDir(t, filepath.Join(dir, "out"))

	// The CRM now has only 2 members, and the shop export is gone: an
	// unsuppressed, shrunk audience must not go out.
	writeFunnel(t, dir, 2, nil, nil)
	require.NoError(t, os.Remove(filepath.Join(dir, "shop.csv")))
	rep, err := svc.Run(t.Context(), "carts", syncs.RunOptions{Force: true})
	require.Error(t, err)
	require.Contains(t, err.Error(), "read suppression list shop")
	require.Contains(t, err.Error(), "nothing was uploaded or removed")
	require.Equal(t, report.StatusFailed, rep.Status)
	for _, d := range rep.Destinations {
		require.Zero(t, d.Applied.Added+d.Applied.Removed, d.Name)
	}
	require.Equal(t, before, snapshotDir(t, filepath.Join(dir, "out")), "no file was written")
}

// snapshotDir maps every file under dir to its content.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = string(data)
		return err
	}))
	return out
}
