package capacity

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Class is a number of syncs of one audience size.
type Class struct {
	Syncs   int
	Members int64
}

// Workload is the syncs a cluster runs: each class's syncs send to the same
// destinations, with the same churn and schedule.
type Workload struct {
	// Name labels the workload in the table.
	Name    string
	Classes []Class
	// Destinations are the platform of each destination of every sync
	// (keys of Platforms).
	Destinations []string
	// Churn is, per run, the fraction of an audience that leaves and, as
	// many again, that joins (the plan benchmark's 1% churn: 1% gone, 1%
	// new).
	Churn float64
	// Period is how often each sync runs (its schedule).
	Period time.Duration
	// Keys is, per platform, how many quota keys the syncs are spread over
	// evenly: Google Cloud projects (one per OAuth client), Meta and X ad
	// accounts. A platform left out has one key for every sync.
	Keys map[string]int
	// FirstUpload plans every member as new (the first run of each sync)
	// instead of Churn.
	FirstUpload bool
}

// Runs is how many runs one cycle of w holds.
func (w Workload) Runs() int {
	n := 0
	for _, c := range w.Classes {
		n += c.Syncs
	}
	return n
}

func (w Workload) keys(platform string) int {
	if k := w.Keys[platform]; k > 0 {
		return k
	}
	return 1
}

// Cluster is the workers that share the syncs.
type Cluster struct {
	// Workers is how many `audiencesync serve --workers` processes run.
	Workers int
	// Cores is each worker's CPU cores.
	Cores int
	// Slots is each worker's runs at once (serve.max_concurrent_runs,
	// default 4).
	Slots int
	// StateRowsPerSecond is the state store's commit rate for the whole
	// cluster (one database); 0 for 1/Costs.CommitPerRow, one SQLite
	// writer's rate, which PostgreSQL's COPY commit about matches
	// (state/postgres's BenchmarkCommit beside state/sqlite's).
	StateRowsPerSecond float64
}

// RunCost is where the time of one run goes when it has a worker to itself.
type RunCost struct {
	Members int64
	// Read, Hash and Diff are the plan's CPU time by stage; Plan their sum.
	Read, Hash, Diff, Plan time.Duration
	// PlanWall is the plan's wall time on a worker of the cluster's cores.
	PlanWall time.Duration
	// Changes and Requests are per destination (in Workload.Destinations
	// order): members sent (added, removed, refreshed) and the requests
	// they take.
	Changes, Requests []int64
	// Uploads are each destination's upload at the rate one run gets;
	// Upload is the longest (destinations upload in parallel); Commit is
	// writing every change to state (it runs beside the upload).
	Uploads        []time.Duration
	Upload, Commit time.Duration
	// Wall is PlanWall + max(Upload, Commit).
	Wall time.Duration
}

// Cost works out one run of a sync of members members in w on c.
func Cost(costs Costs, w Workload, c Cluster, members int64) (RunCost, error) {
	r := RunCost{Members: members}
	d := len(w.Destinations)
	r.Read = time.Duration(members) * costs.ReadCPU
	r.Hash = time.Duration(members) * time.Duration(d) * costs.HashCPU
	r.Diff = time.Duration(members) * time.Duration(d) * costs.DiffCPU
	r.Plan = r.Read + r.Hash + r.Diff
	r.PlanWall = seconds(r.Plan.Seconds() / planRate(costs, c, d))
	var changes int64
	for _, name := range w.Destinations {
		p, ok := Platforms[name]
		if !ok {
			return RunCost{}, fmt.Errorf("capacity: no platform %q: use one of google, meta, x, linkedin", name)
		}
		add, remove := changesOf(w, p, members)
		reqs := ceilDiv(add, int64(p.Batch)) + ceilDiv(remove, int64(p.Batch))
		r.Changes = append(r.Changes, add+remove)
		r.Requests = append(r.Requests, reqs)
		changes += add + remove
		up := seconds(float64(reqs) / p.RunRate())
		r.Uploads = append(r.Uploads, up)
		r.Upload = max(r.Upload, up)
	}
	r.Commit = seconds(float64(changes) / stateRate(costs, c))
	r.Wall = r.PlanWall + max(r.Upload, r.Commit)
	return r, nil
}

// changesOf is what one run sends to p: members joining (plus, where
// memberships lapse, the steady share re-sent each run) and leaving.
func changesOf(w Workload, p Platform, members int64) (add, remove int64) {
	if w.FirstUpload {
		return members, 0
	}
	churn := int64(float64(members) * w.Churn)
	add, remove = churn, churn
	if win := p.RefreshWindow(); win > 0 && w.Period > 0 {
		add += min(members, int64(float64(members)*w.Period.Seconds()/win.Seconds()))
	}
	return add, remove
}

// planRate is the cores one plan keeps busy when it has a worker to
// itself.
func planRate(costs Costs, c Cluster, dests int) float64 {
	return min(float64(c.Cores)*costs.PlanEfficiency, costs.PlanMaxCores(dests))
}

func stateRate(costs Costs, c Cluster) float64 {
	if c.StateRowsPerSecond > 0 {
		return c.StateRowsPerSecond
	}
	return 1 / costs.CommitPerRow.Seconds()
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Bounds are the least time a cycle can take, by what is used up.
type Bounds struct {
	// CPU is every plan's CPU time over the cluster's cores.
	CPU time.Duration
	// Platform is, per platform, its requests over the request rate of
	// the keys they are spread over.
	Platform map[string]time.Duration
	// State is every change over the state store's commit rate.
	State time.Duration
	// Longest is the longest single run alone on a worker: a sync is one
	// job, so no cluster runs it faster.
	Longest time.Duration
	// Slots is every run's time alone over the cluster's slots: a run
	// holds its slot at least that long.
	Slots time.Duration
}

// Max is the largest bound and its name.
func (b Bounds) Max() (time.Duration, string) {
	best, name := b.CPU, "cpu"
	for _, p := range slices.Sorted(maps.Keys(b.Platform)) {
		if b.Platform[p] > best {
			best, name = b.Platform[p], "platform "+p
		}
	}
	if b.State > best {
		best, name = b.State, "state"
	}
	if b.Longest > best {
		best, name = b.Longest, "longest run"
	}
	if b.Slots > best {
		best, name = b.Slots, "slots"
	}
	return best, name
}

// Result is one simulated cycle and the day it implies.
type Result struct {
	Workload Workload
	Cluster  Cluster
	// Cycle is how long running every sync once takes, all due at once.
	Cycle time.Duration
	// Bounds are the lower bounds the cycle is checked against; Bound
	// names the largest, what the cycle is limited by.
	Bounds Bounds
	Bound  string
	// CPUBusy is the share of the cluster's core time the plans used.
	CPUBusy float64
	// Requests is, per platform, the requests of one cycle.
	Requests map[string]int64
	// PerKeyDay is, per platform, the requests a day the schedule asks of
	// one quota key: every sync once a Period.
	PerKeyDay map[string]float64
	// RunsPerDay is how many runs of this mix the cluster completes in 24
	// hours running back to back, within every daily quota; Limit says
	// what holds it there ("cycle" or "quota PLATFORM").
	RunsPerDay float64
	Limit      string
	// Fits reports whether every sync runs once per Period: the cycle is
	// no longer than the period and no daily quota is exceeded.
	Fits bool
	// Run is the cost of one run of each class, in Workload.Classes order.
	Run []RunCost
}
