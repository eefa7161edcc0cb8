package meta_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/connectors/meta"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

const audienceName = "Synced audience"

// syncBundle runs the engine against the sandbox with a real SQLite store.
type syncBundle struct {
	*bundle
	dest *meta.Destination
	eng  *engine.Engine
	// batch caps the engine's batches so small audiences still take
	// several requests.
	batch int
}

func newSync(t *testing.T, faults string, mods ...func(*meta.Settings)) *syncBundle {
	t.Helper()
	return newSyncRows(t, faults, meta.MaxRows, mods...)
}

// newSyncRows is newSync with at most rows rows a request.
func newSyncRows(t *testing.T, faults string, rows int, mods ...func(*meta.Settings)) *syncBundle {
	t.Helper()
	b := setup(t, faults)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &syncBundle{
		bundle: b,
		dest:   b.destRows(rows, mods...),
		eng: &engine.Engine{Store: st, Logger: b.log,
			Retry: engine.RetryPolicy{Attempts: 6, Initial: time.Millisecond, Max: 5 * time.Millisecond}},
		batch: 500,
	}
}

var syncFields = map[audience.Kind]string{
	audience.Email: "email", audience.Phone: "phone", audience.FirstName: "first_name",
	audience.LastName: "last_name", audience.Zip: "zip", audience.Country: "country",
}

func (s *syncBundle) run(ms []audience.Member, opts engine.Options) (*report.Report, error) {
	s.t.Helper()
	prof, err := platformbuiltin.Profile("meta")
	require.NoError(s.t, err)
	job := &engine.Job{
		Sync:              "meta-sync",
		Source:            &fake.Source{Members: ms},
		Request:           connectors.ReadRequest{Key: "id", Fields: syncFields},
		DefaultRegion:     "US",
		MaxRemoveFraction: 0.5,
		Targets: []*engine.Target{{
			Name: "meta", Type: meta.Type, Dest: s.dest, Info: s.dest.Info(), Profile: prof,
			Audience:       connectors.AudienceSpec{Name: audienceName, Create: true},
			DefaultConsent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
			BatchSize:      s.batch,
		}},
	}
	rep, err := s.eng.Run(context.Background(), job, opts)
	require.NoError(s.t, rep.CheckCounts(), "planned = applied + failed + not attempted, however the run ended")
	return rep, err
}

// member is the i'th CRM contact; variant changes its e-mail address.
func member(i, variant int) audience.Member {
	var m audience.Member
	m.Key = fmt.Sprintf("C%06d", i)
	m.Fields[audience.Email] = fmt.Sprintf("Member.%06d.v%d@Example.com", i, variant)
	m.Fields[audience.Phone] = fmt.Sprintf("(202) 555-%04d", i%10000)
	m.Fields[audience.FirstName] = []string{"Ada", "José", "Zoë"}[i%3]
	m.Fields[audience.LastName] = fmt.Sprintf("Last%d", i%97)
	m.Fields[audience.Zip] = fmt.Sprintf("%05d", 10000+i%8999)
	m.Fields[audience.Country] = "US"
	return m
}

func members(from, to int) []audience.Member {
	out := make([]audience.Member, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, member(i, 0))
	}
	return out
}

