package xads

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dghubble/oauth1"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/x"
	"github.com/audiencesync/audiencesync/sandbox/fault"
)

type bundle struct {
	srv *Server
	ts  *httptest.Server
}

func setup(t *testing.T, opts Options) *bundle {
	t.Helper()
	srv := New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &bundle{srv: srv, ts: ts}
}

type fixedNonce string

func (n fixedNonce) Nonce() string { return string(n) }

// client signs with dghubble/oauth1, as the X connector does.
func (b *bundle) client(consumerSecret, token, tokenSecret string, noncer oauth1.Noncer) *http.Client {
	cfg := oauth1.NewConfig(x.ReplicaConsumerKey, consumerSecret)
	cfg.Noncer = noncer
	ctx := context.WithValue(context.Background(), oauth1.HTTPClient, b.ts.Client())
	return cfg.Client(ctx, oauth1.NewToken(token, tokenSecret))
}

func (b *bundle) good() *http.Client {
	return b.client(x.ReplicaConsumerSecret, x.ReplicaAccessToken, x.ReplicaAccessSecret, nil)
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, c *http.Client, method, u, contentType string, body []byte) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := response{status: res.StatusCode, header: res.Header}
	require.NoError(t, json.Unmarshal(raw, &out.body), "body: %s", raw)
	return out
}

