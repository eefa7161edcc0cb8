package hubspot

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Processing types of a list.
const (
	ManualList   = "MANUAL"
	DynamicList  = "DYNAMIC"
	SnapshotList = "SNAPSHOT"
)

// Object type ids.
const (
	contactsType  = "0-1"
	companiesType = "0-2"
)

// listRec is one list. Members are record ids, ascending, as HubSpot pages
// them.
type listRec struct {
	ID             string  `json:"listId"`
	LegacyID       string  `json:"legacyListId,omitempty"`
	Name           string  `json:"name"`
	ObjectTypeID   string  `json:"objectTypeId"`
	ProcessingType string  `json:"processingType"`
	Members        []int64 `json:"members"`
	// Created is when the list was made, for its createdAt.
	Created time.Time `json:"created"`
}

// store is the replica's CRM data. The replica holds its lock around
// every call.
type store struct {
	// contacts holds the properties of contacts created or changed
	// through the API, by record id. Seeded contacts are made up from
	// their id when read, so the state file holds no contact data unless
	// someone adds it.
	contacts map[int64]map[string]string
	// Synthetic contacts, ids synthFrom to synthFrom+synthN-1, are made up
	// from their id when read (so a list of a million costs no memory per
	// contact), unless stored (changed) or archived.
	synthFrom, synthN int64
	archived          map[int64]bool
	nextContact       int64

	// lists hand out ids after the seeded lists' (3 to 6).
	lists wire.Audiences[listRec]
}

// Seeded contacts: record ids from seedFrom, user0001@example.com….
const (
	seedFrom  = 51001
	seedCount = 60
	synthBase = 10_000_001
)

func newStore() *store {
	return &store{contacts: map[int64]map[string]string{}, archived: map[int64]bool{}, lists: wire.NewAudiences[listRec](7, 10),
		nextContact: seedFrom + seedCount}
}

// seed fills a fresh store with obviously synthetic contacts and the lists
// replicacreds names.
func (st *store) seed(now time.Time) {
	ids := func(from, to int64, extra ...int64) []int64 {
		var out []int64
		for i := from; i <= to; i++ {
			out = append(out, seedFrom+i-1)
		}
		for _, i := range extra {
			out = append(out, seedFrom+i-1)
		}
		return out
	}
	// The newsletter's legacy id is the trial list's v3 id.
	st.add(&listRec{ID: replicacreds.TrialID, LegacyID: replicacreds.TrialLegacy, Name: replicacreds.TrialList,
		ObjectTypeID: contactsType, ProcessingType: DynamicList, Members: ids(1, 25), Created: now})
	st.add(&listRec{ID: replicacreds.NewsletterID, LegacyID: replicacreds.NewsletterLegacyID, Name: replicacreds.NewsletterList,
		ObjectTypeID: contactsType, ProcessingType: ManualList, Members: ids(1, 40, seedCount), Created: now})
	st.add(&listRec{ID: replicacreds.WebinarID, Name: replicacreds.WebinarList,
		ObjectTypeID: contactsType, ProcessingType: SnapshotList, Members: ids(30, 45), Created: now})
	st.add(&listRec{ID: "6", Name: "Target accounts", ObjectTypeID: companiesType, ProcessingType: ManualList, Created: now})
}

// seedContact is seeded contact i (from 1): the last has neither e-mail
// nor phone, every tenth opted out of e-mail.
func seedContact(i int64) map[string]string {
	p := map[string]string{
		"email":           fmt.Sprintf("user%04d@example.com", i),
		"phone":           fmt.Sprintf("+1 202 555 01%02d", (i-1)%100),
		"firstname":       "Test",
		"lastname":        fmt.Sprintf("User%04d", i),
		"zip":             fmt.Sprintf("0%04d", i),
		"country":         "US",
		"lifecyclestage":  "subscriber",
		"hs_email_optout": wire.OptedOut(i),
	}
	if i == seedCount {
		delete(p, "email")
		delete(p, "phone")
	}
	return p
}

// synthContact is synthetic contact n (from 1): an example.com address,
// and one of the hundred fictional 202-555-01xx numbers for the first
// hundred.
func synthContact(n int64) map[string]string {
	p := map[string]string{
		"email":           fmt.Sprintf("synthetic%07d@example.com", n),
		"firstname":       "Synthetic",
		"lastname":        fmt.Sprintf("Contact%07d", n),
		"country":         "US",
		"hs_email_optout": wire.OptedOut(n),
	}
	if n <= 100 {
		p["phone"] = fmt.Sprintf("+1 202 555 01%02d", n-1)
	}
	return p
}

func (st *store) add(l *listRec) { st.lists.Add(l.ID, l) }

// contact returns a contact's properties (not to be changed), or nil when
// there is no such contact or it is archived.
func (st *store) contact(id int64) map[string]string {
	if st.archived[id] {
		return nil
	}
	if p, ok := st.contacts[id]; ok {
		return p
	}
	if id >= seedFrom && id < seedFrom+seedCount {
		return seedContact(id - seedFrom + 1)
	}
	if id >= st.synthFrom && id < st.synthFrom+st.synthN {
		return synthContact(id - st.synthFrom + 1)
	}
	return nil
}

// count is how many contacts there are, archived ones left out.
func (st *store) count() int {
	n := seedCount + st.synthN
	for id := range st.contacts {
		if st.made(id) {
			n++
		}
	}
	return int(n) - len(st.archived)
}

