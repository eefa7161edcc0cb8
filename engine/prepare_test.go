package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/report"
)

var addressKinds = []audience.Kind{audience.Email, audience.Phone, audience.FirstName, audience.LastName, audience.Country, audience.Zip}

// churn is round 0, 1 or 2 of a generated sync that meets every planning
// rule: keyed and keyless records, repeats of both (identical, or the same
// member with other fields), rejected fields and members, pre-hashed
// values, more identifiers than a destination takes, identifiers shared by
// two members, consent that flips, members that leave, arrive and change.
func churn(round int) []audience.Member {
	n := 3000 + 300*round
	var out []audience.Member
	for i := range n {
		if i%17 < round {
			continue // gone from this round on
		}
		var m audience.Member
		if i%5 != 0 {
			m.Key = fmt.Sprintf("K%05d", i)
		}
		email := fmt.Sprintf("m%05d@example.com", i)
		if i%13 == 0 && round > 0 {
			email = fmt.Sprintf("m%05d.r%d@example.com", i, round) // an update every round
		}
		phone := fmt.Sprintf("+1 202 555 %04d", i%1500) // i and i+1500 share a phone
		switch i % 11 {
		case 0:
			m.Fields[audience.Email] = "not an address" // no identifier left
		case 1:
			sum := sha256.Sum256([]byte(email))
			m.Fields[audience.Email] = strings.ToUpper(hex.EncodeToString(sum[:]))
		case 2:
			m.Fields[audience.Email], m.Fields[audience.Phone] = email, phone
			m.Fields[audience.FirstName], m.Fields[audience.LastName] = fmt.Sprintf("Ann%d", i%7), "Lee"
			m.Fields[audience.Country], m.Fields[audience.Zip] = "US", fmt.Sprintf("%05d", 20000+i%50)
		case 3:
			m.Fields[audience.Email], m.Fields[audience.Phone] = email, "12"
		case 4:
			m.Fields[audience.Phone] = phone
		default:
			m.Fields[audience.Email], m.Fields[audience.Phone] = email, phone
		}
		if i%19 == 0 && (i/19+round)%2 == 0 {
			m.Consent.AdUserData = audience.ConsentDenied
		}
		out = append(out, m)
		switch {
		case i%23 == 0:
			out = append(out, m)
		case i%31 == 0:
			m.Fields[audience.Phone] = fmt.Sprintf("+1 202 555 %04d", 9000+i%1000)
			m.Fields[audience.Email] = strings.ToUpper(m.Fields[audience.Email])
			out = append(out, m) // the same member (or source key) with other fields: the first wins
		}
	}
	return out
}

// outcome is what a run reports and sends, with nothing that varies
// between identical runs (run ids, timings).
type outcome struct {
	Source report.Source
	Dests  []report.Destination
	Sent   [][]string // per destination, every member of every batch in order
}

// sent renders the batches a destination received, one line a member.
func sent(calls []connectors.Batch) []string {
	var out []string
	for _, c := range calls {
		for _, m := range c.Members {
			line := fmt.Sprintf("%d %v %s %v", c.Seq, c.Op, m.Key, m.Consent)
			for _, id := range m.Identifiers {
				line += fmt.Sprintf(" %s:%s", id.Kind, id.Value)
			}
			out = append(out, line)
		}
	}
	return out
}

// runChurn runs the three rounds with workers preparing members per
// destination, into a Google and a Meta destination at once.
func runChurn(t *testing.T, workers int) []outcome {
	b := setup(t)
	engine.SetPlanWorkers(b.eng, workers)
	b.dest.Kinds, b.dest.MaxIdentifiers, b.dest.Concurrency = addressKinds, 3, 1
	metaDest := fake.NewDestination("meta")
	metaDest.Kinds, metaDest.Concurrency = addressKinds, 1
	metaProf, err := platformbuiltin.Profile("meta")
	require.NoError(t, err)
	mods := func(j *engine.Job) {
		google := j.Targets[0]
		google.Info = b.dest.Info()
		google.Audience.MembershipDays = 540
		meta := *google
		meta.Name, meta.Dest, meta.Info, meta.Profile = "meta", metaDest, metaDest.Info(), metaProf
		j.Targets = append(j.Targets, &meta)
	}
	var outs []outcome
	for round, after := range []time.Duration{0, 200 * 24 * time.Hour, 311 * 24 * time.Hour} {
		b.now = b.now.Add(after)
		b.dest.ResetCalls()
		metaDest.ResetCalls()
		src := &fake.Source{Members: churn(round), Rejects: []string{"csv.bad_row"}}
		rep, err := b.eng.Run(context.Background(), b.job(src, mods), engine.Options{Force: true})
		require.NoError(t, err)
		out := outcome{Source: rep.Source, Sent: [][]string{sent(b.dest.Calls()), sent(metaDest.Calls())}}
		for _, d := range rep.Destinations {
			require.Equal(t, d.Planned.Add+d.Planned.Update+d.Planned.Refresh+d.Planned.Unchanged, d.Members, "round %d, %s", round, d.Name)
			out.Dests = append(out.Dests, *d)
		}
		outs = append(outs, out)
	}
	return outs
}

