package mailchimp

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// problem is Mailchimp's error body.
type problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail"`
	Instance string       `json:"instance"`
	Errors   []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func newProblem(status int, title, detail string) *problem {
	return &problem{Type: "https://mailchimp.com/developer/marketing/docs/errors/", Title: title, Status: status, Detail: detail}
}

func invalid(detail string, errs ...fieldError) *problem {
	p := newProblem(http.StatusBadRequest, "Invalid Resource", detail)
	p.Errors = errs
	return p
}

func notFound() *problem {
	return newProblem(http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
}

// decodeBody decodes the request's JSON body strictly into v.
func decodeBody(req *request, v any) *problem {
	if err := wire.DecodeStrict(req.body, v); err != nil {
		return invalid("The request body could not be read: " + err.Error())
	}
	return nil
}

func writeProblem(w http.ResponseWriter, _ *http.Request, p *problem) {
	p.Instance = requestID()
	wire.WriteJSON(w, p.Status, "application/problem+json; charset=utf-8", p)
}

var ids atomic.Int64

// requestID is the instance id every error carries.
func requestID() string {
	return "00000000-0000-4000-8000-" + strconv.FormatInt(100000000000+ids.Add(1)%100000000000, 10)
}

func writeOK(w http.ResponseWriter, v any) {
	wire.WriteJSON(w, http.StatusOK, "application/json; charset=utf-8", v)
}

// Statuses a list member can have.
var statuses = []string{"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}

// locked reports a status the API does not change: Mailchimp keeps an
// unsubscribed or cleaned contact so until the contact acts.
func locked(status string) bool { return status == "unsubscribed" || status == "cleaned" }

// memberRef is a member as batch and tag answers name it.
type memberRef struct {
	ID           string `json:"id"`
	EmailAddress string `json:"email_address"`
	Status       string `json:"status"`
}

// memberIn is a member as the API takes it.
type memberIn struct {
	EmailAddress string            `json:"email_address"`
	Status       string            `json:"status,omitempty"`
	StatusIfNew  string            `json:"status_if_new,omitempty"`
	EmailType    string            `json:"email_type,omitempty"`
	MergeFields  map[string]string `json:"merge_fields,omitempty"`
}

// checkAddress refuses what Mailchimp refuses as an address.
func checkAddress(email string) string {
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return email + " looks fake or invalid, please enter a real email address."
	}
	_, domain, _ := strings.Cut(email, "@")
	if !strings.Contains(domain, ".") || strings.HasSuffix(domain, ".invalid") {
		return email + " looks fake or invalid, please enter a real email address."
	}
	return ""
}

func validStatus(s string) bool { return slices.Contains(statuses, s) }

// upsertLocked creates or updates one member of l; put is PUT's upsert
// (status_if_new for a new contact), otherwise the batch's, whose update
// says update_existing. It returns the member's error code and message.
func (s *Server) upsertLocked(l *list, in *memberIn, put, update bool) (m *member, created bool, code, msg string) {
	if bad := checkAddress(in.EmailAddress); bad != "" {
		return nil, false, "ERROR_GENERIC", bad
	}
	hash := SubscriberHash(in.EmailAddress)
	now := s.opts.Now()
	m, exists := l.members[hash]
	switch {
	case !exists && s.blocked[hash]:
		return nil, false, "ERROR_GENERIC", in.EmailAddress + " is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."
	case exists && !put && !update:
		return nil, false, "ERROR_CONTACT_EXISTS", in.EmailAddress + " is already a list member. Use PUT to insert or update list members."
	case exists:
		if in.Status != "" && in.Status != m.status && locked(m.status) {
			return nil, false, "ERROR_GENERIC", in.EmailAddress + " is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."
		}
		if in.Status != "" {
			m.status = in.Status
		}
		m.setMerge(in.MergeFields)
		m.updated = now
		return m, false, "", ""
	}
	status := in.Status
	if status == "" && put {
		status = in.StatusIfNew
	}
	if status == "" {
		return nil, false, "ERROR_GENERIC", "status: a new member needs a status"
	}
	m = &member{status: status, tags: map[string]bool{}, created: now, updated: now}
	m.setMerge(in.MergeFields)
	l.members[hash] = m
	return m, true, "", ""
}

func (m *member) setMerge(fields map[string]string) {
	for k, v := range fields {
		if m.merge == nil {
			m.merge = map[string]string{}
		}
		m.merge[k] = ValueDigest(v)
	}
}

// ValueDigest is how the replica keeps a merge field's value: its SHA-256
// in hex.
func ValueDigest(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

func checkStatuses(in *memberIn) *problem {
	for _, st := range []string{in.Status, in.StatusIfNew} {
		if st != "" && !validStatus(st) {
			return invalid("Invalid status: use one of " + strings.Join(statuses, ", "))
		}
	}
	return nil
}

func (s *Server) batch(w http.ResponseWriter, _ *http.Request, req *request, l *list) *problem {
	var in struct {
		Members        []memberIn `json:"members"`
		UpdateExisting bool       `json:"update_existing"`
	}
	if p := decodeBody(req, &in); p != nil {
		return p
	}
	if len(in.Members) > MaxBatch {
		return invalid("You may only add or update 500 members with each API call.")
	}
	type memberErr struct {
		EmailAddress string `json:"email_address"`
		Error        string `json:"error"`
		ErrorCode    string `json:"error_code"`
	}
	resp := struct {
		New     []memberRef `json:"new_members"`
		Updated []memberRef `json:"updated_members"`
		Errors  []memberErr `json:"errors"`
		Created int         `json:"total_created"`
		Updates int         `json:"total_updated"`
		Count   int         `json:"error_count"`
	}{New: []memberRef{}, Updated: []memberRef{}, Errors: []memberErr{}}
	for i := range in.Members {
		mi := &in.Members[i]
		if p := checkStatuses(mi); p != nil {
			return p
		}
		if mi.StatusIfNew != "" {
			return invalid("members[" + strconv.Itoa(i) + "].status_if_new is not a field of a batch member: send status")
		}
		m, created, code, msg := s.upsertLocked(l, mi, false, in.UpdateExisting)
		switch {
		case code != "":
			resp.Errors = append(resp.Errors, memberErr{EmailAddress: mi.EmailAddress, Error: msg, ErrorCode: code})
		case created:
			resp.New = append(resp.New, memberRef{ID: SubscriberHash(mi.EmailAddress), EmailAddress: mi.EmailAddress, Status: m.status})
		default:
			resp.Updated = append(resp.Updated, memberRef{ID: SubscriberHash(mi.EmailAddress), EmailAddress: mi.EmailAddress, Status: m.status})
		}
	}
	resp.Created, resp.Updates, resp.Count = len(resp.New), len(resp.Updated), len(resp.Errors)
	writeOK(w, resp)
	return nil
}

func (s *Server) putMember(w http.ResponseWriter, _ *http.Request, req *request, l *list) *problem {
	var in memberIn
	if p := decodeBody(req, &in); p != nil {
		return p
	}
	if p := checkStatuses(&in); p != nil {
		return p
	}
	if in.EmailAddress == "" || SubscriberHash(in.EmailAddress) != req.hash {
		return invalid("The resource submitted could not be validated.",
			fieldError{Field: "email_address", Message: "The email address does not match the subscriber hash in the path."})
	}
	if m, ok := l.members[req.hash]; ok && in.Status != "" && in.Status != m.status && locked(m.status) {
		return newProblem(http.StatusBadRequest, "Member In Compliance State",
			in.EmailAddress+" is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.")
	}
	m, _, code, msg := s.upsertLocked(l, &in, true, true)
	if code != "" {
		return invalid(msg)
	}
	writeOK(w, s.memberView(l, req.hash, m))
	return nil
}

func (s *Server) memberView(l *list, hash string, m *member) map[string]any {
	var tags []map[string]string
	for id := range m.tags {
		tags = append(tags, map[string]string{"id": id, "name": l.tags[id].name})
	}
	return map[string]any{"id": hash, "status": m.status, "list_id": l.id, "tags": tags, "tags_count": len(tags)}
}

func (s *Server) getMember(w http.ResponseWriter, _ *http.Request, req *request, l *list) *problem {
	m, ok := l.members[req.hash]
	if !ok {
		return notFound()
	}
	writeOK(w, s.memberView(l, req.hash, m))
	return nil
}

// tagNamed returns l's tag of name, creating it when create.
func (s *Server) tagNamedLocked(l *list, name string, create bool) *tag {
	for _, t := range l.tags {
		if t.name == name {
			return t
		}
	}
	if !create {
		return nil
	}
	s.nextID++
	t := &tag{id: strconv.FormatInt(s.nextID, 10), name: name}
	l.tags[t.id] = t
	return t
}

func (s *Server) memberTags(w http.ResponseWriter, _ *http.Request, req *request, l *list) *problem {
	var in struct {
		Tags []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"tags"`
		IsSyncing bool `json:"is_syncing"`
	}
	if p := decodeBody(req, &in); p != nil {
		return p
	}
	for _, t := range in.Tags {
		if t.Name == "" || (t.Status != "active" && t.Status != "inactive") {
			return invalid("Each tag needs a name and a status of active or inactive.")
		}
	}
	m, ok := l.members[req.hash]
	if !ok {
		return notFound()
	}
	for _, t := range in.Tags {
		tg := s.tagNamedLocked(l, t.Name, t.Status == "active")
		switch {
		case tg == nil:
		case t.Status == "active":
			m.tags[tg.id] = true
		default:
			delete(m.tags, tg.id)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type segmentView struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	MemberCount int    `json:"member_count"`
	ListID      string `json:"list_id"`
}

func (l *list) view(t *tag) segmentView {
	n := 0
	for _, m := range l.members {
		if m.tags[t.id] {
			n++
		}
	}
	id, _ := strconv.Atoi(t.id)
	return segmentView{ID: id, Name: t.name, Type: "static", MemberCount: n, ListID: l.id}
}

func (s *Server) listSegments(w http.ResponseWriter, r *http.Request, req *request, l *list) *problem {
	q := r.URL.Query()
	count, offset := 10, 0
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return invalid("count must be 1 to 1000")
		}
		count = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalid("offset must be a number")
		}
		offset = n
	}
	if t := q.Get("type"); t != "" && t != "static" && t != "saved" && t != "fuzzy" {
		return invalid("type must be saved, static or fuzzy")
	}
	var all []segmentView
	for _, t := range l.tags {
		all = append(all, l.view(t))
	}
	slices.SortFunc(all, func(a, b segmentView) int { return a.ID - b.ID })
	total := len(all)
	all = all[min(offset, total):min(offset+count, total)]
	writeOK(w, map[string]any{"segments": append([]segmentView{}, all...), "list_id": l.id, "total_items": total})
	return nil
}

func (s *Server) createSegment(w http.ResponseWriter, _ *http.Request, req *request, l *list) *problem {
	var in struct {
		Name          string   `json:"name"`
		StaticSegment []string `json:"static_segment"`
	}
	if p := decodeBody(req, &in); p != nil {
		return p
	}
	if in.Name == "" || in.StaticSegment == nil {
		return invalid("A tag needs a name and a static_segment (an array, empty for none).")
	}
	if s.tagNamedLocked(l, in.Name, false) != nil {
		return invalid("Sorry, that tag already exists.")
	}
	t := s.tagNamedLocked(l, in.Name, true)
	for _, e := range in.StaticSegment {
		if m, ok := l.members[SubscriberHash(e)]; ok {
			m.tags[t.id] = true
		}
	}
	writeOK(w, l.view(t))
	return nil
}

func (s *Server) segmentMembers(w http.ResponseWriter, _ *http.Request, req *request, l *list) *problem {
	var in struct {
		Add    []string `json:"members_to_add"`
		Remove []string `json:"members_to_remove"`
	}
	if p := decodeBody(req, &in); p != nil {
		return p
	}
	if len(in.Add) > MaxBatch || len(in.Remove) > MaxBatch {
		return invalid("You may only add or remove 500 members with each API call.")
	}
	t, ok := l.tags[req.segment]
	if !ok {
		return newProblem(http.StatusNotFound, "Resource Not Found", "The requested segment was not found.")
	}
	type segErr struct {
		Emails []string `json:"email_addresses"`
		Error  string   `json:"error"`
	}
	var missing []string
	resp := struct {
		Added   []memberRef `json:"members_added"`
		Removed []memberRef `json:"members_removed"`
		Errors  []segErr    `json:"errors"`
		NAdded  int         `json:"total_added"`
		NRem    int         `json:"total_removed"`
		NErr    int         `json:"error_count"`
	}{Added: []memberRef{}, Removed: []memberRef{}, Errors: []segErr{}}
	// Additions first, then removals, each address reported where it went.
	for _, op := range []struct {
		emails []string
		add    bool
		done   *[]memberRef
	}{{in.Add, true, &resp.Added}, {in.Remove, false, &resp.Removed}} {
		for _, e := range op.emails {
			h := SubscriberHash(e)
			m, ok := l.members[h]
			if !ok {
				missing = append(missing, e)
				continue
			}
			if op.add {
				m.tags[t.id] = true
			} else {
				delete(m.tags, t.id)
			}
			*op.done = append(*op.done, memberRef{ID: h, EmailAddress: e, Status: m.status})
		}
	}
	if len(missing) > 0 {
		resp.Errors = append(resp.Errors, segErr{Emails: missing, Error: "Email addresses are not members of the list."})
	}
	resp.NAdded, resp.NRem, resp.NErr = len(resp.Added), len(resp.Removed), len(missing)
	writeOK(w, resp)
	return nil
}
