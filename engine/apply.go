package engine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/retry"
	"github.com/audiencesync/audiencesync/state"
)

// item is one member in a batch, with what to commit once it is
// acknowledged.
type item struct {
	ch     *change
	upload connectors.Upload
	// packed, when upload.Identifiers is nil, is unpacked into it by the
	// goroutine that sends the batch, not by the one cutting batches, so
	// unpacking runs in parallel across batches.
	packed []byte
	// updateRemove marks the removal half of an update: acknowledging it
	// commits nothing; failing it keeps the old identifiers in state.
	updateRemove bool
}

// applier applies one destination's plan.
type applier struct {
	e       *Engine
	p       *plan
	log     *zap.Logger
	keep    context.Context // for commits: survives cancellation
	mu      sync.Mutex      // guards rep, requestIDs, updFailed
	stopped atomic.Bool
	batches int
	seq     int
	// total and done count the members settled, for DestinationProgress.
	total int64
	done  atomic.Int64

	requestIDs []string
	updFailed  map[audience.MemberKey][]audience.Identifier
	// halfFailed holds the members whose removal half (of an update, or
	// of a full refresh's clear) failed: each is counted failed once,
	// then, whatever becomes of its add half, not again.
	halfFailed map[audience.MemberKey]struct{}
	anyFailed  atomic.Bool
	// taintedAll: every member is already tainted (writeahead.go).
	taintedAll bool
}

func (e *Engine) apply(ctx context.Context, log *zap.Logger, p *plan, run connectors.RunInfo, opts Options) {
	a := &applier{e: e, p: p, log: log, keep: context.WithoutCancel(ctx),
		updFailed: map[audience.MemberKey][]audience.Identifier{}, halfFailed: map[audience.MemberKey]struct{}{}}
	d := p.t.Dest
	run.Segment = p.t.Segment
	if obs, ok := d.(connectors.RunObserver); ok {
		if err := obs.BeginRun(ctx, run); err != nil {
			p.fail(fmt.Errorf("begin run: %w", err))
			return
		}
		defer func() {
			if err := obs.EndRun(a.keep, run, !p.failed); err != nil {
				a.addError(fmt.Errorf("end run: %w", err))
			}
		}()
	}
	a.total = p.changeCount()
	a.progress(0)

	if l, ok := d.(connectors.BatchLimiter); ok && p.t.BatchSize > 0 {
		l.LimitBatch(p.t.BatchSize)
	}
	skipRemote := false
	if p.full { // opts.FullRefresh, or a replace session to finish
		if r, ok := d.(connectors.Replacer); ok {
			a.replace(ctx, r)
			e.finishApply(ctx, a, run)
			return
		}
		if r, ok := d.(connectors.Resetter); ok {
			// Write-ahead: once the audience is emptied, state must not
			// still vouch for its members.
			if !a.taintAll() {
				return
			}
			err := e.withRetry(ctx, a.log, p.t.Name, "emptying the audience", 1,
				func(ctx context.Context) error { return r.RemoveAll(ctx, p.aud) }, &p.rep.Retries)
			if err != nil {
				p.fail(fmt.Errorf("empty audience for full refresh: %w", err))
				return
			}
			// The audience is empty: nothing to remove remotely. State is
			// not reset: members stay, tainted, until re-added (or, gone
			// from the source, deleted), so after a crash mid-way the next
			// run still knows every member that may be on the platform.
			skipRemote = true
		}
	}

	a.removals(ctx, skipRemote)
	if !a.stopped.Load() && ctx.Err() == nil {
		a.additions(ctx)
	}
	e.finishApply(ctx, a, run)
}

// finishApply writes the snapshot, polls feedback and records how applying
// ended, for plan.settle.
func (e *Engine) finishApply(ctx context.Context, a *applier, run connectors.RunInfo) {
	p, d := a.p, a.p.t.Dest
	p.rep.Batches = a.batches

	if sw, ok := d.(connectors.SnapshotWriter); ok && !p.failed {
		if err := sw.WriteSnapshot(ctx, run, p.aud, e.snapshot(ctx, p.scope)); err != nil {
			a.addError(fmt.Errorf("write audience snapshot: %w", err))
		}
	}
	if fp, ok := d.(connectors.FeedbackPoller); ok {
		e.feedback(ctx, a, fp)
	}

	p.outcome.Interrupted = ctx.Err() != nil
	p.outcome.BatchFailed = a.anyFailed.Load()
	if p.outcome.Interrupted && !p.failed {
		p.rep.Errors = append(p.rep.Errors, "interrupted: acknowledged batches were committed")
	}
}

