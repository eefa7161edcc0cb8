package syncs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/builtin"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
	"github.com/audiencesync/audiencesync/syncs"
)

// gate holds the reads of a "gated" source until the test opens it, so a
// test can keep a run going (and its lock held) as long as it needs.
type gate struct {
	entered chan struct{} // one value per read that reached the gate
	open    chan struct{} // closed to let reads through
	once    sync.Once
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

var gates sync.Map // gate name → *gate

type gatedSettings struct {
	Gate    string `yaml:"gate"`
	Members int    `yaml:"members"`
}

type gatedSource struct {
	g *gate
	n int
}

func (s *gatedSource) Read(ctx context.Context, _ connectors.ReadRequest, out connectors.Emitter) error {
	s.g.entered <- struct{}{}
	select {
	case <-s.g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	for i := range s.n {
		m := audience.Member{Key: fmt.Sprintf("id-%d", i), Line: int64(i + 2)}
		m.Fields[audience.Email] = fmt.Sprintf("member-%d@example.com", i)
		if err := out.Emit(&m); err != nil {
			return err
		}
	}
	return nil
}

func (s *gatedSource) Close() error { return nil }

// registry is the built-in registry plus the gated source.
func registry() *connectors.Registry {
	r := builtin.Registry().Clone()
	r.Register(connectors.Spec{
		Type: "gated", Role: connectors.RoleSource, Summary: "test source held at a gate",
		Settings: func() any { return &gatedSettings{} },
		NewSource: connectors.SourceFunc(func(s *gatedSettings, _ connectors.Env) (*gatedSource, error) {
			g, ok := gates.Load(s.Gate)
			if !ok {
				return nil, fmt.Errorf("no gate %q", s.Gate)
			}
			return &gatedSource{g: g.(*gate), n: s.Members}, nil
		}),
	})
	return r
}

const testConfig = `state:
  path: ./state.db
connections:
  crm:
    type: gated
    gate: %s
    members: 20
  exports:
    type: file
    dir: ./out
    formats: [google]
syncs:
  - name: buyers
    source:
      connection: crm
      key: id
      fields: {email: email}
    destinations:
      - connection: exports
`

type bundle struct {
	svc  *syncs.Service
	gate *gate
	dir  string
}

// setup writes a config whose sync reads a gated source of 20 members
// into a file destination, and opens a service on it.
func setup(t *testing.T, opts syncs.Options) *bundle {
	t.Helper()
	return setupWith(t, opts, "")
}

// setupWith is setup with extra lines appended to the sync's config.
func setupWith(t *testing.T, opts syncs.Options, extra string) *bundle {
	t.Helper()
	dir := t.TempDir()
	name := strings.ReplaceAll(t.Name(), "/", "_")
	g := &gate{entered: make(chan struct{}, 16), open: make(chan struct{})}
	gates.Store(name, g)
	t.Cleanup(func() { g.release(); gates.Delete(name) })
	path := filepath.Join(dir, "audiencesync.yaml")
	require.NoError(t, os.WriteFile(path, append(fmt.Appendf(nil, testConfig, name), extra...), 0o600))
	opts.ConfigPath, opts.Registry = path, registry()
	svc, err := syncs.Open(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return &bundle{svc: svc, gate: g, dir: dir}
}

type outcome struct {
	rep *report.Report
	err error
}

// start runs the sync in the background; the run's outcome arrives on the
// channel.
func (b *bundle) start(ctx context.Context, opts syncs.RunOptions) <-chan outcome {
	out := make(chan outcome, 1)
	go func() {
		rep, err := b.svc.Run(ctx, "buyers", opts)
		out <- outcome{rep, err}
	}()
	return out
}

// entered waits until a run's read has reached the gate (so it holds the
// sync's lock).
func (b *bundle) entered(t *testing.T) {
	t.Helper()
	select {
	case <-b.gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no run reached the source")
	}
}

func wait(t *testing.T, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end")
		return outcome{}
	}
}

// openStore opens a second store on the service's state file, as another
// process would.
func (b *bundle) openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(b.dir, "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestRunLocksTheSyncWithinOneProcess(t *testing.T) {
	t.Parallel()
	b := setup(t, syncs.Options{})
	first := b.start(t.Context(), syncs.RunOptions{})
	b.entered(t)

	// Without waiting, a second run is refused and says who holds the sync.
	rep, err := b.svc.Run(t.Context(), "buyers", syncs.RunOptions{})
	require.Nil(t, rep, "no run took place")
	require.ErrorIs(t, err, syncs.ErrBusy)
	var busy *syncs.BusyError
	require.ErrorAs(t, err, &busy)
	host, _ := os.Hostname()
	require.Equal(t, os.Getpid(), busy.Holder.PID)
	require.Equal(t, host, busy.Holder.Host)
	require.Contains(t, err.Error(), fmt.Sprintf("process %d on host %s", os.Getpid(), host))
	require.Contains(t, err.Error(), "sync buyers is already running")

	// With a wait it runs once the first is done, never beside it.
	second := b.start(t.Context(), syncs.RunOptions{Wait: time.Minute})
	select {
	case o := <-second:
		t.Fatalf("the second run did not wait: %v", o.err)
	case <-time.After(300 * time.Millisecond):
	}
	select {
	case <-b.gate.entered:
		t.Fatal("the second run reached the source while the first holds the lock")
	default:
	}
	b.gate.release()
	o1, o2 := wait(t, first), wait(t, second)
	require.NoError(t, o1.err)
	require.NoError(t, o2.err)
	require.Equal(t, int64(20), o1.rep.Destinations[0].Applied.Added)
	require.Zero(t, o2.rep.Destinations[0].Planned.Add, "the second run starts from what the first committed")
	require.False(t, o2.rep.StartedAt.Before(o1.rep.FinishedAt), "runs of one sync do not overlap")

	_, err = b.openStore(t).LockHolder(t.Context(), "sync:buyers")
	require.ErrorIs(t, err, state.ErrNotFound, "the lock is released after the run")
}

func TestWaitIsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, syncs.Options{})
	first := b.start(t.Context(), syncs.RunOptions{})
	b.entered(t)

	began := time.Now()
	_, err := b.svc.Run(t.Context(), "buyers", syncs.RunOptions{Wait: 700 * time.Millisecond})
	took := time.Since(began)
	var busy *syncs.BusyError
	require.ErrorAs(t, err, &busy)
	require.Equal(t, 700*time.Millisecond, busy.Waited)
	require.Contains(t, err.Error(), "waited 700ms")
	require.GreaterOrEqual(t, took, 700*time.Millisecond)
	require.Less(t, took, 30*time.Second)

	// A cancelled wait ends at once.
	ctx, cancel := context.WithCancel(t.Context())
	waiting := b.start(ctx, syncs.RunOptions{Wait: time.Hour})
	time.Sleep(100 * time.Millisecond)
	cancel()
	o := wait(t, waiting)
	require.ErrorIs(t, o.err, context.Canceled)
	require.Nil(t, o.rep)

	b.gate.release()
	require.NoError(t, wait(t, first).err)
}

