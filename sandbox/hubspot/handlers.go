package hubspot

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// listPrefixes are the Lists API's base paths: v3 and its dated twin.
var listPrefixes = []string{"/crm/v3/lists", "/crm/lists/2026-03"}

const contactsPrefix = "/crm/v3/objects/contacts"

func (s *Server) route(r *http.Request) wire.Call {
	path := r.URL.EscapedPath()
	m := r.Method
	switch path {
	case "/oauth/v1/token", "/oauth/2026-03/token":
		if m == http.MethodPost {
			return wire.Call{Endpoint: "token", Handler: s.token}
		}
		return wire.Call{}
	}
	if rest, ok := strings.CutPrefix(path, contactsPrefix); ok {
		parts := segments(rest)
		switch {
		case len(parts) == 2 && parts[0] == "batch" && parts[1] == "read" && m == http.MethodPost:
			return wire.Call{Endpoint: "batchread", Handler: s.batchRead}
		case len(parts) == 0 && m == http.MethodPost:
			return wire.Call{Endpoint: "contacts", Handler: s.createContact}
		case len(parts) == 1 && (m == http.MethodPatch || m == http.MethodDelete || m == http.MethodGet):
			return wire.Call{Endpoint: "contacts", Handler: s.contactByID, ID: parts[0]}
		}
		return wire.Call{}
	}
	for _, p := range listPrefixes {
		rest, ok := strings.CutPrefix(path, p)
		if !ok {
			continue
		}
		parts := segments(rest)
		switch {
		case len(parts) == 1 && parts[0] == "search" && m == http.MethodPost:
			return wire.Call{Endpoint: "search", Handler: s.searchLists}
		case len(parts) == 1 && parts[0] == "idmapping" && m == http.MethodGet:
			return wire.Call{Endpoint: "idmapping", Handler: s.idMapping}
		case len(parts) == 4 && parts[0] == "object-type-id" && parts[2] == "name" && m == http.MethodGet:
			return wire.Call{Endpoint: "lists", Handler: s.listByName, Tail: parts[1:]}
		case len(parts) == 1 && m == http.MethodGet:
			return wire.Call{Endpoint: "lists", Handler: s.getList, ID: parts[0]}
		case len(parts) == 2 && parts[1] == "memberships" && m == http.MethodGet:
			return wire.Call{Endpoint: "memberships", Handler: s.memberships, ID: parts[0]}
		case len(parts) == 3 && parts[1] == "memberships" && (parts[2] == "add" || parts[2] == "remove") && m == http.MethodPut:
			return wire.Call{Endpoint: "memberships", Handler: s.changeMembers, ID: parts[0], Tail: parts[2:]}
		}
		return wire.Call{}
	}
	return wire.Call{}
}

// segments splits an escaped path remainder into unescaped segments.
func segments(rest string) []string {
	rest = strings.Trim(rest, "/")
	if rest == "" {
		return nil
	}
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	return parts
}

// apiError is HubSpot's error body.
type apiError struct {
	Status        string         `json:"status"`
	Message       string         `json:"message"`
	CorrelationID string         `json:"correlationId"`
	Category      string         `json:"category,omitempty"`
	ErrorType     string         `json:"errorType,omitempty"`
	PolicyName    string         `json:"policyName,omitempty"`
	Context       map[string]any `json:"context,omitempty"`
}

func correlationID() string {
	h := wire.RandomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	wire.WriteJSON(w, status, "application/json;charset=utf-8", v)
}

func writeError(w http.ResponseWriter, status int, category, msg string) {
	writeJSON(w, status, apiError{Status: "error", Message: msg, CorrelationID: correlationID(), Category: category})
}

func writeRateLimit(w http.ResponseWriter, policy, msg string) {
	writeJSON(w, http.StatusTooManyRequests, apiError{Status: "error", Message: msg, CorrelationID: correlationID(),
		ErrorType: "RATE_LIMIT", PolicyName: policy})
}

func badRequest(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", msg)
}

// readJSON decodes a request body of at most wire.MaxCallBody bytes.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	var b bytes.Buffer
	if err := wire.ReadBody(&b, r, wire.MaxCallBody); err != nil {
		badRequest(w, "The request body could not be read or is too large.")
		return false
	}
	if err := json.Unmarshal(b.Bytes(), v); err != nil {
		badRequest(w, "Invalid input JSON: "+err.Error())
		return false
	}
	return true
}

