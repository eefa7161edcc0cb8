package capacity

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// resource is something runs share: a worker's cores, one quota key of a
// platform, the state store's writer. Its capacity is in units a second
// (cores, requests, rows). A worker's cores are shared equally (the Go
// scheduler's way); a quota key and the state writer serve runs in the
// order they were queued, each up to its own rate. Both are
// work-conserving, so the bounds hold either way; in order, a run ends as
// early as the limit allows and frees its slot, where equal shares would
// have every run on a key end late together, holding their slots — with
// which more workers can make a cycle longer (TestRandomWorkloads found
// such a mix).
type resource struct {
	capacity float64
	streams  []*stream
	// inOrder serves streams in the order their runs were queued, each up
	// to its limit, instead of equal shares.
	inOrder bool
	// sorted: streams are in serving order (a new stream unsorts them;
	// removing one keeps the order).
	sorted bool
}

// stream is one run's use of a resource: work left, and the fastest it
// may go on its own.
type stream struct {
	run   *run
	left  float64
	limit float64
	rate  float64
}

type run struct {
	cost    RunCost
	index   int // the run's position in the cycle; spreads quota keys
	worker  int
	phase   int // 0 planning, 1 uploading and committing, 2 done
	pending int // streams of the phase not finished
}

// share gives each stream of r its rate: an equal share of the capacity,
// no more than the stream's limit, with what a limited stream leaves
// shared by the others (water filling).
func (r *resource) share() {
	if !r.sorted {
		r.sort()
	}
	left := r.capacity
	if r.inOrder {
		for _, s := range r.streams {
			s.rate = min(s.limit, left)
			left -= s.rate
		}
		return
	}
	for i, s := range r.streams {
		s.rate = min(s.limit, left/float64(len(r.streams)-i))
		left -= s.rate
	}
}

func (r *resource) sort() {
	if r.inOrder {
		slices.SortFunc(r.streams, func(a, b *stream) int { return a.run.index - b.run.index })
	} else {
		slices.SortFunc(r.streams, func(a, b *stream) int {
			switch {
			case a.limit < b.limit:
				return -1
			case a.limit > b.limit:
				return 1
			}
			return 0
		})
	}
	r.sorted = true
}

// Simulate runs one cycle of w on c: every sync due at once, queued
// largest first (give big syncs the earlier schedule or the higher job
// priority: queued last, a long run extends the cycle by up to its own
// length). A free slot on any worker takes the next run, as River workers
// take the next available job.
func Simulate(costs Costs, w Workload, c Cluster) (Result, error) {
	if c.Workers <= 0 || c.Cores <= 0 || c.Slots <= 0 {
		return Result{}, errors.New("capacity: a cluster needs at least one worker, one core and one slot")
	}
	if len(w.Destinations) == 0 || w.Runs() == 0 {
		return Result{}, errors.New("capacity: a workload needs syncs and destinations")
	}
	res := Result{Workload: w, Cluster: c, Requests: map[string]int64{}, PerKeyDay: map[string]float64{},
		Bounds: Bounds{Platform: map[string]time.Duration{}}}
	var queue []*run
	var planCPU, changes, alone float64
	for _, cl := range w.Classes {
		cost, err := Cost(costs, w, c, cl.Members)
		if err != nil {
			return Result{}, err
		}
		res.Run = append(res.Run, cost)
		res.Bounds.Longest = max(res.Bounds.Longest, cost.Wall)
		for range cl.Syncs {
			queue = append(queue, &run{cost: cost})
			planCPU += cost.Plan.Seconds()
			alone += cost.Wall.Seconds()
			for i, name := range w.Destinations {
				res.Requests[name] += cost.Requests[i]
				changes += float64(cost.Changes[i])
			}
		}
	}
	slices.SortStableFunc(queue, func(a, b *run) int { return cmpInt64(b.cost.Members, a.cost.Members) })
	for i, r := range queue {
		r.index = i
	}

	// The resources: each worker's cores, each platform's quota keys, the
	// state store.
	cores := make([]*resource, c.Workers)
	for i := range cores {
		cores[i] = &resource{capacity: float64(c.Cores)}
	}
	keys := map[string][]*resource{}
	for _, name := range w.Destinations {
		if keys[name] == nil {
			p := Platforms[name]
			for range w.keys(name) {
				keys[name] = append(keys[name], &resource{capacity: p.KeyRate(), inOrder: true})
			}
		}
	}
	st := &resource{capacity: stateRate(costs, c), inOrder: true}
	all := append(append([]*resource{st}, cores...), flatten(keys, w.Destinations)...)

	free := make([]int, c.Workers)
	for i := range free {
		free[i] = c.Slots
	}
	// A plan alone on a worker keeps perPlan cores busy (its serial
	// stages leave the rest idle); plans side by side fill each other's
	// gaps, so together they may use every core.
	perPlan := planRate(costs, c, len(w.Destinations))
	var now float64
	next, done := 0, 0
	// start gives queued runs to free slots, the worker with most free
	// slots first, so runs spread over the cluster.
	start := func() {
		for next < len(queue) {
			wk := 0
			for i := range free {
				if free[i] > free[wk] {
					wk = i
				}
			}
			if free[wk] == 0 {
				return
			}
			r := queue[next]
			next++
			free[wk]--
			r.worker = wk
			r.phase = -1
			if advance(r, cores, keys, st, w, perPlan, free) {
				done++
			}
		}
	}
	start()
	for done < len(queue) {
		for _, r := range all {
			r.share()
		}
		dt := math.Inf(1)
		for _, r := range all {
			for _, s := range r.streams {
				if s.rate > 0 {
					dt = min(dt, s.left/s.rate)
				}
			}
		}
		if math.IsInf(dt, 1) {
			return Result{}, fmt.Errorf("capacity: the simulation stalled with %d of %d runs done", done, len(queue))
		}
		now += dt
		var finished []*run
		for _, r := range all {
			kept := r.streams[:0]
			for _, s := range r.streams {
				s.left -= s.rate * dt
				if s.left <= 1e-9*math.Max(1, s.rate) {
					s.run.pending--
					if s.run.pending == 0 {
						finished = append(finished, s.run)
					}
					continue
				}
				kept = append(kept, s)
			}
			r.streams = kept
		}
		for _, r := range finished {
			if advance(r, cores, keys, st, w, perPlan, free) {
				done++
			}
		}
		start()
	}
	res.Cycle = seconds(now)
	res.Bounds.CPU = seconds(planCPU / float64(c.Workers*c.Cores))
	for name, n := range res.Requests {
		res.Bounds.Platform[name] = seconds(float64(n) / (Platforms[name].KeyRate() * float64(w.keys(name))))
	}
	res.Bounds.State = seconds(changes / stateRate(costs, c))
	res.Bounds.Slots = seconds(alone / float64(c.Workers*c.Slots))
	_, res.Bound = res.Bounds.Max()
	if now > 0 {
		res.CPUBusy = planCPU / (now * float64(c.Workers*c.Cores))
	}
	day(&res)
	return res, nil
}

