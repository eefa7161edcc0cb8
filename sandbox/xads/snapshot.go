package xads

import (
	"errors"
	"time"

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
	Created time.Time `json:"created_at"`
	Updated time.Time `json:"updated_at"`
	Deleted bool      `json:"deleted,omitempty"`
	wire.SavedMembers
}

// Snapshot returns the replica's state.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Snapshot{CustomAudiences: wire.List(&s.audiences, func(_ string, a *audience) AudienceSnapshot {
		return AudienceSnapshot{
			SavedAudience: wire.SavedAudience{ID: a.id, Account: a.account, Name: a.name, Description: a.description},
			Created:       a.created, Updated: a.updated, Deleted: a.deleted, SavedMembers: a.members.Save(),
		}
	}), NextID: s.audiences.Next()}
}

// Restore replaces the replica's audiences with those of snap. It checks
// snap first and changes nothing if it is inconsistent. Nonces and
// rate-limit windows are kept.
func (s *Server) Restore(snap Snapshot) error {
	return wire.Restore(&s.mu, &s.audiences, "custom audience", snap.CustomAudiences, snap.NextID,
		func(as AudienceSnapshot) (string, *audience, error) {
			if !idPattern.MatchString(as.ID) || !accountPattern.MatchString(as.Account) {
				return "", nil, errors.New("an id and an account_id of lowercase letters and digits are required")
			}
			members, err := as.SavedMembers.Set()
			if err != nil {
				return "", nil, err
			}
			return as.ID, &audience{
				id: as.ID, account: as.Account, name: as.Name, description: as.Description,
				created: as.Created, updated: as.Updated, deleted: as.Deleted, members: members,
			}, nil
		})
}
