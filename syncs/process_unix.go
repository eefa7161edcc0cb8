//go:build linux

package syncs

import (
	"errors"
	"os"
	"syscall"
)

// pidNamespace identifies this process's PID namespace, so that a lock
// holder's pid is only ever looked up where it means the same process:
// two containers may share a host name but not their pids.
func pidNamespace() string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return ns
}

// processGone reports whether no process has pid in this PID namespace.
func processGone(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}