// listJSON is a list as the Lists API shows it.
type listJSON struct {
	ListID               string            `json:"listId"`
	LegacyListID         string            `json:"legacyListId,omitempty"`
	ListVersion          int               `json:"listVersion"`
	Name                 string            `json:"name"`
	ObjectTypeID         string            `json:"objectTypeId"`
	ProcessingType       string            `json:"processingType"`
	ProcessingStatus     string            `json:"processingStatus"`
	Size                 *int              `json:"size,omitempty"`
	AdditionalProperties map[string]string `json:"additionalProperties,omitempty"`
	CreatedAt            string            `json:"createdAt"`
	UpdatedAt            string            `json:"updatedAt"`
}

func showList(l *listRec, search bool) listJSON {
	out := listJSON{ListID: l.ID, LegacyListID: l.LegacyID, ListVersion: 1, Name: l.Name, ObjectTypeID: l.ObjectTypeID,
		ProcessingType: l.ProcessingType, ProcessingStatus: "COMPLETE",
		CreatedAt: stamp(l.Created), UpdatedAt: stamp(l.Created)}
	n := len(l.Members)
	// A fetched list states its size; search results carry it among the
	// additional properties only.
	if search {
		out.AdditionalProperties = map[string]string{"hs_list_size": strconv.Itoa(n)}
	} else {
		out.Size = &n
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// listLocked returns list id, or answers 404 and returns nil; the
// replica's lock is held.
func (s *Server) listLocked(w http.ResponseWriter, id string) *listRec {
	l, ok := s.data.lists.Get(id)
	if !ok {
		writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "List does not exist with ID "+id+".")
		return nil
	}
	return l
}

func (s *Server) getList(w http.ResponseWriter, _ *http.Request, rt wire.Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listLocked(w, rt.ID)
	if l == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"list": showList(l, false)})
}

func (s *Server) listByName(w http.ResponseWriter, _ *http.Request, rt wire.Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.data.byName(rt.Tail[0], rt.Tail[2])
	if l == nil {
		writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", fmt.Sprintf("List does not exist with name %q for object type %s.", rt.Tail[2], rt.Tail[0]))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"list": showList(l, false)})
}

func (s *Server) idMapping(w http.ResponseWriter, r *http.Request, _ wire.Call) {
	legacy := r.URL.Query().Get("legacyListId")
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.data.byLegacy(legacy)
	if legacy == "" || l == nil {
		writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "No list found with legacy list id "+legacy+".")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"legacyListId": legacy, "listId": l.ID})
}

