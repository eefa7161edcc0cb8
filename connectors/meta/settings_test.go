package meta_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/meta"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
)

func TestSpec(t *testing.T) {
	t.Parallel()
	s, ok := connectortest.Spec(t, meta.Spec()).(*meta.Settings)
	require.True(t, ok)
	require.Equal(t, "act_1234567890", s.AdAccount)
	require.Equal(t, "${env:META_ACCESS_TOKEN}", s.AccessToken.Ref(), "the sample reads the token from the environment")
}

// decode reads a connection body strictly, as the config loader does.
func decode(t *testing.T, body string) *meta.Settings {
	t.Helper()
	var s meta.Settings
	dec := yaml.NewDecoder(bytes.NewReader([]byte(body)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&s))
	return &s
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	const creds = "app_id: \"1234\"\napp_secret: ${env:S}\naccess_token: ${env:T}\n"
	tests := []struct {
		name string
		body string
		want []string // substrings of the error; none means valid
	}{
		{name: "minimal", body: "ad_account: act_1234567890\n" + creds},
		{name: "account without act_", body: "ad_account: \"1234567890\"\n" + creds},
		{name: "sandbox without credentials", body: "ad_account: act_1\nsandbox: true\n"},
		{name: "sandbox with credentials", body: "ad_account: act_1\nsandbox: true\n" + creds},
		{name: "every key", body: "ad_account: act_1\n" + creds + "api_version: v24.0\ncustomer_file_source: BOTH_USER_AND_PARTNER_PROVIDED\n" +
			"endpoint: http://127.0.0.1:8080/\nconcurrency: 4\nrequests_per_second: 2.5\n"},
		{name: "no ad account", body: creds, want: []string{"ad_account is required"}},
		{name: "ad account not digits", body: "ad_account: act_12ab\n" + creds, want: []string{`ad_account "act_12ab"`, "act_1234567890"}},
		{name: "no credentials", body: "ad_account: act_1\n", want: []string{"app_id is required", "app_secret is required", "access_token is required"}},
		{name: "sandbox with partial credentials", body: "ad_account: act_1\nsandbox: true\napp_id: \"1\"\n",
			want: []string{"app_secret is required", "access_token is required"}},
		{name: "app id not digits", body: "ad_account: act_1\napp_id: my-app\napp_secret: ${env:S}\naccess_token: ${env:T}\n", want: []string{`app_id "my-app"`}},
		{name: "bad version", body: "ad_account: act_1\n" + creds + "api_version: \"25\"\n", want: []string{`api_version "25"`, "v25.0"}},
		{name: "bad file source", body: "ad_account: act_1\n" + creds + "customer_file_source: CRM\n", want: []string{"customer_file_source", "USER_PROVIDED_ONLY"}},
		{name: "bad endpoint", body: "ad_account: act_1\n" + creds + "endpoint: graph.facebook.com\n", want: []string{"endpoint", "https://graph.facebook.com/"}},
		{name: "endpoint with query", body: "ad_account: act_1\n" + creds + "endpoint: https://x.test/?access_token=1\n", want: []string{"endpoint"}},
		{name: "concurrency too high", body: "ad_account: act_1\n" + creds + "concurrency: 100\n", want: []string{"concurrency 100"}},
		{name: "negative concurrency", body: "ad_account: act_1\n" + creds + "concurrency: -1\n", want: []string{"concurrency -1"}},
		{name: "negative rate", body: "ad_account: act_1\n" + creds + "requests_per_second: -1\n", want: []string{"requests_per_second"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := decode(t, tt.body).Validate()
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSettingsStrict(t *testing.T) {
	t.Parallel()
	var s meta.Settings
	dec := yaml.NewDecoder(bytes.NewReader([]byte("ad_account: act_1\nadaccount: act_2\n")))
	dec.KnownFields(true)
	require.Error(t, dec.Decode(&s), "an unknown key must be an error")
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings meta.Settings
		env      connectors.Env
		want     string
	}{
		{name: "sandbox without a sandbox", settings: meta.Settings{AdAccount: "act_1", Settings: platformconn.Settings{Sandbox: true}}, want: "audiencesync sandbox --addr"},
		{name: "invalid settings", settings: meta.Settings{AdAccount: "x"}, want: "ad_account"},
		{name: "unresolved secret", settings: meta.Settings{AdAccount: "act_1", AppID: "1", AppSecret: auth.NewSecret(""),
			AccessToken: auth.NewSecret("t")}, want: "app_secret is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := meta.New(&tt.settings, tt.env)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// A sandbox connection with no endpoint and no credentials asks the
// engine's sandbox for its URL and uses the sandbox credentials.
func TestSandboxFromEnv(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	calls := 0
	env := connectors.Env{Logger: b.log, Endpoint: func(context.Context, string) (string, error) {
		calls++
		return b.ts.URL, nil
	}}
	d, err := meta.New(&meta.Settings{AdAccount: adAccount, Settings: platformconn.Settings{Sandbox: true}}, env)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.Equal(t, 0, calls, "the sandbox starts on first use, not in New")
	a, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "from env", Create: true})
	require.NoError(t, err)
	require.True(t, a.Created)
	require.NoError(t, d.Check(t.Context()))
	require.Equal(t, 1, calls)
}
