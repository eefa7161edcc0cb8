package web

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

func TestScheduleWords(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]string{
		"":               "on demand only (no schedule)",
		"* * * * *":      "every minute",
		"*/5 * * * *":    "every 5 minutes",
		"*/5 8-20 * * *": "every 5 minutes from 08:00 to 20:59",
		"0 */6 * * *":    "every 6 hours",
		"30 */2 * * *":   "every 2 hours, at 30 minutes past",
		"15 * * * *":     "every hour at 15 minutes past",
		"0 9 * * *":      "at 09:00, every day",
		"0 9 * * 1-5":    "at 09:00, Monday to Friday",
		"0 6 * * 0":      "at 06:00, on Sundays",
		"0 6 1 * *":      "at 06:00, on day 1 of each month",
		"@hourly":        "every hour, on the hour",
		"@daily":         "every day at 00:00",
		"@every 10s":     "every 10 seconds",
		"@every 6h":      "every 6 hours",
		"@every 1m":      "every minute",
		"0 9 * 1 *":      "on the schedule 0 9 * 1 *",
		"1,2 * * * *":    "on the schedule 1,2 * * * *",
		"not a schedule": "on the schedule not a schedule",
	} {
		require.Equal(t, want, scheduleWords(expr), expr)
	}
}

func TestNumbersAndLines(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1917: "1,917", 1234567: "1,234,567", -2500: "−2,500"} {
		require.Equal(t, want, num(n))
	}
	require.Equal(t, "+12", signed(12))
	require.Equal(t, "−1,003", signed(-1003))
	require.Equal(t, "no change", signed(0))
	require.Equal(t, "501, 1,201 and 8 more", lineList([]int64{501, 1201}, 10))
	require.Equal(t, "501", lineList([]int64{501}, 1))
	require.Equal(t, "357 ms", duration(357*time.Millisecond))
	require.Equal(t, "3 min 5 s", duration(185*time.Second))
	require.Equal(t, "26 h", duration(26*time.Hour))
	require.Equal(t, "2 h 5 min", duration(125*time.Minute))
	require.Equal(t, "malformed e-mail addresses", reasonWords("email.malformed"))
	require.Equal(t, "some.new_reason", reasonWords("some.new_reason"), "unknown codes are shown as they are")
}

func TestLocalPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/runs/abc":             "/runs/abc",
		"/syncs/x?after=y":      "/syncs/x?after=y",
		"":                      "",
		"https://evil.example/": "",
		"//evil.example/":       "",
		"/\\evil.example":       "",
		"runs/abc":              "",
		"javascript:alert(1)":   "",
	} {
		require.Equal(t, want, localPath(in), in)
	}
}

func TestNiceRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ lo, hi, wantLo, wantHi int64 }{
		{1917, 1917, 1726, 2108},
		{0, 0, 0, 2},
		{1881, 1917, 1880, 1920},
		{36, 2003, 0, 3000},
	} {
		lo, hi := niceRange(tc.lo, tc.hi)
		require.Equal(t, [2]int64{tc.wantLo, tc.wantHi}, [2]int64{lo, hi}, "%d..%d", tc.lo, tc.hi)
		require.LessOrEqual(t, lo, tc.lo)
		require.GreaterOrEqual(t, hi, tc.hi)
		require.Zero(t, (hi-lo)%2, "the middle gridline is a whole number")
	}
}

// The chart has one point per run with its exact size in a tooltip, and
// the sparkline needs two.
func TestSizeChart(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var points []state.SizePoint
	for i, n := range []int64{1917, 1930, 1899, 2004} {
		points = append(points, state.SizePoint{RunID: "r" + string(rune('a'+i)), Finished: t0.Add(time.Duration(i) * time.Hour), Members: n})
	}
	svg := string(sizeChart("exports/google", points))
	require.Equal(t, 4, strings.Count(svg, `<circle class="pt"`))
	require.Contains(t, svg, `data-suffix=": 2,004 members">2 Mar 2026 13:00 UTC: 2,004 members</title>`)
	require.Contains(t, svg, `aria-labelledby="chart-exports-google-t chart-exports-google-d"`)
	require.Contains(t, svg, ">1,800</text>")
	require.Contains(t, svg, ">2,100</text>", "size labels on round numbers")
	require.Empty(t, sizeChart("x", nil))
	require.Empty(t, sparkline("x", points[:1]))
	require.Contains(t, string(sparkline("x", points)), `<polyline points="0,19 32,16 64,22 96,2"`)
}

// Every status the report package knows has a badge of its own, and the
// statuses of a run that did not go as asked tell the reader what to do.
func TestStatusWords(t *testing.T) {
	t.Parallel()
	needAdvice := map[report.Status]bool{report.StatusPlanned: true, report.StatusPartial: true, report.StatusFailed: true,
		report.StatusAborted: true, report.StatusInterrupted: true}
	for _, st := range report.Statuses() {
		require.NotEqual(t, string(st), statusText(string(st)), "badge of %s", st)
		require.Equal(t, needAdvice[st], adviceFor(st) != "", "advice for %s", st)
	}
	require.Equal(t, "Never run", statusText(""))
	require.Equal(t, "a-new-status", statusText("a-new-status"), "an unknown status is shown as it is")
}
