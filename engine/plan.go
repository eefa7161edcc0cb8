package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

// committedMember is what planning keeps in memory per committed member: no
// identifiers, so a large audience plans in little memory. Identifiers are
// fetched afterwards for the few members that are removed or updated.
// Sixteen bytes a member: half the fingerprint (a chance match of 64 bits
// would only skip one re-send), the send time in seconds and the member's
// bit in plan.seen. The map is not written while the source is read, so
// the prepare workers may look members up in it.
type committedMember struct {
	fp       uint64
	lastSent uint32 // unix seconds; good until 2106
	idx      uint32
}

// bitset holds one bit per committed member.
type bitset []uint64

func (b bitset) has(i uint32) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i uint32)      { b[i/64] |= 1 << (i % 64) }

func shortFP(f audience.Fingerprint) uint64 { return binary.LittleEndian.Uint64(f[:8]) }

// taintedFP is committed.fp of a member state.WriteAhead tainted.
var taintedFP = shortFP(audience.Fingerprint{})

// change is one member to send: a new member, an update, a refresh or a
// removal. ids is packed with audience.EncodeIdentifiers.
type change struct {
	key     audience.MemberKey
	fp      audience.Fingerprint
	consent audience.Consent
	ids     []byte
	kind    changeKind
	// oldIDs, for updates: stored identifiers no member still carries,
	// to remove before the new ones are added.
	oldIDs []byte
	// seq is the member's place in the source's order, in a streaming
	// plan's spool of members read (stream.go): the first of two records
	// reducing to one member wins.
	seq uint64
	// idsAt and idsLen are where ids are in a streaming plan's idLog,
	// in its spool of members read (which leaves ids nil).
	idsAt  int64
	idsLen int
}

type changeKind uint8

const (
	kindAdd changeKind = iota + 1
	kindUpdate
	kindRefresh
	kindRemove
	// kindClear removes a member that stays, ahead of re-adding it, on a
	// full refresh of a destination that cannot empty or replace an
	// audience in one call.
	kindClear
)

// sends yields the members to send, updates first, in plan order.
func (p *plan) sends() iter.Seq2[*change, error] {
	return func(yield func(*change, error) bool) {
		for i := range p.updates {
			if !yield(&p.updates[i], nil) {
				return
			}
		}
		for ch, err := range p.bulk.all() {
			if !yield(ch, err) || err != nil {
				return
			}
		}
	}
}

func (p *plan) sendCount() int { return len(p.updates) + p.bulk.len() }

// plan is one destination's view of a run.
type plan struct {
	t     *Target
	scope state.Scope
	rep   *report.Destination
	aud   connectors.Audience
	opts  normalize.Options
	// filter is the target's segment (Job.Segment); nil keeps everyone.
	filter MemberFilter
	// placing, when set, places members into the job's segments; the
	// target takes those of segment (an index in Job.Segments). stage:
	// the segment is a stage of a group, whose adds are kept in added
	// to count moves; movedOut counts the removals that are moves.
	placing *placing
	segment int
	stage   bool
	// trackAdds: keep the keys added in added, to count moves; only
	// when a stage of the group held members before the run, as a move
	// needs a remove.
	trackAdds bool
	added     map[audience.MemberKey]struct{}
	movedOut  int64
	full      bool
	now       time.Time
	// refreshBefore: members last sent before this are refreshed; zero
	// when memberships do not lapse.
	refreshBefore uint32
	// refusal is why the run refused this destination's audience
	// (adopt.go); nil otherwise.
	refusal error

	// stream: the plan merges the members read, spooled sorted by key in
	// srcs, with committed state read in key order (stream.go), rather
	// than holding committed, seen, fresh and every match key in memory.
	// committedN is how many members state held as the run started.
	stream     bool
	srcs       keySpool
	mkeys      keyLog // the match keys of the members in srcs, by seq
	ids        idLog  // the packed identifiers of the members in srcs
	repeats    bitset // the seqs of the members the merge found repeated
	seq        uint64
	committedN int64
	committed  map[audience.MemberKey]committedMember
	seen       bitset // committed members this run has read, by committedMember.idx
	fresh      map[audience.MemberKey]struct{}
	desiredIDs map[audience.IdentifierID]struct{}
	updates    []change // kept in memory: their old identifiers are fetched later
	bulk       spool    // adds and refreshes, in order
	removes    []change
	// session is the replace session an earlier run left open; when set,
	// full is too (writeahead.go).
	session connectors.ReplaceSession
	members int64
	tally   normalize.Tally
	// failed: the destination stopped, for whatever reason; ownStop: an
	// error of its own stopped it, not the end of the run's context.
	failed, ownStop bool
	// runDone is the run's ctx.Done(): an error once it is closed is the
	// run's interruption, not the destination's failure.
	runDone <-chan struct{}
	dryRun  bool
	// outcome is how the destination's part of the run ended; settle
	// derives its status from it. settled: settle ran.
	outcome report.Outcome
	settled bool
	ev      *events
}

