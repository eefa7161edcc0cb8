package linkedindmp

import (
	"errors"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Snapshot is the replica's durable state, for saving between runs: the
// DMP segments with their members. It holds hashes and advertising ids
// only. Issued access tokens and rate-limit windows are not saved: a
// restarted replica refuses the old tokens, and a client refreshes.
type Snapshot struct {
	Segments []SegmentSnapshot `json:"dmp_segments"`
	// NextID keeps new ids from reusing old ones.
	NextID int64 `json:"next_id"`
}

// SegmentSnapshot is one DMP segment.
type SegmentSnapshot struct {
	wire.SavedAudience
	Type           string    `json:"type"`
	SourcePlatform string    `json:"source_platform"`
	AccessPolicy   string    `json:"access_policy"`
	Created        time.Time `json:"created_at"`
	Updated        time.Time `json:"updated_at"`
	Polls          int       `json:"polls,omitempty"`
	wire.SavedMembers
}

// Snapshot returns the replica's state.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Snapshot{Segments: wire.List(&s.segments, func(_ string, sg *segment) SegmentSnapshot {
		return SegmentSnapshot{
			SavedAudience: wire.SavedAudience{ID: sg.id, Account: sg.account, Name: sg.name, Description: sg.desc},
			Type:          sg.kind, SourcePlatform: sg.source, AccessPolicy: sg.policy,
			Created: sg.created, Updated: sg.updated, Polls: sg.polls, SavedMembers: sg.members.Save(),
		}
	}), NextID: s.segments.Next()}
}

// Restore replaces the replica's segments with those of snap. It checks
// snap first and changes nothing if it is inconsistent.
func (s *Server) Restore(snap Snapshot) error {
	return wire.Restore(&s.mu, &s.segments, "DMP segment", snap.Segments, snap.NextID,
		func(ss SegmentSnapshot) (string, *segment, error) {
			if !numberPattern.MatchString(ss.ID) || !numberPattern.MatchString(ss.Account) {
				return "", nil, errors.New("a numeric id and account_id are required")
			}
			if ss.Type == "" || ss.SourcePlatform == "" || ss.AccessPolicy == "" || ss.Polls < 0 {
				return "", nil, errors.New("type, source_platform and access_policy are required")
			}
			members, err := ss.SavedMembers.Set()
			if err != nil {
				return "", nil, err
			}
			sg := &segment{id: ss.ID, account: ss.Account, name: ss.Name, desc: ss.Description,
				kind: ss.Type, source: ss.SourcePlatform, policy: ss.AccessPolicy,
				created: ss.Created, updated: ss.Updated, polls: ss.Polls, members: members}
			return ss.ID, sg, nil
		})
}
