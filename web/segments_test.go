package web_test

import (
	"encoding/csv"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/internal/servetest"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

// runClock is the clock of the segments quickstart's runs: the export's
// instant, moved on by the test.
type runClock struct{ at atomic.Pointer[time.Time] }

func newRunClock() *runClock {
	c := &runClock{}
	c.set(0)
	return c
}

// set moves the clock to d after the export.
func (c *runClock) set(d time.Duration) {
	at := servetest.SegmentsAt.Add(d)
	c.at.Store(&at)
}

func (c *runClock) now() time.Time { return *c.at.Load() }

// segmented is the UI over the segments quickstart, its runs on a clock
// the test moves, its holdout key fixed, so every figure is the same
// from run to run.
type segmented struct {
	*bundle
	clock *runClock
}

func setupSegments(t testing.TB) *segmented {
	t.Helper()
	s := &segmented{clock: newRunClock()}
	s.bundle = setupClocks(t, false, servetest.Segments(t, ".."), nil, s.clock.now)
	servetest.FixHoldoutKey(t, s.store, "retargeting")
	return s
}

// runAt runs the segmented sync with its clock at d after the export.
func (s *segmented) runAt(t testing.TB, d time.Duration) *report.Report {
	t.Helper()
	s.clock.set(d)
	rep, err := s.svc.Run(t.Context(), "retargeting", syncs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, rep.Error)
	return rep
}

// segmentCard returns the run page's card of segment name.
func segmentCard(t testing.TB, body, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `<div class="card segment" data-segment="`+name+`">`)
	require.True(t, ok, "no card for segment %s", name)
	card, _, _ := strings.Cut(rest, `<div class="card segment"`)
	card, _, _ = strings.Cut(card, `<h3 id="h-moves">`)
	return card
}

// figure reads the data-figure dd named name in html.
func figure(t testing.TB, html, name string) string {
	t.Helper()
	m := regexp.MustCompile(`<dd data-figure="` + name + `">([0-9,]+)</dd>`).FindStringSubmatch(html)
	require.NotNil(t, m, "no figure %s", name)
	return m[1]
}

