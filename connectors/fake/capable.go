package fake

import (
	"context"
	"fmt"
	"iter"
	"strconv"

	"github.com/audiencesync/audiencesync/connectors"
)

// Capable is a Destination that also has the optional capabilities of a
// platform connector: replace sessions that outlive the process that
// opened them (connectors.SessionReplacer, as Meta's usersreplace) and
// feedback on the requests it sent (connectors.FeedbackPoller, as Google's
// request status). A plain Destination has neither, so the engine's tests
// that use one keep the paths they test.
type Capable struct {
	*Destination
	// PollsBeforeDone is how many Feedback polls a request answers
	// PROCESSING for before it is done.
	PollsBeforeDone int

	// The platform's side, guarded by Destination.mu: open replace
	// sessions by audience id, and polls left by request id.
	sessions map[string]*replaceSession
	requests map[string]int
	seq      int // last session or request number handed out
}

// replaceSession is a replace session the fake's platform holds open: what
// it has staged, to become the audience when its last batch arrives.
type replaceSession struct {
	id     string
	staged map[string]bool
}

var (
	_ connectors.SessionReplacer = (*Capable)(nil)
	_ connectors.FeedbackPoller  = (*Capable)(nil)
	_ connectors.Resetter        = (*Capable)(nil)
)

// NewCapable returns an empty capable destination for the built-in
// platform named profile; it panics on an unknown name.
func NewCapable(profile string) *Capable {
	return &Capable{Destination: NewDestination(profile), sessions: map[string]*replaceSession{}, requests: map[string]int{}}
}

// Apply is Destination.Apply, with a request id to poll Feedback for.
func (c *Capable) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	res, err := c.Destination.Apply(ctx, aud, b)
	if err != nil {
		return res, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	res.RequestID = "req-" + strconv.Itoa(c.seq)
	c.requests[res.RequestID] = c.PollsBeforeDone
	return res, nil
}

// Replace is ReplaceInSession in a new session.
func (c *Capable) Replace(ctx context.Context, aud connectors.Audience, total int, members iter.Seq2[connectors.Upload, error]) (connectors.BatchResult, error) {
	res, _, err := c.ReplaceInSession(ctx, aud, total, members, connectors.ReplaceSession{}, nil)
	return res, err
}

// ReplaceInSession sends members in batches of MaxBatch to a replace
// session: the one resume names when the platform still holds it open
// (its batches then go on from resume.Batch and what it staged stays),
// otherwise a new one. The audience becomes what the session staged when
// its last batch arrives; until then it is unchanged.
func (c *Capable) ReplaceInSession(ctx context.Context, aud connectors.Audience, _ int, members iter.Seq2[connectors.Upload, error],
	resume connectors.ReplaceSession, record func(connectors.ReplaceSession) error) (connectors.BatchResult, bool, error) {
	var res connectors.BatchResult
	sess, seq, resumed, err := c.session(aud.ID, resume)
	if err != nil {
		return res, false, err
	}
	next, stop := iter.Pull2(members)
	defer stop()
	u, err, more := next()
	// One batch at least: an empty replace empties the audience.
	for first := true; first || more; first = false {
		batch := make([]connectors.Upload, 0, c.MaxBatch)
		for ; more && err == nil && len(batch) < c.MaxBatch; u, err, more = next() {
			batch = append(batch, u)
		}
		if err != nil {
			return res, resumed, fmt.Errorf("replace audience %s: read the members: %w", aud.ID, err)
		}
		if err := ctx.Err(); err != nil {
			return res, resumed, err
		}
		if record != nil {
			if err := record(connectors.ReplaceSession{ID: sess.id, Batch: seq}); err != nil {
				return res, resumed, connectors.Fatal(fmt.Errorf("replace audience %s: record batch %d of session %s: %w", aud.ID, seq, sess.id, err))
			}
		}
		if err := c.stage(aud.ID, sess, batch, !more); err != nil {
			return res, resumed, err
		}
		seq++
	}
	res.RequestID = sess.id
	return res, resumed, nil
}

// session returns the session resume names if the platform holds it open
// on audience, else a new one, and the number of its next batch.
func (c *Capable) session(audience string, resume connectors.ReplaceSession) (*replaceSession, int, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired() {
		return nil, 0, false, connectors.Reauthenticate(fmt.Errorf("replace audience %s: %w", audience, errExpired))
	}
	if open, ok := c.sessions[audience]; ok && resume.ID != "" && open.id == resume.ID {
		return open, max(resume.Batch, 1), true, nil
	}
	c.seq++
	s := &replaceSession{id: "session-" + strconv.Itoa(c.seq), staged: map[string]bool{}}
	c.sessions[audience] = s
	return s, 1, false, nil
}

// stage adds batch to the session; the last batch makes what the session
// staged the audience and closes the session.
func (c *Capable) stage(audience string, s *replaceSession, batch []connectors.Upload, last bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.audiences[audience]; !ok {
		return connectors.Fatal(fmt.Errorf("no audience %s", audience))
	}
	for _, m := range batch {
		for _, id := range m.Identifiers {
			s.staged[id.Kind.String()+":"+id.Value] = true
		}
	}
	if last {
		c.audiences[audience] = s.staged
		delete(c.sessions, audience)
	}
	return nil
}

// Feedback reports on the requests: those with polls left are PROCESSING
// and pending; the rest are done. An id the platform does not know is
// counted and dropped. Size is the audience's size.
func (c *Capable) Feedback(_ context.Context, aud connectors.Audience, requestIDs []string) (connectors.PlatformReport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired() {
		return connectors.PlatformReport{}, connectors.Reauthenticate(fmt.Errorf("poll request status: %w", errExpired))
	}
	rep := connectors.PlatformReport{Size: int64(len(c.audiences[aud.ID])), Counts: map[string]int64{}}
	for _, id := range requestIDs {
		left, ok := c.requests[id]
		switch {
		case !ok:
			rep.Counts["requests.unknown"]++
		case left > 0:
			c.requests[id] = left - 1
			rep.Counts["requests.processing"]++
			rep.Pending = append(rep.Pending, id)
		default:
			rep.Counts["requests.success"]++
		}
	}
	switch {
	case len(rep.Pending) > 0:
		rep.Status = "PROCESSING"
	case rep.Counts["requests.success"] > 0:
		rep.Status = "SUCCESS"
	}
	return rep, nil
}
