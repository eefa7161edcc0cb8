package wire

import (
	"net/http"
	"slices"
)

// Mount is how a replica is mounted on the sandbox, declared once: the
// platform it stands in for, which requests are its own, and the endpoint
// names fault rules may target. A replica's Base embeds it, which gives
// the replica Platform and Owns (sandbox.Replica) and FaultEndpoints
// (sandbox.FaultTarget).
type Mount struct {
	name      string
	owns      func(r *http.Request) bool
	endpoints []string
}

// NewMount mounts the replica of platform name, owning the requests owns
// accepts (Prefixes, for an API known by its paths), with the fault
// endpoints endpoints.
func NewMount(name string, owns func(r *http.Request) bool, endpoints ...string) Mount {
	return Mount{name: name, owns: owns, endpoints: endpoints}
}

// Prefixes accepts the requests whose path starts with one of prefixes.
func Prefixes(prefixes ...string) func(r *http.Request) bool {
	return func(r *http.Request) bool { return HasPathPrefix(r, prefixes...) }
}

// Platform is the platform the replica stands in for.
func (m Mount) Platform() string { return m.name }

// Owns reports whether r is a call to the replica's API.
func (m Mount) Owns(r *http.Request) bool { return m.owns(r) }

// FaultEndpoints are the endpoint names fault rules may target.
func (m Mount) FaultEndpoints() []string { return slices.Clone(m.endpoints) }