// expected is what the replica must hold for ms: the hashes of every
// e-mail address and phone number (rows with those keys are stored by
// them; the attributes travel along).
func expected(t *testing.T, ms []audience.Member) []string {
	t.Helper()
	prof, err := platformbuiltin.Profile("meta")
	require.NoError(t, err)
	set := map[string]bool{}
	for _, m := range ms {
		for _, k := range []audience.Kind{audience.Email, audience.Phone} {
			got, reason := prof.Value(k, m.Fields[k], normalize.Options{DefaultRegion: "US"})
			require.Empty(t, reason)
			set[got.Value] = true
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// requireAudience checks the replica holds exactly ms.
func (s *syncBundle) requireAudience(ms []audience.Member) {
	s.t.Helper()
	got := s.sb.Members("meta", s.audienceID(audienceName))
	want := expected(s.t, ms)
	if !slices.Equal(got, want) {
		missing, extra := 0, 0
		for _, v := range want {
			if _, ok := slices.BinarySearch(got, v); !ok {
				missing++
			}
		}
		for _, v := range got {
			if _, ok := slices.BinarySearch(want, v); !ok {
				extra++
			}
		}
		s.t.Fatalf("the audience holds %d identifiers, want %d: %d missing, %d unexpected", len(got), len(want), missing, extra)
	}
}

func TestSyncAddUpdateRemove(t *testing.T) {
	t.Parallel()
	s := newSync(t, "")

	first := members(0, 1200)
	rep, err := s.run(first, engine.Options{})
	require.NoError(t, err)
	d := rep.Destinations[0]
	require.Equal(t, report.StatusSucceeded, d.Status)
	require.EqualValues(t, 1200, d.Applied.Added)
	require.Equal(t, 3, d.Batches)
	s.requireAudience(first)
	require.NotNil(t, d.Platform)
	require.EqualValues(t, 1200, d.Platform.Counts["num_received"])
	require.EqualValues(t, 0, d.Platform.Counts["num_invalid_entries"])
	require.EqualValues(t, 1200, d.Platform.Size, "the replica counts people: a row of an e-mail and a phone is one")
	for _, r := range s.calls("users") {
		require.Equal(t, "POST", r.method)
		require.Empty(t, r.params.Get("method"), "adds are plain POSTs")
		require.Equal(t, []string{"EMAIL", "PHONE", "FN", "LN", "FI", "ZIP", "COUNTRY"}, payloadOf(t, r).Schema)
		require.Empty(t, r.params.Get("session"), "users calls need no session")
	}

	// Second run: 100 gone, 50 with a new e-mail address, 100 new.
	second := members(100, 1300)
	for i := range 50 {
		second[i] = member(100+i, 1)
	}
	before := len(s.calls("users"))
	rep, err = s.run(second, engine.Options{})
	require.NoError(t, err)
	d = rep.Destinations[0]
	require.Equal(t, report.StatusSucceeded, d.Status)
	require.EqualValues(t, 100, d.Applied.Added)
	require.EqualValues(t, 100, d.Applied.Removed)
	require.EqualValues(t, 50, d.Applied.Updated)
	s.requireAudience(second)

	var deletes, adds int
	for _, r := range s.calls("users")[before:] {
		switch r.params.Get("method") {
		case "DELETE":
			deletes++
		case "":
			adds++
		default:
			t.Fatalf("unexpected method override %q", r.params.Get("method"))
		}
	}
	require.Equal(t, 1, deletes, "100 removals and 50 old addresses fit in one DELETE")
	require.Equal(t, 1, adds)

	// A third run with nothing changed sends nothing.
	before = len(s.calls("users"))
	rep, err = s.run(second, engine.Options{})
	require.NoError(t, err)
	require.EqualValues(t, 1200, rep.Destinations[0].Planned.Unchanged)
	require.Equal(t, before, len(s.calls("users")))
}

func TestSyncFullRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults string
		// seqs is the batch_seq of every usersreplace request, in order.
		seqs []int
	}{
		{name: "clean", seqs: []int{1, 2, 3}},
		{name: "retried in the client", faults: "meta.usersreplace:ok*1,meta.usersreplace:500*2", seqs: []int{1, 2, 2, 2, 3}},
		// The client gives up after 5 throttled attempts; the engine's
		// retry resumes the same session at the unacknowledged batch.
		{name: "resumed after the client gave up", faults: "meta.usersreplace:ok*1,meta.usersreplace:613*5",
			seqs: []int{1, 2, 2, 2, 2, 2, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const rows = 1000 // requests of 1,000 rows keep the audience small
			s := newSyncRows(t, tt.faults, rows)
			s.batch = 0
			first := members(0, 1000)
			_, err := s.run(first, engine.Options{})
			require.NoError(t, err)
			// Something on the platform that state does not know about:
			// a replace must drop it.
			stray := connectors.Upload{Identifiers: []audience.Identifier{id(audience.Email, sha("stray@example.com"))}}
			_, err = s.dest.Apply(t.Context(), connectors.Audience{ID: s.audienceID(audienceName)},
				connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{stray}})
			require.NoError(t, err)

			all := members(500, 500+2*rows+500)
			usersBefore := len(s.calls("users"))
			rep, err := s.run(all, engine.Options{FullRefresh: true, Force: true})
			require.NoError(t, err)
			d := rep.Destinations[0]
			require.Equal(t, report.StatusSucceeded, d.Status)
			s.requireAudience(all)
			require.Equal(t, usersBefore, len(s.calls("users")), "no users calls during a replace")
			require.EqualValues(t, len(all), d.Platform.Counts["num_received"])

			calls := s.calls("usersreplace")
			var seqs []int
			first0 := sessionOf(t, calls[0])
			for i, r := range calls {
				sess := sessionOf(t, r)
				seqs = append(seqs, sess.BatchSeq)
				require.Equal(t, first0.SessionID, sess.SessionID, "one session")
				require.Equal(t, len(all), sess.EstimatedNumTotal)
				require.Equal(t, i == len(calls)-1, sess.LastBatchFlag, "last_batch_flag on the last batch only")
				require.LessOrEqual(t, rowCount(t, r), rows)
			}
			require.Equal(t, tt.seqs, seqs)
			require.Equal(t, 500, rowCount(t, calls[len(calls)-1]))

			// State is exactly what was sent: the next run changes nothing.
			rep, err = s.run(all, engine.Options{})
			require.NoError(t, err)
			require.EqualValues(t, len(all), rep.Destinations[0].Planned.Unchanged)
		})
	}
}

