package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/state"
)

// A token is tokenPrefix, a public id of 8 random bytes in hex, "_", and
// a secret of 32 random bytes (256 bits) in hex. The store keeps the id
// and the SHA-256 of the whole token; a presented token is looked up by
// its id and its hash compared in constant time, so lookups reveal nothing
// about the secret.
const tokenPrefix = "ast_"

// touchEvery is how often a token's last-used time is written: at most
// once a minute per token, so that reading the API costs no write per
// request.
const touchEvery = time.Minute

// NewToken makes a token with a fresh id and secret for name and role,
// and returns the token (to show once) and what the store keeps.
func NewToken(name, roleName string, now time.Time) (string, state.Token, error) {
	if parseRole(roleName) == roleNone {
		return "", state.Token{}, fmt.Errorf("role %q: use %s (read) or %s (read, trigger runs and plans, reload)", roleName, RoleViewer, RoleOperator)
	}
	var id [8]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", state.Token{}, fmt.Errorf("make token: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", state.Token{}, fmt.Errorf("make token: %w", err)
	}
	tok := tokenPrefix + hex.EncodeToString(id[:]) + "_" + hex.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(tok))
	if name == "" {
		name = "token-" + hex.EncodeToString(id[:4])
	}
	return tok, state.Token{ID: hex.EncodeToString(id[:]), Name: name, Role: roleName, Hash: sum[:], Created: now.UTC()}, nil
}

// tokenID returns the id a presented token carries, or false for a
// string that is not shaped like a token.
func tokenID(tok string) (string, bool) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if len(id) != 16 || len(secret) != 64 {
		return "", false
	}
	return id, ok
}

// RequireTokens says whether the API may be served on addr: anything but
// a loopback address needs at least one token (hasTokens), so that the
// run log and run triggers are never open to a network. The error says
// what to do.
func RequireTokens(addr string, hasTokens bool) error {
	if hasTokens || isLoopbackAddr(addr) {
		return nil
	}
	return fmt.Errorf("refusing to serve the API on %s without an API token: anyone who can reach it could read runs and start them; "+
		"create one with `audiencesync token create --config FILE --role operator` (or viewer), or bind to 127.0.0.1", addr)
}

// CheckBind is what the daemon calls before it serves the API on addr:
// RequireTokens with the store's tokens, and a warning on log when the
// API will be open to loopback for want of any token.
func CheckBind(ctx context.Context, addr string, tokens state.Tokens, log *zap.Logger) error {
	has, err := HasTokens(ctx, tokens)
	if err != nil {
		return err
	}
	if err := RequireTokens(addr, has); err != nil {
		return err
	}
	if !has && log != nil {
		log.Warn("API: no API token exists, so requests from loopback are served as operator without one; "+
			"create one with `audiencesync token create --role operator` to require tokens", zap.String("addr", addr))
	}
	return nil
}

// HasTokens reports whether tokens holds at least one token, for
// RequireTokens.
func HasTokens(ctx context.Context, tokens state.Tokens) (bool, error) {
	if tokens == nil {
		return false, nil
	}
	list, err := tokens.ListTokens(ctx)
	if err != nil {
		return false, fmt.Errorf("list API tokens: %w", err)
	}
	return len(list) > 0, nil
}

// isLoopbackAddr reports whether addr (host:port, or a host) names only
// loopback: "localhost" or a loopback IP. An empty host (":8080") listens
// on every interface.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// caller is who made a request.
type caller struct {
	name string
	role role
	// startedBy is what the run log records for a run the caller
	// starts (state.Run.StartedBy): "api:" and the token's name, or
	// "api" for a request served without a token.
	startedBy string
}

// callerKey is the request context key of the caller (see endpoint).
type callerKey struct{}

