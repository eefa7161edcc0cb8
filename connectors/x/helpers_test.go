package x

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/xads"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// testLimits keep X's request limits but retry quickly.
func testLimits() limits {
	l := defaultLimits()
	l.attempts, l.minWait, l.maxWait = 4, time.Millisecond, 20*time.Millisecond
	return l
}

// replica is an X Ads replica behind a loopback server that records what
// reaches it.
type replica struct {
	x   *xads.Server
	ts  *httptest.Server
	rec *recorder
	// faults is the replica's fault injector.
	faults *fault.Injector
}

// recorder sees every request before the replica: per users request its
// operation count and body size, every status answered, every nonce. A
// hook may answer in the replica's place.
type recorder struct {
	mu       sync.Mutex
	ops      []int
	bytes    []int
	bodies   [][]byte
	statuses []int
	nonces   []string
	hook     func(w http.ResponseWriter, r *http.Request, body []byte) bool
}

func (rc *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rc.mu.Lock()
		if strings.HasSuffix(r.URL.Path, "/users") {
			var ops []json.RawMessage
			_ = json.Unmarshal(body, &ops)
			rc.ops = append(rc.ops, len(ops))
			rc.bytes = append(rc.bytes, len(body))
			rc.bodies = append(rc.bodies, body)
		}
		if n := oauthParam(r.Header.Get("Authorization"), "oauth_nonce"); n != "" {
			rc.nonces = append(rc.nonces, n)
		}
		hook := rc.hook
		rc.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			rc.mu.Lock()
			rc.statuses = append(rc.statuses, sw.status)
			rc.mu.Unlock()
		}()
		if hook != nil && hook(sw, r, body) {
			return
		}
		next.ServeHTTP(sw, r)
	})
}

func (rc *recorder) setHook(h func(w http.ResponseWriter, r *http.Request, body []byte) bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hook = h
}

// requestOps returns the operation count of each users request so far.
func (rc *recorder) requestOps() []int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.ops)
}

func (rc *recorder) requestBytes() []int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.bytes)
}

func (rc *recorder) usersBodies() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.bodies)
}

func (rc *recorder) count(status int) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, s := range rc.statuses {
		if s == status {
			n++
		}
	}
	return n
}

func (rc *recorder) allNonces() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.nonces)
}

// statusWriter remembers the status; Unwrap lets the fault injector reach
// the connection to drop it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func oauthParam(header, name string) string {
	for part := range strings.SplitSeq(strings.TrimPrefix(header, "OAuth "), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name {
			s, _ := url.PathUnescape(strings.Trim(v, `"`))
			return s
		}
	}
	return ""
}

// newReplica serves an X Ads replica. A sandbox server gives the same
// replica as `audiencesync sandbox`; xadsOpts, when set, builds the bare
// replica instead, for options the sandbox does not expose (RateWindow).
func newReplica(t testing.TB, faults string, latency time.Duration, xadsOpts *xads.Options) *replica {
	t.Helper()
	rec := &recorder{}
	in := fault.MustParse(faults)
	var xs *xads.Server
	var h http.Handler
	if xadsOpts != nil {
		o := *xadsOpts
		o.Faults = in
		xs = xads.New(o)
		h = xs
	} else {
		srv := sandbox.New(sandbox.Options{Faults: in, Latency: latency})
		xs, h = sandbox.ReplicaOf[*xads.Server](srv), srv
	}
	ts := httptest.NewServer(rec.wrap(h))
	t.Cleanup(ts.Close)
	return &replica{x: xs, ts: ts, rec: rec, faults: in}
}

// settings point a connection at the replica with the sandbox's
// credentials written out, as a real connection would give them.
func (r *replica) settings() *Settings { return replicaSettings(r.ts.URL) }

// replicaSettings point a connection at the replica at endpoint with the
// sandbox's credentials written out.
func replicaSettings(endpoint string) *Settings {
	return &Settings{
		AccountID: xplatform.ReplicaAccount,
		XCredentials: auth.XCredentials{
			ConsumerKey:    auth.NewSecret(xplatform.ReplicaConsumerKey),
			ConsumerSecret: auth.NewSecret(xplatform.ReplicaConsumerSecret),
			AccessToken:    auth.NewSecret(xplatform.ReplicaAccessToken),
			AccessSecret:   auth.NewSecret(xplatform.ReplicaAccessSecret),
		},
		Settings: platformconn.Settings{Endpoint: endpoint},
	}
}