// The run page of a segmented run reads as the report says: each
// segment's matched, filtered, missing (by attribute), suppressed (by
// list), held out and members, its destinations' planned and applied
// counts, the moves between stages per destination, and the summary
// says who moved and who was kept out. Three days after the export, 161
// members move from the first cart stage to the second on Google and on
// Meta. The CSV names each row's segment; no page shows contact data.
func TestSegmentedRunPage(t *testing.T) {
	t.Parallel()
	s := setupSegments(t)
	first := s.runAt(t, 0)
	moved := s.runAt(t, 72*time.Hour)
	c := s.client(t).signedIn(s.viewer)

	p := c.get("/runs/" + moved.RunID)
	require.Equal(t, http.StatusOK, p.status)
	require.Less(t, len(p.body), 200<<10)
	sup := map[string]int64{}
	for _, sg := range moved.Segments {
		if len(sg.Destinations) > 0 {
			for l, n := range sg.Suppressed {
				sup[l] += n
			}
		}
	}
	for _, want := range []string{
		"<li>161 moved from abandoned-0-3d to abandoned-4-14d (on google and meta).</li>",
		"<li>Suppression lists kept " + num(sup["buyers"]+sup["shop"]) + " segment matches out of the audiences: buyers " + num(sup["buyers"]) + ", shop " + num(sup["shop"]) + ".</li>",
		"<li>2,003 records read: 1,980 valid, 0 duplicates, 23 rejected, mostly records whose key appears again with different details.</li>",
	} {
		require.Contains(t, p.body, want)
	}
	require.Less(t, strings.Index(p.body, "161 moved from"), strings.Index(p.body, "contacts sent to Google Ads"), "moves come before the destinations' sentences")

	early := segmentCard(t, p.body, "abandoned-0-3d")
	for name, want := range map[string]string{"matched": "82", "filtered": "1,238", "missing": "660", "suppressed": "24", "held-out": "0", "members": "58"} {
		require.Equal(t, want, figure(t, early, name), "abandoned-0-3d %s", name)
	}
	require.Contains(t, early, "stage of cart")
	require.Contains(t, early, `without a valid <strong>last_cart_at</strong></td><td class="n">660</td>`)
	require.Contains(t, early, `<td>shop</td><td class="n">14</td>`)
	require.Contains(t, early, `<td>buyers</td><td class="n">10</td>`)
	g := moved.DestinationNamed("abandoned-0-3d/google")
	require.Contains(t, early, `<tr data-segdest="abandoned-0-3d/google"><th scope="row">abandoned-0-3d/google <span class="muted">Google Ads</span></th><td><span class="badge s-succeeded">Succeeded</span></td><td class="n">58</td>
<td class="n">0</td><td class="n">187</td><td class="n">0</td><td class="n">187</td><td class="n">0</td></tr>`)
	require.Equal(t, int64(187), g.Applied.Removed)
	require.NotContains(t, early, "abandoned-4-14d/", "a segment lists its own destinations only")

	late := segmentCard(t, p.body, "abandoned-4-14d")
	for name, want := range map[string]string{"matched": "759", "filtered": "479", "earlier": "82", "suppressed": "111", "members": "648"} {
		require.Equal(t, want, figure(t, late, name), "abandoned-4-14d %s", name)
	}
	fv := moved.SegmentNamed("frequent-visitors")
	freq := segmentCard(t, p.body, "frequent-visitors")
	require.Positive(t, fv.HeldOut)
	require.Equal(t, num(fv.HeldOut), figure(t, freq, "held-out"))
	require.Equal(t, num(fv.Matched-fv.HeldOut-fv.Suppressed["buyers"]-fv.Suppressed["shop"]), figure(t, freq, "members"))
	buyers := segmentCard(t, p.body, "buyers")
	require.Contains(t, buyers, "sent nowhere")
	require.Equal(t, "166", figure(t, buyers, "matched"))
	require.NotContains(t, buyers, `data-figure="members"`, "a segment sent nowhere has no members after the run")

	moves := regexp.MustCompile(`<tr data-move="([^"]+)"><td>([^<]+)</td><td aria-hidden="true">→</td><td>([^<]+)</td><td>cart</td><td>([^<]+)</td><td class="n">([0-9,]+)</td></tr>`).FindAllStringSubmatch(p.body, -1)
	require.Len(t, moves, 2)
	for i, dest := range []string{"google", "meta"} {
		require.Equal(t, []string{"abandoned-0-3d→abandoned-4-14d@" + dest, "abandoned-0-3d", "abandoned-4-14d", dest, "161"}, moves[i][1:])
	}

	// The first run moved no one: the moves part says so.
	p = c.get("/runs/" + first.RunID)
	require.Contains(t, p.body, "No member moved between stages in this run")
	require.NotContains(t, p.body, " moved from ")

	cs := c.get("/runs/" + moved.RunID + "/report.csv")
	rows, err := csv.NewReader(strings.NewReader(cs.body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+5)
	last := len(rows[0]) - 1
	require.Equal(t, "segment", rows[0][last])
	for _, row := range rows[1:] {
		require.Equal(t, row[3], row[last]+"/"+strings.SplitN(row[3], "/", 2)[1], "destination %s is under segment %s", row[3], row[last])
	}

	emails := append(fixtureEmails(t), shopEmails(t)...)
	for _, path := range []string{"/", "/syncs/retargeting", "/runs/" + first.RunID, "/runs/" + moved.RunID, "/runs/" + moved.RunID + "/report.json", "/runs/" + moved.RunID + "/report.csv"} {
		p := c.get(path)
		require.Equal(t, http.StatusOK, p.status, path)
		require.Less(t, len(p.body), 200<<10, path)
		requireNoContactData(t, path, p.body, emails)
	}
}

// shopEmails are the e-mail addresses of the segments quickstart's shop
// export.
func shopEmails(t testing.TB) []string {
	t.Helper()
	return emailsIn(t, "../configs/quickstart/shop-orders.csv", 10)
}

// The overview shows a segmented sync as a row and one sub-row per
// segment with a destination, each with its destinations' sizes and
// changes; the sync page shows each segment's filter (escaped), kind and
// holdout, the suppression lists, and a chart per segment destination.
// Before any run both say so.
func TestSegmentedOverviewAndSyncPage(t *testing.T) {
	t.Parallel()
	s := setupSegments(t)
	c := s.client(t).signedIn(s.viewer)

	p := c.get("/")
	require.Equal(t, http.StatusOK, p.status)
	require.Equal(t, 3, strings.Count(p.body, `<tr class="segrow"`), "buyers has no destination, so no sub-row")
	require.Contains(t, p.body, "no runs yet")
	require.Equal(t, 5, strings.Count(p.body, "no size yet"))
	p = c.get("/syncs/retargeting")
	require.Contains(t, p.body, "No runs yet")
	require.Equal(t, 5, strings.Count(p.body, "No size yet"))

	s.runAt(t, 0)
	// A preview three days on says who would move, and marks the
	// segments' destinations as planned.
	s.clock.set(72 * time.Hour)
	op := s.client(t).signedIn(s.operator)
	p = op.post("/syncs/retargeting/preview", "/syncs/retargeting/preview", nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, "<li>161 would move from abandoned-0-3d to abandoned-4-14d (on google and meta).</li>")
	require.Contains(t, segmentCard(t, p.body, "abandoned-0-3d"), `<td class="n">0</td><td class="n">187</td></tr>`, "planned counts only")
	s.runAt(t, 72*time.Hour)

	p = c.get("/")
	require.Equal(t, http.StatusOK, p.status)
	row := func(seg string) string {
		_, rest, ok := strings.Cut(p.body, `<tr class="segrow" data-segment="retargeting/`+seg+`">`)
		require.True(t, ok, "no sub-row for %s", seg)
		r, _, _ := strings.Cut(rest, "</tr>")
		return r
	}
	early := row("abandoned-0-3d")
	require.Contains(t, early, "segment <strong>abandoned-0-3d</strong> <span class=\"muted\">stage of cart</span>")
	for _, dest := range []string{"google", "meta"} {
		require.Regexp(t, `<li><span class="dname">`+dest+`</span> <span class="size">58</span> <span class="delta down">−187</span> <svg`, early)
	}
	require.Regexp(t, `<li><span class="dname">google</span> <span class="size">624</span> <span class="delta down">−18</span> <svg`, row("abandoned-4-14d"))
	require.Contains(t, row("frequent-visitors"), "10% held out")
	require.NotContains(t, p.body, `data-segment="retargeting/buyers"`)

	p = c.get("/syncs/retargeting")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, `<code class="filter">days_since(last_cart_at) &lt;= 3</code>`, "the filter is shown, escaped")
	require.Contains(t, p.body, `<code class="filter">days_since(last_cart_at) &lt;= 14 &amp;&amp; cart_value &gt;= 50</code>`)
	require.Contains(t, p.body, "stage of <strong>cart</strong> (exclusive")
	require.Contains(t, p.body, "10% kept out, the same members every run")
	require.Contains(t, p.body, "<li><strong>buyers</strong>: the members of segment buyers (this sync&#39;s source)</li>")
	require.Contains(t, p.body, "<li><strong>shop</strong>: source shop_orders (csv), matched by key and by hashed e-mail and phone</li>")
	charts := strings.Split(p.body, `<figure class="chartbox">`)[1:]
	require.Len(t, charts, 5, "one chart per segment destination")
	for _, ch := range charts {
		require.Equal(t, 2, strings.Count(ch, `<circle class="pt"`), "one point per run")
	}
	require.Equal(t, 3, strings.Count(p.body, `<h3 class="chartseg">`), "charts are grouped under their segment")
	require.Contains(t, p.body, `<td>abandoned-0-3d</td><th scope="row">abandoned-0-3d/google</th>`)
}