func (s *Server) searchLists(w http.ResponseWriter, r *http.Request, _ wire.Call) {
	var req struct {
		Query           string   `json:"query"`
		Offset          int      `json:"offset"`
		Count           *int     `json:"count"`
		ProcessingTypes []string `json:"processingTypes"`
		ListIDs         []string `json:"listIds"`
		ObjectTypeID    string   `json:"objectTypeId"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	count := 20
	if req.Count != nil {
		count = *req.Count
	}
	if count < 1 || count > 500 || req.Offset < 0 {
		badRequest(w, "count must be between 1 and 500 and offset not negative.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []listJSON
	for _, l := range s.data.lists.All() {
		switch {
		case req.Query != "" && !strings.Contains(strings.ToLower(l.Name), strings.ToLower(req.Query)),
			len(req.ProcessingTypes) > 0 && !slices.Contains(req.ProcessingTypes, l.ProcessingType),
			len(req.ListIDs) > 0 && !slices.Contains(req.ListIDs, l.ID),
			req.ObjectTypeID != "" && req.ObjectTypeID != l.ObjectTypeID:
			continue
		}
		match = append(match, showList(l, true))
	}
	from := min(req.Offset, len(match))
	to := min(from+count, len(match))
	writeJSON(w, http.StatusOK, map[string]any{"lists": append([]listJSON{}, match[from:to]...),
		"hasMore": to < len(match), "offset": to, "total": len(match)})
}

// cursor encodes the last record id of a page as an opaque after token.
func cursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("m:" + strconv.FormatInt(id, 10)))
}

func parseCursor(after string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(after)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), "m:")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil
}

type membership struct {
	RecordID            string `json:"recordId"`
	MembershipTimestamp string `json:"membershipTimestamp"`
}

func (s *Server) memberships(w http.ResponseWriter, r *http.Request, rt wire.Call) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxMembershipPage {
			badRequest(w, fmt.Sprintf("limit must be between 1 and %d.", MaxMembershipPage))
			return
		}
		limit = n
	}
	var after int64 = -1
	if v := q.Get("after"); v != "" {
		id, ok := parseCursor(v)
		if !ok {
			badRequest(w, "The after cursor is not valid: use paging.next.after from the previous page.")
			return
		}
		after = id
	}
	s.mu.Lock()
	l := s.listLocked(w, rt.ID)
	if l == nil {
		s.mu.Unlock()
		return
	}
	i := 0
	if after >= 0 {
		i, _ = slices.BinarySearch(l.Members, after+1)
	}
	page := l.Members[i:min(i+limit, len(l.Members))]
	more := i+len(page) < len(l.Members)
	total := len(l.Members)
	ts := stamp(l.Created)
	s.mu.Unlock()
	results := make([]membership, len(page))
	for j, id := range page {
		results[j] = membership{RecordID: strconv.FormatInt(id, 10), MembershipTimestamp: ts}
	}
	body := map[string]any{"results": results, "total": total}
	if more {
		next := cursor(page[len(page)-1])
		link := r.URL.Path + "?" + url.Values{"after": {next}, "limit": {strconv.Itoa(limit)}}.Encode()
		body["paging"] = map[string]any{"next": map[string]string{"after": next, "link": link}}
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) changeMembers(w http.ResponseWriter, r *http.Request, rt wire.Call) {
	var raw []json.Number
	if !readJSON(w, r, &raw) {
		return
	}
	ids := make([]int64, 0, len(raw))
	for _, n := range raw {
		id, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			badRequest(w, "Record ids must be numbers.")
			return
		}
		ids = append(ids, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listLocked(w, rt.ID)
	if l == nil {
		return
	}
	if l.ProcessingType == DynamicList {
		badRequest(w, "List "+l.ID+" is a DYNAMIC list: its memberships follow its filters and cannot be changed by hand.")
		return
	}
	add := rt.Tail[0] == "add"
	changed, missing := l.setMembers(&s.data, ids, add)
	key := "recordIdsRemoved"
	if add {
		key = "recordIdsAdded"
	}
	writeJSON(w, http.StatusOK, map[string]any{key: idStrings(changed), "recordIdsMissing": idStrings(missing)})
}

func idStrings(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.FormatInt(id, 10)
	}
	return out
}

// contactJSON is a contact as the objects API shows it.
type contactJSON struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
	CreatedAt  string             `json:"createdAt"`
	UpdatedAt  string             `json:"updatedAt"`
	Archived   bool               `json:"archived"`
}

// defaultProperties are returned when a read names none.
var defaultProperties = []string{"email", "firstname", "lastname"}

func showContact(id int64, props map[string]string, want []string) contactJSON {
	if len(want) == 0 {
		want = defaultProperties
	}
	out := contactJSON{ID: strconv.FormatInt(id, 10), Properties: make(map[string]*string, len(want)+3),
		CreatedAt: "2026-01-05T09:00:00.000Z", UpdatedAt: "2026-01-05T09:00:00.000Z"}
	for _, p := range want {
		if v, ok := props[p]; ok {
			out.Properties[p] = &v
		} else {
			out.Properties[p] = nil // HubSpot names every requested property
		}
	}
	sid, created := out.ID, out.CreatedAt
	out.Properties["hs_object_id"] = &sid
	out.Properties["createdate"] = &created
	out.Properties["lastmodifieddate"] = &created
	return out
}

func (s *Server) batchRead(w http.ResponseWriter, r *http.Request, _ wire.Call) {
	var req struct {
		Inputs []struct {
			ID json.RawMessage `json:"id"`
		} `json:"inputs"`
		Properties            []string `json:"properties"`
		PropertiesWithHistory []string `json:"propertiesWithHistory"`
		IDProperty            string   `json:"idProperty"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	limit := MaxBatchRead
	if len(req.PropertiesWithHistory) > 0 {
		limit = 50
	}
	switch {
	case len(req.Inputs) == 0:
		badRequest(w, "inputs must name at least one object.")
		return
	case len(req.Inputs) > limit:
		badRequest(w, fmt.Sprintf("Batch input size %d exceeds the limit of %d inputs.", len(req.Inputs), limit))
		return
	case req.IDProperty != "" && req.IDProperty != "hs_object_id":
		badRequest(w, "This replica reads contacts by record id only (idProperty hs_object_id).")
		return
	}
	results := make([]contactJSON, 0, len(req.Inputs))
	var missing []string
	s.mu.Lock()
	for _, in := range req.Inputs {
		var sid string
		if json.Unmarshal(in.ID, &sid) != nil {
			s.mu.Unlock()
			badRequest(w, "Each input id must be a string.")
			return
		}
		id, err := strconv.ParseInt(sid, 10, 64)
		var props map[string]string
		if err == nil {
			props = s.data.contact(id)
		}
		if props == nil {
			missing = append(missing, sid)
			continue
		}
		results = append(results, showContact(id, props, req.Properties))
	}
	s.mu.Unlock()
	now := stamp(s.opts.Now())
	body := map[string]any{"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
	if len(missing) == 0 {
		writeJSON(w, http.StatusOK, body)
		return
	}
	body["numErrors"] = 1
	body["errors"] = []apiError{{Status: "error", Category: "OBJECT_NOT_FOUND",
		Message: "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
		Context: map[string]any{"ids": missing}}}
	writeJSON(w, http.StatusMultiStatus, body)
}

// readProperties reads a contact body, {"properties":{…}}.
func readProperties(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	var req struct {
		Properties map[string]string `json:"properties"`
	}
	if !readJSON(w, r, &req) {
		return nil, false
	}
	return req.Properties, true
}

func (s *Server) createContact(w http.ResponseWriter, r *http.Request, _ wire.Call) {
	props, ok := readProperties(w, r)
	if !ok {
		return
	}
	props = maps.Clone(props)
	if props == nil {
		props = map[string]string{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.data.nextContact
	s.data.nextContact++
	s.data.contacts[id] = props
	writeJSON(w, http.StatusCreated, showContact(id, props, slices.Sorted(maps.Keys(props))))
}

func (s *Server) contactByID(w http.ResponseWriter, r *http.Request, rt wire.Call) {
	id, err := strconv.ParseInt(rt.ID, 10, 64)
	s.mu.Lock()
	var props map[string]string
	if err == nil {
		props = s.data.contact(id)
	}
	if props == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "resource not found")
		return
	}
	switch r.Method {
	case http.MethodDelete:
		s.data.archived[id] = true
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet:
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, showContact(id, props, strings.Split(r.URL.Query().Get("properties"), ",")))
		return
	}
	s.mu.Unlock()
	update, ok := readProperties(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := maps.Clone(s.data.contact(id))
	if changed == nil { // archived meanwhile
		writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "resource not found")
		return
	}
	for k, v := range update {
		if v == "" {
			delete(changed, k)
		} else {
			changed[k] = v
		}
	}
	s.data.contacts[id] = changed
	writeJSON(w, http.StatusOK, showContact(id, changed, nil))
}

// token is the OAuth token endpoint: a refresh token of the replica's app
// for a new access token.
func (s *Server) token(w http.ResponseWriter, r *http.Request, _ wire.Call) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "BAD_REQUEST", "message": "The body must be form-encoded."})
		return
	}
	f := r.PostForm
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	oauthErr := func(status, msg string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": status, "message": msg, "correlationId": correlationID()})
	}
	switch {
	case f.Get("grant_type") != "refresh_token":
		oauthErr("BAD_GRANT_TYPE", "grant_type must be refresh_token here (authorization_code needs a browser).")
	case id != replicacreds.ClientID:
		oauthErr("BAD_CLIENT_ID", "missing or unknown client id")
	case secret != replicacreds.ClientSecret:
		oauthErr("BAD_CLIENT_SECRET", "missing or invalid client secret")
	case f.Get("refresh_token") != replicacreds.RefreshToken:
		oauthErr("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
	default:
		tok, secs := s.issueToken()
		writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "refresh_token": replicacreds.RefreshToken,
			"token_type": "bearer", "expires_in": secs})
	}
}
