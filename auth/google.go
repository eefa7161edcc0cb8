package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// GoogleScope is the OAuth 2 scope of Google's Data Manager API.
const GoogleScope = "https://www.googleapis.com/auth/datamanager"

// ErrGoogleCredentialsRejected means Google's token endpoint refused the
// configured credentials (a revoked refresh token, a deleted service
// account key, a wrong client secret). Retrying cannot help.
var ErrGoogleCredentialsRejected = errors.New("the Google token endpoint refused the credentials")

// GoogleCredentials are the ways to authenticate to a Google API; exactly
// one is set:
//
//   - JSON: a service account key file's content (type service_account),
//     or an authorized_user file as gcloud writes it;
//   - ClientID, ClientSecret and RefreshToken: an installed-app OAuth
//     client and the refresh token `audiencesync auth google` printed;
//   - AccessToken: a short-lived token obtained elsewhere, used as is.
type GoogleCredentials struct {
	JSON         Secret
	ClientID     Secret
	ClientSecret Secret
	RefreshToken Secret
	AccessToken  Secret
	// TokenURL replaces Google's token endpoint (and a key file's
	// token_uri), for proxies and tests.
	TokenURL string
	// Scopes default to GoogleScope.
	Scopes []string
}

// Google credential methods, as Method names them.
const (
	GoogleMethodJSON         = "credentials"
	GoogleMethodRefreshToken = "refresh_token"
	GoogleMethodAccessToken  = "access_token"
)

// Method names the configured way to authenticate, "" when none is.
func (c GoogleCredentials) Method() string {
	switch {
	case !c.JSON.IsZero():
		return GoogleMethodJSON
	case !c.RefreshToken.IsZero():
		return GoogleMethodRefreshToken
	case !c.AccessToken.IsZero():
		return GoogleMethodAccessToken
	}
	return ""
}

// Validate checks that exactly one way to authenticate is configured. It
// looks at which secrets are set, not at their values, so it can run
// before secrets are resolved.
func (c GoogleCredentials) Validate() error {
	set := 0
	for _, s := range []Secret{c.JSON, c.RefreshToken, c.AccessToken} {
		if !s.IsZero() {
			set++
		}
	}
	oauthClient := !c.ClientID.IsZero() || !c.ClientSecret.IsZero()
	switch {
	case set == 0 && oauthClient:
		return errors.New("client_id and client_secret need a refresh_token: run `audiencesync auth google` to get one")
	case set == 0:
		return errors.New("no credentials: set credentials (a service account key), client_id + client_secret + refresh_token, or access_token")
	case set > 1:
		return errors.New("set only one of credentials, refresh_token and access_token")
	case !c.RefreshToken.IsZero() && (c.ClientID.IsZero() || c.ClientSecret.IsZero()):
		return errors.New("refresh_token needs the OAuth client it was issued to: set client_id and client_secret")
	case c.RefreshToken.IsZero() && oauthClient:
		return errors.New("client_id and client_secret are only used with refresh_token")
	}
	return nil
}