// callerOf returns the caller endpoint put in ctx.
func callerOf(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// authenticator checks bearer tokens.
type authenticator struct {
	tokens state.Tokens
	log    *zap.Logger
	now    func() time.Time

	mu      sync.Mutex
	touched map[string]time.Time // token id → when its last use was written
	warned  bool                 // the open-loopback warning was logged
}

func newAuthenticator(tokens state.Tokens, log *zap.Logger, now func() time.Time) *authenticator {
	return &authenticator{tokens: tokens, log: log, now: now, touched: map[string]time.Time{}}
}

// unauthorized is the 401 problem; its detail never says which part of a
// token was wrong.
func unauthorized(detail string) *problem {
	return &problem{Type: "unauthorized", Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: detail}
}

// authenticate returns the caller of r, or the problem to answer with.
func (a *authenticator) authenticate(r *http.Request) (caller, *problem) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return a.open(r)
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return caller{}, unauthorized("use an Authorization: Bearer header with an API token")
	}
	t, err := LookupToken(r.Context(), a.tokens, strings.TrimSpace(tok))
	switch {
	case errors.Is(err, state.ErrNotFound):
		return caller{}, unauthorized("the API token is not valid (revoked, or never created): create one with `audiencesync token create`")
	case errors.Is(err, ErrBadToken):
		return caller{}, unauthorized("the API token is not valid: create one with `audiencesync token create`")
	case err != nil:
		a.log.Error("read API token", zap.Error(err))
		return caller{}, &problem{Type: "internal", Title: "Internal error", Status: http.StatusInternalServerError, Detail: "reading API tokens failed; see the server log"}
	}
	a.touch(r.Context(), t.ID)
	return caller{name: t.Name, role: parseRole(t.Role), startedBy: "api:" + t.Name}, nil
}

// ErrBadToken is LookupToken's error for a string that is not a token
// this store issued: malformed, or with a secret that does not match.
var ErrBadToken = errors.New("the API token is not valid")

// LookupToken returns the stored token tok presents: looked up by the id
// it carries, then its hash compared in constant time. A token that is
// not shaped like one, or whose secret does not match, is ErrBadToken; a
// well-formed token the store does not hold (revoked, never created) is
// state.ErrNotFound; other errors are the store's. The web UI's sign-in
// checks tokens with it too.
func LookupToken(ctx context.Context, tokens state.Tokens, tok string) (state.Token, error) {
	id, ok := tokenID(tok)
	if !ok || tokens == nil {
		return state.Token{}, ErrBadToken
	}
	t, err := tokens.TokenByID(ctx, id)
	if err != nil {
		return state.Token{}, err
	}
	sum := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(sum[:], t.Hash) != 1 {
		return state.Token{}, ErrBadToken
	}
	return t, nil
}

// OpenAccess reports whether a request from remoteAddr (host:port) is
// served without a token: it comes from loopback and the store holds no
// token at all. The API serves such requests as operator, and the web UI
// signs them in as operator.
func OpenAccess(ctx context.Context, tokens state.Tokens, remoteAddr string) (bool, error) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return false, nil
	}
	has, err := HasTokens(ctx, tokens)
	return !has, err
}

// RoleAllows reports whether a token of role have may do what role need
// allows: an operator may do what a viewer may. An unknown role allows
// nothing.
func RoleAllows(have, need string) bool {
	h := parseRole(have)
	return h != roleNone && h >= parseRole(need)
}

// open serves a request without a token: as operator from loopback while
// no token exists at all, otherwise not.
func (a *authenticator) open(r *http.Request) (caller, *problem) {
	need := unauthorized("this API needs a token: send Authorization: Bearer TOKEN (create one with `audiencesync token create --role viewer`)")
	open, err := OpenAccess(r.Context(), a.tokens, r.RemoteAddr)
	if err != nil {
		a.log.Error("read API tokens", zap.Error(err))
		return caller{}, need
	}
	if !open {
		return caller{}, need
	}
	a.mu.Lock()
	warn := !a.warned
	a.warned = true
	a.mu.Unlock()
	if warn {
		a.log.Warn("API: serving a loopback request without a token, as operator, because no API token exists; " +
			"create one with `audiencesync token create` to require tokens")
	}
	return caller{name: "(loopback, no tokens)", role: roleOperator, startedBy: "api"}, nil
}

// touch records the token's use, at most once per touchEvery. A failure
// is logged, not the caller's problem.
func (a *authenticator) touch(ctx context.Context, id string) {
	now := a.now().UTC()
	a.mu.Lock()
	last, seen := a.touched[id]
	due := !seen || now.Sub(last) >= touchEvery
	if due {
		a.touched[id] = now
	}
	a.mu.Unlock()
	if !due {
		return
	}
	if err := a.tokens.TouchToken(ctx, id, now); err != nil && !errors.Is(err, state.ErrNotFound) {
		a.log.Warn("record API token use", zap.String("token_id", id), zap.Error(err))
	}
}
