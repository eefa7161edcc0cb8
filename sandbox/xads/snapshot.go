package xads

import (
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Snapshot is the replica's durable state, for saving between runs: the
// custom audiences with their members. It holds hashes and partner user
// ids only. Used nonces and rate-limit windows are not saved: both only
// matter for minutes, and a restarted replica starts them afresh.
type Snapshot struct {
	CustomAudiences []AudienceSnapshot `json:"custom_audiences"`
	// NextID keeps new ids from reusing old ones.
	NextID int64 `json:"next_id"`
}

// AudienceSnapshot is one custom audience.
type AudienceSnapshot struct {
	wire.SavedAudience
	wire.SavedTimes
	Deleted bool `json:"deleted,omitempty"`
	wire.SavedMembers
}

// Snapshot returns the replica's state.
func (s *Server) Snapshot() Snapshot {
	audiences, next := wire.Save(&s.mu, &s.audiences, func(a *audience) AudienceSnapshot {
		return AudienceSnapshot{SavedAudience: a.Saved(), SavedTimes: a.Times(), Deleted: a.deleted, SavedMembers: a.Members.Save()}
	})
	return Snapshot{CustomAudiences: audiences, NextID: next}
}

// Restore replaces the replica's audiences with those of snap. It checks
// snap first and changes nothing if it is inconsistent. Nonces and
// rate-limit windows are kept.
func (s *Server) Restore(snap Snapshot) error {
	return wire.Restore(&s.mu, &s.audiences, "custom audience", snap.CustomAudiences, snap.NextID,
		func(as AudienceSnapshot) (string, *audience, error) {
			a, err := as.Restored(savedIDs, as.Created, as.Updated, as.SavedMembers)
			if err != nil {
				return "", nil, err
			}
			return as.ID, &audience{Audience: a, deleted: as.Deleted}, nil
		})
}
