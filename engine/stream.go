package engine

import (
	"cmp"
	"context"
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

// A large audience is planned as a merge of two key-ordered streams, so
// that planning memory does not grow with the audience: the members read
// (key, fingerprint, consent, packed hashed identifiers) go to a spool,
// sorted in runs on disk past Engine.SpillAfter, and committed state is
// read in key order (state.OrderedMembers). One pass over both finds the
// repeats, the members to add, update, refresh or leave, and the members
// gone. The shared-identifier rule then needs only the match keys of the
// identifiers stored for the members removed or updated — the only ones
// a removal could touch — and a pass over the members' match keys, kept
// apart in source order (keylog.go), marks those a staying member still
// carries. In memory stay the changes themselves
// (removals and updates, as in the in-memory plan), a fixed-size filter
// of source keys in the collector (dedup.go), and the read buffers of
// the runs. Spool files hold hashed keys, identifiers and match keys only, in the
// run's spill directory, unlinked as soon as they are created.
//
// Small audiences keep the in-memory plan, which is faster below
// Engine.StreamPlanAt; both give the same plan (TestStreamPlanMatchesMemory).

// DefaultStreamPlanAt is the committed audience size from which a run plans
// by merging streams rather than in memory.
const DefaultStreamPlanAt = 250_000

// streamSendsInMemory is how many planned sends a streaming plan keeps in
// memory before spooling them (Engine.SpillAfter when lower).
const streamSendsInMemory = 16 << 10

// streams decides whether the run plans by merging streams: the store can
// read members in key order, the job has no segments (whose moves and
// holdouts are planned in memory), and some destination holds at least
// StreamPlanAt members.
func (e *Engine) streams(job *Job, plans []*plan) bool {
	at := e.streamPlanAt()
	if at < 0 || len(job.Segments) > 0 {
		return false
	}
	if _, ok := e.Store.(state.OrderedMembers); !ok {
		return false
	}
	for _, p := range plans {
		if !p.failed && p.committedN >= int64(at) {
			return true
		}
	}
	return false
}

// streamPlanAt is Engine.StreamPlanAt with its default; negative: never.
func (e *Engine) streamPlanAt() int {
	if e.StreamPlanAt == 0 {
		return DefaultStreamPlanAt
	}
	return e.StreamPlanAt
}

// merge plans the members read against committed state, both in key order:
// it records each member's kind as classify does in memory, and returns the
// committed members gone (removals) and, when clearing, those that stay.
func (p *plan) merge(ctx context.Context, om state.OrderedMembers, clearing bool) (gone, stay []audience.MemberKey, err error) {
	if err := p.ids.flush(); err != nil {
		return nil, nil, err
	}
	next, stop := prefetch(ctx, om, p.scope)
	defer stop()
	var (
		st state.Entry
		ok bool
	)
	advance := func() error {
		var err error
		st, ok, err = next()
		return err
	}
	if err := advance(); err != nil {
		return nil, nil, err
	}
	var prev audience.MemberKey
	first := true
	for ch, err := range p.srcs.all() {
		if err != nil {
			return nil, nil, err
		}
		if !first && ch.key == prev {
			// Two records reduce to one member (no source key and the
			// same primary identifier): the first read wins.
			p.tally.Reject("member.duplicate")
			if p.repeats == nil {
				p.repeats = make(bitset, (p.seq+64)/64)
			}
			p.repeats.set(uint32(ch.seq))
			continue
		}
		first, prev = false, ch.key
		for ok && st.Key.Compare(ch.key) < 0 {
			gone = append(gone, st.Key)
			if err := advance(); err != nil {
				return nil, nil, err
			}
		}
		var c committedMember
		inState := ok && st.Key == ch.key
		if inState {
			c = committedMember{fp: shortFP(st.Fingerprint), lastSent: uint32(max(st.LastSent.Unix(), 0))}
			if clearing {
				stay = append(stay, st.Key)
			}
			if err := advance(); err != nil {
				return nil, nil, err
			}
		}
		p.members++
		kind := p.kindOf(c, inState, ch.fp)
		if kind == 0 {
			p.rep.Planned.Unchanged++ // most members: nothing copied
			continue
		}
		out := *ch
		out.kind = kind
		if out.ids, err = p.ids.read(ch.idsAt, ch.idsLen); err != nil {
			return nil, nil, err
		}
		p.record(out)
	}
	for ok {
		gone = append(gone, st.Key)
		if err := advance(); err != nil {
			return nil, nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	// Updates go out first in source order, as from the in-memory plan:
	// of two updates with the same identifiers, the first read is the
	// one sent.
	slices.SortFunc(p.updates, func(a, b change) int { return cmp.Compare(a.seq, b.seq) })
	return gone, stay, nil
}

// desiredAmong fills p.desiredIDs with the match keys of the identifiers
// stored for the members removed or updated (gone, upd) that a member of
// the audience carries: a second pass over the spool, which holds each
// member's match keys (worked out by the prepare workers), keeping in
// memory only those candidates. The identifiers themselves are not kept:
// finishPlans fetches them again, so that what grows with the churn is
// held once.
func (p *plan) desiredAmong(ctx context.Context, e *Engine, gone, upd []audience.MemberKey) error {
	match := &p.t.Info.Platform.Match
	cands := map[audience.IdentifierID]bool{}
	for _, keys := range [][]audience.MemberKey{gone, upd} {
		if err := e.fetchIdentifiers(ctx, p.scope, keys, func(_ audience.MemberKey, ids []audience.Identifier) {
			audience.SortIdentifiers(ids)
			matchKeys(ids, match, func(k audience.IdentifierID) { cands[k] = false })
		}); err != nil {
			return err
		}
	}
	if len(cands) == 0 {
		return nil
	}
	// Most match keys are no candidate: a bit per hash slot answers them
	// before the map does. About 32 bits a candidate (between 64 KB and
	// 16 MB) keep the map's share near 3%: a fixed size let a quarter
	// of the keys through to the map at 10M members and 1% churn. A
	// candidate found stays in the filter until it is rebuilt from those
	// still undecided, every so many members when some were found, so
	// that an identifier many members share (a household's phone) stops
	// sending each of them to the map; once none is undecided the pass
	// ends.
	words := uint64(1) << min(max(bits.Len(uint(len(cands))/2), 13), 21)
	maybe := make([]uint64, words)
	mask := words - 1
	undecided := len(cands)
	rebuild := func() {
		clear(maybe)
		for k, desired := range cands {
			if !desired {
				maybe[uint64(k>>6)&mask] |= 1 << (k & 63)
			}
		}
	}
	rebuild()
	found := 0 // since the last rebuild
	// Tests spill after a few members, and rebuild as often.
	every := uint64(max(min(p.mkeys.limit, rebuildEvery), 1))
	err := p.mkeys.each(func(seq uint64, mk []byte) bool {
		if seq%every == 0 && found > 0 {
			if undecided == 0 {
				return false
			}
			rebuild()
			found = 0
		}
		if p.repeats != nil && p.repeats.has(uint32(seq)) {
			return true // a repeat, which the plan left out
		}
		for ; len(mk) >= 8; mk = mk[8:] {
			k := audience.IdentifierID(binary.LittleEndian.Uint64(mk))
			if maybe[uint64(k>>6)&mask]&(1<<(k&63)) == 0 {
				continue
			}
			if desired, ok := cands[k]; ok && !desired {
				cands[k] = true
				undecided--
				found++
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	for k, desired := range cands {
		if desired {
			p.desiredIDs[k] = struct{}{}
		}
	}
	return nil
}

// rebuildEvery is how many members desiredAmong reads between rebuilds of
// its candidate filter, at most (no more than the spill threshold).
const rebuildEvery = 1 << 16

// entryBatch is how many committed members prefetch hands over at once.
const entryBatch = 4096

// prefetch reads scope's members in key order on a goroutine of its own,
// in batches, so that reading the store overlaps the merge on another
// core. next returns the next member, false at the end; stop ends the
// read and waits for the goroutine, whatever was read.
func prefetch(ctx context.Context, om state.OrderedMembers, scope state.Scope) (next func() (state.Entry, bool, error), stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	full := make(chan []state.Entry, 4)
	free := make(chan []state.Entry, 6)
	var readErr error // written before full is closed
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(full)
		batch := make([]state.Entry, 0, entryBatch)
		send := func() bool {
			select {
			case full <- batch:
			case <-ctx.Done():
				return false
			}
			select {
			case batch = <-free:
				batch = batch[:0]
			default:
				batch = make([]state.Entry, 0, entryBatch)
			}
			return true
		}
		for e, err := range om.MembersOrdered(ctx, scope) {
			if err != nil {
				readErr = err
				return
			}
			batch = append(batch, e)
			if len(batch) == entryBatch && !send() {
				return
			}
		}
		if len(batch) > 0 {
			send()
		}
	})
	var cur []state.Entry
	i := 0
	next = func() (state.Entry, bool, error) {
		for i == len(cur) {
			if cur != nil {
				select {
				case free <- cur:
				default:
				}
			}
			b, ok := <-full
			if !ok {
				cur = nil
				return state.Entry{}, false, readErr
			}
			cur, i = b, 0
		}
		i++
		return cur[i-1], true, nil
	}
	stop = func() {
		cancel()
		for range full {
		}
		wg.Wait()
	}
	return next, stop
}
