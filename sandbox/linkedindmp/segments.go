package linkedindmp

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// accountURN is how an ad account is named in bodies and queries.
const accountURN = "urn:li:sponsoredAccount:"

// MinAudience is how many matched members a segment needs before LinkedIn
// serves it; below it the replica reports an audienceSize of 0.
const MinAudience = 300

// segment is one DMP segment.
type segment struct {
	wire.Audience
	kind, source string
	policy       string
	polls        int // reads while BUILDING
	// matched is how many of the members' people match a LinkedIn
	// member, while counted is set (a change clears it).
	matched int
	counted bool
}

// matchedPeople is how many people of the segment match a LinkedIn
// member, as LinkedIn counts the users it matched: a person is an
// element of a users batch, known by its first id (wire.Set), and
// matches when that id does. s.mu is held.
func (sg *segment) matchedPeople() int {
	if !sg.counted {
		sg.matched, sg.counted = sg.Members.PeopleWhere(matches), true
	}
	return sg.matched
}

// ready reports whether the segment has been read often enough to be
// available.
func (s *Server) ready(sg *segment) bool { return sg.polls >= s.opts.PollsBeforeReady }

// matches reports whether a stored identifier finds a LinkedIn member:
// a hashed e-mail deterministically (about 70%, see wire.Matches), every
// advertising id.
func matches(id string) bool {
	if wire.IsSHA256Hex(id) || len(id) == 128 {
		return wire.Matches(id, 0xb3)
	}
	return true
}

// render is the segment as the API answers it; s.mu is held. LinkedIn's
// documents put a segment's status at the top level in some places and
// in its destinations in others, so the replica gives it in both.
func (s *Server) render(sg *segment) map[string]any {
	status := "BUILDING"
	if s.ready(sg) {
		status = "READY"
	}
	matched := sg.matchedPeople()
	size := 0
	if matched >= MinAudience {
		size = matched
	}
	id, _ := strconv.ParseInt(sg.ID, 10, 64)
	return map[string]any{
		"id": id, "name": sg.Name, "description": sg.Description,
		"account": accountURN + sg.Account, "type": sg.kind, "sourcePlatform": sg.source,
		"accessPolicy": sg.policy, "status": status,
		"inputCount": sg.Members.People(), "matchedCount": matched, "audienceSize": size,
		"destinations": []map[string]any{{
			"destination": "LINKEDIN", "status": status, "matchedCount": matched, "audienceSize": size,
		}},
		"created":      map[string]int64{"time": sg.Created.UnixMilli()},
		"lastModified": map[string]int64{"time": sg.Updated.UnixMilli()},
	}
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	writeJSON(w, http.StatusOK, map[string]any{
		"id": req.account, "name": "Sandbox ad account " + req.account, "status": "ACTIVE",
		"type": "BUSINESS", "currency": "USD", "reference": "urn:li:organization:1",
		"test": false, "servingStatuses": []string{"RUNNABLE"},
	})
	return nil
}

// createBody is POST /rest/dmpSegments.
type createBody struct {
	Name           string `json:"name"`
	Description    string `json:"description"`
	SourcePlatform string `json:"sourcePlatform"`
	Account        string `json:"account"`
	AccessPolicy   string `json:"accessPolicy"`
	Type           string `json:"type"`
	Destinations   []struct {
		Destination string `json:"destination"`
	} `json:"destinations"`
}

// userTypes are the segment types that hold users. LinkedIn's reference
// writes USER (and COMPANY); other documents write USER_STREAMING and
// USER_LIST_UPLOAD; all are accepted.
var userTypes = []string{"USER", "USER_STREAMING", "USER_LIST_UPLOAD"}

var companyTypes = []string{"COMPANY", "COMPANY_STREAMING", "COMPANY_LIST_UPLOAD"}

// account reads an ad account URN.
func account(urn string) (string, bool) {
	id, ok := strings.CutPrefix(urn, accountURN)
	return id, ok && numberPattern.MatchString(id)
}

