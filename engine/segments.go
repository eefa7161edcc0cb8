package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/report"
)

// A job with segments reads its source once and places every member into
// its segments once (Job.Place); each of a segment's destinations is a
// Target whose Segment names it and whose audience holds the members
// placed in it. Placing happens chunk by chunk, by the prepare worker
// that takes the chunk (see pipeline), so it runs on every core and never
// twice for one member however many targets read the chunk.

// SegmentInfo names one segment of a job.
type SegmentInfo struct {
	Name string
	// Group is the segment's exclusive group when it is a stage: the
	// run counts members that move between the stages of a group.
	Group string
	// Holdout says the segment keeps a holdout: a run records who is
	// held out (state.Holdouts), by member key.
	Holdout bool
}

// Placer places n members read into the job's segments: at(i) returns
// member i and its source key (audience.KeyFromSource; zero when it has
// none), and the Placer sets reasons[i*len(Job.Segments)+s] to "" when
// member i belongs in segment s, otherwise to why not (a reason of
// package report: report.ReasonFiltered…). It is called from several
// goroutines at once, a chunk of members each, and must not keep the
// members.
type Placer func(n int, at func(i int) (*audience.Member, audience.MemberKey), reasons []string)

// placing is one run's placing of members into segments.
type placing struct {
	place Placer
	n     int // segments
	mu    sync.Mutex
	segs  []*report.Segment
	// heldOut are the keys of the members held out, per segment.
	heldOut [][]audience.MemberKey
}

// placeChunk places chunk into the segments and counts it, into buf
// (grown as needed), and returns the reasons; nil when the run has no
// segments. The prepare worker that takes the chunk calls it, once for
// every target that reads the chunk, with a buffer of its own: placing
// allocates nothing per chunk.
func (pl *placing) placeChunk(chunk []sourced, buf []string) []string {
	if pl == nil {
		return nil
	}
	reasons := slices.Grow(buf[:0], len(chunk)*pl.n)[:len(chunk)*pl.n]
	clear(reasons)
	pl.place(len(chunk), func(i int) (*audience.Member, audience.MemberKey) { return &chunk[i].Member, chunk[i].key }, reasons)
	pl.count(reasons, chunk)
	return reasons
}

// reasonCount is one reason's count within a chunk: a chunk holds few
// distinct reasons, so a short list beats a map (here and in
// prepChunk.excluded).
type reasonCount struct {
	reason string
	n      int64
}

// count adds one chunk's placing to the segments' report, and keeps
// the keys of the members held out.
func (pl *placing) count(reasons []string, chunk []sourced) {
	local := make([][]reasonCount, pl.n)
	for i, r := range reasons {
		s := i % pl.n
		j := slices.IndexFunc(local[s], func(c reasonCount) bool { return c.reason == r })
		if j < 0 {
			local[s] = append(local[s], reasonCount{reason: r})
			j = len(local[s]) - 1
		}
		local[s][j].n++
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for i, r := range reasons {
		if r == report.ReasonHoldout {
			pl.heldOut[i%pl.n] = append(pl.heldOut[i%pl.n], chunk[i/pl.n].key)
		}
	}
	for s, cs := range local {
		for _, c := range cs {
			pl.segs[s].Count(c.reason, c.n)
		}
	}
}

// startPlacing sets up the run's placing and the report's segments
// section, when the job has segments. An error (a suppression list that
// could not be read, a filter that no longer compiles) stops the run
// before anything is sent.
func (e *Engine) startPlacing(ctx context.Context, job *Job, opts Options, plans []*plan, rep *report.Report) (*placing, error) {
	if len(job.Segments) == 0 {
		return nil, nil
	}
	if job.Place == nil {
		return nil, fmt.Errorf("sync %s has segments but nothing places members in them", job.Sync)
	}
	at := opts.FilterTime
	if at.IsZero() {
		at = rep.StartedAt
	}
	place, err := job.Place(ctx, at.UTC())
	if err != nil {
		return nil, err
	}
	pl := &placing{place: place, n: len(job.Segments), heldOut: make([][]audience.MemberKey, len(job.Segments))}
	index := make(map[string]int, len(job.Segments))
	for i, s := range job.Segments {
		index[s.Name] = i
		pl.segs = append(pl.segs, &report.Segment{Name: s.Name, Group: s.Group})
	}
	for _, p := range plans {
		if p.t.Segment == "" {
			continue
		}
		i, ok := index[p.t.Segment]
		if !ok {
			return nil, fmt.Errorf("destination %s names segment %q, which the sync does not define", p.t.Name, p.t.Segment)
		}
		p.segment, p.placing = i, pl
		p.stage = job.Segments[i].Group != ""
		pl.segs[i].Destinations = append(pl.segs[i].Destinations, p.t.Name)
	}
	rep.Segments = pl.segs
	return pl, nil
}

// recordHoldouts records who this run held out of each segment that
// keeps a holdout.
func (e *Engine) recordHoldouts(ctx context.Context, job *Job, pl *placing, at time.Time) error {
	if pl == nil {
		return nil
	}
	for i, s := range job.Segments {
		if !s.Holdout {
			continue
		}
		keys := pl.heldOut[i]
		slices.SortFunc(keys, audience.MemberKey.Compare)
		if err := e.Store.SetHeldOut(ctx, job.Sync, s.Name, keys, at); err != nil {
			return err
		}
	}
	return nil
}

// trackMoves sets the stage targets that keep their adds for
// countMoves: those whose group held members on some target before the
// run (a first run moves no one, and keeps no set of its adds).
func trackMoves(job *Job, plans []*plan) {
	held := map[string]bool{}
	for _, p := range plans {
		if p.stage && p.committedN > 0 {
			held[job.Segments[p.segment].Group] = true
		}
	}
	for _, p := range plans {
		p.trackAdds = p.stage && held[job.Segments[p.segment].Group]
	}
}

// countMoves counts, per destination, the members removed from one stage
// of a group and added to another in this run: moves, which the report
// shows per from → to pair, and which the removal guard does not count
// as removals (the member stays in the funnel).
func countMoves(job *Job, plans []*plan, rep *report.Report) {
	type destGroup struct{ group, dest string }
	byDest := map[destGroup][]*plan{}
	for _, p := range plans {
		if p.stage && !p.failed {
			g := destGroup{job.Segments[p.segment].Group, strings.TrimPrefix(p.t.Name, p.t.Segment+"/")}
			byDest[g] = append(byDest[g], p)
		}
	}
	for g, ps := range byDest {
		for _, from := range ps {
			moved := map[*plan]int64{}
			for i := range from.removes {
				ch := &from.removes[i]
				if ch.kind != kindRemove {
					continue
				}
				for _, to := range ps {
					if _, ok := to.added[ch.key]; ok && to != from {
						moved[to]++
						break
					}
				}
			}
			for _, to := range ps {
				if n := moved[to]; n > 0 {
					from.movedOut += n
					rep.Moves = append(rep.Moves, report.Move{Group: g.group, From: from.t.Segment, To: to.t.Segment, Destination: g.dest, Members: n})
				}
			}
		}
	}
	slices.SortFunc(rep.Moves, func(a, b report.Move) int {
		return strings.Compare(a.Group+"\x00"+a.Destination+"\x00"+a.From+"\x00"+a.To, b.Group+"\x00"+b.Destination+"\x00"+b.From+"\x00"+b.To)
	})
	for _, p := range plans {
		p.added = nil
	}
}
