// Package mailchimp is a local replica of the Mailchimp Marketing API v3
// endpoints a list sync uses: read a list, list and create its tags
// (static segments), batch-create or update list members, upsert one
// member, tag and untag one member, and tag members in bulk.
//
// Every call needs the API key, by HTTP Basic (any user name) or as a
// bearer token, whose data-centre suffix must be the replica's (us21);
// when the request names a data centre in its host (us21.api.mailchimp.com
// through a proxy), that must match too. Errors come in Mailchimp's
// application/problem+json shape {"type", "title", "status", "detail",
// "instance"}. A batch holds at most 500 members and answers 200 with an
// error per refused member (an invalid or fake-looking address, an address
// in a compliance state, a contact that exists when update_existing is
// false). More than 10 requests in flight at once are answered 429, as
// Mailchimp refuses an eleventh simultaneous connection.
//
// Consent is kept as Mailchimp keeps it: the status of an unsubscribed or
// cleaned contact is never changed by the API: a request that tries is
// refused ("Member In Compliance State"), and an address Mailchimp will
// not take back (Block) cannot be added at all.
//
// The replica keeps no address in clear: a member is stored by its
// subscriber hash (MD5 of the lower-cased address, checked against the
// path), its status, its tags and the SHA-256 of each merge field's value.
package mailchimp

import (
	"crypto/md5" //nolint:gosec // Mailchimp's subscriber hash
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/audiencesync/audiencesync/platform/mailchimp"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Limits of the API enforced by the replica.
const (
	// MaxBatch is the most members one batch request may carry.
	MaxBatch = 500
	// MaxConnections is how many requests may be in flight at once.
	MaxConnections = 10
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = 10 << 20
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults injects failures; nil injects none.
	Faults *fault.Injector
	// MaxConnections overrides the simultaneous-request limit; 0 means
	// MaxConnections.
	MaxConnections int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the replica; it is an http.Handler for /3.0/.
type Server struct {
	opts Options
	wire.Base[Snapshot]

	inFlight atomic.Int32

	mu      sync.Mutex
	lists   map[string]*list
	blocked map[string]bool // subscriber hashes Mailchimp will not take
	nextID  int64
}

// list is one Mailchimp list (audience).
type list struct {
	id, name string
	members  map[string]*member // by subscriber hash
	tags     map[string]*tag    // by id
}

// tag is a tag of a list: a static segment.
type tag struct {
	id, name string
}

// member is one contact of a list.
type member struct {
	status string
	tags   map[string]bool // tag ids
	// merge holds the SHA-256 hex of each merge field's value.
	merge   map[string]string
	created time.Time
	updated time.Time
}

// New returns a replica holding one empty list, mailchimp.ReplicaListID.
func New(opts Options) *Server {
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = MaxConnections
	}
	opts.Now = wire.Clock(opts.Now)
	s := &Server{opts: opts}
	s.Base = wire.NewBase(mount, &s.mu, s.Snapshot, s.Restore, s.reset)
	return s
}

// reset forgets every member and tag, keeping the one seeded list (Reset,
// with s.mu held).
func (s *Server) reset() {
	s.lists = map[string]*list{mailchimp.ReplicaListID: newList(mailchimp.ReplicaListID, "Sandbox shop")}
	s.blocked = map[string]bool{}
	s.nextID = 10_000
}

func newList(id, name string) *list {
	return &list{id: id, name: name, members: map[string]*member{}, tags: map[string]*tag{}}
}

// SubscriberHash is Mailchimp's member id of an address: the lowercase
// hex MD5 of the address lower-cased.
func SubscriberHash(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(email))) //nolint:gosec // Mailchimp's id
	return hex.EncodeToString(sum[:])
}

// request is one routed API call.
type request struct {
	endpoint string // fault endpoint name
	list     string
	hash     string
	segment  string
	body     []byte
}

// handlerFunc serves a routed call; l is its list, with s.mu held (nil
// for a call outside lists, without the lock).
type handlerFunc func(w http.ResponseWriter, r *http.Request, req *request, l *list) *problem

// route is one endpoint: its method, its path below /3.0/ ("*" matches
// one segment: the list id, then a subscriber hash or tag id), and its
// fault endpoint name.
type route struct {
	method, path, endpoint string
	handle                 handlerFunc
}

func (s *Server) routes() []route {
	return []route{
		{http.MethodGet, "ping", "ping", s.ping},
		{http.MethodGet, "lists/*", "lists", s.getList},
		{http.MethodPost, "lists/*", "batch", s.batch},
		{http.MethodGet, "lists/*/segments", "segments", s.listSegments},
		{http.MethodPost, "lists/*/segments", "segments", s.createSegment},
		{http.MethodPost, "lists/*/segments/*", "segments", s.segmentMembers},
		{http.MethodGet, "lists/*/members/*", "members", s.getMember},
		{http.MethodPut, "lists/*/members/*", "members", s.putMember},
		{http.MethodPost, "lists/*/members/*/tags", "tags", s.memberTags},
	}
}

