package meta_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/meta"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*meta.Settings)
		// is is the sentinel the error wraps; nil for success.
		is   error
		want []string
	}{
		{name: "valid"},
		{name: "expires soon", mod: func(s *meta.Settings) { s.AccessToken = auth.NewSecret(metagraph.ExpiringToken) },
			is: auth.ErrMetaTokenExpiring, want: []string{"expires on", "System users"}},
		{name: "expired", mod: func(s *meta.Settings) { s.AccessToken = auth.NewSecret(metaplatform.ReplicaExpiredToken) },
			is: connectors.ErrReauthenticate, want: []string{"Session has expired", "System users"}},
		{name: "not a token", mod: func(s *meta.Settings) { s.AccessToken = auth.NewSecret("garbage") },
			is: connectors.ErrReauthenticate, want: []string{"Business Manager"}},
		{name: "wrong app secret", mod: func(s *meta.Settings) { s.AppSecret = auth.NewSecret("not-the-secret") },
			is: connectors.ErrReauthenticate, want: []string{"appsecret_proof", "app_secret must be the secret of app 1234"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "")
			mods := []func(*meta.Settings){}
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			err := b.dest(mods...).Check(t.Context())
			if tt.is == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.is)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

// The expiry warning is logged too, with when, never the token.
func TestCheckLogsExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	d := b.dest(func(s *meta.Settings) { s.AccessToken = auth.NewSecret(metagraph.ExpiringToken) })
	require.ErrorIs(t, d.Check(t.Context()), auth.ErrMetaTokenExpiring)
	logged := b.logs.FilterMessage("the Meta access token expires soon").All()
	require.Len(t, logged, 1)
	at, ok := logged[0].ContextMap()["expires_at"].(time.Time)
	require.True(t, ok)
	require.WithinDuration(t, time.Now().Add(metagraph.ExpiringIn), at, time.Minute)
}

// The replica checks appsecret_proof on every call: a wrong secret stops
// the destination with a message that names the setting.
func TestWrongAppSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	d := b.dest(func(s *meta.Settings) { s.AppSecret = auth.NewSecret("not-the-secret") })
	_, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "x", Create: true})
	require.ErrorIs(t, err, connectors.ErrReauthenticate)
	require.ErrorContains(t, err, "app_secret")
	require.Len(t, b.calls("customaudiences"), 1, "not retried")
}
