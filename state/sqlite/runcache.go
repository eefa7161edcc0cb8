package sqlite

import (
	"slices"
	"sync"

	"github.com/audiencesync/audiencesync/state"
)

// runCacheSize is how many finished runs the store keeps in memory: a
// few pages of the run log, which is what the API and the web UI read
// over and over (run listings of 50, a run's report) while a sync runs.
const runCacheSize = 4096

// runCache keeps what the store read of finished runs: their summaries
// and, once read, their reports. A finished run's row never changes (the
// engine records a run's end once; FinishRun forgets the run anyway), so
// what was read stays true and a listing or a report of recent runs
// costs no SQL but the page's run rows. Runs in progress are never kept.
// Entries leave oldest first when the cache is full.
type runCache struct {
	mu    sync.Mutex
	runs  map[string]*cachedRun
	order []string // ids in insertion order, for eviction
}

type cachedRun struct {
	run       state.Run // with its summaries; its report when hasReport
	hasReport bool      // the report was read (Run), not only the listing
}

func newRunCache() *runCache { return &runCache{runs: make(map[string]*cachedRun)} }

// summaries returns a copy of the summaries kept for run id.
func (c *runCache) summaries(id string) ([]state.Summary, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.runs[id]
	if !ok {
		return nil, false
	}
	return cloneSummaries(e.run.Summaries), true
}

// run returns run id with its summaries and report, when the report was
// read before.
func (c *runCache) run(id string) (state.Run, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.runs[id]
	if !ok || !e.hasReport {
		return state.Run{}, false
	}
	r := e.run
	r.Summaries, r.Report = cloneSummaries(r.Summaries), slices.Clone(r.Report)
	return r, true
}

// keep records what was read of run r, if it is finished; withReport
// says r.Report was read too (a listing reads none).
func (c *runCache) keep(r state.Run, withReport bool) {
	if r.Finished.IsZero() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.runs[r.ID]; ok {
		if withReport && !e.hasReport {
			e.run.Report, e.hasReport = slices.Clone(r.Report), true
		}
		return
	}
	report := r.Report
	r.Summaries, r.Report = cloneSummaries(r.Summaries), nil
	e := &cachedRun{run: r}
	if withReport {
		e.run.Report, e.hasReport = slices.Clone(report), true
	}
	for len(c.order) >= runCacheSize {
		delete(c.runs, c.order[0])
		c.order = c.order[1:]
	}
	c.runs[r.ID] = e
	c.order = append(c.order, r.ID)
}

// forget drops run id, whose row is changing.
func (c *runCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.runs[id]; !ok {
		return
	}
	delete(c.runs, id)
	c.order = slices.DeleteFunc(c.order, func(o string) bool { return o == id })
}

// cloneSummaries copies summaries deep enough that callers share nothing
// with the cache.
func cloneSummaries(in []state.Summary) []state.Summary {
	if in == nil {
		return nil
	}
	out := slices.Clone(in)
	for i := range out {
		if p := out[i].Platform; p != nil {
			cp := *p
			out[i].Platform = &cp
		}
	}
	return out
}
