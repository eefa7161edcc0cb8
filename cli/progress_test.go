package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
)

// terminal records the bytes written to it and plays them on a screen of
// rows the way a terminal does with carriage returns and newlines.
type terminal struct{ lockedBuffer }

// screen is what the terminal shows: one string per row, trailing blanks
// trimmed; the last row is the one the cursor is on.
func (t *terminal) screen() []string {
	rows := [][]rune{nil}
	col := 0
	for _, r := range t.String() {
		row := &rows[len(rows)-1]
		switch r {
		case '\r':
			col = 0
		case '\n':
			rows = append(rows, nil)
			col = 0
		default:
			for len(*row) <= col {
				*row = append(*row, ' ')
			}
			(*row)[col] = r
			col++
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.TrimRight(string(r), " ")
	}
	return out
}

// clock is a settable clock for a progress display.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// setupProgress returns a progress display on a recorded stream, a
// terminal or not, with a logger writing to the same console as the CLI's
// does, and its clock.
func setupProgress(t *testing.T, term bool) (*progress, *terminal, *zap.Logger, *clock) {
	t.Helper()
	out := &terminal{}
	con := newConsole(out, term)
	con.width = 80
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := newProgress(con)
	p.now = clk.Now
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", EncodeLevel: zapcore.CapitalLevelEncoder})
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(con), zapcore.InfoLevel))
	return p, out, log, clk
}

var progressRun = engine.RunRef{ID: "r1", Sync: "cart"}

// TestProgressLineOnATerminal plays a run on a fake terminal: one combined
// line, redrawn in place, that log lines never glue onto: each log line
// has a row of its own and the progress line is drawn again below it.
// Once the run ends the line is gone, so the report starts on a clean
// row.
func TestProgressLineOnATerminal(t *testing.T) {
	t.Parallel()
	p, term, log, clk := setupProgress(t, true)
	last := func() string { s := term.screen(); return s[len(s)-1] }
	step := func(ev engine.Event) { clk.add(time.Second); p.Observe(ev) }

	step(engine.RunStarted{Run: progressRun, Destinations: []string{"google", "meta", "x"}})
	require.Equal(t, "cart: reading, 0 records", last())
	step(engine.SourceProgress{Run: progressRun, Read: 1024})
	require.Equal(t, "cart: reading, 1024 records", last(), "redrawn in place")
	log.Info("google retrying batch 1 (add, 100 members) in 4s: 503 Service Unavailable, attempt 2 of 8")
	step(engine.SourceProgress{Run: progressRun, Read: 2100, Done: true})
	require.Equal(t, "cart: google planning, meta planning, x planning", last())
	step(engine.DestinationPlanned{Run: progressRun, Destination: "google", Changes: 300})
	step(engine.DestinationPlanned{Run: progressRun, Destination: "meta", Changes: 3000})
	step(engine.DestinationPlanned{Run: progressRun, Destination: "x"})
	step(engine.DestinationProgress{Run: progressRun, Destination: "google", Members: 100, Done: 100, Total: 300})
	require.Equal(t, "cart: google 100/300 (33%), meta 0/3000 (0%), x nothing to send", last())
	log.Warn("batch failed")
	step(engine.DestinationDone{Run: progressRun, Destination: "x", Status: report.StatusSucceeded})
	step(engine.DestinationProgress{Run: progressRun, Destination: "meta", Members: 1000, Done: 1000, Total: 3000})
	step(engine.DestinationDone{Run: progressRun, Destination: "google", Status: report.StatusInterrupted})
	require.Equal(t, "cart: google interrupted, meta 1000/3000 (33%), x succeeded", last())
	step(engine.RunFinished{Run: progressRun, Status: report.StatusInterrupted})

	require.Equal(t, []string{
		"INFO\tgoogle retrying batch 1 (add, 100 members) in 4s: 503 Service Unavailable, attempt 2 of 8",
		"WARN\tbatch failed",
		"",
	}, term.screen(), "log lines whole on rows of their own; the progress line cleared at the end")
	require.NotContains(t, term.String(), "\x1b", "no escape sequences: spaces clear the line")
}

