package capacity

import (
	"syscall"
	"time"
)

// rusageThread is RUSAGE_THREAD: the calling thread's own usage.
const rusageThread = 1

// threadTime is the CPU time the calling OS thread has used (user and
// system); the caller locks its goroutine to the thread. It falls back to
// the wall clock if the system refuses.
func threadTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