// TestCrashedHolderIsTakenOver leaves what a process killed mid-run leaves
// (a run recorded as running, its lock no longer renewed) and checks that
// the run is listed as interrupted and that its lock is taken over once
// it expires.
func TestCrashedHolderIsTakenOver(t *testing.T) {
	t.Parallel()
	b := setup(t, syncs.Options{})
	st := b.openStore(t)
	now := time.Now().UTC()
	dead := state.Lock{Name: "sync:buyers", Owner: "dead-1", PID: 999999, Host: "gone", Expires: now.Add(time.Hour)}
	_, err := st.AcquireLock(t.Context(), dead, now.Add(-time.Minute))
	require.NoError(t, err)
	require.NoError(t, st.BeginRun(t.Context(), state.Run{ID: "r-dead", Sync: "buyers", Status: string(report.StatusRunning), Started: now.Add(-time.Minute), Owner: "dead-1"}))
	require.NoError(t, st.BeginRun(t.Context(), state.Run{ID: "r-old", Sync: "buyers", Status: string(report.StatusRunning), Started: now.Add(-time.Hour)}))

	// While its lease runs, the dead holder's run may still be going.
	runs, err := b.svc.Runs(t.Context(), "", 0)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.False(t, runs[0].Interrupted, "r-dead's lock is live")
	require.False(t, runs[1].Interrupted, "a run without an owner counts as going while the sync is locked")
	_, err = b.svc.Run(t.Context(), "buyers", syncs.RunOptions{})
	require.ErrorIs(t, err, syncs.ErrBusy)
	require.ErrorContains(t, err, "process 999999 on host gone")

	// Once it expires (shortened here rather than waited for), a waiting
	// run takes the lock over.
	now = time.Now().UTC()
	require.NoError(t, st.RenewLock(t.Context(), "sync:buyers", "dead-1", now, now.Add(300*time.Millisecond)))
	b.gate.release()
	rep, err := b.svc.Run(t.Context(), "buyers", syncs.RunOptions{Wait: 10 * time.Second})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)

	runs, err = b.svc.Runs(t.Context(), "buyers", 0)
	require.NoError(t, err)
	byID := map[string]syncs.RunRecord{}
	for _, r := range runs {
		byID[r.ID] = r
	}
	require.True(t, byID["r-dead"].Interrupted)
	require.True(t, byID["r-old"].Interrupted)
	require.False(t, byID[rep.RunID].Interrupted)
	require.Len(t, byID[rep.RunID].Summaries, len(rep.Destinations), "a finished run is listed with its figures")
	require.Equal(t, string(rep.Destinations[0].Status), byID[rep.RunID].Summaries[0].Status)
	require.Empty(t, byID["r-dead"].Summaries, "a crashed run has no summary, and is still interrupted")
	require.NotEmpty(t, byID[rep.RunID].Owner, "a run records its lock owner")

	_, err = b.svc.Report(t.Context(), "r-dead")
	require.ErrorIs(t, err, syncs.ErrNoReport)
	require.ErrorContains(t, err, "interrupted")
	got, err := b.svc.Report(t.Context(), rep.RunID)
	require.NoError(t, err)
	require.Equal(t, rep.RunID, got.RunID)
	_, err = b.svc.Report(t.Context(), "no-such-run")
	require.ErrorIs(t, err, syncs.ErrNotFound)
}

