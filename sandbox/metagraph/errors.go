package metagraph

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// graphError is a Graph API error as Meta sends it under "error".
type graphError struct {
	Message      string `json:"message"`
	Type         string `json:"type"`
	Code         int    `json:"code"`
	ErrorSubcode int    `json:"error_subcode,omitempty"`
	IsTransient  bool   `json:"is_transient"`
	UserTitle    string `json:"error_user_title,omitempty"`
	UserMsg      string `json:"error_user_msg,omitempty"`
	FBTraceID    string `json:"fbtrace_id"`

	status int // HTTP status; Meta answers most errors with 400
}

func (e *graphError) Error() string { return fmt.Sprintf("(#%d) %s", e.Code, e.Message) }

func paramError(format string, args ...any) *graphError {
	msg := fmt.Sprintf(format, args...)
	return &graphError{Message: "(#100) " + msg, Type: "OAuthException", Code: 100, status: http.StatusBadRequest,
		UserTitle: "Invalid parameter", UserMsg: msg}
}

func unsupported(method, id string) *graphError {
	return &graphError{
		Message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", method, id),
		Type:    "GraphMethodException", Code: 100, ErrorSubcode: 33, status: http.StatusBadRequest,
	}
}

func tokenError(subcode int, msg string) *graphError {
	return &graphError{Message: msg, Type: "OAuthException", Code: 190, ErrorSubcode: subcode, status: http.StatusBadRequest}
}

func expiredToken(now time.Time) *graphError {
	return tokenError(463, "Error validating access token: Session has expired on "+
		now.Add(-time.Hour).UTC().Format("Monday, 02-Jan-06 15:04:05 MST")+". The current time is "+
		now.UTC().Format("Monday, 02-Jan-06 15:04:05 MST")+".")
}

func audienceError(format string, args ...any) *graphError {
	return &graphError{Message: "(#2650) Failed to update the custom audience: " + fmt.Sprintf(format, args...),
		Type: "OAuthException", Code: 2650, status: http.StatusBadRequest}
}

func (s *Server) writeError(w http.ResponseWriter, e *graphError) {
	s.mu.Lock()
	s.trace++
	e.FBTraceID = traceID(s.trace)
	s.mu.Unlock()
	w.Header().Set("x-fb-trace-id", e.FBTraceID)
	if e.Code == 190 {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+e.Message+`"`)
	}
	writeJSON(w, e.status, map[string]any{"error": e})
}

func traceID(n int64) string {
	return "ASbx" + strconv.FormatInt(n+1_000_000, 36) + "Xq"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	wire.WriteJSON(w, status, "application/json; charset=UTF-8", v)
}
