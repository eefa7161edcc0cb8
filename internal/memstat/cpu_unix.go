//go:build unix

package memstat

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time the process has used so far, user and system:
// benchmarks on a shared machine report work per CPU second beside wall
// time, as other processes weigh on it least.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
