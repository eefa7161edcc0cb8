package googledm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Snapshot is the replica's durable state, for saving between runs: the
// user lists with their members and the requests a client may still poll.
// It holds what the replica stores — hashes and the values Google takes in
// clear — and nothing else: no tokens.
type Snapshot struct {
	UserLists []ListSnapshot    `json:"user_lists"`
	Requests  []RequestSnapshot `json:"requests"`
	// NextListID and NextRequest keep new ids from reusing old ones.
	NextListID  int64 `json:"next_list_id"`
	NextRequest int64 `json:"next_request"`
}

// ListSnapshot is one user list.
type ListSnapshot struct {
	Account string    `json:"account"`
	Created time.Time `json:"created"`
	// Resource is the stored UserList resource in the API's JSON (without
	// the output-only fields the replica computes when answering).
	Resource json.RawMessage `json:"resource"`
	wire.SavedMembers
}

// RequestSnapshot is one request whose status requestStatus:retrieve
// reports.
type RequestSnapshot struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"` // ingest, remove or removeAll
	Polls int    `json:"polls"`
	// Destinations are the per-destination outcomes, in request order.
	Destinations []OutcomeSnapshot `json:"destinations"`
}

// OutcomeSnapshot is the processing result of a request for one
// destination: the counts requestStatus:retrieve reports.
type OutcomeSnapshot struct {
	// Destination is the request's Destination in the API's JSON.
	Destination   json.RawMessage  `json:"destination"`
	UserRecords   int64            `json:"user_records"`
	UserIDs       int64            `json:"user_ids"`
	MobileRecords int64            `json:"mobile_records"`
	MobileIDs     int64            `json:"mobile_ids"`
	Hashed        int64            `json:"hashed"`
	Matched       int64            `json:"matched"`
	Errors        map[string]int64 `json:"errors,omitempty"`
}

// empty forgets every user list, member and request (wire.Core.Reset).
func (s *Server) empty() {
	s.lists = wire.NewAudiences[list](9000000000, 10)
	s.requests = map[string]*requestRecord{}
	s.nextReq = 0
}

// Snapshot returns the replica's state.
func (s *Server) Snapshot() Snapshot {
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	snap := Snapshot{
		UserLists: wire.List(&s.lists, func(_ string, l *list) ListSnapshot {
			res, _ := json.Marshal(l.res) // plain structs: cannot fail
			return ListSnapshot{Account: l.account, Created: l.created, Resource: res, SavedMembers: l.members.Save()}
		}),
		Requests:    make([]RequestSnapshot, 0, len(s.requests)),
		NextListID:  s.lists.Next(),
		NextRequest: s.nextReq,
	}
	for id, rec := range s.requests {
		rs := RequestSnapshot{ID: id, Kind: rec.kind, Polls: rec.polls, Destinations: make([]OutcomeSnapshot, 0, len(rec.dests))}
		for _, o := range rec.dests {
			dest, _ := json.Marshal(o.dest)
			rs.Destinations = append(rs.Destinations, OutcomeSnapshot{
				Destination: dest, UserRecords: o.userRecords, UserIDs: o.userIDs,
				MobileRecords: o.mobileRecords, MobileIDs: o.mobileIDs,
				Hashed: o.hashed, Matched: o.matched, Errors: o.errors,
			})
		}
		snap.Requests = append(snap.Requests, rs)
	}
	sort.Slice(snap.Requests, func(i, j int) bool { return snap.Requests[i].ID < snap.Requests[j].ID })
	return snap
}

// Restore replaces the replica's state with snap. It checks snap first and
// changes nothing if it is inconsistent.
func (s *Server) Restore(snap Snapshot) error {
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	lists, err := wire.RestoreAudiences(&s.lists, "user list", snap.UserLists, snap.NextListID, restoreList)
	if err != nil {
		return err
	}
	requests := make(map[string]*requestRecord, len(snap.Requests))
	for i, rs := range snap.Requests {
		rec, err := restoreRequest(rs)
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if _, dup := requests[rs.ID]; dup {
			return fmt.Errorf("request %d: id %s is used twice", i, rs.ID)
		}
		requests[rs.ID] = rec
	}
	s.lists, s.requests, s.nextReq = lists, requests, snap.NextRequest
	return nil
}

// restoreList rebuilds a user list and its id from its snapshot.
func restoreList(ls ListSnapshot) (string, *list, error) {
	var res userList
	if err := decodeSnapshot(ls.Resource, &res); err != nil {
		return "", nil, fmt.Errorf("resource: %w", err)
	}
	if res.ID == "" || ls.Account == "" {
		return "", nil, errors.New("id and account are required")
	}
	members, err := ls.SavedMembers.Set()
	if err != nil {
		return "", nil, err
	}
	return res.ID, &list{account: ls.Account, res: res, members: members, created: ls.Created}, nil
}

func restoreRequest(rs RequestSnapshot) (*requestRecord, error) {
	switch {
	case rs.ID == "":
		return nil, errors.New("id is required")
	case rs.Kind != "ingest" && rs.Kind != "remove" && rs.Kind != "removeAll":
		return nil, fmt.Errorf("kind %q is not ingest, remove or removeAll", rs.Kind)
	case rs.Polls < 0:
		return nil, errors.New("polls must not be negative")
	}
	rec := &requestRecord{kind: rs.Kind, polls: rs.Polls}
	for j, o := range rs.Destinations {
		var d destination
		if err := decodeSnapshot(o.Destination, &d); err != nil {
			return nil, fmt.Errorf("destination %d: %w", j, err)
		}
		errs := o.Errors
		if errs == nil {
			errs = map[string]int64{}
		}
		rec.dests = append(rec.dests, outcome{
			dest: d, userRecords: o.UserRecords, userIDs: o.UserIDs,
			mobileRecords: o.MobileRecords, mobileIDs: o.MobileIDs,
			hashed: o.Hashed, matched: o.Matched, errors: errs,
		})
	}
	return rec, nil
}

// decodeSnapshot decodes an embedded API resource, refusing unknown fields.
func decodeSnapshot(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