// ServeHTTP handles an API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := s.inFlight.Add(1); int(n) > s.opts.MaxConnections {
		s.inFlight.Add(-1)
		writeProblem(w, r, newProblem(http.StatusTooManyRequests, "Too Many Requests",
			"You have exceeded the limit of 10 simultaneous connections."))
		return
	}
	defer s.inFlight.Add(-1)
	if p := s.authenticate(r); p != nil {
		writeProblem(w, r, p)
		return
	}
	rt, req := s.route(r)
	if rt == nil {
		writeProblem(w, r, notFound())
		return
	}
	if p := readBody(r, req); p != nil {
		writeProblem(w, r, p)
		return
	}
	if s.opts.Faults.Intercept(w, r, mailchimp.Name, req.endpoint, s) {
		return
	}
	if p := s.serve(w, r, rt, req); p != nil {
		writeProblem(w, r, p)
	}
}

// serve runs a routed call, under the lock with its list for a list's.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt *route, req *request) *problem {
	if req.list == "" {
		return rt.handle(w, r, req, nil)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.lists[req.list]
	if !ok {
		return notFound()
	}
	return rt.handle(w, r, req, l)
}

// route finds r's endpoint and reads the ids in its path.
func (s *Server) route(r *http.Request) (*route, *request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/3.0/"), "/"), "/")
	for _, rt := range s.routes() {
		pattern := strings.Split(rt.path, "/")
		if rt.method != r.Method || len(pattern) != len(parts) || !matches(pattern, parts) {
			continue
		}
		req := &request{endpoint: rt.endpoint}
		if len(parts) >= 2 {
			req.list = parts[1]
		}
		if len(parts) >= 4 {
			req.hash, req.segment = strings.ToLower(parts[3]), parts[3]
		}
		return &rt, req
	}
	return nil, nil
}

func matches(pattern, parts []string) bool {
	for i, p := range pattern {
		if parts[i] == "" || (p != "*" && p != parts[i]) {
			return false
		}
	}
	return true
}

// authenticate checks the API key and its data centre.
func (s *Server) authenticate(r *http.Request) *problem {
	key := ""
	if _, pw, ok := r.BasicAuth(); ok {
		key = pw
	} else if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		key = tok
	}
	if key == "" {
		return newProblem(http.StatusUnauthorized, "API Key Missing",
			"Your request did not include an API key.")
	}
	_, dc, _ := strings.Cut(key, "-")
	if host, _, _ := strings.Cut(r.Host, "."); strings.HasSuffix(r.Host, ".api.mailchimp.com") && host != dc {
		return newProblem(http.StatusUnauthorized, "Wrong Datacenter",
			"The API key provided is linked to a different datacenter.")
	}
	if key != mailchimp.ReplicaAPIKey || dc != mailchimp.ReplicaDataCenter {
		return newProblem(http.StatusUnauthorized, "API Key Invalid",
			"Your API key may be invalid, or you've attempted to access the wrong datacenter.")
	}
	return nil
}

// readBody reads a POST's or PUT's JSON body into req.body.
func readBody(r *http.Request, req *request) *problem {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return invalid("Content-Type must be application/json.")
	}
	var b strings.Builder
	if err := wire.ReadBody(&b, r, MaxBodyBytes); err != nil {
		return newProblem(http.StatusRequestEntityTooLarge, "Request Entity Too Large", "The request body is too large.")
	}
	req.body = []byte(b.String())
	return nil
}

func (s *Server) ping(w http.ResponseWriter, _ *http.Request, _ *request, _ *list) *problem {
	wire.WriteJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]string{"health_status": "Everything's Chimpy!"})
	return nil
}

func (s *Server) getList(w http.ResponseWriter, _ *http.Request, _ *request, l *list) *problem {
	counts := map[string]int{}
	for _, m := range l.members {
		counts[m.status]++
	}
	wire.WriteJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"id": l.id, "name": l.name,
		"stats": map[string]int{
			"member_count": counts["subscribed"], "unsubscribe_count": counts["unsubscribed"],
			"cleaned_count": counts["cleaned"], "total_contacts": len(l.members),
		},
	})
	return nil
}

// RenderFault writes an injected fault as Mailchimp would.
func (s *Server) RenderFault(w http.ResponseWriter, r *http.Request, f fault.Fault) {
	switch {
	case f.Kind == fault.Expired:
		writeProblem(w, r, newProblem(http.StatusUnauthorized, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the wrong datacenter."))
	case f.Status == http.StatusTooManyRequests:
		wire.SetRetryAfter(w.Header(), f.RetryAfter)
		writeProblem(w, r, newProblem(http.StatusTooManyRequests, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections."))
	case f.Status >= 500:
		writeProblem(w, r, newProblem(f.Status, http.StatusText(f.Status), "An unexpected internal error has occurred."))
	default:
		writeProblem(w, r, newProblem(f.Status, http.StatusText(f.Status), "Injected fault."))
	}
}
