package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/engine"
)

// Live follows runs as they go, from the engine's events: it is an
// engine.Observer. The run page shows its figures for a run in progress
// and streams them to the page as server-sent events. Safe for
// concurrent use.
type Live struct {
	mu      sync.Mutex
	runs    map[string]*liveRun
	order   []string      // run ids in the order first seen, for forgetting
	changed chan struct{} // closed and replaced on every change
}

// liveKeep is how many runs Live remembers the progress of.
const liveKeep = 10000

// Progress is a run's progress as the page shows it.
type Progress struct {
	RunID string `json:"run_id"`
	Sync  string `json:"sync"`
	// Step is what the run is doing, in words.
	Step         string             `json:"step"`
	Read         int64              `json:"read"`
	Valid        int64              `json:"valid"`
	Duplicates   int64              `json:"duplicates"`
	Rejected     int64              `json:"rejected"`
	Destinations []DestinationSteps `json:"destinations"`
	// Done is set once the run's report is stored.
	Done   bool   `json:"done"`
	Status string `json:"status,omitempty"`
}

// DestinationSteps is one destination's progress.
type DestinationSteps struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// Settled of Total members whose change was sent and committed.
	Settled int64 `json:"settled"`
	Total   int64 `json:"total"`
}

type liveRun struct {
	p     Progress
	index map[string]int
}

// NewLive returns an empty Live.
func NewLive() *Live {
	return &Live{runs: map[string]*liveRun{}, changed: make(chan struct{})}
}

// starterText words who or what started a run, from its record's
// StartedBy (state.Run.StartedBy lists the words); "" when the run log
// has no record of it (a run recorded before it kept them).
func starterText(by string) string {
	via, name, _ := strings.Cut(by, ":")
	switch {
	case via == "web" && name != "":
		return name + " (web)"
	case via == "api" && name != "":
		return name + " (API)"
	}
	switch by {
	case "web":
		return "web (loopback, no tokens)"
	case "api":
		return "API"
	case "cli":
		return "command line"
	case "catch-up":
		return "catch-up at start"
	}
	return by
}

// remember notes id once; past liveKeep ids the oldest is forgotten.
// l.mu is held.
func (l *Live) remember(id string) {
	if _, seen := l.runs[id]; seen {
		return
	}
	l.order = append(l.order, id)
	if len(l.order) > liveKeep {
		old := l.order[0]
		l.order = l.order[1:]
		delete(l.runs, old)
	}
}

// Observe takes one engine event.
func (l *Live) Observe(ev engine.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := ev.(type) {
	case engine.RunStarted:
		if e.DryRun {
			return // a plan is not recorded, so it has no page to follow
		}
		l.remember(e.Run.ID)
		lr := &liveRun{p: Progress{RunID: e.Run.ID, Sync: e.Run.Sync, Step: "reading the source", Destinations: []DestinationSteps{}}, index: map[string]int{}}
		for _, d := range e.Destinations {
			lr.index[d] = len(lr.p.Destinations)
			lr.p.Destinations = append(lr.p.Destinations, DestinationSteps{Name: d, Status: "waiting"})
		}
		l.runs[e.Run.ID] = lr
	case engine.SourceProgress:
		if lr := l.runs[e.Run.ID]; lr != nil {
			lr.p.Read, lr.p.Valid, lr.p.Duplicates, lr.p.Rejected = e.Read, e.Valid, e.Duplicates, e.Rejected
			if e.Done {
				lr.p.Step = "planning the changes"
			}
		}
	case engine.DestinationPlanned:
		l.dest(e.Run.ID, e.Destination, func(d *DestinationSteps) { d.Status, d.Total = "planned", e.Changes })
	case engine.DestinationProgress:
		l.dest(e.Run.ID, e.Destination, func(d *DestinationSteps) { d.Status, d.Settled, d.Total = "sending", e.Done, e.Total })
		if lr := l.runs[e.Run.ID]; lr != nil {
			lr.p.Step = "sending changes to the platforms"
		}
	case engine.DestinationDone:
		l.dest(e.Run.ID, e.Destination, func(d *DestinationSteps) { d.Status = string(e.Status) })
	case engine.RunFinished:
		if lr := l.runs[e.Run.ID]; lr != nil {
			lr.p.Done, lr.p.Status, lr.p.Step = true, string(e.Status), "finished"
		}
	default:
		return
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// dest changes one destination of a run; l.mu is held.
func (l *Live) dest(run, name string, f func(*DestinationSteps)) {
	lr := l.runs[run]
	if lr == nil {
		return
	}
	i, ok := lr.index[name]
	if !ok {
		i = len(lr.p.Destinations)
		lr.index[name] = i
		lr.p.Destinations = append(lr.p.Destinations, DestinationSteps{Name: name})
	}
	f(&lr.p.Destinations[i])
}

// progress returns run id's progress and a channel closed at the next
// change; false when Live has not seen the run.
func (l *Live) progress(id string) (Progress, <-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lr := l.runs[id]
	if lr == nil {
		return Progress{}, l.changed, false
	}
	p := lr.p
	p.Destinations = append([]DestinationSteps(nil), lr.p.Destinations...)
	return p, l.changed, true
}

// Timing of the event stream: at most liveEvery between messages (so a
// big run does not flood the page), a comment every liveKeepAlive so
// proxies keep the connection, and at most liveFor per connection (the
// browser reconnects by itself).
const (
	liveEvery     = 250 * time.Millisecond
	liveKeepAlive = 15 * time.Second
	liveFor       = 10 * time.Minute
)

// liveEvents: GET /runs/{id}/live, the run's progress as server-sent
// events: "progress" with a Progress as JSON whenever it changes, and
// "done" once the run has ended (the page then reloads for the report).
func (s *server) liveEvents(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	id := r.PathValue("id")
	rec, err := s.opts.Service.RunRecord(r.Context(), id)
	if err != nil {
		return err
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("live progress of run %s: the connection cannot stream", id)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) {
		data, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data)
		flusher.Flush()
	}
	if len(rec.Report) > 0 || rec.Interrupted {
		send("done", Progress{RunID: id, Sync: rec.Sync, Done: true, Status: rec.Status})
		return nil
	}
	deadline := time.NewTimer(liveFor)
	defer deadline.Stop()
	for {
		p, changed, seen := s.live.progress(id)
		if seen {
			if p.Done {
				send("done", p)
				return nil
			}
			send("progress", p)
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-deadline.C:
			return nil
		case <-changed:
		case <-time.After(liveKeepAlive):
			fmt.Fprint(w, ": still running\n\n")
			flusher.Flush()
			if !seen {
				// Started elsewhere (another process): look at the log.
				if rec, err := s.opts.Service.RunRecord(r.Context(), id); err == nil && (len(rec.Report) > 0 || rec.Interrupted) {
					send("done", Progress{RunID: id, Sync: rec.Sync, Done: true, Status: rec.Status})
					return nil
				}
			}
		}
		time.Sleep(liveEvery)
	}
}

// observe makes the observer of a run this handler starts: it tells
// started its id, and feeds live when the host does not.
func (s *server) observe(started chan<- string) engine.Observer {
	return engine.ObserverFunc(func(ev engine.Event) {
		if rs, ok := ev.(engine.RunStarted); ok {
			select {
			case started <- rs.Run.ID:
			default:
			}
		}
		if s.feedLive {
			s.live.Observe(ev)
		}
	})
}