// replace sends the whole audience to a Replacer in one session. On
// success state becomes exactly what was sent. Every member is tainted
// first and, for a SessionReplacer, each batch's position recorded before
// it goes out (writeahead.go): a crash then leaves state behind the
// platform, and the next run finishes the session.
func (a *applier) replace(ctx context.Context, r connectors.Replacer) {
	p := a.p
	if !a.taintAll() {
		return
	}
	members := func(yield func(connectors.Upload, error) bool) {
		for ch, err := range p.sends() {
			if err != nil {
				yield(connectors.Upload{}, err)
				return
			}
			if !yield(connectors.Upload{Key: ch.key, Identifiers: decode(ch.ids), Consent: ch.consent}, nil) {
				return
			}
		}
	}
	total := p.sendCount()
	var res connectors.BatchResult
	var retries int
	start := time.Now()
	resumed := false
	sr, durable := r.(connectors.SessionReplacer)
	what := fmt.Sprintf("replacing the audience (%d members)", total)
	var budget *retry.Budget
	err := a.e.withRetry(ctx, a.log, p.t.Name, what, replaceBatches(total, p.t), func(ctx context.Context) error {
		budget = retry.From(ctx)
		var err error
		if durable {
			res, resumed, err = sr.ReplaceInSession(ctx, p.aud, total, members, p.session, a.recordSession)
		} else {
			res, err = r.Replace(ctx, p.aud, total, members)
		}
		return err
	}, &retries)
	// A resumed session's result counts the retries of all its calls.
	p.rep.Retries += retries + res.Retries
	a.batchApplied(BatchApplied{Op: connectors.OpAdd, Seq: 1, Size: total, Replace: true}, budget, res, retries+res.Retries, start, err)
	if res.RequestID != "" {
		a.requestIDs = append(a.requestIDs, res.RequestID)
	}
	if err != nil {
		// A session left open stays recorded: the next run finishes it.
		p.fail(fmt.Errorf("replace audience: %w", err))
		if !notAttempted(ctx, err) {
			p.rep.Applied.Failed += int64(total)
		}
		return
	}
	a.batches++
	if durable {
		a.clearIntent()
	}
	// A new session made the audience exactly the sends: the members gone
	// from the source left with it. A resumed one also holds what it
	// staged for the earlier run, so those are removed for real.
	a.removals(ctx, !resumed)
	rejected := make(map[int]string, len(res.Rejected))
	for _, rj := range res.Rejected {
		rejected[rj.Index] = rj.Reason
	}
	changes := make([]state.Change, 0, min(total, 10000))
	kinds := make([]changeKind, 0, cap(changes)) // of changes, counted once committed
	committed := true
	flush := func() {
		if len(changes) == 0 {
			return
		}
		if committed {
			if err := a.e.Store.Commit(a.keep, p.scope, changes); err != nil {
				p.fail(fmt.Errorf("commit replaced audience: %w", err))
				committed = false
			}
		}
		for _, k := range kinds {
			if committed {
				a.countKind(k, 1)
			} else {
				// Acknowledged, but state does not know: failed, and
				// sent again by the next run.
				p.rep.Applied.Failed++
			}
		}
		changes, kinds = changes[:0], kinds[:0]
	}
	i := -1
	for ch, err := range p.sends() {
		i++
		if err != nil {
			p.fail(err)
			return
		}
		if reason, bad := rejected[i]; bad {
			p.rep.Applied.Failed++
			if p.rep.PlatformRejected == nil {
				p.rep.PlatformRejected = map[string]int64{}
			}
			p.rep.PlatformRejected[reason]++
			continue
		}
		changes = append(changes, a.commitChange(ch))
		kinds = append(kinds, ch.kind)
		if len(changes) == cap(changes) {
			flush()
		}
	}
	flush()
	if committed {
		a.progress(total)
	}
}

