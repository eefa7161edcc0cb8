package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/state"
)

// feedback polls the platform for the requests this run sent and those
// earlier runs left pending, and keeps the pending requests of the scope
// (state.PendingRequests) in step: platforms process uploads for hours,
// so a request still processing is polled again on later runs until the
// platform says it finished, and then dropped.
//
// When the destination failed, or the poll did, nothing is known about the
// requests: this run's are recorded as pending beside the earlier ones, to
// poll next time.
func (e *Engine) feedback(ctx context.Context, a *applier, fp connectors.FeedbackPoller) {
	p := a.p
	a.mu.Lock()
	sent := slices.Clone(a.requestIDs)
	a.mu.Unlock()
	earlier, err := e.pendingIDs(ctx, p.scope, p.rep.Type)
	if err != nil {
		a.addError(err)
	}
	if p.failed {
		e.recordPending(a, sent, nil)
		return
	}
	polled := append(sent, earlier...)
	fb, err := fp.Feedback(ctx, p.aud, polled)
	if err != nil {
		a.addError(fmt.Errorf("platform feedback: %w", err))
		e.recordPending(a, sent, nil)
		return
	}
	p.rep.Platform = &fb
	still := map[string]bool{}
	for _, id := range fb.Pending {
		still[id] = true
	}
	var done []string
	for _, id := range polled {
		if !still[id] {
			done = append(done, id)
		}
	}
	e.recordPending(a, fb.Pending, done)
}

// pendingIDs returns the ids of scope's pending requests issued by a
// destination of type kind. Requests another type issued (the destination
// was pointed at another platform since) are forgotten: they mean nothing
// to this one.
func (e *Engine) pendingIDs(ctx context.Context, scope state.Scope, kind string) ([]string, error) {
	reqs, err := e.Store.ListPending(ctx, scope)
	if err != nil {
		return nil, fmt.Errorf("load pending platform requests: %w", err)
	}
	var ids, foreign []string
	for _, r := range reqs {
		if r.Kind == kind {
			ids = append(ids, r.ID)
		} else {
			foreign = append(foreign, r.ID)
		}
	}
	if err := e.Store.RemovePending(ctx, scope, foreign); err != nil {
		return ids, fmt.Errorf("forget pending requests of another platform: %w", err)
	}
	return ids, nil
}

// recordPending records add as pending for the applier's scope and
// forgets done. It runs on the applier's keep context: what a run learnt
// about its requests is kept through Ctrl-C.
func (e *Engine) recordPending(a *applier, add, done []string) {
	p := a.p
	now := e.now()
	reqs := make([]state.PendingRequest, 0, len(add))
	for _, id := range add {
		if id != "" {
			reqs = append(reqs, state.PendingRequest{ID: id, Kind: p.rep.Type, Recorded: now})
		}
	}
	if err := e.Store.AddPending(a.keep, p.scope, reqs); err != nil {
		a.addError(fmt.Errorf("record pending platform requests: %w", err))
	}
	if err := e.Store.RemovePending(a.keep, p.scope, done); err != nil {
		a.addError(fmt.Errorf("forget finished platform requests: %w", err))
	}
}
