package metagraph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/fault"
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

// throttleMessages are the messages Meta sends with its throttling codes.
var throttleMessages = map[int]string{
	4:   "(#4) Application request limit reached",
	17:  "(#17) User request limit reached",
	32:  "(#32) Page request limit reached",
	613: "(#613) Calls to this api have exceeded the rate limit.",
}

// RenderFault writes an injected fault as the Graph API would: throttling
// codes and expired tokens on HTTP 400 with Meta's error JSON, throttles
// with X-Business-Use-Case-Usage.
func (s *Server) RenderFault(w http.ResponseWriter, r *http.Request, f fault.Fault) {
	minutes := int(f.RetryAfter / time.Minute)
	switch {
	case f.Kind == fault.Expired:
		s.writeError(w, expiredToken(s.opts.Now()))
	case f.Kind == fault.Status && f.Status == http.StatusTooManyRequests:
		s.setUsage(w, r, 100, minutes)
		wire.SetRetryAfter(w.Header(), f.RetryAfter)
		s.writeError(w, &graphError{Message: throttleMessages[4], Type: "OAuthException", Code: 4, IsTransient: true, status: http.StatusTooManyRequests})
	case f.Kind == fault.Status:
		code, msg := 1, "An unknown error occurred"
		if f.Status != http.StatusInternalServerError {
			code, msg = 2, "An unexpected error has occurred. Please retry your request later."
		}
		s.writeError(w, &graphError{Message: msg, Type: "OAuthException", Code: code, IsTransient: true, status: f.Status})
	case f.Code == 1 || f.Code == 2:
		status := http.StatusInternalServerError
		msg := "An unknown error occurred"
		if f.Code == 2 {
			status, msg = http.StatusServiceUnavailable, "An unexpected error has occurred. Please retry your request later."
		}
		s.writeError(w, &graphError{Message: msg, Type: "OAuthException", Code: f.Code, IsTransient: true, status: status})
	default:
		msg, ok := throttleMessages[f.Code]
		subcode := 0
		if !ok {
			msg = fmt.Sprintf("(#%d) There have been too many calls to this ad-account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.", f.Code)
		}
		if f.Code == 17 {
			subcode = 2446079
		}
		s.setUsage(w, r, 100, minutes)
		s.writeError(w, &graphError{Message: msg, Type: "OAuthException", Code: f.Code, ErrorSubcode: subcode, IsTransient: true, status: http.StatusBadRequest})
	}
}

// setUsage writes X-Business-Use-Case-Usage for the ad account a request
// concerns.
func (s *Server) setUsage(w http.ResponseWriter, r *http.Request, pct, minutes int) {
	business := s.businessOf(r)
	usage := map[string][]map[string]any{business: {{
		"type":                            "custom_audience",
		"call_count":                      pct,
		"total_cputime":                   max(1, pct/4),
		"total_time":                      max(1, pct/4),
		"estimated_time_to_regain_access": minutes,
	}}}
	b, _ := json.Marshal(usage)
	w.Header().Set("X-Business-Use-Case-Usage", string(b))
}
