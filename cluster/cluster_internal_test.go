package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/internal/pgtest"
	"github.com/audiencesync/audiencesync/internal/servetest"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// fileSync is a sync of the test config: synthetic contacts from a CSV
// into a file destination, a run of a few milliseconds.
const fileSync = `  - name: %s
    schedule: "%s"
    source: {connection: crm, key: contact_id, fields: {email: email}}
    destinations: [{connection: exports}]
`

// stateBackends are the state stores a test cluster is tried on: the
// one SQLite file every node shares (nodes on one machine), and the
// PostgreSQL database of the queue (the deployment docs/deploy.md
// describes), found by the nodes through state.dsn alone.
var stateBackends = []string{"sqlite", "postgres"}

// clusterDB is the PostgreSQL database of one test's cluster: its job
// queue, and with pgState its sync state too.
type clusterDB struct {
	dsn     string
	pgState bool
}

// newClusterDB makes a new database for t's cluster, the state of which
// is on backend (one of stateBackends).
func newClusterDB(t *testing.T, backend string) clusterDB {
	t.Helper()
	return clusterDB{dsn: pgtest.Database(t, pg), pgState: backend == "postgres"}
}

// stateYAML is the state line of a config in dir: the SQLite file, or
// state.dsn, a secret reference to a file beside the config holding the
// DSN, as a deployment writes it.
func (db clusterDB) stateYAML(t *testing.T, dir string) string {
	t.Helper()
	if !db.pgState {
		return "state: {path: ./state.db}\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state-dsn"), []byte(db.dsn+"\n"), 0o600))
	return "state: {dsn: \"${file:./state-dsn}\"}\n"
}

// queueDSN is the DSN a node is given for its queue: none when the state
// is in PostgreSQL, so that the node finds the queue through state.dsn,
// as `serve --workers` does without serve.queue.dsn.
func (db clusterDB) queueDSN() string {
	if db.pgState {
		return ""
	}
	return db.dsn
}

// forEachState runs test once per state backend, in parallel.
func forEachState(t *testing.T, test func(t *testing.T, db clusterDB)) {
	t.Helper()
	for _, backend := range stateBackends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			test(t, newClusterDB(t, backend))
		})
	}
}

// writeFileConfig writes a config of n syncs sync-00… on schedule, with
// the state where db says, and returns its path.
func writeFileConfig(t *testing.T, db clusterDB, n int, schedule string) string {
	t.Helper()
	return writeCatchUpConfig(t, db, n, schedule, configs.CatchUpNone)
}

// writeCatchUpConfig is writeFileConfig with serve.catch_up set to
// catchUp.
func writeCatchUpConfig(t *testing.T, db clusterDB, n int, schedule, catchUp string) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(db.stateYAML(t, dir))
	fmt.Fprintf(&b, "serve: {max_jitter: 0s, catch_up: %s, queue: {job_timeout: 20s, rescue_after: 30s}}\n", catchUp)
	b.WriteString("connections:\n  crm: {type: csv, path: ./contacts.csv}\n  exports: {type: file, dir: ./out, formats: [google]}\nsyncs:\n")
	for i := range n {
		fmt.Fprintf(&b, fileSync, fmt.Sprintf("sync-%02d", i), schedule)
	}
	path := filepath.Join(dir, "audiencesync.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	var c strings.Builder
	c.WriteString("contact_id,email\n")
	for i := range 20 {
		fmt.Fprintf(&c, "C%04d,person.%04d@example.com\n", i, i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "contacts.csv"), []byte(c.String()), 0o600))
	return path
}

func startTestNode(t *testing.T, cfg, dsn string, workers int) *node {
	t.Helper()
	n, err := startNode(context.WithoutCancel(t.Context()), cfg, dsn, workers, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.stop() })
	return n
}

// ownerNode is the service a run's lock owner names: owners are
// PREFIX-ID-SEQ, one ID per service, so one per node here.
func ownerNode(owner string) string {
	i := strings.LastIndex(owner, "-")
	if i < 0 {
		return owner
	}
	return owner[:i]
}

// Two nodes on one queue and one state share many syncs on a short
// schedule: both work jobs, no sync ever runs twice at once (the run
// log's intervals of each sync never overlap), every tick runs (no
// skipped tick, one run per tick between a sync's first and last, no
// gap between two runs longer than a tick and a half), and every run
// succeeds. With the state in PostgreSQL, the nodes are given no queue
// DSN: the queue's tables and the state's are in state.dsn's database.
func TestTwoNodesShareTheSyncs(t *testing.T) {
	t.Parallel()
	forEachState(t, testTwoNodesShareTheSyncs)
}

