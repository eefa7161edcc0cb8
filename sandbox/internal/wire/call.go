package wire

import (
	"net/http"

	"github.com/audiencesync/audiencesync/sandbox/fault"
)

// MaxCallBody bounds a request body of the CRM replicas (HubSpot,
// Salesforce): their calls carry ids, queries and tokens, never uploads.
const MaxCallBody = 1 << 20

// Call is one request a replica's route table has routed: the fault
// endpoint it counts as, the handler that answers it, and what its path
// named. A zero Call (no Handler) is a request no route matched.
type Call struct {
	// Endpoint is the fault endpoint the call counts as (see NewMount).
	Endpoint string
	Handler  func(http.ResponseWriter, *http.Request, Call)
	// ID is the object the path names: a list, contact, cursor or job.
	ID string
	// Tail is the path's segments after ID; Version the API version the
	// path names.
	Tail    []string
	Version string
}

// Gate answers routed calls in the order a CRM platform checks them:
// a call no route matched is NotFound; the token endpoint is open to
// every caller (it is where credentials come from); any other call must
// pass Admit (authentication and rate limits) before the fault injector
// sees it, so faults count only calls the platform would have accepted.
type Gate struct {
	// Platform and Render are what the fault injector is given: the
	// replica's platform name and the replica, which writes a fault as
	// its platform would.
	Platform string
	Render   fault.Renderer
	// Faults injects failures; nil injects none.
	Faults *fault.Injector
	// TokenEndpoint is the endpoint name of the token endpoint.
	TokenEndpoint string
	// NotFound answers a request no route matched.
	NotFound func(http.ResponseWriter, *http.Request)
	// Admit authenticates c and counts it against the rate limits; it
	// answers the request itself when it refuses it.
	Admit func(w http.ResponseWriter, r *http.Request, c Call) bool
}

// Serve answers r, routed as c.
func (g Gate) Serve(w http.ResponseWriter, r *http.Request, c Call) {
	switch {
	case c.Handler == nil:
		g.NotFound(w, r)
		return
	case c.Endpoint != g.TokenEndpoint && !g.Admit(w, r, c):
		return
	case g.Faults.Intercept(w, r, g.Platform, c.Endpoint, g.Render):
		return
	}
	c.Handler(w, r, c)
}
