package linkedin

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
	liplatform "github.com/audiencesync/audiencesync/platform/linkedin"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/linkedindmp"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// testLimits keep LinkedIn's request limits but retry and poll quickly.
func testLimits() limits {
	l := defaultLimits()
	l.attempts, l.minWait, l.maxWait = 4, time.Millisecond, 20*time.Millisecond
	l.readyWait = time.Millisecond
	return l
}

// replica is a LinkedIn replica behind a loopback server that records
// what reaches it.
type replica struct {
	li     *linkedindmp.Server
	ts     *httptest.Server
	rec    *recorder
	faults *fault.Injector
}

// recorder sees every request before the replica: each request's method,
// path and headers, each users batch's element count, every status.
type recorder struct {
	mu       sync.Mutex
	calls    []call
	elements []int
	actions  map[string]int // users elements sent, by action
}

type call struct {
	method, path string
	header       http.Header
	status       int
}

func (rc *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.HasSuffix(r.URL.Path, "/users") {
			var b struct{ Elements []struct{ Action string } }
			_ = json.Unmarshal(body, &b)
			rc.mu.Lock()
			rc.elements = append(rc.elements, len(b.Elements))
			if rc.actions == nil {
				rc.actions = map[string]int{}
			}
			for _, e := range b.Elements {
				rc.actions[e.Action]++
			}
			rc.mu.Unlock()
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		rc.mu.Lock()
		rc.calls = append(rc.calls, call{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), status: sw.status})
		rc.mu.Unlock()
	})
}

func (rc *recorder) requestElements() []int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.elements)
}

func (rc *recorder) sent(action string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.actions[action]
}

func (rc *recorder) all() []call {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.calls)
}

// count is how many calls to a path ending in suffix were answered status
// (0 for any).
func (rc *recorder) count(method, suffix string, status int) int {
	n := 0
	for _, c := range rc.all() {
		if c.method == method && strings.HasSuffix(c.path, suffix) && (status == 0 || c.status == status) {
			n++
		}
	}
	return n
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

// newReplica serves the sandbox's LinkedIn replica, as `audiencesync
// sandbox` does; opts, when set, builds the bare replica instead, for
// options the sandbox does not expose.
func newReplica(t testing.TB, faults string, opts *linkedindmp.Options) *replica {
	t.Helper()
	rec := &recorder{}
	in := fault.MustParse(faults)
	var li *linkedindmp.Server
	var h http.Handler
	if opts != nil {
		o := *opts
		o.Faults = in
		li = linkedindmp.New(o)
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fault.Serve(w, r, li) })
	} else {
		srv := sandbox.New(sandbox.Options{Faults: in})
		li, h = sandbox.ReplicaOf[*linkedindmp.Server](srv), srv
	}
	ts := httptest.NewServer(rec.wrap(h))
	t.Cleanup(ts.Close)
	return &replica{li: li, ts: ts, rec: rec, faults: in}
}

// settings point a connection at the replica with the sandbox's refresh
// credentials written out, as a real connection would give them.
func (r *replica) settings() *Settings {
	return &Settings{
		AccountID: liplatform.ReplicaAccount,
		OAuth2: platformconn.OAuth2{
			ClientID:     auth.NewSecret(liplatform.ReplicaClientID),
			ClientSecret: auth.NewSecret(liplatform.ReplicaClientSecret),
			RefreshToken: auth.NewSecret(liplatform.ReplicaRefreshToken),
		},
		Settings: platformconn.Settings{Endpoint: r.ts.URL, RequestsPerSecond: 1000},
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

// members returns the identifiers segment id holds, sorted.
func (r *replica) members(id string) []string {
	got := r.li.Members(id)
	if got == nil {
		got = []string{}
	}
	return got
}

// segmentOf returns the id of the one segment the runs made.
func (r *replica) segmentOf(t *testing.T) string {
	t.Helper()
	st := r.li.State(false)
	require.Len(t, st, 1)
	return st[0].ID
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// crmMember is the i'th synthetic CRM record, generation gen: a new
// generation changes the e-mail address of every third member; every
// fourth has an Android advertising id.
func crmMember(i, gen int) audience.Member {
	var m audience.Member
	m.Key = fmt.Sprintf("C%06d", i)
	email := fmt.Sprintf("Member.%06d@Example.com", i)
	if gen > 0 && i%3 == 0 {
		email = fmt.Sprintf("member.%06d.g%d@example.com", i, gen)
	}
	m.Fields[audience.Email] = email
	if i%4 == 0 {
		m.Fields[audience.MobileID] = fmt.Sprintf("6D92078A-8246-4BA4-AE5B-%012d", i)
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
var mappedKinds = map[audience.Kind]string{audience.Email: "email", audience.MobileID: "gaid"}

// want is what the replica must hold for ms: every identifier the
// linkedin profile makes of them, as the replica writes it.
func want(t testing.TB, ms []audience.Member) []string {
	t.Helper()
	prof, err := platformbuiltin.Profile(liplatform.Name)
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
			if k == audience.MobileID {
				v = "GOOGLE_AID:" + v
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
}

func newSyncer(t testing.TB, d *Destination) *syncer {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &syncer{t: t, dest: d, eng: &engine.Engine{
		Store: st,
		Retry: engine.RetryPolicy{Attempts: 6, Initial: time.Millisecond, Max: 10 * time.Millisecond},
	}}
}

func (s *syncer) job(src connectors.Source) *engine.Job {
	prof, err := platformbuiltin.Profile(liplatform.Name)
	require.NoError(s.t, err)
	return &engine.Job{
		Sync:              "linkedin-sync",
		Source:            src,
		Request:           connectors.ReadRequest{Key: "id", Fields: mappedKinds},
		DefaultRegion:     "US",
		MaxRemoveFraction: 0.5,
		Targets: []*engine.Target{{
			Name: "linkedin", Type: Type, Dest: s.dest, Info: s.dest.Info(), Profile: prof,
			Audience:       connectors.AudienceSpec{Name: "Cart abandoners", Create: true},
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
