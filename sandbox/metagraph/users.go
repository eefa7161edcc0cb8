package metagraph

import (
	"net/http"
	"strconv"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

type addSession struct {
	finished bool
	finalSeq int
}

type replaceSession struct {
	id      string
	nextSeq int
	pending wire.Set
	touched time.Time
}

func (s *Server) users(w http.ResponseWriter, _ *http.Request, c *call, add bool) *graphError {
	if err := checkParams(c.params, "payload", "session"); err != nil {
		return err
	}
	up, gerr := parsePayload(c.params.Get("payload"))
	if gerr != nil {
		return gerr
	}
	sess, gerr := parseSession(c.params.Get("session"))
	if gerr != nil {
		return gerr
	}
	s.Changes.SettleIfBacklogged()
	return s.onAudience(&s.mu, c, func(a *audience) *graphError { return s.usersLocked(w, a, up, sess, add) })
}

// usersLocked adds (add) or removes the rows of up in audience a, in
// sess when given; s.mu is held.
func (s *Server) usersLocked(w http.ResponseWriter, a *audience, up *upload, sess *sessionParam, add bool) *graphError {
	if a.replace != nil && !s.replaceExpiredLocked(a) {
		return audienceError("a replace session (%s) is in progress on this audience; add or remove users after it finishes", a.replace.id)
	}
	var sid string
	if sess != nil {
		sid = sess.SessionID.String()
		st := a.sessions[sid]
		if st == nil {
			st = &addSession{}
			a.sessions[sid] = st
		}
		if st.finished && sess.BatchSeq > st.finalSeq {
			return paramError("session %s already received its last batch (batch_seq %d); start a new session", sid, st.finalSeq)
		}
		if sess.LastBatchFlag {
			st.finished, st.finalSeq = true, sess.BatchSeq
		}
	} else {
		s.nextSess++
		sid = strconv.FormatInt(7000000000000000+s.nextSess, 10)
	}
	s.Changes.PushMembersLocked(&a.Members, up.ids, up.ends, add)
	a.Updated = s.opts.Now()
	writeJSON(w, http.StatusOK, uploadResponse(a.ID, sid, up.total, up.invalid, up.samples))
	return nil
}

func uploadResponse(audienceID, sessionID string, received, invalid int, samples map[string]string) map[string]any {
	return map[string]any{
		"audience_id":           audienceID,
		"session_id":            sessionID,
		"num_received":          received,
		"num_invalid_entries":   invalid,
		"invalid_entry_samples": samples,
	}
}

// replaceExpiredLocked drops a replace session idle for longer than Meta
// keeps one open, and reports whether it did; s.mu is held.
func (s *Server) replaceExpiredLocked(a *audience) bool {
	if a.replace != nil && s.opts.Now().Sub(a.replace.touched) > replaceTimeout {
		a.replace = nil
		return true
	}
	return false
}

// usersReplace stages the rows of a replace session batch by batch; when
// the batch flagged last arrives the audience becomes exactly the staged
// set.
func (s *Server) usersReplace(w http.ResponseWriter, _ *http.Request, c *call) *graphError {
	if err := checkParams(c.params, "payload", "session"); err != nil {
		return err
	}
	sess, gerr := parseSession(c.params.Get("session"))
	if gerr != nil {
		return gerr
	}
	if sess == nil {
		return paramError("The parameter session is required: usersreplace works only in a session (session_id, batch_seq from 1, last_batch_flag)")
	}
	up, gerr := parsePayload(c.params.Get("payload"))
	if gerr != nil {
		return gerr
	}
	s.Changes.SettleIfBacklogged()
	return s.onAudience(&s.mu, c, func(a *audience) *graphError { return s.replaceLocked(w, a, up, sess) })
}

// replaceLocked stages the rows of up, batch sess of a replace session on
// audience a, and on the last batch makes them the audience; s.mu is held.
func (s *Server) replaceLocked(w http.ResponseWriter, a *audience, up *upload, sess *sessionParam) *graphError {
	sid := sess.SessionID.String()
	s.replaceExpiredLocked(a)
	if final, done := a.finishedReplace[sid]; done {
		if sess.BatchSeq == final {
			// A retry of the last batch whose answer was lost: already applied.
			writeJSON(w, http.StatusOK, uploadResponse(a.ID, sid, up.total, up.invalid, up.samples))
			return nil
		}
		return paramError("replace session %s has finished; start a new session to replace again", sid)
	}
	rs := a.replace
	switch {
	case rs == nil && sess.BatchSeq != 1:
		return paramError("replace session %s is not open (it may have expired): batch_seq must start at 1", sid)
	case rs == nil:
		rs = &replaceSession{id: sid, nextSeq: 1, pending: wire.Set{}}
		a.replace = rs
	case rs.id != sid:
		return audienceError("another replace session (%s) is in progress on this audience", rs.id)
	}
	switch sess.BatchSeq {
	case rs.nextSeq:
		rs.nextSeq++
	case rs.nextSeq - 1:
		// A retried batch: staging is a set union, so it is harmless.
	default:
		return paramError("replace session %s expects batch_seq %d, got %d: send batches in order", sid, rs.nextSeq, sess.BatchSeq)
	}
	ids, ends, last := up.ids, up.ends, sess.LastBatchFlag
	s.Changes.PushLocked(len(ids), func() {
		wire.ApplyRows(&rs.pending, ids, ends, true)
		if last {
			a.Members = rs.pending
		}
	})
	rs.touched = s.opts.Now()
	if sess.LastBatchFlag {
		a.replace = nil
		a.finishedReplace[sid] = sess.BatchSeq
		a.Updated = s.opts.Now()
	}
	writeJSON(w, http.StatusOK, uploadResponse(a.ID, sid, up.total, up.invalid, up.samples))
	return nil
}
