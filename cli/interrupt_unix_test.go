//go:build unix

package cli

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
)

// TestInterruptedSyncSaysSo sends SIGINT to a real sync process once X
// has answered its second upload: the process stops, its report (printed
// and stored) says interrupted for the run and for X, every planned member
// is accounted for, with those never sent (or whose answer the interrupt
// cut off) as not attempted, and the next run sends exactly those.
func TestInterruptedSyncSaysSo(t *testing.T) {
	t.Parallel()
	const contacts = 20000 // X takes 2,500 a request: eight uploads
	b := newBed(t, "x")
	b.contacts(contacts, 0)
	k := b.k
	k.match, k.nth, k.sig = post("/custom_audiences/", "/users"), 2, syscall.SIGINT
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullRefreshCrashConverges$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CLI_CRASH_CONFIG="+b.cfg, "CLI_CRASH_ARGS=--output json")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	k.armed.Store(true)
	k.mu.Lock()
	require.NoError(t, cmd.Start())
	k.child = cmd.Process
	k.mu.Unlock()
	err := cmd.Wait()
	k.armed.Store(false)
	require.True(t, k.fired.Load(), "the signal was sent")
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v\n%s", err, stderr.String())
	require.Equal(t, ExitFailed, ee.ExitCode(), stderr.String())

	var rep report.Report
	require.NoError(t, json.Unmarshal([]byte(stdout.String()), &rep), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	require.Equal(t, report.StatusInterrupted, rep.Status)
	require.NoError(t, rep.CheckCounts())
	x := destinationNamed(t, &rep, "x")
	require.Equal(t, report.StatusInterrupted, x.Status)
	require.Equal(t, int64(contacts), x.Planned.Add)
	require.Zero(t, x.Applied.Added%2500, "whole uploads committed, whether or not their answers were read in time")
	require.Positive(t, x.Applied.NotAttempted, "the uploads never sent are not attempted")
	require.Zero(t, x.Applied.Failed, "an interrupt fails nothing")

	shown := run(t, "", "report", rep.RunID, "--config", b.cfg, "--output", "json")
	require.Equal(t, ExitOK, shown.code, shown.stderr)
	var stored report.Report
	require.NoError(t, json.Unmarshal([]byte(shown.stdout), &stored))
	require.Equal(t, rep.Status, stored.Status, "the stored report says the same")

	next := b.sync()
	require.Equal(t, x.Applied.NotAttempted, destinationNamed(t, next, "x").Applied.Added, "the next run sends what was not attempted")
	b.requireExact(next, contacts)
}