func newPlan(t *Target, job *Job, opts Options, now time.Time, spillAfter int) *plan {
	p := &plan{
		t:     t,
		scope: state.Scope{Sync: job.Sync, Destination: t.Name},
		rep: &report.Destination{
			Name: t.Name, Segment: t.Segment, Type: t.Type, Profile: t.Info.Platform.Name, Status: report.StatusRunning,
		},
		full:       opts.FullRefresh,
		dryRun:     opts.DryRun,
		now:        now,
		fresh:      make(map[audience.MemberKey]struct{}),
		desiredIDs: make(map[audience.IdentifierID]struct{}),
		bulk:       spool{limit: spillAfter},
	}
	p.opts.DefaultRegion = job.DefaultRegion
	p.opts.Attributes = t.attrs
	if job.Segment != nil {
		p.filter = job.Segment(t, now)
	}
	for _, k := range t.Info.Kinds {
		p.opts.Kinds[k] = true
	}
	if window := refreshWindow(t); window > 0 {
		p.refreshBefore = uint32(max(now.Add(-window).Unix(), 1))
	}
	return p
}

// refreshWindow is how long a membership may go unsent: the membership
// duration less the safety margin (at least half the duration).
func refreshWindow(t *Target) time.Duration {
	membership := t.Info.RefreshWindow
	if t.Audience.MembershipDays > 0 {
		membership = time.Duration(t.Audience.MembershipDays) * 24 * time.Hour
	}
	if membership <= 0 {
		return 0
	}
	w := membership - t.RefreshMargin
	if w < membership/2 {
		w = membership / 2
	}
	return w
}

// fail stops the destination with err, recorded in its report.
func (p *plan) fail(err error) {
	p.stop()
	p.rep.Errors = append(p.rep.Errors, err.Error())
}

// stop stops the destination: for an error of its own, unless the run
// was already interrupted, whose end then explains the error.
func (p *plan) stop() {
	p.failed = true
	if !p.interrupted() {
		p.ownStop = true
	}
}

// interrupted reports whether the run's context has ended.
func (p *plan) interrupted() bool {
	select {
	case <-p.runDone:
		return true
	default:
		return false
	}
}

// settle sets the destination's status once its part of the run is over,
// from p.outcome and what was applied, counts the planned changes never
// attempted, and tells the observer. It is the only place a destination's
// status is set.
func (p *plan) settle() {
	p.settled = true
	o := p.outcome
	o.Stopped = o.Stopped || p.ownStop
	o.Interrupted = o.Interrupted || p.interrupted()
	a := &p.rep.Applied
	o.Applied = a.Done()
	if !p.dryRun {
		// Every planned change ends applied, failed or not attempted:
		// what was neither applied nor failed was never attempted.
		a.NotAttempted = p.rep.Planned.Changes() - a.Settled()
		if a.NotAttempted < 0 {
			// Some member was counted twice: a bug, said rather than
			// hidden. CheckCounts fails on it.
			p.rep.Errors = append(p.rep.Errors, fmt.Sprintf("engine: the counts do not add up (planned %+v, applied %+v); please report this",
				p.rep.Planned, *a))
			a.NotAttempted = 0
		}
	}
	p.rep.Status = report.DestinationStatus(o)
	if p.ev.on() {
		p.ev.send(DestinationDone{Run: p.ev.run, Destination: p.t.Name, Status: p.rep.Status, Applied: p.rep.Applied,
			Batches: p.rep.Batches, Retries: p.rep.Retries})
	}
}