// made reports whether id is a contact created through the API rather
// than a seeded or synthetic one.
func (st *store) made(id int64) bool {
	seeded := id >= seedFrom && id < seedFrom+seedCount
	synthetic := id >= st.synthFrom && id < st.synthFrom+st.synthN
	return !seeded && !synthetic
}

// byName finds a list of an object type by name, ignoring case.
func (st *store) byName(objectType, name string) *listRec {
	for _, l := range st.lists.All() {
		if l.ObjectTypeID == objectType && strings.EqualFold(l.Name, name) {
			return l
		}
	}
	return nil
}

func (st *store) byLegacy(legacy string) *listRec {
	for _, l := range st.lists.All() {
		if l.LegacyID != "" && l.LegacyID == legacy {
			return l
		}
	}
	return nil
}

// setMembers adds or removes record ids, keeping the list sorted; it
// returns the ids changed and those that are no contact (add) or no
// member (remove).
func (l *listRec) setMembers(st *store, ids []int64, add bool) (changed, missing []int64) {
	for _, id := range ids {
		i, in := slices.BinarySearch(l.Members, id)
		switch {
		case add && st.contact(id) == nil, !add && !in:
			missing = append(missing, id)
		case add && !in:
			l.Members = slices.Insert(l.Members, i, id)
			changed = append(changed, id)
		case !add:
			l.Members = slices.Delete(l.Members, i, i+1)
			changed = append(changed, id)
		}
	}
	return changed, missing
}

// AddSyntheticList adds a MANUAL contact list named name of n synthetic
// contacts (made up from their ids when read) and returns its id, for
// benchmarks and tests that need a large list.
func (s *Server) AddSyntheticList(name string, n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.data
	from := max(synthBase, st.synthFrom+st.synthN)
	members := make([]int64, n)
	for i := range members {
		members[i] = from + int64(i)
	}
	if st.synthN == 0 {
		st.synthFrom = from
	}
	st.synthN = from + int64(n) - st.synthFrom
	id := st.lists.NewID()
	st.add(&listRec{ID: id, Name: name, ObjectTypeID: contactsType, ProcessingType: ManualList, Members: members, Created: s.opts.Now()})
	return id
}

// SetProcessingType changes a list's processing type (DYNAMIC, MANUAL,
// SNAPSHOT), for tests; it reports whether the list exists.
func (s *Server) SetProcessingType(listID, typ string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.data.lists.Get(listID)
	if ok {
		l.ProcessingType = typ
	}
	return ok
}

// Snapshot is the replica's durable state. Contacts are by record id
// (JSON writes the ids as the object's keys).
type Snapshot struct {
	Contacts    map[int64]map[string]string `json:"contacts"`
	Archived    []int64                     `json:"archived,omitempty"`
	SynthFrom   int64                       `json:"synthetic_from,omitempty"`
	SynthN      int64                       `json:"synthetic_count,omitempty"`
	NextContact int64                       `json:"next_contact"`
	Lists       []listRec                   `json:"lists"`
	NextList    int64                       `json:"next_list"`
}

// Snapshot returns the replica's state.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.data
	snap := Snapshot{Contacts: maps.Clone(st.contacts), SynthFrom: st.synthFrom, SynthN: st.synthN,
		NextContact: st.nextContact, NextList: st.lists.Next()}
	for id := range st.archived {
		snap.Archived = append(snap.Archived, id)
	}
	slices.Sort(snap.Archived)
	snap.Lists = wire.List(&st.lists, func(_ string, l *listRec) listRec { return *l })
	return snap
}

// Restore replaces the state with snap, changing nothing when it does not
// hold together.
func (s *Server) Restore(snap Snapshot) error {
	st := newStore()
	st.synthFrom, st.synthN, st.nextContact = snap.SynthFrom, snap.SynthN, snap.NextContact
	for id, p := range snap.Contacts {
		if id <= 0 {
			return fmt.Errorf("contact id %d is not a positive number", id)
		}
		st.contacts[id] = p
	}
	for _, id := range snap.Archived {
		st.archived[id] = true
	}
	// The snapshot's next_list stands as saved (not raised to the seeded
	// lists' 7), unless a restored id is past it.
	numbering := wire.NewAudiences[listRec](0, 10)
	lists, err := wire.RestoreAudiences(&numbering, "list", snap.Lists, snap.NextList, func(l listRec) (string, *listRec, error) {
		switch {
		case l.ID == "":
			return "", nil, errors.New("empty id")
		case !slices.IsSorted(l.Members):
			return "", nil, fmt.Errorf("id %s: members are not in ascending order", l.ID)
		}
		return l.ID, &l, nil
	})
	if err != nil {
		return err
	}
	st.lists = lists
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = *st
	return nil
}

// AddContactList adds a MANUAL contact list named name holding one new
// contact per element of contacts (its properties, which may name any
// property, as custom properties do), in that order, and returns the
// list's id, for tests that need a list of given contacts.
func (s *Server) AddContactList(name string, contacts []map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.data
	members := make([]int64, len(contacts))
	for i, p := range contacts {
		id := st.nextContact
		st.nextContact++
		st.contacts[id] = maps.Clone(p)
		members[i] = id // ascending: ids only grow
	}
	id := st.lists.NewID()
	st.add(&listRec{ID: id, Name: name, ObjectTypeID: contactsType, ProcessingType: ManualList, Members: members, Created: s.opts.Now()})
	return id
}
