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

// fixture is one benchmark audience, built once per process and size.
type fixture struct {
	once sync.Once
	dir  string
	err  error
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[int]*fixture{}
)

// benchFixture builds, once per process and size, a committed state of n
// members and a new export with 1% churn: the first 1% of members gone
// and as many new ones. The state is committed by a first upload to a
// destination that acknowledges everything: batches of 10,000 members,
// committed in member-key order (appends to the state table).
func benchFixture(b *testing.B, n int) string {
	fixturesMu.Lock()
	f := fixtures[n]
	if f == nil {
		f = &fixture{}
		fixtures[n] = f
	}
	fixturesMu.Unlock()
	f.once.Do(func() {
		start := time.Now()
		f.dir, f.err = buildFixture(b, n)
		b.Logf("fixture of %d members built in %s", n, time.Since(start).Round(time.Second))
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.dir
}

func buildFixture(b *testing.B, n int) (string, error) {
	dir, err := os.MkdirTemp("", "audiencesync-bench-")
	if err != nil {
		return "", err
	}
	base := filepath.Join(dir, "base.csv")
	if err := writeContacts(base, [2]int{0, n}); err != nil {
		return "", err
	}
	churn := n / 100
	if err := writeContacts(filepath.Join(dir, "churn.csv"), [2]int{churn, n}, [2]int{n, n + churn}); err != nil {
		return "", err
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		return "", err
	}
	defer st.Close()
	eng := &engine.Engine{Store: st, SpillDir: dir}
	rep, err := eng.Run(context.Background(), benchJob(b, base, &nullDestination{}), engine.Options{})
	if err != nil {
		return "", err
	}
	if err := os.Remove(base); err != nil {
		return "", err
	}
	if got := rep.Destinations[0].Applied.Added; got != int64(n) {
		return "", fmt.Errorf("fixture committed %d members, want %d", got, n)
	}
	return dir, nil
}

// BenchmarkPlan1M plans a sync of an n-member export (default 1,000,000)
// against n committed members with 1% churn: read, normalise, hash, diff.
// Each iteration runs in a fresh process (the real path, SQLite open
// included) so the reported peak RSS is the plan's own. Targets: at most
// 15 s and 400 MB peak RSS on the 2-core reference machine; peak RSS at
// most 1/1.3 of BenchmarkPlan10M's.
func BenchmarkPlan1M(b *testing.B) { benchPlan(b, benchMembers()) }

// BenchmarkPlan10M is BenchmarkPlan1M at 10,000,000 members
// (AUDIENCESYNC_BENCH_10M_MEMBERS changes the size). Targets: at most
// 45 s and 450 MB peak RSS, and at most 1.3 times BenchmarkPlan1M's peak.
// Building its fixture (a 10M-row CSV and a first upload of it into
// SQLite) takes minutes and about 3.5 GB of disk, removed afterwards.
func BenchmarkPlan10M(b *testing.B) {
	n := 10_000_000
	if v, err := strconv.Atoi(os.Getenv("AUDIENCESYNC_BENCH_10M_MEMBERS")); err == nil && v > 0 {
		n = v
	}
	benchPlan(b, n)
}

func benchPlan(b *testing.B, n int) {
	dir := benchFixture(b, n)
	var maxRSS int64
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPlanBenchHelper$", "-test.count=1", "-test.v")
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
		if _, took, ok := strings.Cut(string(out), "planned in "); ok {
			took, _, _ = strings.Cut(took, "\n")
			b.Logf("%d members planned in %s", n, took)
		}
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
	eng := &engine.Engine{Store: st, SpillDir: dir}
	// ENGINE_PLAN_STREAM_AT compares the paths: -1 plans in memory.
	eng.StreamPlanAt, _ = strconv.Atoi(os.Getenv("ENGINE_PLAN_STREAM_AT"))
	// The peak is the plan's: reset it once the test binary is up.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("cannot reset the peak RSS: %v", err)
	}
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
	took := time.Since(start) // the plan's, not the count's below
	n2, _ := st.Count(context.Background(), state.Scope{Sync: "bench", Destination: "null"})
	t.Logf("%d members against %d committed planned in %s", n, n2, took.Round(time.Millisecond))
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
