// Package fault injects the failures real ad platforms (and CRMs) produce — rate
// limits, server errors, expired tokens, dropped connections, slowness —
// into the sandbox replicas, by script or by seeded probability, so retry
// and back-off code can be exercised deterministically.
//
// # Spec grammar
//
// A spec is a comma-separated list of rules and settings; whitespace around
// items is ignored and an empty spec injects nothing.
//
//	spec     = [ item *( "," item ) ]
//	item     = rule / setting
//	rule     = target ":" kind [ "*" count ] [ "@" probability ]
//	target   = "*" / platform [ "." ( endpoint / "*" ) ]
//	platform = "google" / "meta" / "x" / "linkedin" / "mailchimp" / "hubspot" / "salesforce"
//	setting  = "latency=" duration      ; added to every platform request
//	         / "jitter=" duration       ; plus a uniform random 0..jitter
//	         / "retry-after=" duration  ; advertised wait, default 1s
//	         / "seed=" integer          ; seeds probabilities and jitter
//
// Endpoints are named after the last path element of the call:
//
//	google: ingest, remove, removeall, requeststatus, userlists
//	meta:   customaudiences, audience, users (add and remove), usersreplace
//	x:      accounts, custom_audiences, users
//	linkedin: accounts, segments (create, find, read), users, oauth (token)
//	mailchimp: ping, lists, batch (members created), members (upsert), tags (one member's), segments (tags: list, create, bulk)
//	hubspot: lists, search, idmapping, memberships, batchread, contacts, token
//	salesforce: token, query (and nextRecordsUrl pages), jobs (create and poll), results
//
// Kinds:
//
//	429 500 502 503 504  that HTTP status in the platform's error shape;
//	                     429 carries Retry-After (Google: RESOURCE_EXHAUSTED
//	                     with a RetryInfo detail; X: x-rate-limit-* headers)
//	401, expired         the token is reported expired (Google 401
//	                     UNAUTHENTICATED, Meta code 190 subcode 463, X 401,
//	                     LinkedIn 401 EXPIRED_ACCESS_TOKEN or, at its token
//	                     endpoint, invalid_grant)
//	exhausted            Google only: 429 RESOURCE_EXHAUSTED (same as 429)
//	ratelimit            the platform's usual throttle: Google 429
//	                     RESOURCE_EXHAUSTED, Meta code 80003, X 429
//	1 2 4 17 32 613 190 80000…80014
//	                     Meta only: that Graph error code on HTTP 400 (1 and 2
//	                     on 500/503) with X-Business-Use-Case-Usage
//	reset                the connection is closed without a response
//	lost                 the request is applied, then the connection is
//	                     closed without the response: the platform did the
//	                     work and the client cannot tell (needs the request
//	                     to come through Serve or Handler, as sandbox.Server
//	                     does; otherwise it acts as reset)
//	slow=DURATION        the request is held, then served normally
//	ok                   the request is served normally (use with *count to
//	                     let requests through before a later rule fires)
//
// Modifiers: "*N" makes the rule fire for the next N matching requests
// only; "@P" makes it fire with probability P (0 < P <= 1) per matching
// request. A rule with neither fires on every matching request. Rules are
// tried in the order written and the first that fires decides, so
//
//	google.ingest:ok*2,google.ingest:503*1,meta.users:613*1,x.users:500@0.1,latency=100ms,seed=7
//
// lets two ingests through, fails the third with 503, throttles the first
// Meta users call with code 613, fails one X users call in ten with 500,
// and delays every call by 100ms. Faults are decided after a request is
// authenticated, so they count only calls a platform would have accepted.
package fault

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is what a fault does to a request.
type Kind int

const (
	// Status answers with an HTTP error status in the platform's error shape.
	Status Kind = iota + 1
	// Expired reports the access token as expired.
	Expired
	// Code answers with a platform-specific error code (Meta Graph codes).
	Code
	// Reset closes the connection without answering.
	Reset
	// Delay holds the request for Fault.Delay, then serves it normally.
	Delay
	// Pass serves the request normally; it lets a script skip requests.
	Pass
	// Lost serves the request, then drops the connection without the
	// answer: the platform did the work, the client cannot know (lost.go).
	Lost
)

// Fault is one injected failure, handed to a platform's Renderer.
type Fault struct {
	Kind       Kind
	Status     int           // HTTP status, for Status
	Code       int           // platform error code, for Code and Meta's Expired (190)
	Delay      time.Duration // for Delay
	RetryAfter time.Duration // wait to advertise on throttling faults
	Rule       string        // the rule as written, for logs and state
}

// Targets are the platforms rules may target and, for each, its endpoint
// names: the sandbox collects them from its replicas. Nil accepts any
// platform and endpoint name.
type Targets map[string][]string

// IsMetaCode reports whether n is a Graph API error code the injector
// knows: the throttling codes, 190 (token) and 1/2 (server trouble).
func IsMetaCode(n int) bool {
	switch n {
	case 1, 2, 4, 17, 32, 190, 613:
		return true
	}
	return n >= 80000 && n <= 80014
}

type rule struct {
	text      string
	platform  string // "" = any
	endpoint  string // "" = any
	kind      Kind
	status    int
	code      int
	delay     time.Duration
	count     int // -1 = unlimited
	prob      float64
	fired     int
	remaining int
}

type settings struct {
	latency    time.Duration
	jitter     time.Duration
	retryAfter time.Duration
	seed       uint64
}

