package mailchimp

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Mailchimp's subscriber hash
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/engine"
	mcplatform "github.com/audiencesync/audiencesync/platform/mailchimp"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	mcreplica "github.com/audiencesync/audiencesync/sandbox/mailchimp"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// bodies records every request body the replica received, to prove what
// was and was not sent.
type bodies struct {
	mu    sync.Mutex
	calls []string // METHOD PATH BODY
	max   int      // most requests in flight seen
	now   int
}

func (b *bodies) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		b.mu.Lock()
		b.calls = append(b.calls, r.Method+" "+r.URL.Path+" "+string(body))
		b.now++
		b.max = max(b.max, b.now)
		b.mu.Unlock()
		next.ServeHTTP(w, r)
		b.mu.Lock()
		b.now--
		b.mu.Unlock()
	})
}

func (b *bodies) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

type replica struct {
	mc     *mcreplica.Server
	ts     *httptest.Server
	rec    *bodies
	faults *fault.Injector
}

func newReplica(t testing.TB, faults string) *replica {
	t.Helper()
	in := fault.MustParse(faults)
	srv := sandbox.New(sandbox.Options{Faults: in})
	rec := &bodies{}
	ts := httptest.NewServer(rec.wrap(srv))
	t.Cleanup(ts.Close)
	return &replica{mc: sandbox.ReplicaOf[*mcreplica.Server](srv), ts: ts, rec: rec, faults: in}
}

func (r *replica) dest(t testing.TB, mod func(*Settings)) *Destination {
	t.Helper()
	s := &Settings{Settings: platformconn.Settings{Sandbox: true, Endpoint: r.ts.URL, Concurrency: 10}}
	if mod != nil {
		mod(s)
	}
	d, err := New(s, connectors.Env{Now: time.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s)) //nolint:gosec // Mailchimp's id
	return hex.EncodeToString(sum[:])
}

// shopper is the i'th synthetic CRM record, generation gen: a new
// generation renames every fifth member and changes every seventh's
// address; every sixth denies consent in generation 2.
func shopper(i, gen int) audience.Member {
	var m audience.Member
	m.Key = fmt.Sprintf("C%06d", i)
	m.Fields[audience.Email] = fmt.Sprintf("  Shopper.%06d@Example.COM ", i)
	if gen > 0 && i%7 == 0 {
		m.Fields[audience.Email] = fmt.Sprintf("shopper.%06d.g%d@example.com", i, gen)
	}
	m.Fields[audience.FirstName] = fmt.Sprintf("Zoë-%d", i)
	if gen > 0 && i%5 == 0 {
		m.Fields[audience.FirstName] = fmt.Sprintf("O'Neil-%d", i)
	}
	m.Fields[audience.LastName] = "Weber"
	if gen == 2 && i%6 == 0 {
		m.Consent.AdUserData = audience.ConsentDenied
	}
	return m
}

func shoppers(from, to, gen int) []audience.Member {
	var out []audience.Member
	for i := from; i < to; i++ {
		out = append(out, shopper(i, gen))
	}
	return out
}