// settleAll settles every plan not settled yet with the same outcome: the
// run stopped before applying any of them.
func settleAll(plans []*plan, o report.Outcome) {
	for _, p := range plans {
		if p.settled {
			continue
		}
		p.outcome = o
		p.settle()
	}
}

// changeCount is how many members applying the plan settles.
func (p *plan) changeCount() int64 { return int64(len(p.removes) + p.sendCount()) }

func (e *Engine) loadState(ctx context.Context, log *zap.Logger, job *Job, plans []*plan) error {
	for _, p := range plans {
		if err := e.loadIntent(ctx, log, p); err != nil {
			return err
		}
		n, err := e.committedSize(ctx, p.scope)
		if err != nil {
			return fmt.Errorf("load state of %s: %w", p.t.Name, err)
		}
		p.committedN = n
	}
	if e.streams(job, plans) {
		log.Debug("planning by merging sorted streams")
		for _, p := range plans {
			p.stream = true
			p.srcs = keySpool{limit: p.bulk.limit, dir: p.bulk.dir, hint: p.committedN}
			p.mkeys = newKeyLog(p.bulk.dir, p.bulk.limit)
			p.ids = newIDLog(p.bulk.dir, p.bulk.limit)
			// Sends grow with the churn, which grows with the audience:
			// fewer of them stay in memory.
			p.bulk.limit = min(p.bulk.limit, streamSendsInMemory)
		}
		return nil
	}
	for _, p := range plans {
		p.committed = make(map[audience.MemberKey]committedMember, p.committedN)
		var next uint32
		err := e.Store.Members(ctx, p.scope, func(en state.Entry) error {
			p.committed[en.Key] = committedMember{fp: shortFP(en.Fingerprint), lastSent: uint32(max(en.LastSent.Unix(), 0)), idx: next}
			next++
			return nil
		})
		if err != nil {
			return fmt.Errorf("load state of %s: %w", p.t.Name, err)
		}
		p.seen = make(bitset, (next+63)/64)
		p.committedN = int64(next)
	}
	return nil
}

// committedSize is about how many members scope holds, to choose how to
// plan and to size what planning holds: the audience size the run log
// recorded after the last run when that is large enough to plan by
// merging streams, or else the store's count. Counting walks every
// member, as long as a tenth of a large plan, and the two ways of
// planning give the same plan, so a recorded size that is out of date
// (an interrupted run) costs only speed; a small or missing one is
// checked by counting, which is then quick, so that an audience whose
// state was restored from a backup without its runs is not planned in
// memory whatever its size.
func (e *Engine) committedSize(ctx context.Context, scope state.Scope) (int64, error) {
	if at := e.streamPlanAt(); at > 0 {
		if pts, err := e.Store.SizeHistory(ctx, scope, 1); err == nil && len(pts) == 1 && pts[0].Members >= int64(at) {
			return pts[0].Members, nil
		}
	}
	return e.Store.Count(ctx, scope)
}

// kindOf says what to send for a member whose identifiers and consent
// fingerprint to fp, given its committed entry: zero when nothing. It reads
// only what does not change while the source is read, so the prepare
// workers call it.
func (p *plan) kindOf(c committedMember, inState bool, fp audience.Fingerprint) changeKind {
	switch {
	case !inState:
		return kindAdd
	case c.fp == taintedFP || c.fp != shortFP(fp):
		// A tainted member may have lost identifiers on the platform
		// (writeahead.go): re-send it.
		return kindUpdate
	case p.full || (p.refreshBefore != 0 && c.lastSent < p.refreshBefore):
		return kindRefresh
	}
	return 0
}