// TestParallelPlanMatchesOneWorker checks that preparing members on many
// workers changes nothing: the same counts, the same sends in the same
// order, as with one.
func TestParallelPlanMatchesOneWorker(t *testing.T) {
	t.Parallel()
	one := runChurn(t, 1)
	many := runChurn(t, 8)
	require.Equal(t, one, many)

	// The generated rounds reach every rule, so the comparison means
	// something.
	last := many[2]
	require.Positive(t, last.Source.Duplicates)
	for _, d := range last.Dests {
		require.Positive(t, d.Planned.Add, d.Name)
		require.Positive(t, d.Planned.Remove, d.Name)
		require.Positive(t, d.Planned.Update, d.Name)
		require.Positive(t, d.Planned.Refresh, d.Name)
		require.Positive(t, d.Planned.Unchanged, d.Name)
		require.Positive(t, d.ConsentDenied, d.Name)
		require.Positive(t, d.PreHashed, d.Name)
		for _, r := range []string{"member.duplicate", "member.no_identifiers", "email.malformed", "phone.invalid"} {
			require.Positive(t, d.Rejected[r], "%s: %s", d.Name, r)
		}
	}
	require.True(t, slices.ContainsFunc(many[0].Sent[0], func(s string) bool {
		return strings.Contains(s, "first_name:")
	}), "a member over MaxIdentifiers is cut, not dropped")
}

// TestPlanCountsByHand runs a small sync whose every count is worked out
// by hand, with one worker and with several.
func TestPlanCountsByHand(t *testing.T) {
	t.Parallel()
	prof, err := platformbuiltin.Profile("google")
	require.NoError(t, err)
	opts := normalize.Options{DefaultRegion: "US"}
	keyless := func(email string) audience.MemberKey {
		id, r := prof.Value(audience.Email, email, opts)
		require.Empty(t, r)
		return audience.KeyFromIdentifier(id)
	}
	keyed := audience.KeyFromSource
	member := func(key string, fields ...string) audience.Member {
		m := audience.Member{Key: key}
		for i := 0; i < len(fields); i += 2 {
			k, err := audience.ParseKind(fields[i])
			require.NoError(t, err)
			m.Fields[k] = fields[i+1]
		}
		return m
	}
	hashed := sha256.Sum256([]byte("e@example.com"))
	denied := member("K3", "email", "d@example.com")
	denied.Consent.AdUserData = audience.ConsentDenied
	first := []audience.Member{
		member("K1", "email", "a@example.com"),
		member("K2", "email", "b@example.com", "phone", "12"),
		member("K1", "email", "z@example.com"), // source key repeated with other data: a key.conflict, the first wins
		member("", "email", "c@example.com"),
		member("", "email", "c@example.com", "phone", "+1 202 555 0105"), // same member: the first wins
		member("", "email", "nonsense"),
		denied,
		member("K4", "email", hex.EncodeToString(hashed[:])),
		member("K5", "email", "f@example.com", "phone", "+1 202 555 0109",
			"first_name", "Ann", "last_name", "Lee", "country", "US", "zip", "20001"),
	}
	second := []audience.Member{
		first[0],
		member("K2", "email", "b2@example.com", "phone", "12"),
		first[3],
		member("K3", "email", "d@example.com"),
		first[8],
		member("", "email", "g@example.com"),
	}
	byKey := func(ks ...audience.MemberKey) []audience.MemberKey {
		return slices.SortedFunc(slices.Values(ks), audience.MemberKey.Compare)
	}
	type send struct {
		op  connectors.Op
		key audience.MemberKey
	}
	sends := func(calls []connectors.Batch) (out []send, cut int) {
		for _, c := range calls {
			for _, m := range c.Members {
				out = append(out, send{c.Op, m.Key})
				if m.Key == keyed("K5") {
					cut = len(m.Identifiers)
				}
			}
		}
		return out, cut
	}
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			engine.SetPlanWorkers(b.eng, workers)
			b.dest.Kinds, b.dest.MaxIdentifiers, b.dest.Concurrency = addressKinds, 3, 1
			withInfo := func(j *engine.Job) { j.Targets[0].Info = b.dest.Info() }

			rep, err := b.run(first, engine.Options{}, withInfo)
			require.NoError(t, err)
			require.Equal(t, report.Source{Read: 9, Valid: 8, Rejected: map[string]int64{engine.ReasonKeyConflict: 1}}, rep.Source)
			d := dest(rep)
			require.Equal(t, report.Planned{Add: 5}, d.Planned)
			require.Equal(t, int64(5), d.Members)
			require.Equal(t, int64(1), d.ConsentDenied)
			require.Equal(t, int64(1), d.PreHashed)
			require.Equal(t, map[string]int64{"phone.invalid": 1, "member.duplicate": 1, "email.malformed": 1, "member.no_identifiers": 1}, d.Rejected)
			got, cut := sends(b.dest.Calls())
			var want []send
			for _, k := range byKey(keyed("K1"), keyed("K2"), keyless("c@example.com"), keyed("K4"), keyed("K5")) {
				want = append(want, send{connectors.OpAdd, k})
			}
			require.Equal(t, want, got)
			require.Equal(t, 3, cut, "K5's six identifiers are cut to MaxIdentifiers")
			require.Contains(t, b.dest.Held(b.audienceID()), "email:"+mustValue(t, prof, "c@example.com"))
			require.Len(t, b.dest.Held(b.audienceID()), 7, "a, b, c, e; f, its phone and first name: not c's duplicate's phone")

			b.now = b.now.Add(24 * time.Hour)
			b.dest.ResetCalls()
			rep, err = b.run(second, engine.Options{Force: true}, withInfo)
			require.NoError(t, err)
			d = dest(rep)
			require.Equal(t, report.Planned{Add: 2, Update: 1, Remove: 1, Unchanged: 3}, d.Planned)
			require.Equal(t, int64(6), d.Members)
			require.Zero(t, d.ConsentDenied)
			require.Zero(t, d.PreHashed)
			require.Equal(t, map[string]int64{"phone.invalid": 1}, d.Rejected)
			got, _ = sends(b.dest.Calls())
			// Removals first (the member gone, then what the update
			// drops), then the update, then the adds by key.
			want = []send{{connectors.OpRemove, keyed("K4")}, {connectors.OpRemove, keyed("K2")}, {connectors.OpAdd, keyed("K2")}}
			for _, k := range byKey(keyed("K3"), keyless("g@example.com")) {
				want = append(want, send{connectors.OpAdd, k})
			}
			require.Equal(t, want, got)
		})
	}
}

