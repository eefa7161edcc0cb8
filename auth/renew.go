package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// RenewingTokens caches the access tokens of a renewable OAuth grant (a
// refresh token, a service account's signed assertion) and renews them:
// when the cached one nears its expiry, as oauth2's caching source does,
// and on demand, when the API refused one before then. Google Ads'
// credentials and the HubSpot source's OAuth app use it. It is safe for
// concurrent use.
type RenewingTokens struct {
	// fresh builds a caching source with nothing cached: its first Token
	// call asks the token endpoint.
	fresh func() oauth2.TokenSource

	mu  sync.Mutex
	src oauth2.TokenSource
	gen uint64
	// renewed is the access token the last Renew fetched.
	renewed string
}

// NewRenewingTokens caches the tokens of the sources fresh builds; fresh
// is called now and again at each renewal.
func NewRenewingTokens(fresh func() oauth2.TokenSource) *RenewingTokens {
	return &RenewingTokens{fresh: fresh, src: fresh()}
}

// NewRefreshTokens is NewRenewingTokens for the refresh token grant of
// cfg's client. Token requests are made with TokenContext(ctx) for the
// life of the tokens (oauth2's TokenSource has no per-call context), so
// ctx must outlive them.
func NewRefreshTokens(ctx context.Context, cfg *oauth2.Config, refreshToken string) *RenewingTokens {
	return NewRenewingTokens(refreshGrant(TokenContext(ctx), cfg, refreshToken))
}

func refreshGrant(ctx context.Context, cfg *oauth2.Config, refreshToken string) func() oauth2.TokenSource {
	return func() oauth2.TokenSource { return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}) }
}

// TokenContext is ctx with the HTTP client token requests use: the
// *http.Client stored under oauth2.HTTPClient in ctx, or else one with a
// 30s timeout, so a token endpoint that does not answer cannot hold an
// operation up for ever.
func TokenContext(ctx context.Context) context.Context {
	if _, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: 30 * time.Second})
}

// Token returns the cached access token, fetching one when none is cached
// or the cached one nears its expiry. Its error is the token endpoint's
// as oauth2 returns it: see Refusal.
func (r *RenewingTokens) Token() (*oauth2.Token, error) {
	r.mu.Lock()
	src := r.src
	r.mu.Unlock()
	return src.Token()
}

// Generation identifies the cached token; pass it to Drop.
func (r *RenewingTokens) Generation() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

// Drop forgets the token of generation gen, which the API refused, so the
// next Token call fetches a new one. When several callers saw the same
// token refused, only the first drop fetches.
func (r *RenewingTokens) Drop(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen == r.gen {
		r.src = r.fresh()
		r.gen++
	}
}

// Renew is told that the API refused used as expired, and fetches a new
// token at once unless another caller already did. It reports whether a
// retry may help: not when used is itself the token the last Renew
// fetched (refused straight after a renewal, another will not help). A
// fetch that fails leaves the cache as it was and reports true, so the
// retry reports the token endpoint's own error.
func (r *RenewingTokens) Renew(used string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if used == r.renewed {
		return false
	}
	if cur, err := r.src.Token(); err == nil && cur.AccessToken != used {
		return true // renewed already
	}
	src := r.fresh()
	tok, err := src.Token()
	if err != nil {
		return true
	}
	r.src, r.renewed = oauth2.ReuseTokenSource(tok, src), tok.AccessToken
	r.gen++
	return true
}

// Refusal reports whether err, from a token request, is the token
// endpoint refusing the grant (an OAuth error answer below 500: a revoked
// refresh token, a wrong client secret), with the code it gave (its error
// code, or else the HTTP status) for messages. A network failure or a
// 5xx is no refusal: retrying may help.
func Refusal(err error) (code string, refused bool) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil || re.Response.StatusCode >= 500 {
		return "", false
	}
	if re.ErrorCode != "" {
		return re.ErrorCode, true
	}
	return fmt.Sprintf("HTTP %d", re.Response.StatusCode), true
}
