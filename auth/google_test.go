package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
)

// fakeGoogle is a token endpoint that accepts the three grants the auth
// package uses and counts what it issued.
type fakeGoogle struct {
	mu        sync.Mutex
	issued    int
	grants    []string
	challenge string // the PKCE challenge the consent URL carried
	status    int    // when set, every token request fails with it
}

func (f *fakeGoogle) serve(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if f.status != 0 {
			w.WriteHeader(f.status)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`)
			return
		}
		grant := r.FormValue("grant_type")
		f.grants = append(f.grants, grant)
		resp := map[string]any{"token_type": "Bearer", "expires_in": 3600}
		switch grant {
		case "urn:ietf:params:oauth:grant-type:jwt-bearer":
			if r.FormValue("assertion") == "" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		case "refresh_token":
			if r.FormValue("refresh_token") != "rt" {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
		case "authorization_code":
			sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
			if r.FormValue("code") != "the-code" || base64.RawURLEncoding.EncodeToString(sum[:]) != f.challenge {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			resp["refresh_token"] = "1//new-refresh-token"
		default:
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.issued++
		resp["access_token"] = fmt.Sprintf("token-%d", f.issued)
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func serviceAccountJSON(t *testing.T, tokenURI string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	b, err := json.Marshal(map[string]string{
		"type":         "service_account",
		"client_email": "sync@example-project.iam.gserviceaccount.com",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri":    tokenURI,
	})
	require.NoError(t, err)
	return string(b)
}

func TestGoogleCredentialsValidate(t *testing.T) {
	t.Parallel()
	s := auth.NewSecret
	cases := []struct {
		name   string
		creds  auth.GoogleCredentials
		method string
		err    string
	}{
		{"none", auth.GoogleCredentials{}, "", "no credentials"},
		{"json", auth.GoogleCredentials{JSON: s("{}")}, auth.GoogleMethodJSON, ""},
		{"refresh", auth.GoogleCredentials{ClientID: s("i"), ClientSecret: s("s"), RefreshToken: s("r")}, auth.GoogleMethodRefreshToken, ""},
		{"access", auth.GoogleCredentials{AccessToken: s("a")}, auth.GoogleMethodAccessToken, ""},
		{"refresh without client", auth.GoogleCredentials{RefreshToken: s("r")}, auth.GoogleMethodRefreshToken, "client_id and client_secret"},
		{"client without refresh", auth.GoogleCredentials{ClientID: s("i"), ClientSecret: s("s")}, "", "auth google"},
		{"client with access token", auth.GoogleCredentials{ClientID: s("i"), AccessToken: s("a")}, auth.GoogleMethodAccessToken, "only used with refresh_token"},
		{"two", auth.GoogleCredentials{JSON: s("{}"), AccessToken: s("a")}, auth.GoogleMethodJSON, "only one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.method, tc.creds.Method())
			err := tc.creds.Validate()
			if tc.err == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.err)
			}
			require.NotContains(t, fmt.Sprintf("%v %+v %#v", tc.creds, tc.creds, tc.creds), "rt")
		})
	}
}

func TestGoogleTokenSources(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		creds func(url string, t *testing.T) auth.GoogleCredentials
		grant string
	}{
		{"service account", func(u string, t *testing.T) auth.GoogleCredentials {
			return auth.GoogleCredentials{JSON: auth.NewSecret(serviceAccountJSON(t, u))}
		}, "urn:ietf:params:oauth:grant-type:jwt-bearer"},
		{"service account, token url overridden", func(u string, t *testing.T) auth.GoogleCredentials {
			return auth.GoogleCredentials{JSON: auth.NewSecret(serviceAccountJSON(t, "https://oauth2.invalid/token")), TokenURL: u}
		}, "urn:ietf:params:oauth:grant-type:jwt-bearer"},
		{"authorized user file", func(u string, _ *testing.T) auth.GoogleCredentials {
			return auth.GoogleCredentials{JSON: auth.NewSecret(`{"type":"authorized_user","client_id":"i","client_secret":"s","refresh_token":"rt","token_uri":"` + u + `"}`)}
		}, "refresh_token"},
		{"refresh token", func(u string, _ *testing.T) auth.GoogleCredentials {
			return auth.GoogleCredentials{ClientID: auth.NewSecret("i"), ClientSecret: auth.NewSecret("s"), RefreshToken: auth.NewSecret("rt"), TokenURL: u}
		}, "refresh_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fg := &fakeGoogle{}
			srv := fg.serve(t)
			creds := tc.creds(srv.URL, t)
			require.NoError(t, creds.CheckKey())
			src, err := auth.NewGoogleTokenSource(t.Context(), creds)
			require.NoError(t, err)

			tok, err := src.Token()
			require.NoError(t, err)
			require.Equal(t, "token-1", tok.AccessToken)
			tok, err = src.Token()
			require.NoError(t, err)
			require.Equal(t, "token-1", tok.AccessToken, "a valid token is reused")

			// Two callers saw the same token refused: one refresh.
			gen := src.Generation()
			require.True(t, src.Refresh(gen))
			require.True(t, src.Refresh(gen))
			tok, err = src.Token()
			require.NoError(t, err)
			require.Equal(t, "token-2", tok.AccessToken)
			require.Equal(t, []string{tc.grant, tc.grant}, fg.grants)
		})
	}
}

func TestStaticTokenCannotRefresh(t *testing.T) {
	t.Parallel()
	src, err := auth.NewGoogleTokenSource(t.Context(), auth.GoogleCredentials{AccessToken: auth.NewSecret("static")})
	require.NoError(t, err)
	require.False(t, src.Refresh(src.Generation()))
	tok, err := src.Token()
	require.NoError(t, err)
	require.Equal(t, "static", tok.AccessToken)
	require.Equal(t, auth.GoogleMethodAccessToken, src.Method())
}

func TestBadKeys(t *testing.T) {
	t.Parallel()
	for name, key := range map[string]string{
		"not json":       "-----BEGIN PRIVATE KEY-----",
		"no private key": `{"type":"service_account","client_email":"a@b"}`,
		"unknown type":   `{"type":"external_account"}`,
		"user no token":  `{"type":"authorized_user","client_id":"i"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := auth.GoogleCredentials{JSON: auth.NewSecret(key)}
			err := c.CheckKey()
			require.Error(t, err)
			require.NotContains(t, err.Error(), "BEGIN PRIVATE KEY")
			_, err = auth.NewGoogleTokenSource(t.Context(), c)
			require.Error(t, err)
		})
	}
}

func TestRefusedCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status  int
		refused bool
	}{{http.StatusBadRequest, true}, {http.StatusUnauthorized, true}, {http.StatusServiceUnavailable, false}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			fg := &fakeGoogle{status: tc.status}
			srv := fg.serve(t)
			src, err := auth.NewGoogleTokenSource(t.Context(), auth.GoogleCredentials{
				ClientID: auth.NewSecret("i"), ClientSecret: auth.NewSecret("s"), RefreshToken: auth.NewSecret("rt"), TokenURL: srv.URL,
			})
			require.NoError(t, err)
			_, err = src.Token()
			require.Error(t, err)
			require.Equal(t, tc.refused, errors.Is(err, auth.ErrGoogleCredentialsRejected))
			require.NotContains(t, err.Error(), "rt\"")
			if tc.refused {
				require.ErrorContains(t, err, "invalid_grant")
				require.ErrorContains(t, err, "audiencesync auth google")
			}
		})
	}
}

func TestGoogleTransportAddsBearer(t *testing.T) {
	t.Parallel()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Authorization") }))
	defer srv.Close()
	src, err := auth.NewGoogleTokenSource(t.Context(), auth.GoogleCredentials{AccessToken: auth.NewSecret("abc")})
	require.NoError(t, err)
	c := &http.Client{Transport: auth.GoogleTransport(src, nil)}
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "Bearer abc", got)
}

// browse plays the user's browser: it reads the consent URL, remembers the
// PKCE challenge, and follows the redirect back with a code.
func browse(t *testing.T, fg *fakeGoogle, consent string, mutate func(q url.Values)) (*http.Response, error) {
	u, err := url.Parse(consent)
	require.NoError(t, err)
	q := u.Query()
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.Equal(t, "offline", q.Get("access_type"))
	require.Equal(t, auth.GoogleScope, q.Get("scope"))
	fg.mu.Lock()
	fg.challenge = q.Get("code_challenge")
	fg.mu.Unlock()
	back := url.Values{"state": {q.Get("state")}, "code": {"the-code"}}
	if mutate != nil {
		mutate(back)
	}
	return http.Get(q.Get("redirect_uri") + "?" + back.Encode())
}

func TestLoopbackFlow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(q url.Values)
		err    string
	}{
		{"approved", nil, ""},
		{"state mismatch", func(q url.Values) { q.Set("state", "forged") }, "state does not match"},
		{"denied", func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }, "access_denied"},
		{"wrong code", func(q url.Values) { q.Set("code", "other") }, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fg := &fakeGoogle{}
			tokenSrv := fg.serve(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			flow := auth.GoogleLoopbackFlow{ClientID: "client", ClientSecret: "secret", AuthURL: "https://accounts.invalid/auth", TokenURL: tokenSrv.URL}
			browserErr := make(chan error, 1)
			tok, err := flow.Run(t.Context(), ln, func(consent string) {
				go func() {
					resp, err := browse(t, fg, consent, tc.mutate)
					if err == nil {
						resp.Body.Close()
					}
					browserErr <- err
				}()
			})
			require.NoError(t, <-browserErr)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "1//new-refresh-token", tok.RefreshToken)
		})
	}
}

func TestLoopbackFlowStopsWithContext(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	_, err = auth.GoogleLoopbackFlow{ClientID: "c", ClientSecret: "s"}.Run(ctx, ln, func(string) { cancel() })
	require.ErrorIs(t, err, context.Canceled)
}
