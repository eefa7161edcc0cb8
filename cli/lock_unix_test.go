//go:build unix

package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// process is an audiencesync process started from the test binary.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan struct{}
}

func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.CommandContext(t.Context(), os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), mainEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// exit waits for the process and returns its exit code.
func (p *process) exit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("the process did not exit; stderr:\n%s", p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *process) report(t *testing.T) *report.Report {
	t.Helper()
	var rep report.Report
	require.NoError(t, json.Unmarshal([]byte(p.stdout.String()), &rep), "stdout: %s\nstderr: %s", p.stdout.String(), p.stderr.String())
	return &rep
}

// TestTwoProcessesOneSync starts real audiencesync processes on one config
// and state at once. The export is a named pipe the test writes only when
// it chooses, so the first process holds the sync for as long as the test
// needs: a second process refuses with exit status 4 and names the
// holder; a third, with --wait, runs once the first is done and finds
// nothing left to send. The sandbox audiences are exact afterwards.
func TestTwoProcessesOneSync(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	dir := filepath.Join(filepath.Dir(cfg), "quickstart")
	csvPath := filepath.Join(dir, "contacts.csv")
	contacts, err := os.ReadFile(csvPath)
	require.NoError(t, err)
	require.NoError(t, os.Remove(csvPath))
	require.NoError(t, syscall.Mkfifo(csvPath, 0o600))
	// feed writes the export to the process that has the pipe open for
	// reading, waiting for one to open it. Opening without blocking fails
	// while there is no reader, so a test gone wrong fails instead of
	// hanging.
	feed := func(reader *process) {
		t.Helper()
		var f *os.File
		require.Eventually(t, func() bool {
			w, err := os.OpenFile(csvPath, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			f = w
			return err == nil
		}, 2*time.Minute, 10*time.Millisecond, "no process opened the export; the reader's log:\n%s", reader.stderr)
		_, err = f.Write(contacts)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}

	first := startProcess(t, "sync", "--config", cfg, "--output", "json", "--log-format", "json")
	// Wait until the first process holds the sync's lock.
	dbPath := filepath.Join(dir, "audiencesync.db")
	require.Eventually(t, func() bool { _, err := os.Stat(dbPath); return err == nil }, 2*time.Minute, 20*time.Millisecond)
	st, err := sqlite.Open(t.Context(), dbPath)
	require.NoError(t, err)
	defer st.Close()
	require.Eventually(t, func() bool {
		_, err := st.LockHolder(t.Context(), "sync:cart-abandoners")
		return err == nil
	}, 2*time.Minute, 20*time.Millisecond, "stderr: %s", first.stderr.String())
	holder, err := st.LockHolder(t.Context(), "sync:cart-abandoners")
	require.NoError(t, err)
	require.Equal(t, first.cmd.Process.Pid, holder.PID)

	refused := startProcess(t, "sync", "--config", cfg, "--output", "json")
	require.Equal(t, ExitBusy, refused.exit(t), refused.stderr.String())
	msg := refused.stderr.String()
	host, _ := os.Hostname()
	for _, want := range []string{"sync cart-abandoners is already running",
		fmt.Sprintf("process %d on host %s", holder.PID, host), "--wait"} {
		require.Contains(t, msg, want)
	}
	require.Empty(t, refused.stdout.String(), "no run, no report")
	t.Logf("the refusal reads: %s", msg)

	waiting := startProcess(t, "sync", "--config", cfg, "--output", "json", "--log-format", "json", "--wait", "10m")
	require.Eventually(t, func() bool { return strings.Contains(waiting.stderr.String(), "waiting for its lock") },
		2*time.Minute, 20*time.Millisecond, "stderr: %s", waiting.stderr.String())
	require.True(t, first.running())

	feed(first) // to the first process: the waiting one cannot open the pipe yet
	require.Equal(t, ExitOK, first.exit(t), first.stderr.String())
	feed(waiting) // to the one that waited, now holding the lock
	require.Equal(t, ExitOK, waiting.exit(t), waiting.stderr.String())

	repA, repC := first.report(t), waiting.report(t)
	require.Equal(t, report.StatusSucceeded, repA.Status)
	require.Equal(t, report.StatusSucceeded, repC.Status)
	require.False(t, repC.StartedAt.Before(repA.FinishedAt), "the runs do not overlap")
	for i, d := range repA.Destinations {
		require.Greater(t, d.Applied.Added, int64(1700), d.Name)
		c := repC.Destinations[i]
		require.Zero(t, c.Planned.Add+c.Planned.Remove+c.Planned.Update, "%s: the second run starts from the first's state", c.Name)
		require.Equal(t, d.AudienceID, c.AudienceID, "%s: the same remote audience", d.Name)
	}
	_, err = st.LockHolder(t.Context(), "sync:cart-abandoners")
	require.Error(t, err, "the lock is released")

	// Every sandbox audience holds exactly the source's members, and each
	// destination has one audience.
	require.NoError(t, os.Remove(csvPath))
	require.NoError(t, os.WriteFile(csvPath, contacts, 0o600))
	held := sandboxHolds(t, cfg)
	raw, err := json.Marshal(held.State(false))
	require.NoError(t, err)
	var audiences struct {
		Google struct {
			UserLists []json.RawMessage `json:"user_lists"`
		} `json:"google"`
		Meta struct {
			Audiences []json.RawMessage `json:"audiences"`
		} `json:"meta"`
		X struct {
			CustomAudiences []json.RawMessage `json:"custom_audiences"`
		} `json:"x"`
	}
	require.NoError(t, json.Unmarshal(raw, &audiences))
	require.Len(t, audiences.Google.UserLists, 1)
	require.Len(t, audiences.Meta.Audiences, 1)
	require.Len(t, audiences.X.CustomAudiences, 1)
	require.Equal(t, googleExpected(t, cfg), held.Members("google", destinationNamed(t, repC, "google").AudienceID))
	require.Equal(t, metaExpected(t, cfg), held.Members("meta", destinationNamed(t, repC, "meta").AudienceID))
	require.Equal(t, xExpected(t, cfg), held.Members("x", destinationNamed(t, repC, "x").AudienceID))
}

// TestLockedExitCodeAndRuns holds a sync's lock from outside, as a
// process killed with SIGKILL leaves it: sync refuses with exit status 4
// while the lease runs; once it has expired the next sync takes the lock
// over and runs shows the dead process's run as interrupted.
func TestLockedExitCodeAndRuns(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	dbPath := filepath.Join(filepath.Dir(cfg), "quickstart", "audiencesync.db")
	st, err := sqlite.Open(t.Context(), dbPath)
	require.NoError(t, err)
	defer st.Close()
	now := time.Now().UTC()
	_, err = st.AcquireLock(t.Context(), lockRow("dead-1", now.Add(time.Hour)), now)
	require.NoError(t, err)
	require.NoError(t, st.BeginRun(t.Context(), runRow("20260101T000000Z-dead01", now, "dead-1")))

	r := run(t, "", "sync", "--config", cfg)
	require.Equal(t, ExitBusy, r.code, r.stderr)
	require.Contains(t, r.stderr, "process 4242 on host crashed-host")
	require.Contains(t, r.stderr, "--wait DURATION")
	runs := run(t, "", "runs", "--config", cfg)
	require.Equal(t, ExitOK, runs.code, runs.stderr)
	require.Contains(t, runs.stdout, "running", "the lease still runs")
	require.NotContains(t, runs.stdout, "interrupted")

	// The process is gone: its lease runs out (shortened here rather than
	// waited for).
	now = time.Now().UTC()
	require.NoError(t, st.RenewLock(t.Context(), "sync:cart-abandoners", "dead-1", now, now.Add(time.Millisecond)))
	rep, r2 := syncJSON(t, cfg, "--wait", "30s")
	require.Equal(t, ExitOK, r2.code, r2.stderr)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	runs = run(t, "", "runs", "--config", cfg)
	require.Equal(t, ExitOK, runs.code, runs.stderr)
	require.Contains(t, runs.stdout, "interrupted")
	// The crashed run is the oldest, and has no summary rows: no
	// destination lines follow it.
	lines := strings.Split(strings.TrimSpace(runs.stdout), "\n")
	require.Contains(t, lines[len(lines)-1], "20260101T000000Z-dead01")
	require.Contains(t, lines[len(lines)-1], "interrupted")
	shown := run(t, "", "report", "20260101T000000Z-dead01", "--config", cfg)
	require.Equal(t, ExitFailed, shown.code)
	require.Contains(t, shown.stderr, "interrupted")

	r = run(t, "", "sync", "--config", cfg, "--wait", "-1s")
	require.Equal(t, ExitUsage, r.code, r.stderr)
	r = run(t, "", "sync", "--config", cfg, "--sync", "nope")
	require.Equal(t, ExitUsage, r.code, r.stderr)
	require.Contains(t, r.stderr, `no sync named "nope"`)
	r = run(t, "", "report", "no-such-run", "--config", cfg)
	require.Equal(t, ExitUsage, r.code, r.stderr)
	require.Contains(t, r.stderr, "audiencesync runs")
}

// lockRow is the lock a process 4242 on crashed-host took.
func lockRow(owner string, expires time.Time) state.Lock {
	return state.Lock{Name: "sync:cart-abandoners", Owner: owner, PID: 4242, Host: "crashed-host", Expires: expires}
}

// runRow is the run such a process began.
func runRow(id string, started time.Time, owner string) state.Run {
	return state.Run{ID: id, Sync: "cart-abandoners", Status: string(report.StatusRunning), Started: started, Owner: owner}
}
