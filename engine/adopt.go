package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/connectors"
)

// Guarantee: a state store that has no record of a (sync, destination)
// never silently takes over a remote audience that already holds members.
// Without a record, every source member looks new: the run would re-add
// them all and, worse, never remove the members that left the source
// while state was missing. So when Ensure finds (rather than creates) an
// audience and state holds neither its id nor any member, the destination
// is asked for the audience's size (connectors.AudienceSizer) and a
// non-empty audience is refused before anything is uploaded, unless the
// run adopts it (Options.Adopt) or rebuilds it with a full refresh on a
// destination that can empty it. An audience this sync created on an
// earlier run that crashed has its id recorded (it is recorded before the
// first upload), so it is never refused.
//
// A destination that cannot tell the size goes ahead with a warning: it
// cannot be told apart from a new audience, and refusing every first run
// to it would make --adopt a ritual.

// UnrecordedAudienceError refuses a destination whose remote audience
// already holds members while state has no record of it.
type UnrecordedAudienceError struct {
	Destination string
	AudienceID  string
	Name        string
	Size        connectors.AudienceSize
	// CanEmpty is true when the destination can empty the audience, so
	// that --full-refresh rebuilds it exactly from the source.
	CanEmpty bool
}

func (e *UnrecordedAudienceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "destination %s: audience %q (id %s) already exists on the platform with %s, but state has no record of it "+
		"(a new state file, or one lost or replaced since the last run); nothing was uploaded to it. "+
		"Restore the state file from its backup if there is one, and run again",
		e.Destination, e.Name, e.AudienceID, describeSize(e.Size))
	if e.CanEmpty {
		b.WriteString("; or run with --full-refresh to rebuild the audience from the source (it is emptied first); " +
			"or run with --adopt to take it over as it is: the source's members are added, and members already in it " +
			"that are not in the source stay until a full refresh")
	} else {
		b.WriteString("; or run with --adopt to take it over as it is: the source's members are added, and members already in it " +
			"that are not in the source stay for good, since this platform cannot empty an audience (a full refresh would not " +
			"remove them either); to start clean instead, delete the audience on the platform and run again to create a new one")
	}
	return b.String()
}

// describeSize words a size for people: a count, or "members" with the
// platform's estimate when it gives no exact count.
func describeSize(s connectors.AudienceSize) string {
	switch {
	case !s.Approximate:
		return fmt.Sprintf("%d members", s.Members)
	case s.Upper > s.Members:
		return fmt.Sprintf("members (the platform estimates %d to %d)", s.Members, s.Upper)
	default:
		return fmt.Sprintf("members (the platform estimates about %d)", s.Members)
	}
}

// checkUnrecorded decides whether the run may use p's audience, which
// Ensure found while state recorded no audience id for p's scope. It
// returns an *UnrecordedAudienceError to refuse it.
func (e *Engine) checkUnrecorded(ctx context.Context, log *zap.Logger, p *plan, opts Options) error {
	n, err := e.Store.Count(ctx, p.scope)
	if err != nil {
		return fmt.Errorf("count the members state holds: %w", err)
	}
	if n > 0 {
		return nil // state knows the members; only the id was missing
	}
	log = log.With(zap.String("destination", p.t.Name), zap.String("audience_id", p.aud.ID))
	canEmpty := canReplace(p.t.Dest)
	switch {
	case opts.Adopt:
		log.Info("adopting an existing audience that state has no record of: members not in the source stay in it until a full refresh")
		return nil
	case opts.FullRefresh && canEmpty:
		log.Info("rebuilding an existing audience that state has no record of, by a full refresh")
		return nil
	}
	sizer, ok := p.t.Dest.(connectors.AudienceSizer)
	if !ok {
		log.Warn("found an existing audience that state has no record of, and this destination cannot tell whether it holds members: " +
			"if state was lost, members not in the source stay in it (see --adopt and --full-refresh)")
		return nil
	}
	var size connectors.AudienceSize
	err = e.withRetry(ctx, log, p.t.Name, fmt.Sprintf("reading the size of audience %q", p.t.Audience.Name), 1,
		func(ctx context.Context) error {
			var err error
			size, err = sizer.AudienceSize(ctx, p.aud)
			return err
		}, &p.rep.Retries)
	if err != nil {
		return fmt.Errorf("found audience %q (id %s) that state has no record of, and could not read its size to tell whether it is new: %w; "+
			"nothing was uploaded: run again, or pass --adopt to take it over as it is", p.t.Audience.Name, p.aud.ID, err)
	}
	switch {
	case !size.Known:
		log.Warn("found an existing audience that state has no record of, and the platform gives no size for it: " +
			"if state was lost, members not in the source stay in it (see --adopt and --full-refresh)")
		return nil
	case size.Members > 0:
		name := p.aud.Name
		if name == "" {
			name = p.t.Audience.Name
		}
		return &UnrecordedAudienceError{Destination: p.t.Name, AudienceID: p.aud.ID, Name: name, Size: size, CanEmpty: canEmpty}
	}
	return nil
}

// unavailable returns, when no destination is left to sync to (every one
// failed to resolve its audience or was refused), their errors, so the
// run says why rather than blaming the source it did not read.
func unavailable(plans []*plan) error {
	var errs []error
	for _, p := range plans {
		if !p.failed {
			return nil
		}
		if p.refusal != nil {
			errs = append(errs, p.refusal)
			continue
		}
		errs = append(errs, fmt.Errorf("destination %s: %s", p.t.Name, strings.Join(p.rep.Errors, "; ")))
	}
	return fmt.Errorf("no destination is available, nothing was read or uploaded: %w", errors.Join(errs...))
}
