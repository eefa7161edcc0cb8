package platformconn_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/platform"
)

func TestNewREST(t *testing.T) {
	t.Parallel()
	l := limits
	l.APIVersion, l.ReplicaAccount = "v3", "replica-7"
	sandbox := connectors.Env{Endpoint: func(context.Context, string) (string, error) { return "http://127.0.0.1:2/", nil }}
	for _, tc := range []struct {
		name             string
		s                platformconn.Settings
		env              connectors.Env
		account, version string
		wantAccount      string
		wantVersion      string
	}{
		{name: "configured", account: "42", version: "v2", wantAccount: "42", wantVersion: "v2"},
		{name: "defaults", wantAccount: "", wantVersion: "v3"},
		{name: "sandbox without an account", s: platformconn.Settings{Sandbox: true}, env: sandbox,
			wantAccount: "replica-7", wantVersion: "v3"},
		{name: "sandbox with one", s: platformconn.Settings{Sandbox: true}, env: sandbox, account: "42",
			wantAccount: "42", wantVersion: "v3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := platformconn.NewREST(tc.s, l, tc.env, nil, tc.account, tc.version)
			require.NoError(t, err)
			require.Equal(t, tc.wantAccount, r.Account)
			require.Equal(t, tc.wantVersion, r.Version)
			require.Equal(t, 3, r.Concurrency, "the shared defaults apply")
		})
	}
	_, err := platformconn.NewREST(platformconn.Settings{Concurrency: 99}, l, connectors.Env{}, nil, "", "")
	require.ErrorContains(t, err, "concurrency 99")
}

func TestRESTInfoAndClose(t *testing.T) {
	t.Parallel()
	p := &platform.Platform{Name: "acme", Profile: normalize.MustProfile(normalize.Spec{Name: "acme",
		Fields: []normalize.Field{{Kind: audience.Email, Rule: normalize.Email}}})}
	r, err := platformconn.NewREST(platformconn.Settings{Concurrency: 2}, limits, connectors.Env{}, nil, "", "")
	require.NoError(t, err)
	info := r.Info(p, 500)
	require.Equal(t, connectors.DestinationInfo{Platform: p, Kinds: []audience.Kind{audience.Email}, MaxBatch: 500, Concurrency: 2}, info)

	require.NoError(t, r.Close(), "Close before a client is set does nothing")
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	wire := platformconn.Wire(2)
	r.Client = r.HTTP(platformhttp.Options{Attempts: 1, Transport: wire})
	req, err := platformhttp.NewJSONRequest(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	a, err := r.Client.Send(req, 1<<10, "Acme", "things")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, a.Status)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "a second Close does nothing")
}

func TestKeyCheck(t *testing.T) {
	t.Parallel()
	account := platformconn.Key{Name: "account_id", Pattern: regexp.MustCompile(`^[0-9]+$`),
		Missing: "copy it from Acme Ads", Invalid: "an Acme account id: write digits"}
	version := platformconn.Key{Name: "api_version", Pattern: regexp.MustCompile(`^v[0-9]$`), Invalid: "a version"}
	for _, tc := range []struct {
		name    string
		key     platformconn.Key
		v       string
		sandbox bool
		want    string
	}{
		{name: "set", key: account, v: "12"},
		{name: "missing", key: account, want: "acme: account_id is required: copy it from Acme Ads"},
		{name: "missing in a sandbox", key: account, sandbox: true},
		{name: "invalid", key: account, v: "act_12", want: `acme: account_id "act_12" is not an Acme account id: write digits`},
		{name: "invalid in a sandbox too", key: account, v: "x", sandbox: true, want: `acme: account_id "x" is not an Acme account id: write digits`},
		{name: "optional", key: version},
		{name: "optional, invalid", key: version, v: "3", want: `acme: api_version "3" is not a version`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.key.Check("acme", tc.v, tc.sandbox)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.want)
		})
	}
}
