package meta_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/meta"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// benchMembers is the audience size; AUDIENCESYNC_BENCH_MEMBERS scales it.
func benchMembers() int {
	if v, err := strconv.Atoi(os.Getenv("AUDIENCESYNC_BENCH_MEMBERS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// lazySource makes up n CRM contacts as they are read: nothing is held.
type lazySource struct{ n int }

var firstNames = []string{"Ada", "José", "Zoë", "Li", "Anne-Marie"}

func (s lazySource) Read(ctx context.Context, _ connectors.ReadRequest, out connectors.Emitter) error {
	var buf []byte
	num := func(prefix string, i, width int, suffix string) string {
		buf = append(buf[:0], prefix...)
		d := strconv.AppendInt(nil, int64(i), 10)
		for range width - len(d) {
			buf = append(buf, '0')
		}
		buf = append(buf, d...)
		buf = append(buf, suffix...)
		return string(buf)
	}
	for i := range s.n {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var m audience.Member
		m.Key = num("C", i, 8, "")
		m.Fields[audience.Email] = num("Member.", i, 8, "@Example.com")
		// Unique US numbers: exchange 200-299, line 0000-9999.
		m.Fields[audience.Phone] = num("(202) "+strconv.Itoa(200+i/10000%100)+"-", i%10000, 4, "")
		m.Fields[audience.FirstName] = firstNames[i%len(firstNames)]
		m.Fields[audience.LastName] = num("Last", i%991, 0, "")
		m.Fields[audience.Zip] = num("", 10000+i%89999, 5, "")
		m.Fields[audience.Country] = "US"
		if err := out.Emit(&m); err != nil {
			return err
		}
	}
	return nil
}

func (lazySource) Close() error { return nil }

// BenchmarkFirstUpload1M uploads a whole audience for the first time
// through engine.Run to the sandbox answering every request after 100ms,
// and reports rows a second and how far the run is from the latency-bound
// minimum: upload requests × 100ms / concurrency. The figures cover the
// whole process: source, engine, state store, connector and replica share
// the machine.
func BenchmarkFirstUpload1M(b *testing.B) {
	const latency = 100 * time.Millisecond
	n := benchMembers()
	prof, err := platformbuiltin.Profile("meta")
	if err != nil {
		b.Fatal(err)
	}
	var elapsed, planning time.Duration
	var uploads int64
	var peak uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sb := sandbox.New(sandbox.Options{Latency: latency})
		var users atomic.Int64
		var firstUpload atomic.Int64 // unix nanoseconds
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/users") && users.Add(1) == 1 {
				firstUpload.Store(time.Now().UnixNano())
			}
			sb.ServeHTTP(w, r)
		}))
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		d, err := meta.New(&meta.Settings{AdAccount: adAccount, AppID: metaplatform.ReplicaAppID, AppSecret: auth.NewSecret(metaplatform.ReplicaAppSecret),
			AccessToken: auth.NewSecret(metaplatform.ReplicaToken), Settings: platformconn.Settings{Endpoint: ts.URL}}, connectors.Env{Logger: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		job := &engine.Job{
			Sync:   "bench",
			Source: lazySource{n: n},
			Request: connectors.ReadRequest{Key: "contact_id", Fields: map[audience.Kind]string{
				audience.Email: "email", audience.Phone: "phone", audience.FirstName: "first_name",
				audience.LastName: "last_name", audience.Zip: "zip", audience.Country: "country"}},
			DefaultRegion:     "US",
			MaxRemoveFraction: 0.2,
			Targets: []*engine.Target{{
				Name: "meta", Type: meta.Type, Dest: d, Info: d.Info(), Profile: prof,
				Audience:       connectors.AudienceSpec{Name: "bench", Create: true},
				DefaultConsent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
			}},
		}
		eng := &engine.Engine{Store: st}
		stop := watchHeap(&peak)
		b.StartTimer()

		start := time.Now()
		rep, err := eng.Run(context.Background(), job, engine.Options{})
		elapsed += time.Since(start)

		b.StopTimer()
		stop()
		if err != nil {
			b.Fatal(err)
		}
		if got := rep.Destinations[0]; got.Status != report.StatusSucceeded || got.Applied.Added != int64(n) {
			b.Fatalf("run %s, %d added of %d: %v", got.Status, got.Applied.Added, n, got.Errors)
		}
		uploads += users.Load()
		planning += time.Unix(0, firstUpload.Load()).Sub(start)
		_ = job.Close()
		_ = st.Close()
		ts.Close()
	}
	conc := meta.DefaultConcurrency
	bound := time.Duration(uploads) * latency / time.Duration(conc)
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(elapsed.Seconds()/bound.Seconds(), "x-latency-bound")
	b.ReportMetric(float64(uploads)/float64(b.N), "requests")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	// The engine reads and plans the whole audience before the first
	// upload: that share of the run is not the connector's.
	b.ReportMetric(planning.Seconds()/float64(b.N), "s-before-first-upload")
}

// watchHeap samples the heap in use until the returned stop is called,
// keeping the highest figure in peak. It covers the whole process: the
// engine's plan and the replica's stored audience as well as the
// connector.
func watchHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}
