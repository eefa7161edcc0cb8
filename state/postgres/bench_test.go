package postgres_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	csvsrc "github.com/audiencesync/audiencesync/connectors/csv"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/postgres"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// The benchmarks here run the engine's plan and first upload (as
// engine/bench_test.go does on SQLite) on both stores side by side, and
// report each store's time and their ratio: the targets are about
// PostgreSQL relative to SQLite on the same machine.

// nullDest acknowledges every batch and keeps nothing: the benchmarks
// measure the engine and the store, not a platform.
type nullDest struct{}

func (nullDest) Info() connectors.DestinationInfo {
	return connectors.DestinationInfo{
		Platform: google.Platform(), MaxBatch: 10000, Concurrency: 2, MaxIdentifiers: 10,
		Kinds: []audience.Kind{audience.Email, audience.Phone, audience.FirstName, audience.LastName, audience.Zip, audience.Country},
	}
}

func (nullDest) Ensure(context.Context, connectors.AudienceSpec) (connectors.Audience, error) {
	return connectors.Audience{ID: "null"}, nil
}

func (nullDest) Apply(context.Context, connectors.Audience, connectors.Batch) (connectors.BatchResult, error) {
	return connectors.BatchResult{}, nil
}

func (nullDest) Close() error { return nil }

// benchSize is the audience size; AUDIENCESYNC_BENCH_MEMBERS scales it.
func benchSize() int {
	if v, err := strconv.Atoi(os.Getenv("AUDIENCESYNC_BENCH_MEMBERS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// writeExport writes a synthetic export with the rows of each range.
func writeExport(path string, ranges ...[2]int) error {
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

func job(b *testing.B, path string) *engine.Job {
	src, err := csvsrc.New(&csvsrc.Settings{Path: path}, connectors.Env{})
	if err != nil {
		b.Fatal(err)
	}
	prof, err := platformbuiltin.Profile("google")
	if err != nil {
		b.Fatal(err)
	}
	dest := nullDest{}
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

// exports are the benchmarks' CSV files, written once per process: n
// members, and the same with 1% churn (the first 1% gone, as many new).
var exports struct {
	once              sync.Once
	dir, base, churn  string
	n                 int
	err               error
	sqlitePath, pgDSN string // stores holding base's n members, once uploaded
}

func benchExports(b *testing.B) {
	b.Helper()
	exports.once.Do(func() {
		exports.n = benchSize()
		if exports.dir, exports.err = os.MkdirTemp("", "pgstore-bench-"); exports.err != nil {
			return
		}
		exports.base, exports.churn = filepath.Join(exports.dir, "base.csv"), filepath.Join(exports.dir, "churn.csv")
		n, churn := exports.n, exports.n/100
		if exports.err = writeExport(exports.base, [2]int{0, n}); exports.err == nil {
			exports.err = writeExport(exports.churn, [2]int{churn, n}, [2]int{n, n + churn})
		}
	})
	if exports.err != nil {
		b.Fatal(exports.err)
	}
	b.Cleanup(func() {}) // the files stay for the process's other benchmarks
}

// backend opens one of the two stores on a location.
type backend struct {
	name string
	open func(ctx context.Context, where string) (state.Store, error)
}

var backends = []backend{
	{"sqlite", func(ctx context.Context, path string) (state.Store, error) { return sqlite.Open(ctx, path) }},
	{"postgres", func(ctx context.Context, dsn string) (state.Store, error) {
		return postgres.Open(ctx, dsn, postgres.Options{})
	}},
}

// runOn runs j on the store at where and returns how long the run took.
func runOn(b *testing.B, be backend, where string, j *engine.Job, opts engine.Options) (time.Duration, *report.Report) {
	b.Helper()
	ctx := context.Background()
	st, err := be.open(ctx, where)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	rep, err := (&engine.Engine{Store: st}).Run(ctx, j, opts)
	if err != nil {
		b.Fatalf("%s: %v", be.name, err)
	}
	return time.Since(start), rep
}

// upload runs a first upload of the base export into new stores, and
// keeps them for the plan benchmark.
func upload(b *testing.B) [2]time.Duration {
	b.Helper()
	wheres := [2]string{filepath.Join(b.TempDir(), "state.db"), database(b)}
	var took [2]time.Duration
	for i, be := range backends {
		d, rep := runOn(b, be, wheres[i], job(b, exports.base), engine.Options{})
		if got := rep.Destinations[0].Applied.Added; got != int64(exports.n) {
			b.Fatalf("%s: committed %d members, want %d", be.name, got, exports.n)
		}
		took[i] = d
	}
	// The SQLite file must outlive this benchmark's temp dir.
	kept := filepath.Join(exports.dir, "state.db")
	for _, suffix := range []string{"", ".clean"} {
		if err := os.Rename(wheres[0]+suffix, kept+suffix); err != nil && suffix == "" {
			b.Fatal(err)
		}
	}
	exports.sqlitePath, exports.pgDSN = kept, wheres[1]
	return took
}

// report prints each store's seconds and PostgreSQL's over SQLite's.
func reportPair(b *testing.B, took [2]time.Duration) {
	b.ReportMetric(took[0].Seconds(), "sqlite-s")
	b.ReportMetric(took[1].Seconds(), "postgres-s")
	b.ReportMetric(took[1].Seconds()/took[0].Seconds(), "pg/sqlite")
}

// BenchmarkFirstUpload1M uploads an n-member export (default 1,000,000)
// to a null destination on an empty store, SQLite then PostgreSQL: read,
// normalise, hash, diff and commit every member.
func BenchmarkFirstUpload1M(b *testing.B) {
	benchExports(b)
	var sum [2]time.Duration
	for b.Loop() {
		took := upload(b)
		sum[0], sum[1] = sum[0]+took[0], sum[1]+took[1]
	}
	reportPair(b, [2]time.Duration{sum[0] / time.Duration(b.N), sum[1] / time.Duration(b.N)})
	b.ReportMetric(float64(exports.n)/(sum[1].Seconds()/float64(b.N)), "pg-members/s")
	// The disk each store takes per member, for docs/deploy.md's sizing:
	// the SQLite file, and the members table with its indexes and TOAST
	// (the query the notes give operators).
	fi, err := os.Stat(exports.sqlitePath)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), exports.pgDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	var members int64
	if err := conn.QueryRow(context.Background(), `SELECT pg_total_relation_size('members')`).Scan(&members); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/float64(exports.n), "sqlite-bytes/member")
	b.ReportMetric(float64(members)/float64(exports.n), "pg-bytes/member")
}

// BenchmarkPlan1M plans the export with 1% churn against n committed
// members (default 1,000,000), on SQLite then on PostgreSQL, without
// sending anything. Target: PostgreSQL at most 1.5× SQLite's time.
func BenchmarkPlan1M(b *testing.B) {
	benchExports(b)
	if exports.pgDSN == "" {
		upload(b)
	}
	n, churn := int64(exports.n), int64(exports.n/100)
	want := report.Planned{Add: churn, Remove: churn, Unchanged: n - churn}
	var sum [2]time.Duration
	b.ResetTimer()
	for b.Loop() {
		for i, be := range backends {
			where := []string{exports.sqlitePath, exports.pgDSN}[i]
			d, rep := runOn(b, be, where, job(b, exports.churn), engine.Options{DryRun: true})
			if got := rep.Destinations[0].Planned; got != want {
				b.Fatalf("%s: plan = %+v, want %+v", be.name, got, want)
			}
			sum[i] += d
		}
	}
	reportPair(b, [2]time.Duration{sum[0] / time.Duration(b.N), sum[1] / time.Duration(b.N)})
}

// BenchmarkCommit commits batches of 10,000 new members, as the engine
// does after acknowledged uploads (state/sqlite's BenchmarkCommit, here).
func BenchmarkCommit(b *testing.B) {
	s := openOn(b, database(b))
	ids := []audience.Identifier{{Kind: audience.Email, Value: "aa", Hashed: true}}
	changes := make([]state.Change, 10_000)
	scope := state.Scope{Sync: "bench", Destination: "null"}
	next := 0
	for b.Loop() {
		for i := range changes {
			changes[i] = state.Change{Key: audience.KeyFromSource("m" + strconv.Itoa(next)), Identifiers: ids, LastSent: time.Now()}
			next++
		}
		if err := s.Commit(b.Context(), scope, changes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(changes))/b.Elapsed().Seconds(), "rows/s")
}
