// Package capacity is the model behind docs/deploy.md's capacity plan: how
// many syncs of what size a cluster of `audiencesync serve` workers runs in
// a day, and what stops it — the CPU of planning, a platform's request
// limits, or the state store's writer.
//
// It is a fluid discrete-event simulation of one scheduling cycle (every
// sync due at once, as on the hour): each run takes a slot on a worker,
// plans on that worker's cores (read, normalise and hash, diff), then
// uploads its changes to every destination at once while its
// acknowledgements are committed. Runs in the same phase share what they
// use: a worker's cores, a platform's per-minute request rate (one quota
// key — a Google Cloud project, a Meta or X ad account — is shared by every
// run on every worker), the state store's writer. Daily request quotas are
// checked over the cycles a day holds.
//
// Every figure it starts from is a named input with its source: per-member
// costs measured by the repo's benchmarks (Costs), platform limits from
// the platforms' documentation (Platforms), and what the operator chooses
// (Workload, Cluster). The hashing cost is measured again on the machine
// that runs the tests (MeasureHashCost), so the table follows the machine.
//
// Run the table with
//
//	go test ./internal/capacity -run Simulate -v
package capacity
