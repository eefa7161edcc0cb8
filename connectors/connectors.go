// Package connectors defines the contracts between the sync engine and the
// systems it reads from and writes to, the typed errors that tell the engine
// what to do when a call fails, and the registry that maps a connection's
// type to the code that serves it.
//
// The required interfaces are small; everything else is an optional
// capability the engine discovers by type assertion, as database/sql does.
package connectors

import (
	"context"
	"iter"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/platform"
)

// Env is what the engine hands every connector it builds.
type Env struct {
	// Logger is the connector's logger, already named after the connection.
	Logger *zap.Logger
	// BaseDir is the directory relative paths in settings are resolved
	// against: the directory of the config file.
	BaseDir string
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Endpoint returns the base URL of the local replica of platform's API
	// (see package sandbox), starting it on first use. Platform connectors
	// with `sandbox: true` and no `endpoint:` call it with their platform's
	// name (platform.Platform.Name). Nil when no sandbox is available.
	Endpoint func(ctx context.Context, platform string) (string, error)
}

// Resolve returns path joined to BaseDir unless it is absolute.
func (e Env) Resolve(path string) string { return resolvePath(e.BaseDir, path) }

// Log returns Logger, or a logger that discards everything when it is nil.
func (e Env) Log() *zap.Logger {
	if e.Logger == nil {
		return zap.NewNop()
	}
	return e.Logger
}

// Clock returns Now, or time.Now when it is nil.
func (e Env) Clock() func() time.Time {
	if e.Now == nil {
		return time.Now
	}
	return e.Now
}

// ConsentFields names the source fields that carry per-member consent.
type ConsentFields struct {
	AdUserData        string
	AdPersonalization string
}

// ReadRequest says which audience to read, how source fields map onto
// identifier kinds, and which attributes to hand over.
type ReadRequest struct {
	// Audience selects the list, query or object to read; sources that hold
	// one audience ignore it.
	Audience string
	// Key is the source field holding the record's primary key; "" when the
	// source has none.
	Key string
	// Fields maps each identifier kind the sync uses to a source field.
	Fields map[audience.Kind]string
	// Consent names the source fields with per-member consent, if any.
	Consent ConsentFields
	// Attributes lists the attributes the sync asks for, in the order of
	// audience.Member.Attrs: a source sets m.Attrs[i] to the value of
	// Attributes[i] (Attribute.Parse for a text value), leaves it
	// missing when the record has none, and sets audience.InvalidValue
	// when the record's value does not parse — never rejecting the record
	// for it. A source reusing one Member allocates its Attrs once, with
	// len(Attributes) values; Member.Reset keeps them. The engine copies
	// them and counts present, missing and invalid values per attribute.
	// Empty when the sync asks for none.
	Attributes []Attribute
}

// Attribute is one attribute a sync asks a source for.
type Attribute struct {
	// Name is the attribute's name in the sync (what segment filters
	// use); Field is the source field that holds it.
	Name, Field string
	Type        audience.AttrType
	// Layout is a Go time layout for a timestamp written otherwise than
	// RFC 3339 or a date (02/01/2006 15:04); "" when not configured.
	Layout string
}

// Parse reads raw, a source's text for the attribute, by the attribute's
// type and layout (audience.ParseAttr): blank is missing, what does not
// parse is invalid.
func (a *Attribute) Parse(raw string) audience.Value {
	return audience.ParseAttr(a.Type, raw, a.Layout)
}

// Emitter receives what a source reads.
type Emitter interface {
	// Emit hands over one member. m is only valid during the call; the
	// engine copies what it keeps. An error stops the read and is returned
	// by Read.
	Emit(m *audience.Member) error
	// Reject counts a record the source could not turn into a member. The
	// reason is a stable machine string (row.malformed, row.missing_key…);
	// line points at the record. Never pass the record's content.
	Reject(reason string, line int64)
}

// Declarer is implemented by the Emitter the engine hands to a source. A
// source that knows how many records the audience holds before it has read
// them (a CRM list's size, a report's totalSize, a query's count) declares
// it with DeclareCount; when fewer records arrive (emitted or rejected) the
// engine fails the read, so a truncated read removes nothing.
type Declarer interface {
	Declare(records int64)
}

// DeclareCount tells out, when it keeps count, how many records the source
// says the audience holds. A later declaration replaces an earlier one, so
// a source that learns the size page by page may declare it again.
func DeclareCount(out Emitter, records int64) {
	if d, ok := out.(Declarer); ok {
		d.Declare(records)
	}
}