func mustValue(t *testing.T, prof *normalize.Profile, email string) string {
	t.Helper()
	id, r := prof.Value(audience.Email, email, normalize.Options{})
	require.Empty(t, r)
	return id.Value
}

// cancelling stops the run's context once it has emitted after members.
type cancelling struct {
	fake.Source
	after  int
	cancel context.CancelFunc
}

func (c *cancelling) Read(ctx context.Context, req connectors.ReadRequest, out connectors.Emitter) error {
	return c.Source.Read(ctx, req, emitFunc(func(m *audience.Member) error {
		if c.after--; c.after == 0 {
			c.cancel()
		}
		return out.Emit(m)
	}))
}

type emitFunc func(*audience.Member) error

func (f emitFunc) Emit(m *audience.Member) error { return f(m) }
func (emitFunc) Reject(string, int64)            {}

// TestCancelledReadStopsEveryWorker cancels a run part-way through the
// read: like a failed read it sends nothing, but it is interrupted, not
// failed, every destination says so, and no planning goroutine outlives
// it. Not parallel: it looks at every goroutine in the process.
func TestCancelledReadStopsEveryWorker(t *testing.T) {
	b := setup(t)
	engine.SetPlanWorkers(b.eng, 4)
	_, err := b.run(members(0, 100), engine.Options{})
	require.NoError(t, err)
	b.dest.ResetCalls()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &cancelling{Source: fake.Source{Members: members(0, 20000)}, after: 5000, cancel: cancel}
	rep, err := b.eng.Run(ctx, b.job(src), engine.Options{})
	require.NotErrorIs(t, err, engine.ErrSourceFailed, "an interrupt is no source failure")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "interrupted while reading the source")
	require.Equal(t, report.StatusInterrupted, rep.Status)
	for _, d := range rep.Destinations {
		require.Equal(t, report.StatusInterrupted, d.Status, d.Name)
	}
	require.NoError(t, rep.CheckCounts())
	require.Empty(t, b.dest.Calls())
	require.Equal(t, int64(100), b.count())
	// Run waits for every worker; a goroutine may still be between its
	// last deferred call and its exit, so look for a little while.
	require.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "engine.startPipeline")
	}, time.Second, 10*time.Millisecond, "a planning goroutine outlived the run")
}