func testTwoNodesShareTheSyncs(t *testing.T, db clusterDB) {
	const (
		nSyncs = 10
		every  = 4 * time.Second
		window = 20 * time.Second
	)
	cfg := writeFileConfig(t, db, nSyncs, "@every 4s")
	// Six workers for ten syncs due at once (no jitter): a tick's jobs
	// are all worked well before the next, even on a loaded machine.
	a := startTestNode(t, cfg, db.queueDSN(), 3)
	b := startTestNode(t, cfg, db.queueDSN(), 3)
	time.Sleep(window)
	require.NoError(t, a.stop())
	require.NoError(t, b.stop())

	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: cfg})
	require.NoError(t, err)
	defer svc.Close()
	nodes := map[string]int{}
	for i := range nSyncs {
		name := fmt.Sprintf("sync-%02d", i)
		runs, err := svc.ListRuns(t.Context(), state.RunFilter{Sync: name, Limit: 1000})
		require.NoError(t, err)
		slices.Reverse(runs) // oldest first
		var ran []syncs.RunRecord
		for _, r := range runs {
			if r.Status == string(report.StatusSkipped) {
				for _, o := range runs {
					t.Logf("%s %s %s → %s", o.ID, o.Status, o.Started.Format("15:04:05.000"), o.Finished.Format("15:04:05.000"))
				}
			}
			require.NotEqual(t, string(report.StatusSkipped), r.Status, "%s: a tick was skipped: %s", name, r.ID)
			require.Equal(t, string(report.StatusSucceeded), r.Status, "%s run %s", name, r.ID)
			require.Equal(t, "schedule", r.StartedBy)
			ran = append(ran, r)
			nodes[ownerNode(r.Owner)]++
		}
		t.Logf("%s: %d runs", name, len(ran))
		// The first tick comes once a leader is elected: allow for it.
		require.GreaterOrEqual(t, len(ran), int(window/every)-2, "%s: %d runs in %s", name, len(ran), window)
		ticks := int((ran[len(ran)-1].Started.Sub(ran[0].Started)+every/2)/every) + 1
		require.Equal(t, ticks, len(ran), "%s: one run per tick from the first to the last", name)
		for j := 1; j < len(ran); j++ {
			prev, cur := ran[j-1], ran[j]
			require.False(t, cur.Started.Before(prev.Finished), "%s: run %s started at %s before run %s finished at %s",
				name, cur.ID, cur.Started, prev.ID, prev.Finished)
			require.LessOrEqual(t, cur.Started.Sub(prev.Started), every*3/2, "%s: a tick between runs %s and %s did not run", name, prev.ID, cur.ID)
		}
	}
	t.Logf("runs by node: %v", nodes)
	require.Len(t, nodes, 2, "both nodes work jobs: %v", nodes)

	// One database holds both the queue's jobs and, with the state in
	// PostgreSQL, the run log; with SQLite, the run log is in the file.
	var jobs, logged int
	require.NoError(t, sqlRow(t, db.dsn, "SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'", RunArgs{}.Kind()).Scan(&jobs))
	require.Positive(t, jobs)
	err = sqlRow(t, db.dsn, "SELECT count(*) FROM runs").Scan(&logged)
	if db.pgState {
		require.NoError(t, err)
		require.Equal(t, jobs, logged, "one run per job, recorded beside the queue")
	} else {
		require.ErrorContains(t, err, `relation "runs" does not exist`)
	}
}

// sqlRow runs query on the database dsn.
func sqlRow(t *testing.T, dsn, query string, args ...any) pgx.Row {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool.QueryRow(t.Context(), query, args...)
}

// The API of any node shows the whole cluster's runs: a run asked for
// on node A (which waits for its report) is listed, with its report, by
// node B; a second "run now" while one is queued is refused (409); and
// /metrics of each node exports the queue's depth and its job latency.
func TestAPIOfAnyNodeShowsTheClustersRuns(t *testing.T) {
	t.Parallel()
	forEachState(t, testAPIOfAnyNodeShowsTheClustersRuns)
}