// notAttempted reports whether a batch that ended with err counts as not
// attempted rather than failed: the run's end cut it short, or the
// platform refused it for a reason of the destination (credentials, a
// fatal error), so no member of it was considered.
func notAttempted(ctx context.Context, err error) bool {
	act, _ := connectors.Classify(err)
	return ctx.Err() != nil || act == connectors.ActionStop
}

func (a *applier) addError(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.p.rep.Errors = append(a.p.rep.Errors, err.Error())
}

// removals sends the removes: members gone from the audience, and the
// identifiers updated members no longer carry.
func (a *applier) removals(ctx context.Context, skipRemote bool) {
	p := a.p
	var local []state.Change // removals with nothing left to send remotely
	var items []item
	var localRemoved int64
	for i := range p.removes {
		ch := &p.removes[i]
		ids := decode(ch.ids)
		if skipRemote || len(ids) == 0 {
			local = append(local, state.Change{Key: ch.key, Delete: true})
			if ch.kind == kindRemove {
				localRemoved++
			}
			continue
		}
		items = append(items, item{ch: ch, upload: connectors.Upload{Key: ch.key, Identifiers: ids}})
	}
	if !skipRemote {
		for i := range p.updates {
			ch := &p.updates[i]
			if len(ch.oldIDs) == 0 {
				continue
			}
			items = append(items, item{ch: ch, updateRemove: true, upload: connectors.Upload{Key: ch.key, Identifiers: decode(ch.oldIDs)}})
		}
	}
	if len(local) > 0 {
		if err := a.e.Store.Commit(a.keep, p.scope, local); err != nil {
			// Nothing was sent for these: they count as not attempted.
			p.fail(fmt.Errorf("commit removals: %w", err))
			a.stopped.Store(true)
			return
		}
		p.rep.Applied.Removed += localRemoved
		a.progress(len(local))
	}
	// Write-ahead: a removal applied but never acknowledged must not leave
	// state vouching for what it removed.
	if !a.taint(items) {
		return
	}
	a.dispatch(ctx, connectors.OpRemove, slices.Values(items))
}

// additions adds new members, re-sends updated ones and refreshes those
// whose membership is due to lapse. Two CRM records that reduce to the same
// identifiers go up once. Records are never trimmed of an identifier another
// member also carries: platforms match a record's identifiers together (a
// Meta row is one person), and a record stripped of its shared e-mail would
// mean someone else. Re-sending an identifier is harmless; adds are
// idempotent.
func (a *applier) additions(ctx context.Context) {
	p := a.p
	sent := make(map[uint64]struct{})
	var carried []*change // an identical record went up with another member
	var readErr error
	items := func(yield func(item) bool) {
		for ch, err := range p.sends() {
			if err != nil {
				readErr = err
				return
			}
			// ch.ids is the sorted, packed identifier set: equal bytes, equal record.
			rec := recordKey(ch.ids)
			if _, dup := sent[rec]; dup {
				carried = append(carried, ch)
				continue
			}
			sent[rec] = struct{}{}
			if !yield(item{ch: ch, packed: ch.ids, upload: connectors.Upload{Key: ch.key, Consent: ch.consent}}) {
				return
			}
		}
	}
	a.dispatch(ctx, connectors.OpAdd, items)
	if readErr != nil {
		p.fail(readErr)
		return
	}
	if len(carried) > 0 && !a.anyFailed.Load() && !a.stopped.Load() && ctx.Err() == nil {
		changes := make([]state.Change, 0, len(carried))
		for _, ch := range carried {
			changes = append(changes, a.commitChange(ch))
			a.count(ch, 1)
		}
		if err := a.e.Store.Commit(a.keep, p.scope, changes); err != nil {
			p.fail(fmt.Errorf("commit: %w", err))
		}
		a.progress(len(carried))
	}
}

