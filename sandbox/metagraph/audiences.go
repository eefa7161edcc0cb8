package metagraph

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

type audience struct {
	wire.Audience
	source          string
	replace         *replaceSession
	sessions        map[string]*addSession // /users sessions by id
	finishedReplace map[string]int         // replace session id → its last batch_seq
}

var fileSources = []string{"USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"}

// fields a client may read on a CustomAudience.
var readableFields = []string{"id", "name", "description", "subtype", "customer_file_source", "account_id",
	"approximate_count_lower_bound", "approximate_count_upper_bound", "time_created", "time_updated",
	"operation_status", "delivery_status", "data_source", "is_value_based", "retention_days"}

func (s *Server) createAudience(w http.ResponseWriter, _ *http.Request, c *call) *graphError {
	if err := checkParams(c.params, "name", "subtype", "description", "customer_file_source", "audience_labels", "retention_days", "fields"); err != nil {
		return err
	}
	name := strings.TrimSpace(c.params.Get("name"))
	if name == "" {
		return paramError("The parameter name is required")
	}
	switch sub := c.params.Get("subtype"); sub {
	case "CUSTOM":
	case "":
		return paramError("The parameter subtype is required: customer-file audiences use subtype=CUSTOM")
	default:
		return paramError("subtype %q is not served by the sandbox: customer-file audiences use subtype=CUSTOM", sub)
	}
	src := c.params.Get("customer_file_source")
	if !slices.Contains(fileSources, src) {
		return &graphError{Message: "(#100) customer_file_source must be one of " + strings.Join(fileSources, ", ") +
			": say how the customer information was collected", Type: "OAuthException", Code: 100,
			status: http.StatusBadRequest, UserTitle: "Customer file source required",
			UserMsg: "Customer file custom audiences must declare customer_file_source."}
	}
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	a := s.newAudienceLocked(c.node, name, src)
	a.Description = c.params.Get("description")
	writeJSON(w, http.StatusOK, map[string]string{"id": a.ID})
	return nil
}

func parseFields(params url.Values) ([]string, *graphError) {
	raw := params.Get("fields")
	if raw == "" {
		return []string{"id"}, nil
	}
	var out []string
	for f := range strings.SplitSeq(raw, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(readableFields, f) {
			return nil, &graphError{Message: "(#100) Tried accessing nonexisting field (" + f + ") on node type (CustomAudience)",
				Type: "OAuthException", Code: 100, status: http.StatusBadRequest}
		}
		out = append(out, f)
	}
	return out, nil
}

// render returns the requested fields of an audience; s.mu is held.
func (a *audience) render(fields []string) map[string]any {
	out := map[string]any{}
	// Meta counts people: the rows of an upload, one person each however
	// many keys they carry, joined where they share a key.
	n := a.Members.People()
	for _, f := range fields {
		switch f {
		case "id":
			out[f] = a.ID
		case "name":
			out[f] = a.Name
		case "description":
			out[f] = a.Description
		case "subtype":
			out[f] = "CUSTOM"
		case "customer_file_source":
			out[f] = a.source
		case "account_id":
			out[f] = a.Account
		case "approximate_count_lower_bound", "approximate_count_upper_bound":
			out[f] = n // exact here; Meta gives a range and lags by up to a day
		case "time_created":
			out[f] = a.Created.Unix()
		case "time_updated":
			out[f] = a.Updated.Unix()
		case "operation_status":
			if a.replace != nil {
				out[f] = map[string]any{"code": 300, "description": "Replace in progress"}
			} else {
				out[f] = map[string]any{"code": 200, "description": "Normal"}
			}
		case "delivery_status":
			if n < 100 {
				out[f] = map[string]any{"code": 300, "description": "This audience is too small to be used."}
			} else {
				out[f] = map[string]any{"code": 200, "description": "This audience is ready for use."}
			}
		case "data_source":
			out[f] = map[string]any{"type": "FILE_IMPORTED", "sub_type": "HASHES_OR_USER_IDS"}
		case "is_value_based":
			out[f] = false
		case "retention_days":
			out[f] = 0
		}
	}
	return out
}

