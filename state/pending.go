package state

import (
	"context"
	"time"
)

// PendingRequest is a platform request whose outcome is not known yet: a
// later run polls it again (connectors.FeedbackPoller) until the platform
// says it finished.
type PendingRequest struct {
	// ID is the platform's request id.
	ID string
	// Kind says what issued the id (the destination's connector type), so
	// that ids are only ever polled on the platform that issued them.
	Kind string
	// Recorded is when the request was first recorded as pending.
	Recorded time.Time
}

// PendingRequests keeps, per scope, the platform requests still to poll.
// All methods are safe for concurrent use.
type PendingRequests interface {
	// ListPending returns scope's pending requests, oldest first (by
	// Recorded, then ID).
	ListPending(ctx context.Context, scope Scope) ([]PendingRequest, error)
	// AddPending records requests for scope. A request id already
	// recorded for scope keeps its kind and first Recorded time.
	AddPending(ctx context.Context, scope Scope, requests []PendingRequest) error
	// RemovePending forgets the given request ids of scope; ids not
	// recorded are ignored.
	RemovePending(ctx context.Context, scope Scope, ids []string) error
}
