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

	now, err := newCycle(costs, w, c, queue).run()
	if err != nil {
		return Result{}, err
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

// cycle is the state of one simulated cycle.
type cycle struct {
	w     Workload
	queue []*run
	// The resources: each worker's cores, each platform's quota keys, the
	// state store; active are those with streams, the only ones an event
	// looks at.
	cores  []*resource
	keys   map[string][]*resource
	st     *resource
	active []*resource
	free   []int // free slots per worker
	// perPlan is the cores a plan alone on a worker keeps busy (its serial
	// stages leave the rest idle); plans side by side fill each other's
	// gaps, so together they may use every core.
	perPlan    float64
	next, done int
}

func newCycle(costs Costs, w Workload, c Cluster, queue []*run) *cycle {
	y := &cycle{w: w, queue: queue, keys: map[string][]*resource{}, perPlan: planRate(costs, c, len(w.Destinations)),
		st: &resource{capacity: stateRate(costs, c), inOrder: true}}
	for range c.Workers {
		y.cores = append(y.cores, &resource{capacity: float64(c.Cores)})
		y.free = append(y.free, c.Slots)
	}
	for _, name := range w.Destinations {
		if y.keys[name] == nil {
			for range w.keys(name) {
				y.keys[name] = append(y.keys[name], &resource{capacity: Platforms[name].KeyRate(), inOrder: true})
			}
		}
	}
	return y
}

// run plays the cycle to its end and returns how long it took, in seconds.
func (y *cycle) run() (float64, error) {
	var now float64
	y.start()
	for y.done < len(y.queue) {
		dt := math.Inf(1)
		for _, r := range y.active {
			r.share()
			for _, s := range r.streams {
				if s.rate > 0 {
					dt = min(dt, s.left/s.rate)
				}
			}
		}
		if math.IsInf(dt, 1) {
			return 0, fmt.Errorf("capacity: the simulation stalled with %d of %d runs done", y.done, len(y.queue))
		}
		now += dt
		var finished []*run
		stillActive := y.active[:0]
		for _, r := range y.active {
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
			if len(kept) > 0 {
				stillActive = append(stillActive, r)
			}
		}
		y.active = stillActive
		for _, r := range finished {
			y.advance(r)
		}
		y.start()
	}
	return now, nil
}

// start gives queued runs to free slots, the worker with most free slots
// first, so runs spread over the cluster.
func (y *cycle) start() {
	for y.next < len(y.queue) {
		wk := 0
		for i := range y.free {
			if y.free[i] > y.free[wk] {
				wk = i
			}
		}
		if y.free[wk] == 0 {
			return
		}
		r := y.queue[y.next]
		y.next++
		y.free[wk]--
		r.worker = wk
		r.phase = -1
		y.advance(r)
	}
}

// advance moves r to its next phase, giving it the streams that phase
// uses, and frees its slot when it is done. A phase with no work is
// skipped.
func (y *cycle) advance(r *run) {
	for r.phase < 2 {
		r.phase++
		switch r.phase {
		case 0:
			y.add(r, y.cores[r.worker], r.cost.Plan.Seconds(), y.perPlan)
		case 1:
			var rows float64
			for i, name := range y.w.Destinations {
				ks := y.keys[name]
				y.add(r, ks[r.index%len(ks)], float64(r.cost.Requests[i]), Platforms[name].RunRate())
				rows += float64(r.cost.Changes[i])
			}
			y.add(r, y.st, rows, math.Inf(1))
		case 2:
			y.free[r.worker]++
			y.done++
			return
		}
		if r.pending > 0 {
			return
		}
	}
}

func (y *cycle) add(r *run, res *resource, work, limit float64) {
	if work <= 0 {
		return
	}
	if len(res.streams) == 0 {
		y.active = append(y.active, res)
	}
	res.streams = append(res.streams, &stream{run: r, left: work, limit: limit})
	res.sorted = false
	r.pending++
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
