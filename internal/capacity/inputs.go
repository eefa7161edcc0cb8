package capacity

import "time"

// Costs are what one member costs each stage of a run. The defaults were
// measured on the 2-core reference machine (AMD EPYC, shared) on
// 2026-12-01 with the benchmarks named on each field; re-measure with the
// command given and pass your own figures to compare machines.
type Costs struct {
	// ReadCPU is one source row read and split into fields, one goroutine.
	// BenchmarkRead/plain (connectors/csv): 2,112,488 rows/s → 0.47 µs.
	//   go test -run '^$' -bench 'BenchmarkRead/plain' -benchtime 2x ./connectors/csv/
	ReadCPU time.Duration
	// HashCPU is one member normalised and hashed for one destination:
	// e-mail, phone, names, zip and country through the Google profile.
	// MeasureHashCost("google", …) on the reference machine: 2.07 µs (the
	// per-field benchmarks agree: BenchmarkEmail 303 ns, BenchmarkPhoneHash
	// 500 ns, BenchmarkMetaRow 2,988 ns for Meta's six fields).
	// TestHashCostMeasured measures it again on the machine running the
	// tests, and the simulation's table uses that figure.
	HashCPU time.Duration
	// DiffCPU is the rest of planning one member for one destination:
	// fingerprinting, the committed state streamed and compared, the
	// classification, spooling the sends, garbage collection, the state
	// quick check. BenchmarkPlan1M's child process (1,000,000 CSV rows
	// against 1,000,000 committed, 1% churn, one Google destination) used
	// 11.46 and 11.27 CPU-seconds (user+sys, /usr/bin/time) → 11.4 µs a
	// member, less ReadCPU and HashCPU → 8.9 µs.
	//   AUDIENCESYNC_BENCH_KEEP=1 go test -run '^$' -bench BenchmarkPlan1M -benchtime 1x ./engine/
	//   then ENGINE_PLAN_HELPER=<kept dir> ENGINE_PLAN_MEMBERS=1000000 /usr/bin/time engine.test -test.run '^TestPlanBenchHelper$'
	DiffCPU time.Duration
	// PlanEfficiency is the share of the cores given to a plan that it
	// keeps busy: BenchmarkPlan1M took 6.6–7.3 s of wall time (README
	// Performance) for 11.4 CPU-seconds on 2 cores → 1.56 cores of 2.
	PlanEfficiency float64
	// StreamPerMember bounds one plan's speed whatever its cores: the
	// committed state of a destination is read by one goroutine.
	// BenchmarkMembers (state/sqlite): 613,379 rows/s → 1.63 µs, so one
	// plan cannot use more than (ReadCPU+HashCPU+DiffCPU)/1.63 µs ≈ 7 cores.
	//   go test -run '^$' -bench 'BenchmarkMembers' -benchtime 3x ./state/sqlite/
	StreamPerMember time.Duration
	// CommitPerRow is one acknowledged change written to state by the
	// store's single writer. BenchmarkCommitAppend (state/sqlite, keys in
	// order as a first upload commits them): 140,963 rows/s → 7.1 µs;
	// BenchmarkCommit (keys anywhere): 199,668 rows/s → 5.0 µs. The slower
	// figure is used.
	CommitPerRow time.Duration
	// StateBytesPerMember is the state kept for one member of one
	// destination. BenchmarkPlan1M's state-bytes/member with e-mail, phone
	// and address hashed: 227.4 (BenchmarkMembers, two identifiers: 135.7).
	StateBytesPerMember float64
	// PlanBytesPerMember is the plan's memory per member while planning
	// holds every key (issue 16: 1M members at 348 MB peak RSS, 3M at
	// 827 MB: about 240 bytes a member). Planning in bounded memory (issue
	// 16 item 1) replaces it with PlanBoundedBytes.
	PlanBytesPerMember float64
	// PlanBoundedBytes is the peak of one plan once planning spills to
	// disk: the target, 450 MB at 10M members and at most 1.3× the
	// 1M peak. A target, not a measurement: check it after the merge.
	PlanBoundedBytes float64
}

// ReferenceCosts are the costs measured on the reference machine (see
// each field of Costs for the benchmark and the figure).
func ReferenceCosts() Costs {
	return Costs{
		ReadCPU:             470 * time.Nanosecond,
		HashCPU:             2070 * time.Nanosecond,
		DiffCPU:             8860 * time.Nanosecond,
		PlanEfficiency:      0.78,
		StreamPerMember:     1630 * time.Nanosecond,
		CommitPerRow:        7100 * time.Nanosecond,
		StateBytesPerMember: 227.4,
		PlanBytesPerMember:  240,
		PlanBoundedBytes:    450e6,
	}
}

// PlanCPU is the CPU time of planning members for dests destinations:
// the source is read once, and each destination normalises, hashes and
// diffs every member.
func (c Costs) PlanCPU(members int64, dests int) time.Duration {
	perMember := c.ReadCPU + time.Duration(dests)*(c.HashCPU+c.DiffCPU)
	return time.Duration(members) * perMember
}

