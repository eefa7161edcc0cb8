package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
)

// console is the command line's stderr, shared by log lines and the
// progress line. On a terminal the progress line is one line, redrawn in
// place; a log line first clears it and then draws it again below, so the
// two never share a line. Off a terminal there is no line to redraw:
// progress comes as plain lines of their own (see progress).
type console struct {
	w     io.Writer
	term  bool
	width int // of the terminal, in columns

	mu sync.Mutex
	// status is the progress line on screen ("" when none), shown its
	// width in columns.
	status string
	shown  int
}

// newConsole wraps stderr w. term says whether w is a terminal; the width
// comes from $COLUMNS, or 80.
func newConsole(w io.Writer, term bool) *console {
	width := 80
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		width = n
	}
	return &console{w: w, term: term, width: width}
}

// Write writes whole log lines (what the logger writes): the progress
// line, if shown, is cleared first and drawn again after.
func (c *console) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	n, err := c.w.Write(b)
	c.drawLocked()
	return n, err
}

// setStatus replaces the progress line with line ("" removes it). Off a
// terminal it does nothing.
func (c *console) setStatus(line string) {
	if !c.term {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	c.status = truncate(line, c.width-1) // the last column would wrap on some terminals
	c.drawLocked()
}

// clearLocked blanks the progress line and leaves the cursor at its
// start. Spaces, not an escape sequence, so any terminal clears.
func (c *console) clearLocked() {
	if c.shown == 0 {
		return
	}
	_, _ = io.WriteString(c.w, "\r"+strings.Repeat(" ", c.shown)+"\r")
	c.shown = 0
}

// drawLocked draws the progress line from the start of the cursor's line,
// which is blank.
func (c *console) drawLocked() {
	if c.status == "" {
		return
	}
	_, _ = io.WriteString(c.w, c.status)
	c.shown = utf8.RuneCountInString(c.status)
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// progress is the engine observer that shows what a run is doing on
// stderr: reading the source, then for each destination how many of its
// planned changes are settled, and the status of each once it is done.
// On a terminal it is one combined line, redrawn in place at most every
// redraw (and at once when a phase ends); off a terminal it writes that
// same line as a plain line of its own at most every plainEvery, so a
// long run in a log file shows it is alive and a short one stays quiet.
type progress struct {
	c   *console
	now func() time.Time
	// redraw bounds terminal redraws, plainEvery plain lines.
	redraw, plainEvery time.Duration

	mu   sync.Mutex
	runs []*runProgress // in the order they started
	last time.Time      // of the last line drawn or written
}

// runProgress is what one run has done so far.
type runProgress struct {
	ref     engine.RunRef
	read    int64
	reading bool
	dests   []*destProgress
}

// destProgress is what one destination has done so far.
type destProgress struct {
	name        string
	done, total int64
	planned     bool
	status      report.Status // "" until final
}

// The default pace of a progress display.
const (
	progressRedraw = 100 * time.Millisecond
	progressPlain  = 10 * time.Second
)

// newProgress returns the progress observer writing to c.
func newProgress(c *console) *progress {
	return &progress{c: c, now: time.Now, redraw: progressRedraw, plainEvery: progressPlain}
}

// Observe updates what a run has done and shows it. It is safe for
// concurrent use and returns quickly: drawing is one short write.
func (p *progress) Observe(ev engine.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	force := false // a phase ended: show it at once
	switch ev := ev.(type) {
	case engine.RunStarted:
		r := &runProgress{ref: ev.Run, reading: true}
		for _, d := range ev.Destinations {
			r.dests = append(r.dests, &destProgress{name: d})
		}
		p.runs = append(p.runs, r)
		p.last, force = now, p.c.term
	case engine.SourceProgress:
		if r := p.run(ev.Run); r != nil {
			r.read = ev.Read
			if ev.Done {
				r.reading, force = false, true
			}
		}
	case engine.DestinationPlanned:
		if d := p.dest(ev.Run, ev.Destination); d != nil {
			d.planned, d.total = true, ev.Changes
		}
	case engine.DestinationProgress:
		if d := p.dest(ev.Run, ev.Destination); d != nil {
			d.planned, d.done, d.total = true, min(ev.Done, ev.Total), ev.Total
		}
	case engine.DestinationDone:
		if d := p.dest(ev.Run, ev.Destination); d != nil {
			d.status, force = ev.Status, true
		}
	case engine.RunFinished:
		for i, r := range p.runs {
			if r.ref == ev.Run {
				p.runs = append(p.runs[:i], p.runs[i+1:]...)
				break
			}
		}
		if len(p.runs) == 0 {
			// The report comes next, on a clean line.
			p.c.setStatus("")
			return
		}
		force = true
	default:
		return
	}
	p.show(now, force)
}

// show draws the line on a terminal, or writes it as a plain line when
// its time has come. p.mu is held.
func (p *progress) show(now time.Time, force bool) {
	if p.c.term {
		if force || now.Sub(p.last) >= p.redraw {
			p.last = now
			p.c.setStatus(p.line())
		}
		return
	}
	if now.Sub(p.last) >= p.plainEvery {
		p.last = now
		_, _ = p.c.Write([]byte("progress: " + p.line() + "\n"))
	}
}

func (p *progress) run(ref engine.RunRef) *runProgress {
	for _, r := range p.runs {
		if r.ref == ref {
			return r
		}
	}
	return nil
}

func (p *progress) dest(ref engine.RunRef, name string) *destProgress {
	if r := p.run(ref); r != nil {
		for _, d := range r.dests {
			if d.name == name {
				return d
			}
		}
	}
	return nil
}

// line words every run in progress: "cart: google 2000/5000 (40%),
// meta succeeded, x planning".
func (p *progress) line() string {
	parts := make([]string, 0, len(p.runs))
	for _, r := range p.runs {
		if r.reading {
			parts = append(parts, fmt.Sprintf("%s: reading, %d records", r.ref.Sync, r.read))
			continue
		}
		ds := make([]string, 0, len(r.dests))
		for _, d := range r.dests {
			ds = append(ds, d.String())
		}
		parts = append(parts, r.ref.Sync+": "+strings.Join(ds, ", "))
	}
	return strings.Join(parts, "; ")
}

// String words one destination's progress, in planned changes settled.
func (d *destProgress) String() string {
	switch {
	case d.status != "":
		return d.name + " " + string(d.status)
	case !d.planned:
		return d.name + " planning"
	case d.total == 0:
		return d.name + " nothing to send"
	}
	return fmt.Sprintf("%s %d/%d (%d%%)", d.name, d.done, d.total, 100*d.done/d.total)
}
