package engine

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"testing"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/report"
)

// TestKeyDedupMatchesMap feeds random records, many of them repeats of an
// earlier key with the same or other data, through the collector's exact
// in-memory map and through keyDedup with filters so small that most new
// keys are false positives, settled at once and in several rounds, with
// the exact record in memory and in runs on disk: the same records are
// kept, as the first of their key, and the same duplicates, conflicts and
// sample lines are counted.
func TestKeyDedupMatchesMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		bits, limit, run int
	}{
		{"tiny filter, settled at the end, in memory", 64, 1 << 20, 1 << 20},
		{"tiny filter, settled often, runs on disk", 64, 7, 5},
		{"small filter, runs on disk", 1024, 50, 64},
		{"production sizes", filterBits, heldLimit, seenRun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(20) {
				rng := rand.New(rand.NewPCG(seed, 7))
				var recs []audience.Member
				for i := range 400 {
					var m audience.Member
					m.Key = fmt.Sprintf("K%d", rng.IntN(250))
					m.Line = int64(i + 2)
					m.Fields[audience.Email] = fmt.Sprintf("member-%d@example.com", rng.IntN(3))
					recs = append(recs, m)
				}
				want := collect(t, recs, nil)
				got := collect(t, recs, newKeyDedup(t.TempDir(), tt.bits, tt.limit, tt.run))
				if !slices.Equal(want.kept, got.kept) {
					t.Fatalf("seed %d: kept %v, want %v", seed, got.kept, want.kept)
				}
				if fmt.Sprint(want.src) != fmt.Sprint(got.src) {
					t.Fatalf("seed %d: source counts\n%+v, want\n%+v", seed, got.src, want.src)
				}
			}
		})
	}
}

type collected struct {
	kept []string // key and line of each record handed on, sorted
	src  report.Source
}

// collect runs recs through a collector without a pipeline, one chunk.
func collect(t *testing.T, recs []audience.Member, d *keyDedup) collected {
	t.Helper()
	src := report.Source{Rejected: map[string]int64{}}
	c := &collector{src: &src, keys: map[uint64]uint64{}, dedup: d, seed: maphash.MakeSeed(), ev: &events{}, log: zap.NewNop(),
		chunk: make([]sourced, 0, 2*len(recs))}
	// One seed for both runs, so data hashes agree.
	c.seed = dedupTestSeed
	for i := range recs {
		if err := c.Emit(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.settle(); err != nil {
		t.Fatal(err)
	}
	if d != nil {
		d.close()
	}
	var out collected
	for _, s := range c.chunk {
		out.kept = append(out.kept, fmt.Sprintf("%s@%d", s.Key, s.Line))
	}
	slices.Sort(out.kept)
	out.src = src
	return out
}

var dedupTestSeed = maphash.MakeSeed()
