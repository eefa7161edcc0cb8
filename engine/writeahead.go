package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/state"
)

// Write-ahead for destructive steps. State must never be ahead of the
// platform: a removal the platform applied but state never recorded (the
// process died, or the answer was lost) would leave state believing the
// member is present, and no later run would re-add it. So before a remove,
// a clear, an empty-the-audience or a replace goes out, the members it may
// change are tainted (state.WriteAhead): they keep their stored
// identifiers and lose their fingerprint, so the next plan re-sends a
// tainted member still in the source and removes a gone one again. Adds
// and removes are idempotent on every platform, so the re-send is safe.
//
// A replace session (Meta's usersreplace) also blocks the audience while
// it is open, so its position is recorded before each batch (an intent):
// the next run finishes that session, whatever it was asked to do, rather
// than meet the platform's refusal.

// intent is what the engine records for a destination with a destructive
// step under way.
type intent struct {
	Replace *connectors.ReplaceSession `json:"replace,omitempty"`
}

// loadIntent reads the intent an earlier run left for p. A destination
// with a replace session left open is planned as a full refresh: the
// session can only be finished with the whole audience.
func (e *Engine) loadIntent(ctx context.Context, log *zap.Logger, p *plan) error {
	if _, ok := p.t.Dest.(connectors.SessionReplacer); !ok {
		return nil
	}
	raw, err := e.Store.Intent(ctx, p.scope)
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load the pending step of %s: %w", p.t.Name, err)
	}
	var in intent
	if err := json.Unmarshal(raw, &in); err != nil || in.Replace == nil {
		// Unreadable: a fresh session still converges.
		log.Warn("ignoring an unreadable replace session record", zap.String("destination", p.t.Name))
		in.Replace = &connectors.ReplaceSession{}
	}
	p.session, p.full = *in.Replace, true
	log.Info("an earlier run left a replace session open: this run finishes it with the whole audience",
		zap.String("destination", p.t.Name), zap.String("session_id", p.session.ID), zap.Int("batch", p.session.Batch))
	return nil
}

// recordSession records, durably, the replace session batch about to go out.
func (a *applier) recordSession(s connectors.ReplaceSession) error {
	raw, err := json.Marshal(intent{Replace: &s})
	if err != nil {
		return err
	}
	return a.e.Store.SetIntent(a.keep, a.p.scope, raw)
}

// clearIntent forgets a finished destructive step.
func (a *applier) clearIntent() {
	if err := a.e.Store.SetIntent(a.keep, a.p.scope, nil); err != nil {
		// Harmless but for cost: the next run finds no open session and
		// replaces the audience afresh.
		a.addError(fmt.Errorf("clear the finished replace session: %w", err))
	}
}

// taintAll taints every member of the destination ahead of a step that may
// change the whole audience. It reports whether the step may go ahead.
func (a *applier) taintAll() bool {
	if a.taintedAll {
		return true
	}
	if err := a.e.Store.TaintAll(a.keep, a.p.scope); err != nil {
		a.p.fail(fmt.Errorf("record the full refresh in state before it starts (nothing was sent): %w", err))
		a.stopped.Store(true)
		return false
	}
	a.taintedAll = true
	return true
}

// taint taints the members of the removal items ahead of sending them. It
// reports whether they may be sent.
func (a *applier) taint(items []item) bool {
	if len(items) == 0 || a.taintedAll {
		return true
	}
	if a.p.full {
		// A full refresh clears every member: one statement for all.
		return a.taintAll()
	}
	keys := make([]audience.MemberKey, len(items))
	for i, it := range items {
		keys[i] = it.ch.key
	}
	if err := a.e.Store.Taint(a.keep, a.p.scope, keys); err != nil {
		a.p.fail(fmt.Errorf("record the removals in state before sending them (nothing was removed): %w", err))
		a.stopped.Store(true)
		return false
	}
	return true
}
