package linkedin

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
)

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	secret := auth.NewSecret("s")
	refresh := func(s Settings) Settings {
		s.ClientID, s.ClientSecret, s.RefreshToken = secret, secret, secret
		return s
	}
	for _, tc := range []struct {
		name    string
		s       Settings
		wantErr string
	}{
		{name: "refresh credentials", s: refresh(Settings{AccountID: "507404993"})},
		{name: "access token alone", s: Settings{AccountID: "507404993", OAuth2: platformconn.OAuth2{AccessToken: secret}}},
		{name: "sandbox alone", s: Settings{Settings: platformconn.Settings{Sandbox: true}}},
		{name: "no account", s: refresh(Settings{}), wantErr: "account_id is required"},
		{name: "account URN", s: refresh(Settings{AccountID: "urn:li:sponsoredAccount:1"}), wantErr: "write the number only"},
		{name: "no credentials", s: Settings{AccountID: "1"}, wantErr: "no credentials"},
		{name: "refresh token without client", s: Settings{AccountID: "1", OAuth2: platformconn.OAuth2{RefreshToken: secret}}, wantErr: "go together"},
		{name: "client without refresh token", s: Settings{AccountID: "1", OAuth2: platformconn.OAuth2{ClientID: secret, ClientSecret: secret}}, wantErr: "go together"},
		{name: "version with a dash", s: refresh(Settings{AccountID: "1", APIVersion: "2026-10"}), wantErr: "api_version"},
		{name: "version month 13", s: refresh(Settings{AccountID: "1", APIVersion: "202613"}), wantErr: "api_version"},
		{name: "source platform", s: refresh(Settings{AccountID: "1", SourcePlatform: "list upload"}), wantErr: "source_platform"},
		{name: "token url", s: refresh(Settings{AccountID: "1", TokenURL: "ftp://x"}), wantErr: "token_url"},
		{name: "concurrency", s: refresh(Settings{AccountID: "1", Settings: platformconn.Settings{Concurrency: 17}}), wantErr: "concurrency 17"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.s.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}