// Source reads the members of an audience.
//
// Read must return a non-nil error if it could not read the whole audience:
// the engine then removes nothing. It must honour ctx.
type Source interface {
	Read(ctx context.Context, req ReadRequest, out Emitter) error
	Close() error
}

// AudienceLister is a Source that can list the audiences it offers (a
// CRM's lists), for `audiencesync sources`.
type AudienceLister interface {
	ListAudiences(ctx context.Context) ([]AudienceInfo, error)
}

// AudienceInfo describes one audience a source offers.
type AudienceInfo struct {
	// ID is the source's id for the audience; Ref is what to write in a
	// sync's source.audience to read it.
	ID, Ref string
	Name    string
	// Kind says what sort of audience it is, in the source's terms (a
	// HubSpot list's processing type: MANUAL, DYNAMIC, SNAPSHOT).
	Kind string
	// Size is how many members the source says it holds; -1 when unknown.
	Size int64
}

// AudienceChecker is a Source that can check, changing nothing, that the
// audience a sync names exists (a CRM list), so a wrong name is found by
// `audiencesync check` rather than by the first run. It returns what it
// found, for the user.
type AudienceChecker interface {
	CheckAudience(ctx context.Context, audience string) (string, error)
}

// ReadChecker is an AudienceChecker that can check a sync's whole read
// request, reading no member: that the audience exists and that every
// field, key and consent column it maps is there (a query's result
// columns). `audiencesync check` prefers it to CheckAudience.
type ReadChecker interface {
	CheckRead(ctx context.Context, req ReadRequest) (string, error)
}

// Checker is a connector that can verify its credentials and access without
// changing anything.
type Checker interface {
	Check(ctx context.Context) error
}

// AudienceSpec is what a sync asks of a destination's remote audience.
type AudienceSpec struct {
	// ID, when set, names the remote audience directly.
	ID string
	// Name finds the audience by name, or names it when it is created.
	Name        string
	Description string
	// MembershipDays is how long a membership lasts on the platform; 0 for
	// the platform's default.
	MembershipDays int
	// Create allows the destination to create the audience when it does
	// not exist.
	Create bool
	// KnownID is the id state recorded for this destination on an earlier
	// run, so a renamed audience is still found.
	KnownID string
	// List and Tag name an audience that is a tag on the contacts of a
	// list (a Mailchimp list id and tag name); "" for other platforms
	// (see Spec.TaggedAudience).
	List, Tag string
}

// Audience is a resolved remote audience.
type Audience struct {
	ID   string
	Name string
	// Created is true when Ensure created it during this call.
	Created bool
}

// AudienceSize is what a platform says about how many members a remote
// audience holds. Platforms count matched users, round, and lag behind
// uploads by hours, so a size says whether an audience holds members, not
// exactly how many.
type AudienceSize struct {
	// Known is false when the platform gives no figure (X reports none
	// below 100 matched users; a size not computed yet).
	Known bool
	// Members is the count, or the lower bound of the platform's range
	// when Approximate.
	Members int64
	// Upper is the upper bound of the platform's range; 0 when it gives
	// one figure.
	Upper int64
	// Approximate is true when the platform gives an estimate or a range
	// rather than a count.
	Approximate bool
}

// AudienceSizer is a Destination that can say how many members a remote
// audience already holds. The engine asks it when state has no record of
// a (sync, destination) but Ensure found an existing audience: one that
// holds members is refused unless the run adopts it or fully refreshes it,
// since state that was lost would otherwise re-add everyone and never
// remove the members no longer in the source. A destination without it
// is treated as "size unknown": the run goes ahead with a warning.
type AudienceSizer interface {
	AudienceSize(ctx context.Context, aud Audience) (AudienceSize, error)
}

// DestinationInfo describes a destination to the engine.
type DestinationInfo struct {
	// Platform is the platform the destination uploads to: the engine
	// normalises members with its Profile and removes identifiers by its
	// Match semantics.
	Platform *platform.Platform
	// Kinds lists the identifier kinds the destination accepts, in the
	// platform's priority order; the engine drops other mapped fields
	// before normalising.
	Kinds []audience.Kind
	// MaxBatch is the most members one Apply call may carry.
	MaxBatch int
	// MaxIdentifiers is the most identifiers one member may carry; 0 for no
	// limit. The engine trims by kind order, which is the priority order.
	MaxIdentifiers int
	// Concurrency is how many Apply calls may run at once.
	Concurrency int
	// RefreshWindow is how long a membership may go unsent before it must
	// be re-sent; 0 when memberships do not expire.
	RefreshWindow time.Duration
	// Attributes names the sync attributes (ReadRequest.Attributes) the
	// destination is sent with each member, such as an e-mail tool's
	// merge fields; nil for none. The engine seals each value into the
	// member's identifiers (kind audience.Attribute, see
	// normalize.Options.Attributes), so a changed value re-sends the
	// member; state keeps only its digest, inside the fingerprint.
	Attributes []string
}

