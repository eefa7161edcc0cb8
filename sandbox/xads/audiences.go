package xads

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

const timeLayout = "2006-01-02T15:04:05Z"

type audience struct {
	wire.Audience
	deleted bool
}

// jsonParams reads a JSON object body as parameters; non-string values
// keep their JSON text.
func jsonParams(body []byte) (map[string]string, *apiError) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&obj); err != nil {
		return nil, invalidParam("", "The JSON body must be an object of parameters.")
	}
	out := map[string]string{}
	for k, raw := range obj {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(raw)
		}
	}
	return out, nil
}

func (s *Server) getAccount(w http.ResponseWriter, _ *http.Request, req *request) *apiError {
	if err := req.onlyParams("with_deleted"); err != nil {
		return err
	}
	created := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	writeJSON(w, http.StatusOK, map[string]any{
		"data": map[string]any{
			"id": req.account, "name": "Sandbox Ads Account " + req.account,
			"timezone": "America/New_York", "timezone_switch_at": created.Format(timeLayout),
			"business_id": nil, "business_name": nil, "industry_type": nil,
			"approval_status": "ACCEPTED", "deleted": false,
			"created_at": created.Format(timeLayout), "updated_at": created.Format(timeLayout),
		},
		"request": map[string]any{"params": req.params},
	})
	return nil
}

func (s *Server) createAudience(w http.ResponseWriter, _ *http.Request, req *request) *apiError {
	if err := req.onlyParams("name", "description"); err != nil {
		return err
	}
	name := strings.TrimSpace(req.form.Get("name"))
	if name == "" {
		return &apiError{status: http.StatusBadRequest, errors: []xError{{Code: "MISSING_PARAMETER",
			Message: `"name" is a required parameter`, Parameter: "name"}}}
	}
	if utf8.RuneCountInString(name) > 255 {
		return invalidParam("name", "name must be at most 255 characters.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.newAudienceLocked(req.account, name)
	a.Description = req.form.Get("description")
	params := map[string]string{"account_id": req.account, "name": name}
	if a.Description != "" {
		params["description"] = a.Description
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": a.render(), "request": map[string]any{"params": params}})
	return nil
}

// render is the custom audience object; s.mu is held.
func (a *audience) render() map[string]any {
	// X counts people: a user object is one however many identifiers it
	// carries, and users sharing one are one.
	n := a.Members.People()
	var size any // X reports no size below 100 matched users
	reasons := []string{"TOO_SMALL"}
	if n >= 100 {
		size, reasons = n, []string{}
	}
	return map[string]any{
		"id": a.ID, "name": a.Name, "description": a.Description,
		"audience_type": "CRM", "audience_size": size,
		"targetable": n >= 100, "targetable_types": []string{"CRM", "EXCLUDED_CRM"},
		"reasons_not_targetable": reasons, "partner_source": "OTHER",
		"permission_level": "READ_WRITE", "owner_account_id": a.Account,
		"deleted": a.deleted, "is_owner": true,
		"created_at": a.Created.UTC().Format(timeLayout), "updated_at": a.Updated.UTC().Format(timeLayout),
	}
}

func (s *Server) listAudiences(w http.ResponseWriter, _ *http.Request, req *request) *apiError {
	if err := req.onlyParams("count", "cursor", "with_deleted", "custom_audience_ids", "sort_by", "with_total_count"); err != nil {
		return err
	}
	count := 200
	if v := req.form.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return invalidParam("count", "count must be an integer between 1 and 1000.")
		}
		count = n
	}
	offset := 0
	if v := req.form.Get("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			return invalidParam("cursor", "cursor is not valid.")
		}
		offset = n
	}
	withDeleted := req.form.Get("with_deleted") == "true"
	var ids []string
	if v := req.form.Get("custom_audience_ids"); v != "" {
		ids = strings.Split(v, ",")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := s.audiences.Where(func(id string, a *audience) bool {
		return a.Account == req.account && (withDeleted || !a.deleted) && (ids == nil || slices.Contains(ids, id))
	})
	data := []map[string]any{}
	end := min(offset+count, len(mine))
	for i := offset; i < end; i++ {
		data = append(data, mine[i].render())
	}
	var next any
	if end < len(mine) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	params := map[string]string{"account_id": req.account}
	for k := range req.form {
		params[k] = req.form.Get(k)
	}
	resp := map[string]any{"data": data, "next_cursor": next, "data_type": "custom_audience",
		"request": map[string]any{"params": params}}
	if req.form.Get("with_total_count") == "true" {
		resp["total_count"] = len(mine)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// withAudience runs fn, holding s.mu, on the live audience of the
// request's account it names.
func (s *Server) withAudience(req *request, fn func(*audience) *apiError) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.audiences.Get(req.audience)
	if !ok || a.Account != req.account || a.deleted {
		return notFound("Custom audience " + req.audience + " was not found in account " + req.account + ".")
	}
	return fn(a)
}

// answerAudience answers with audience a and the request's parameters, as
// reading and deleting one do.
func answerAudience(w http.ResponseWriter, req *request, a *audience) *apiError {
	writeJSON(w, http.StatusOK, map[string]any{"data": a.render(), "request": map[string]any{"params": req.params}})
	return nil
}

func (s *Server) getAudience(w http.ResponseWriter, _ *http.Request, req *request) *apiError {
	if err := req.onlyParams("with_deleted"); err != nil {
		return err
	}
	return s.withAudience(req, func(a *audience) *apiError { return answerAudience(w, req, a) })
}

func (s *Server) deleteAudience(w http.ResponseWriter, _ *http.Request, req *request) *apiError {
	if err := req.onlyParams(); err != nil {
		return err
	}
	return s.withAudience(req, func(a *audience) *apiError {
		a.deleted = true
		a.Updated = s.opts.Now()
		return answerAudience(w, req, a)
	})
}

// CreateAudience adds a custom audience directly (for tests) and returns
// its id.
func (s *Server) CreateAudience(account, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newAudienceLocked(account, name).ID
}

// newAudienceLocked adds an empty custom audience; s.mu is held.
func (s *Server) newAudienceLocked(account, name string) *audience {
	a := &audience{Audience: wire.NewAudience(s.audiences.NewID(), account, name, s.opts.Now())}
	s.audiences.Add(a.ID, a)
	return a
}
