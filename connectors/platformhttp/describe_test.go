package platformhttp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// acmeError is a made-up platform's error body.
type acmeError struct {
	Code    string `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (e acmeError) Says() (string, []string) { return e.Message, []string{e.Code, e.Reason} }

func TestErrorBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       acmeError
	}{
		{"the platform's shape", `{"code":"INVALID","message":"bad id"}`, acmeError{Code: "INVALID", Message: "bad id"}},
		{"other keys", `{"error":{"code":7}}`, acmeError{}},
		{"a proxy's page", `<html>Bad Gateway</html>`, acmeError{}},
		{"nothing", ``, acmeError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, ErrorBody[acmeError](&Answer{Status: 400, Body: []byte(tc.body)}))
		})
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body   string
		withMessages bool
		want         string
	}{
		{name: "status alone", body: `<html>Forbidden</html>`, withMessages: true, want: "HTTP 403"},
		{name: "codes that are set", body: `{"code":"ACCESS_DENIED","reason":"NO_ROLE"}`, want: "HTTP 403 ACCESS_DENIED NO_ROLE"},
		{name: "a code left unset", body: `{"reason":"NO_ROLE"}`, want: "HTTP 403 NO_ROLE"},
		{name: "message left out", body: `{"code":"DENIED","message":"no role on account 7"}`, want: "HTTP 403 DENIED"},
		{name: "message", body: `{"code":"DENIED","message":"no role on account 7"}`, withMessages: true, want: "HTTP 403 DENIED: no role on account 7"},
		{name: "message redacted", body: `{"message":"see https://api.example.com/v1?access_token=s3cret"}`, withMessages: true,
			want: "HTTP 403: see https://api.example.com/v1?REDACTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Describe[acmeError](&Answer{Status: 403, Body: []byte(tc.body)}, tc.withMessages)
			require.Equal(t, tc.want, got)
			require.NotContains(t, got, "s3cret")
		})
	}
}