// want is the subscriber hashes the tag must hold for ms: the lower-cased,
// trimmed address's MD5, of every member whose consent is not denied.
func want(ms []audience.Member) []string {
	var out []string
	for _, m := range ms {
		if m.Consent.Denied() {
			continue
		}
		out = append(out, md5hex(strings.ToLower(strings.TrimSpace(m.Fields[audience.Email]))))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type syncer struct {
	t    testing.TB
	eng  *engine.Engine
	dest *Destination
	db   string
}

func newSyncer(t testing.TB, d *Destination) *syncer {
	t.Helper()
	db := filepath.Join(t.TempDir(), "state.db")
	st, err := sqlite.Open(context.Background(), db)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &syncer{t: t, dest: d, db: db, eng: &engine.Engine{
		Store: st,
		Retry: engine.RetryPolicy{Attempts: 6, Initial: time.Millisecond, Max: 10 * time.Millisecond},
	}}
}

func (s *syncer) run(ms []audience.Member, opts engine.Options) (*report.Destination, error) {
	s.t.Helper()
	job := &engine.Job{
		Sync:   "mailchimp-sync",
		Source: &fake.Source{Members: ms},
		Request: connectors.ReadRequest{Key: "id", Fields: map[audience.Kind]string{
			audience.Email: "email", audience.FirstName: "first_name", audience.LastName: "last_name"}},
		MaxRemoveFraction: 0.5,
	}
	require.NoError(s.t, job.AddDestination(engine.Target{
		Name: "mailchimp", Type: Type, Dest: &unclosed{s.dest},
		Audience: connectors.AudienceSpec{List: mcplatform.ReplicaListID, Tag: "cart-abandoner", Create: true},
	}))
	rep, err := s.eng.Run(context.Background(), job, opts)
	require.NotNil(s.t, rep)
	require.Len(s.t, rep.Destinations, 1)
	require.NoError(s.t, rep.CheckCounts())
	return rep.Destinations[0], err
}

// unclosed keeps the job from closing the test's destination between runs.
type unclosed struct{ *Destination }

func (u *unclosed) Close() error { return nil }

func (r *replica) tagged(t testing.TB) []string {
	t.Helper()
	st := r.mc.State(true)
	require.Len(t, st, 1)
	for _, tg := range st[0].Tags {
		if tg.Name == "cart-abandoner" {
			return append([]string{}, tg.Members...)
		}
	}
	return []string{}
}

// The tagged contacts equal the segment after adds, removes, renames,
// address changes, consent flips and a full refresh; unsubscribed and
// cleaned contacts keep their status throughout; no one is subscribed.
func TestSyncExact(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "")
	d := r.dest(t, nil)
	s := newSyncer(t, d)
	// The adds are spilled to the plan's temporary file: the addresses
	// travel through it sealed and come back whole.
	s.eng.SpillAfter = 100
	// Two contacts left the shop's e-mails before the first sync.
	require.NoError(t, r.mc.SetStatus(mcplatform.ReplicaListID, "shopper.000003@example.com", "unsubscribed"))
	require.NoError(t, r.mc.SetStatus(mcplatform.ReplicaListID, "shopper.000004@example.com", "cleaned"))

	first := shoppers(0, 1200, 0)
	rep, err := s.run(first, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, int64(1200), rep.Applied.Added)
	require.Equal(t, 3, rep.Batches, "1,200 members in batches of 500")
	require.Equal(t, want(first), r.tagged(t))
	// The lower-casing is what makes the ids match: Mailchimp's own.
	m, ok := r.mc.Member(mcplatform.ReplicaListID, md5hex("shopper.000001@example.com"))
	require.True(t, ok, "keyed by the MD5 of the lower-cased address")
	require.Equal(t, "transactional", m.Status)
	require.Equal(t, mcreplica.ValueDigest("Zoë-1"), m.Merge["FNAME"], "merge fields sent as written")

	second := shoppers(100, 1300, 1)
	rep, err = s.run(second, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, int64(100), rep.Applied.Removed)
	require.Equal(t, int64(100), rep.Applied.Added)
	require.Positive(t, rep.Applied.Updated, "renamed and re-addressed members are sent again")
	require.Equal(t, want(second), r.tagged(t))
	m, _ = r.mc.Member(mcplatform.ReplicaListID, md5hex("shopper.000110@example.com"))
	require.Equal(t, mcreplica.ValueDigest("O'Neil-110"), m.Merge["FNAME"], "a changed merge field reached Mailchimp")

	// Consent flips: every sixth now denies, and is untagged.
	third := shoppers(100, 1300, 2)
	rep, err = s.run(third, engine.Options{Force: true})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, want(third), r.tagged(t))

	// Unchanged: nothing is sent.
	before := len(r.rec.all())
	rep, err = s.run(third, engine.Options{})
	require.NoError(t, err)
	require.Zero(t, rep.Planned.Add+rep.Planned.Remove+rep.Planned.Update)
	require.Equal(t, before+2, len(r.rec.all()), "only the list and its tags are read")

	rep, err = s.run(third, engine.Options{FullRefresh: true, Force: true})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, want(third), r.tagged(t))

	for _, c := range []struct{ email, status string }{
		{"shopper.000003@example.com", "unsubscribed"}, {"shopper.000004@example.com", "cleaned"},
	} {
		m, ok := r.mc.Member(mcplatform.ReplicaListID, md5hex(c.email))
		require.True(t, ok)
		require.Equal(t, c.status, m.Status, "%s keeps its status", c.email)
	}
	for _, ls := range r.mc.State(true) {
		for _, m := range ls.Members {
			require.NotEqual(t, "subscribed", m.Status, "no one is subscribed by a sync")
		}
	}
	for _, c := range r.rec.all() {
		require.NotContains(t, c, `"status":"subscribed"`)
		if strings.HasPrefix(c, "PUT ") {
			require.NotContains(t, c, `"status":`, "an upsert sends status_if_new only")
		}
	}
	require.LessOrEqual(t, r.rec.max, MaxConcurrency)

	// State holds no address and no name (the database and its WAL).
	files, err := filepath.Glob(s.db + "*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var db []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		db = append(db, b...)
	}
	lower := strings.ToLower(string(db))
	for _, m := range first[:50] {
		require.NotContains(t, lower, strings.ToLower(strings.TrimSpace(m.Fields[audience.Email])))
		require.NotContains(t, string(db), m.Fields[audience.FirstName])
	}
}

