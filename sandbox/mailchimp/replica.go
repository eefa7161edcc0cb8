package mailchimp

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/platform/mailchimp"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// mount is how the replica is mounted: its platform, its requests
// (Marketing API calls) and its fault endpoints.
var mount = wire.NewMount(mailchimp.Name, wire.Prefixes("/3.0/"),
	"ping", "lists", "batch", "members", "tags", "segments")

// These methods mount the replica on the sandbox (sandbox.Replica and its
// optional capabilities), save and restore it, and let tests inspect and
// seed it.

// Describe tells a user where the replica is and what it accepts.
func (s *Server) Describe(base string) string {
	return wire.Description{API: "Mailchimp Marketing API", Base: base, Call: "/3.0/lists/...",
		Credentials: [][2]string{{"api_key", mailchimp.ReplicaAPIKey}, {"list_id", mailchimp.ReplicaListID}},
		Notes:       []string{"(always refused: " + mailchimp.ReplicaRevokedKey + ")"},
	}.String()
}

// MemberState is one list member for inspection: never an address.
type MemberState struct {
	Hash   string            `json:"subscriber_hash"`
	Status string            `json:"status"`
	Tags   []string          `json:"tags"`
	Merge  map[string]string `json:"merge_field_digests,omitempty"`
}

// TagState is one tag with its member count, and its members' subscriber
// hashes when asked.
type TagState struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Count   int      `json:"member_count"`
	Members []string `json:"members,omitempty"`
}

// ListState is one list for inspection.
type ListState struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Count   int           `json:"member_count"`
	Tags    []TagState    `json:"tags"`
	Members []MemberState `json:"members,omitempty"`
}

// Inspect is the replica's part of GET /_sandbox/state.
func (s *Server) Inspect(withMembers bool) any {
	return struct {
		Lists []ListState `json:"lists"`
	}{s.State(withMembers)}
}

// State lists every list with its tags; withMembers includes members.
func (s *Server) State(withMembers bool) []ListState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ListState
	for _, id := range slices.Sorted(maps.Keys(s.lists)) {
		l := s.lists[id]
		ls := ListState{ID: id, Name: l.name, Count: len(l.members), Tags: []TagState{}}
		for _, tid := range slices.Sorted(maps.Keys(l.tags)) {
			ts := TagState{ID: tid, Name: l.tags[tid].name, Members: l.tagged(tid)}
			ts.Count = len(ts.Members)
			if !withMembers {
				ts.Members = nil
			}
			ls.Tags = append(ls.Tags, ts)
		}
		if withMembers {
			for _, h := range slices.Sorted(maps.Keys(l.members)) {
				ls.Members = append(ls.Members, l.members[h].state(h, l))
			}
		}
		out = append(out, ls)
	}
	return out
}

func (m *member) state(hash string, l *list) MemberState {
	ms := MemberState{Hash: hash, Status: m.status, Tags: []string{}, Merge: maps.Clone(m.merge)}
	for tid := range m.tags {
		ms.Tags = append(ms.Tags, l.tags[tid].name)
	}
	slices.Sort(ms.Tags)
	return ms
}