// Every fault the sandbox can inject is ridden out: the audience ends up
// exactly as planned.
func TestSyncFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults string
	}{
		{"application limit (4)", "meta.users:4*3"},
		{"user limit (17)", "meta.users:17*2"},
		{"api limit (613)", "meta.users:613*3"},
		{"ad account limit (80003) with usage header", "meta.users:80003*3"},
		{"custom audience limit (80014)", "meta.users:80014*2"},
		{"throttle by probability", "meta.users:ratelimit@0.3,seed=5"},
		{"HTTP 429 with Retry-After", "meta.users:429*2,retry-after=5ms"},
		{"server errors", "meta.users:500*3,meta.users:502*1,meta.users:503*1"},
		{"unknown and service errors (1, 2)", "meta.users:1*2,meta.users:2*2"},
		{"server errors by probability", "meta.users:500@0.3,meta.users:503@0.1,seed=3"},
		{"connection reset", "meta.users:reset*3"},
		{"connection reset by probability", "meta.*:reset@0.2,seed=9"},
		{"slow answers", "meta.users:slow=150ms*3"},
		{"latency", "latency=20ms,jitter=20ms,seed=1"},
		{"audience lookup fails first", "meta.customaudiences:503*2,meta.customaudiences:reset*1"},
		{"everything at once", "meta.*:500@0.1,meta.*:613@0.1,meta.*:reset@0.05,latency=2ms,seed=42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSync(t, tt.faults)
			first := members(0, 1500)
			rep, err := s.run(first, engine.Options{})
			require.NoError(t, err, "report errors: %v", rep.Destinations[0].Errors)
			require.Equal(t, report.StatusSucceeded, rep.Destinations[0].Status)
			s.requireAudience(first)

			second := members(200, 1700)
			rep, err = s.run(second, engine.Options{})
			require.NoError(t, err, "report errors: %v", rep.Destinations[0].Errors)
			s.requireAudience(second)
		})
	}
}

// A usage header over 75% slows the client down and says so.
func TestSyncSlowsDownOnHighUsage(t *testing.T) {
	t.Parallel()
	s := newSync(t, "meta.users:80003*1")
	ms := members(0, 1000)
	_, err := s.run(ms, engine.Options{})
	require.NoError(t, err)
	s.requireAudience(ms)
	require.NotEmpty(t, s.logs.FilterMessageSnippet("slowing down").All())
}

func TestSyncTokenExpired(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults string
		mod    func(*meta.Settings)
		// users is how many users calls the run may make at most: up to
		// the one that met the expired token and the one the engine had
		// already started, never a retry.
		users  int
		status report.Status
		// planned and added are how many members were planned (none
		// when the destination fails before planning) and went in
		// before the token expired; the rest are not attempted, none
		// failed.
		planned, added int64
	}{
		{name: "expired before the run", mod: func(s *meta.Settings) { s.AccessToken = auth.NewSecret(metaplatform.ReplicaExpiredToken) },
			status: report.StatusFailed},
		{name: "expires during the run", faults: "meta.users:ok*1,meta.users:expired*1", users: 3, status: report.StatusPartial, planned: 1500, added: 500},
		{name: "expires later in the run", faults: "meta.users:ok*2,meta.users:expired*1", users: 4, status: report.StatusPartial, planned: 1500, added: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mods := []func(*meta.Settings){func(s *meta.Settings) { s.Concurrency = 1 }}
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			s := newSync(t, tt.faults, mods...)
			rep, err := s.run(members(0, 1500), engine.Options{})
			require.Error(t, err)
			d := rep.Destinations[0]
			require.Equal(t, tt.status, d.Status)
			require.Contains(t, strings.Join(d.Errors, "\n"), "System users")
			require.Contains(t, strings.Join(d.Errors, "\n"), "access_token")
			requireNoRetries(t, s.calls("users"), tt.users)
			// The batch the expired token refused and those never sent
			// are not attempted: the report accounts for every member.
			require.NoError(t, rep.CheckCounts())
			require.Equal(t, tt.planned, d.Planned.Add)
			require.Equal(t, report.Applied{Added: tt.added, NotAttempted: tt.planned - tt.added}, d.Applied)
		})
	}
}

func TestSyncFlaggedAudience(t *testing.T) {
	t.Parallel()
	s := newSync(t, "", func(s *meta.Settings) { s.Concurrency = 1 })
	a := s.ensure(s.dest, audienceName)
	require.True(t, sandbox.ReplicaOf[*metagraph.Server](s.sb).FlagAudience(a.ID))
	rep, err := s.run(members(0, 1500), engine.Options{})
	require.Error(t, err)
	d := rep.Destinations[0]
	require.Equal(t, report.StatusFailed, d.Status)
	require.Contains(t, strings.Join(d.Errors, "\n"), "flagged")
	requireNoRetries(t, s.calls("users"), 2)
}

// requireNoRetries checks that no users request was sent twice and that
// there were at most limit.
func requireNoRetries(t *testing.T, calls []seen, limit int) {
	t.Helper()
	require.LessOrEqual(t, len(calls), limit)
	seenPayloads := map[string]bool{}
	for _, r := range calls {
		p := r.params.Get("payload")
		require.False(t, seenPayloads[p], "a users request was retried")
		seenPayloads[p] = true
	}
}
