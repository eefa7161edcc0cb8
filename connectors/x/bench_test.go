package x

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// benchLatency is the sandbox's latency per request in the benchmark.
const benchLatency = 100 * time.Millisecond

// benchMembers is the audience size; AUDIENCESYNC_BENCH_MEMBERS scales it.
func benchMembers() int {
	if v, err := strconv.Atoi(os.Getenv("AUDIENCESYNC_BENCH_MEMBERS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// lazySource makes n CRM records as they are read, one reused Member at a
// time: the audience is never held in memory.
type lazySource struct{ n int }

func (s lazySource) Read(ctx context.Context, _ connectors.ReadRequest, out connectors.Emitter) error {
	var m audience.Member
	buf := make([]byte, 0, 64)
	for i := range s.n {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		m.Reset()
		buf = strconv.AppendInt(append(buf[:0], 'C'), int64(i), 10)
		m.Key = string(buf)
		buf = append(strconv.AppendInt(append(buf[:0], "member."...), int64(i), 10), "@example.com"...)
		m.Fields[audience.Email] = string(buf)
		buf = strconv.AppendInt(append(buf[:0], "+1202"...), int64(1_000_000+i%9_000_000), 10)
		m.Fields[audience.Phone] = string(buf)
		if err := out.Emit(&m); err != nil {
			return err
		}
	}
	return nil
}

func (lazySource) Close() error { return nil }

// BenchmarkFirstUpload1M uploads an audience of AUDIENCESYNC_BENCH_MEMBERS
// (default 1,000,000) members, each with a hashed e-mail address and phone
// number, to an empty custom audience through engine.Run: read, normalise,
// hash, plan, upload to the sandbox (100 ms a request) and commit state.
// It reports rows a second, and the ratio of the elapsed time to the
// latency-bound minimum, requests × 100 ms / concurrency (target: within
// 3×), and that ratio for the upload phase alone (from the first users
// request on).
func BenchmarkFirstUpload1M(b *testing.B) {
	n := benchMembers()
	var rows, requests, elapsed, uploading float64
	var conc int
	for b.Loop() {
		b.StopTimer()
		srv := sandbox.New(sandbox.Options{Latency: benchLatency})
		var users, firstUpload atomic.Int64
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.HasSuffix(req.URL.Path, "/users") {
				users.Add(1)
				firstUpload.CompareAndSwap(0, time.Now().UnixNano())
			}
			srv.ServeHTTP(w, req)
		}))
		d, err := New((&replica{ts: ts}).settings(), connectors.Env{})
		if err != nil {
			b.Fatal(err)
		}
		conc = d.Info().Concurrency
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		s := &syncer{t: b, dest: d, eng: &engine.Engine{Store: st},
			spec: connectors.AudienceSpec{Name: "bench", Create: true}}
		job := s.job(lazySource{n: n})
		b.StartTimer()

		start := time.Now()
		rep, err := s.eng.Run(context.Background(), job, engine.Options{})
		took := time.Since(start)

		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if got := rep.Destinations[0]; got.Status != report.StatusSucceeded || got.Applied.Added != int64(n) {
			b.Fatalf("status %s, added %d of %d: %v", got.Status, got.Applied.Added, n, got.Errors)
		}
		rows += float64(n)
		requests += float64(users.Load())
		elapsed += took.Seconds()
		uploading += time.Since(time.Unix(0, firstUpload.Load())).Seconds()
		_ = d.Close()
		_ = st.Close()
		ts.Close()
		b.StartTimer()
	}
	minimum := requests * benchLatency.Seconds() / float64(conc)
	b.ReportMetric(rows/elapsed, "rows/s")
	b.ReportMetric(elapsed/minimum, "x-latency-bound")
	// The same from the first upload on: what the connector and the
	// sandbox add, without the engine's read and plan.
	b.ReportMetric(uploading/minimum, "upload-x-latency-bound")
	b.ReportMetric(requests/float64(b.N), "requests/op")
}
