package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// problemTypeBase prefixes each problem's short type to make it the URI
// RFC 9457 asks for. The types are listed in the OpenAPI document.
const problemTypeBase = "urn:audiencesync:problem:"

// problem is an RFC 9457 problem details object. Type holds the short
// name (not-found); writeProblem prefixes it.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

func (p *problem) Error() string { return p.Detail }

func problemNotFound(detail string) *problem {
	return &problem{Type: "not-found", Title: "Not found", Status: http.StatusNotFound, Detail: detail}
}

func problemBadRequest(detail string) *problem {
	return &problem{Type: "bad-request", Title: "Bad request", Status: http.StatusBadRequest, Detail: detail}
}

// problemFor maps an error of a handler to a problem: the handler's own
// problems as they are, the service layer's errors by kind, anything else
// a 500 whose detail is the error (which names what was being done; the
// service's errors never carry contact data).
func problemFor(err error) *problem {
	var (
		p    *problem
		busy *syncs.BusyError
		cfg  *syncs.ConfigError
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, syncs.ErrNotFound), errors.Is(err, state.ErrNotFound):
		return problemNotFound(err.Error())
	case errors.As(err, &busy), errors.Is(err, syncs.ErrBusy):
		// A BusyError names the holder; the daemon's and the job queue's
		// own refusals wrap ErrBusy.
		return &problem{Type: "sync-busy", Title: "Sync already running", Status: http.StatusConflict, Detail: err.Error()}
	case errors.As(err, &cfg):
		return &problem{Type: "config", Title: "Config error", Status: http.StatusUnprocessableEntity, Detail: err.Error()}
	}
	return &problem{Type: "internal", Title: "Internal error", Status: http.StatusInternalServerError, Detail: err.Error()}
}

// writeProblem writes p as application/problem+json, with the request's
// path as its instance unless p has one.
func writeProblem(w http.ResponseWriter, r *http.Request, p *problem) {
	out := *p
	out.Type = problemTypeBase + p.Type
	if out.Instance == "" {
		out.Instance = r.URL.Path
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="audiencesync"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(out)
}

// writeJSON writes v as JSON with status. It encodes first, so that an
// error is still the caller's to report as a problem.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	writeBody(w, status, body)
	return nil
}

// readJSON decodes the request body, read up to limit bytes, into dst and
// refuses unknown fields; an empty body leaves dst as it was.
func readJSON(r *http.Request, dst any, limit int64) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// writeBody writes JSON already encoded.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
