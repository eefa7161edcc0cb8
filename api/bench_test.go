package api_test

import (
	"bufio"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

var (
	loadFor     = flag.Duration("api-load-for", 20*time.Second, "how long BenchmarkAPIUnderLoad sends requests")
	loadRate    = flag.Int("api-load-rate", 200, "requests per second BenchmarkAPIUnderLoad sends")
	loadRuns    = flag.Int("api-load-runs", 5000, "runs in the state BenchmarkAPIUnderLoad reads")
	loadMembers = flag.Int("api-load-members", 1_000_000, "members of the sync BenchmarkAPIUnderLoad runs meanwhile")
	loadIdle    = flag.Bool("api-load-idle", false, "BenchmarkAPIUnderLoad without the sync running, for comparison")
	loadWorkers = flag.Int("api-load-plan-workers", 0, "plan workers per destination of the sync (0: serve's, one per CPU but one)")
	loadPhase   = flag.String("api-load-from", "start", "when the requests start: at the sync's start, or at its first upload (upload)")
	loadInProc  = flag.Bool("api-load-in-process", false, "BenchmarkAPIUnderLoad sends the requests from its own process, as it used to, instead of a client process of its own")
)

// loadConfig is the config BenchmarkAPIUnderLoad runs: a CSV export of
// -api-load-members synthetic contacts (six identifier columns) to the
// in-process Google sandbox, as a quickstart sync does.
const loadConfig = `state: {path: ./state.db}
connections:
  crm: {type: csv, path: ./contacts.csv}
  google: {type: google_ads, sandbox: true, operating_account: "1234567890"}
syncs:
  - name: cart-abandoners
    source:
      {connection: crm, key: contact_id, default_region: US,
       fields: {email: email, phone: phone, first_name: first_name, last_name: last_name, zip: zip, country: country}}
    destinations:
      - {connection: google, audience: {name: Cart abandoners, membership_days: 540},
         consent: {ad_user_data: granted, ad_personalization: granted}}
`

// BenchmarkAPIUnderLoad measures the API's latency on loopback while a
// 1,000,000-member sync runs: a real server on a real SQLite state
// holding -api-load-runs runs (each with four destination summaries and
// a report), sent -api-load-rate requests a second for -api-load-for,
// half run listings and half reports, fired on a fixed schedule whatever
// the answers' speed (so a slow server cannot slow the load down).
// Meanwhile the service runs a sync of -api-load-members members to the
// in-process Google sandbox through the same state, as `serve` does: the
// first run uploads every member, and full refreshes follow it until the
// requests end (read, normalise, hash, plan, upload to the replica,
// commit every acknowledged batch), so the requests meet every phase of a
// large run (-api-load-from upload starts the requests at the first
// upload instead of the run's start). The requests come from a client
// process of their own (the test binary run again, see loadclient_test.go),
// so the latencies are the server's and not those of a load generator
// competing with it for the same CPUs in the same runtime
// (-api-load-in-process sends them from the benchmark's process instead).
// It prints p50 and p99; the target is p99 under 50 ms.
//
//	go test -run '^$' -bench APIUnderLoad -benchtime 1x ./api/
func BenchmarkAPIUnderLoad(b *testing.B) {
	dir := b.TempDir()
	require.NoError(b, os.WriteFile(filepath.Join(dir, "audiencesync.yaml"), []byte(loadConfig), 0o600))
	require.NoError(b, writeLoadContacts(filepath.Join(dir, "contacts.csv"), *loadMembers))
	// As `serve` readies its process (GOMAXPROCS) and sizes its runs.
	workers := cmp.Or(*loadWorkers, syncs.ServePlanWorkers(syncs.ServeCPUs()))
	bb := setupWith(b, syncs.Options{ConfigPath: filepath.Join(dir, "audiencesync.yaml"), PlanWorkers: workers}, false, nil)
	// Time spent in the handler, apart from what the client sees (which
	// adds the wait for a CPU before the handler runs, and the network).
	var (
		handled   []time.Duration
		handledMu sync.Mutex
	)
	api := bb.srv.Config.Handler
	bb.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		api.ServeHTTP(w, r)
		took := time.Since(start)
		handledMu.Lock()
		handled = append(handled, took)
		handledMu.Unlock()
	})
	base := time.Now().Add(-time.Duration(*loadRuns) * time.Minute).UTC()
	ids := seedLoadRuns(b, bb.store, *loadRuns, base)
	for range b.N {
		var (
			wg   sync.WaitGroup
			sl   = &syncLoad{started: make(chan struct{}), uploading: make(chan struct{})}
			stop = make(chan struct{})
		)
		if !*loadIdle {
			wg.Go(func() { sl.run(b, bb.svc, stop) })
			from := sl.started
			if *loadPhase == "upload" {
				from = sl.uploading
			}
			select {
			case <-from:
			case <-time.After(5 * time.Minute):
				b.Fatalf("the sync did not reach %s", *loadPhase)
			}
		}
		handledMu.Lock()
		handled = handled[:0]
		handledMu.Unlock()
		win := startWindow()
		lat, failures, client := sendLoad(b, bb, ids)
		where := win.end()
		close(stop)
		wg.Wait()
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(lat)), "requests")
		fmt.Printf("api under load (from the sync's %s): %d requests in %s (%d/s), %d failed; p50 %s, p99 %s, max %s; "+
			"meanwhile the %d-member sync (%d plan workers) committed %d members; runs started %d, finished %d\n",
			*loadPhase, len(lat), *loadFor, *loadRate, failures, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond),
			lat[len(lat)-1].Round(10*time.Microsecond), *loadMembers, workers, sl.committed.Load(), sl.begun.Load(), sl.runs.Load())
		handledMu.Lock()
		slices.Sort(handled)
		inHandler := fmt.Sprintf("in the handler p50 %s, p99 %s", handled[len(handled)/2].Round(10*time.Microsecond),
			handled[len(handled)*99/100].Round(10*time.Microsecond))
		handledMu.Unlock()
		fmt.Println("where the time went:", inHandler+";", where+";", client)
		require.Zero(b, failures)
	}
}