func testAPIOfAnyNodeShowsTheClustersRuns(t *testing.T, db clusterDB) {
	dsn := db.dsn
	cfg := writeFileConfig(t, db, 2, "@daily")
	a := startTestNode(t, cfg, db.queueDSN(), 1)
	b := startTestNode(t, cfg, db.queueDSN(), 1)

	resp, err := http.Post("http://"+a.addr+"/api/v1/syncs/sync-01/runs", "application/json", strings.NewReader(`{"wait": true}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var rep report.Report
	require.NoError(t, json.Unmarshal(body, &rep))
	require.Equal(t, report.StatusSucceeded, rep.Status)
	require.Equal(t, "api", rep.StartedBy)

	var list struct {
		Runs []struct {
			ID, Sync, Status string
		} `json:"runs"`
	}
	getJSON(t, "http://"+b.addr+"/api/v1/runs?sync=sync-01", &list)
	require.Len(t, list.Runs, 1)
	require.Equal(t, rep.RunID, list.Runs[0].ID)
	var fromB report.Report
	getJSON(t, "http://"+b.addr+"/api/v1/runs/"+rep.RunID+"/report", &fromB)
	require.Equal(t, rep.RunID, fromB.RunID)

	// Without wait, node B answers 202 with the id of the run, wherever
	// it runs, as soon as it is recorded.
	resp, err = http.Post("http://"+b.addr+"/api/v1/syncs/sync-00/runs", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	var started struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal(body, &started))
	require.NotEmpty(t, started.RunID, string(body))
	require.Equal(t, "running", started.Status)
	require.Eventually(t, func() bool {
		var r report.Report
		code, body := servetest.Get(t, "http://"+a.addr+"/api/v1/runs/"+started.RunID+"/report")
		return code == http.StatusOK && json.Unmarshal([]byte(body), &r) == nil && r.Status == report.StatusSucceeded
	}, 20*time.Second, 50*time.Millisecond)

	// A run of sync-01 waiting in the queue (due in an hour): "run now"
	// is refused on any node.
	q, err := Open(t.Context(), &configs.Config{}, Options{DSN: dsn, Workers: 1})
	require.NoError(t, err)
	defer q.Stop(t.Context())
	waiting, err := q.client.Insert(t.Context(), RunArgs{Sync: "sync-01", Trigger: "api"}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.False(t, waiting.UniqueSkippedAsDuplicate)
	resp, err = http.Post("http://"+a.addr+"/api/v1/syncs/sync-01/runs", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusConflict, resp.StatusCode, string(body))
	require.Contains(t, string(body), "has a run scheduled in the cluster already")
	_, err = q.client.JobDelete(t.Context(), waiting.Job.ID)
	require.NoError(t, err)

	// Every node exports the whole queue's depth (idle again once River
	// has recorded the jobs' ends) and its own jobs' latency.
	for _, n := range []*node{a, b} {
		require.Eventually(t, func() bool {
			code, metrics := servetest.Get(t, "http://"+n.addr+"/metrics")
			return code == http.StatusOK && metricValue(metrics, `audiencesync_queue_up`) == 1 &&
				metricValue(metrics, `audiencesync_queue_jobs{queue="audiencesync",state="running"}`) == 0 &&
				metricValue(metrics, `audiencesync_queue_jobs{queue="audiencesync",state="available"}`) == 0 &&
				metricValue(metrics, `audiencesync_queue_jobs{queue="audiencesync",state="retryable"}`) == 0
		}, 10*time.Second, 50*time.Millisecond)
	}
	_, ma := servetest.Get(t, "http://"+a.addr+"/metrics")
	_, mb := servetest.Get(t, "http://"+b.addr+"/metrics")
	const latency = `audiencesync_queue_job_latency_seconds_count{queue="audiencesync"}`
	require.Equal(t, 2.0, metricValue(ma, latency)+metricValue(mb, latency), "the latency of each job, on the node that worked it")
	const runs = `audiencesync_runs_total{status="succeeded",sync="sync-01"}`
	require.Equal(t, 1.0, metricValue(ma, runs)+metricValue(mb, runs), "the run's metrics, on the node that ran it")
}

// metricValue is the value of the series named exactly series in a
// /metrics body; 0 when absent.
func metricValue(body, series string) float64 {
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	code, body := servetest.Get(t, url)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), v), body)
}

// killer serves the sandbox and, once armed, kills the node process
// right after the platform has applied the nth request that matches,
// before the node reads the answer: the platform did the work, state
// never heard of it.
type killer struct {
	sb    *sandbox.Server
	match func(*http.Request) bool
	nth   int32
	seen  atomic.Int32
	mu    sync.Mutex
	child *os.Process
	fired atomic.Bool
}

func (k *killer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	child := k.child
	k.mu.Unlock()
	if child == nil || !k.match(r) || k.seen.Add(1) != k.nth {
		k.sb.ServeHTTP(w, r)
		return
	}
	k.sb.ServeHTTP(httptest.NewRecorder(), r) // applied; the answer goes nowhere
	k.fired.Store(true)
	_ = child.Kill()
	panic(http.ErrAbortHandler)
}

// xConfig, to follow a state line, is a sync of synthetic contacts to
// X's replica at the URL %[2]s; %[1]s is the sync's schedule line, if
// any.
const xConfig = `serve: {max_jitter: 0s, catch_up: none, queue: {job_timeout: 20s, rescue_after: 22s}}
connections:
  crm: {type: csv, path: ./contacts.csv}
  x: {type: x, sandbox: true, endpoint: "%[2]s", account_id: 18ce54d4x5t}
syncs:
  - name: buyers
%[1]s    source: {connection: crm, key: contact_id, default_region: US, fields: {email: email}}
    destinations:
      - connection: x
        audience: {name: Buyers}
        batch_size: 1000
        concurrency: 1
`

func writeContacts(t *testing.T, path string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("contact_id,email\n")
	for i := range n {
		fmt.Fprintf(&b, "C%06d,person.%06d@example.com\n", i, i)
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
}

// A node killed (SIGKILL) mid-upload leaves its job running in the
// queue; once rescue_after has passed, another node's leader rescues it
// and that node runs the sync again from what the killed run committed:
// the platform then holds exactly the source's audience, the killed run
// is listed as interrupted, and a further run finds nothing to change.
// With the state in PostgreSQL the dead node's lock goes with its
// session, so its run is listed as interrupted at once, and the rescued
// job finds the sync free.
func TestKilledNodesJobIsRescuedAndConverges(t *testing.T) {
	t.Parallel()
	forEachState(t, testKilledNodesJobIsRescuedAndConverges)
}

func testKilledNodesJobIsRescuedAndConverges(t *testing.T, db clusterDB) {
	const first, contacts = 1000, 6000
	dsn := db.dsn
	// The replica answers slowly, so the kill lands mid-run; batches of
	// 1,000 one at a time, so the 5,000 adds take five requests and the
	// replica holds 3,000 when the node dies after the second.
	k := &killer{sb: sandbox.New(sandbox.Options{Latency: 50 * time.Millisecond}), nth: 2,
		match: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/custom_audiences/") && strings.HasSuffix(r.URL.Path, "/users")
		}}
	ts := httptest.NewServer(k)
	defer ts.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "audiencesync.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf([]byte(db.stateYAML(t, dir)), xConfig, "", ts.URL+"/"), 0o600))
	csv := filepath.Join(dir, "contacts.csv")
	ctx := t.Context()

	// A first sync, in this process, so that state records the audience.
	writeContacts(t, csv, first)
	svc, err := syncs.Open(ctx, syncs.Options{ConfigPath: cfg})
	require.NoError(t, err)
	defer svc.Close()
	rep, err := svc.Run(ctx, "buyers", syncs.RunOptions{StartedBy: "cli"})
	require.NoError(t, err)
	audienceID := rep.Destinations[0].AudienceID
	require.Len(t, k.sb.Members("x", audienceID), first)

	// The source grows; a "run now" is queued for the cluster.
	writeContacts(t, csv, contacts)
	q, err := Open(ctx, svc.Config(), Options{DSN: db.queueDSN(), Workers: 1})
	require.NoError(t, err)
	_, err = q.Enqueue(ctx, daemon.QueuedRun{Sync: "buyers", Trigger: "api", Options: syncs.RunOptions{StartedBy: "api:ops"}}, false)
	require.NoError(t, err)
	require.NoError(t, q.Stop(ctx))

	// A node in another process takes it and is killed mid-upload.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeConfigEnv+"="+cfg, nodeDSNEnv+"="+db.queueDSN())
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	k.mu.Lock()
	require.NoError(t, cmd.Start())
	k.child = cmd.Process
	k.mu.Unlock()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case <-waited:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the node was not killed mid-run\n%s", out.String())
	}
	killedAt := time.Now()
	require.True(t, k.fired.Load(), "the node should have been killed mid-upload:\n%s", out.String())
	held := len(k.sb.Members("x", audienceID))
	t.Logf("the replica held %d of %d members when the node died", held, contacts)
	require.Equal(t, first+2000, held)
	if db.pgState {
		// The node's lease session died with it: the lock is free and
		// the run interrupted well before the lease's expiry (10s).
		require.Eventually(t, func() bool {
			runs, err := svc.ListRuns(ctx, state.RunFilter{Sync: "buyers"})
			require.NoError(t, err)
			return len(runs) == 2 && runs[0].Interrupted
		}, 5*time.Second, 50*time.Millisecond, "the killed run is interrupted as soon as its session ends")
		t.Logf("the killed run was listed as interrupted %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	}

	// Another node rescues the job and finishes the run. It starts once
	// the job is due for rescue: as the leader (the dead node's lease has
	// lapsed by then), its rescuer looks at once instead of at its next
	// 30s round.
	start := time.Now()
	time.Sleep(time.Until(killedAt.Add(22 * time.Second)))
	startTestNode(t, cfg, db.queueDSN(), 1)
	var runs []syncs.RunRecord
	require.Eventually(t, func() bool {
		runs, err = svc.ListRuns(ctx, state.RunFilter{Sync: "buyers"})
		require.NoError(t, err)
		return len(runs) >= 3 && runs[0].Status == string(report.StatusSucceeded)
	}, 90*time.Second, 200*time.Millisecond, "no run finished the job")
	t.Logf("rescued and finished %s after the kill", time.Since(start).Round(time.Second))
	require.Len(t, runs, 3, "the first sync, the killed run and the one that finished it")
	killed, finished := runs[1], runs[0]
	require.True(t, killed.Interrupted, "the killed run is listed as interrupted")
	require.Equal(t, "api:ops", killed.StartedBy)
	require.Equal(t, "api:ops", finished.StartedBy)
	require.NotEqual(t, ownerNode(killed.Owner), ownerNode(finished.Owner), "another node finished it")

	var state string
	var attempt int
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer pool.Close()
	// River records the job's end just after the run's.
	require.Eventually(t, func() bool {
		require.NoError(t, pool.QueryRow(ctx, "SELECT state::text, attempt FROM river_job WHERE kind = $1", RunArgs{}.Kind()).Scan(&state, &attempt))
		return state == "completed"
	}, 10*time.Second, 50*time.Millisecond, "the job is %s", state)
	require.Equal(t, 2, attempt, "the killed attempt, then the rescued one")

	// Exact: every contact's hashed e-mail, nothing else; and a further
	// run has nothing to send.
	want := make([]string, 0, contacts)
	for i := range contacts {
		sum := sha256.Sum256(fmt.Appendf(nil, "person.%06d@example.com", i))
		want = append(want, hex.EncodeToString(sum[:]))
	}
	slices.Sort(want)
	require.Equal(t, want, k.sb.Members("x", audienceID))
	again, err := svc.Run(ctx, "buyers", syncs.RunOptions{StartedBy: "cli"})
	require.NoError(t, err)
	require.Equal(t, report.Planned{Unchanged: contacts}, again.Destinations[0].Planned)
}

// A tick that comes while the sync's job is still running is not
// enqueued, and the run log records it as skipped, saying why, as the
// single daemon does; the runs themselves never overlap.
func TestTickOfARunningSyncIsRecordedSkipped(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Database(t, pg)
	sb := sandbox.New(sandbox.Options{Latency: 700 * time.Millisecond}) // a run takes a few ticks
	ts := httptest.NewServer(sb)
	defer ts.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "audiencesync.yaml")
	conf := "state: {path: ./state.db}\n" + fmt.Sprintf(xConfig, "    schedule: \"@every 1s\"\n", ts.URL+"/")
	require.NoError(t, os.WriteFile(cfg, []byte(conf), 0o600))
	writeContacts(t, filepath.Join(dir, "contacts.csv"), 100)
	n := startTestNode(t, cfg, dsn, 2)

	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: cfg})
	require.NoError(t, err)
	defer svc.Close()
	var skipped, ran []syncs.RunRecord
	require.Eventually(t, func() bool {
		runs, err := svc.ListRuns(t.Context(), state.RunFilter{Sync: "buyers", Limit: 1000})
		require.NoError(t, err)
		skipped, ran = nil, nil
		for _, r := range runs {
			if r.Status == string(report.StatusSkipped) {
				skipped = append(skipped, r)
			} else if r.Status == string(report.StatusSucceeded) {
				ran = append(ran, r)
			}
		}
		return len(skipped) >= 2 && len(ran) >= 2
	}, 60*time.Second, 200*time.Millisecond)
	require.NoError(t, n.stop())
	rep, err := svc.Report(t.Context(), skipped[0].ID)
	require.NoError(t, err)
	require.Equal(t, "schedule", rep.StartedBy)
	require.Contains(t, rep.Error, "skipped: the previous run of this sync was still running in the cluster")
	slices.Reverse(ran)
	for j := 1; j < len(ran); j++ {
		require.False(t, ran[j].Started.Before(ran[j-1].Finished), "runs %s and %s overlap", ran[j-1].ID, ran[j].ID)
	}
}

// The job timeout defaults to the longest run deadline plus a minute,
// and the rescue delay to the timeout plus five minutes; a rescue delay
// no longer than the timeout is refused.
func TestTimeouts(t *testing.T) {
	t.Parallel()
	long := configs.Safety{MaxRunDuration: 5 * time.Hour}
	tests := []struct {
		name                   string
		queue                  configs.Queue
		opts                   Options
		syncs                  []*configs.Sync
		wantTimeout, wantAfter time.Duration
		wantErr                string
	}{
		{"defaults", configs.Queue{}, Options{}, nil, configs.DefaultMaxRunDuration + time.Minute, configs.DefaultMaxRunDuration + 6*time.Minute, ""},
		{"longest sync", configs.Queue{}, Options{}, []*configs.Sync{{Name: "a"}, {Name: "b", Safety: long}}, 5*time.Hour + time.Minute, 5*time.Hour + 6*time.Minute, ""},
		{"config", configs.Queue{JobTimeout: time.Minute, RescueAfter: 3 * time.Minute}, Options{}, nil, time.Minute, 3 * time.Minute, ""},
		{"options over config", configs.Queue{JobTimeout: time.Minute}, Options{JobTimeout: 2 * time.Second, RescueAfter: 3 * time.Second}, nil, 2 * time.Second, 3 * time.Second, ""},
		{"rescue no longer than the timeout", configs.Queue{RescueAfter: time.Hour}, Options{}, nil, 0, 0, "serve.queue.rescue_after 1h0m0s must be longer than the job timeout 2h1m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := &configs.Config{Path: "a.yaml", Syncs: tc.syncs}
			cfg.Serve.Queue = tc.queue
			timeout, after, err := timeouts(cfg, tc.opts)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantTimeout, timeout)
			require.Equal(t, tc.wantAfter, after)
		})
	}
}

// catchUp, as two nodes elected at once would run it, against what the
// queue and the run log hold: a sync with a tick due since its last job
// or run gets one catch-up job between both nodes, and a third look (a
// node elected next) finds it and queues none; a sync whose job is
// still running gets none (the insert is skipped); a sync never run or
// queued waits for its first tick. Each schedule is anchored at the last
// job: the next tick is on the old leader's phase, not a period after
// the election.
func TestCatchUpQueuesOneRunBetweenNodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		every time.Duration
		// jobAge and jobState, when set, are the sync's newest job;
		// run is a run in the run log, after which the test waits
		// wait.
		jobAge   time.Duration
		jobState string
		run      bool
		wait     time.Duration
		want     int
		// nextIn is when, from the look, the next tick is due (0: not
		// checked).
		nextIn time.Duration
	}{
		{name: "ticks missed since the last job", every: 10 * time.Second, jobAge: 25 * time.Second, jobState: "completed", want: 1,
			nextIn: 10 * time.Second},
		{name: "no tick missed", every: 10 * time.Second, jobAge: 4 * time.Second, jobState: "completed", want: 0, nextIn: 6 * time.Second},
		{name: "never run or queued", every: time.Second, want: 0},
		{name: "a tick since the last run, no job left", every: time.Second, run: true, wait: 1500 * time.Millisecond, want: 1},
		{name: "the job is still running", every: 10 * time.Second, jobAge: 25 * time.Second, jobState: "running", want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := clusterDB{dsn: pgtest.Database(t, pg)}
			cfg := writeCatchUpConfig(t, db, 1, "@daily", configs.CatchUpOnce)
			ctx := t.Context()
			svc, err := syncs.Open(ctx, syncs.Options{ConfigPath: cfg})
			require.NoError(t, err)
			defer svc.Close()
			nodes := make([]*Cluster, 3)
			for i := range nodes {
				nodes[i], err = Open(ctx, svc.Config(), Options{DSN: db.dsn, Workers: 1})
				require.NoError(t, err)
				defer nodes[i].Stop(ctx)
				require.NoError(t, nodes[i].schedule(map[string]river.PeriodicSchedule{"sync-00": river.PeriodicInterval(tc.every)}))
			}
			var created time.Time
			if tc.jobState != "" {
				res, err := nodes[0].client.Insert(ctx, RunArgs{Sync: "sync-00", Trigger: "schedule"}, nil)
				require.NoError(t, err)
				require.NoError(t, sqlRow(t, db.dsn, `UPDATE river_job SET created_at = now() - $2 * interval '1 millisecond', state = $3::text::river_job_state,
					attempt = 1, attempted_at = now(), finalized_at = CASE WHEN $3::text = 'completed' THEN now() END WHERE id = $1 RETURNING created_at`,
					res.Job.ID, tc.jobAge.Milliseconds(), tc.jobState).Scan(&created))
			}
			if tc.run {
				_, err := svc.Run(ctx, "sync-00", syncs.RunOptions{StartedBy: "cli"})
				require.NoError(t, err)
				time.Sleep(tc.wait)
			}

			// Two nodes elected at once.
			var wg sync.WaitGroup
			queued := make([][]string, 2)
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() { queued[i], errs[i] = nodes[i].catchUp(ctx, svc, time.Now()) })
			}
			wg.Wait()
			require.NoError(t, errs[0])
			require.NoError(t, errs[1])
			require.Len(t, slices.Concat(queued...), tc.want, "catch-up runs queued by the two nodes: %v", queued)
			// The node elected next.
			again, err := nodes[2].catchUp(ctx, svc, time.Now())
			require.NoError(t, err)
			require.Empty(t, again, "a node elected after the catch-up queues none")
			var jobs int
			require.NoError(t, sqlRow(t, db.dsn, "SELECT count(*) FROM river_job WHERE args->>'trigger' = 'catch-up'").Scan(&jobs))
			require.Equal(t, tc.want, jobs)

			if tc.nextIn > 0 {
				next := nodes[2].tickSchedules()["sync-00"].Next(time.Now())
				want := created.Add(tickSlack).Add(tc.every)
				if tc.want > 0 {
					// Missed: the schedule starts afresh, as the
					// single daemon's does after its catch-up.
					want = time.Now().Add(tc.every)
				}
				require.WithinDuration(t, want, next, 500*time.Millisecond, "the next tick")
			}
		})
	}
}

// clusterLeader returns the River client id of the cluster's leader, ""
// while there is none (or its lease has lapsed).
func clusterLeader(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var id string
	err := pool.QueryRow(t.Context(), "SELECT leader_id FROM river_leader WHERE expires_at > now()").Scan(&id)
	if err != nil {
		// No leader yet, or no node has made River's tables yet.
		require.True(t, errors.Is(err, pgx.ErrNoRows) || strings.Contains(err.Error(), `relation "river_leader" does not exist`), "%v", err)
		return ""
	}
	return id
}

// testPool is a connection pool on dsn for t's look-ups.
func testPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// waitLeader waits until the cluster's leader satisfies ok and returns
// it.
func waitLeader(t *testing.T, pool *pgxpool.Pool, within time.Duration, ok func(string) bool) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		id = clusterLeader(t, pool)
		return ok(id)
	}, within, 50*time.Millisecond, "leader %q", id)
	return id
}

// waitTickDone waits until each of n syncs has had at least one more run
// job than after, and no run job is left unfinished: a moment between
// ticks. It returns the completed jobs' count.
func waitTickDone(t *testing.T, pool *pgxpool.Pool, n, after int) int {
	t.Helper()
	var done, open int
	require.Eventually(t, func() bool {
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE finalized_at IS NULL)
			FROM river_job WHERE kind = $1`, RunArgs{}.Kind()).Scan(&done, &open))
		return done >= after+n && open == 0
	}, 30*time.Second, 20*time.Millisecond, "%d jobs completed, %d open", done, open)
	return done
}