// dest builds a destination over the replica with test limits, changed
// by mods.
func (r *replica) dest(t testing.TB, s *Settings, mods ...func(*limits)) *Destination {
	t.Helper()
	if s == nil {
		s = r.settings()
	}
	lim := testLimits()
	for _, m := range mods {
		m(&lim)
	}
	d, err := newDestination(s, connectors.Env{Now: time.Now}, lim)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// members returns the identifiers custom audience id holds, sorted.
func (r *replica) members(id string) []string {
	got := r.x.Members(id)
	if got == nil {
		got = []string{}
	}
	return got
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// crmMember is the i'th synthetic CRM record, generation gen: a new
// generation changes the e-mail address of every third member.
func crmMember(i, gen int) audience.Member {
	var m audience.Member
	m.Key = fmt.Sprintf("C%06d", i)
	email := fmt.Sprintf("Member.%06d@Example.com", i)
	if gen > 0 && i%3 == 0 {
		email = fmt.Sprintf("member.%06d.g%d@example.com", i, gen)
	}
	m.Fields[audience.Email] = email
	if i%2 == 0 {
		m.Fields[audience.Phone] = fmt.Sprintf("+1 (202) 555-%04d", i%10000)
	}
	if i%5 == 0 {
		m.Fields[audience.Handle] = fmt.Sprintf("@Handle_%d", i)
	}
	if i%7 == 0 {
		m.Fields[audience.ExternalID] = fmt.Sprintf("crm-%d", i)
	}
	return m
}

func crmMembers(from, to, gen int) []audience.Member {
	out := make([]audience.Member, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, crmMember(i, gen))
	}
	return out
}

// mappedKinds are the source fields the test syncs map.
var mappedKinds = map[audience.Kind]string{
	audience.Email: "email", audience.Phone: "phone", audience.Handle: "handle", audience.ExternalID: "crm_id",
}

// want is what the replica must hold for ms: every identifier the x
// profile makes of them, as the replica writes it.
func want(t testing.TB, ms []audience.Member) []string {
	t.Helper()
	prof, err := platformbuiltin.Profile("x")
	require.NoError(t, err)
	set := map[string]bool{}
	for _, m := range ms {
		for k := range mappedKinds {
			if m.Fields[k] == "" {
				continue
			}
			id, reason := prof.Value(k, m.Fields[k], normalize.Options{DefaultRegion: "US"})
			require.Empty(t, reason, "kind %s", k)
			v := id.Value
			if k == audience.ExternalID {
				v = "partner_user_id:" + v
			}
			set[v] = true
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// syncer runs the engine against one destination with SQLite state.
type syncer struct {
	t    testing.TB
	eng  *engine.Engine
	dest *Destination
	spec connectors.AudienceSpec
}

func newSyncer(t testing.TB, d *Destination) *syncer {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &syncer{
		t:    t,
		dest: d,
		eng: &engine.Engine{
			Store: st,
			Retry: engine.RetryPolicy{Attempts: 6, Initial: time.Millisecond, Max: 10 * time.Millisecond},
		},
		spec: connectors.AudienceSpec{Name: "Cart abandoners", Create: true},
	}
}

func (s *syncer) job(src connectors.Source) *engine.Job {
	prof, err := platformbuiltin.Profile("x")
	require.NoError(s.t, err)
	return &engine.Job{
		Sync:              "x-sync",
		Source:            src,
		Request:           connectors.ReadRequest{Key: "id", Fields: mappedKinds},
		DefaultRegion:     "US",
		MaxRemoveFraction: 0.5,
		Targets: []*engine.Target{{
			Name: "x", Type: Type, Dest: s.dest, Info: s.dest.Info(), Profile: prof,
			Audience:       s.spec,
			DefaultConsent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
		}},
	}
}

// run syncs ms and returns the report of the one destination.
func (s *syncer) run(ms []audience.Member, opts engine.Options) (*report.Destination, error) {
	s.t.Helper()
	rep, err := s.eng.Run(context.Background(), s.job(&fake.Source{Members: ms}), opts)
	require.NotNil(s.t, rep)
	require.Len(s.t, rep.Destinations, 1)
	require.NoError(s.t, rep.CheckCounts(), "planned = applied + failed + not attempted, however the run ended")
	return rep.Destinations[0], err
}