// dispatch cuts items into batches and applies them with bounded
// concurrency, committing each acknowledged batch at once. Items are pulled
// as batches are cut, so a spooled plan is never all in memory.
func (a *applier) dispatch(ctx context.Context, op connectors.Op, items iter.Seq[item]) {
	t := a.p.t
	size := t.batchSize()
	if size <= 0 {
		size = 1000
	}
	conc := t.Info.Concurrency
	if t.Concurrency > 0 && (conc <= 0 || t.Concurrency < conc) {
		conc = t.Concurrency
	}
	if conc <= 0 {
		conc = 1
	}
	sem := make(chan struct{}, conc)
	// Acknowledged batches go to one committer, so upload lanes do not
	// queue for the state store's single writer: a lane hands its batch
	// over and sends the next. The committer commits the batches waiting
	// for it together, in one transaction, which keeps up when uploads
	// outpace single commits. At most conc batches wait, so memory stays
	// bounded, and a lane that finds them all waiting waits too.
	acks := make(chan *acked, conc)
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		a.commitLoop(acks)
	}()
	var wg sync.WaitGroup
	send := func(batchItems []item) bool {
		if a.stopped.Load() || ctx.Err() != nil {
			return false
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		// A batch that finished while this one waited for a slot may have
		// stopped the destination: check again before sending.
		if a.stopped.Load() || ctx.Err() != nil {
			<-sem
			return false
		}
		a.seq++
		b := connectors.Batch{Op: op, Seq: a.seq}
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Members = make([]connectors.Upload, len(batchItems))
			for i := range batchItems {
				it := &batchItems[i]
				if it.upload.Identifiers == nil && it.packed != nil {
					it.upload.Identifiers = decode(it.packed)
				}
				b.Members[i] = it.upload
			}
			defer func() { <-sem }()
			a.applyBatch(ctx, b, batchItems, acks)
		}()
		return true
	}
	batch := make([]item, 0, size)
	for it := range items {
		batch = append(batch, it)
		if len(batch) == size {
			if !send(batch) {
				batch = nil
				break
			}
			batch = make([]item, 0, size)
		}
	}
	if len(batch) > 0 {
		send(batch)
	}
	wg.Wait()
	close(acks)
	<-commitDone
}

// acked is an acknowledged batch on its way to be committed.
type acked struct {
	seq      int
	items    []item
	rejected map[int]string // by item index: members the platform refused
	changes  []state.Change
}

// applyBatch uploads a batch and hands what the platform acknowledged to
// the committer.
func (a *applier) applyBatch(ctx context.Context, b connectors.Batch, items []item, acks chan<- *acked) {
	p := a.p
	var res connectors.BatchResult
	var retries int
	start := time.Now()
	what := fmt.Sprintf("batch %d (%s, %d members)", b.Seq, b.Op, len(items))
	var budget *retry.Budget
	err := a.e.withRetry(ctx, a.log, p.t.Name, what, 1, func(ctx context.Context) error {
		budget = retry.From(ctx)
		r, err := p.t.Dest.Apply(ctx, p.aud, b)
		retries += r.Retries // the destination's own retries, failed calls included
		if err == nil {
			res = r
		}
		return err
	}, &retries)
	a.batchApplied(BatchApplied{Op: b.Op, Seq: b.Seq, Size: len(items)}, budget, res, retries, start, err)
	a.mu.Lock()
	a.batches++
	p.rep.Retries += retries
	if res.RequestID != "" {
		a.requestIDs = append(a.requestIDs, res.RequestID)
	}
	a.mu.Unlock()

	if err != nil {
		a.anyFailed.Store(true)
		skipped := notAttempted(ctx, err)
		a.mu.Lock()
		p.rep.Errors = append(p.rep.Errors, fmt.Sprintf("%s batch %d (%d members): %v", b.Op, b.Seq, len(items), err))
		for i := range items {
			it := &items[i]
			if it.updateRemove {
				a.updFailed[it.ch.key] = it.upload.Identifiers
			}
			if !skipped {
				a.failLocked(it)
			}
		}
		a.mu.Unlock()
		if act, _ := connectors.Classify(err); act == connectors.ActionStop && ctx.Err() == nil {
			a.stopped.Store(true)
			a.mu.Lock()
			p.stop()
			a.mu.Unlock()
		}
		a.log.Warn("batch failed", zap.Stringer("op", b.Op), zap.Int("seq", b.Seq), zap.Error(err))
		a.progress(len(items))
		return
	}

	rejected := make(map[int]string, len(res.Rejected))
	for _, r := range res.Rejected {
		rejected[r.Index] = r.Reason
	}
	changes := make([]state.Change, 0, len(items))
	for i, it := range items {
		if reason, bad := rejected[i]; bad {
			a.mu.Lock()
			a.failLocked(&items[i])
			if p.rep.PlatformRejected == nil {
				p.rep.PlatformRejected = map[string]int64{}
			}
			p.rep.PlatformRejected[reason]++
			if it.updateRemove {
				a.updFailed[it.ch.key] = it.upload.Identifiers
			}
			a.mu.Unlock()
			continue
		}
		if it.updateRemove || it.ch.kind == kindClear {
			// Committed with the add half. A cleared member stays in
			// state, tainted, until it is re-added: after a crash the next
			// run re-adds it, and the removal guard still counts it.
			continue
		}
		if b.Op == connectors.OpRemove {
			changes = append(changes, state.Change{Key: it.ch.key, Delete: true})
		} else {
			changes = append(changes, a.commitChange(it.ch))
		}
	}
	acks <- &acked{seq: b.Seq, items: items, rejected: rejected, changes: changes}
}