// syncRuns returns the runs of the syncs sync-00… of cfg, oldest first,
// and fails on a skipped tick, a run that did not succeed or two runs of
// a sync that overlap.
func syncRuns(t *testing.T, cfg string, n int) map[string][]syncs.RunRecord {
	t.Helper()
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: cfg})
	require.NoError(t, err)
	defer svc.Close()
	out := map[string][]syncs.RunRecord{}
	for i := range n {
		name := fmt.Sprintf("sync-%02d", i)
		runs, err := svc.ListRuns(t.Context(), state.RunFilter{Sync: name, Limit: 1000})
		require.NoError(t, err)
		slices.Reverse(runs)
		for j, r := range runs {
			t.Logf("%s %s %-9s %s → %s", name, r.StartedBy, r.Status, r.Started.Format("15:04:05.000"), r.Finished.Format("15:04:05.000"))
			require.Equal(t, string(report.StatusSucceeded), r.Status, "%s run %s", name, r.ID)
			if j > 0 {
				require.False(t, r.Started.Before(runs[j-1].Finished), "%s: runs %s and %s overlap", name, runs[j-1].ID, r.ID)
			}
		}
		out[name] = runs
	}
	return out
}

// catchUps returns the runs started by a catch-up.
func catchUps(runs []syncs.RunRecord) []syncs.RunRecord {
	var out []syncs.RunRecord
	for _, r := range runs {
		if r.StartedBy == "catch-up" {
			out = append(out, r)
		}
	}
	return out
}

