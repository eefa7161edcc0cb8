package state

import (
	"context"

	"github.com/audiencesync/audiencesync/audience"
)

// WriteAhead is the part of the store that keeps destructive steps
// crash-safe. Commit records what a platform acknowledged; a removal the
// platform applied but whose acknowledgement never arrived (a crash, a lost
// response) would leave state ahead of the platform, believing a member is
// still present. So before a remove, a clear or an empty-the-audience goes
// out, the engine taints what it may change: a crash at any instant then
// leaves state exact or behind the platform, and the next run re-sends
// what might not have happened.
type WriteAhead interface {
	// Taint marks the given members of scope as possibly changed on the
	// platform: their identifiers are kept and their fingerprint becomes
	// the zero Fingerprint, which no member's real fingerprint matches, so
	// the next plan re-sends a tainted member that is still in the source
	// (removing the stored identifiers it no longer carries) and removes
	// one that is gone. Keys not in state are ignored. It is durable when
	// it returns.
	Taint(ctx context.Context, scope Scope, keys []audience.MemberKey) error
	// TaintAll taints every member of scope, before a step that may change
	// the whole remote audience (emptying or replacing it).
	TaintAll(ctx context.Context, scope Scope) error

	// Intent returns the destructive step recorded for scope by SetIntent
	// and not yet cleared (an open replace session, for instance), or
	// ErrNotFound. The bytes are the engine's; the store keeps them as is.
	Intent(ctx context.Context, scope Scope) ([]byte, error)
	// SetIntent records, durably, the destructive step under way for
	// scope, replacing any earlier one; nil or empty clears it.
	SetIntent(ctx context.Context, scope Scope, intent []byte) error
}
