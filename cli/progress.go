package cli

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/audiencesync/audiencesync/engine"
)

// termProgress draws progress bars on a terminal.
type termProgress struct{ w io.Writer }

// newProgress returns a progress reporter for w, or nil (silent) when w is
// not a terminal.
func newProgress(w io.Writer) engine.Progress {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return nil
	}
	return termProgress{w: w}
}

func (p termProgress) Start(label string, total int64) engine.Bar {
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return bar64{bar}
}

type bar64 struct{ b *progressbar.ProgressBar }

func (b bar64) Add(n int64) { _ = b.b.Add64(n) }
func (b bar64) Finish()     { _ = b.b.Finish() }