func errorCode(t *testing.T, r response) string {
	t.Helper()
	errs, ok := r.body["errors"].([]any)
	require.True(t, ok && len(errs) > 0, "want an X error body, got %v", r.body)
	_, ok = r.body["request"].(map[string]any)
	require.True(t, ok, "X errors echo the request")
	return errs[0].(map[string]any)["code"].(string)
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (b *bundle) accountURL(rest string) string {
	return b.ts.URL + "/12/accounts/" + x.ReplicaAccount + rest
}

func (b *bundle) create(t *testing.T, c *http.Client, name string) string {
	t.Helper()
	form := url.Values{"name": {name}, "description": {"test audience"}}
	r := do(t, c, "POST", b.accountURL("/custom_audiences"), "application/x-www-form-urlencoded", []byte(form.Encode()))
	require.Equal(t, 200, r.status, r.body)
	return r.body["data"].(map[string]any)["id"].(string)
}

func ops(list ...map[string]any) []byte {
	buf, _ := json.Marshal(list)
	return buf
}

func update(users ...map[string]any) map[string]any {
	return map[string]any{"operation_type": "Update", "params": map[string]any{"users": users}}
}

func del(users ...map[string]any) map[string]any {
	return map[string]any{"operation_type": "Delete", "params": map[string]any{"users": users}}
}

func TestAudiencesAndUsersWithOAuth1Client(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	c := b.good()

	r := do(t, c, "GET", b.accountURL(""), "", nil)
	require.Equal(t, 200, r.status, r.body)
	require.Equal(t, x.ReplicaAccount, r.body["data"].(map[string]any)["id"])
	require.Equal(t, "1500", r.header.Get("x-rate-limit-limit"))
	require.NotEmpty(t, r.header.Get("x-rate-limit-reset"))

	id := b.create(t, c, "Cart abandoners")
	// Parameters in the query (as X's own SDKs send them) and a JSON body work too.
	r = do(t, c, "POST", b.accountURL("/custom_audiences?name=Second"), "", nil)
	require.Equal(t, 200, r.status, r.body)
	r = do(t, c, "POST", b.accountURL("/custom_audiences"), "application/json", []byte(`{"name":"Third"}`))
	require.Equal(t, 200, r.status, r.body)

	r = do(t, c, "GET", b.accountURL("/custom_audiences?count=2"), "", nil)
	require.Equal(t, 200, r.status, r.body)
	require.Len(t, r.body["data"], 2)
	cursor := r.body["next_cursor"].(string)
	r = do(t, c, "GET", b.accountURL("/custom_audiences?count=2&cursor="+cursor), "", nil)
	require.Len(t, r.body["data"], 1)
	require.Nil(t, r.body["next_cursor"])

	body := ops(
		update(map[string]any{"email": []string{sha("a@example.com")}, "phone_number": []string{sha("16505551212")}},
			map[string]any{"handle": []string{sha("adsapi")}, "partner_user_id": []string{"crm-7"}}),
		update(map[string]any{"twitter_id": []string{sha("12")}, "device_id": []string{sha("idfa")}}),
	)
	r = do(t, c, "POST", b.accountURL("/custom_audiences/"+id+"/users"), "application/json", body)
	require.Equal(t, 200, r.status, r.body)
	require.Equal(t, map[string]any{"success_count": 2.0, "total_count": 2.0}, r.body["data"])
	require.ElementsMatch(t, []string{sha("a@example.com"), sha("16505551212"), sha("adsapi"), "partner_user_id:crm-7", sha("12"), sha("idfa")},
		b.srv.Members(id))

	r = do(t, c, "POST", b.accountURL("/custom_audiences/"+id+"/users"), "application/json",
		ops(del(map[string]any{"email": []string{sha("a@example.com")}, "partner_user_id": []string{"crm-7"}})))
	require.Equal(t, 200, r.status, r.body)
	require.ElementsMatch(t, []string{sha("16505551212"), sha("adsapi"), sha("12"), sha("idfa")}, b.srv.Members(id))

	r = do(t, c, "GET", b.accountURL("/custom_audiences/"+id), "", nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, "Cart abandoners", r.body["data"].(map[string]any)["name"])
}

func TestUsersValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	id := b.srv.CreateAudience(x.ReplicaAccount, "validation")
	good := update(map[string]any{"email": []string{sha("a")}})
	tooMany := make([]map[string]any, MaxOperations+1)
	for i := range tooMany {
		tooMany[i] = good
	}
	for _, tc := range []struct {
		name     string
		body     []byte
		opErrors bool
	}{
		{"bad operation type", ops(good, map[string]any{"operation_type": "update", "params": good["params"]}), true},
		{"email in clear", ops(update(map[string]any{"email": []string{"a@example.com"}})), true},
		{"uppercase hash", ops(update(map[string]any{"phone_number": []string{strings.ToUpper(sha("1"))}})), true},
		{"unknown user key", ops(update(map[string]any{"mail": []string{sha("a")}})), true},
		{"no users", ops(map[string]any{"operation_type": "Update", "params": map[string]any{"users": []any{}}}), true},
		{"empty user", ops(update(map[string]any{})), true},
		{"expiry before effect", ops(map[string]any{"operation_type": "Update", "params": map[string]any{
			"users": []any{map[string]any{"email": []string{sha("a")}}}, "effective_at": "2026-02-01T00:00:00Z", "expires_at": "2026-01-01T00:00:00Z"}}), true},
		{"too many operations", ops(tooMany...), false},
		{"not an array", []byte(`{"operation_type":"Update"}`), false},
		{"empty array", []byte(`[]`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := do(t, b.good(), "POST", b.accountURL("/custom_audiences/"+id+"/users"), "application/json", tc.body)
			require.Equal(t, 400, r.status, r.body)
			require.Equal(t, "INVALID_PARAMETER", errorCode(t, r))
			if tc.opErrors {
				opErrs := r.body["operation_errors"].([]any)
				require.NotEmpty(t, opErrs[len(opErrs)-1], "the bad operation is named")
			}
		})
	}
	t.Run("form body", func(t *testing.T) {
		t.Parallel()
		r := do(t, b.good(), "POST", b.accountURL("/custom_audiences/"+id+"/users"), "application/x-www-form-urlencoded", []byte("a=b"))
		require.Equal(t, 400, r.status)
	})
	t.Run("unknown audience", func(t *testing.T) {
		t.Parallel()
		r := do(t, b.good(), "POST", b.accountURL("/custom_audiences/zzz/users"), "application/json", ops(good))
		require.Equal(t, 404, r.status)
		require.Equal(t, "NOT_FOUND", errorCode(t, r))
	})
	t.Run("body over 5,000,000 bytes", func(t *testing.T) {
		t.Parallel()
		big := bytes.Repeat([]byte(" "), MaxBodyBytes+1)
		copy(big, ops(good))
		r := do(t, b.good(), "POST", b.accountURL("/custom_audiences/"+id+"/users"), "application/json", big)
		require.Equal(t, 413, r.status)
		require.NotEmpty(t, errorCode(t, r))
	})
	require.Empty(t, b.srv.Members(id), "a batch with any invalid operation applies nothing")
}

