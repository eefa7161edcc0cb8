package connectors

import (
	"errors"
	"fmt"
	"time"
)

// The error vocabulary. A connector wraps what went wrong in one of these so
// the engine knows what to do next; an unwrapped error is treated as
// retryable with the engine's own back-off, since a transient network fault
// is the common case. Each meaning is exact:
//
//   - RetryAfterError: the call did not take effect (or taking effect twice
//     is harmless); try the same batch again after Wait.
//   - BatchRejectedError: the platform refused this batch as a whole and will
//     refuse it again; record it as failed and go on with the next batch.
//   - ErrReauthenticate: credentials are expired or invalid; stop this
//     destination, since every further call would fail the same way.
//   - ErrFatal: stop this destination now (audience flagged, terms not
//     accepted, misconfiguration the platform reports).
var (
	// ErrReauthenticate means credentials are no longer valid.
	ErrReauthenticate = errors.New("credentials rejected: re-authenticate")
	// ErrFatal means no further call to this destination can succeed in
	// this run.
	ErrFatal = errors.New("destination cannot continue")
)

// RetryAfterError asks the engine to retry after at least Wait.
type RetryAfterError struct {
	Wait time.Duration
	Err  error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %s: %v", e.Wait, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err as retryable after wait.
func RetryAfter(wait time.Duration, err error) error {
	return &RetryAfterError{Wait: wait, Err: err}
}

// BatchRejectedError says the platform refused a whole batch for Reason.
type BatchRejectedError struct {
	Reason string
	Err    error
}

func (e *BatchRejectedError) Error() string {
	return fmt.Sprintf("batch rejected (%s): %v", e.Reason, e.Err)
}

func (e *BatchRejectedError) Unwrap() error { return e.Err }

// RejectBatch wraps err as a permanent refusal of the batch.
func RejectBatch(reason string, err error) error {
	return &BatchRejectedError{Reason: reason, Err: err}
}

// Reauthenticate wraps err so that errors.Is(err, ErrReauthenticate) holds.
func Reauthenticate(err error) error {
	return fmt.Errorf("%w: %w", ErrReauthenticate, err)
}

// Fatal wraps err so that errors.Is(err, ErrFatal) holds.
func Fatal(err error) error {
	return fmt.Errorf("%w: %w", ErrFatal, err)
}

// Action is what the engine does about an error.
type Action uint8

// Actions, from Classify.
const (
	ActionRetry     Action = iota + 1 // retry the batch, after Wait if set
	ActionSkipBatch                   // record the batch as failed, continue
	ActionStop                        // stop this destination
)

// Classify maps an error from Apply or Ensure onto what the engine should
// do, and how long to wait before a retry when the connector said.
func Classify(err error) (Action, time.Duration) {
	var ra *RetryAfterError
	var br *BatchRejectedError
	switch {
	case errors.Is(err, ErrReauthenticate), errors.Is(err, ErrFatal):
		return ActionStop, 0
	case errors.As(err, &br):
		return ActionSkipBatch, 0
	case errors.As(err, &ra):
		return ActionRetry, ra.Wait
	}
	return ActionRetry, 0
}
