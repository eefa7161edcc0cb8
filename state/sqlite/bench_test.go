package sqlite

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

// commitChunk is the engine's Commit size.
const commitChunk = 10_000

// bigMembers is the size of the audience the read benchmarks stream.
const bigMembers = 1_000_000

// TestMain removes the benchmarks' database, and fails the run if a test
// left a goroutine running (the store's writer and readers must stop with
// Close).
func TestMain(m *testing.M) {
	code := m.Run()
	if big.dir != "" {
		os.RemoveAll(big.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// big is a database of bigMembers members with two hashed identifiers
// each, built once per test binary for the benchmarks that read it.
var big struct {
	once      sync.Once
	dir, path string
	bytes     int64 // on disk, after a checkpoint
	err       error
}

func bigDB(b *testing.B) string {
	b.Helper()
	big.once.Do(func() {
		big.dir, big.err = os.MkdirTemp("", "statebench")
		if big.err != nil {
			return
		}
		big.path = filepath.Join(big.dir, "state.db")
		big.bytes, big.err = buildDB(context.Background(), big.path, bigMembers)
	})
	if big.err != nil {
		b.Fatal(big.err)
	}
	return big.path
}

// buildDB commits n members to testScope and returns the size of the
// database once its WAL is checkpointed.
func buildDB(ctx context.Context, path string, n int) (int64, error) {
	s, err := Open(ctx, path)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	changes := benchChanges(commitChunk)
	for i := 0; i < n; i += commitChunk {
		setKeys(changes, uint64(i))
		if err := s.Commit(ctx, testScope, changes[:min(commitChunk, n-i)]); err != nil {
			return 0, err
		}
	}
	if _, err := s.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// benchChanges returns n additions, each with a hashed e-mail and phone.
func benchChanges(n int) []state.Change {
	ids := []audience.Identifier{hashedEmail("someone@example.com"), hashedEmail("+15551234567")}
	ids[1].Kind = audience.Phone
	fp := audience.FingerprintOf(ids, audience.Consent{})
	sent := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([]state.Change, n)
	for i := range out {
		out[i] = state.Change{Fingerprint: fp, Identifiers: ids, LastSent: sent}
	}
	return out
}

// setKeys gives the changes the keys of members first, first+1, …: spread
// over the key space like real (hashed) keys, without hashing.
func setKeys(changes []state.Change, first uint64) {
	for i := range changes {
		x := mix(first + uint64(i))
		binary.BigEndian.PutUint64(changes[i].Key[:8], x)
		binary.BigEndian.PutUint64(changes[i].Key[8:], mix(x))
	}
}

// mix is splitmix64's finaliser: a bijection that scatters counters.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func openBench(b *testing.B, path string) *Store {
	b.Helper()
	s, err := Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkCommit commits batches of 10,000 new members, as the engine
// does after acknowledged uploads.
func BenchmarkCommit(b *testing.B) {
	s := openBench(b, filepath.Join(b.TempDir(), "state.db"))
	changes := benchChanges(commitChunk)
	var next uint64
	for b.Loop() {
		setKeys(changes, next)
		next += commitChunk
		if err := s.Commit(b.Context(), testScope, changes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*commitChunk)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkMembers streams a 1,000,000-member scope, as planning does. It
// also reports the database's size per member (two hashed identifiers each).
func BenchmarkMembers(b *testing.B) {
	s := openBench(b, bigDB(b))
	var n int
	for b.Loop() {
		n = 0
		err := s.Members(b.Context(), testScope, func(state.Entry) error {
			n++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n != bigMembers {
		b.Fatalf("streamed %d members, want %d", n, bigMembers)
	}
	b.ReportMetric(float64(b.N*bigMembers)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(big.bytes)/bigMembers, "bytes/member")
}

// BenchmarkIdentifiers looks up the identifiers of 20,000 members of a
// 1,000,000-member scope, as planning does for removals and updates.
func BenchmarkIdentifiers(b *testing.B) {
	s := openBench(b, bigDB(b))
	const lookups = 20_000
	changes := make([]state.Change, lookups)
	setKeys(changes, bigMembers/3)
	keys := make([]audience.MemberKey, lookups)
	for i := range changes {
		keys[i] = changes[i].Key
	}
	for b.Loop() {
		got, err := s.Identifiers(b.Context(), testScope, keys)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != lookups {
			b.Fatalf("found %d of %d keys", len(got), lookups)
		}
	}
	b.ReportMetric(float64(b.N*lookups)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkCommitAppend commits batches of 10,000 new members whose keys
// all sort after those stored, as a first upload does: the engine sends in
// key order, so each commit appends to the member table.
func BenchmarkCommitAppend(b *testing.B) {
	s := openBench(b, filepath.Join(b.TempDir(), "state.db"))
	changes := benchChanges(commitChunk)
	var next uint64
	for b.Loop() {
		for i := range changes {
			binary.BigEndian.PutUint64(changes[i].Key[:8], next)
			binary.BigEndian.PutUint64(changes[i].Key[8:], mix(next))
			next++
		}
		if err := s.Commit(b.Context(), testScope, changes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*commitChunk)/b.Elapsed().Seconds(), "rows/s")
}
