// Package chaos is the crash and fault suite of audiencesync. Its test,
// TestChaos, builds the real binary, serves the platform replicas from a
// separate `audiencesync sandbox` process (so killing a sync does not kill
// the platform), and then, per scenario and trial:
//
//   - runs `audiencesync sync` and kills it with SIGKILL at a random instant
//     (first uploads, incremental syncs, full refreshes), or runs it against
//     injected platform faults, or runs two syncs at once, or runs on a
//     damaged state database (which must change nothing) before restoring
//     it;
//   - runs plain syncs until one succeeds;
//   - compares what every platform replica holds (Google, Meta, X,
//     LinkedIn and Mailchimp's tagged contacts, each a destination of the
//     one sync) with an independent
//     expected audience: one clean run of the same source into a second
//     sandbox with a fresh state.
//
// It prints, per scenario and platform, the trials, the identifiers lost
// (expected but absent) and the spurious ones (present but not expected),
// and fails on any loss, any spurious identifier, a second audience of the
// same name, or a run that never converges.
//
// `go test ./chaos/` (and so `make test` and CI) runs a short seeded suite;
// `make chaos` runs the long one (CHAOS_TRIALS per scenario, 50 by
// default, CHAOS_PARALLEL trials at once, 4 by default; the short suite runs 2). Flags:
// -chaos.trials, -chaos.seed, -chaos.members, -chaos.latency,
// -chaos.parallel (with go test's -parallel at least as high). A seed gives
// the same trials whatever the parallelism; only their timing differs.
package chaos
