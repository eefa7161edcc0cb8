package metagraph

import (
	"testing"
	"time"

	fb "github.com/huandu/facebook/v2"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/meta"
)

// appSession calls with the app token, as token inspection does.
func (b *bundle) appSession() *fb.Session {
	app := fb.New(meta.ReplicaAppID, meta.ReplicaAppSecret)
	s := app.Session(AppAccessToken)
	s.Version = meta.ReplicaVersion
	s.BaseURL = b.ts.URL + "/"
	s.HttpClient = b.ts.Client()
	s.UseAuthorizationHeader()
	return s
}

func TestDebugToken(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	b := setup(t, Options{Now: func() time.Time { return now }})
	tests := []struct {
		name    string
		input   string
		valid   bool
		expires int64
		code    int64
	}{
		{name: "system user token", input: meta.ReplicaToken, valid: true},
		{name: "expiring token", input: ExpiringToken, valid: true, expires: now.Add(ExpiringIn).Unix()},
		{name: "expired token", input: meta.ReplicaExpiredToken, expires: now.Add(-time.Hour).Unix(), code: 190},
		{name: "unknown token", input: "garbage", code: 190},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// POST with method=GET keeps the inspected token out of the URL.
			res, err := b.appSession().Post("/debug_token", fb.Params{"method": "GET", "input_token": tt.input})
			require.NoError(t, err)
			var data struct {
				IsValid   bool     `json:"is_valid"`
				AppID     string   `json:"app_id"`
				ExpiresAt int64    `json:"expires_at"`
				Scopes    []string `json:"scopes"`
				Error     *struct {
					Code int64 `json:"code"`
				} `json:"error"`
			}
			require.NoError(t, res.DecodeField("data", &data))
			require.Equal(t, tt.valid, data.IsValid)
			if tt.code != 0 {
				require.NotNil(t, data.Error)
				require.Equal(t, tt.code, data.Error.Code)
				return
			}
			require.Equal(t, meta.ReplicaAppID, data.AppID)
			require.Equal(t, tt.expires, data.ExpiresAt)
			require.Contains(t, data.Scopes, "ads_management")
		})
	}
}

func TestDebugTokenWithUserToken(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	res, err := b.session(meta.ReplicaToken).Get("/debug_token", fb.Params{"input_token": ExpiringToken})
	require.NoError(t, err)
	require.Equal(t, true, res.GetField("data", "is_valid"))
	_, err = b.session(meta.ReplicaToken).Get("/debug_token", nil)
	require.Equal(t, 100, graphErr(t, err).Code, "input_token is required")
}

func TestAppTokenOnlyInspects(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	_, err := b.appSession().Get("/"+adAccount+"/customaudiences", nil)
	require.Equal(t, 200, graphErr(t, err).Code)
}

func TestReadAdAccount(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	res, err := b.session(meta.ReplicaToken).Get("/"+adAccount, fb.Params{"fields": "id,account_id,name,account_status"})
	require.NoError(t, err)
	require.Equal(t, adAccount, res.Get("id"))
	require.Equal(t, "1234567890", res.Get("account_id"))
	require.Equal(t, int64(1), num(t, res.Get("account_status")))
	_, err = b.session(meta.ReplicaToken).Get("/"+adAccount, fb.Params{"fields": "spend_cap"})
	require.Equal(t, 100, graphErr(t, err).Code)
	_, err = b.session(meta.ReplicaExpiredToken).Get("/"+adAccount, nil)
	require.Equal(t, 190, graphErr(t, err).Code)
}

func TestExpiringTokenWorks(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	s := b.session(ExpiringToken)
	id := b.create(t, s, "with an expiring token")
	_, err := s.Post("/"+id+"/users", emails("a@example.com"))
	require.NoError(t, err)
}

func TestFlaggedAudience(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	s := b.session(meta.ReplicaToken)
	id := b.create(t, s, "flagged")
	require.False(t, b.srv.FlagAudience("404"))
	require.True(t, b.srv.FlagAudience(id))
	for _, call := range []func() error{
		func() error { _, err := s.Post("/"+id+"/users", emails("a@example.com")); return err },
		func() error { _, err := s.Delete("/"+id+"/users", emails("a@example.com")); return err },
		func() error {
			_, err := s.Post("/"+id+"/usersreplace", fb.Params{"payload": emails("a@example.com")["payload"],
				"session": map[string]any{"session_id": 1, "batch_seq": 1, "last_batch_flag": true}})
			return err
		},
	} {
		fe := graphErr(t, call())
		require.Equal(t, 100, fe.Code)
		require.Equal(t, 1713230, fe.ErrorSubcode)
		require.Equal(t, "Audience Upload Blocked", fe.UserTitle)
	}
	_, err := s.Get("/"+id, nil)
	require.NoError(t, err, "a flagged audience can still be read")
	b.srv.Reset()
	require.Empty(t, b.srv.State(false))
}