// Per-member errors are reported by reason, and the rest is applied.
func TestPerMemberErrors(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "")
	r.mc.Block("shopper.000002@example.com")
	s := newSyncer(t, r.dest(t, nil))
	ms := shoppers(0, 10, 0)
	ms[5].Fields[audience.Email] = "shopper@localhost"
	rep, err := s.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(8), rep.Applied.Added)
	require.Equal(t, int64(2), rep.Applied.Failed)
	require.NotContains(t, strings.Join(rep.Errors, "\n"), "@", "no address in the report's errors")
	require.Equal(t, map[string]int64{ReasonInvalidEmail: 1, ReasonCompliance: 1}, rep.PlatformRejected, "refused members by reason")
	require.Len(t, r.tagged(t), 8)
}

// 429 and 5xx answers are retried through the one retry policy and the
// tag still ends exact.
func TestSyncRetriesFaults(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "mailchimp.batch:429*1,mailchimp.segments:503*2,mailchimp.tags:500*1")
	core, logs := observer.New(zap.DebugLevel)
	d := r.dest(t, nil)
	d.log = zap.New(core)
	s := newSyncer(t, d)
	s.eng.Logger = zap.New(core)
	t.Cleanup(func() {
		require.Positive(t, logs.Len())
		for _, e := range logs.All() {
			line := e.Message
			for _, f := range e.Context {
				line += " " + f.String + fmt.Sprint(f.Interface)
			}
			require.NotContains(t, line, "@", "no address in a log line")
		}
	})
	ms := shoppers(0, 600, 0)
	rep, err := s.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Positive(t, rep.Retries)
	require.Equal(t, want(ms), r.tagged(t))
	rep, err = s.run(ms[100:], engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, want(ms[100:]), r.tagged(t))
}

// Removals are one request per member: a member whose untag request fails
// after its retries fails alone (counted by reason, left in state), the
// others are committed, and the next run removes the rest.
func TestUntagFailsOnlyTheUnansweredMembers(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "")
	d := r.dest(t, nil)
	// Back-off in milliseconds: the budget's retries are what is tested.
	d.http = d.conn.HTTP(platformhttp.Options{MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond,
		Transport: platformconn.Wire(d.concurrency + 2)})
	s := newSyncer(t, d)
	ms := shoppers(0, 150, 0)
	rep, err := s.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)

	require.NoError(t, r.faults.Load("mailchimp.tags:503@0.6"))
	rep, _ = s.run(ms[50:], engine.Options{})
	failed := rep.PlatformRejected[ReasonUnanswered]
	require.Positive(t, failed, "some untag requests fail: %v", rep.PlatformRejected)
	require.Less(t, failed, int64(50), "and not all")
	require.Equal(t, 50-failed, rep.Applied.Removed)
	tagged := r.tagged(t)
	require.Len(t, tagged, 100+int(failed), "the answered removals are done, the others still tagged")
	require.Subset(t, tagged, want(ms[50:]))

	require.NoError(t, r.faults.Load(""))
	rep, err = s.run(ms[50:], engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, failed, rep.Applied.Removed, "the next run removes exactly the members left")
	require.Equal(t, want(ms[50:]), r.tagged(t))

	// Adding back contacts the list still holds updates each one's merge
	// fields with a request of its own: the same holds there.
	require.NoError(t, r.faults.Load("mailchimp.members:503@0.6"))
	rep, _ = s.run(ms, engine.Options{})
	failed = rep.PlatformRejected[ReasonUnanswered]
	require.Positive(t, failed, "some updates fail: %v", rep.PlatformRejected)
	require.Less(t, failed, int64(50), "and not all")
	require.Equal(t, 50-failed, rep.Applied.Added)
	require.Len(t, r.tagged(t), 150-int(failed))
	require.NoError(t, r.faults.Load(""))
	rep, err = s.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, failed, rep.Applied.Added)
	require.Equal(t, want(ms), r.tagged(t))
}

func TestSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		s    Settings
		want string
	}{
		{"no key", Settings{}, "api_key is required"},
		{"subscribed refused", Settings{Settings: platformconn.Settings{Sandbox: true}, StatusIfNew: "subscribed"}, "never subscribes"},
		{"unknown kind", Settings{Settings: platformconn.Settings{Sandbox: true}, MergeFields: map[string]string{"ZIP": "zip"}}, "cannot fill a merge field"},
		{"bad tag", Settings{Settings: platformconn.Settings{Sandbox: true}, MergeFields: map[string]string{"fname": "first_name"}}, "not a merge tag"},
		{"eleven connections", Settings{Settings: platformconn.Settings{Sandbox: true, Concurrency: 11}}, "concurrency 11"},
		{"sandbox", Settings{Settings: platformconn.Settings{Sandbox: true}}, ""},
	} {
		err := c.s.Validate()
		if c.want == "" {
			require.NoError(t, err, c.name)
			continue
		}
		require.ErrorContains(t, err, c.want, c.name)
	}
	for key, dc := range map[string]string{"0123abcd-us21": "us21", "abc-us1": "us1", "nodc": "", "abc-": ""} {
		require.Equal(t, dc, dataCenter(key), key)
	}
	// The data centre decides the host; a key without one is refused.
	d, err := New(&Settings{APIKey: auth.NewSecret("0123456789abcdef-us21")}, connectors.Env{})
	require.NoError(t, err)
	base, err := d.baseURL(t.Context())
	require.NoError(t, err)
	require.Equal(t, "https://us21.api.mailchimp.com/3.0", base)
	_, err = New(&Settings{APIKey: auth.NewSecret("0123456789abcdef")}, connectors.Env{})
	require.ErrorContains(t, err, "does not end in a data centre")
	d, err = New(&Settings{Settings: platformconn.Settings{Sandbox: true}}, connectors.Env{
		Endpoint: func(context.Context, string) (string, error) { return "http://127.0.0.1:9/", nil }})
	require.NoError(t, err)
	base, err = d.baseURL(t.Context())
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:9/3.0", base, "sandbox: true resolves to the replica")
}

// batchSizes is how many members each batch request carried.
func (b *bodies) batchSizes() []int {
	var out []int
	for _, c := range b.all() {
		if strings.HasPrefix(c, "POST /3.0/lists/"+mcplatform.ReplicaListID+" ") {
			out = append(out, strings.Count(c, `"email_address"`))
		}
	}
	return out
}

// A sync attribute mapped to a merge field is sent with the member as
// text, and a changed value sends the member again.
func TestMergeAttributes(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "")
	d := r.dest(t, func(s *Settings) { s.MergeAttributes = map[string]string{"CARTVAL": "cart_value"} })
	require.Equal(t, []string{"cart_value"}, d.Info().Attributes)
	s := newSyncer(t, d)
	members := func(value float64) []audience.Member {
		ms := shoppers(0, 20, 0)
		for i := range ms {
			ms[i].Attrs = []audience.Value{audience.NumberValue(value + float64(i))}
		}
		ms[3].Attrs = []audience.Value{{}} // missing: no merge field
		return ms
	}
	run := func(ms []audience.Member) *report.Destination {
		job := &engine.Job{
			Sync: "mailchimp-sync", Source: &fake.Source{Members: ms},
			Request: connectors.ReadRequest{Key: "id", Fields: map[audience.Kind]string{audience.Email: "email"},
				Attributes: []connectors.Attribute{{Name: "visits", Type: audience.AttrNumber}, {Name: "cart_value", Type: audience.AttrNumber}}},
			MaxRemoveFraction: 0.5,
		}
		for i := range ms {
			ms[i].Attrs = append([]audience.Value{audience.NumberValue(7)}, ms[i].Attrs...)
		}
		require.NoError(t, job.AddDestination(engine.Target{Name: "mailchimp", Type: Type, Dest: &unclosed{d},
			Audience: connectors.AudienceSpec{List: mcplatform.ReplicaListID, Tag: "cart-abandoner", Create: true}}))
		rep, err := s.eng.Run(context.Background(), job, engine.Options{})
		require.NoError(t, err)
		require.NoError(t, rep.CheckCounts())
		return rep.Destinations[0]
	}
	merge := func(i int) string {
		m, ok := r.mc.Member(mcplatform.ReplicaListID, md5hex(fmt.Sprintf("shopper.%06d@example.com", i)))
		require.True(t, ok)
		return m.Merge["CARTVAL"]
	}
	rep := run(members(33.07))
	require.Equal(t, int64(20), rep.Applied.Added)
	require.Equal(t, mcreplica.ValueDigest("34.07"), merge(1))
	require.Empty(t, merge(3), "a missing value sends no merge field")
	rep = run(members(33.07))
	require.Zero(t, rep.Planned.Add+rep.Planned.Update, "unchanged values: nothing sent")
	rep = run(members(40))
	require.Equal(t, report.Planned{Update: 19, Unchanged: 1}, rep.Planned, "every changed value re-sends its member; the missing one is unchanged")
	require.Equal(t, mcreplica.ValueDigest("41"), merge(1))
	require.Equal(t, want(members(40)), r.tagged(t))

	// A sync whose source does not read the attribute is refused.
	job := &engine.Job{Sync: "x", Source: &fake.Source{}, Request: connectors.ReadRequest{Fields: map[audience.Kind]string{audience.Email: "email"}}}
	err := job.AddDestination(engine.Target{Name: "mailchimp", Type: Type, Dest: &unclosed{d}})
	require.ErrorContains(t, err, "is sent attribute cart_value, which the source does not read")
}
