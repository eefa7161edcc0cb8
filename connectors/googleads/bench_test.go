package googleads_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/googleads"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// synthSource yields n made-up contacts, building each as it is read: the
// audience is never held in memory by the source.
type synthSource struct{ n int }

func (s synthSource) Read(ctx context.Context, _ connectors.ReadRequest, out connectors.Emitter) error {
	var m audience.Member
	for i := range s.n {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		m.Reset()
		m.Key = "C" + strconv.Itoa(i)
		m.Fields[audience.Email] = "member." + strconv.Itoa(i) + "@example.com"
		m.Fields[audience.Phone] = fmt.Sprintf("+1 202 555 %04d", i%10000)
		m.Fields[audience.FirstName] = "First" + strconv.Itoa(i%997)
		m.Fields[audience.LastName] = "Last" + strconv.Itoa(i%991)
		m.Fields[audience.Zip] = strconv.Itoa(10000 + i%89999)
		m.Fields[audience.Country] = "US"
		m.Line = int64(i + 1)
		if err := out.Emit(&m); err != nil {
			return err
		}
	}
	return nil
}

func (synthSource) Close() error { return nil }

// uploadClock records when the engine's upload phase starts and ends.
type uploadClock struct {
	mu         sync.Mutex
	start, end time.Time
}

// Observe notes the first DestinationProgress (applying starts) and
// DestinationDone (it ended).
func (c *uploadClock) Observe(ev engine.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev.(type) {
	case engine.DestinationProgress:
		if c.start.IsZero() {
			c.start = time.Now()
		}
	case engine.DestinationDone:
		c.end = time.Now()
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchMembers() int {
	if v, err := strconv.Atoi(os.Getenv("AUDIENCESYNC_BENCH_MEMBERS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// BenchmarkFirstUpload1M runs a first upload of n members (default
// 1,000,000; AUDIENCESYNC_BENCH_MEMBERS scales it) through engine.Run to
// the sandbox replica with 100ms added to every request. It reports rows
// a second and the ratio of the elapsed time to the latency-bound minimum
// (every request the sandbox received × 100ms / concurrency), for the
// whole run (read, normalise, plan, upload, feedback) and for the upload
// phase alone (its member requests). The client-side rate limit is raised
// to 100 requests a second so latency, not the limiter, is what is
// measured.
func BenchmarkFirstUpload1M(b *testing.B) {
	const latency = 100 * time.Millisecond
	n := benchMembers()
	var rows, ratio, uploadRatio, requests, before, during, after, serverMS, inFlight, cpu float64
	for b.Loop() {
		b.StopTimer()
		var total, members atomic.Int64
		var firstIngest, lastIngest atomic.Int64 // unix nanoseconds
		var ingestNanos atomic.Int64             // time ingest requests spent in the server
		srv := sandbox.New(sandbox.Options{Latency: latency})
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			total.Add(1)
			ingest := strings.HasSuffix(r.URL.Path, ":ingest")
			if ingest {
				members.Add(1)
				firstIngest.CompareAndSwap(0, time.Now().UnixNano())
			}
			t0 := time.Now()
			srv.ServeHTTP(w, r)
			if ingest {
				ingestNanos.Add(int64(time.Since(t0)))
				lastIngest.Store(time.Now().UnixNano())
			}
		}))
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		d, err := googleads.New(&googleads.Settings{OperatingAccount: "1234567890", Settings: platformconn.Settings{Sandbox: true, RequestsPerSecond: 100}},
			connectors.Env{Endpoint: func(context.Context, string) (string, error) { return ts.URL, nil }})
		if err != nil {
			b.Fatal(err)
		}
		prof, _ := platformbuiltin.Profile("google")
		clock := &uploadClock{}
		eng := &engine.Engine{Store: st, Observer: clock}
		job := &engine.Job{
			Sync:   "bench",
			Source: synthSource{n: n},
			Request: connectors.ReadRequest{Key: "id", Fields: map[audience.Kind]string{
				audience.Email: "email", audience.Phone: "phone", audience.FirstName: "first_name",
				audience.LastName: "last_name", audience.Zip: "zip", audience.Country: "country"}},
			DefaultRegion: "US",
			Targets: []*engine.Target{{
				Name: "google", Type: googleads.Type, Dest: d, Info: d.Info(), Profile: prof,
				Audience:       connectors.AudienceSpec{Name: "Bench", Create: true},
				DefaultConsent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
			}},
		}
		b.StartTimer()
		cpu0 := cpuTime()
		start := time.Now()
		rep, err := eng.Run(context.Background(), job, engine.Options{})
		elapsed := time.Since(start)
		cpu = (cpuTime() - cpu0).Seconds()
		b.StopTimer()
		if err != nil {
			b.Fatalf("run: %v (%v)", err, rep.Destinations[0].Errors)
		}
		if got := rep.Destinations[0].Applied.Added; got != int64(n) {
			b.Fatalf("added %d members, want %d", got, n)
		}
		conc := float64(d.Info().Concurrency)
		minimum := time.Duration(float64(total.Load()) * float64(latency) / conc)
		uploadMin := time.Duration(float64(members.Load()) * float64(latency) / conc)
		end := start.Add(elapsed)
		before = time.Unix(0, firstIngest.Load()).Sub(start).Seconds()
		during = time.Duration(lastIngest.Load() - firstIngest.Load()).Seconds()
		serverMS = float64(ingestNanos.Load()) / 1e6 / float64(members.Load())
		inFlight = float64(ingestNanos.Load()) / 1e9 / during
		after = end.Sub(time.Unix(0, lastIngest.Load())).Seconds()
		rows = float64(n) / elapsed.Seconds()
		ratio = elapsed.Seconds() / minimum.Seconds()
		uploadRatio = clock.end.Sub(clock.start).Seconds() / uploadMin.Seconds()
		requests = float64(total.Load())
		_ = d.Close()
		_ = st.Close()
		ts.Close()
		b.StartTimer()
	}
	b.ReportMetric(rows, "rows/s")
	b.ReportMetric(ratio, "x-latency-bound")
	b.ReportMetric(uploadRatio, "upload-x-latency-bound")
	b.ReportMetric(requests, "requests")
	// Where the time goes: reading and planning before the first ingest
	// request, the ingest requests, and what follows the last one
	// (feedback polling, the run's end).
	b.ReportMetric(before, "s-before-first-upload")
	b.ReportMetric(during, "s-uploading")
	b.ReportMetric(after, "s-after-last-upload")
	// How the upload phase is spent: the time an ingest request takes in
	// the replica (the added latency included), and how many are in flight
	// on average (at most the destination's concurrency).
	b.ReportMetric(serverMS, "ms-per-ingest")
	b.ReportMetric(inFlight, "ingests-in-flight")
	// CPU time of the whole process (client and replica) during the run:
	// steadier than elapsed time on a shared machine.
	b.ReportMetric(cpu, "cpu-s")
}
