package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// diffKey is member i's key in BenchmarkDiff10M: ascending with i, so the
// fixture commits in key order, while the source yields members shuffled.
func diffKey(i uint32) audience.MemberKey {
	var k audience.MemberKey
	binary.BigEndian.PutUint64(k[:8], uint64(i)<<24|fold(uint64(i))>>40)
	binary.BigEndian.PutUint64(k[8:], fold(uint64(i)+1))
	return k
}

// diffFP is member i's fingerprint; version 1 is the changed one.
func diffFP(i uint32, version uint64) audience.Fingerprint {
	var f audience.Fingerprint
	binary.LittleEndian.PutUint64(f[:8], fold(uint64(i)^version<<40))
	binary.LittleEndian.PutUint64(f[8:], fold(uint64(i)+version+7))
	return f
}

// BenchmarkDiff10M times the diff step alone, with no normalising or
// hashing: n (default 10,000,000; AUDIENCESYNC_BENCH_DIFF_MEMBERS) member
// keys and fingerprints in source order (shuffled), 1% of the committed
// members gone, 1% new and 0.5% with another fingerprint, against n
// committed members in SQLite. "ours" is the streaming plan's diff:
// spooling the members into sorted runs on disk, merging them with state
// read in key order, and planning each member. "sort-comm" is `LC_ALL=C
// sort -S 400M` of the same keys and fingerprints as hex lines, then
// `comm -3` against the committed ones, dumped in key order beforehand
// (so coreutils is not charged for reading SQLite; the diff is). Target:
// ours faster than sort-comm, measured side by side here.
func BenchmarkDiff10M(b *testing.B) {
	n := 10_000_000
	if v, err := strconv.Atoi(os.Getenv("AUDIENCESYNC_BENCH_DIFF_MEMBERS")); err == nil && v > 0 {
		n = v
	}
	if _, err := exec.LookPath("sort"); err != nil {
		b.Skip("coreutils sort is not installed: nothing to compare with")
	}
	ctx := context.Background()
	dir := b.TempDir()
	scope := state.Scope{Sync: "diff", Destination: "null"}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	if err := diffFixture(ctx, st, scope, dir, n); err != nil {
		b.Fatal(err)
	}
	src, changed := diffSource(n)
	if err := writeDiffSource(filepath.Join(dir, "source.txt"), src); err != nil {
		b.Fatal(err)
	}
	b.Logf("fixture of %d members built in %s", n, time.Since(start).Round(time.Second))
	churn := int64(n / 100)

	var ours, coreutils time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		p := &plan{scope: scope, rep: &report.Destination{}, desiredIDs: map[audience.IdentifierID]struct{}{},
			bulk: spool{limit: DefaultSpillAfter, dir: dir}, srcs: keySpool{limit: DefaultSpillAfter, dir: dir, hint: int64(n)}}
		for _, ch := range src {
			p.seq++
			p.srcs.add(change{key: diffKey(ch.i), fp: diffFP(ch.i, ch.version), seq: p.seq})
		}
		gone, _, err := p.merge(ctx, st, false)
		p.srcs.close()
		p.bulk.close()
		if err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t0)
		if got := (report.Planned{Add: p.rep.Planned.Add, Remove: int64(len(gone)), Update: p.rep.Planned.Update}); got != (report.Planned{Add: churn, Remove: churn, Update: changed}) {
			b.Fatalf("diff = %+v, want %d adds and removals and %d updates", got, churn, changed)
		}

		t0 = time.Now()
		cmd := exec.Command("sh", "-c", `LC_ALL=C sort -S 400M -T "$1" "$1/source.txt" > "$1/source.sorted" && LC_ALL=C comm -3 "$1/source.sorted" "$1/state.txt" | wc -l`, "sh", dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("sort | comm: %v\n%s", err, out)
		}
		coreutils += time.Since(t0)
		// Each changed fingerprint is a line on each side.
		if got, want := strings.TrimSpace(string(out)), fmt.Sprint(2*churn+2*changed); got != want {
			b.Fatalf("comm -3 printed %s lines, want %s", got, want)
		}
	}
	b.StopTimer()
	b.ReportMetric(ours.Seconds()/float64(b.N), "ours-s")
	b.ReportMetric(coreutils.Seconds()/float64(b.N), "sort-comm-s")
	b.ReportMetric(ours.Seconds()/coreutils.Seconds(), "ratio")
	b.ReportMetric(float64(n)*float64(b.N)/ours.Seconds(), "members/s")
}

// diffMember is one member of the source: its number and fingerprint
// version.
type diffMember struct {
	i       uint32
	version uint64
}

// diffSource lists the source's members, shuffled: members [n/100, n)
// of the committed ones, every 200th with a new fingerprint, and n/100
// new ones.
func diffSource(n int) (src []diffMember, changed int64) {
	churn := n / 100
	src = make([]diffMember, 0, n)
	for i := churn; i < n+churn; i++ {
		m := diffMember{i: uint32(i)}
		if i < n && i%200 == 0 {
			m.version = 1
			changed++
		}
		src = append(src, m)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(src), func(a, b int) { src[a], src[b] = src[b], src[a] })
	return src, changed
}

// diffFixture commits members [0, n) in key order, in large commits, and
// dumps them as hex lines for comm.
func diffFixture(ctx context.Context, st *sqlite.Store, scope state.Scope, dir string, n int) error {
	const chunk = 100_000
	sent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	changes := make([]state.Change, 0, chunk)
	for i := 0; i < n; i++ {
		changes = append(changes, state.Change{Key: diffKey(uint32(i)), Fingerprint: diffFP(uint32(i), 0), LastSent: sent, Packed: []byte{}})
		if len(changes) == chunk || i == n-1 {
			if err := st.Commit(ctx, scope, changes); err != nil {
				return err
			}
			changes = changes[:0]
		}
	}
	f, err := os.Create(filepath.Join(dir, "state.txt"))
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for e, err := range st.MembersOrdered(ctx, scope) {
		if err != nil {
			return err
		}
		writeDiffLine(w, e.Key, e.Fingerprint)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func writeDiffSource(path string, src []diffMember) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, m := range src {
		writeDiffLine(w, diffKey(m.i), diffFP(m.i, m.version))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func writeDiffLine(w *bufio.Writer, k audience.MemberKey, fp audience.Fingerprint) {
	var line [65]byte
	hex.Encode(line[:32], k[:])
	line[32] = ' '
	hex.Encode(line[33:], fp[:8]) // the half the plan compares
	w.Write(line[:49])
	w.WriteByte('\n')
}