// commitLoop commits acknowledged batches as they arrive, each together
// with any others already waiting. Guarantee: an acknowledged batch is
// committed at once, not held back for others. Commits use a.keep, so an
// interrupted run still records what the platform acknowledged.
func (a *applier) commitLoop(acks <-chan *acked) {
	for first := range acks {
		group := []*acked{first}
	more:
		for {
			select {
			case next, ok := <-acks:
				if !ok {
					break more
				}
				group = append(group, next)
			default:
				break more
			}
		}
		a.commitGroup(group)
	}
}

func (a *applier) commitGroup(group []*acked) {
	p := a.p
	var changes []state.Change
	for _, g := range group {
		changes = append(changes, g.changes...)
	}
	if err := a.e.Store.Commit(a.keep, p.scope, changes); err != nil {
		seqs := make([]string, len(group))
		for i, g := range group {
			seqs[i] = strconv.Itoa(g.seq)
		}
		a.stopped.Store(true)
		a.mu.Lock()
		p.stop()
		p.rep.Errors = append(p.rep.Errors, fmt.Sprintf("commit batch %s: %v", strings.Join(seqs, ", "), err))
		// Acknowledged, but state does not know: failed, and sent again
		// by the next run. A removal half has nothing to commit; its add
		// half is never sent, so not attempted.
		for _, g := range group {
			for i := range g.items {
				it := &g.items[i]
				if _, bad := g.rejected[i]; !bad && !it.updateRemove && it.ch.kind != kindClear {
					a.failLocked(it)
				}
			}
		}
		a.mu.Unlock()
		return
	}
	for _, g := range group {
		for i, it := range g.items {
			if _, bad := g.rejected[i]; bad || it.updateRemove {
				continue
			}
			a.count(it.ch, 1)
		}
		a.progress(len(g.items))
	}
}

// commitChange is what state records for an acknowledged send. When the
// removal half of an update failed, the old identifiers stay recorded and
// the fingerprint is left blank, so the next run retries the removal.
func (a *applier) commitChange(ch *change) state.Change {
	a.mu.Lock()
	old, failed := a.updFailed[ch.key]
	a.mu.Unlock()
	// State keeps no sealed value (audience.StripSealed): the clear
	// values a platform was sent live only as long as the send.
	if !failed {
		return state.Change{Key: ch.key, Fingerprint: ch.fp, Packed: audience.StripSealed(ch.ids), LastSent: a.p.now}
	}
	ids := append(audience.WithoutSealed(decode(ch.ids)), old...)
	return state.Change{Key: ch.key, Identifiers: ids, LastSent: a.p.now}
}

// failLocked counts it failed, with a.mu held. A member with two halves
// (an update, a full refresh's clear and re-add) counts once: when its
// removal half fails, and then not again.
func (a *applier) failLocked(it *item) {
	key := it.ch.key
	if _, done := a.halfFailed[key]; done {
		return
	}
	if it.updateRemove || it.ch.kind == kindClear {
		a.halfFailed[key] = struct{}{}
	}
	a.p.rep.Applied.Failed++
}

// count counts n acknowledged and committed changes of ch's kind, unless
// ch's removal half already counted it failed.
func (a *applier) count(ch *change, n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, done := a.halfFailed[ch.key]; done {
		return
	}
	a.countKindLocked(ch.kind, n)
}

// countKind is count for a change known only by its kind (no halves).
func (a *applier) countKind(k changeKind, n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.countKindLocked(k, n)
}