// The leader, a node in another process, is killed (SIGKILL) between two
// ticks: its lease stays in river_leader until it lapses, so no node
// enqueues the ticks due meanwhile. The other node, once elected, runs
// each sync exactly once with trigger catch-up, at once, then ticks on:
// no tick skipped, no run overlapping another, no second catch-up.
func TestNewLeaderCatchesUpAfterTheLeaderIsKilled(t *testing.T) {
	t.Parallel()
	forEachState(t, testNewLeaderCatchesUpAfterTheLeaderIsKilled)
}

func testNewLeaderCatchesUpAfterTheLeaderIsKilled(t *testing.T, db clusterDB) {
	const nSyncs, every = 2, 4 * time.Second
	cfg := writeCatchUpConfig(t, db, nSyncs, "@every 4s", configs.CatchUpOnce)
	pool := testPool(t, db.dsn)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeConfigEnv+"="+cfg, nodeDSNEnv+"="+db.queueDSN())
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-waited
	})
	killed := waitLeader(t, pool, 30*time.Second, func(id string) bool { return id != "" })
	b := startTestNode(t, cfg, db.queueDSN(), 2)

	// Between ticks: the first tick's jobs are all completed.
	waitTickDone(t, pool, nSyncs, 0)
	require.NoError(t, cmd.Process.Kill())
	killedAt := time.Now()
	<-waited
	waited <- nil
	waitLeader(t, pool, 40*time.Second, func(id string) bool { return id == b.q.client.ID() })
	electedAt := time.Now()
	t.Logf("leader %s killed; %s elected %s later", killed, b.q.client.ID(), electedAt.Sub(killedAt).Round(time.Millisecond))
	require.Greater(t, electedAt.Sub(killedAt), every, "the lease outlives a tick: a tick is missed")
	time.Sleep(2*every + every/2)
	require.NoError(t, b.stop())

	for name, runs := range syncRuns(t, cfg, nSyncs) {
		caught := catchUps(runs)
		require.Len(t, caught, 1, "%s: one catch-up", name)
		c := caught[0]
		require.True(t, c.Started.After(killedAt), "%s: the catch-up comes after the kill", name)
		require.WithinDuration(t, electedAt, c.Started, 2*time.Second, "%s: the catch-up runs at the election", name)
		i := slices.IndexFunc(runs, func(r syncs.RunRecord) bool { return r.ID == c.ID })
		require.Positive(t, i, "%s: ticks ran before the kill", name)
		require.True(t, runs[i-1].Started.Before(killedAt), "%s: no run between the kill and the catch-up", name)
		after := runs[i+1:]
		require.GreaterOrEqual(t, len(after), 2, "%s: ticks go on after the catch-up", name)
		require.GreaterOrEqual(t, after[0].Started.Sub(c.Started), every-time.Second, "%s: the next tick a period after the catch-up", name)
		for j := 1; j < len(after); j++ {
			require.InDelta(t, every.Seconds(), after[j].Started.Sub(after[j-1].Started).Seconds(), 1, "%s: one run a tick", name)
		}
	}
}

