package platformconn

import (
	"fmt"
	"regexp"
	"sync"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/platform"
)

// REST is the connection of a destination that speaks a platform's REST
// API itself (x, linkedin): the shared setup, the ad account and API
// version its settings name with their defaults applied, and the retrying
// client the destination builds over them, which Close releases.
type REST struct {
	Conn
	// Account is the ad account: the configured one, or with sandbox:
	// true and none configured, Limits.ReplicaAccount.
	Account string
	// Version is the API version: the configured one, or
	// Limits.APIVersion.
	Version string
	// Client is the destination's retrying client (built with Conn.HTTP,
	// or platformhttp.New); the destination sets it once, before use.
	Client *platformhttp.Client

	mu     sync.Mutex
	closed bool
}

// NewREST sets a REST destination's connection up as New does, with the
// account and API version its settings name (either may be "").
func NewREST(s Settings, l Limits, env connectors.Env, validate func() error, account, version string) (*REST, error) {
	conn, err := New(s, l, env, validate)
	if err != nil {
		return nil, err
	}
	r := &REST{Conn: conn, Account: account, Version: version}
	if r.Version == "" {
		r.Version = l.APIVersion
	}
	if r.Account == "" && s.Sandbox {
		r.Account = l.ReplicaAccount
	}
	return r, nil
}

// Info describes a destination to p with this connection's concurrency,
// maxBatch members a batch, and nothing to refresh: memberships that
// lapse say so in their own Info.
func (r *REST) Info(p *platform.Platform, maxBatch int) connectors.DestinationInfo {
	return connectors.DestinationInfo{
		Platform:    p,
		Kinds:       p.Kinds(),
		MaxBatch:    maxBatch,
		Concurrency: r.Concurrency,
	}
}

// Close releases the client's idle connections; a second call does
// nothing.
func (r *REST) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed && r.Client != nil {
		r.closed = true
		r.Client.CloseIdleConnections()
	}
	return nil
}

// Key is a setting that names an id or a version, such as account_id or
// api_version, and how its values are written.
type Key struct {
	// Name is the key in configs.
	Name    string
	Pattern *regexp.Regexp
	// Missing, when set, makes the key required outside a sandbox: it
	// says where to find the value.
	Missing string
	// Invalid says what a value that does not match Pattern is not, and
	// how to write it ("an X ad account id: use …").
	Invalid string
}

// Check checks v, the key's value, for connection type typ: an error when
// it is required and missing (with sandbox: true nothing is required) or
// does not match.
func (k Key) Check(typ, v string, sandbox bool) error {
	switch {
	case v == "" && k.Missing != "" && !sandbox:
		return fmt.Errorf("%s: %s is required: %s", typ, k.Name, k.Missing)
	case v != "" && !k.Pattern.MatchString(v):
		return fmt.Errorf("%s: %s %q is not %s", typ, k.Name, v, k.Invalid)
	}
	return nil
}
