package report

// Status is how a run, or one destination's part of it, ended. It is the
// "status" of a report and of each of its destinations, and the status the
// run log records. The values are part of the report's JSON: they are never
// renamed.
//
// The status is derived, never assigned: DestinationStatus maps what
// happened to a destination (an Outcome) to its status, and RunStatus
// derives the run's from its destinations'. A new value is added here, in
// the list below and in those two functions, and nowhere else.
type Status string

// The statuses, in the order a reader meets them.
const (
	// StatusRunning: the run, or the destination, has not ended yet. A
	// stored run still running was interrupted before it could finish.
	StatusRunning Status = "running"
	// StatusPlanned: a dry run (plan) that completed; nothing was sent.
	StatusPlanned Status = "planned"
	// StatusSucceeded: every planned change was applied; members the
	// platform refused one by one are counted in the report, not a failure.
	StatusSucceeded Status = "succeeded"
	// StatusPartial: some changes were applied and committed, others were
	// not (a failed batch, a destination stopped part-way, an interrupt).
	// The next run sends the rest.
	StatusPartial Status = "partial"
	// StatusFailed: nothing was applied (the source read, the credentials or
	// the state store failed); for a run, none of its destinations
	// succeeded, even partly.
	StatusFailed Status = "failed"
	// StatusAborted: the removal guard stopped the run before anything was
	// uploaded.
	StatusAborted Status = "aborted"
)

// Statuses lists every status, in the order above.
func Statuses() []Status {
	return []Status{StatusRunning, StatusPlanned, StatusSucceeded, StatusPartial, StatusFailed, StatusAborted}
}

// Outcome is what happened to one destination during a run, as the engine
// saw it; DestinationStatus turns it into the destination's status.
type Outcome struct {
	// Aborted: the removal guard stopped the run.
	Aborted bool
	// Stopped: an error stopped this destination (its credentials, the
	// source read, a commit to state, an error that says not to go on).
	Stopped bool
	// DryRun: the destination was only planned.
	DryRun bool
	// Interrupted: the run was cancelled while changes were being applied.
	Interrupted bool
	// BatchFailed: a batch failed, but the destination carried on.
	BatchFailed bool
	// Applied is how many changes the destination acknowledged and state
	// committed.
	Applied int64
}

// DestinationStatus is the status of a destination whose part of the run
// ended with o.
func DestinationStatus(o Outcome) Status {
	switch {
	case o.Aborted:
		return StatusAborted
	case o.Stopped && o.Applied > 0:
		return StatusPartial
	case o.Stopped:
		return StatusFailed
	case o.DryRun:
		return StatusPlanned
	case o.Interrupted, o.BatchFailed:
		return StatusPartial
	default:
		return StatusSucceeded
	}
}

// RunStatus derives a run's status from its destinations': aborted when
// the guard stopped any of them, planned or succeeded when all of them
// were, failed when none got anything applied, partial in between. A
// destination still running when the run ends counts as failed. failed
// says a step every destination depends on (loading state, reading the
// source, planning) failed: the run failed whatever its destinations say.
func RunStatus(failed bool, dests []*Destination) Status {
	if failed {
		return StatusFailed
	}
	var ok, partial, failures, aborted, planned int
	for _, d := range dests {
		switch d.Status {
		case StatusSucceeded:
			ok++
		case StatusPlanned:
			planned++
		case StatusPartial:
			partial++
		case StatusAborted:
			aborted++
		default:
			failures++
		}
	}
	switch {
	case aborted > 0:
		return StatusAborted
	case partial == 0 && failures == 0 && planned > 0:
		return StatusPlanned
	case partial == 0 && failures == 0:
		return StatusSucceeded
	case ok == 0 && partial == 0:
		return StatusFailed
	default:
		return StatusPartial
	}
}
