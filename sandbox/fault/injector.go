package fault

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/connectors/retry"
)

// Renderer writes a fault in one platform's wire shape (status, headers,
// error JSON). Each replica implements it.
type Renderer interface {
	RenderFault(w http.ResponseWriter, r *http.Request, f Fault)
}

// Injector decides, request by request, which fault (if any) to inject.
// The zero of *Injector (nil) injects nothing. It is safe for concurrent
// use; with concurrent requests the order in which scripted faults are
// handed out follows arrival order.
type Injector struct {
	mu      sync.Mutex
	targets Targets // nil: any
	spec    string
	rules   []*rule
	set     settings
	rng     *rand.Rand
}

// Parse builds an Injector from a spec (see the package documentation)
// whose rules may name any platform and endpoint; a sandbox restricts it to
// its replicas' (Restrict).
func Parse(spec string) (*Injector, error) { return ParseFor(spec, nil) }

// ParseFor is Parse for rules that may name only targets.
func ParseFor(spec string, targets Targets) (*Injector, error) {
	in := &Injector{targets: targets}
	if err := in.Load(spec); err != nil {
		return nil, err
	}
	return in, nil
}

// Restrict checks the spec in force against targets and has every later
// Load check its spec so too. On error nothing changes.
func (in *Injector) Restrict(targets Targets) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, _, err := parse(in.spec, targets); err != nil {
		return err
	}
	in.targets = targets
	return nil
}

// MustParse is Parse for specs known to be valid; it panics otherwise.
func MustParse(spec string) *Injector {
	in, err := Parse(spec)
	if err != nil {
		panic(err)
	}
	return in
}

// Load replaces the rules and settings with those of spec and re-arms every
// script. On error the previous spec stays in force.
func (in *Injector) Load(spec string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	rules, set, err := parse(spec, in.targets)
	if err != nil {
		return err
	}
	in.spec = strings.TrimSpace(spec)
	in.rules = rules
	in.set = set
	in.rng = rand.New(rand.NewPCG(set.seed, set.seed^0x9e3779b97f4a7c15))
	return nil
}

// String returns the spec in force.
func (in *Injector) String() string {
	if in == nil {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.spec
}

// Fired reports how many times each rule has fired, keyed by the rule as
// written.
func (in *Injector) Fired() map[string]int {
	out := map[string]int{}
	if in == nil {
		return out
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range in.rules {
		out[r.text] += r.fired
	}
	return out
}

// Next decides the fault for one request to platform's endpoint. ok is
// false when the request should be served normally.
func (in *Injector) Next(platform, endpoint string) (f Fault, ok bool) {
	if in == nil {
		return Fault{}, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range in.rules {
		if r.remaining == 0 || !r.matches(platform, endpoint) {
			continue
		}
		if r.prob < 1 && in.rng.Float64() >= r.prob {
			continue
		}
		if r.remaining > 0 {
			r.remaining--
		}
		r.fired++
		if r.kind == Pass {
			return Fault{}, false
		}
		return Fault{
			Kind:       r.kind,
			Status:     r.status,
			Code:       r.code,
			Delay:      r.delay,
			RetryAfter: in.set.retryAfter,
			Rule:       r.text,
		}, true
	}
	return Fault{}, false
}

// Latency returns the delay to add to the next request: the latency
// setting plus a seeded uniform share of the jitter setting.
func (in *Injector) Latency() time.Duration {
	if in == nil {
		return 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	d := in.set.latency
	if in.set.jitter > 0 {
		d += time.Duration(in.rng.Int64N(int64(in.set.jitter) + 1))
	}
	return d
}

// Intercept applies latency and the next fault to a request. It returns
// true when the request has been answered (or dropped) and the handler must
// not write anything.
func (in *Injector) Intercept(w http.ResponseWriter, r *http.Request, platform, endpoint string, render Renderer) bool {
	if in == nil {
		return false
	}
	if !Sleep(r.Context(), in.Latency()) {
		return true
	}
	f, ok := in.Next(platform, endpoint)
	if !ok {
		return false
	}
	switch f.Kind {
	case Delay:
		return !Sleep(r.Context(), f.Delay)
	case Reset:
		DropConnection(w)
		return true
	case Lost:
		if markLost(r) {
			return false // served, then dropped by Serve
		}
		DropConnection(w)
		return true
	}
	render.RenderFault(w, r, f)
	return true
}

// Sleep waits d or until ctx ends; it reports whether the full wait passed.
func Sleep(ctx context.Context, d time.Duration) bool { return retry.Sleep(ctx, d) == nil }

// DropConnection closes the client connection without an HTTP response, as
// a load balancer resetting a connection would. Over HTTP/1 the socket is
// closed with SO_LINGER 0 so the client sees a reset; where the connection
// cannot be taken over the handler is aborted, which also drops it.
func DropConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}
