package xads

import (
	"fmt"
	"strconv"
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
	ID          string    `json:"id"`
	Account     string    `json:"account_id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created_at"`
	Updated     time.Time `json:"updated_at"`
	Deleted     bool      `json:"deleted,omitempty"`
	Members     []string  `json:"members"`
}

// Snapshot returns the replica's state.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{CustomAudiences: make([]AudienceSnapshot, 0, len(s.order)), NextID: s.nextID}
	for _, id := range s.order {
		a := s.audiences[id]
		snap.CustomAudiences = append(snap.CustomAudiences, AudienceSnapshot{
			ID: a.id, Account: a.account, Name: a.name, Description: a.description,
			Created: a.created, Updated: a.updated, Deleted: a.deleted, Members: a.members.Sorted(),
		})
	}
	return snap
}

// Restore replaces the replica's audiences with those of snap. It checks
// snap first and changes nothing if it is inconsistent. Nonces and
// rate-limit windows are kept.
func (s *Server) Restore(snap Snapshot) error {
	audiences := make(map[string]*audience, len(snap.CustomAudiences))
	order := make([]string, 0, len(snap.CustomAudiences))
	nextID := snap.NextID
	for i, as := range snap.CustomAudiences {
		if !idPattern.MatchString(as.ID) || !accountPattern.MatchString(as.Account) {
			return fmt.Errorf("custom audience %d: an id and an account_id of lowercase letters and digits are required", i)
		}
		if _, dup := audiences[as.ID]; dup {
			return fmt.Errorf("custom audience %d: id %s is used twice", i, as.ID)
		}
		if n, err := strconv.ParseInt(as.ID, 36, 64); err == nil && n > nextID {
			nextID = n
		}
		audiences[as.ID] = &audience{
			id: as.ID, account: as.Account, name: as.Name, description: as.Description,
			created: as.Created, updated: as.Updated, deleted: as.Deleted, members: wire.SetOf(as.Members),
		}
		order = append(order, as.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audiences, s.order = audiences, order
	s.nextID = max(nextID, s.nextID)
	return nil
}