// classify plans one prepared chunk. Chunks come in source order, so the
// rules that depend on the members before — a repeated member, the
// counters, the order of the sends — come out as from a single pass.
func (p *plan) classify(pc *prepChunk) {
	for i := range pc.res {
		r := &pc.res[i]
		switch r.status {
		case prepRejected, prepExcluded:
			continue // counted in pc.tally or pc.excluded
		case prepDenied:
			// Not uploaded; if committed, it is unseen and so removed.
			p.rep.ConsentDenied++
			continue
		}
		if p.stream {
			// Repeats, counters and kinds are worked out by the merge
			// with state (stream.go), in key order.
			p.seq++
			p.srcs.add(change{key: r.key, fp: r.fp, consent: r.consent, seq: p.seq, idsAt: p.ids.add(r.ids), idsLen: len(r.ids)})
			p.mkeys.add(r.mkeys)
			continue
		}
		keyless := pc.chunk[i].Key == ""
		// Records with a source key were already deduplicated by the reader;
		// keys derived from an identifier are checked here.
		if (r.inState && p.seen.has(r.idx)) || (keyless && hasKey(p.fresh, r.key)) {
			// Two records reduce to one member (no source key and the same
			// primary identifier): the first wins.
			p.tally.Reject("member.duplicate")
			continue
		}
		// Only removals and updates consult what stays; with nothing
		// committed the workers list no match keys.
		for _, k := range pc.keys[r.keysFrom:r.keysTo] {
			p.desiredIDs[k] = struct{}{}
		}
		p.members++
		switch {
		case r.inState:
			p.seen.set(r.idx)
		case keyless:
			p.fresh[r.key] = struct{}{}
		}
		p.record(change{key: r.key, fp: r.fp, consent: r.consent, ids: r.ids, kind: r.kind})
	}
	p.tally.Merge(&pc.tally)
	for _, c := range pc.excluded {
		if p.rep.Excluded == nil {
			p.rep.Excluded = make(map[string]int64, len(pc.excluded))
		}
		p.rep.Excluded[c.reason] += c.n
	}
}

// record plans one member of the audience by its kind.
func (p *plan) record(ch change) {
	switch ch.kind {
	case 0:
		p.rep.Planned.Unchanged++
	case kindUpdate:
		p.rep.Planned.Update++
		p.updates = append(p.updates, ch)
	case kindAdd:
		p.rep.Planned.Add++
		if p.trackAdds {
			if p.added == nil {
				p.added = map[audience.MemberKey]struct{}{}
			}
			p.added[ch.key] = struct{}{}
		}
		p.bulk.add(ch)
	default:
		p.rep.Planned.Refresh++
		p.bulk.add(ch)
	}
}

func hasKey(m map[audience.MemberKey]struct{}, k audience.MemberKey) bool {
	_, ok := m[k]
	return ok
}

