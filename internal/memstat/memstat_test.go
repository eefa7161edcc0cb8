package memstat_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/internal/memstat"
)

// TestPeakRSSGrows touches 64 MB and finds the peak at least that high.
func TestPeakRSSGrows(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is Linux's")
	}
	memstat.ResetPeakRSS()
	before := memstat.PeakRSS()
	require.Positive(t, before)
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	require.GreaterOrEqual(t, memstat.PeakRSS(), before+60<<20)
	runtime.KeepAlive(b)
}

func TestCPUTime(t *testing.T) {
	before := memstat.CPUTime()
	x := 0
	for i := range 50_000_000 {
		x ^= i
	}
	runtime.KeepAlive(x)
	require.Greater(t, memstat.CPUTime(), before, "work costs CPU time")
}
