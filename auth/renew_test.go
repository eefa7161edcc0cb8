package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/audiencesync/audiencesync/auth"
)

// countingGrant stands in for a token endpoint: each fresh source it
// builds fetches the next numbered token once, then caches it; fail makes
// fetches fail.
type countingGrant struct {
	mu      sync.Mutex
	fetched int
	fail    error
}

func (g *countingGrant) fresh() oauth2.TokenSource {
	return oauth2.ReuseTokenSource(nil, tokenFunc(func() (*oauth2.Token, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.fail != nil {
			return nil, g.fail
		}
		g.fetched++
		return &oauth2.Token{AccessToken: fmt.Sprintf("token-%d", g.fetched), Expiry: time.Now().Add(time.Hour)}, nil
	}))
}

func (g *countingGrant) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fetched
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

func accessToken(t *testing.T, r *auth.RenewingTokens) string {
	t.Helper()
	tok, err := r.Token()
	require.NoError(t, err)
	return tok.AccessToken
}

func TestRenewingTokensRenew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// refuse is the access tokens the API refuses, in order, each
		// with whether Renew should say a retry may help.
		refuse    []string
		helps     []bool
		wantToken string
		fetches   int
	}{
		{"one refusal renews", []string{"token-1"}, []bool{true}, "token-2", 2},
		{"two callers refused the same token: one renewal", []string{"token-1", "token-1"}, []bool{true, true}, "token-2", 2},
		{"the renewed token refused too: no second renewal", []string{"token-1", "token-2"}, []bool{true, false}, "token-2", 2},
		{"a stale token refused after the renewal", []string{"token-1", "token-2", "token-1"}, []bool{true, false, true}, "token-2", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := &countingGrant{}
			r := auth.NewRenewingTokens(g.fresh)
			require.Equal(t, "token-1", accessToken(t, r))
			require.Equal(t, "token-1", accessToken(t, r), "a valid token is reused")
			for i, used := range tt.refuse {
				require.Equal(t, tt.helps[i], r.Renew(used), "refusal %d of %s", i+1, used)
			}
			require.Equal(t, tt.wantToken, accessToken(t, r))
			require.Equal(t, tt.fetches, g.count())
		})
	}
}

func TestRenewingTokensRenewFails(t *testing.T) {
	t.Parallel()
	g := &countingGrant{}
	r := auth.NewRenewingTokens(g.fresh)
	require.Equal(t, "token-1", accessToken(t, r))
	g.mu.Lock()
	g.fail = errors.New("token endpoint down")
	g.mu.Unlock()
	require.True(t, r.Renew("token-1"), "the retry reports the endpoint's own error")
	require.Equal(t, "token-1", accessToken(t, r), "a failed renewal leaves the cache as it was")
	require.Equal(t, uint64(0), r.Generation())
}

func TestRenewingTokensDrop(t *testing.T) {
	t.Parallel()
	g := &countingGrant{}
	r := auth.NewRenewingTokens(g.fresh)
	require.Equal(t, "token-1", accessToken(t, r))
	gen := r.Generation()
	r.Drop(gen)
	r.Drop(gen) // a second caller that saw the same token refused
	require.Equal(t, gen+1, r.Generation())
	require.Equal(t, "token-2", accessToken(t, r))
	require.Equal(t, 2, g.count(), "one fetch per generation")
	require.True(t, r.Renew("token-1"), "a token of an older generation: renewed already")
	require.Equal(t, 2, g.count())
}

func TestRefusal(t *testing.T) {
	t.Parallel()
	answer := func(status int, code string) error {
		return fmt.Errorf("oauth2: %w", &oauth2.RetrieveError{Response: &http.Response{StatusCode: status}, ErrorCode: code})
	}
	tests := []struct {
		name    string
		err     error
		code    string
		refused bool
	}{
		{"an OAuth error code", answer(http.StatusBadRequest, "invalid_grant"), "invalid_grant", true},
		{"no code: the status", answer(http.StatusUnauthorized, ""), "HTTP 401", true},
		{"a 5xx may pass", answer(http.StatusBadGateway, "server_error"), "", false},
		{"no answer", errors.New("dial tcp: connection refused"), "", false},
		{"an error without a response", &oauth2.RetrieveError{ErrorCode: "invalid_grant"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, refused := auth.Refusal(tt.err)
			require.Equal(t, tt.refused, refused)
			require.Equal(t, tt.code, code)
		})
	}
}

func TestTokenContext(t *testing.T) {
	t.Parallel()
	own := &http.Client{}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, own)
	require.Same(t, own, auth.TokenContext(ctx).Value(oauth2.HTTPClient), "a client the caller set is kept")
	c, ok := auth.TokenContext(t.Context()).Value(oauth2.HTTPClient).(*http.Client)
	require.True(t, ok)
	require.Equal(t, 30*time.Second, c.Timeout)
}
