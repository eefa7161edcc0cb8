// Package platformconn holds what every ad-platform connector (google_ads,
// meta, x) shares about its connection: the settings keys sandbox,
// endpoint, concurrency and requests_per_second, their validation, and the
// setup derived from them and the connector's Env (defaults, logger, clock,
// where requests go, and the retrying HTTP client with the connection's
// logger, rate and burst). The CRM sources (hubspot, salesforce) take the
// same keys and set up the same way, with their opt-out fields (CRM). A
// destination that speaks a REST API itself (x, linkedin) adds its ad
// account and API version (REST, Key); one whose platform hands out OAuth 2
// tokens for a refresh token (google_ads, linkedin) inlines OAuth2 too;
// every destination's Ensure can follow one Lookup.
package platformconn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// Settings are the connection keys every platform connector takes. A
// connector inlines them in its own settings (`yaml:",inline"`), so they
// read as its own keys.
type Settings struct {
	// Sandbox talks to the local replica of the platform's API instead of
	// the platform; the replica's fixed credentials are used where none
	// are configured.
	Sandbox bool `yaml:"sandbox"`
	// Endpoint replaces the API base URL (a sandbox started with
	// `audiencesync sandbox --addr`, a proxy, a test).
	Endpoint string `yaml:"endpoint"`
	// Concurrency is how many batches are in flight at once; 0 for the
	// connector's default.
	Concurrency int `yaml:"concurrency"`
	// RequestsPerSecond caps requests, retries included; 0 for the
	// connector's default (which may be no fixed cap).
	RequestsPerSecond float64 `yaml:"requests_per_second"`
}

// OAuth2 are the OAuth 2 credentials of a connector whose platform hands
// out access tokens to a client holding a refresh token (google_ads's
// installed-app client, linkedin's developer app). A connector inlines
// them in its settings (`yaml:",inline"`) as client_id, client_secret,
// refresh_token and access_token, and checks itself which of them go
// together; where tokens are fetched (token_url) is its own, as the
// default differs.
type OAuth2 struct {
	// ClientID and ClientSecret are the OAuth client (the app).
	ClientID     auth.Secret `yaml:"client_id"`
	ClientSecret auth.Secret `yaml:"client_secret"`
	// RefreshToken is exchanged for access tokens with the client.
	RefreshToken auth.Secret `yaml:"refresh_token"`
	// AccessToken is a token obtained elsewhere, used as is until it
	// expires.
	AccessToken auth.Secret `yaml:"access_token"`
}

// Limits are a connector's defaults and bounds for Settings.
type Limits struct {
	// Type is the connection type; it prefixes errors.
	Type string
	// Platform names the platform (platform.Platform.Name): whose replica
	// Env.Endpoint is asked for.
	Platform string
	// Endpoint is the platform's API base URL, shown in errors; ""
	// leaves the choice to the platform's client library.
	Endpoint string
	// Concurrency is the default; MaxConcurrency the most allowed.
	Concurrency, MaxConcurrency int
	// RequestsPerSecond is the default rate; 0 for no fixed cap.
	RequestsPerSecond float64
	// APIVersion is the API version a REST destination speaks by
	// default, and ReplicaAccount the ad account it uses with sandbox:
	// true and none configured (see NewREST).
	APIVersion, ReplicaAccount string
}

// Validate checks s against l without any network call.
func (s *Settings) Validate(l Limits) error {
	var errs []error
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			errs = append(errs, fmt.Errorf("endpoint %q is not an http(s) base URL: write it like %s or http://127.0.0.1:8089/", s.Endpoint, l.example()))
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("endpoint %q must be a plain base URL: no credentials, query or fragment", s.Endpoint))
		}
	}
	if s.Concurrency < 0 || s.Concurrency > l.MaxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency %d is out of range: use 1 to %d (default %d)", s.Concurrency, l.MaxConcurrency, l.Concurrency))
	}
	if s.RequestsPerSecond < 0 {
		errs = append(errs, fmt.Errorf("requests_per_second %g is negative: use 0 for the default, or a positive rate", s.RequestsPerSecond))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", l.Type, errors.Join(errs...))
}

func (l Limits) example() string {
	if l.Endpoint != "" {
		return l.Endpoint
	}
	return "https://api.example.com/"
}

// Conn is the setup a platform connector derives once from its Settings
// and Env.
type Conn struct {
	// Settings with the defaults of Limits applied.
	Settings
	// Log is the connector's logger, never nil.
	Log *zap.Logger
	// Now is the clock, never nil.
	Now func() time.Time

	limits   Limits
	endpoint func(ctx context.Context, platform string) (string, error)
}

// New validates a connector's settings and sets its connection up: s are
// the shared ones, and validate, when set, checks the connector's whole
// settings (its Validate, which checks s too); otherwise s alone is
// checked. With sandbox: true and no endpoint it needs env.Endpoint, the
// in-process sandbox; without one it says how to start a sandbox instead.
func New(s Settings, l Limits, env connectors.Env, validate func() error) (Conn, error) {
	if validate == nil {
		validate = func() error { return s.Validate(l) }
	}
	if err := validate(); err != nil {
		return Conn{}, err
	}
	if s.Sandbox && s.Endpoint == "" && env.Endpoint == nil {
		return Conn{}, fmt.Errorf("%s: sandbox: true needs the built-in sandbox, which is not available here: "+
			"start one with `audiencesync sandbox --addr 127.0.0.1:8089` and set endpoint: http://127.0.0.1:8089/", l.Type)
	}
	if s.Concurrency == 0 {
		s.Concurrency = l.Concurrency
	}
	if s.RequestsPerSecond == 0 {
		s.RequestsPerSecond = l.RequestsPerSecond
	}
	return Conn{Settings: s, Log: env.Log(), Now: env.Clock(), limits: l, endpoint: env.Endpoint}, nil
}

// StaticURL is BaseURL when it needs no sandbox to be started: ok is false
// for sandbox: true without an endpoint.
func (c *Conn) StaticURL() (url string, ok bool) {
	if c.Sandbox && c.Endpoint == "" {
		return "", false
	}
	if c.Endpoint != "" {
		return c.Endpoint, true
	}
	return c.limits.Endpoint, true
}

// BaseURL is where requests go: the configured endpoint; with sandbox:
// true and none, the in-process sandbox's replica of the platform (started
// on first use); otherwise Limits.Endpoint.
func (c *Conn) BaseURL(ctx context.Context) (string, error) {
	if u, ok := c.StaticURL(); ok {
		return u, nil
	}
	u, err := c.endpoint(ctx, c.limits.Platform)
	if err != nil {
		return "", fmt.Errorf("%s: start the sandbox: %w", c.limits.Type, err)
	}
	return u, nil
}

// HTTP builds the connection's retrying client: o, with the connection's
// logger and requests_per_second filled in, and a burst of its
// concurrency so that the batches in flight may each send at once.
func (c *Conn) HTTP(o platformhttp.Options) *platformhttp.Client {
	o.Logger = c.Log
	o.RequestsPerSecond = c.RequestsPerSecond
	o.Burst = c.Concurrency
	return platformhttp.New(o)
}

// Wire is a transport of the connection's own, a copy of
// http.DefaultTransport that keeps up to idle connections per host open
// (about as many as it has requests in flight), so the batches do not
// queue for new TLS handshakes.
func Wire(idle int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = idle
	return t
}
