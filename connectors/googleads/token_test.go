package googleads_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/googleads"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/googledm"
)

// tokenServer is a fake OAuth token endpoint that hands out the queued
// access tokens in turn (repeating the last), or refuses every request
// with invalid_grant when revoked.
type tokenServer struct {
	mu      sync.Mutex
	queue   []string
	calls   int
	revoked bool
	url     string
}

func newTokenServer(t *testing.T, tokens ...string) *tokenServer {
	ts := &tokenServer{queue: tokens}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		ts.calls++
		w.Header().Set("Content-Type", "application/json")
		if r.FormValue("grant_type") != "refresh_token" || r.FormValue("refresh_token") != "refresh-me" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		if ts.revoked {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`))
			return
		}
		tok := ts.queue[0]
		if len(ts.queue) > 1 {
			ts.queue = ts.queue[1:]
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(srv.Close)
	ts.url = srv.URL
	return ts
}

func (ts *tokenServer) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.calls
}

func refreshSettings(ts *tokenServer) *googleads.Settings {
	s := settings()
	s.ClientID = auth.NewSecret("client-id")
	s.ClientSecret = auth.NewSecret("client-secret")
	s.RefreshToken = auth.NewSecret("refresh-me")
	s.TokenURL = ts.url
	return s
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		tokens     []string
		faults     string
		tokenCalls int
	}{
		{"401 fault: refresh, then retry once", []string{google.ReplicaToken}, "google.ingest:401*1", 2},
		{"expired token from the endpoint", []string{google.ReplicaExpiredToken, google.ReplicaToken}, "", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rm := newRemote(t, sandbox.Options{})
			ts := newTokenServer(t, tc.tokens...)
			d, _ := newDest(t, rm, refreshSettings(ts))
			s := newSyncer(t, d)
			ms := contacts(0, 20)
			s.spec.ID = sandbox.ReplicaOf[*googledm.Server](rm.srv).CreateList(account, "Existing")
			rm.faults(t, tc.faults)
			dr := s.mustRun(ms, engine.Options{})
			require.Equal(t, int64(20), dr.Applied.Added)
			requireExact(t, rm, s, ms)
			require.Equal(t, tc.tokenCalls, ts.count(), "one refresh, not one per attempt")
		})
	}
}

func TestTokenRefusedAfterRefreshAsksToReauthenticate(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	ts := newTokenServer(t, google.ReplicaToken)
	d, _ := newDest(t, rm, refreshSettings(ts))
	aud := connectors.Audience{ID: sandbox.ReplicaOf[*googledm.Server](rm.srv).CreateList(account, "x")}
	rm.faults(t, "google.ingest:401*2")
	res, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{upload(0)}})
	require.ErrorIs(t, err, connectors.ErrReauthenticate)
	require.ErrorContains(t, err, "audiencesync auth google")
	require.Equal(t, 1, res.Retries)
	require.Equal(t, 2, ts.count())
}

func TestStaticExpiredTokenIsNotRetried(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	s := settings()
	s.AccessToken = auth.NewSecret(google.ReplicaExpiredToken)
	d, _ := newDest(t, rm, s)
	aud := connectors.Audience{ID: sandbox.ReplicaOf[*googledm.Server](rm.srv).CreateList(account, "x")}
	_, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{upload(0)}})
	require.ErrorIs(t, err, connectors.ErrReauthenticate)
	require.ErrorContains(t, err, "ACCESS_TOKEN_EXPIRED")
	require.Len(t, rm.requestSizes(), 1, "a refused static token is not sent again")
}

func TestRevokedRefreshTokenStopsWithAdvice(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	ts := newTokenServer(t, "unused")
	ts.revoked = true
	d, _ := newDest(t, rm, refreshSettings(ts))
	s := newSyncer(t, d)
	rep, err := s.run(contacts(0, 3), engine.Options{})
	require.Error(t, err)
	dr := rep.Destinations[0]
	require.Contains(t, dr.Errors[0], "invalid_grant")
	require.Contains(t, dr.Errors[0], "audiencesync auth google")
	require.NotContains(t, dr.Errors[0], "refresh-me")
	require.Equal(t, 1, ts.count(), "refused credentials are not retried")
	require.Empty(t, rm.requestSizes())
}
