package googleads_test

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
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	datamanager "google.golang.org/api/datamanager/v1"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/connectors/googleads"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

const account = "1234567890"

// remote is a sandbox served on loopback, with a record of the member
// requests it received.
type remote struct {
	srv *sandbox.Server
	url string

	mu       sync.Mutex
	sizes    []int                                      // members per ingest or remove request
	ingests  []datamanager.IngestAudienceMembersRequest // decoded ingest bodies
	requests int
	// intercept, when set, may answer a request itself (return true).
	intercept func(w http.ResponseWriter, r *http.Request, body []byte) bool
}

func newRemote(t testing.TB, opts sandbox.Options) *remote {
	t.Helper()
	rm := &remote{srv: sandbox.New(opts)}
	ts := httptest.NewServer(http.HandlerFunc(rm.serve))
	t.Cleanup(ts.Close)
	rm.url = ts.URL
	return rm
}

func (rm *remote) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rm.mu.Lock()
	rm.requests++
	intercept := rm.intercept
	if strings.HasSuffix(r.URL.Path, ":ingest") || strings.HasSuffix(r.URL.Path, ":remove") {
		var req datamanager.IngestAudienceMembersRequest
		if json.Unmarshal(body, &req) == nil {
			rm.sizes = append(rm.sizes, len(req.AudienceMembers))
			if strings.HasSuffix(r.URL.Path, ":ingest") && len(req.AudienceMembers) <= 1000 {
				rm.ingests = append(rm.ingests, req)
			}
		}
	}
	rm.mu.Unlock()
	if intercept != nil && intercept(w, r, body) {
		return
	}
	rm.srv.ServeHTTP(w, r)
}

func (rm *remote) setIntercept(f func(w http.ResponseWriter, r *http.Request, body []byte) bool) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.intercept = f
}

func (rm *remote) requestSizes() []int {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return slices.Clone(rm.sizes)
}

func (rm *remote) ingested() []datamanager.IngestAudienceMembersRequest {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return slices.Clone(rm.ingests)
}

func (rm *remote) faults(t testing.TB, spec string) {
	t.Helper()
	require.NoError(t, rm.srv.SetFaults(spec))
}

// members returns what the sandbox list holds, keyed as the conformance
// suite keys members: an address is one member of four values.
func (rm *remote) members(listID string) map[string]bool {
	out := map[string]bool{}
	for _, v := range rm.srv.Members("google", listID) {
		if a, ok := strings.CutPrefix(v, "address:"); ok {
			out[connectortest.Identity(strings.Split(a, "|")...)] = true
		} else {
			out[connectortest.Identity(v)] = true
		}
	}
	return out
}

// settings are sandbox settings with fast retries.
func settings() *googleads.Settings {
	return &googleads.Settings{
		OperatingAccount: "123-456-7890",
		Settings:         platformconn.Settings{Sandbox: true, RequestsPerSecond: 1000},
		MaxAttempts:      5,
		MinRetryWait:     time.Millisecond,
		MaxRetryWait:     5 * time.Millisecond,
	}
}

// env points the sandbox at rm and logs to an observer.
func env(rm *remote) (connectors.Env, *observer.ObservedLogs) {
	core, logs := observer.New(zap.DebugLevel)
	return connectors.Env{
		Logger:   zap.New(core),
		Endpoint: func(context.Context, string) (string, error) { return rm.url, nil },
	}, logs
}

