package engine

import (
	"time"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/report"
)

// Observer watches runs as they go. The engine hands it one event value at
// a time, one of the types below; an observer type-switches on the events
// it cares about and ignores the rest, so adding an event breaks none. The
// CLI's progress bar is one observer; Prometheus metrics and the web UI's
// live status are meant to be others, side by side through Fanout.
//
// Observe is called from several goroutines at once (destinations are
// applied concurrently, and batches of one destination too), so an
// observer must be safe for concurrent use. It runs on the goroutine doing
// the work (the source reader, an upload lane, a committer): it must
// return quickly, and hand anything slow to a goroutine of its own.
//
// Order: RunStarted comes first and RunFinished last, once each, unless
// the run could not even be recorded (Run then returns an error and sends
// nothing). In between come the SourceProgress events, then per
// destination DestinationPlanned, while applying DestinationProgress and
// BatchApplied, and DestinationDone once its status is final. Events of
// different destinations interleave. Every destination gets its
// DestinationDone, also when the run stopped before reaching it (loading
// state or planning failed, or the run was interrupted); RunFinished still
// comes last.
type Observer interface {
	Observe(Event)
}

// ObserverFunc makes a function an Observer.
type ObserverFunc func(Event)

// Observe calls f(ev).
func (f ObserverFunc) Observe(ev Event) { f(ev) }

// Fanout returns an Observer that hands every event to each of obs in
// turn, skipping nil ones; nil when none is left, so a run with no one
// watching builds no events.
func Fanout(obs ...Observer) Observer {
	var list fanout
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return list
}

type fanout []Observer

func (f fanout) Observe(ev Event) {
	for _, o := range f {
		o.Observe(ev)
	}
}

// Event is one of RunStarted, SourceProgress, DestinationPlanned,
// DestinationProgress, BatchApplied, DestinationDone and RunFinished.
// Events are plain values holding copies: an observer may keep them.
type Event interface{ event() }

// RunRef names the run an event belongs to, so one observer can watch
// several runs at once (a daemon running syncs side by side).
type RunRef struct {
	ID   string
	Sync string
}

// RunStarted is sent once the run is recorded, before anything is read.
type RunStarted struct {
	Run         RunRef
	StartedAt   time.Time
	DryRun      bool
	FullRefresh bool
	Force       bool
	// Destinations names the job's destinations, in job order.
	Destinations []string
}

// SourceProgress counts what the source yielded so far: sent when the read
// starts, every ProgressEvery records, and once more with Done set when
// the read has ended (also when it failed: RunFinished says so).
type SourceProgress struct {
	Run        RunRef
	Read       int64
	Valid      int64
	Duplicates int64
	Rejected   int64
	Done       bool
}

// ProgressEvery is how many source records pass between SourceProgress
// events: often enough for a live display, rare enough to cost nothing.
const ProgressEvery = 1024

// DestinationPlanned is sent for each destination the source was read for,
// once its plan is complete, before the removal guard looks at it.
type DestinationPlanned struct {
	Run         RunRef
	Destination string
	Planned     report.Planned
	// Members is how many members the audience should hold after the run.
	Members int64
	// Changes is how many members applying the plan will settle, removals
	// and the removal half of a full refresh included: the total of the
	// destination's DestinationProgress.
	Changes int64
}

// DestinationProgress is sent when applying a destination's plan starts
// (Members 0) and each time members are settled: a batch committed to
// state or failed, or members committed without a platform call (a
// removal with nothing left to remove remotely, a record identical to one
// already sent).
type DestinationProgress struct {
	Run         RunRef
	Destination string
	// Members is how many members this step settled; Done how many so far,
	// of Total (DestinationPlanned.Changes).
	Members int64
	Done    int64
	Total   int64
}

// BatchApplied is sent for every batch once the platform has answered, or
// the retries ran out, before it is committed to state.
type BatchApplied struct {
	Run         RunRef
	Destination string
	Op          connectors.Op
	Seq         int
	// Size is how many members the batch carried; Accepted how many the
	// platform acknowledged and Rejected how many it refused one by one.
	// A batch that failed as a whole (Err set) accepts and rejects none.
	// Accepted includes the removal halves of updates, which the report
	// does not count as removals.
	Size     int
	Accepted int
	Rejected int
	// Retries counts the extra calls the batch took, the connector's own
	// included.
	Retries int
	// Latency is the time from the first call to the last answer, back-off
	// included.
	Latency time.Duration
	// RateLimitWaits counts the waits a rate limit imposed on the batch
	// (the platform asked for them, or the connector held the batch
	// while a rate-limit window was spent; see retry.Budget.RateLimited),
	// and RateLimitWait is their total, part of Latency.
	RateLimitWaits int
	RateLimitWait  time.Duration
	Err            error
	// Replace marks a full refresh that replaced the whole audience in one
	// session (connectors.Replacer): one event for all its members.
	Replace bool
}

// DestinationDone is sent once a destination's status is final: after it
// was applied, or when the run stopped before applying it (guard, source
// failure, unavailable destination, dry run, interrupt).
type DestinationDone struct {
	Run         RunRef
	Destination string
	Status      report.Status
	Applied     report.Applied
	Batches     int
	Retries     int
}

// RunFinished is sent last, once the run's report is stored.
type RunFinished struct {
	Run      RunRef
	Status   report.Status
	Duration time.Duration
	// Err is the error Run returns, nil when the run succeeded.
	Err error
}

func (RunStarted) event()          {}
func (SourceProgress) event()      {}
func (DestinationPlanned) event()  {}
func (DestinationProgress) event() {}
func (BatchApplied) event()        {}
func (DestinationDone) event()     {}
func (RunFinished) event()         {}

// events sends one run's events. A nil *events, or one without an
// observer, sends nothing; callers check on() before building an event,
// so a run no one watches builds none.
type events struct {
	obs Observer
	run RunRef
}

func (ev *events) on() bool { return ev != nil && ev.obs != nil }

func (ev *events) send(e Event) { ev.obs.Observe(e) }
