// Package connectortest holds the conformance suites every connector's tests
// run: Source for sources (and RunReadFailures for their sync tests),
// Destination for destinations and Spec for the declaration each connector
// registers. A connector passes by supplying a
// small harness that builds it over synthetic data and, for destinations,
// shows what the remote audience holds. Recorder, SyntheticMembers,
// SyntheticUpload, Identity, Golden and ConnServer help connectors' own
// tests.
//
// # The source suite
//
// Source reads synthetic members (SyntheticMembers) through the source a
// harness builds over them: ReadsEveryMember (0, 1 and 137 members,
// exactly, compared by content), CancelStopsRead, CancelledBeforeRead,
// DeadlineStopsRead, FailurePartWay (an error, never a short success),
// EmitErrorStopsRead, CloseTwice. A source that reads a remote system
// page by page opts into the checks a CRM needs with its harness's
// fields: PageSize (audiences around one and two pages), Attributes (the
// SyntheticAttributes, one of each type, some missing), Declares (the
// declared count, before the first member, equals the records read) and
// MissingAudience (MissingAudienceIsAConfigError: CheckAudience refuses
// it with MissingAdvice, a read fails handing over nobody).
//
// RunReadFailures is the failure table of a source's sync tests, through
// the service layer: a run, a run whose read fails part-way (it must fail,
// say what to do, remove nobody and quote no contact data) and a run with
// the source well. RunEmptiedSource checks that an emptied audience is
// read completely and stopped by the removal guard.
//
// # The destination suite
//
// Destination checks, each in a subtest of its own over a fresh remote:
//
//   - the contract: Info, EnsureIdempotent, AddIdempotent,
//     RemoveIdempotent, FullBatch (MaxBatch members in requests of at
//     most MaxBatch), PartialRejection, ConcurrentApply, CloseTwice;
//   - the error vocabulary (Errors/…), when the harness's Remote has
//     Faults: the remote's failures are injected and each batch is sent as
//     the engine sends it, under one retry budget of the default
//     connectors/retry policy (8 attempts, 15 minutes) on a fake clock, so
//     no check waits in real time:
//     ExpiredTokenStops (an expired or revoked token is
//     connectors.Reauthenticate, stops the destination and is not retried;
//     Ensure says so too), RateLimitHonoured (a throttle is retried after
//     the wait the platform asked for and the batch goes through),
//     RateLimitPastBudget (a wait past the budget is reported as
//     RetryAfter with that wait and ends the batch at once),
//     ServerErrorRetried (a transient 5xx is retried and every retry
//     counted), ServerErrorBounded (a 5xx that never passes fails the
//     batch with a retryable error after exactly 8 requests, within 15
//     minutes), LostAnswerConverges (an add and a remove whose answers were
//     lost after the platform applied them are sent again, and the
//     audience is exact);
//   - the optional capabilities the destination implements, found by type
//     assertion as the engine finds them: Resetter/EmptiesAudience,
//     Replacer/EndsWithExactlyNewMembers and Replacer/ReadErrorReturned,
//     SessionReplacer/InterruptedThenResumedOrAbandoned (a session
//     stopped before its second batch is resumed by the next run from the
//     recorded batch; a recorded session the platform no longer has open
//     gives way to a new one), FeedbackPoller/PendingThenDone (feedback
//     on the request ids Apply returned, pending ones polled until done;
//     nothing asked, nothing pending; an unknown id is not kept pending).
//
// What does not apply is said with t.Log, not passed as a skipped test: a
// destination without a remote to fail (Remote.Faults nil, as for the
// file destination) or without a capability.
//
// Faults is how the suite breaks the remote. InjectorFaults implements it
// for a sandbox replica through the sandbox's fault injector (package
// sandbox/fault); the in-memory fake (connectors/fake) implements it with
// its own knobs.
//
// The suites only use obviously synthetic contact data (example.com
// addresses, 555 phone numbers, hashes of made-up values).
package connectortest

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/audiencesync/audiencesync/audience"
)