func newDest(t testing.TB, rm *remote, s *googleads.Settings) (*googleads.Destination, *observer.ObservedLogs) {
	t.Helper()
	e, logs := env(rm)
	d, err := googleads.New(s, e)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d, logs
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// upload is the i'th synthetic member: by turns an e-mail address, a phone
// number or an address, so each carries one match key the sandbox stores
// as one entry.
func upload(i int) connectors.Upload {
	u := connectors.Upload{
		Key:     audience.KeyFromSource(fmt.Sprintf("c-%06d", i)),
		Consent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
	}
	switch i % 3 {
	case 0:
		u.Identifiers = []audience.Identifier{{Kind: audience.Email, Value: sha(fmt.Sprintf("user%06d@example.com", i)), Hashed: true}}
	case 1:
		u.Identifiers = []audience.Identifier{{Kind: audience.Phone, Value: sha(fmt.Sprintf("+1555%07d", i)), Hashed: true}}
	default:
		u.Identifiers = []audience.Identifier{
			{Kind: audience.FirstName, Value: sha(fmt.Sprintf("first%d", i)), Hashed: true},
			{Kind: audience.LastName, Value: sha("example"), Hashed: true},
			{Kind: audience.Zip, Value: fmt.Sprintf("%05d", i%100000)},
			{Kind: audience.Country, Value: "US"},
		}
	}
	return u
}

// syncer runs the engine against one destination with a real SQLite
// state and a settable clock.
type syncer struct {
	t     *testing.T
	store *sqlite.Store
	eng   *engine.Engine
	dest  connectors.Destination
	now   time.Time
	spec  connectors.AudienceSpec
	def   audience.Consent
	batch int
}

func newSyncer(t *testing.T, d connectors.Destination) *syncer {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	s := &syncer{
		t: t, store: st, dest: d,
		now:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		spec: connectors.AudienceSpec{Name: "Cart abandoners", Create: true},
		def:  audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
	}
	s.eng = &engine.Engine{
		Store: st,
		Now:   func() time.Time { return s.now },
		// Eight attempts a batch, HTTP and engine retries together: more
		// than the client's five a request, so the engine's retry is exercised.
		Retry: engine.RetryPolicy{Attempts: 8, Initial: time.Millisecond, Max: 5 * time.Millisecond},
	}
	return s
}

func (s *syncer) job(ms []audience.Member) *engine.Job {
	prof, err := platformbuiltin.Profile("google")
	require.NoError(s.t, err)
	return &engine.Job{
		Sync:   "cart",
		Source: &fake.Source{Members: ms},
		Request: connectors.ReadRequest{Key: "id", Fields: map[audience.Kind]string{
			audience.Email: "email", audience.Phone: "phone", audience.FirstName: "first_name",
			audience.LastName: "last_name", audience.Zip: "zip", audience.Country: "country"}},
		DefaultRegion:     "US",
		MaxRemoveFraction: 1,
		AllowEmpty:        true,
		Targets: []*engine.Target{{
			Name: "google", Type: googleads.Type, Dest: s.dest, Info: s.dest.Info(), Profile: prof,
			Audience:       s.spec,
			DefaultConsent: s.def,
			RefreshMargin:  30 * 24 * time.Hour,
			BatchSize:      s.batch,
		}},
	}
}

func (s *syncer) run(ms []audience.Member, opts engine.Options) (*report.Report, error) {
	s.t.Helper()
	rep, err := s.eng.Run(context.Background(), s.job(ms), opts)
	require.NoError(s.t, rep.CheckCounts(), "planned = applied + failed + not attempted, however the run ended")
	return rep, err
}

func (s *syncer) mustRun(ms []audience.Member, opts engine.Options) *report.Destination {
	s.t.Helper()
	rep, err := s.run(ms, opts)
	require.NoError(s.t, err, "report errors: %v", rep.Destinations[0].Errors)
	require.Equal(s.t, report.StatusSucceeded, rep.Status)
	return rep.Destinations[0]
}

func (s *syncer) audienceID() string {
	id, err := s.store.AudienceID(context.Background(), state.Scope{Sync: "cart", Destination: "google"})
	require.NoError(s.t, err)
	return id
}

func (s *syncer) committed() int64 {
	n, err := s.store.Count(context.Background(), state.Scope{Sync: "cart", Destination: "google"})
	require.NoError(s.t, err)
	return n
}

// contacts makes members from..to-1 with an e-mail address, a phone
// number and an address each.
func contacts(from, to int) []audience.Member {
	var out []audience.Member
	for i := from; i < to; i++ {
		var m audience.Member
		m.Key = fmt.Sprintf("C%05d", i)
		m.Fields[audience.Email] = fmt.Sprintf("Member.%05d@Example.com", i)
		m.Fields[audience.Phone] = fmt.Sprintf("(202) 555-%04d", i%10000)
		m.Fields[audience.FirstName] = fmt.Sprintf("First%d", i)
		m.Fields[audience.LastName] = "Example"
		m.Fields[audience.Zip] = fmt.Sprintf("%05d", 10000+i)
		m.Fields[audience.Country] = "US"
		out = append(out, m)
	}
	return out
}

// expected is what the list must hold for ms, in the sandbox's terms:
// every identifier of every member whose consent is not denied.
func expected(t *testing.T, ms []audience.Member, def audience.Consent) []string {
	t.Helper()
	prof, err := platformbuiltin.Profile("google")
	require.NoError(t, err)
	set := map[string]bool{}
	for i := range ms {
		if ms[i].Consent.Or(def).Denied() {
			continue
		}
		var tally normalize.Tally
		ids, ok := prof.Member(&ms[i], normalize.Options{DefaultRegion: "US"}, nil, &tally)
		require.True(t, ok)
		var addr [audience.NumKinds]string
		for _, id := range ids {
			switch id.Kind {
			case audience.Email, audience.Phone:
				set[id.Value] = true
			default:
				addr[id.Kind] = id.Value
			}
		}
		if addr[audience.Zip] != "" {
			set["address:"+addr[audience.FirstName]+"|"+addr[audience.LastName]+"|"+addr[audience.Country]+"|"+addr[audience.Zip]] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// requireExact checks the remote list against ms.
func requireExact(t *testing.T, rm *remote, s *syncer, ms []audience.Member) {
	t.Helper()
	want := expected(t, ms, s.def)
	got := rm.srv.Members("google", s.audienceID())
	if got == nil {
		got = []string{}
	}
	require.Equal(t, want, got, "the user list must hold exactly the expected identifiers")
}
