package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// consentWriter collects stderr and hands over the consent URL once it has
// been printed.
type consentWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	sent bool
	url  chan string
}

var consentURL = regexp.MustCompile(`https?://\S+redirect_uri=\S+`)

func (w *consentWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if u := consentURL.FindString(w.buf.String()); u != "" && !w.sent {
		w.sent = true
		w.url <- u
	}
	return len(p), nil
}

func (w *consentWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// fakeTokenEndpoint exchanges "the-code" for a refresh token when the PKCE
// verifier matches the challenge the consent URL carried.
func fakeTokenEndpoint(t *testing.T, challenge *string, mu *sync.Mutex) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
		w.Header().Set("Content-Type", "application/json")
		if r.FormValue("grant_type") != "authorization_code" || r.FormValue("code") != "the-code" ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != *challenge || r.FormValue("redirect_uri") == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "ya29.test", "refresh_token": "1//test-refresh-token", "token_type": "Bearer", "expires_in": 3600,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAuthGoogle(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		state   func(string) string
		code    int // 0: success
		message string
	}{
		{name: "flags", args: []string{"--client-id", "cid", "--client-secret", "csecret"}},
		{name: "environment", env: map[string]string{"GOOGLE_CLIENT_ID": "cid", "GOOGLE_CLIENT_SECRET": "csecret"}},
		{name: "forged state", args: []string{"--client-id", "cid", "--client-secret", "csecret"},
			state: func(string) string { return "forged" }, code: ExitFailed, message: "state does not match"},
		{name: "no client", args: []string{}, code: ExitUsage, message: "--client-id and --client-secret are required"},
		{name: "bad port", args: []string{"--client-id", "c", "--client-secret", "s", "--port", "70000"}, code: ExitUsage, message: "--port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var challenge string
			tokenSrv := fakeTokenEndpoint(t, &challenge, &mu)
			var stdout bytes.Buffer
			stderr := &consentWriter{url: make(chan string, 1)}
			a := &app{stdout: &stdout, stderr: stderr, lookupEnv: func(k string) (string, bool) {
				v, ok := tc.env[k]
				return v, ok
			}}
			cmd := a.authGoogleCmd()
			cmd.SetArgs(append([]string{"google", "--auth-url", "https://accounts.invalid/o/oauth2/auth", "--token-url", tokenSrv.URL, "--timeout", "20s"}, tc.args...))
			cmd.SetOut(&stdout)
			cmd.SetErr(stderr)

			browserDone := make(chan error, 1)
			go func() {
				var consent string
				select {
				case consent = <-stderr.url:
				case <-t.Context().Done():
					browserDone <- nil
					return
				}
				u, err := url.Parse(consent)
				if err != nil {
					browserDone <- err
					return
				}
				q := u.Query()
				mu.Lock()
				challenge = q.Get("code_challenge")
				mu.Unlock()
				state := q.Get("state")
				if tc.state != nil {
					state = tc.state(state)
				}
				if !strings.HasPrefix(q.Get("redirect_uri"), "http://127.0.0.1:") {
					browserDone <- fmt.Errorf("redirect %q is not loopback", q.Get("redirect_uri"))
					return
				}
				resp, err := http.Get(q.Get("redirect_uri") + "?" + url.Values{"state": {state}, "code": {"the-code"}}.Encode())
				if err == nil {
					resp.Body.Close()
				}
				browserDone <- err
			}()

			err := cmd.ExecuteContext(t.Context())
			if tc.code != 0 {
				require.Error(t, err)
				var ee *exitError
				require.ErrorAs(t, err, &ee)
				require.Equal(t, tc.code, ee.code)
				require.ErrorContains(t, err, tc.message)
				require.NotContains(t, stdout.String(), "1//")
				return
			}
			require.NoError(t, err)
			require.NoError(t, <-browserDone)
			require.Equal(t, "1//test-refresh-token\n", stdout.String(), "stdout holds the token alone, ready for > file")
			require.Contains(t, stderr.String(), "${file:./google-refresh-token}")
			require.NotContains(t, stderr.String(), "1//test-refresh-token")
			require.NotContains(t, stderr.String(), "csecret")
		})
	}
}