func (a *applier) countKindLocked(k changeKind, n int64) {
	r := &a.p.rep.Applied
	switch k {
	case kindAdd:
		r.Added += n
	case kindUpdate:
		r.Updated += n
	case kindRefresh:
		r.Refreshed += n
	case kindRemove:
		r.Removed += n
	}
}

// progress counts n more members settled and tells the observer.
func (a *applier) progress(n int) {
	done := a.done.Add(int64(n))
	if ev := a.p.ev; ev.on() {
		ev.send(DestinationProgress{Run: ev.run, Destination: a.p.t.Name, Members: int64(n), Done: done, Total: a.total})
	}
}

// batchApplied tells the observer how a batch went: b names it, res and
// err are what applying it returned, retries every extra call it took
// (the connector's own included, counted once), budget its retry budget
// (its rate-limit waits), start when it began.
func (a *applier) batchApplied(b BatchApplied, budget *retry.Budget, res connectors.BatchResult, retries int, start time.Time, err error) {
	ev := a.p.ev
	if !ev.on() {
		return
	}
	b.Run, b.Destination = ev.run, a.p.t.Name
	b.Retries, b.Latency, b.Err = retries, time.Since(start), err
	if budget != nil {
		b.RateLimitWaits, b.RateLimitWait = budget.RateLimitWaits()
	}
	if err == nil {
		b.Rejected = len(res.Rejected)
		b.Accepted = b.Size - b.Rejected
	}
	ev.send(b)
}

// recordKey hashes a packed identifier set.
func recordKey(packed []byte) uint64 {
	sum := sha256.Sum256(packed)
	return binary.LittleEndian.Uint64(sum[:8])
}

func decode(b []byte) []audience.Identifier {
	ids, err := audience.DecodeIdentifiers(b)
	if err != nil {
		// The engine encoded these itself; corruption is a bug.
		panic(fmt.Sprintf("engine: decode identifiers: %v", err))
	}
	return ids
}

// snapshot yields the committed audience for a SnapshotWriter.
func (e *Engine) snapshot(ctx context.Context, scope state.Scope) iter.Seq2[connectors.Upload, error] {
	return func(yield func(connectors.Upload, error) bool) {
		for en, err := range e.Store.Snapshot(ctx, scope) {
			if err != nil {
				yield(connectors.Upload{}, err)
				return
			}
			if !yield(connectors.Upload{Key: en.Key, Identifiers: en.Identifiers}, nil) {
				return
			}
		}
	}
}

// withRetry calls fn until it succeeds, the error says not to retry, the
// batch's retry budget (see package retry) is spent, or ctx ends. The
// budget covers work counted as batches batches and travels in fn's
// context, so the HTTP client's retries inside fn draw on it too and the
// two layers never multiply; each retry of either layer is logged at info
// level on log, naming destination dest and what is retried. retries
// counts the calls fn was made again.
func (e *Engine) withRetry(ctx context.Context, log *zap.Logger, dest, what string, batches int,
	fn func(ctx context.Context) error, retries *int) error {
	pol := e.Retry.WithDefaults()
	b := pol.Budget(batches).Announce(log, dest, what)
	ctx = retry.With(ctx, b)
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		act, wait := connectors.Classify(err)
		if act != connectors.ActionRetry {
			return err
		}
		d, ok := b.Grant(pol.Initial, pol.Max, wait)
		if !ok {
			return fmt.Errorf("%w (gave up after %d retries: the retry budget is spent)", err, b.Retries())
		}
		b.Retrying(d, err.Error())
		if wait > 0 {
			b.RateLimited(d) // the platform asked for the wait
		}
		if werr := b.Sleep(ctx, d); werr != nil {
			return errors.Join(err, werr)
		}
		*retries++
	}
}

// batchSize is the most members a batch to t carries: the connector's
// limit, capped by the sync's batch_size; 0 when neither says.
func (t *Target) batchSize() int {
	size := t.Info.MaxBatch
	if t.BatchSize > 0 && (size <= 0 || t.BatchSize < size) {
		size = t.BatchSize
	}
	return size
}

// replaceBatches is how many batches a Replace of total members to t
// counts as, for its retry budget.
func replaceBatches(total int, t *Target) int {
	size := t.batchSize()
	if size <= 0 {
		return 1
	}
	return (total + size - 1) / size
}
