package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
)

func TestProgressIsSilentOffATerminal(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer f.Close()
	require.Nil(t, newProgress(&bytes.Buffer{}), "not a file")
	require.Nil(t, newProgress(f), "a file, not a terminal")
}

// TestProgressBarsPerPhase feeds the observer a run's events: one bar for
// the read, one per destination with something to upload, each gone once
// its phase ends.
func TestProgressBarsPerPhase(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	p := newTermProgress(&out)
	run := engine.RunRef{ID: "r1", Sync: "cart"}

	p.Observe(engine.RunStarted{Run: run, Destinations: []string{"google", "meta", "empty"}})
	for _, n := range []int64{0, 1024, 2048, 2100} {
		p.Observe(engine.SourceProgress{Run: run, Read: n, Valid: n})
	}
	read := p.bars[barKey{run: run}]
	require.InDelta(t, 2100, read.State().CurrentBytes, 0, "the bar counts rows read")
	p.Observe(engine.SourceProgress{Run: run, Read: 2100, Valid: 2100, Done: true})
	require.Contains(t, out.String(), "reading cart")
	require.True(t, read.IsFinished())
	require.Empty(t, p.bars, "the read bar ends with the read")

	var wg sync.WaitGroup
	for _, d := range []string{"google", "meta"} {
		wg.Go(func() {
			p.Observe(engine.DestinationProgress{Run: run, Destination: d, Total: 300})
			for i := range 3 {
				p.Observe(engine.DestinationProgress{Run: run, Destination: d, Members: 100, Done: int64(i+1) * 100, Total: 300})
			}
		})
	}
	p.Observe(engine.DestinationProgress{Run: run, Destination: "empty"})
	wg.Wait()
	require.Len(t, p.bars, 2, "one bar per destination with changes to apply")
	for _, d := range []string{"google", "meta"} {
		st := p.bars[barKey{run, d}].State()
		require.Equal(t, int64(300), st.CurrentNum, d)
		require.Equal(t, int64(300), st.Max, d)
	}
	for _, d := range []string{"google", "meta", "empty"} {
		p.Observe(engine.DestinationDone{Run: run, Destination: d, Status: report.StatusSucceeded})
	}
	require.Empty(t, p.bars)
	require.Contains(t, out.String(), "uploading to google")
	require.Contains(t, out.String(), "uploading to meta")
	require.NotContains(t, out.String(), "uploading to empty")
	require.True(t, strings.HasSuffix(strings.TrimRight(out.String(), " "), "\r"), "finished bars clear their line")
	p.Observe(engine.RunFinished{Run: run, Status: report.StatusSucceeded})
}
