package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/platform/meta"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
)

func TestAppsecretProof(t *testing.T) {
	t.Parallel()
	// The HMAC-SHA256 example of RFC 4231's companion texts: key "key".
	require.Equal(t, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
		auth.AppsecretProof("key", "The quick brown fox jumps over the lazy dog"))
	require.Equal(t, metagraph.AppsecretProof(meta.ReplicaToken), auth.AppsecretProof(meta.ReplicaAppSecret, meta.ReplicaToken),
		"the replica and the helper agree")
}

// graph starts a Graph replica and returns where it is, counting the
// requests that carry a credential outside the Authorization header.
func graph(t *testing.T) (auth.MetaGraph, *int) {
	t.Helper()
	leaks := new(int)
	srv := metagraph.New(metagraph.Options{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, "token") || strings.Contains(r.URL.RawQuery, meta.ReplicaAppSecret) {
			*leaks++
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return auth.MetaGraph{BaseURL: ts.URL + "/", Version: meta.ReplicaVersion, Client: ts.Client()}, leaks
}

func creds(token string) auth.MetaCredentials {
	return auth.MetaCredentials{AppID: meta.ReplicaAppID, AppSecret: auth.NewSecret(meta.ReplicaAppSecret), AccessToken: auth.NewSecret(token)}
}

func TestInspectToken(t *testing.T) {
	t.Parallel()
	g, leaks := graph(t)
	now := time.Now()
	tests := []struct {
		name   string
		creds  auth.MetaCredentials
		valid  bool
		expiry time.Duration // 0: never
		fails  bool          // the inspection call itself fails
	}{
		{name: "system user token", creds: creds(meta.ReplicaToken), valid: true},
		{name: "expiring token", creds: creds(metagraph.ExpiringToken), valid: true, expiry: metagraph.ExpiringIn},
		{name: "expired token", creds: creds(meta.ReplicaExpiredToken)},
		{name: "garbage", creds: creds("garbage")},
		{name: "wrong app secret", creds: auth.MetaCredentials{AppID: meta.ReplicaAppID, AppSecret: auth.NewSecret("nope"),
			AccessToken: auth.NewSecret(meta.ReplicaToken)}, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, err := tt.creds.InspectToken(t.Context(), g)
			if tt.fails {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.valid, tok.Valid)
			if !tt.valid {
				require.NotEmpty(t, tok.Problem)
				return
			}
			require.Equal(t, meta.ReplicaAppID, tok.AppID)
			require.Contains(t, tok.Scopes, "ads_management")
			if tt.expiry == 0 {
				require.True(t, tok.ExpiresAt.IsZero())
			} else {
				require.WithinDuration(t, now.Add(tt.expiry), tok.ExpiresAt, time.Minute)
			}
		})
	}
	require.Zero(t, *leaks, "a credential travelled in a URL")
}

// A session sends the token in the Authorization header with the proof
// the replica verifies.
func TestSession(t *testing.T) {
	t.Parallel()
	g, leaks := graph(t)
	s := creds(meta.ReplicaToken).Session(g).WithContext(t.Context())
	_, err := s.Get("/act_1", nil)
	require.NoError(t, err)
	bad := auth.MetaCredentials{AppID: meta.ReplicaAppID, AppSecret: auth.NewSecret("nope"), AccessToken: auth.NewSecret(meta.ReplicaToken)}
	_, err = bad.Session(g).WithContext(t.Context()).Get("/act_1", nil)
	require.ErrorContains(t, err, "appsecret_proof")
	require.Zero(t, *leaks)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ok := auth.MetaToken{Valid: true, AppID: "1234", Scopes: []string{"ads_management", "business_management"}}
	with := func(f func(*auth.MetaToken)) auth.MetaToken {
		t := ok
		f(&t)
		return t
	}
	tests := []struct {
		name     string
		token    auth.MetaToken
		expiring bool
		want     string // part of the error; "" for none
	}{
		{name: "never expires", token: ok},
		{name: "expires in a month", token: with(func(t *auth.MetaToken) { t.ExpiresAt = now.AddDate(0, 1, 0) })},
		{name: "expires in three days", token: with(func(t *auth.MetaToken) { t.ExpiresAt = now.Add(72 * time.Hour) }),
			expiring: true, want: "expires on 2026-03-04T12:00:00Z (in 72h0m0s)"},
		{name: "data access lapses soon", token: with(func(t *auth.MetaToken) { t.DataAccessExpiresAt = now.Add(time.Hour) }),
			expiring: true, want: "loses data access"},
		{name: "invalid", token: auth.MetaToken{Problem: "Session has expired"}, want: "Session has expired"},
		{name: "another app", token: with(func(t *auth.MetaToken) { t.AppID = "999" }), want: "issued for app 999"},
		{name: "no ads_management", token: with(func(t *auth.MetaToken) { t.Scopes = []string{"ads_read"} }), want: "lacks the ads_management permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.token.Verify(now, "1234")
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, "Business Manager", "the error says how to renew")
			require.Equal(t, tt.expiring, errors.Is(err, auth.ErrMetaTokenExpiring))
		})
	}
}
