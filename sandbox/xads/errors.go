package xads

import (
	"net/http"
	"strconv"

	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// xError is one entry of an Ads API "errors" or "operation_errors" list:
// a CAPS_CASE code and a message.
type xError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Parameter string `json:"parameter,omitempty"`
}

// apiError is a request-level error: an HTTP status and its errors.
type apiError struct {
	status int
	errors []xError
	// opErrors, when set, is aligned with the request's operations.
	opErrors [][]xError
}

func newError(status int, code, msg string) *apiError {
	return &apiError{status: status, errors: []xError{{Code: code, Message: msg}}}
}

func unauthorized(msg string) *apiError {
	return newError(http.StatusUnauthorized, "UNAUTHORIZED_ACCESS", msg)
}

func invalidParam(param, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, errors: []xError{{Code: "INVALID_PARAMETER", Message: msg, Parameter: param}}}
}

func notFound(msg string) *apiError {
	return newError(http.StatusNotFound, "NOT_FOUND", msg)
}

type errorBody struct {
	Errors          []xError       `json:"errors,omitempty"`
	OperationErrors [][]xError     `json:"operation_errors,omitempty"`
	Request         map[string]any `json:"request"`
}

func writeError(w http.ResponseWriter, e *apiError, params map[string]string) {
	if params == nil {
		params = map[string]string{}
	}
	writeJSON(w, e.status, errorBody{Errors: e.errors, OperationErrors: e.opErrors,
		Request: map[string]any{"params": params}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	wire.WriteJSON(w, status, "application/json;charset=utf-8", v)
}

// RenderFault writes an injected fault as the Ads API would.
func (s *Server) RenderFault(w http.ResponseWriter, r *http.Request, f fault.Fault) {
	params := map[string]string{}
	switch {
	case f.Kind == fault.Expired:
		writeError(w, unauthorized("This request is not properly authenticated: the access token was revoked or has expired."), params)
	case f.Status == http.StatusTooManyRequests:
		reset := s.opts.Now().Add(f.RetryAfter)
		w.Header().Set("x-rate-limit-remaining", "0")
		w.Header().Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
		wire.SetRetryAfter(w.Header(), f.RetryAfter)
		writeError(w, newError(http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Rate limit exceeded"), params)
	case f.Status == http.StatusServiceUnavailable, f.Status == http.StatusBadGateway:
		writeError(w, newError(f.Status, "SERVICE_UNAVAILABLE", "Service unavailable"), params)
	case f.Status == http.StatusGatewayTimeout:
		writeError(w, newError(f.Status, "CANCELLED_REQUEST", "The request took too long and was cancelled"), params)
	default:
		writeError(w, newError(http.StatusInternalServerError, "INTERNAL_ERROR", "Internal error"), params)
	}
}