func parse(spec string, targets Targets) ([]*rule, settings, error) {
	set := settings{retryAfter: time.Second, seed: 1}
	var rules []*rule
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, ":") {
			r, err := parseRule(item, targets)
			if err != nil {
				return nil, set, fmt.Errorf("fault rule %q: %w", item, err)
			}
			rules = append(rules, r)
			continue
		}
		key, val, ok := strings.Cut(item, "=")
		if !ok {
			return nil, set, fmt.Errorf("fault item %q: want TARGET:KIND or SETTING=VALUE", item)
		}
		if err := set.apply(strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)); err != nil {
			return nil, set, fmt.Errorf("fault setting %q: %w", item, err)
		}
	}
	return rules, set, nil
}

func (s *settings) apply(key, val string) error {
	switch key {
	case "latency", "jitter", "retry-after", "retry_after":
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return fmt.Errorf("want a non-negative duration such as 250ms")
		}
		switch key {
		case "latency":
			s.latency = d
		case "jitter":
			s.jitter = d
		default:
			s.retryAfter = d
		}
	case "seed":
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return fmt.Errorf("want a non-negative integer")
		}
		s.seed = n
	default:
		return fmt.Errorf("unknown setting (known: latency, jitter, retry-after, seed)")
	}
	return nil
}

func parseRule(item string, targets Targets) (*rule, error) {
	target, action, _ := strings.Cut(item, ":")
	r := &rule{text: item, count: -1, prob: 1}
	if err := r.parseTarget(strings.ToLower(strings.TrimSpace(target)), targets); err != nil {
		return nil, err
	}
	action = strings.TrimSpace(action)
	kind := action
	if i := strings.IndexAny(action, "*@"); i >= 0 {
		kind = action[:i]
		if err := r.parseModifiers(action[i:]); err != nil {
			return nil, err
		}
	}
	if err := r.parseKind(strings.ToLower(strings.TrimSpace(kind))); err != nil {
		return nil, err
	}
	r.remaining = r.count
	return r, nil
}

func (r *rule) parseTarget(target string, targets Targets) error {
	if target == "*" {
		return nil
	}
	platform, endpoint, _ := strings.Cut(target, ".")
	names, ok := targets[platform]
	if !ok && targets != nil {
		return fmt.Errorf("unknown platform %q (known: %s, or * for all)", platform, strings.Join(slices.Sorted(maps.Keys(targets)), ", "))
	}
	r.platform = platform
	if endpoint == "" || endpoint == "*" {
		return nil
	}
	if targets == nil {
		r.endpoint = endpoint
		return nil
	}
	for _, n := range names {
		if n == endpoint {
			r.endpoint = endpoint
			return nil
		}
	}
	return fmt.Errorf("unknown %s endpoint %q (known: %s)", platform, endpoint, strings.Join(names, ", "))
}

func (r *rule) parseModifiers(mods string) error {
	for mods != "" {
		op := mods[0]
		rest := mods[1:]
		end := strings.IndexAny(rest, "*@")
		if end < 0 {
			end = len(rest)
		}
		val := strings.TrimSpace(rest[:end])
		mods = rest[end:]
		switch op {
		case '*':
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return fmt.Errorf("count %q: want a positive integer after *", val)
			}
			r.count = n
		case '@':
			p, err := strconv.ParseFloat(val, 64)
			if err != nil || p <= 0 || p > 1 {
				return fmt.Errorf("probability %q: want a number in (0, 1] after @", val)
			}
			r.prob = p
		}
	}
	return nil
}

func (r *rule) parseKind(kind string) error {
	switch {
	case kind == "ok":
		r.kind = Pass
	case kind == "reset":
		r.kind = Reset
	case kind == "lost":
		r.kind = Lost
	case kind == "expired":
		r.kind = Expired
		if r.platform == "meta" {
			r.code = 190
		}
	case kind == "exhausted":
		if r.platform != "google" {
			return fmt.Errorf("exhausted is Google's RESOURCE_EXHAUSTED: target google")
		}
		r.kind, r.status = Status, 429
	case kind == "ratelimit":
		if r.platform == "meta" {
			r.kind, r.code = Code, 80003
		} else {
			r.kind, r.status = Status, 429
		}
	case strings.HasPrefix(kind, "slow="):
		d, err := time.ParseDuration(strings.TrimPrefix(kind, "slow="))
		if err != nil || d <= 0 {
			return fmt.Errorf("slow: want a positive duration, e.g. slow=2s")
		}
		r.kind, r.delay = Delay, d
	default:
		n, err := strconv.Atoi(kind)
		if err != nil {
			return fmt.Errorf("unknown kind %q (known: HTTP status, Meta code, expired, exhausted, ratelimit, reset, lost, slow=DUR, ok)", kind)
		}
		return r.parseNumber(n)
	}
	return nil
}

func (r *rule) parseNumber(n int) error {
	if IsMetaCode(n) {
		if r.platform != "meta" {
			return fmt.Errorf("%d is a Meta Graph error code: target meta", n)
		}
		if n == 190 {
			r.kind, r.code = Expired, 190
		} else {
			r.kind, r.code = Code, n
		}
		return nil
	}
	switch n {
	case 401:
		r.kind = Expired
		if r.platform == "meta" {
			r.code = 190
		}
	case 429, 500, 502, 503, 504:
		r.kind, r.status = Status, n
	default:
		return fmt.Errorf("status %d: want 401, 429, 500, 502, 503 or 504", n)
	}
	return nil
}

func (r *rule) matches(platform, endpoint string) bool {
	return (r.platform == "" || r.platform == platform) && (r.endpoint == "" || r.endpoint == endpoint)
}