func (s *Server) listAudiences(w http.ResponseWriter, r *http.Request, c *call) *graphError {
	if err := checkParams(c.params, "fields", "limit", "after", "before", "filtering", "summary"); err != nil {
		return err
	}
	fields, gerr := parseFields(c.params)
	if gerr != nil {
		return gerr
	}
	if c.params.Get("filtering") != "" || c.params.Get("summary") != "" {
		return paramError("filtering and summary are not supported by the sandbox; page through the list")
	}
	limit := 25
	if v := c.params.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return paramError("limit must be a positive integer")
		}
		limit = min(n, 500)
	}
	offset := 0
	if v := c.params.Get("after"); v != "" {
		n, ok := decodeCursor(v)
		if !ok {
			return paramError("Invalid cursor")
		}
		offset = n + 1
	}
	account := strings.TrimPrefix(c.node, "act_")
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	mine := s.audiences.Where(func(_ string, a *audience) bool { return a.Account == account })
	data := []map[string]any{}
	end := min(offset+limit, len(mine))
	for i := offset; i < end; i++ {
		data = append(data, mine[i].render(fields))
	}
	resp := map[string]any{"data": data}
	if len(data) > 0 {
		paging := map[string]any{"cursors": map[string]string{"before": encodeCursor(offset), "after": encodeCursor(end - 1)}}
		if end < len(mine) {
			paging["next"] = nextURL(r, c, encodeCursor(end-1), limit)
		}
		resp["paging"] = paging
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func encodeCursor(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("idx:" + strconv.Itoa(i)))
}

func decodeCursor(c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "idx:"))
	return n, err == nil && strings.HasPrefix(string(b), "idx:") && n >= 0
}

// nextURL is the absolute URL of the next page, as Graph returns it (with
// the access token when the caller sent it as a parameter).
func nextURL(r *http.Request, c *call, after string, limit int) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := url.Values{}
	if c.inQuery {
		q.Set("access_token", c.token)
	}
	if f := c.params.Get("fields"); f != "" {
		q.Set("fields", f)
	}
	q.Set("limit", strconv.Itoa(limit))
	q.Set("after", after)
	return scheme + "://" + r.Host + r.URL.Path + "?" + q.Encode()
}

// onAudience runs fn on the call's audience holding lock: the settled
// lock to read or edit it, s.mu alone to upload to it (the upload only
// queues its change, see wire.Queue).
func (s *Server) onAudience(lock sync.Locker, c *call, fn func(*audience) *graphError) *graphError {
	lock.Lock()
	defer lock.Unlock()
	a, ok := s.audiences.Get(c.node)
	if !ok {
		return unsupported(c.method, c.node)
	}
	return fn(a)
}

func (s *Server) readAudience(w http.ResponseWriter, _ *http.Request, c *call) *graphError {
	if err := checkParams(c.params, "fields"); err != nil {
		return err
	}
	fields, gerr := parseFields(c.params)
	if gerr != nil {
		return gerr
	}
	return s.onAudience(s.Changes.Settled(), c, func(a *audience) *graphError {
		writeJSON(w, http.StatusOK, a.render(fields))
		return nil
	})
}

func (s *Server) updateAudience(w http.ResponseWriter, _ *http.Request, c *call) *graphError {
	if err := checkParams(c.params, "name", "description"); err != nil {
		return err
	}
	return s.onAudience(s.Changes.Settled(), c, func(a *audience) *graphError {
		if c.params.Has("name") {
			if strings.TrimSpace(c.params.Get("name")) == "" {
				return paramError("name cannot be empty")
			}
			a.Name = c.params.Get("name")
		}
		if c.params.Has("description") {
			a.Description = c.params.Get("description")
		}
		a.Updated = s.opts.Now()
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
		return nil
	})
}

func (s *Server) deleteAudience(w http.ResponseWriter, _ *http.Request, c *call) *graphError {
	if err := checkParams(c.params); err != nil {
		return err
	}
	return s.onAudience(s.Changes.Settled(), c, func(*audience) *graphError {
		s.audiences.Delete(c.node)
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
		return nil
	})
}

// CreateAudience adds a customer-file audience directly (for tests) and
// returns its id.
func (s *Server) CreateAudience(account, name string) string {
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	return s.newAudienceLocked(account, name, "USER_PROVIDED_ONLY").ID
}

// newAudienceLocked adds an empty customer-file audience to account (with
// or without act_); the settled lock is held.
func (s *Server) newAudienceLocked(account, name, source string) *audience {
	a := &audience{Audience: wire.NewAudience(s.audiences.NewID(), strings.TrimPrefix(account, "act_"), name, s.opts.Now()),
		source: source, sessions: map[string]*addSession{}, finishedReplace: map[string]int{}}
	s.audiences.Add(a.ID, a)
	return a
}