// window samples, over the requests' time, what tells where a request's
// time goes besides its own work: the CPU the process got, how long
// goroutines waited to run (runtime/metrics /sched/latencies: a handler
// that is ready but waits for a CPU), the garbage collector's pauses, and
// the machine's load average (other processes on the same cores).
type window struct {
	start time.Time
	cpu   time.Duration
	sched *metrics.Float64Histogram
	pause *metrics.Float64Histogram
	gcs   uint64
}

// windowMetrics are what window reads, in this order.
var windowMetrics = []string{"/sched/latencies:seconds", "/gc/pauses:seconds", "/gc/cycles/total:gc-cycles"}

func readWindowMetrics() (sched, pause *metrics.Float64Histogram, gcs uint64) {
	samples := make([]metrics.Sample, len(windowMetrics))
	for i, name := range windowMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	return samples[0].Value.Float64Histogram(), samples[1].Value.Float64Histogram(), samples[2].Value.Uint64()
}

func startWindow() *window {
	w := &window{start: time.Now(), cpu: processCPU()}
	w.sched, w.pause, w.gcs = readWindowMetrics()
	return w
}

func (w *window) end() string {
	wall := time.Since(w.start)
	cpu := processCPU() - w.cpu
	sched, pause, gcs := readWindowMetrics()
	schedP99 := quantile(w.sched, sched, 0.99)
	pauseSum, pauseMax := histSum(w.pause, pause)
	gcs -= w.gcs
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("process CPU %.2f of %d cores; goroutines waiting to run p99 %.1f ms; %d GCs, pauses %.0f ms in all, longest ≤ %.1f ms; load average %s",
		cpu.Seconds()/wall.Seconds(), runtime.GOMAXPROCS(0), schedP99*1000, gcs, pauseSum*1000, pauseMax*1000, strings.Fields(string(load) + " ?")[0])
}

// writeLoadContacts writes a synthetic export of n contacts.
func writeLoadContacts(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "contact_id,email,phone,first_name,last_name,zip,country")
	for i := range n {
		fmt.Fprintf(w, "C%08d,member.%08d@example.com,(202) 555-%04d,First%d,Last%d,%05d,US\n", i, i, i%10000, i%997, i%991, 10000+i%89999)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncLoad runs the benchmark's sync over and over and counts what it
// did.
type syncLoad struct {
	started   chan struct{} // closed at the first run's start
	uploading chan struct{} // closed at the first batch acknowledged
	once      sync.Once
	upOnce    sync.Once
	begun     atomic.Int64 // runs started
	runs      atomic.Int64 // runs finished
	committed atomic.Int64 // members acknowledged and committed
}

func (l *syncLoad) Observe(ev engine.Event) {
	switch e := ev.(type) {
	case engine.RunStarted:
		l.begun.Add(1)
		l.once.Do(func() { close(l.started) })
	case engine.BatchApplied:
		l.upOnce.Do(func() { close(l.uploading) })
		l.committed.Add(int64(e.Accepted))
	case engine.RunFinished:
		l.runs.Add(1)
	}
}

// run runs the sync until stop, the first run uploading every member and
// the next ones re-sending them all (full refresh); the run in progress
// at stop is cancelled.
func (l *syncLoad) run(b *testing.B, svc *syncs.Service, stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	go func() { <-stop; cancel() }()
	for i := 0; ctx.Err() == nil; i++ {
		_, err := svc.Run(ctx, "cart-abandoners", syncs.RunOptions{FullRefresh: i > 0, Observer: l})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			b.Errorf("sync run %d: %v", i, err)
			return
		}
	}
}

