package wire

import (
	"errors"
	"time"
)

// Audience is what the Meta, X and LinkedIn replicas hold of every
// audience whatever the platform: its id, ad account, name and
// description, when it was made and last changed, and its members. Their
// audiences embed it, their snapshots save it (Saved, with the members'
// SavedMembers) and their state listings start with it (Listed).
type Audience struct {
	ID, Account       string
	Name, Description string
	Created, Updated  time.Time
	Members           Set
}

// NewAudience returns an empty audience id of account, named name, made
// at now.
func NewAudience(id, account, name string, now time.Time) Audience {
	return Audience{ID: id, Account: account, Name: name, Created: now, Updated: now}
}

// SavedAudience is what the Meta, X and LinkedIn replicas save first of
// an audience: its id, ad account, name and description, under the same
// JSON keys. Their audience snapshots embed it, which keeps these fields
// at the top level of the audience's JSON, before the platform's own.
type SavedAudience struct {
	ID          string `json:"id"`
	Account     string `json:"account_id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Saved is what a snapshot saves first of a.
func (a *Audience) Saved() SavedAudience {
	return SavedAudience{ID: a.ID, Account: a.Account, Name: a.Name, Description: a.Description}
}

// SavedTimes are when an audience was made and last changed, as the X and
// LinkedIn replicas save them (Meta's snapshot names them as its API
// does); their audience snapshots embed it.
type SavedTimes struct {
	Created time.Time `json:"created_at"`
	Updated time.Time `json:"updated_at"`
}

// Times is what a snapshot saves of when a was made and last changed.
func (a *Audience) Times() SavedTimes { return SavedTimes{Created: a.Created, Updated: a.Updated} }

// SavedIDs are what a replica's audience ids and ad account ids look like:
// Restored refuses a saved audience whose ids the replica could not have
// made or would not take in a path.
type SavedIDs struct {
	// Valid reports whether id and account are such ids.
	Valid func(id, account string) bool
	// Want says what they must be: the error for ids Valid refuses.
	Want string
}

// Restored is the audience that sa and members saved, made at created and
// last changed at updated, once ids accepts its id and account.
func (sa SavedAudience) Restored(ids SavedIDs, created, updated time.Time, members SavedMembers) (Audience, error) {
	if !ids.Valid(sa.ID, sa.Account) {
		return Audience{}, errors.New(ids.Want)
	}
	set, err := members.Set()
	if err != nil {
		return Audience{}, err
	}
	return Audience{ID: sa.ID, Account: sa.Account, Name: sa.Name, Description: sa.Description,
		Created: created, Updated: updated, Members: set}, nil
}

// Listed is what the state listings of the Meta, X and LinkedIn replicas
// show first of an audience, under the same JSON keys; their listings
// embed it.
type Listed struct {
	Account string `json:"account_id"`
	ID      string `json:"id"`
	Name    string `json:"name"`
}

// Listed is what a state listing shows first of a.
func (a *Audience) Listed() Listed { return Listed{Account: a.Account, ID: a.ID, Name: a.Name} }
