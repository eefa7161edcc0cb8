// Package memstat reads the process's peak resident set size and CPU time, for
// benchmarks that report how much memory and CPU a read took.
package memstat

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// ResetPeakRSS starts the kernel's peak-RSS count afresh (Linux; elsewhere
// the peak stays the process's).
func ResetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// PeakRSS is the process's peak resident set in bytes (VmHWM) since it
// started or since ResetPeakRSS, 0 when unknown.
func PeakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