// seedLoadRuns records n finished runs with four summaries and a report
// each, and returns their ids.
func seedLoadRuns(b *testing.B, log state.RunLog, n int, base time.Time) []string {
	b.Helper()
	ids := make([]string, n)
	dests := []string{"google", "meta", "x", "exports/google"}
	for i := range n {
		id := fmt.Sprintf("run-%06d", i)
		ids[i] = id
		sync := []string{"cart-abandoners", "newsletter-subscribers"}[i%2]
		started := base.Add(time.Duration(i) * time.Minute)
		require.NoError(b, log.BeginRun(b.Context(), state.Run{ID: id, Sync: sync, Status: "running", Started: started}))
		sums := make([]state.Summary, len(dests))
		rep := fmt.Sprintf(`{"run_id":%q,"sync":%q,"status":"succeeded","started_at":%q,"finished_at":%q,`+
			`"source":{"read":1000000,"valid":999000,"duplicates":12,"rejected":{"row.malformed":988},"rejected_lines":{"row.malformed":[2,3,5,7,11,13,17,19,23,29]}},"destinations":[`,
			id, sync, started.Format(time.RFC3339), started.Add(time.Minute).Format(time.RFC3339))
		for j, d := range dests {
			sums[j] = state.Summary{Destination: d, Status: "succeeded", Members: 1000000 - int64(i),
				Planned: state.Planned{Add: 1200, Remove: 300, Unchanged: 998500}, Applied: state.Applied{Added: 1200, Removed: 300},
				Platform: &state.PlatformFigures{Status: "SUCCESS", MatchRate: "MATCH_RATE_RANGE_41_TO_50", Size: 990000},
				Started:  started, Finished: started.Add(time.Minute)}
			if j > 0 {
				rep += ","
			}
			rep += fmt.Sprintf(`{"name":%q,"type":"google_ads","profile":"google","status":"succeeded","members":%d,`+
				`"planned":{"add":1200,"remove":300,"update":0,"refresh":0,"unchanged":998500},`+
				`"applied":{"added":1200,"removed":300,"updated":0,"refreshed":0,"failed":0,"not_attempted":0},`+
				`"rejected":{"email.malformed":125,"phone.invalid":20},"batches":3,"retries":0}`, d, 1000000-i)
		}
		rep += `]}`
		require.NoError(b, log.FinishRun(b.Context(), id, "succeeded", started.Add(time.Minute), []byte(rep), sums))
	}
	return ids
}

// sendLoad fires the requests, from a client process of its own unless
// -api-load-in-process, and returns their latencies, how many did not
// answer 200, and what the client cost.
func sendLoad(b *testing.B, bb *bundle, ids []string) ([]time.Duration, int, string) {
	if *loadInProc {
		lat, failures := fireLoad(b.Context(), bb.srv.URL, bb.viewer, ids, *loadRate, *loadFor)
		return lat, failures, "client in this process"
	}
	return loadFromClient(b, loadJob{URL: bb.srv.URL, Token: bb.viewer, IDs: ids, Rate: *loadRate, For: *loadFor})
}

// fireLoad sends rate requests a second for d to the API at base with
// token, half run listings and half reports of runs among ids, on a fixed
// schedule whatever the answers' speed, and returns their latencies and
// how many did not answer 200.
func fireLoad(ctx context.Context, base, token string, ids []string, rate int, d time.Duration) ([]time.Duration, int) {
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		mu       sync.Mutex
		lat      []time.Duration
		failures int
		wg       sync.WaitGroup
	)
	n := int(d.Seconds() * float64(rate))
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		path := "/api/v1/runs/" + ids[rand.IntN(len(ids))] + "/report"
		if i%2 == 0 {
			path = "/api/v1/runs?limit=50"
			if i%4 == 0 {
				path = "/api/v1/runs?sync=cart-abandoners&status=succeeded&limit=50"
			}
		}
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			start := time.Now()
			resp, err := client.Do(req)
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			took := time.Since(start)
			mu.Lock()
			lat = append(lat, took)
			if !ok {
				failures++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat, failures
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// quantile is the q-quantile of what histogram now counted since before
// (the upper bound of its bucket).
func quantile(before, now *metrics.Float64Histogram, q float64) float64 {
	var total uint64
	for i := range now.Counts {
		total += now.Counts[i] - before.Counts[i]
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i := range now.Counts {
		seen += now.Counts[i] - before.Counts[i]
		if seen >= want {
			return now.Buckets[i+1]
		}
	}
	return now.Buckets[len(now.Buckets)-1]
}

// histSum is an estimate of the sum of what histogram now counted since
// before (each count at its bucket's lower bound), and the upper bound of
// the highest bucket it counted in.
func histSum(before, now *metrics.Float64Histogram) (sum, most float64) {
	for i := range now.Counts {
		n := now.Counts[i] - before.Counts[i]
		if n == 0 {
			continue
		}
		lo := now.Buckets[i]
		if math.IsInf(lo, -1) {
			lo = 0
		}
		sum += float64(n) * lo
		most = now.Buckets[i+1]
	}
	return sum, most
}
