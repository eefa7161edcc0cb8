package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/audiencesync/audiencesync/auth"
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

// tokens hands out the bearer token of each request. With OAuth the
// access token is cached until it nears expiry and refreshed then; a token
// HubSpot reports expired early is replaced at once, once: a token refused
// straight after a refresh is not refreshed again (auth.RenewingTokens).
// It is safe for concurrent use.
type tokens struct {
	static string
	oauth  *auth.RenewingTokens // nil for a private app
}

// newTokens sets up the tokens of one operation; token requests use ctx,
// so it must outlive them.
func newTokens(ctx context.Context, c credentials, tokenURL string) *tokens {
	if !c.oauth() {
		return &tokens{static: c.accessToken}
	}
	cfg := &oauth2.Config{ClientID: c.clientID, ClientSecret: c.clientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	return &tokens{oauth: auth.NewRefreshTokens(ctx, cfg, c.refreshToken)}
}

// token returns the access token for the next request.
func (t *tokens) token() (string, error) {
	if t.oauth == nil {
		return t.static, nil
	}
	tok, err := t.oauth.Token()
	if err != nil {
		return "", refreshError(err)
	}
	return tok.AccessToken, nil
}

// expired is told that HubSpot refused used as expired. It reports whether
// a retry with a refreshed token may help.
func (t *tokens) expired(used string) bool {
	return t.oauth != nil && t.oauth.Renew(used)
}

// refreshError says what to do about a refused refresh; a network failure
// or a 5xx of the token endpoint stays retryable.
func refreshError(err error) error {
	code, refused := auth.Refusal(err)
	if !refused {
		return fmt.Errorf("refresh the HubSpot access token: %w", err)
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
