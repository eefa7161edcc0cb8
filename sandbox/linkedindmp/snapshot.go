package linkedindmp

import (
	"errors"

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
	Type           string `json:"type"`
	SourcePlatform string `json:"source_platform"`
	AccessPolicy   string `json:"access_policy"`
	wire.SavedTimes
	Polls int `json:"polls,omitempty"`
	wire.SavedMembers
}

// Snapshot returns the replica's state.
func (s *Server) Snapshot() Snapshot {
	segments, next := wire.Save(&s.mu, &s.segments, func(sg *segment) SegmentSnapshot {
		return SegmentSnapshot{SavedAudience: sg.Saved(), Type: sg.kind, SourcePlatform: sg.source, AccessPolicy: sg.policy,
			SavedTimes: sg.Times(), Polls: sg.polls, SavedMembers: sg.Members.Save()}
	})
	return Snapshot{Segments: segments, NextID: next}
}

// Restore replaces the replica's segments with those of snap. It checks
// snap first and changes nothing if it is inconsistent.
func (s *Server) Restore(snap Snapshot) error {
	return wire.Restore(&s.mu, &s.segments, "DMP segment", snap.Segments, snap.NextID,
		func(ss SegmentSnapshot) (string, *segment, error) {
			if ss.Type == "" || ss.SourcePlatform == "" || ss.AccessPolicy == "" || ss.Polls < 0 {
				return "", nil, errors.New("type, source_platform and access_policy are required")
			}
			a, err := ss.Restored(savedIDs, ss.Created, ss.Updated, ss.SavedMembers)
			if err != nil {
				return "", nil, err
			}
			return ss.ID, &segment{Audience: a, kind: ss.Type, source: ss.SourcePlatform, policy: ss.AccessPolicy, polls: ss.Polls}, nil
		})
}
