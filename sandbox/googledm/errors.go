package googledm

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

const (
	errorDomain = "datamanager.googleapis.com"
	typeBadReq  = "type.googleapis.com/google.rpc.BadRequest"
	typeInfo    = "type.googleapis.com/google.rpc.ErrorInfo"
	typeRetry   = "type.googleapis.com/google.rpc.RetryInfo"
)

// apiError is a Google API error: an HTTP status, the canonical gRPC
// status name, and details (field violations, an ErrorInfo reason, a
// RetryInfo delay) as google.golang.org/api's googleapi.Error reads them.
type apiError struct {
	httpStatus int
	status     string // INVALID_ARGUMENT, NOT_FOUND, ...
	message    string
	reason     string // ErrorInfo.reason
	field      string // BadRequest field violation, if any
	retryDelay time.Duration
}

func (e *apiError) Error() string { return e.status + ": " + e.message }

func invalidArg(field, reason, format string, args ...any) *apiError {
	return &apiError{httpStatus: http.StatusBadRequest, status: "INVALID_ARGUMENT",
		message: fmt.Sprintf(format, args...), reason: reason, field: field}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{httpStatus: http.StatusNotFound, status: "NOT_FOUND",
		message: fmt.Sprintf(format, args...), reason: "NOT_FOUND"}
}

func unauthenticated(reason, message string) *apiError {
	return &apiError{httpStatus: http.StatusUnauthorized, status: "UNAUTHENTICATED",
		message: message, reason: reason}
}

type errorBody struct {
	Error struct {
		Code    int              `json:"code"`
		Message string           `json:"message"`
		Status  string           `json:"status"`
		Details []map[string]any `json:"details,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	var b errorBody
	b.Error.Code = e.httpStatus
	b.Error.Message = e.message
	b.Error.Status = e.status
	if e.field != "" {
		b.Error.Details = append(b.Error.Details, map[string]any{
			"@type": typeBadReq,
			"fieldViolations": []map[string]string{
				{"field": e.field, "description": e.message},
			},
		})
	}
	if e.reason != "" {
		b.Error.Details = append(b.Error.Details, map[string]any{
			"@type":    typeInfo,
			"reason":   e.reason,
			"domain":   errorDomain,
			"metadata": map[string]string{"service": errorDomain},
		})
	}
	if e.retryDelay > 0 {
		b.Error.Details = append(b.Error.Details, map[string]any{
			"@type":      typeRetry,
			"retryDelay": strconv.FormatFloat(e.retryDelay.Seconds(), 'f', -1, 64) + "s",
		})
		wire.SetRetryAfter(w.Header(), e.retryDelay)
	}
	if e.httpStatus == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
	}
	writeJSON(w, e.httpStatus, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	wire.WriteJSON(w, status, "application/json; charset=UTF-8", v)
}
