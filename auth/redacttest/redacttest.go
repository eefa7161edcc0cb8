// Package redacttest helps connector tests prove that credentials carried
// in URLs (Meta's appsecret_proof, a token a redirect or a platform's
// message puts in a query) reach no log record and no error string.
package redacttest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest/observer"
)

// Token is a credential a test plants in URLs.
const Token = "TOKEN-IN-URL-5f3a9c"

// LeakyURL is an address nothing listens on whose query carries Token:
// redirecting a client there makes its transport error quote a URL with a
// credential in it.
const LeakyURL = "http://127.0.0.1:1/leak?access_token=" + Token + "&appsecret_proof=" + Token

// Fault is one way a platform call fails with a credential in a URL.
type Fault struct {
	Name   string
	Handle http.HandlerFunc
}

// Faults are the failures every platform connector is tested with: the
// connection dropped, a redirect to LeakyURL (a transport error quoting
// it), and an error answer whose message quotes the request's URL with
// Token (Quoting), once refused (400) and once retried until the retries
// run out (503). body builds the platform's error JSON from a status and
// a message.
func Faults(body func(status int, message string) any) []Fault {
	quote := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(body(status, "Request "+Quoting(r)+" was refused"))
		}
	}
	return []Fault{
		{"connection dropped", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }},
		{"redirected to a URL with a token", Redirect},
		{"platform error", quote(http.StatusBadRequest)},
		{"retried platform error", quote(http.StatusServiceUnavailable)},
	}
}

// Redirect answers every request with a redirect to LeakyURL that keeps
// the method and body.
func Redirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, LeakyURL, http.StatusTemporaryRedirect)
}

// Quoting returns the URL a platform's error message may quote: the
// request's own, with Token added to its query.
func Quoting(r *http.Request) string {
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	q := u.Query()
	q.Set("access_token", Token)
	u.RawQuery = q.Encode()
	return u.String()
}

// RequireClean fails t if any of secrets appears in err's message or in
// any record of logs (message or fields).
func RequireClean(t testing.TB, err error, logs *observer.ObservedLogs, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("the call should have failed")
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error holds a credential: %s", err)
		}
		for _, e := range logs.All() {
			fields, _ := json.Marshal(e.ContextMap())
			if strings.Contains(e.Message, s) || strings.Contains(string(fields), s) {
				t.Errorf("a log record holds a credential: %s %s", e.Message, fields)
			}
		}
	}
}
