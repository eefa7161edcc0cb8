package xads

import (
	"net/http"

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
