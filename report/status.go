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
	// StatusPartial: the destination went on to the end, but some of its
	// changes failed (a batch the platform refused, or that still erred
	// when its retries were spent), or an error of its own stopped it
	// after some changes were applied. What was applied is committed; the
	// next run sends the rest.
	StatusPartial Status = "partial"
	// StatusFailed: an error of the destination's own (its credentials,
	// the audience, the state store) or of a step every destination
	// shares (the source read, planning) stopped it before any change was
	// applied; for a run, none of its destinations got anything applied.
	StatusFailed Status = "failed"
	// StatusAborted: the removal guard stopped the run before anything was
	// uploaded.
	StatusAborted Status = "aborted"
	// StatusInterrupted: the run was stopped from outside (cancelled,
	// Ctrl-C or SIGTERM, safety.max_run_duration) before the destination
	// finished, whether while reading, planning or applying. What was
	// acknowledged is committed; the changes never sent count as not
	// attempted, and the next run carries on. A stored run left running
	// by a process that died is shown with this status too.
	StatusInterrupted Status = "interrupted"
	// StatusSkipped: a scheduled tick of `serve` that did not run because
	// the sync was still running (here or in another process). The run
	// log records it as a run that did nothing, with a report that says
	// why; it is neither a failure nor a success. Only the daemon sets it,
	// never DestinationStatus or RunStatus.
	StatusSkipped Status = "skipped"
)

// Statuses lists every status, in the order above.
func Statuses() []Status {
	return []Status{StatusRunning, StatusPlanned, StatusSucceeded, StatusPartial, StatusFailed, StatusAborted, StatusInterrupted, StatusSkipped}
}

// Outcome is what happened to one destination during a run, as the engine
// saw it; DestinationStatus turns it into the destination's status.
type Outcome struct {
	// Aborted: the removal guard stopped the run.
	Aborted bool
	// Stopped: an error of its own stopped this destination (its
	// credentials, the source read, a commit to state, an error that says
	// not to go on), not the end of the run's context.
	Stopped bool
	// DryRun: the destination was only planned.
	DryRun bool
	// Interrupted: the run's context ended (cancel, signal, deadline)
	// before this destination finished, at whatever step.
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
	case o.Interrupted:
		return StatusInterrupted
	case o.DryRun:
		return StatusPlanned
	case o.BatchFailed:
		return StatusPartial
	default:
		return StatusSucceeded
	}
}

// RunStatus derives a run's status from its destinations': aborted when
// the guard stopped any of them, interrupted when any of them was,
// planned or succeeded when all of them were, failed when none got
// anything applied, partial in between. A destination still running when
// the run ends counts as failed. failed says a step every destination
// depends on (loading state, reading the source, planning) failed: the
// run failed whatever its destinations say.
func RunStatus(failed bool, dests []*Destination) Status {
	if failed {
		return StatusFailed
	}
	var ok, partial, failures, aborted, planned, interrupted int
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
		case StatusInterrupted:
			interrupted++
		default:
			failures++
		}
	}
	switch {
	case aborted > 0:
		return StatusAborted
	case interrupted > 0:
		return StatusInterrupted
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
