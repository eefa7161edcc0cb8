package engine

import (
	"context"
	"encoding/binary"
	"runtime"
	"slices"
	"sync"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
)

// Planning a member is mostly work that depends on nothing else: normalise
// and hash its fields, derive its key, fingerprint and pack its
// identifiers. That part runs on a pool of workers per destination. What
// depends on the members read before it (is it a repeat, the counters, the
// order of the sends) runs on one goroutine, plan.classify, which takes
// the chunks in the order they were read: the plan and its report are
// those of a single pass, however the workers are scheduled.

// prepStatus says how far a prepared member got.
type prepStatus uint8

const (
	prepOK       prepStatus = iota
	prepRejected            // nothing the platform can match on; counted in the chunk's tally
	prepDenied              // consent denied: not uploaded
	prepExcluded            // the target's MemberFilter left it out; counted in the chunk's excluded
)

// prepared is one member after the prepare stage.
type prepared struct {
	key audience.MemberKey
	fp  audience.Fingerprint
	// ids is packed with audience.EncodeIdentifiers, only when there is
	// something to send.
	ids []byte
	// mkeys are the member's match keys, packed little-endian, in a
	// streaming plan.
	mkeys []byte
	// keysFrom and keysTo bound the member's match keys in prepChunk.keys.
	keysFrom, keysTo uint32
	idx              uint32 // committedMember.idx, when inState
	consent          audience.Consent
	kind             changeKind // zero: unchanged
	status           prepStatus
	inState          bool
}

// prepChunk is one chunk on its way through the prepare stage.
type prepChunk struct {
	chunk []sourced // shared by every destination: read only
	res   []prepared
	// keys are the match keys of the chunk's members, listed only when
	// state has members: removals and updates are what consult them.
	keys []audience.IdentifierID
	// arena holds the packed identifiers and match keys of a streaming
	// plan's members: classify copies them into the spool, so one
	// buffer a chunk, reused, replaces two allocations a member.
	arena []byte
	tally normalize.Tally // the chunk's rejections, merged in order
	// excluded counts the members the target's filter left out, by
	// reason (a worker owns the chunk while it runs).
	excluded []reasonCount
	done     chan struct{} // closed once res is filled
}

// chunkPool recycles prepChunks: classify copies out what it keeps, and
// packed identifiers are allocated apart, so nothing a plan holds points
// into a chunk.
var chunkPool = sync.Pool{New: func() any { return &prepChunk{res: make([]prepared, 0, chunkSize)} }}

func newPrepChunk(chunk []sourced) *prepChunk {
	pc := chunkPool.Get().(*prepChunk)
	pc.chunk, pc.done = chunk, make(chan struct{})
	return pc
}

func (pc *prepChunk) release() {
	pc.chunk, pc.keys, pc.arena = nil, pc.keys[:0], pc.arena[:0]
	clear(pc.tally.Rejected)
	pc.excluded = pc.excluded[:0]
	pc.tally.PreHashed = 0
	chunkPool.Put(pc)
}

// prepWorker prepares chunks for one plan, reusing its identifier buffer.
type prepWorker struct {
	p   *plan
	buf []audience.Identifier
}

// run prepares pc; reasons is the chunk's placing into segments (nil
// without segments), which the plan consults when it reads a segment.
func (w *prepWorker) run(pc *prepChunk, reasons []string) {
	pc.res = slices.Grow(pc.res[:0], len(pc.chunk))[:len(pc.chunk)]
	clear(pc.res)
	if w.p.placing == nil {
		reasons = nil
	}
	for i := range pc.chunk {
		if reasons != nil {
			if why := reasons[i*w.p.placing.n+w.p.segment]; why != "" {
				pc.exclude(&pc.res[i], why)
				continue
			}
		}
		w.prepare(pc, &pc.chunk[i], &pc.res[i])
	}
	close(pc.done)
}

