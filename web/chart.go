package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

// The size chart's geometry, in SVG user units (it scales to its box).
const (
	chartW, chartH = 640, 220
	padLeft        = 64 // room for the size labels
	padRight       = 16
	padTop         = 12
	padBottom      = 36 // room for the date labels
)

// sizeChart draws one destination's audience size after each run as an
// SVG line with one marked point per run (its exact figure in a tooltip:
// <title>), size labels on the left and the first and last run's dates
// below. The page puts the same points in a table beside it.
func sizeChart(name string, points []state.SizePoint) template.HTML {
	if len(points) == 0 {
		return ""
	}
	lo, hi := points[0].Members, points[0].Members
	for _, p := range points {
		lo, hi = min(lo, p.Members), max(hi, p.Members)
	}
	lo, hi = niceRange(lo, hi)
	first, last := points[0].Finished, points[len(points)-1].Finished
	span := last.Sub(first)
	x := func(i int, at time.Time) float64 {
		w := float64(chartW - padLeft - padRight)
		switch {
		case len(points) == 1:
			return padLeft + w/2
		case span <= 0:
			return padLeft + w*float64(i)/float64(len(points)-1)
		}
		return padLeft + w*float64(at.Sub(first))/float64(span)
	}
	y := func(n int64) float64 {
		h := float64(chartH - padTop - padBottom)
		return padTop + h - h*float64(n-lo)/float64(hi-lo)
	}
	var b strings.Builder
	esc := template.HTMLEscapeString
	id := "chart-" + slug(name)
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d">`, chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">Audience size of %s after each run</title>`, id, esc(name))
	fmt.Fprintf(&b, `<desc id="%s-d">%d %s from %s to %s; from %s to %s members.</desc>`, id, len(points), plural(int64(len(points)), "run", "runs"),
		first.UTC().Format("2 Jan 2006 15:04 UTC"), last.UTC().Format("2 Jan 2006 15:04 UTC"), num(points[0].Members), num(points[len(points)-1].Members))
	// Axes and three size gridlines with their labels.
	for i := range 3 {
		v := lo + (hi-lo)*int64(i)/2
		yy := y(v)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, padLeft, yy, chartW-padRight, yy)
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-6, yy+4, num(v))
	}
	fmt.Fprintf(&b, `<line class="axisline" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padLeft, chartH-padBottom, chartW-padRight, chartH-padBottom)
	// Times are UTC, labelled so; data-time lets the page's script show
	// them, and the zone in the axis title, in the viewer's time zone.
	fmt.Fprintf(&b, `<text class="axis" x="%d" y="%d" text-anchor="start" data-time="%s">%s</text>`, padLeft, chartH-padBottom+18,
		first.UTC().Format(time.RFC3339), first.UTC().Format("2 Jan 15:04"))
	if len(points) > 1 {
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%d" text-anchor="end" data-time="%s">%s</text>`, chartW-padRight, chartH-padBottom+18,
			last.UTC().Format(time.RFC3339), last.UTC().Format("2 Jan 15:04"))
	}
	fmt.Fprintf(&b, `<text class="axis" x="%d" y="%d" text-anchor="middle" data-axis-zone>run finished (UTC) · members</text>`, (padLeft+chartW-padRight)/2, chartH-4)
	var path strings.Builder
	for i, p := range points {
		sep := " L"
		if i == 0 {
			sep = "M"
		}
		fmt.Fprintf(&path, "%s%.1f %.1f", sep, x(i, p.Finished), y(p.Members))
	}
	fmt.Fprintf(&b, `<path class="line" d="%s"/>`, path.String())
	for i, p := range points {
		fmt.Fprintf(&b, `<circle class="pt" cx="%.1f" cy="%.1f" r="3.5" data-run="%s"><title data-time="%s" data-suffix=": %s members">%s: %s members</title></circle>`,
			x(i, p.Finished), y(p.Members), esc(p.RunID), p.Finished.UTC().Format(time.RFC3339), num(p.Members),
			p.Finished.UTC().Format("2 Jan 2006 15:04 UTC"), num(p.Members))
	}
	b.WriteString(`</svg>`)
	// Built here from numbers and escaped names only.
	return template.HTML(b.String())
}

// sparkline draws a small line of sizes, for the overview.
func sparkline(name string, points []state.SizePoint) template.HTML {
	if len(points) < 2 {
		return ""
	}
	const w, h = 96, 24
	lo, hi := points[0].Members, points[0].Members
	for _, p := range points {
		lo, hi = min(lo, p.Members), max(hi, p.Members)
	}
	if lo == hi {
		lo, hi = lo-1, hi+1
	}
	var pts strings.Builder
	for i, p := range points {
		fmt.Fprintf(&pts, "%.0f,%.0f ", float64(w)*float64(i)/float64(len(points)-1), 2+float64(h-4)*(1-float64(p.Members-lo)/float64(hi-lo)))
	}
	label := fmt.Sprintf("%s: %s to %s members over %d runs", name, num(points[0].Members), num(points[len(points)-1].Members), len(points))
	return template.HTML(fmt.Sprintf(`<svg class="spark" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s"><polyline points="%s"/></svg>`,
		w, h, w, h, template.HTMLEscapeString(label), strings.TrimSpace(pts.String())))
}

// niceRange widens [lo, hi] to round numbers with some room, so the
// labels read well and a flat line sits in the middle.
func niceRange(lo, hi int64) (int64, int64) {
	if lo == hi {
		d := max(lo/10, 1)
		lo = max(lo-d, 0)
		return lo, lo + 2*d
	}
	step := int64(1)
	for (hi-lo)/step >= 5 {
		step *= 10
	}
	lo = lo / step * step
	if hi%step != 0 {
		hi = (hi/step + 1) * step
	}
	if (hi-lo)%2 != 0 {
		hi += step
	}
	return lo, hi
}

// slug makes a name usable in an element id.
func slug(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}