func TestOAuthVerification(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	for _, tc := range []struct {
		name   string
		client *http.Client
	}{
		{"wrong consumer secret", b.client("nope", x.ReplicaAccessToken, x.ReplicaAccessSecret, nil)},
		{"wrong token secret", b.client(x.ReplicaConsumerSecret, x.ReplicaAccessToken, "nope", nil)},
		{"unknown token", b.client(x.ReplicaConsumerSecret, "nope", x.ReplicaAccessSecret, nil)},
		{"revoked token", b.client(x.ReplicaConsumerSecret, x.ReplicaRevokedToken, x.ReplicaAccessSecret, nil)},
		{"unsigned", b.ts.Client()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := do(t, tc.client, "GET", b.accountURL(""), "", nil)
			require.Equal(t, 401, r.status)
			require.Equal(t, "UNAUTHORIZED_ACCESS", errorCode(t, r))
		})
	}
	t.Run("reused nonce", func(t *testing.T) {
		t.Parallel()
		c := b.client(x.ReplicaConsumerSecret, x.ReplicaAccessToken, x.ReplicaAccessSecret, fixedNonce("same-nonce-every-time"))
		require.Equal(t, 200, do(t, c, "GET", b.accountURL(""), "", nil).status)
		r := do(t, c, "GET", b.accountURL(""), "", nil)
		require.Equal(t, 401, r.status)
		require.Contains(t, r.body["errors"].([]any)[0].(map[string]any)["message"], "nonce")
	})
	t.Run("form body is signed", func(t *testing.T) {
		t.Parallel()
		// Tamper with a signed form body: the signature no longer matches.
		c := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			req.Body = io.NopCloser(strings.NewReader("name=tampered"))
			req.ContentLength = int64(len("name=tampered"))
			return b.ts.Client().Transport.RoundTrip(req)
		})}
		signer := b.client(x.ReplicaConsumerSecret, x.ReplicaAccessToken, x.ReplicaAccessSecret, nil)
		signer.Transport.(*oauth1.Transport).Base = c.Transport
		r := do(t, signer, "POST", b.accountURL("/custom_audiences"), "application/x-www-form-urlencoded", []byte("name=original"))
		require.Equal(t, 401, r.status)
	})
	t.Run("query is signed", func(t *testing.T) {
		t.Parallel()
		c := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			req.URL.RawQuery = "count=5"
			return b.ts.Client().Transport.RoundTrip(req)
		})}
		signer := b.client(x.ReplicaConsumerSecret, x.ReplicaAccessToken, x.ReplicaAccessSecret, nil)
		signer.Transport.(*oauth1.Transport).Base = c.Transport
		r := do(t, signer, "GET", b.accountURL("/custom_audiences?count=2"), "", nil)
		require.Equal(t, 401, r.status)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTimestampSkew(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Now: func() time.Time { return time.Now().Add(time.Hour) }})
	r := do(t, b.good(), "GET", b.accountURL(""), "", nil)
	require.Equal(t, 401, r.status)
	require.Contains(t, r.body["errors"].([]any)[0].(map[string]any)["message"], "Timestamp")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: 2})
	c := b.good()
	for want := 1; want >= 0; want-- {
		r := do(t, c, "GET", b.accountURL(""), "", nil)
		require.Equal(t, 200, r.status)
		require.Equal(t, fmt.Sprint(want), r.header.Get("x-rate-limit-remaining"))
	}
	r := do(t, c, "GET", b.accountURL(""), "", nil)
	require.Equal(t, 429, r.status)
	require.Equal(t, "TOO_MANY_REQUESTS", errorCode(t, r))
	require.Equal(t, "0", r.header.Get("x-rate-limit-remaining"))
	// Budgets are per endpoint.
	require.Equal(t, 200, do(t, c, "GET", b.accountURL("/custom_audiences"), "", nil).status)
}

func TestFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: fault.MustParse("x.users:429*1,x.users:500*1,x.users:503*1,x.users:expired*1,retry-after=30s")})
	id := b.srv.CreateAudience(x.ReplicaAccount, "faults")
	c := b.good()
	body := ops(update(map[string]any{"email": []string{sha("a")}}))
	url := b.accountURL("/custom_audiences/" + id + "/users")

	r := do(t, c, "POST", url, "application/json", body)
	require.Equal(t, 429, r.status)
	require.Equal(t, "0", r.header.Get("x-rate-limit-remaining"))
	require.Equal(t, "30", r.header.Get("Retry-After"))
	require.Equal(t, "TOO_MANY_REQUESTS", errorCode(t, r))
	for _, want := range []struct {
		status int
		code   string
	}{{500, "INTERNAL_ERROR"}, {503, "SERVICE_UNAVAILABLE"}, {401, "UNAUTHORIZED_ACCESS"}} {
		r = do(t, c, "POST", url, "application/json", body)
		require.Equal(t, want.status, r.status)
		require.Equal(t, want.code, errorCode(t, r))
	}
	require.Empty(t, b.srv.Members(id))
	require.Equal(t, 200, do(t, c, "POST", url, "application/json", body).status)
	require.Len(t, b.srv.Members(id), 1)
}

func TestPercentEncodeMatchesRFC3986(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Ladies + Gentlemen": "Ladies%20%2B%20Gentlemen",
		"An encoded string!": "An%20encoded%20string%21",
		"Dogs, Cats & Mice":  "Dogs%2C%20Cats%20%26%20Mice",
		"☃":                  "%E2%98%83",
		"a-b.c_d~e":          "a-b.c_d~e",
	} {
		require.Equal(t, want, percentEncode(in))
	}
}

func FuzzParseAuthHeader(f *testing.F) {
	f.Add(`OAuth oauth_consumer_key="k", oauth_nonce="n%20x", oauth_signature="a%2Bb%3D"`)
	f.Add(`OAuth realm="x"`)
	f.Add(`Bearer abc`)
	f.Fuzz(func(t *testing.T, h string) {
		if params, ok := parseAuthHeader(h); ok {
			require.NotNil(t, params)
		}
	})
}

// TestAudienceSizeCountsPeople uploads users of an e-mail and a phone
// each: audience_size counts users (people), not identifiers, so sixty of
// them are too few to target (X gives no size below 100) however many
// identifiers they carry, and a hundred and fifty read as 150, through a
// save and load.
func TestAudienceSizeCountsPeople(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	c := b.good()
	id := b.create(t, c, "people")
	users := func(from, to int) []byte {
		var us []map[string]any
		for i := from; i < to; i++ {
			us = append(us, map[string]any{"email": []string{sha(fmt.Sprintf("u%d@example.com", i))}, "phone_number": []string{sha(fmt.Sprintf("1555555%04d", i))}})
		}
		return ops(update(us...))
	}
	size := func(srv *Server) map[string]any {
		t.Helper()
		ts := httptest.NewServer(srv)
		defer ts.Close()
		r := do(t, c, "GET", ts.URL+"/12/accounts/"+x.ReplicaAccount+"/custom_audiences/"+id, "", nil)
		require.Equal(t, 200, r.status, r.body)
		return r.body["data"].(map[string]any)
	}

	r := do(t, c, "POST", b.accountURL("/custom_audiences/"+id+"/users"), "application/json", users(0, 60))
	require.Equal(t, 200, r.status, r.body)
	require.Len(t, b.srv.Members(id), 120)
	got := size(b.srv)
	require.Nil(t, got["audience_size"], "sixty people are too few, whatever their 120 identifiers")
	require.Equal(t, false, got["targetable"])

	r = do(t, c, "POST", b.accountURL("/custom_audiences/"+id+"/users"), "application/json", users(60, 150))
	require.Equal(t, 200, r.status, r.body)
	got = size(b.srv)
	require.Equal(t, 150.0, got["audience_size"])
	require.Equal(t, true, got["targetable"])

	saved, err := b.srv.Save()
	require.NoError(t, err)
	loaded := New(Options{})
	require.NoError(t, loaded.Load(saved))
	require.Equal(t, 150.0, size(loaded)["audience_size"], "a saved audience keeps who is one person")
}