// TestRunInProgressIsNotInterrupted lists runs while one holds its lock.
func TestRunInProgressIsNotInterrupted(t *testing.T) {
	t.Parallel()
	b := setup(t, syncs.Options{})
	first := b.start(t.Context(), syncs.RunOptions{})
	b.entered(t)
	runs, err := b.svc.Runs(t.Context(), "buyers", 0)
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, string(report.StatusRunning), runs[0].Status)
	require.False(t, runs[0].Interrupted)
	_, err = b.svc.Report(t.Context(), runs[0].ID)
	require.ErrorIs(t, err, syncs.ErrNoReport)
	require.ErrorContains(t, err, "still running")
	b.gate.release()
	require.NoError(t, wait(t, first).err)
}

// TestLostLockStopsTheRun has another owner take a running sync's lock
// over; the run notices at its next renewal and stops.
func TestLostLockStopsTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t, syncs.Options{LockTTL: 300 * time.Millisecond})
	first := b.start(t.Context(), syncs.RunOptions{})
	b.entered(t)
	st := b.openStore(t)
	later := time.Now().Add(time.Hour)
	_, err := st.AcquireLock(t.Context(), state.Lock{Name: "sync:buyers", Owner: "thief", Expires: later.Add(time.Hour)}, later)
	require.NoError(t, err)

	o := wait(t, first)
	require.Error(t, o.err)
	require.ErrorContains(t, o.err, "lock was lost")
	require.NotNil(t, o.rep)
	require.Zero(t, o.rep.Destinations[0].Applied.Added, "nothing is sent after the lock is lost")
	holder, err := st.LockHolder(t.Context(), "sync:buyers")
	require.NoError(t, err)
	require.Equal(t, "thief", holder.Owner, "the run does not release a lock it lost")
}

func TestPlanTakesNoLock(t *testing.T) {
	t.Parallel()
	b := setup(t, syncs.Options{})
	first := b.start(t.Context(), syncs.RunOptions{})
	b.entered(t)
	b.gate.release()
	rep, err := b.svc.Plan(t.Context(), "buyers", syncs.RunOptions{})
	require.NoError(t, err)
	require.True(t, rep.DryRun)
	require.NoError(t, wait(t, first).err)
}

func TestServiceErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, syncs.Options{})
	require.Equal(t, []syncs.Sync{{Name: "buyers", Source: "crm", Destinations: []string{"exports"}}}, b.svc.Syncs())
	require.Equal(t, []string{"crm", "exports"}, b.svc.Connections())

	_, err := b.svc.Run(t.Context(), "nope", syncs.RunOptions{})
	require.ErrorIs(t, err, syncs.ErrNotFound)
	require.ErrorContains(t, err, `no sync named "nope"`)
	require.ErrorContains(t, err, "(syncs: buyers)")
	_, err = b.svc.Plan(t.Context(), "nope", syncs.RunOptions{})
	require.ErrorIs(t, err, syncs.ErrNotFound)
	_, err = b.svc.Check(t.Context(), "nope")
	require.ErrorIs(t, err, syncs.ErrNotFound)
	msg, err := b.svc.Check(t.Context(), "exports")
	require.NoError(t, err)
	require.NotEmpty(t, msg)

	_, err = syncs.Open(t.Context(), syncs.Options{ConfigPath: filepath.Join(b.dir, "missing.yaml")})
	var ce *syncs.ConfigError
	require.ErrorAs(t, err, &ce)

	require.NoError(t, b.svc.Close())
	require.NoError(t, b.svc.Close(), "Close is idempotent")
	_, err = b.svc.Run(t.Context(), "buyers", syncs.RunOptions{})
	require.ErrorIs(t, err, syncs.ErrClosed)
	_, err = b.svc.Runs(t.Context(), "", 0)
	require.True(t, errors.Is(err, syncs.ErrClosed))
}

