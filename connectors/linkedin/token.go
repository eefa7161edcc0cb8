package linkedin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// tokenSource hands out the access token: the configured one first, then
// ones fetched with the refresh token, each until shortly before it
// expires or until LinkedIn refuses it. It is safe for concurrent use.
type tokenSource struct {
	clientID, clientSecret, refresh auth.Secret
	now                             func() time.Time

	mu     sync.Mutex
	token  string
	expiry time.Time // zero: unknown (a configured token)
	gen    uint64
}

func newTokenSource(s *Settings, now func() time.Time) *tokenSource {
	return &tokenSource{clientID: s.ClientID, clientSecret: s.ClientSecret, refresh: s.RefreshToken,
		now: now, token: s.AccessToken.Reveal()}
}

// expiryMargin is how long before its expiry a token is replaced, so a
// request never goes out with a token about to lapse.
const expiryMargin = 5 * time.Minute

// accessToken returns a token to send and its generation, for refused.
// Only one caller fetches at a time; the others wait for its token.
func (d *Destination) accessToken(ctx context.Context) (string, uint64, error) {
	t := d.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && (t.expiry.IsZero() || t.now().Before(t.expiry.Add(-expiryMargin))) {
		return t.token, t.gen, nil
	}
	if t.refresh.IsZero() {
		return "", 0, connectors.Reauthenticate(fmt.Errorf("linkedin: the access token expired and there is no refresh_token to get another: set client_id, client_secret and refresh_token, or a new access_token"))
	}
	tok, lifetime, err := d.fetchToken(ctx)
	if err != nil {
		return "", 0, err
	}
	t.token, t.gen = tok, t.gen+1
	t.expiry = t.now().Add(lifetime)
	return t.token, t.gen, nil
}

// refused drops the token of generation gen, which LinkedIn refused, so
// the next accessToken fetches one. It reports false when no other token
// can be had (no refresh token).
func (t *tokenSource) refused(gen uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refresh.IsZero() {
		return false
	}
	if gen == t.gen {
		t.token = ""
	}
	return true
}

// maxTokenAnswer bounds the token endpoint's answer.
const maxTokenAnswer = 1 << 16

// fetchToken exchanges the refresh token for an access token at the token
// endpoint (RFC 6749 6; LinkedIn takes the client credentials in the
// form). A refusal asks the user to authorise again; other failures stay
// retryable.
func (d *Destination) fetchToken(ctx context.Context) (string, time.Duration, error) {
	const what = "linkedin: refresh the access token"
	t := d.tokens
	form := url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {t.refresh.Reveal()},
		"client_id": {t.clientID.Reveal()}, "client_secret": {t.clientSecret.Reveal()},
	}
	base, err := d.baseURL(ctx)
	if err != nil {
		return "", 0, err
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, d.tokenEndpoint(base), []byte(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", 0, ctx.Err()
		}
		return "", 0, fmt.Errorf("%s: no answer from the token endpoint after retries: %w", what, err)
	}
	defer resp.Body.Close()
	body, err := platformhttp.ReadAnswer(resp, maxTokenAnswer, "LinkedIn's token endpoint")
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", what, err)
	}
	var ans struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
	}
	_ = json.Unmarshal(body, &ans) // a body of another shape has neither field
	switch {
	case resp.StatusCode == http.StatusOK && ans.AccessToken != "":
		lifetime := time.Duration(ans.ExpiresIn) * time.Second
		if lifetime <= expiryMargin {
			lifetime = expiryMargin + time.Minute // a token without a lifetime is used briefly
		}
		return ans.AccessToken, lifetime, nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized:
		return "", 0, connectors.Reauthenticate(fmt.Errorf("%s: LinkedIn refused the refresh token or the client (HTTP %d %s): refresh tokens last a year; "+
			"run the developer app's OAuth flow again for a member with a role on the ad account, and update refresh_token (and client_id and client_secret if they changed)",
			what, resp.StatusCode, strings.TrimSpace(ans.Error)))
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return "", 0, fmt.Errorf("%s: the token endpoint is failing (HTTP %d); will retry", what, resp.StatusCode)
	}
	return "", 0, fmt.Errorf("%s: the token endpoint answered HTTP %d without an access token", what, resp.StatusCode)
}
