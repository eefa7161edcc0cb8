package cli

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/audiencesync/audiencesync/engine"
)

// termProgress is the engine observer that draws progress bars on a
// terminal: one while the source is read, then one per destination while
// its plan is applied. Each bar clears itself when its phase ends.
type termProgress struct {
	w    io.Writer
	mu   sync.Mutex
	bars map[barKey]*progressbar.ProgressBar
	// read is how many records the source bar shows, per run: source
	// events carry running totals.
	read map[engine.RunRef]int64
}

// barKey names a bar: the source read of a run (destination empty) or the
// upload to one of its destinations.
type barKey struct {
	run         engine.RunRef
	destination string
}

// newProgress returns the progress observer for w, or nil (silent) when w
// is not a terminal.
func newProgress(w io.Writer) engine.Observer {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return nil
	}
	return newTermProgress(w)
}

func newTermProgress(w io.Writer) *termProgress {
	return &termProgress{w: w, bars: map[barKey]*progressbar.ProgressBar{}, read: map[engine.RunRef]int64{}}
}

// Observe draws ev. Bars are safe for concurrent use; the maps are not.
func (p *termProgress) Observe(ev engine.Event) {
	switch ev := ev.(type) {
	case engine.SourceProgress:
		k := barKey{run: ev.Run}
		p.mu.Lock()
		bar := p.bar(k, "reading "+ev.Run.Sync, -1)
		n := ev.Read - p.read[ev.Run]
		p.read[ev.Run] = ev.Read
		if ev.Done {
			delete(p.bars, k)
			delete(p.read, ev.Run)
		}
		p.mu.Unlock()
		_ = bar.Add64(n)
		if ev.Done {
			_ = bar.Finish()
		}
	case engine.DestinationProgress:
		if ev.Total <= 0 {
			return // nothing to upload: no bar
		}
		p.mu.Lock()
		bar := p.bar(barKey{ev.Run, ev.Destination}, "uploading to "+ev.Destination, ev.Total)
		p.mu.Unlock()
		_ = bar.Add64(ev.Members)
	case engine.DestinationDone:
		k := barKey{ev.Run, ev.Destination}
		p.mu.Lock()
		bar, ok := p.bars[k]
		delete(p.bars, k)
		p.mu.Unlock()
		if ok {
			_ = bar.Finish()
		}
	}
}

// bar returns the bar for k, starting it if need be; total < 0 when the
// total is unknown. p.mu must be held.
func (p *termProgress) bar(k barKey, label string, total int64) *progressbar.ProgressBar {
	if b, ok := p.bars[k]; ok {
		return b
	}
	b := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	p.bars[k] = b
	return b
}
