package salesforce

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-retryablehttp"
	"go.uber.org/zap"
)

// credentials are what one of the three token flows needs.
type credentials struct {
	flow                       flow
	clientID, username         string
	clientSecret, refreshToken string
	key                        *rsa.PrivateKey
}

// errCredentials marks a refusal that no retry can mend.
var errCredentials = errors.New("credentials refused by Salesforce")

// assertionLifetime is how long a JWT assertion is valid: Salesforce
// allows at most three minutes.
const assertionLifetime = 3 * time.Minute

// parseKey reads a PEM RSA private key (PKCS #1 or #8).
func parseKey(pem string) (*rsa.PrivateKey, error) {
	k, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(strings.TrimSpace(pem)))
	if err != nil {
		return nil, fmt.Errorf("not a PEM RSA private key (%w): give the key whose certificate the connected app holds, for example private_key: ${file:./salesforce-key.pem}", err)
	}
	return k, nil
}

// session is the access token in use and the instance it is for.
type session struct {
	mu       sync.Mutex
	token    string
	instance string
	// reauthed is set once the token was replaced after Salesforce
	// reported it invalid: a second report stops the operation.
	reauthed bool
	err      error
}

func (s *session) current() (token, instance string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, s.instance
}

// tokenAnswer is the token endpoint's answer, success or error.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	InstanceURL string `json:"instance_url"`
	ID          string `json:"id"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	// IssuedAt is milliseconds since the epoch, as a string.
	IssuedAt    string `json:"issued_at"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// authenticate asks the token endpoint for an access token by the
// connection's flow.
func (c *client) authenticate(ctx context.Context) error {
	form := url.Values{}
	cr := c.creds
	switch cr.flow {
	case flowJWT:
		assertion, err := c.assertion()
		if err != nil {
			return err
		}
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", assertion)
	case flowRefresh:
		form.Set("grant_type", "refresh_token")
		form.Set("client_id", cr.clientID)
		form.Set("client_secret", cr.clientSecret)
		form.Set("refresh_token", cr.refreshToken)
	default:
		form.Set("grant_type", "client_credentials")
		form.Set("client_id", cr.clientID)
		form.Set("client_secret", cr.clientSecret)
	}
	what := "get a Salesforce access token (" + cr.flow.String() + " flow)"
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, c.login+tokenPath, []byte(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	a, err := c.send(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var t tokenAnswer
	_ = json.Unmarshal(a.body, &t)
	if a.status != http.StatusOK || t.AccessToken == "" {
		if a.status >= 500 {
			return failure(what, a, c.version)
		}
		code := t.Error
		if code == "" {
			code = fmt.Sprintf("HTTP %d", a.status)
		}
		return fmt.Errorf("%s: %w (%s: %s): %s", what, errCredentials, code, clip(t.Description), advice(cr.flow))
	}
	instance := strings.TrimRight(t.InstanceURL, "/")
	if instance == "" {
		instance = c.login
	}
	if u, err := url.Parse(instance); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s: the token endpoint answered an instance_url that is not an http(s) URL", what)
	}
	c.sess.mu.Lock()
	c.sess.token, c.sess.instance = t.AccessToken, instance
	c.sess.mu.Unlock()
	if ms, ok := parseMillis(t.IssuedAt); ok {
		c.log.Debug("Salesforce access token issued", zap.Time("issued_at", ms))
	}
	return nil
}

// tokenPath is the OAuth token endpoint under the login URL.
const tokenPath = "/services/oauth2/token"

// advice says what to do about refused credentials of a flow.
func advice(f flow) string {
	switch f {
	case flowJWT:
		return "check client_id (the consumer key), username, and that the connected app holds the certificate of private_key, " +
			"allows the user (pre-authorised profile or permission set) and that login_url is the org's (test.salesforce.com for a sandbox org)"
	case flowRefresh:
		return "the refresh token may have been revoked or expired: authorise the app again and update refresh_token (and check client_id and client_secret)"
	}
	return "check client_id and client_secret, and that the connected app enables the client credentials flow with a Run As user"
}

// assertion signs a JWT bearer assertion for the token endpoint.
func (c *client) assertion() (string, error) {
	aud := c.audience
	now := c.now()
	claims := jwt.RegisteredClaims{
		Issuer:    c.creds.clientID,
		Subject:   c.creds.username,
		Audience:  jwt.ClaimStrings{aud},
		ExpiresAt: jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(c.creds.key)
	if err != nil {
		return "", fmt.Errorf("sign the JWT assertion: %w", err)
	}
	return tok, nil
}

// reauthenticate replaces an access token Salesforce reported invalid,
// once per operation. It reports whether a retry may help.
func (c *client) reauthenticate(ctx context.Context, used string) bool {
	c.sess.mu.Lock()
	if c.sess.reauthed {
		c.sess.mu.Unlock()
		return false
	}
	if c.sess.token != used {
		c.sess.mu.Unlock()
		return true // replaced already
	}
	c.sess.reauthed = true
	c.sess.mu.Unlock()
	if err := c.authenticate(ctx); err != nil {
		c.sess.mu.Lock()
		c.sess.err = err
		c.sess.mu.Unlock()
		return false
	}
	c.log.Info("Salesforce reported the session invalid; authenticated again")
	return true
}

// bearer adds the current access token to every attempt of an API call
// (not to token requests), so a retry after re-authenticating carries the
// new one.
type bearer struct {
	s    *session
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, tokenPath) {
		return b.next.RoundTrip(r)
	}
	tok, _ := b.s.current()
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return b.next.RoundTrip(r)
}