// TestProgressRedrawIsThrottled: on a terminal, progress within one redraw
// interval is not drawn, unless a phase ends.
func TestProgressRedrawIsThrottled(t *testing.T) {
	t.Parallel()
	p, term, _, clk := setupProgress(t, true)
	last := func() string { s := term.screen(); return s[len(s)-1] }
	p.Observe(engine.RunStarted{Run: progressRun, Destinations: []string{"google"}})
	clk.add(10 * time.Millisecond)
	p.Observe(engine.SourceProgress{Run: progressRun, Read: 1024})
	require.Equal(t, "cart: reading, 0 records", last(), "too soon to redraw")
	clk.add(progressRedraw)
	p.Observe(engine.SourceProgress{Run: progressRun, Read: 2048})
	require.Equal(t, "cart: reading, 2048 records", last())
	clk.add(time.Millisecond)
	p.Observe(engine.SourceProgress{Run: progressRun, Read: 2100, Done: true})
	require.Equal(t, "cart: google planning", last(), "the end of a phase is drawn at once")
}

// TestProgressOffATerminal: off a terminal, progress comes as plain lines
// of their own, at most one per interval, and none for a short run; log
// lines pass through untouched.
func TestProgressOffATerminal(t *testing.T) {
	t.Parallel()
	p, term, log, clk := setupProgress(t, false)
	p.Observe(engine.RunStarted{Run: progressRun, Destinations: []string{"google"}})
	p.Observe(engine.SourceProgress{Run: progressRun, Read: 1024})
	log.Info("run started")
	clk.add(progressPlain)
	p.Observe(engine.SourceProgress{Run: progressRun, Read: 2100, Done: true})
	clk.add(time.Second)
	p.Observe(engine.DestinationPlanned{Run: progressRun, Destination: "google", Changes: 300})
	clk.add(progressPlain)
	p.Observe(engine.DestinationProgress{Run: progressRun, Destination: "google", Members: 200, Done: 200, Total: 300})
	p.Observe(engine.DestinationDone{Run: progressRun, Destination: "google", Status: report.StatusSucceeded})
	p.Observe(engine.RunFinished{Run: progressRun, Status: report.StatusSucceeded})
	require.Equal(t, "INFO\trun started\n"+
		"progress: cart: google planning\n"+
		"progress: cart: google 200/300 (66%)\n", term.String())
}

// TestProgressUnderConcurrentLogging draws progress from several
// goroutines while others log: every log line still has its row to itself.
func TestProgressUnderConcurrentLogging(t *testing.T) {
	t.Parallel()
	p, term, log, clk := setupProgress(t, true)
	dests := []string{"google", "meta", "x"}
	p.Observe(engine.RunStarted{Run: progressRun, Destinations: dests})
	p.Observe(engine.SourceProgress{Run: progressRun, Read: 100, Done: true})
	var wg sync.WaitGroup
	for _, d := range dests {
		wg.Go(func() {
			for i := range 50 {
				clk.add(progressRedraw)
				p.Observe(engine.DestinationProgress{Run: progressRun, Destination: d, Members: 10, Done: int64(i+1) * 10, Total: 500})
			}
		})
		wg.Go(func() {
			for i := range 20 {
				log.Info(fmt.Sprintf("%s batch %d done", d, i))
			}
		})
	}
	wg.Wait()
	p.Observe(engine.RunFinished{Run: progressRun, Status: report.StatusSucceeded})
	rows := term.screen()
	require.Len(t, rows, 61)
	for _, r := range rows[:60] {
		require.Regexp(t, `^INFO\t(google|meta|x) batch \d+ done$`, r)
	}
	require.Empty(t, rows[60])
}

func TestConsoleTruncatesTheLine(t *testing.T) {
	t.Parallel()
	out := &terminal{}
	con := newConsole(out, true)
	con.width = 30
	con.setStatus(strings.Repeat("é", 40))
	require.Equal(t, []string{strings.Repeat("é", 28) + "…"}, out.screen(), "one column short of the width")
	con.setStatus("short")
	require.Equal(t, []string{"short"}, out.screen(), "a shorter line leaves nothing of the longer one")
}

func TestDestinationProgressWording(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    destProgress
		want string
	}{
		{destProgress{name: "google"}, "google planning"},
		{destProgress{name: "google", planned: true}, "google nothing to send"},
		{destProgress{name: "google", planned: true, done: 1, total: 3}, "google 1/3 (33%)"},
		{destProgress{name: "google", planned: true, done: 3, total: 3, status: report.StatusPartial}, "google partial"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.d.String())
	}
}

// TestConsoleIsATerminalOnlyOnACharDevice: a buffer or a regular file is
// no terminal, so no line is redrawn there.
func TestConsoleIsATerminalOnlyOnACharDevice(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer f.Close()
	require.False(t, (&app{stderr: &terminal{}}).console().term, "not a file")
	require.False(t, (&app{stderr: f}).console().term, "a file, not a terminal")
}
