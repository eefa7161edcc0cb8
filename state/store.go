// Package state defines the state store: what audiencesync has committed to
// each (sync, destination), the remote audience ids it resolved, the runs
// with their reports and typed per-destination summaries, the platform
// requests still to poll, and named locks that keep two processes from
// running one sync at once. It never holds contact data in clear: member
// keys and fingerprints are truncated SHA-256 values and identifiers are
// the hashes (or platform-clear values such as postal codes) that were
// sent.
//
// The store is split into small interfaces, so that code takes only the
// part it uses and a new backend can be built and checked part by part:
//
//   - MemberStore: the committed members of a scope (load, identifiers,
//     snapshot, count, commit, reset).
//   - AudienceIDs: the remote audience id resolved for a scope.
//   - WriteAhead (writeahead.go): taints and intents ahead of destructive
//     steps.
//   - RunLog (runlog.go): runs, their reports, a typed Summary per run and
//     destination (history and size over time read these rows, not report
//     JSON).
//   - PendingRequests (pending.go): platform request ids to poll on later
//     runs (Google's upload request statuses).
//   - Locker (lock.go): named leases with a heartbeat.
//   - Tokens (tokens.go): the JSON API's tokens, stored hashed.
//
// Store is all of them together plus Close, the value a backend hands out.
//
// Implementations: state/sqlite (the embedded default). Each interface has
// a conformance suite in state/statetest that can run alone (Members,
// AudienceIDs, WriteAhead, RunLog, PendingRequests, Locker, Tokens); statetest.Run
// runs them all against a Store.
package state

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/audiencesync/audiencesync/audience"
)

// Scope is one (sync, destination) pair.
type Scope struct {
	Sync        string
	Destination string
}

// Entry is one committed member.
type Entry struct {
	Key         audience.MemberKey
	Fingerprint audience.Fingerprint
	LastSent    time.Time
	// Identifiers is filled only by Snapshot and Identifiers.
	Identifiers []audience.Identifier
}

// Change is one acknowledged change to commit.
type Change struct {
	Key audience.MemberKey
	// Delete removes the member from state; the other fields are ignored.
	Delete      bool
	Fingerprint audience.Fingerprint
	Identifiers []audience.Identifier
	// Packed, when set, is Identifiers already packed with
	// audience.EncodeIdentifiers; the store writes it as is and ignores
	// Identifiers.
	Packed []byte
	// LastSent is when the member's identifiers were last acknowledged.
	LastSent time.Time
}

// ErrNotFound is returned when a run or audience is not in the store.
var ErrNotFound = errors.New("not found")

// MemberStore holds the committed members of each scope. All methods are
// safe for concurrent use.
type MemberStore interface {
	// Members calls fn for every committed member of scope, without
	// identifiers, in no particular order. An error from fn stops the
	// iteration and is returned.
	Members(ctx context.Context, scope Scope, fn func(Entry) error) error
	// Identifiers returns the stored identifiers of the given keys; keys not
	// in state are absent from the map.
	Identifiers(ctx context.Context, scope Scope, keys []audience.MemberKey) (map[audience.MemberKey][]audience.Identifier, error)
	// Snapshot yields every committed member of scope with identifiers,
	// ordered by key.
	Snapshot(ctx context.Context, scope Scope) iter.Seq2[Entry, error]
	// Count returns how many members scope holds.
	Count(ctx context.Context, scope Scope) (int64, error)
	// Commit applies changes atomically: all or none.
	Commit(ctx context.Context, scope Scope, changes []Change) error
	// Reset deletes every member of scope (after a full refresh emptied the
	// remote audience). It keeps the scope's audience id.
	Reset(ctx context.Context, scope Scope) error
}

// OrderedMembers is an optional part of a MemberStore: the committed
// members of a scope in key order, without identifiers. The engine plans a
// large audience by merging this stream with the source's members sorted
// by key on disk, instead of holding every committed member in memory; a
// store without it plans in memory. Safe for concurrent use.
type OrderedMembers interface {
	// MembersOrdered yields every committed member of scope, without
	// identifiers, ordered by key (bytewise ascending). Stopping the
	// iteration early releases what the stream holds.
	MembersOrdered(ctx context.Context, scope Scope) iter.Seq2[Entry, error]
}

// AudienceIDs records the remote audience each scope resolved to, so that
// later runs find it without a lookup by name. Safe for concurrent use.
type AudienceIDs interface {
	// AudienceID returns the remote audience id recorded for scope, or
	// ErrNotFound.
	AudienceID(ctx context.Context, scope Scope) (string, error)
	// SetAudienceID records the remote audience id for scope.
	SetAudienceID(ctx context.Context, scope Scope, id string) error
}

// Store is the whole state store: every part above, and Close. All
// methods are safe for concurrent use.
type Store interface {
	MemberStore
	AudienceIDs
	WriteAhead
	RunLog
	PendingRequests
	Locker
	Tokens
	Holdouts

	Close() error
}
