package capacity

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// randomWorkload is a seeded mix of classes, destinations, churn and keys.
func randomWorkload(rng *rand.Rand) Workload {
	sizes := []int64{1_000, 10_000, 100_000, 1_000_000, 10_000_000}
	var classes []Class
	for range 1 + rng.IntN(3) {
		classes = append(classes, Class{Syncs: 1 + rng.IntN(200), Members: sizes[rng.IntN(len(sizes))]})
	}
	all := []string{"google", "meta", "x", "linkedin"}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	dests := all[:1+rng.IntN(len(all))]
	keys := map[string]int{}
	for _, d := range dests {
		keys[d] = 1 + rng.IntN(4)
	}
	return Workload{Name: fmt.Sprint(classes, dests), Classes: classes, Destinations: dests,
		Churn: []float64{0.001, 0.01, 0.1}[rng.IntN(3)], Period: 24 * time.Hour, Keys: keys}
}

// TestRandomWorkloads holds the invariants on seeded random mixes: a
// cycle is never shorter than any of its lower bounds, and never longer
// with more workers.
func TestRandomWorkloads(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(16, 5))
	costs := ReferenceCosts()
	for range 40 {
		w := randomWorkload(rng)
		cores, slots := 1+rng.IntN(4), 1+rng.IntN(6)
		var prev time.Duration
		for i, workers := range []int{1, 2, 3, 5, 8, 16} {
			r, err := Simulate(costs, w, Cluster{Workers: workers, Cores: cores, Slots: slots})
			require.NoError(t, err)
			lb, name := r.Bounds.Max()
			require.GreaterOrEqual(t, r.Cycle, lb-lb/1000, "%s, %d workers: cycle %v under the %s bound %v", w.Name, workers, r.Cycle, name, lb)
			if i > 0 {
				require.LessOrEqual(t, r.Cycle, prev+time.Millisecond, "%s on %d×%d, %d slots: %v, fewer workers: %v", w.Name, workers, cores, slots, r.Cycle, prev)
			}
			prev = r.Cycle
		}
	}
}