// tagged lists the subscriber hashes of l's members tagged tid, sorted.
func (l *list) tagged(tid string) []string {
	var out []string
	for h, m := range l.members {
		if m.tags[tid] {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

// Members returns the subscriber hashes of the members tagged with
// audience id ("LIST/TAG_ID", the id the destination resolves), sorted;
// nil when there is no such tag.
func (s *Server) Members(id string) []string {
	listID, tid, _ := strings.Cut(id, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.lists[listID]
	if !ok || l.tags[tid] == nil {
		return nil
	}
	return append([]string{}, l.tagged(tid)...)
}

// Member returns a member of list by subscriber hash.
func (s *Server) Member(listID, hash string) (MemberState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.lists[listID]
	if !ok {
		return MemberState{}, false
	}
	m, ok := l.members[hash]
	if !ok {
		return MemberState{}, false
	}
	return m.state(hash, l), true
}

// SetStatus puts the contact with email on list with status, as the
// contact would (unsubscribing from an e-mail) or Mailchimp (cleaning a
// bouncing address), creating it if needed. For tests.
func (s *Server) SetStatus(listID, email, status string) error {
	if !validStatus(status) {
		return errors.New("unknown status " + status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.lists[listID]
	if !ok {
		return errors.New("no list " + listID)
	}
	h := SubscriberHash(email)
	m, ok := l.members[h]
	if !ok {
		m = &member{tags: map[string]bool{}, created: s.opts.Now()}
		l.members[h] = m
	}
	m.status, m.updated = status, s.opts.Now()
	return nil
}

// Block makes email an address Mailchimp will not add to any list (one
// deleted permanently, or in compliance review). For tests.
func (s *Server) Block(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[SubscriberHash(email)] = true
}

// Snapshot is the replica's durable state: lists, tags and members by
// subscriber hash, never an address.
type Snapshot struct {
	Lists   []ListSnapshot `json:"lists"`
	Blocked []string       `json:"blocked,omitempty"`
	NextID  int64          `json:"next_id"`
}

// ListSnapshot is one list.
type ListSnapshot struct {
	ID      string           `json:"id"`
	Name    string           `json:"name"`
	Tags    []TagState       `json:"tags"`
	Members []MemberSnapshot `json:"members"`
}

// MemberSnapshot is one member.
type MemberSnapshot struct {
	MemberState
	Created time.Time `json:"created_at"`
	Updated time.Time `json:"updated_at"`
}

// Snapshot returns the replica's state.
func (s *Server) Snapshot() Snapshot {
	snap := Snapshot{NextID: s.nextIDLocked(), Lists: []ListSnapshot{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap.Blocked = slices.Sorted(maps.Keys(s.blocked))
	for _, id := range slices.Sorted(maps.Keys(s.lists)) {
		l := s.lists[id]
		ls := ListSnapshot{ID: id, Name: l.name, Tags: []TagState{}, Members: []MemberSnapshot{}}
		for _, tid := range slices.Sorted(maps.Keys(l.tags)) {
			ls.Tags = append(ls.Tags, TagState{ID: tid, Name: l.tags[tid].name})
		}
		for _, h := range slices.Sorted(maps.Keys(l.members)) {
			m := l.members[h]
			ls.Members = append(ls.Members, MemberSnapshot{MemberState: m.state(h, l), Created: m.created, Updated: m.updated})
		}
		snap.Lists = append(snap.Lists, ls)
	}
	return snap
}

func (s *Server) nextIDLocked() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextID
}

// Restore replaces the replica's state with snap, checking it first.
func (s *Server) Restore(snap Snapshot) error {
	lists := map[string]*list{}
	for _, ls := range snap.Lists {
		if ls.ID == "" || lists[ls.ID] != nil {
			return errors.New("mailchimp: a list without an id, or twice")
		}
		l := newList(ls.ID, ls.Name)
		byName := map[string]string{}
		for _, t := range ls.Tags {
			if t.ID == "" || t.Name == "" || byName[t.Name] != "" {
				return errors.New("mailchimp: list " + ls.ID + ": a tag without an id or name, or twice")
			}
			l.tags[t.ID], byName[t.Name] = &tag{id: t.ID, name: t.Name}, t.ID
		}
		for _, ms := range ls.Members {
			if len(ms.Hash) != 32 || !validStatus(ms.Status) || l.members[ms.Hash] != nil {
				return errors.New("mailchimp: list " + ls.ID + ": a member without a subscriber hash or status, or twice")
			}
			m := &member{status: ms.Status, tags: map[string]bool{}, merge: maps.Clone(ms.Merge), created: ms.Created, updated: ms.Updated}
			for _, name := range ms.Tags {
				tid := byName[name]
				if tid == "" {
					return errors.New("mailchimp: list " + ls.ID + ": a member has an unknown tag")
				}
				m.tags[tid] = true
			}
			l.members[ms.Hash] = m
		}
		lists[ls.ID] = l
	}
	if lists[mailchimp.ReplicaListID] == nil {
		lists[mailchimp.ReplicaListID] = newList(mailchimp.ReplicaListID, "Sandbox shop")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists, s.nextID = lists, max(snap.NextID, 10_000)
	s.blocked = map[string]bool{}
	for _, h := range snap.Blocked {
		s.blocked[h] = true
	}
	return nil
}