// The leader is stopped, or no node runs for a while, and another is
// elected: serve.catch_up decides what it does with the ticks nobody
// enqueued meanwhile.
//
//   - A leader stopped between ticks resigns, and the other node takes
//     over before the next tick: nothing is missed, so nothing is caught
//     up, and that tick comes on the old leader's phase.
//   - once: no node runs for longer than a tick; the node that starts
//     then runs each sync once (catch-up), and a node elected right after
//     it (the first stopped before its first tick) runs no second one.
//   - none: the same outage is not caught up: the next run is a tick,
//     one period after the election, as before.
func TestLeaderHandoverCatchUpPolicy(t *testing.T) {
	t.Parallel()
	const nSyncs, every = 2, 4 * time.Second
	tests := []struct {
		name    string
		catchUp string
		// outage is how long no node runs after the leader stops; 0:
		// the other node runs all along.
		outage      time.Duration
		wantCatchUp bool
	}{
		{name: "handover within a tick", catchUp: configs.CatchUpOnce},
		{name: "once: a tick missed", catchUp: configs.CatchUpOnce, outage: every + 2*time.Second, wantCatchUp: true},
		{name: "none: a tick missed", catchUp: configs.CatchUpNone, outage: every + 2*time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newClusterDB(t, "postgres")
			cfg := writeCatchUpConfig(t, db, nSyncs, "@every 4s", tc.catchUp)
			pool := testPool(t, db.dsn)
			a := startTestNode(t, cfg, db.queueDSN(), 2)
			waitLeader(t, pool, 20*time.Second, func(id string) bool { return id == a.q.client.ID() })
			var b *node
			if tc.outage == 0 {
				b = startTestNode(t, cfg, db.queueDSN(), 2)
			}
			waitTickDone(t, pool, nSyncs, 0)
			time.Sleep(every / 2) // mid-way between two ticks
			require.NoError(t, a.stop())
			stoppedAt := time.Now()
			if tc.outage > 0 {
				time.Sleep(tc.outage)
				b = startTestNode(t, cfg, db.queueDSN(), 2)
			}
			waitLeader(t, pool, 20*time.Second, func(id string) bool { return id == b.q.client.ID() })
			electedAt := time.Now()
			t.Logf("leader stopped; the next elected %s later", electedAt.Sub(stoppedAt).Round(time.Millisecond))
			if tc.wantCatchUp {
				// Stopped once its catch-up has run, before its first
				// tick: the next leader must not catch up again.
				waitTickDone(t, pool, nSyncs, nSyncs)
				require.NoError(t, b.stop())
				c := startTestNode(t, cfg, db.queueDSN(), 2)
				waitLeader(t, pool, 20*time.Second, func(id string) bool { return id == c.q.client.ID() })
				b = c
			}
			time.Sleep(2*every + every/2)
			require.NoError(t, b.stop())

			for name, runs := range syncRuns(t, cfg, nSyncs) {
				caught := catchUps(runs)
				first := slices.IndexFunc(runs, func(r syncs.RunRecord) bool { return r.Started.After(stoppedAt) })
				require.Positive(t, first, "%s: runs before and after the stop", name)
				if !tc.wantCatchUp {
					require.Empty(t, caught, "%s: no catch-up", name)
					gap := runs[first].Started.Sub(runs[first-1].Started)
					if tc.outage == 0 {
						require.InDelta(t, every.Seconds(), gap.Seconds(), 0.5, "%s: the tick after the handover on the old phase", name)
					} else {
						require.GreaterOrEqual(t, runs[first].Started.Sub(electedAt), every-time.Second,
							"%s: the first run is a tick a period after the election", name)
					}
					continue
				}
				require.Len(t, caught, 1, "%s: one catch-up between the two leaders", name)
				require.Equal(t, caught[0].ID, runs[first].ID, "%s: the first run after the outage is the catch-up", name)
				require.WithinDuration(t, electedAt, caught[0].Started, 2*time.Second, "%s: at the election", name)
			}
		})
	}
}
