package x

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
)

func TestSpecSample(t *testing.T) {
	t.Parallel()
	s, ok := connectortest.Spec(t, Spec()).(*Settings)
	require.True(t, ok)
	require.Equal(t, "18ce54d4x5t", s.AccountID)
	require.Equal(t, "${env:X_ACCESS_SECRET}", s.AccessSecret.Ref())
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	secret := auth.NewSecret("configured")
	full := func() Settings {
		return Settings{AccountID: "18ce54d4x5t", XCredentials: auth.XCredentials{ConsumerKey: secret, ConsumerSecret: secret, AccessToken: secret, AccessSecret: secret}}
	}
	for _, tc := range []struct {
		name    string
		mod     func(*Settings)
		wantErr string
	}{
		{"complete", func(*Settings) {}, ""},
		{"sandbox needs nothing else", func(s *Settings) { *s = Settings{Settings: platformconn.Settings{Sandbox: true}} }, ""},
		{"sandbox with all credentials", func(s *Settings) { s.Sandbox, s.AccountID = true, "" }, ""},
		{"every option", func(s *Settings) {
			s.APIVersion, s.Endpoint, s.Concurrency, s.RequestsPerSecond = "12", "http://127.0.0.1:8080/x/", 8, 20
		}, ""},
		{"no account", func(s *Settings) { s.AccountID = "" }, "account_id is required"},
		{"account not an id", func(s *Settings) { s.AccountID = "Acct-1" }, "not an X ad account id"},
		{"no credentials", func(s *Settings) { *s = Settings{AccountID: "abc"} }, "consumer_key, consumer_secret, access_token, access_secret not set"},
		{"one credential missing", func(s *Settings) { s.AccessSecret = auth.Secret{} }, "access_secret not set"},
		{"sandbox with some credentials", func(s *Settings) { s.Sandbox, s.ConsumerKey = true, auth.Secret{} }, "consumer_key not set"},
		{"version with a v", func(s *Settings) { s.APIVersion = "v12" }, "write the number only"},
		{"endpoint without scheme", func(s *Settings) { s.Endpoint = "ads-api.x.com" }, "not an http(s) base URL"},
		{"endpoint with query", func(s *Settings) { s.Endpoint = "https://ads-api.x.com/?token=1" }, "plain base URL"},
		{"endpoint with user", func(s *Settings) { s.Endpoint = "https://u:p@ads-api.x.com" }, "plain base URL"},
		{"negative concurrency", func(s *Settings) { s.Concurrency = -1 }, "concurrency -1 is out of range"},
		{"too much concurrency", func(s *Settings) { s.Concurrency = MaxConcurrency + 1 }, "out of range"},
		{"negative rate", func(s *Settings) { s.RequestsPerSecond = -2 }, "requests_per_second -2 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := full()
			tc.mod(&s)
			err := s.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	t.Run("sandbox without a sandbox or endpoint", func(t *testing.T) {
		t.Parallel()
		_, err := New(&Settings{Settings: platformconn.Settings{Sandbox: true}}, connectors.Env{})
		require.ErrorContains(t, err, "set endpoint:")
	})
	t.Run("unresolved secrets", func(t *testing.T) {
		t.Parallel()
		var s Settings
		require.NoError(t, yaml.Unmarshal([]byte(`
account_id: abc
consumer_key: ${env:K}
consumer_secret: ${env:S}
access_token: ${env:T}
access_secret: ${env:A}
`), &s))
		_, err := New(&s, connectors.Env{})
		require.ErrorContains(t, err, "missing [consumer key consumer secret access token access token secret]")
	})
	t.Run("invalid settings", func(t *testing.T) {
		t.Parallel()
		_, err := New(&Settings{}, connectors.Env{})
		require.ErrorContains(t, err, "account_id is required")
	})
	t.Run("wrong settings type", func(t *testing.T) {
		t.Parallel()
		_, err := Spec().NewDestination(&struct{}{}, connectors.Env{})
		require.ErrorContains(t, err, "want *x.Settings")
	})
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		secret := auth.NewSecret("v")
		d, err := New(&Settings{AccountID: "abc", XCredentials: auth.XCredentials{ConsumerKey: secret, ConsumerSecret: secret, AccessToken: secret, AccessSecret: secret}}, connectors.Env{})
		require.NoError(t, err)
		require.Equal(t, DefaultEndpoint, d.base)
		require.Equal(t, DefaultAPIVersion, d.version)
		info := d.Info()
		require.Equal(t, connectors.DestinationInfo{Platform: xplatform.Platform(), Kinds: xplatform.Platform().Kinds(), MaxBatch: MaxOperations, Concurrency: DefaultConcurrency}, info)
		require.NoError(t, d.Close())
	})
}

// With sandbox: true and no endpoint or credentials, the connection finds
// the in-process sandbox through Env.Endpoint on first use and signs with
// the sandbox's credentials.
func TestSandboxFromEnv(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", 0, nil)
	calls := 0
	env := connectors.Env{Endpoint: func(context.Context, string) (string, error) {
		calls++
		return r.ts.URL + "/", nil
	}}
	d, err := New(&Settings{Settings: platformconn.Settings{Sandbox: true}}, env)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.Zero(t, calls, "New makes no call")
	require.NoError(t, d.Check(t.Context()))
	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "from env", Create: true})
	require.NoError(t, err)
	require.True(t, aud.Created)
	require.Equal(t, 1, calls, "the sandbox is looked up once")

	failing := connectors.Env{Endpoint: func(context.Context, string) (string, error) { return "", errors.New("port in use") }}
	d2, err := New(&Settings{Settings: platformconn.Settings{Sandbox: true}}, failing)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d2.Close() })
	require.ErrorContains(t, d2.Check(t.Context()), "start the sandbox: port in use")
}