// finishPlans works out removals once the whole source is read: committed
// members not seen are removed, and updated members drop identifiers they no
// longer carry. Guarantee: an identifier is removed only when no member
// that stays in the audience still carries it.
func (e *Engine) finishPlans(ctx context.Context, plans []*plan) error {
	for _, p := range plans {
		if p.failed {
			continue
		}
		var gone, stay []audience.MemberKey
		clearing := p.full && !canReplace(p.t.Dest)
		if p.stream {
			var err error
			if gone, stay, err = p.merge(ctx, e.Store.(state.OrderedMembers), clearing); err != nil {
				return fmt.Errorf("plan %s: %w", p.t.Name, err)
			}
		} else {
			for k, c := range p.committed {
				if !p.seen.has(c.idx) {
					gone = append(gone, k)
				} else if clearing {
					stay = append(stay, k)
				}
			}
			slices.SortFunc(gone, audience.MemberKey.Compare)
			slices.SortFunc(stay, audience.MemberKey.Compare)
		}
		if p.bulk.err != nil {
			return fmt.Errorf("plan %s: %w", p.t.Name, p.bulk.err)
		}
		updates := make(map[audience.MemberKey]int, len(p.updates))
		updKeys := make([]audience.MemberKey, 0, len(p.updates))
		for i, ch := range p.updates {
			updates[ch.key] = i
			updKeys = append(updKeys, ch.key)
		}
		if p.stream {
			// Which of the removed and updated members' identifiers a
			// member read still carries (in memory, desiredIDs has them
			// all already).
			if err := p.desiredAmong(ctx, e, gone, updKeys); err != nil {
				return fmt.Errorf("plan removals for %s: %w", p.t.Name, err)
			}
			if e.streamed != nil {
				e.streamed() // a test looks at the spill files, still open
			}
			p.srcs.close()
			p.mkeys.close()
			p.ids.close()
		}
		if err := e.fetchIdentifiers(ctx, p.scope, gone, func(k audience.MemberKey, ids []audience.Identifier) {
			p.removes = append(p.removes, change{key: k, kind: kindRemove, ids: audience.EncodeIdentifiers(nil, p.undesired(ids))})
		}); err != nil {
			return fmt.Errorf("plan removals for %s: %w", p.t.Name, err)
		}
		if err := e.fetchIdentifiers(ctx, p.scope, updKeys, func(k audience.MemberKey, ids []audience.Identifier) {
			p.updates[updates[k]].oldIDs = audience.EncodeIdentifiers(nil, p.undesired(ids))
		}); err != nil {
			return fmt.Errorf("plan updates for %s: %w", p.t.Name, err)
		}
		if clearing {
			if err := e.fetchIdentifiers(ctx, p.scope, stay, func(k audience.MemberKey, ids []audience.Identifier) {
				p.removes = append(p.removes, change{key: k, kind: kindClear, ids: audience.EncodeIdentifiers(nil, ids)})
			}); err != nil {
				return fmt.Errorf("plan full refresh for %s: %w", p.t.Name, err)
			}
		}
		p.rep.Planned.Remove = int64(len(gone))
		p.rep.Members = p.members
		p.rep.PreHashed = p.tally.PreHashed
		if len(p.tally.Rejected) > 0 {
			p.rep.Rejected = make(map[string]int64, len(p.tally.Rejected))
			for r, n := range p.tally.Rejected {
				p.rep.Rejected[string(r)] = n
			}
		}
		// Planning is done: free what apply does not need.
		p.committed, p.seen, p.fresh = nil, nil, nil
	}
	return nil
}

// canReplace reports whether d can empty or replace an audience in one call.
func canReplace(d connectors.Destination) bool {
	_, reset := d.(connectors.Resetter)
	_, replace := d.(connectors.Replacer)
	return reset || replace
}

// undesired keeps the identifiers whose match key no desired member carries.
func (p *plan) undesired(ids []audience.Identifier) []audience.Identifier {
	audience.SortIdentifiers(ids)
	return keepKeys(ids, &p.t.Info.Platform.Match, func(k audience.IdentifierID) bool {
		_, desired := p.desiredIDs[k]
		return !desired
	})
}

const identifierChunk = 5000

func (e *Engine) fetchIdentifiers(ctx context.Context, scope state.Scope, keys []audience.MemberKey, fn func(audience.MemberKey, []audience.Identifier)) error {
	for start := 0; start < len(keys); start += identifierChunk {
		chunk := keys[start:min(start+identifierChunk, len(keys))]
		got, err := e.Store.Identifiers(ctx, scope, chunk)
		if err != nil {
			return err
		}
		for _, k := range chunk {
			fn(k, got[k]) // a key without stored ids removes nothing remotely
		}
	}
	return nil
}

// guard applies the removal guard to this destination.
func (p *plan) guard(job *Job) *GuardError {
	if p.failed {
		return nil
	}
	committedN := p.rep.Planned.Remove + p.rep.Planned.Update + p.rep.Planned.Refresh + p.rep.Planned.Unchanged
	// Members moving to another stage of the funnel leave this audience
	// on purpose: they are not what the guard is for.
	removing := p.rep.Planned.Remove - p.movedOut
	if committedN == 0 || removing == 0 {
		return nil
	}
	if p.members == 0 {
		if job.AllowEmpty {
			return nil
		}
		return &GuardError{Destination: p.t.Name, Committed: committedN, Remove: p.rep.Planned.Remove, Empty: true}
	}
	if float64(removing) > job.MaxRemoveFraction*float64(committedN) {
		return &GuardError{Destination: p.t.Name, Committed: committedN, Remove: removing, Limit: job.MaxRemoveFraction}
	}
	return nil
}