func (s *Server) createSegment(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	var b createBody
	if err := wire.DecodeStrict(req.body, &b); err != nil {
		return newError(http.StatusBadRequest, 100, "ILLEGAL_ARGUMENT", "Invalid segment: "+err.Error())
	}
	acct, ok := account(b.Account)
	name := strings.TrimSpace(b.Name)
	switch {
	case !ok:
		return invalid("account must be an ad account URN such as urn:li:sponsoredAccount:507404993, got " + quote(b.Account))
	case name == "" || utf8.RuneCountInString(name) > 255:
		return invalid("name is required and at most 255 characters")
	case !slices.Contains(userTypes, b.Type) && !slices.Contains(companyTypes, b.Type):
		return invalid("type must be USER or COMPANY, got " + quote(b.Type))
	case !isEnum(b.SourcePlatform):
		// The values LinkedIn takes depend on the partner; any enum-like
		// value is accepted.
		return invalid("sourcePlatform is required (such as STREAMING or LIST_UPLOAD), got " + quote(b.SourcePlatform))
	case b.AccessPolicy != "" && b.AccessPolicy != "PRIVATE" && b.AccessPolicy != "PUBLIC":
		return invalid("accessPolicy must be PRIVATE or PUBLIC, got " + quote(b.AccessPolicy))
	case len(b.Destinations) != 1 || b.Destinations[0].Destination != "LINKEDIN":
		return invalid(`destinations must be [{"destination":"LINKEDIN"}]`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.newSegmentLocked(acct, name)
	sg.Description, sg.kind, sg.source, sg.policy = b.Description, b.Type, b.SourcePlatform, cmpOr(b.AccessPolicy, "PRIVATE")
	w.Header().Set("x-restli-id", sg.ID)
	w.Header().Set("x-linkedin-id", sg.ID)
	w.Header().Set("Location", "/rest/dmpSegments/"+sg.ID)
	w.Header().Set("X-Restli-Protocol-Version", "2.0.0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func isEnum(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, c := range v {
		if (c < 'A' || c > 'Z') && c != '_' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// findSegments is the account finder: q=account&account=URN, paged
// with start and count (at most 100 a page).
func (s *Server) findSegments(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains([]string{"q", "account", "start", "count"}, k) {
			return newError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "unknown query parameter "+quote(k))
		}
	}
	acct, ok := account(q.Get("account"))
	if q.Get("q") != "account" || !ok {
		return newError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "use the account finder: q=account&account=urn:li:sponsoredAccount:ID")
	}
	start, count := 0, 10
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"start", &start, 1 << 30}, {"count", &count, 100}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > p.max {
				return newError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", p.name+" must be a number from 0 to "+strconv.Itoa(p.max))
			}
			*p.dst = n
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := s.segments.Where(func(_ string, sg *segment) bool { return sg.Account == acct })
	elements := []map[string]any{}
	for i := start; i < min(start+count, len(mine)); i++ {
		elements = append(elements, s.render(mine[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"elements": elements,
		"paging":   map[string]any{"start": start, "count": count, "total": len(mine), "links": []any{}},
	})
	return nil
}

// withSegment runs fn, holding s.mu, on the segment the request names.
func (s *Server) withSegment(req *request, fn func(*segment) *apiError) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg, ok := s.segments.Get(req.segment)
	if !ok {
		return notFound("DMP segment " + req.segment + " does not exist")
	}
	return fn(sg)
}

func (s *Server) getSegment(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	return s.withSegment(req, func(sg *segment) *apiError {
		out := s.render(sg)
		if !s.ready(sg) {
			sg.polls++
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

func (s *Server) deleteSegment(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	return s.withSegment(req, func(sg *segment) *apiError {
		s.segments.Delete(sg.ID)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// CreateSegment adds a READY user segment directly (for tests) and
// returns its id.
func (s *Server) CreateSegment(account, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.newSegmentLocked(account, name)
	sg.polls = s.opts.PollsBeforeReady
	return sg.ID
}

// newSegmentLocked adds an empty BUILDING user segment; s.mu is held.
func (s *Server) newSegmentLocked(account, name string) *segment {
	sg := &segment{Audience: wire.NewAudience(s.segments.NewID(), account, name, s.opts.Now()),
		kind: "USER", source: "STREAMING", policy: "PRIVATE"}
	s.segments.Add(sg.ID, sg)
	return sg
}