// advance moves r to its next phase, giving it the streams that phase
// uses, and frees its slot when it is done; it reports whether r is done.
// A phase with no work is skipped.
func advance(r *run, cores []*resource, keys map[string][]*resource, st *resource, w Workload, perPlan float64, free []int) bool {
	for r.phase < 2 {
		r.phase++
		switch r.phase {
		case 0:
			add(r, cores[r.worker], r.cost.Plan.Seconds(), perPlan)
		case 1:
			var rows float64
			for i, name := range w.Destinations {
				ks := keys[name]
				add(r, ks[r.index%len(ks)], float64(r.cost.Requests[i]), Platforms[name].RunRate())
				rows += float64(r.cost.Changes[i])
			}
			add(r, st, rows, math.Inf(1))
		case 2:
			free[r.worker]++
			return true
		}
		if r.pending > 0 {
			return false
		}
	}
	return true
}

func add(r *run, res *resource, work, limit float64) {
	if work <= 0 {
		return
	}
	res.streams = append(res.streams, &stream{run: r, left: work, limit: limit})
	res.sorted = false
	r.pending++
}

func flatten(keys map[string][]*resource, order []string) []*resource {
	var out []*resource
	seen := map[string]bool{}
	for _, name := range order {
		if !seen[name] {
			seen[name] = true
			out = append(out, keys[name]...)
		}
	}
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// day works out what a day of res's workload asks of each quota key and
// how many runs fit in 24 hours.
func day(res *Result) {
	w := res.Workload
	daySeconds := (24 * time.Hour).Seconds()
	runs := float64(w.Runs())
	res.RunsPerDay = runs * daySeconds / math.Max(res.Cycle.Seconds(), 1e-9)
	res.Limit = "cycle"
	res.Fits = w.Period > 0 && res.Cycle <= w.Period
	for _, name := range slices.Sorted(maps.Keys(res.Requests)) {
		p := Platforms[name]
		perKey := float64(res.Requests[name]) / float64(w.keys(name))
		if w.Period > 0 {
			res.PerKeyDay[name] = perKey * daySeconds / w.Period.Seconds()
		}
		if p.PerDay <= 0 || perKey == 0 {
			continue
		}
		if res.PerKeyDay[name] > p.PerDay {
			res.Fits = false
		}
		if quota := runs * p.PerDay / perKey; quota < res.RunsPerDay {
			res.RunsPerDay, res.Limit = quota, "quota "+name
		}
	}
}
