// Package state defines the state store: what audiencesync has committed to
// each (sync, destination), the remote audience ids it resolved, the runs
// with their reports, and named locks (Locker, in lock.go) that keep two
// processes from running one sync at once. It never holds contact data in
// clear: member keys and fingerprints are truncated SHA-256 values and
// identifiers are the hashes (or platform-clear values such as postal
// codes) that were sent.
//
// Implementations: state/sqlite (the embedded default). Every implementation
// runs the conformance suites in state/statetest (Run for the Store,
// Locker for the Locker).
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

// Run is one recorded run.
type Run struct {
	ID       string
	Sync     string
	Status   string
	Started  time.Time
	Finished time.Time // zero while running
	// Report is the run report as JSON; nil while running.
	Report []byte
	// Owner is the lock owner (see Locker) the run was started under; with
	// that lock's heartbeat it tells a run in progress from one a crash
	// left "running". Empty for a run started without a lock.
	Owner string
}

// ErrNotFound is returned when a run or audience is not in the store.
var ErrNotFound = errors.New("not found")

// Store is the state store. All methods are safe for concurrent use.
type Store interface {
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
	// remote audience).
	Reset(ctx context.Context, scope Scope) error

	// AudienceID returns the remote audience id recorded for scope, or
	// ErrNotFound.
	AudienceID(ctx context.Context, scope Scope) (string, error)
	// SetAudienceID records the remote audience id for scope.
	SetAudienceID(ctx context.Context, scope Scope, id string) error

	// WriteAhead taints members and records intents ahead of destructive
	// steps (writeahead.go).
	WriteAhead

	// BeginRun records a run as started.
	BeginRun(ctx context.Context, run Run) error
	// FinishRun records a run's status, end and report.
	FinishRun(ctx context.Context, id, status string, finished time.Time, report []byte) error
	// Runs lists runs, newest first; sync "" lists all; limit <= 0 means 50.
	Runs(ctx context.Context, sync string, limit int) ([]Run, error)
	// Run returns one run with its report, or ErrNotFound.
	Run(ctx context.Context, id string) (Run, error)

	Close() error
}
