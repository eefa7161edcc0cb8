package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// credentials are a private app's token, or an OAuth app's client and a
// refresh token.
type credentials struct {
	accessToken                          string
	clientID, clientSecret, refreshToken string
}

func (c credentials) oauth() bool { return c.refreshToken != "" }

// errCredentials marks a refusal that no retry can mend.
var errCredentials = errors.New("HubSpot refused the credentials")

// tokens hands out the bearer token of each request. With OAuth it caches
// the access token until it nears expiry and refreshes it then; a token
// HubSpot reports expired early is dropped so the next request refreshes,
// once: a token refused straight after a refresh is not refreshed again.
// It is safe for concurrent use.
type tokens struct {
	static string
	// fresh builds a caching token source with nothing cached (nil for a
	// private app).
	fresh func() oauth2.TokenSource

	mu  sync.Mutex
	src oauth2.TokenSource
	// forced is the access token fetched by the last forced refresh.
	forced string
}

// newTokens sets up the tokens of one operation; token requests use ctx,
// so it must outlive them.
func newTokens(ctx context.Context, c credentials, tokenURL string) *tokens {
	if !c.oauth() {
		return &tokens{static: c.accessToken}
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: 30 * time.Second})
	cfg := &oauth2.Config{ClientID: c.clientID, ClientSecret: c.clientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	t := &tokens{fresh: func() oauth2.TokenSource {
		return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: c.refreshToken})
	}}
	t.src = t.fresh()
	return t
}

// token returns the access token for the next request.
func (t *tokens) token() (string, error) {
	if t.fresh == nil {
		return t.static, nil
	}
	t.mu.Lock()
	src := t.src
	t.mu.Unlock()
	tok, err := src.Token()
	if err != nil {
		return "", refreshError(err)
	}
	return tok.AccessToken, nil
}

// expired is told that HubSpot refused used as expired. It reports whether
// a retry with a refreshed token may help.
func (t *tokens) expired(used string) bool {
	if t.fresh == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if used == t.forced {
		return false // refreshed and still refused: another refresh will not help
	}
	cur, err := t.src.Token()
	if err == nil && cur.AccessToken != used {
		return true // someone refreshed already
	}
	src := t.fresh()
	tok, err := src.Token()
	if err != nil {
		return true // the retry reports the refresh's own error
	}
	t.src, t.forced = oauth2.ReuseTokenSource(tok, src), tok.AccessToken
	return true
}

// refreshError says what to do about a refused refresh; a network failure
// or a 5xx of the token endpoint stays retryable.
func refreshError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil || re.Response.StatusCode >= 500 {
		return fmt.Errorf("refresh the HubSpot access token: %w", err)
	}
	code := re.ErrorCode
	if code == "" {
		code = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
	}
	return fmt.Errorf("%w: the token endpoint refused the refresh token (%s): the app may have been uninstalled or the token revoked; "+
		"re-authorise the app in HubSpot and update refresh_token (and check client_id and client_secret)", errCredentials, code)
}

// bearer adds the access token to every attempt of a request.
type bearer struct {
	t    *tokens
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := b.t.token()
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return b.next.RoundTrip(r)
}