// keyFile is the part of a Google credentials file this package reads.
type keyFile struct {
	Type         string `json:"type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
	TokenURI     string `json:"token_uri"`
}

// GoogleTokenSource hands out access tokens, caching each until it nears
// expiry, and can be told a token was refused so the next call fetches a
// new one. It is safe for concurrent use.
type GoogleTokenSource struct {
	method string
	// static is a configured access token, used as is; nil otherwise.
	static oauth2.TokenSource
	// tokens renews the tokens of the other methods; nil for static.
	tokens *RenewingTokens
}

// NewGoogleTokenSource builds a token source from resolved credentials.
// Token requests are made with ctx for the life of the source (oauth2's
// TokenSource has no per-call context), so ctx must outlive it; an
// *http.Client stored under oauth2.HTTPClient in ctx is used for them,
// and otherwise one with a 30s timeout.
func NewGoogleTokenSource(ctx context.Context, c GoogleCredentials) (*GoogleTokenSource, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	ctx = TokenContext(ctx)
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = []string{GoogleScope}
	}
	s := &GoogleTokenSource{method: c.Method()}
	switch s.method {
	case GoogleMethodAccessToken:
		s.static = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: c.AccessToken.Reveal(), TokenType: "Bearer"})
	case GoogleMethodRefreshToken:
		s.tokens = NewRenewingTokens(refreshSource(ctx, c.ClientID.Reveal(), c.ClientSecret.Reveal(), c.RefreshToken.Reveal(), c.TokenURL, scopes))
	case GoogleMethodJSON:
		key, err := parseKey([]byte(c.JSON.Reveal()), c.TokenURL, scopes)
		if err != nil {
			return nil, err
		}
		s.tokens = NewRenewingTokens(func() oauth2.TokenSource { return key(ctx) })
	}
	return s, nil
}

func refreshSource(ctx context.Context, id, secret, refresh, tokenURL string, scopes []string) func() oauth2.TokenSource {
	cfg := &oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: google.Endpoint, Scopes: scopes}
	if tokenURL != "" {
		cfg.Endpoint.TokenURL = tokenURL
	}
	return refreshGrant(ctx, cfg, refresh)
}

// keySource is a parsed credentials file: how to build a fresh token
// source from it.
type keySource func(ctx context.Context) oauth2.TokenSource

func parseKey(raw []byte, tokenURL string, scopes []string) (keySource, error) {
	var f keyFile
	if err := json.Unmarshal(raw, &f); err != nil {
		// The JSON error may quote the key; say where, not what.
		return nil, errors.New("credentials is not a Google credentials JSON file: download a service account key (JSON) from the Google Cloud console")
	}
	switch f.Type {
	case "service_account":
		cfg, err := google.JWTConfigFromJSON(raw, scopes...)
		if err != nil || len(cfg.PrivateKey) == 0 || cfg.Email == "" {
			return nil, errors.New("credentials: the service account key lacks client_email or private_key: download a new JSON key")
		}
		if tokenURL != "" {
			cfg.TokenURL = tokenURL
		}
		return func(ctx context.Context) oauth2.TokenSource { return cfg.TokenSource(ctx) }, nil
	case "authorized_user":
		if f.ClientID == "" || f.ClientSecret == "" || f.RefreshToken == "" {
			return nil, errors.New("credentials: the authorized_user file lacks client_id, client_secret or refresh_token")
		}
		if tokenURL == "" {
			tokenURL = f.TokenURI
		}
		return func(ctx context.Context) oauth2.TokenSource {
			return refreshSource(ctx, f.ClientID, f.ClientSecret, f.RefreshToken, tokenURL, scopes)()
		}, nil
	}
	return nil, fmt.Errorf("credentials: unsupported credentials type %q: use a service account key (type service_account) or an authorized_user file", f.Type)
}

// CheckKey reads the credentials file, when that is the method, and says
// whether it is usable, without any network call. Secrets must be
// resolved.
func (c GoogleCredentials) CheckKey() error {
	if c.Method() != GoogleMethodJSON {
		return nil
	}
	_, err := parseKey([]byte(c.JSON.Reveal()), c.TokenURL, c.Scopes)
	return err
}

// Method names the credentials in use (see GoogleCredentials.Method).
func (s *GoogleTokenSource) Method() string { return s.method }

// Token returns a valid access token, fetching one when none is cached or
// the cached one expires.
func (s *GoogleTokenSource) Token() (*oauth2.Token, error) {
	if s.tokens == nil {
		return s.static.Token()
	}
	tok, err := s.tokens.Token()
	if err != nil {
		return nil, tokenError(s.method, err)
	}
	return tok, nil
}

// Generation identifies the cached token; pass it to Refresh.
func (s *GoogleTokenSource) Generation() uint64 {
	if s.tokens == nil {
		return 0
	}
	return s.tokens.Generation()
}

// Refresh drops the token of generation gen, which the API refused, so the
// next Token call fetches a new one. When several callers saw the same
// token refused, only the first refresh fetches. It reports false when
// the credentials cannot be refreshed (a static access token).
func (s *GoogleTokenSource) Refresh(gen uint64) bool {
	if s.tokens == nil {
		return false
	}
	s.tokens.Drop(gen)
	return true
}

// tokenError turns a token endpoint refusal into ErrGoogleCredentialsRejected
// with advice; other failures (network, 5xx) stay retryable.
func tokenError(method string, err error) error {
	code, refused := Refusal(err)
	if !refused {
		return fmt.Errorf("get a Google access token: %w", RedactError(err))
	}
	advice := "check the credentials"
	switch method {
	case GoogleMethodRefreshToken:
		advice = "the refresh token was revoked, expired or issued to another client: run `audiencesync auth google` for a new one and update the refresh_token secret"
	case GoogleMethodJSON:
		advice = "the key was deleted or disabled, or the token endpoint refused it: create a new service account key and update the credentials secret"
	}
	return fmt.Errorf("%w (%s): %s", ErrGoogleCredentialsRejected, code, advice)
}

// GoogleTransport returns a round tripper that adds a bearer token from src
// to every request it sends through base (http.DefaultTransport when nil).
// Hand it to platformhttp.Options.Transport so each retry carries a token:
// google.golang.org/api's option.WithHTTPClient replaces credentials, so
// they must live inside the client passed there.
func GoogleTransport(src oauth2.TokenSource, base http.RoundTripper) http.RoundTripper {
	return &oauth2.Transport{Source: src, Base: base}
}

// GoogleLoopbackFlow is the OAuth 2 installed-app flow with a loopback
// redirect: the user opens a consent URL in a browser, Google redirects to
// a listener on 127.0.0.1 with a code, and the code is exchanged (with a
// PKCE verifier) for tokens including a refresh token.
type GoogleLoopbackFlow struct {
	ClientID, ClientSecret string
	// AuthURL and TokenURL replace Google's endpoints (tests).
	AuthURL, TokenURL string
	Scopes            []string
}

// Run serves the redirect on ln, calls show with the consent URL, waits for
// the browser to come back (or ctx to end) and exchanges the code. The
// returned token carries a refresh token.
func (f GoogleLoopbackFlow) Run(ctx context.Context, ln net.Listener, show func(consentURL string)) (*oauth2.Token, error) {
	if f.ClientID == "" || f.ClientSecret == "" {
		return nil, errors.New("an OAuth client id and secret are needed: create a Desktop app OAuth client in the Google Cloud console (APIs & Services > Credentials)")
	}
	cfg := &oauth2.Config{
		ClientID:     f.ClientID,
		ClientSecret: f.ClientSecret,
		Endpoint:     google.Endpoint,
		RedirectURL:  "http://" + ln.Addr().String() + "/",
		Scopes:       f.Scopes,
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{GoogleScope}
	}
	if f.AuthURL != "" {
		cfg.Endpoint.AuthURL = f.AuthURL
	}
	if f.TokenURL != "" {
		cfg.Endpoint.TokenURL = f.TokenURL
	}
	var nonce [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("make OAuth state: %w", err)
	}
	state := hex.EncodeToString(nonce[:])
	verifier := oauth2.GenerateVerifier()

	type result struct {
		code string
		err  error
	}
	got := make(chan result, 1)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res := callback(r, state)
			if res.err != nil {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, "<p>audiencesync: %s</p><p>Return to the terminal.</p>", html.EscapeString(res.err.Error()))
			} else {
				fmt.Fprint(w, "<p>audiencesync received the authorization. You can close this window and return to the terminal.</p>")
			}
			if res.err != nil && errors.Is(res.err, errStrayRequest) {
				return // a favicon or a stale tab: keep waiting
			}
			select {
			case got <- result{code: res.code, err: res.err}:
			default:
			}
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()

	show(cfg.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "consent")))

	var res result
	select {
	case res = <-got:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the browser to return: %w", ctx.Err())
	}
	if res.err != nil {
		return nil, res.err
	}
	tok, err := cfg.Exchange(ctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return nil, fmt.Errorf("exchange the authorization code: the token endpoint answered %s: check the client id and secret and run the command again", re.ErrorCode)
		}
		return nil, fmt.Errorf("exchange the authorization code: %w", RedactError(err))
	}
	if tok.RefreshToken == "" {
		return nil, errors.New("no refresh token came back: remove audiencesync's access at https://myaccount.google.com/permissions and run this again")
	}
	return tok, nil
}

var errStrayRequest = errors.New("this page is not the OAuth redirect")

// callback reads the redirect: the code, after checking the state.
func callback(r *http.Request, state string) (res struct {
	code string
	err  error
}) {
	q := r.URL.Query()
	if r.URL.Path != "/" || (q.Get("state") == "" && q.Get("code") == "" && q.Get("error") == "") {
		res.err = errStrayRequest
		return res
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		res.err = errors.New("the OAuth state does not match this run (a stale or forged redirect): run the command again")
		return res
	}
	if e := q.Get("error"); e != "" {
		res.err = fmt.Errorf("access was not authorized (%s): run the command again and approve the consent screen", e)
		return res
	}
	if res.code = q.Get("code"); res.code == "" {
		res.err = errors.New("the redirect carried no authorization code: run the command again")
	}
	return res
}
