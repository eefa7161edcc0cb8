package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	csvsrc "github.com/audiencesync/audiencesync/connectors/csv"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// nullDestination acknowledges every batch and keeps nothing: the benchmark
// measures the engine, not a destination.
type nullDestination struct{ calls int64 }

func (d *nullDestination) Info() connectors.DestinationInfo {
	return connectors.DestinationInfo{
		Platform: google.Platform(), MaxBatch: 10000, Concurrency: 2, MaxIdentifiers: 10,
		Kinds: []audience.Kind{audience.Email, audience.Phone, audience.FirstName, audience.LastName, audience.Zip, audience.Country},
	}
}

func (d *nullDestination) Ensure(context.Context, connectors.AudienceSpec) (connectors.Audience, error) {
	return connectors.Audience{ID: "null"}, nil
}

func (d *nullDestination) Apply(context.Context, connectors.Audience, connectors.Batch) (connectors.BatchResult, error) {
	d.calls++
	return connectors.BatchResult{}, nil
}

func (d *nullDestination) Close() error { return nil }

// benchMembers is the audience size; AUDIENCESYNC_BENCH_MEMBERS scales it.
func benchMembers() int {
	if v, err := strconv.Atoi(os.Getenv("AUDIENCESYNC_BENCH_MEMBERS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// writeContacts writes a synthetic export with rows [from, to).
func writeContacts(path string, ranges ...[2]int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "contact_id,email,phone,first_name,last_name,zip,country")
	for _, r := range ranges {
		for i := r[0]; i < r[1]; i++ {
			fmt.Fprintf(w, "C%08d,Member.%08d@Example.com,(202) 555-%04d,First%d,Last%d,%05d,US\n",
				i, i, i%10000, i%997, i%991, 10000+i%89999)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func benchJob(t testing.TB, path string, dest connectors.Destination) *engine.Job {
	src, err := csvsrc.New(&csvsrc.Settings{Path: path}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	prof, err := platformbuiltin.Profile("google")
	if err != nil {
		t.Fatal(err)
	}
	return &engine.Job{
		Sync:   "bench",
		Source: src,
		Request: connectors.ReadRequest{Key: "contact_id", Fields: map[audience.Kind]string{
			audience.Email: "email", audience.Phone: "phone", audience.FirstName: "first_name",
			audience.LastName: "last_name", audience.Zip: "zip", audience.Country: "country"}},
		DefaultRegion:     "US",
		MaxRemoveFraction: 0.2,
		Targets: []*engine.Target{{
			Name: "null", Type: "null", Dest: dest, Info: dest.Info(), Profile: prof,
			Audience:       connectors.AudienceSpec{Name: "bench", Create: true},
			DefaultConsent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
		}},
	}
}

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

// benchFixture builds, once per process, a committed state of n members
// and a new export with 1% churn: the first 1% of members gone and as
// many new ones.
func benchFixture(b *testing.B, n int) string {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "audiencesync-bench-")
		if benchErr != nil {
			return
		}
		base := filepath.Join(benchDir, "base.csv")
		if benchErr = writeContacts(base, [2]int{0, n}); benchErr != nil {
			return
		}
		churn := n / 100
		if benchErr = writeContacts(filepath.Join(benchDir, "churn.csv"), [2]int{churn, n}, [2]int{n, n + churn}); benchErr != nil {
			return
		}
		st, err := sqlite.Open(context.Background(), filepath.Join(benchDir, "state.db"))
		if err != nil {
			benchErr = err
			return
		}
		defer st.Close()
		eng := &engine.Engine{Store: st}
		rep, err := eng.Run(context.Background(), benchJob(b, base, &nullDestination{}), engine.Options{})
		if err != nil {
			benchErr = err
			return
		}
		if got := rep.Destinations[0].Applied.Added; got != int64(n) {
			benchErr = fmt.Errorf("fixture committed %d members, want %d", got, n)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

// BenchmarkPlan1M plans a sync of an n-member export (default 1,000,000)
// against n committed members with 1% churn: read, normalise, hash, diff.
// Each iteration runs in a fresh process (the real path, SQLite open
// included) so the reported peak RSS is the plan's own. Targets: at most
// 15 s and 400 MB peak RSS on the 2-core reference machine.
func BenchmarkPlan1M(b *testing.B) {
	n := benchMembers()
	dir := benchFixture(b, n)
	var maxRSS int64
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPlanBenchHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ENGINE_PLAN_HELPER="+dir, "ENGINE_PLAN_MEMBERS="+strconv.Itoa(n))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("plan helper: %v\n%s", err, out)
		}
		// The child reports its own peak: the rusage of a forked child can
		// include the parent's pages at fork, and the parent holds the
		// fixture.
		_, after, ok := strings.Cut(string(out), "peak-rss-kib=")
		if !ok {
			b.Fatalf("plan helper did not report its peak RSS:\n%s", out)
		}
		field, _, _ := strings.Cut(after, "\n")
		kib, err := strconv.ParseInt(strings.TrimSpace(field), 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		maxRSS = max(maxRSS, kib)
	}
	b.StopTimer()
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(maxRSS)/1024, "peak-RSS-MB")
	b.ReportMetric(float64(n)/perOp, "members/s")
	if fi, err := os.Stat(filepath.Join(dir, "state.db")); err == nil {
		b.ReportMetric(float64(fi.Size())/float64(n), "state-bytes/member")
	}
	if os.Getenv("AUDIENCESYNC_BENCH_KEEP") == "" {
		_ = os.RemoveAll(dir)
	} else {
		b.Logf("fixture kept in %s", dir)
	}
}

// TestPlanBenchHelper is BenchmarkPlan1M's child process; it does nothing
// in a normal test run.
func TestPlanBenchHelper(t *testing.T) {
	dir := os.Getenv("ENGINE_PLAN_HELPER")
	if dir == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv("ENGINE_PLAN_MEMBERS"))
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dest := &nullDestination{}
	eng := &engine.Engine{Store: st}
	start := time.Now()
	rep, err := eng.Run(context.Background(), benchJob(t, filepath.Join(dir, "churn.csv"), dest), engine.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	churn := int64(n / 100)
	want := report.Planned{Add: churn, Remove: churn, Unchanged: int64(n) - churn}
	if got := rep.Destinations[0].Planned; got != want {
		t.Fatalf("plan = %+v, want %+v", got, want)
	}
	if dest.calls != 0 {
		t.Fatalf("a plan made %d destination calls", dest.calls)
	}
	n2, _ := st.Count(context.Background(), state.Scope{Sync: "bench", Destination: "null"})
	t.Logf("planned %d members against %d committed in %s", n, n2, time.Since(start))
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Printf("peak-rss-kib=%s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
}