// Rejection is one record a source rejected.
type Rejection struct {
	Reason string
	Line   int64
}

// Recorder is an Emitter that keeps copies of what it is given. It is safe
// for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	members []audience.Member
	rejects []Rejection
}

// Emit keeps a copy of m.
func (r *Recorder) Emit(m *audience.Member) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := *m
	kept.Attrs = slices.Clone(m.Attrs) // the source may reuse them, as the engine allows
	r.members = append(r.members, kept)
	return nil
}

// Reject keeps the rejection.
func (r *Recorder) Reject(reason string, line int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejects = append(r.rejects, Rejection{Reason: reason, Line: line})
}

// Members returns copies of the members emitted so far, in order.
func (r *Recorder) Members() []audience.Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.members)
}

// Rejections returns the rejections so far, in order.
func (r *Recorder) Rejections() []Rejection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.rejects)
}

// DefaultKinds are the kinds synthetic members carry unless a harness says
// otherwise: what the quickstart maps.
var DefaultKinds = []audience.Kind{
	audience.Email, audience.Phone, audience.FirstName, audience.LastName, audience.Zip, audience.Country,
}

// SyntheticMembers returns n made-up members with a key, a value for each
// of kinds and consent answers cycling through granted, denied and
// unspecified. Some values hold a comma, a quote, a newline or non-ASCII
// letters, as CRM exports do. Line is left zero.
func SyntheticMembers(n int, kinds []audience.Kind) []audience.Member {
	statuses := []audience.ConsentStatus{audience.ConsentGranted, audience.ConsentDenied, audience.ConsentUnspecified}
	out := make([]audience.Member, n)
	for i := range out {
		m := &out[i]
		m.Key = fmt.Sprintf("c-%06d", i+1)
		for _, k := range kinds {
			m.Fields[k] = syntheticValue(k, i)
		}
		m.Consent = audience.Consent{
			AdUserData:        statuses[i%3],
			AdPersonalization: statuses[(i/3)%3],
		}
	}
	return out
}

func syntheticValue(k audience.Kind, i int) string {
	switch k {
	case audience.Email:
		return fmt.Sprintf("user%06d@example.com", i+1)
	case audience.Phone:
		return fmt.Sprintf("+1 555-555-%04d", i%10000)
	case audience.FirstName:
		return []string{"Ada", "José", "Zoë", "Li", "Anne-Marie"}[i%5]
	case audience.LastName:
		return []string{"Example", `O"Test, Jr`, "Sample\nTwoLines", "Müller", "Test"}[i%5]
	case audience.Country:
		return []string{"US", "GB", "DE"}[i%3]
	case audience.Zip:
		return fmt.Sprintf("%05d", 10000+i%90000)
	case audience.Gender:
		return []string{"f", "m"}[i%2]
	case audience.BirthYear:
		return fmt.Sprint(1950 + i%50)
	case audience.BirthMonth:
		return fmt.Sprintf("%02d", 1+i%12)
	case audience.BirthDay:
		return fmt.Sprintf("%02d", 1+i%28)
	default:
		return fmt.Sprintf("%s-%06d", k, i+1)
	}
}

// ConsentValue spells s the way a source writes it: granted, denied, or
// empty for unspecified.
func ConsentValue(s audience.ConsentStatus) string {
	if s == audience.ConsentUnspecified {
		return ""
	}
	return s.String()
}

// Identity names a remote member by its identifier values, sorted and
// joined, so a destination harness and the suite agree on who is in the
// audience.
func Identity(values ...string) string {
	v := slices.Clone(values)
	slices.Sort(v)
	return strings.Join(v, "|")
}

// IdentityOf is Identity of an upload's identifier values.
func IdentityOf(ids []audience.Identifier) string {
	v := make([]string, len(ids))
	for i, id := range ids {
		v[i] = id.Value
	}
	return Identity(v...)
}