// prepare does the work for one member that depends on no other member.
// It only reads the plan: its profile (a normalize.Profile is immutable and
// safe for concurrent use, and is shared by destinations of one profile
// too), its options and its committed map, which nothing writes while the
// source is read. Rejections go to the chunk's tally.
func (w *prepWorker) prepare(pc *prepChunk, s *sourced, r *prepared) {
	p := w.p
	m := &s.Member
	if p.filter != nil {
		if keep, reason := p.filter(m); !keep {
			pc.exclude(r, reason)
			return
		}
	}
	ids, ok := p.t.Profile.Member(m, p.opts, w.buf[:0], &pc.tally)
	w.buf = ids
	if !ok {
		r.status = prepRejected
		return
	}
	if limit := p.t.Info.MaxIdentifiers; limit > 0 && len(ids) > limit {
		ids = ids[:limit] // the profile lists identifiers in priority order
	}
	if m.Key != "" {
		r.key = s.key
	} else {
		r.key = audience.KeyFromIdentifier(ids[0])
	}
	r.consent = m.Consent.Or(p.t.DefaultConsent)
	if r.consent.Denied() {
		r.status = prepDenied
		return
	}
	audience.SortIdentifiers(ids)
	r.fp = audience.FingerprintOf(ids, r.consent)
	if p.stream {
		// The merge with state decides the kind (stream.go): pack the
		// identifiers, and the match keys the shared-identifier rule
		// checks, here on the workers.
		from := len(pc.arena)
		pc.arena = audience.EncodeIdentifiers(pc.arena, ids)
		mid := len(pc.arena)
		matchKeys(ids, &p.t.Info.Platform.Match, func(k audience.IdentifierID) {
			pc.arena = binary.LittleEndian.AppendUint64(pc.arena, uint64(k))
		})
		// Full slice expressions: a later append to the arena never
		// writes into a member's part.
		r.ids = pc.arena[from:mid:mid]
		r.mkeys = pc.arena[mid:len(pc.arena):len(pc.arena)]
		return
	}
	c, inState := p.committed[r.key]
	r.inState, r.idx = inState, c.idx
	if r.kind = p.kindOf(c, inState, r.fp); r.kind != 0 {
		r.ids = audience.EncodeIdentifiers(nil, ids)
	}
	if len(p.committed) > 0 {
		r.keysFrom = uint32(len(pc.keys))
		matchKeys(ids, &p.t.Info.Platform.Match, func(k audience.IdentifierID) { pc.keys = append(pc.keys, k) })
		r.keysTo = uint32(len(pc.keys))
	}
}

// exclude leaves a member out of the target, counted by reason.
func (pc *prepChunk) exclude(r *prepared, reason string) {
	r.status = prepExcluded
	// A chunk holds few distinct reasons, all the Placer's or the
	// filter's own strings: a short list beats a map.
	for i := range pc.excluded {
		if pc.excluded[i].reason == reason {
			pc.excluded[i].n++
			return
		}
	}
	pc.excluded = append(pc.excluded, reasonCount{reason: reason, n: 1})
}

// pipeline plans every destination of a read. A pool of workers takes
// the chunks in any order; a worker places its chunk into the segments
// (once for every destination) and prepares it for each destination in
// turn, while the chunk's members are in its cache. One goroutine
// classifies the chunks in the order they were read, for each destination
// in turn. One pool and one classify for all destinations, rather than a
// pool and a classify per destination and a goroutine per chunk to place
// it, keep the hand-offs to two per chunk whatever the number of
// segments: a segmented read loads the cores as fully as a single one,
// also when other processes compete for them (BenchmarkSegmentsPlan). At
// most cap(work)+workers+cap(order) chunks are in flight, so memory stays
// flat.
type pipeline struct {
	work  chan *batch // to the workers
	order chan *batch // to classify, in source order
	plans int
	wg    sync.WaitGroup
}

// batch is one chunk read, with its prepChunk for each destination.
type batch struct {
	chunk []sourced
	pcs   []*prepChunk
}

// startPipeline starts workers prepare workers (at least one) for plans,
// and the classify goroutine; placing places each chunk (nil without
// segments).
func startPipeline(plans []*plan, placing *placing, workers int) *pipeline {
	workers = max(workers, 1)
	pl := &pipeline{work: make(chan *batch, workers), order: make(chan *batch, 2*workers), plans: len(plans)}
	for range workers {
		pl.wg.Go(func() {
			ws := make([]prepWorker, len(plans))
			for i, p := range plans {
				ws[i].p = p
			}
			var reasons []string
			for b := range pl.work {
				reasons = placing.placeChunk(b.chunk, reasons)
				for i := range ws {
					ws[i].run(b.pcs[i], reasons)
				}
				// A chunk is a few milliseconds of work: yield between
				// chunks so that goroutines waiting for a core (the API
				// and web UI of `serve`, beside a large run) get one
				// within a chunk, not within the scheduler's 10 ms slice
				// after every busy goroutine ahead of them.
				runtime.Gosched()
			}
		})
	}
	pl.wg.Go(func() {
		for b := range pl.order {
			for i, p := range plans {
				pc := b.pcs[i]
				<-pc.done // every batch in order was handed to the workers first
				p.classify(pc)
				pc.release()
			}
			runtime.Gosched() // as the workers do
		}
	})
	return pl
}

// submit hands a chunk to the workers, then queues it for classify. Both
// sends wait only on the pipeline's own goroutines, which always progress
// (a worker waits on nothing); ctx lets a cancelled read stop without
// waiting for them.
func (pl *pipeline) submit(ctx context.Context, chunk []sourced) error {
	b := &batch{chunk: chunk, pcs: make([]*prepChunk, pl.plans)}
	for i := range b.pcs {
		b.pcs[i] = newPrepChunk(chunk)
	}
	select {
	case pl.work <- b:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case pl.order <- b:
	case <-ctx.Done():
		return ctx.Err() // prepared but never classified: the read has failed
	}
	return nil
}

// close ends the pipeline once nothing more will be submitted; wait
// returns when every chunk submitted has been prepared and classified.
func (pl *pipeline) close() {
	close(pl.work)
	close(pl.order)
}

func (pl *pipeline) wait() { pl.wg.Wait() }