// TestRunDeadlineStopsRun checks that a run lasting longer than
// safety.max_run_duration is stopped, says why, and leaves no run
// recorded as running.
func TestRunDeadlineStopsRun(t *testing.T) {
	t.Parallel()
	b := setupWith(t, syncs.Options{}, "    safety: {max_run_duration: 1s}\n")
	start := time.Now()
	rep, err := b.svc.Run(t.Context(), "buyers", syncs.RunOptions{}) // the gate stays shut: the read never ends
	var deadline *syncs.DeadlineError
	require.ErrorAs(t, err, &deadline)
	require.Equal(t, time.Second, deadline.Limit)
	require.ErrorContains(t, err, "max_run_duration")
	require.Less(t, time.Since(start), 30*time.Second)
	require.NotNil(t, rep)
	require.Equal(t, report.StatusInterrupted, rep.Status, "a deadline interrupts the run")
	for _, d := range rep.Destinations {
		require.Equal(t, report.StatusInterrupted, d.Status, d.Name)
	}
	require.NoError(t, rep.CheckCounts())
	runs, err := b.svc.Runs(t.Context(), "buyers", 0)
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, string(report.StatusInterrupted), runs[0].Status)
}

// TestRunsListSummariesAndSizeHistory runs the sync twice: the listing
// carries each run's typed figures (read from the run log's summary rows,
// not decoded from reports) and the size history has one point per run.
func TestRunsListSummariesAndSizeHistory(t *testing.T) {
	t.Parallel()
	b := setup(t, syncs.Options{})
	b.gate.release()
	var reps []*report.Report
	for range 2 {
		rep, err := b.svc.Run(t.Context(), "buyers", syncs.RunOptions{})
		require.NoError(t, err)
		reps = append(reps, rep)
	}
	name := reps[0].Destinations[0].Name

	runs, err := b.svc.Runs(t.Context(), "buyers", 0)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	for i, r := range runs {
		rep := reps[len(reps)-1-i] // newest first
		require.Equal(t, rep.RunID, r.ID)
		require.Nil(t, r.Report, "a listing leaves reports in the store")
		require.Len(t, r.Summaries, 1)
		d := rep.Destinations[0]
		require.Equal(t, name, r.Summaries[0].Destination)
		require.Equal(t, string(d.Status), r.Summaries[0].Status)
		require.Equal(t, d.Members, r.Summaries[0].Members)
		require.Equal(t, d.Applied.Added, r.Summaries[0].Applied.Added)
	}
	require.Equal(t, int64(20), runs[1].Summaries[0].Applied.Added)
	require.Equal(t, int64(0), runs[0].Summaries[0].Applied.Added, "the second run sends nothing new")

	points, err := b.svc.SizeHistory(t.Context(), "buyers", name, 0)
	require.NoError(t, err)
	require.Equal(t, []state.SizePoint{
		{RunID: reps[0].RunID, Status: "succeeded", Finished: reps[0].FinishedAt.UTC().Truncate(time.Microsecond), Members: 20},
		{RunID: reps[1].RunID, Status: "succeeded", Finished: reps[1].FinishedAt.UTC().Truncate(time.Microsecond), Members: 20},
	}, points)
}

// serve's plan workers leave a CPU to the API, and never fall to none.
func TestServePlanWorkers(t *testing.T) {
	t.Parallel()
	for cpus, want := range map[int]int{0: 1, 1: 1, 2: 1, 4: 3, 16: 15} {
		require.Equal(t, want, syncs.ServePlanWorkers(cpus), "%d CPUs", cpus)
	}
}

// ServeCPUs returns the CPUs the runtime found and raises GOMAXPROCS for
// serve, unless the environment sets it.
func TestServeCPUs(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })

	t.Setenv("GOMAXPROCS", "")
	require.Equal(t, prev, syncs.ServeCPUs())
	require.Equal(t, max(syncs.ServeMinProcs, syncs.ServeProcsPerCPU*prev), runtime.GOMAXPROCS(0))

	runtime.GOMAXPROCS(prev)
	t.Setenv("GOMAXPROCS", fmt.Sprint(prev))
	require.Equal(t, prev, syncs.ServeCPUs())
	require.Equal(t, prev, runtime.GOMAXPROCS(0), "GOMAXPROCS set in the environment is kept")
}
