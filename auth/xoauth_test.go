package auth_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/platform/x"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/xads"
)

func sandboxCredentials() auth.XCredentials {
	return auth.XCredentials{
		ConsumerKey:    auth.NewSecret(x.ReplicaConsumerKey),
		ConsumerSecret: auth.NewSecret(x.ReplicaConsumerSecret),
		AccessToken:    auth.NewSecret(x.ReplicaAccessToken),
		AccessSecret:   auth.NewSecret(x.ReplicaAccessSecret),
	}
}

// replica serves the X Ads replica, which verifies every signature and
// refuses a nonce it has seen.
func replica(t *testing.T, faults string) string {
	t.Helper()
	ts := httptest.NewServer(xads.New(xads.Options{Faults: fault.MustParse(faults)}))
	t.Cleanup(ts.Close)
	return ts.URL + "/12/accounts/" + x.ReplicaAccount
}

func signer(t *testing.T) *auth.XSigner {
	t.Helper()
	s, err := auth.NewXSigner(sandboxCredentials())
	require.NoError(t, err)
	return s
}

func oauthParams(t *testing.T, header string) map[string]string {
	t.Helper()
	require.True(t, strings.HasPrefix(header, "OAuth "), header)
	out := map[string]string{}
	for part := range strings.SplitSeq(strings.TrimPrefix(header, "OAuth "), ", ") {
		k, v, ok := strings.Cut(part, "=")
		require.True(t, ok, part)
		val, err := url.PathUnescape(strings.Trim(v, `"`))
		require.NoError(t, err)
		out[k] = val
	}
	return out
}

func TestNewXSignerNeedsAllFour(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mod  func(*auth.XCredentials)
		want string
	}{
		{"consumer key", func(c *auth.XCredentials) { c.ConsumerKey = auth.Secret{} }, "missing [consumer key]"},
		{"both secrets", func(c *auth.XCredentials) { c.ConsumerSecret, c.AccessSecret = auth.Secret{}, auth.Secret{} }, "missing [consumer secret access token secret]"},
		{"access token", func(c *auth.XCredentials) { c.AccessToken = auth.NewSecret("") }, "missing [access token]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := sandboxCredentials()
			tc.mod(&c)
			_, err := auth.NewXSigner(c)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "X developer portal")
		})
	}
}

// The replica verifies the signature over method, URL, query and form
// body; a JSON body is not signed.
func TestXSignerTransportAgainstReplica(t *testing.T) {
	t.Parallel()
	base := replica(t, "")
	client := &http.Client{Transport: signer(t).Transport(nil)}
	for _, tc := range []struct {
		name, method, path, contentType, body string
	}{
		{"account", http.MethodGet, "", "", ""},
		{"query", http.MethodGet, "/custom_audiences?count=2&with_deleted=true", "", ""},
		{"form body", http.MethodPost, "/custom_audiences", "application/x-www-form-urlencoded", "name=Cart+abandoners&description=a+%26+b%21"},
		{"form body with charset", http.MethodPost, "/custom_audiences", "application/x-www-form-urlencoded; charset=utf-8", "name=%E2%98%83"},
		{"JSON body", http.MethodPost, "/custom_audiences", "application/json", `{"name":"json"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequestWithContext(t.Context(), tc.method, base+tc.path, body)
			require.NoError(t, err)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			for range 2 { // the same transport signs each request afresh
				if req.GetBody != nil {
					req.Body, _ = req.GetBody()
				}
				resp, err := client.Do(req)
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
			}
			require.Empty(t, req.Header.Get("Authorization"), "the caller's request is not modified")
		})
	}
}

func TestXSignerSign(t *testing.T) {
	t.Parallel()
	s := signer(t)
	req := httptest.NewRequest(http.MethodPost, "https://ads-api.x.com/12/accounts/abc/custom_audiences?count=1",
		strings.NewReader("name=n"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")

	require.NoError(t, s.Sign(req))
	first := oauthParams(t, req.Header.Get("Authorization"))
	require.NoError(t, s.Sign(req))
	second := oauthParams(t, req.Header.Get("Authorization"))

	require.Equal(t, x.ReplicaConsumerKey, first["oauth_consumer_key"])
	require.Equal(t, x.ReplicaAccessToken, first["oauth_token"])
	require.Equal(t, "HMAC-SHA1", first["oauth_signature_method"])
	require.Equal(t, "1.0", first["oauth_version"])
	require.NotEmpty(t, first["oauth_timestamp"])
	require.NotEqual(t, first["oauth_nonce"], second["oauth_nonce"], "every signature has its own nonce")
	require.NotEqual(t, first["oauth_signature"], second["oauth_signature"])
	for _, secret := range []string{x.ReplicaConsumerSecret, x.ReplicaAccessSecret} {
		require.NotContains(t, req.Header.Get("Authorization"), secret, "secrets only key the signature")
	}
	b, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	require.Equal(t, "name=n", string(b), "signing leaves the form body to send")
}

// When a kept-alive connection drops before the answer, net/http would
// resend a GET by itself with the same signature, and X would refuse the
// repeated nonce. The signing transport leaves the retry to its caller.
func TestXSignerTransportNeverReplaysASignature(t *testing.T) {
	t.Parallel()
	base := replica(t, "x.accounts:ok*1,x.accounts:reset*1")
	client := &http.Client{Transport: signer(t).Transport(http.DefaultTransport.(*http.Transport).Clone())}
	get := func() (*http.Response, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base, nil)
		require.NoError(t, err)
		return client.Do(req)
	}
	resp, err := get() // opens the connection the next request reuses
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = get()
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		t.Fatalf("the dropped request was answered %d (%s): net/http resent it with the same signature", resp.StatusCode, b)
	}

	resp, err = get() // a new attempt is signed afresh
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
