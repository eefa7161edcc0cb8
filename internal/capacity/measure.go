package capacity

import (
	"fmt"
	"runtime"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
)

// hashRows are the members MeasureHashCost normalises: the shape of the
// plan benchmark's rows (engine.BenchmarkPlan1M: e-mail, phone, names, zip,
// country, all synthetic), varied so no value repeats in a short loop.
func hashRows() []audience.Member {
	rows := make([]audience.Member, 256)
	for i := range rows {
		m := &rows[i]
		m.Fields[audience.Email] = fmt.Sprintf("Member.%08d@Example.com", i)
		m.Fields[audience.Phone] = fmt.Sprintf("(202) 555-%04d", i)
		m.Fields[audience.FirstName] = fmt.Sprintf("First%d", i%97)
		m.Fields[audience.LastName] = fmt.Sprintf("Last%d", i%91)
		m.Fields[audience.Zip] = fmt.Sprintf("%05d", 10000+i)
		m.Fields[audience.Country] = "US"
	}
	return rows
}

// MeasureHashCost times the normalise-and-hash step of one member on this
// machine, one goroutine, in CPU time where the system tells it (Linux), through the named platform's profile (google,
// meta, x, linkedin), over n members; it returns the best of rounds
// passes, which shrugs off a neighbour's burst on a shared machine. This is
// the per-destination work of a plan that grows with the identifiers a
// member carries; the rest of the plan (read, fingerprint, diff against
// state) is Costs.DiffCPU.
func MeasureHashCost(platform string, n, rounds int) (time.Duration, error) {
	p, err := platformbuiltin.Profile(platform)
	if err != nil {
		return 0, fmt.Errorf("measure hash cost: %w", err)
	}
	rows := hashRows()
	opts := normalize.Options{DefaultRegion: "US"}
	dst := make([]audience.Identifier, 0, 16)
	var tally normalize.Tally
	// CPU time of this thread, not wall time: on a shared machine a
	// neighbour's load stretches the wall clock, not the work.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := time.Duration(1<<63 - 1)
	for range max(rounds, 1) {
		start := threadTime()
		for i := range n {
			var ok bool
			dst, ok = p.Member(&rows[i&255], opts, dst[:0], &tally)
			if !ok {
				return 0, fmt.Errorf("measure hash cost: the %s profile rejected a synthetic member", platform)
			}
		}
		best = min(best, threadTime()-start)
	}
	return best / time.Duration(max(n, 1)), nil
}