// PlanMaxCores is how many cores one plan can use before its serial part
// holds it back: taking the state stream of every destination as work no
// other core can share (conservative: the streams may overlap).
func (c Costs) PlanMaxCores(dests int) float64 {
	if c.StreamPerMember <= 0 || dests <= 0 {
		return 1e9
	}
	perMember := c.ReadCPU + time.Duration(dests)*(c.HashCPU+c.DiffCPU)
	return float64(perMember) / float64(time.Duration(dests)*c.StreamPerMember)
}

// Platform is one ad platform's limits on uploads, and the connector's
// defaults that pace one run's uploads to it.
type Platform struct {
	// Name is the platform (google, meta, x, linkedin).
	Name string
	// Batch is the most members one request carries.
	Batch int
	// PerMinute is the platform's request rate limit for one quota key,
	// shared by every run, on every worker, that uses the same key.
	PerMinute float64
	// PerDay is the daily request quota of one key; 0 for none published.
	PerDay float64
	// Key is what the platform counts requests against.
	Key string
	// Latency is how long one upload request takes at the platform. Not
	// published by any platform: an assumption; read your own from
	// audiencesync_batch_duration_seconds and set it.
	Latency time.Duration
	// Concurrency is the connector's default batches in flight per run.
	Concurrency int
	// ClientPerSecond is the connector's default request pacing per run
	// (platformconn requests_per_second; 0 for none). It is per run: the
	// destination and its limiter are built for each run.
	ClientPerSecond float64
	// MembershipDays is how long a membership lasts before the member must
	// be sent again (0: memberships do not lapse); RefreshMarginDays is
	// how much earlier the engine re-sends (refresh_margin_days).
	MembershipDays, RefreshMarginDays int
	// Source says where the limits come from.
	Source string
}

// Google, Meta, X and LinkedIn are the platforms' limits as documented.
var (
	Google = Platform{
		Name: "google", Batch: 10_000, PerMinute: 300, PerDay: 100_000,
		Key:     "Google Cloud project (the OAuth client's)",
		Latency: time.Second, Concurrency: 4, ClientPerSecond: 10,
		MembershipDays: 540, RefreshMarginDays: 30,
		Source: "PLATFORMS.md (10,000 members a request, 540-day memberships); Data Manager API limits page " +
			"(developers.google.com/data-manager/api/devguides/limits): IngestionService 300 requests a minute and " +
			"100,000 a day per Cloud project; connector defaults in connectors/googleads/settings.go",
	}
	Meta = Platform{
		Name: "meta", Batch: 10_000, PerMinute: 190_000.0 / 60, Key: "ad account",
		Latency: 2 * time.Second, Concurrency: 2,
		Source: "PLATFORMS.md (10,000 rows a request, rate-limit errors and the usage header); Marketing API rate " +
			"limiting page (developers.facebook.com/docs/marketing-apis/rate-limiting): custom_audience calls per ad " +
			"account per hour at least 190,000 (standard tier) and at most 700,000; the lower bound is used",
	}
	X = Platform{
		Name: "x", Batch: 2_500, PerMinute: 1_500, Key: "ad account",
		Latency: time.Second, Concurrency: 4,
		Source: "PLATFORMS.md: 2,500 operations a request, 5,000,000-byte bodies, 1,500 requests a one-minute window",
	}
	LinkedIn = Platform{
		Name: "linkedin", Batch: 1_000, PerMinute: 500, Key: "member (the token's)",
		Latency: time.Second, Concurrency: 4, ClientPerSecond: 8,
		Source: "connectors/linkedin/settings.go (500 users requests a minute, 8 a second by default) and " +
			"MaxElements 1,000 (LinkedIn does not document its batch limit)",
	}
)

// Platforms are the platforms by name.
var Platforms = map[string]Platform{Google.Name: Google, Meta.Name: Meta, X.Name: X, LinkedIn.Name: LinkedIn}

// RunRate is the fastest one run sends requests to p: its batches in
// flight over the latency, within the connector's pacing and the
// platform's own limit.
func (p Platform) RunRate() float64 {
	r := float64(p.Concurrency) / p.Latency.Seconds()
	if p.ClientPerSecond > 0 {
		r = min(r, p.ClientPerSecond)
	}
	return min(r, p.KeyRate())
}

// KeyRate is the platform's request limit per second for one quota key.
func (p Platform) KeyRate() float64 { return p.PerMinute / 60 }

// MembersPerDay is the most members one quota key takes in a day: the
// rate limit for 24 hours, or the daily quota when that is lower.
func (p Platform) MembersPerDay() float64 {
	reqs := p.KeyRate() * 86400
	if p.PerDay > 0 {
		reqs = min(reqs, p.PerDay)
	}
	return reqs * float64(p.Batch)
}

// RefreshWindow is how long a member may go unsent before the engine
// re-sends it (the membership less the margin, at least half of it), as
// engine.refreshWindow computes it; 0 when memberships do not lapse.
func (p Platform) RefreshWindow() time.Duration {
	if p.MembershipDays <= 0 {
		return 0
	}
	m := time.Duration(p.MembershipDays) * 24 * time.Hour
	return max(m-time.Duration(p.RefreshMarginDays)*24*time.Hour, m/2)
}
