package connectortest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Faults injects failures into the backend a destination under test talks
// to: the platform's sandbox replica, or the fake's own knobs. A remote
// that can fail this way gets the error-vocabulary checks of the suite.
//
// Counts are of upload calls (the requests Apply makes); n < 0 means every
// such call until Clear.
type Faults interface {
	// ExpiredToken makes the platform refuse every call from now on, as it
	// does once the access token has expired or been revoked.
	ExpiredToken(t *testing.T)
	// RateLimit throttles the next n upload calls, the platform asking
	// for wait before the next one.
	RateLimit(t *testing.T, n int, wait time.Duration)
	// ServerError answers the next n upload calls with a server error
	// (HTTP 503 or the platform's equivalent).
	ServerError(t *testing.T, n int)
	// Lost applies the next n upload calls and then drops their answer,
	// as a connection reset after the platform committed the change does.
	Lost(t *testing.T, n int)
	// Clear removes every fault; the next calls are served normally.
	Clear(t *testing.T)
	// Fired reports how many calls the faults set since the last Clear
	// (or the last of the calls above) have hit.
	Fired(t *testing.T) int
}

// FaultLoader is what InjectorFaults drives: *fault.Injector of package
// sandbox/fault, as a sandbox.Server's Options.Faults.
type FaultLoader interface {
	// Load replaces the fault spec in force (see package sandbox/fault
	// for the grammar) and re-arms its scripts.
	Load(spec string) error
	// Fired reports how often each rule of the spec in force has fired.
	Fired() map[string]int
}

// InjectorFaults implements Faults over a sandbox replica's fault
// injector. platform is the replica's platform name (google, meta, x) and
// endpoints its upload endpoints as fault rules name them (google: ingest
// and remove; meta: users; x: users); a count applies to each endpoint.
// ExpiredToken targets the whole platform, as a revoked token fails every
// call.
func InjectorFaults(in FaultLoader, platform string, endpoints ...string) Faults {
	return &injectorFaults{in: in, platform: platform, endpoints: endpoints}
}

type injectorFaults struct {
	in        FaultLoader
	platform  string
	endpoints []string
}

func (f *injectorFaults) load(t *testing.T, spec string) {
	t.Helper()
	require.NoError(t, f.in.Load(spec), "load fault spec %q", spec)
}

// rules writes one rule of kind per upload endpoint, n times each.
func (f *injectorFaults) rules(kind string, n int) string {
	count := ""
	if n >= 0 {
		count = fmt.Sprintf("*%d", n)
	}
	rules := make([]string, len(f.endpoints))
	for i, ep := range f.endpoints {
		rules[i] = f.platform + "." + ep + ":" + kind + count
	}
	return strings.Join(rules, ",")
}

func (f *injectorFaults) ExpiredToken(t *testing.T) { f.load(t, f.platform+":expired") }

func (f *injectorFaults) RateLimit(t *testing.T, n int, wait time.Duration) {
	f.load(t, f.rules("ratelimit", n)+",retry-after="+wait.String())
}

func (f *injectorFaults) ServerError(t *testing.T, n int) { f.load(t, f.rules("503", n)) }
func (f *injectorFaults) Lost(t *testing.T, n int)        { f.load(t, f.rules("lost", n)) }
func (f *injectorFaults) Clear(t *testing.T)              { f.load(t, "") }

func (f *injectorFaults) Fired(*testing.T) int {
	total := 0
	for _, n := range f.in.Fired() {
		total += n
	}
	return total
}
