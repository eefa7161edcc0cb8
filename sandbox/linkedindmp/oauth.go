package linkedindmp

import (
	"crypto/rand"
	"encoding/hex"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/audiencesync/audiencesync/platform/linkedin"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// oauthError is the token endpoint's error body (RFC 6749 5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	status      int
}

func writeOAuthError(w http.ResponseWriter, e oauthError) {
	wire.WriteJSON(w, e.status, "application/json", e)
}

// serveToken is POST /oauth/v2/accessToken with grant_type=refresh_token:
// the client id and secret and the refresh token come in the form body, as
// LinkedIn takes them. The answer is a new access token that lasts
// TokenLifetime; the refresh token stays the same.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, oauthError{Error: "invalid_request", Description: "use POST", status: http.StatusMethodNotAllowed})
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var body strings.Builder
	if ct != "application/x-www-form-urlencoded" || wire.ReadBody(&body, r, 1<<16) != nil {
		writeOAuthError(w, oauthError{Error: "invalid_request", Description: "send a form body (application/x-www-form-urlencoded)", status: http.StatusBadRequest})
		return
	}
	form, err := url.ParseQuery(body.String())
	if err != nil {
		writeOAuthError(w, oauthError{Error: "invalid_request", Description: "the form body is malformed", status: http.StatusBadRequest})
		return
	}
	if s.opts.Faults.Intercept(w, r, linkedin.Name, "oauth", s) {
		return
	}
	switch {
	case form.Get("grant_type") != "refresh_token":
		writeOAuthError(w, oauthError{Error: "unsupported_grant_type", Description: "grant_type must be refresh_token", status: http.StatusBadRequest})
	case form.Get("client_id") != linkedin.ReplicaClientID || form.Get("client_secret") != linkedin.ReplicaClientSecret:
		writeOAuthError(w, oauthError{Error: "invalid_client", Description: "Client authentication failed", status: http.StatusUnauthorized})
	case form.Get("refresh_token") != linkedin.ReplicaRefreshToken:
		writeOAuthError(w, oauthError{Error: "invalid_grant", Description: "The provided authorization grant or refresh token is invalid, expired or revoked", status: http.StatusBadRequest})
	default:
		token := s.issue()
		wire.WriteJSON(w, http.StatusOK, "application/json", map[string]any{
			"access_token": token, "expires_in": int64(TokenLifetime.Seconds()),
			"refresh_token": linkedin.ReplicaRefreshToken, "refresh_token_expires_in": 365 * 24 * 3600,
			"scope": "r_ads,rw_dmp_segments",
		})
	}
}

// issue makes a new access token.
func (s *Server) issue() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := "sandbox-linkedin-issued-" + hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	for t, exp := range s.tokens {
		if !now.Before(exp) {
			delete(s.tokens, t)
		}
	}
	s.tokens[token] = now.Add(TokenLifetime)
	s.issued++
	return token
}

// ExpireTokens makes every access token the token endpoint issued expire
// now, as if their 60 days had passed, so a test sees the client refresh.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	for t := range s.tokens {
		s.tokens[t] = now
	}
}

// Issued is how many access tokens the token endpoint issued.
func (s *Server) Issued() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}
