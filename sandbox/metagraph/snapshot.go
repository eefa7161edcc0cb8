package metagraph

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Snapshot is the replica's durable state, for saving between runs:
// audiences with their members, open replace sessions with their staged
// rows, and which /users and replace sessions have finished. It holds what
// the replica stores — hashes and the values Meta takes in clear — and no
// tokens. Per-response counts (num_received, num_invalid_entries) are not
// state: they answer the request that carried the rows.
type Snapshot struct {
	Audiences []AudienceSnapshot `json:"audiences"`
	// NextID and NextSession keep new ids from reusing old ones.
	NextID      int64 `json:"next_id"`
	NextSession int64 `json:"next_session"`
}

// AudienceSnapshot is one customer-file custom audience.
type AudienceSnapshot struct {
	wire.SavedAudience
	CustomerFileSource string    `json:"customer_file_source"`
	Created            time.Time `json:"time_created"`
	Updated            time.Time `json:"time_updated"`
	wire.SavedMembers
	// Replace is the usersreplace session in progress, if any.
	Replace *ReplaceSnapshot `json:"replace,omitempty"`
	// Sessions are the /users sessions seen, by session id.
	Sessions map[string]SessionSnapshot `json:"sessions,omitempty"`
	// FinishedReplace maps each finished replace session to its last
	// batch_seq, so a retried last batch is recognised.
	FinishedReplace map[string]int `json:"finished_replace,omitempty"`
}

// ReplaceSnapshot is a usersreplace session in progress.
type ReplaceSnapshot struct {
	SessionID string   `json:"session_id"`
	NextSeq   int      `json:"next_batch_seq"`
	Pending   []string `json:"pending"`
	// PendingSecondary is Secondary for Pending.
	PendingSecondary []int     `json:"pending_secondary,omitempty"`
	Touched          time.Time `json:"touched"`
}

// SessionSnapshot is a /users session.
type SessionSnapshot struct {
	Finished bool `json:"finished"`
	FinalSeq int  `json:"final_batch_seq,omitempty"`
}

// empty forgets every audience (wire.Core.Reset).
func (s *Server) empty() {
	s.audiences = wire.NewAudiences[audience](23850000000000000, 10)
	s.flagged = map[string]bool{}
	s.nextSess = 0
}

// Snapshot returns the replica's state.
func (s *Server) Snapshot() Snapshot {
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	snap := Snapshot{NextID: s.audiences.Next(), NextSession: s.nextSess}
	snap.Audiences = wire.List(&s.audiences, func(_ string, a *audience) AudienceSnapshot {
		as := AudienceSnapshot{
			SavedAudience: a.Saved(), CustomerFileSource: a.source,
			Created: a.Created, Updated: a.Updated, SavedMembers: a.Members.Save(),
			FinishedReplace: maps.Clone(a.finishedReplace),
		}
		if rs := a.replace; rs != nil {
			as.Replace = &ReplaceSnapshot{SessionID: rs.id, NextSeq: rs.nextSeq, Pending: rs.pending.Sorted(), PendingSecondary: rs.pending.Secondary(), Touched: rs.touched}
		}
		if len(a.sessions) > 0 {
			as.Sessions = make(map[string]SessionSnapshot, len(a.sessions))
			for sid, st := range a.sessions {
				as.Sessions[sid] = SessionSnapshot{Finished: st.finished, FinalSeq: st.finalSeq}
			}
		}
		return as
	})
	return snap
}

// Restore replaces the replica's state with snap. It checks snap first and
// changes nothing if it is inconsistent.
func (s *Server) Restore(snap Snapshot) error {
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	audiences, err := wire.RestoreAudiences(&s.audiences, "audience", snap.Audiences, snap.NextID,
		func(as AudienceSnapshot) (string, *audience, error) {
			a, err := restoreAudience(as)
			if err != nil {
				return "", nil, err
			}
			return a.ID, a, nil
		})
	if err != nil {
		return err
	}
	s.audiences, s.nextSess = audiences, snap.NextSession
	return nil
}

func restoreAudience(as AudienceSnapshot) (*audience, error) {
	restored, err := as.Restored(savedIDs, as.Created, as.Updated, as.SavedMembers)
	if err != nil {
		return nil, err
	}
	a := &audience{Audience: restored, source: as.CustomerFileSource,
		sessions: make(map[string]*addSession, len(as.Sessions)), finishedReplace: map[string]int{}}
	maps.Copy(a.finishedReplace, as.FinishedReplace)
	for sid, st := range as.Sessions {
		a.sessions[sid] = &addSession{finished: st.Finished, finalSeq: st.FinalSeq}
	}
	if rs := as.Replace; rs != nil {
		if rs.SessionID == "" || rs.NextSeq < 1 {
			return nil, errors.New("replace: a session_id and a next_batch_seq of at least 1 are required")
		}
		pending, err := wire.SetOfPeople(rs.Pending, rs.PendingSecondary)
		if err != nil {
			return nil, fmt.Errorf("replace: %w", err)
		}
		a.replace = &replaceSession{id: rs.SessionID, nextSeq: rs.NextSeq, pending: pending, touched: rs.Touched}
	}
	return a, nil
}