// Op is what a batch does.
type Op uint8

// Batch operations.
const (
	OpAdd Op = iota + 1
	OpRemove
)

// String returns add or remove.
func (o Op) String() string {
	if o == OpRemove {
		return "remove"
	}
	return "add"
}

// Upload is one member as sent to a destination: hashed (or clear, where the
// platform wants clear) identifiers and resolved consent.
type Upload struct {
	Key         audience.MemberKey
	Identifiers []audience.Identifier
	Consent     audience.Consent
}

// Batch is one Apply call's worth of members.
type Batch struct {
	Op Op
	// Seq numbers batches from 1 within one destination and run.
	Seq     int
	Members []Upload
}

// MemberRejection says which member of a batch the platform refused, and why.
type MemberRejection struct {
	Index  int
	Reason string
}

// BatchResult is what a destination says about an applied batch. Members not
// listed in Rejected were accepted.
type BatchResult struct {
	Rejected []MemberRejection
	// RequestID is the platform's id for the request, for later feedback.
	RequestID string
	// Platform carries the platform's own counts for the batch
	// (num_received, num_invalid_entries, success_count…).
	Platform map[string]int64
	// Retries is how many times the destination retried the call itself.
	Retries int
}

// Destination writes audience changes to a platform.
//
// Apply must be idempotent: adding a present member or removing an absent
// one succeeds. It returns an error only when the batch as a whole was not
// applied; the error's type (see errors.go) tells the engine what to do.
type Destination interface {
	Info() DestinationInfo
	Ensure(ctx context.Context, spec AudienceSpec) (Audience, error)
	Apply(ctx context.Context, aud Audience, b Batch) (BatchResult, error)
	Close() error
}

// Resetter is a Destination that can empty an audience in one call; the
// engine uses it for a full refresh instead of removing member by member.
type Resetter interface {
	RemoveAll(ctx context.Context, aud Audience) error
}

// Replacer is a Destination that can replace an audience's whole membership
// in one session (Meta's usersreplace). On a full refresh the engine streams
// every member that should remain to Replace instead of emptying the audience
// and re-adding; total is how many members it will yield.
type Replacer interface {
	Replace(ctx context.Context, aud Audience, total int, members iter.Seq2[Upload, error]) (BatchResult, error)
}

// RunInfo identifies the run a destination is taking part in.
type RunInfo struct {
	ID      string
	Sync    string
	Started time.Time
	// Segment names the segment whose audience the destination receives
	// in this run; "" for a sync without segments. Several segments may
	// send to one connection, so a destination that keeps something per
	// run on its own side (the file destination's files) keeps each
	// segment's apart when it is set.
	Segment string
}

// RunObserver is a Destination that wants to know where runs begin and end,
// for example to open and close per-run files.
type RunObserver interface {
	BeginRun(ctx context.Context, run RunInfo) error
	// EndRun is called once Apply calls are over, successful or not.
	EndRun(ctx context.Context, run RunInfo, ok bool) error
}

// SnapshotWriter is a Destination that also wants the whole audience after
// each run (the file destination writes it as an upload file).
type SnapshotWriter interface {
	WriteSnapshot(ctx context.Context, run RunInfo, aud Audience, members iter.Seq2[Upload, error]) error
}

// PlatformReport is feedback a platform gives after the fact: match rates,
// statuses and counts.
type PlatformReport struct {
	// Status summarises request processing (PROCESSING, SUCCESS…).
	Status string `json:"status,omitempty"`
	// MatchRate is the platform's match-rate range, as it words it.
	MatchRate string `json:"match_rate,omitempty"`
	// Size is the audience size the platform reports; -1 when unknown.
	Size int64 `json:"size,omitempty"`
	// Counts holds record, identifier and error counts by name.
	Counts map[string]int64 `json:"counts,omitempty"`
	// Pending lists request ids still processing, to poll on a later run.
	Pending []string `json:"pending,omitempty"`
}

// FeedbackPoller is a Destination that can report platform feedback on
// requests it sent.
type FeedbackPoller interface {
	Feedback(ctx context.Context, aud Audience, requestIDs []string) (PlatformReport, error)
}

// ProfileSplitter is a Destination that serves several normalisation
// profiles at once (the file destination writes Google, Meta and X files).
// The engine runs one sub-destination per profile, each with its own state.
type ProfileSplitter interface {
	Profiles() []string
	ForProfile(profile string) (Destination, error)
}
