package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	fb "github.com/huandu/facebook/v2"
)

// MetaExpiryWarning is how long before a Meta access token expires that
// checks start warning about it.
const MetaExpiryWarning = 7 * 24 * time.Hour

// MetaRenewHint tells a user how to get a Meta access token that works.
const MetaRenewHint = "create a system user access token in Meta Business Manager " +
	"(Business settings → Users → System users → Generate new token, for this app, with the ads_management permission), " +
	"then update the connection's access_token"

// MetaRequiredScopes are the permissions audience uploads need.
var MetaRequiredScopes = []string{"ads_management"}

// ErrMetaTokenExpiring marks a Meta token that still works but expires
// within MetaExpiryWarning: a warning rather than a failure.
var ErrMetaTokenExpiring = errors.New("meta access token expires soon")

// AppsecretProof returns Meta's appsecret_proof for token: the hex
// HMAC-SHA256 of the token keyed by the app secret. Graph requires it on
// every call of apps that enable "Require App Secret".
func AppsecretProof(appSecret, token string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(token))
	return hex.EncodeToString(mac.Sum(nil))
}

// MetaCredentials are what a Meta connection authenticates with.
type MetaCredentials struct {
	AppID       string
	AppSecret   Secret
	AccessToken Secret
}

// MetaGraph says where Graph is and how to reach it.
type MetaGraph struct {
	// BaseURL is the API root with a trailing slash; empty means Meta's
	// own (https://graph.facebook.com/).
	BaseURL string
	// Version is the Graph API version, such as v25.0.
	Version string
	// Client sends the requests (a retrying client in production).
	Client fb.HttpClient
}

// Session returns a Graph session for the access token. The token travels
// in the Authorization header only, never in a URL, and every call carries
// appsecret_proof. The proof is computed here, once, so the session can be
// shared: give each call its own copy with WithContext.
func (c MetaCredentials) Session(g MetaGraph) *fb.Session {
	return c.session(g, c.AccessToken.Reveal(), true)
}

func (c MetaCredentials) session(g MetaGraph, token string, proof bool) *fb.Session {
	app := fb.New(c.AppID, c.AppSecret.Reveal())
	app.EnableAppsecretProof = proof
	s := app.Session(token)
	s.UseAuthorizationHeader()
	s.Version = g.Version
	s.BaseURL = g.BaseURL
	s.HttpClient = g.Client
	_ = s.AppsecretProof() // computed now: the session caches it lazily, which would race
	return s
}

// MetaToken is what Meta says about an access token (debug_token).
type MetaToken struct {
	Valid bool
	// AppID is the app the token was issued for.
	AppID string
	// Type is SYSTEM_USER, USER, PAGE or APP.
	Type string
	// ExpiresAt is when the token stops working; zero when it never does.
	ExpiresAt time.Time
	// DataAccessExpiresAt is when the token loses access to user data;
	// zero when it never does.
	DataAccessExpiresAt time.Time
	Scopes              []string
	// Problem is Meta's reason for an invalid token.
	Problem string
}

// InspectToken asks Graph about the access token (debug_token). The call
// is made with the app's own token (app_id|app_secret) in the
// Authorization header; the inspected token goes in the body of a POST
// with method=GET, so neither appears in a URL.
func (c MetaCredentials) InspectToken(ctx context.Context, g MetaGraph) (MetaToken, error) {
	s := c.session(g, c.AppID+"|"+c.AppSecret.Reveal(), false).WithContext(ctx)
	res, err := s.Post("/debug_token", fb.Params{"method": "GET", "input_token": c.AccessToken.Reveal()})
	if err != nil {
		return MetaToken{}, fmt.Errorf("inspect the Meta access token: %w", RedactError(err))
	}
	var body struct {
		Data struct {
			AppID               string   `json:"app_id"`
			Type                string   `json:"type"`
			IsValid             bool     `json:"is_valid"`
			ExpiresAt           int64    `json:"expires_at"`
			DataAccessExpiresAt int64    `json:"data_access_expires_at"`
			Scopes              []string `json:"scopes"`
			Error               *struct {
				Code    int    `json:"code"`
				Subcode int    `json:"subcode"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"data"`
	}
	if err := res.Decode(&body); err != nil {
		return MetaToken{}, fmt.Errorf("inspect the Meta access token: unexpected answer: %w", err)
	}
	d := body.Data
	t := MetaToken{Valid: d.IsValid, AppID: d.AppID, Type: d.Type, Scopes: d.Scopes,
		ExpiresAt: unixOrZero(d.ExpiresAt), DataAccessExpiresAt: unixOrZero(d.DataAccessExpiresAt)}
	if d.Error != nil {
		t.Problem = fmt.Sprintf("%s (code %d, subcode %d)", d.Error.Message, d.Error.Code, d.Error.Subcode)
	}
	return t, nil
}

func unixOrZero(v int64) time.Time {
	if v <= 0 {
		return time.Time{}
	}
	return time.Unix(v, 0).UTC()
}

// Verify says whether the token can run uploads for appID at now. It
// returns an error that says what to do when the token is invalid, was
// issued for another app or lacks a permission; and one wrapping
// ErrMetaTokenExpiring when it works but expires (or loses data access)
// within MetaExpiryWarning.
func (t MetaToken) Verify(now time.Time, appID string) error {
	if !t.Valid {
		problem := t.Problem
		if problem == "" {
			problem = "Meta reports it invalid"
		}
		return fmt.Errorf("the Meta access token does not work: %s; %s", problem, MetaRenewHint)
	}
	if appID != "" && t.AppID != "" && t.AppID != appID {
		return fmt.Errorf("the Meta access token was issued for app %s, not app_id %s: appsecret_proof will not match; "+
			"set app_id and app_secret to that app's, or %s", t.AppID, appID, MetaRenewHint)
	}
	var missing []string
	for _, s := range MetaRequiredScopes {
		if !slices.Contains(t.Scopes, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the Meta access token lacks the %s permission: %s", strings.Join(missing, ", "), MetaRenewHint)
	}
	for _, e := range []struct {
		what string
		at   time.Time
	}{{"expires", t.ExpiresAt}, {"loses data access", t.DataAccessExpiresAt}} {
		if e.at.IsZero() {
			continue
		}
		if left := e.at.Sub(now); left < MetaExpiryWarning {
			return fmt.Errorf("%w: it %s on %s (in %s); before then, %s", ErrMetaTokenExpiring, e.what,
				e.at.Format(time.RFC3339), left.Round(time.Minute), MetaRenewHint)
		}
	}
	return nil
}
