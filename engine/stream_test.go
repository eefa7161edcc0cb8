package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// TestStreamPlanMatchesMemory is the proof that the two ways of planning
// agree: on random audiences — repeated and conflicting records, keyless
// members, identifiers shared between members, members without
// identifiers or with consent denied, changes of e-mail and phone,
// members gone and new, memberships due for a refresh, full refreshes,
// record-matching platforms, destinations that cannot empty an audience,
// the removal guard — a run planned in memory
// and one planned by merging sorted streams (spilled after a few members)
// make the same report, send the same members with the same identifiers,
// and leave the same state and the same remote audience.
func TestStreamPlanMatchesMemory(t *testing.T) {
	t.Parallel()
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 16))
			c := streamCase{
				platform:   []string{"google", "meta"}[rng.IntN(2)],
				membership: []int{0, 60}[rng.IntN(2)],
				advance:    time.Duration(rng.IntN(90)) * 24 * time.Hour,
				opts:       engine.Options{FullRefresh: rng.IntN(6) == 0, Force: rng.IntN(4) != 0},
				spill:      1 + rng.IntN(40),
				noReset:    rng.IntN(2) == 0,
			}
			c.base, c.next = randomAudiences(rng)
			memory := c.run(t, -1)
			stream := c.run(t, 1)
			require.Equal(t, memory, stream)
		})
	}
}

type streamCase struct {
	platform   string
	membership int
	advance    time.Duration
	opts       engine.Options
	spill      int
	// noReset hides the destination's RemoveAll: a full refresh then
	// removes every member before adding them again.
	noReset    bool
	base, next []audience.Member
}

// streamOutcome is everything a plan decides that a test can see.
type streamOutcome struct {
	Source report.Source
	Dest   report.Destination
	Sent   []string
	State  []string
	Held   []string
	Err    string
}

// run commits c.base in memory, then plans and applies c.next with the
// engine's StreamPlanAt set to at.
func (c streamCase) run(t *testing.T, at int) streamOutcome {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	defer st.Close()
	dest := fake.NewDestination(c.platform)
	dest.Kinds = []audience.Kind{audience.Email, audience.Phone, audience.FirstName, audience.LastName, audience.Zip}
	prof, err := platformbuiltin.Profile(c.platform)
	require.NoError(t, err)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	runs := 0
	eng := &engine.Engine{Store: st, Now: func() time.Time { return now }, StreamPlanAt: -1, SpillAfter: c.spill,
		SpillDir: t.TempDir(), NewRunID: func(time.Time) string { runs++; return fmt.Sprint("run-", runs) }}
	var d connectors.Destination = dest
	if c.noReset {
		d = struct{ connectors.Destination }{dest}
	}
	job := func(ms []audience.Member) *engine.Job {
		return &engine.Job{
			Sync: "s", Source: &fake.Source{Members: ms},
			Request: connectors.ReadRequest{Key: "id", Fields: map[audience.Kind]string{
				audience.Email: "email", audience.Phone: "phone", audience.FirstName: "first",
				audience.LastName: "last", audience.Zip: "zip"}},
			DefaultRegion: "US", MaxRemoveFraction: 0.2,
			Targets: []*engine.Target{{
				Name: "d", Type: "fake", Dest: d, Info: dest.Info(), Profile: prof,
				Audience:       connectors.AudienceSpec{Name: "a", Create: true, MembershipDays: c.membership},
				DefaultConsent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
				RefreshMargin:  20 * 24 * time.Hour,
			}},
		}
	}
	_, err = eng.Run(ctx, job(c.base), engine.Options{})
	require.NoError(t, err)
	if at > 0 {
		n, err := st.Count(ctx, state.Scope{Sync: "s", Destination: "d"})
		require.NoError(t, err)
		require.Positive(t, n, "the plan under test starts from a committed audience")
	}
	dest.ResetCalls()
	now = now.Add(c.advance)
	eng.StreamPlanAt = at
	rep, err := eng.Run(ctx, job(c.next), c.opts)
	var out streamOutcome
	if err != nil {
		out.Err = err.Error()
	}
	out.Source = rep.Source
	if len(rep.Destinations) > 0 {
		out.Dest = *rep.Destinations[0]
	}
	for _, b := range dest.Calls() {
		for _, u := range b.Members {
			out.Sent = append(out.Sent, fmt.Sprintf("%d %s %v %v", b.Op, u.Key, u.Identifiers, u.Consent))
		}
	}
	slices.Sort(out.Sent)
	for e, err := range st.Snapshot(ctx, state.Scope{Sync: "s", Destination: "d"}) {
		require.NoError(t, err)
		out.State = append(out.State, fmt.Sprintf("%s %s %v %v", e.Key, e.Fingerprint, e.LastSent, e.Identifiers))
	}
	if id, err := st.AudienceID(ctx, state.Scope{Sync: "s", Destination: "d"}); err == nil {
		out.Held = dest.Held(id)
	}
	return out
}

// randomAudiences makes an audience and its next version.
func randomAudiences(rng *rand.Rand) (base, next []audience.Member) {
	n := 20 + rng.IntN(200)
	pool := func(prefix string, size int) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(size)) }
	member := func(i int) audience.Member {
		var m audience.Member
		if rng.IntN(8) != 0 {
			m.Key = fmt.Sprintf("C%d", i)
		}
		switch rng.IntN(10) {
		case 0: // nothing to match on
		case 1:
			m.Fields[audience.FirstName], m.Fields[audience.LastName] = pool("Ada", 3), pool("Lovelace", 3)
			m.Fields[audience.Zip] = "1000" + pool("", 3)
		default:
			m.Fields[audience.Email] = strings.ToLower(pool("member-", n)) + "@example.com"
			if rng.IntN(2) == 0 {
				m.Fields[audience.Phone] = fmt.Sprintf("(202) 555-%04d", rng.IntN(n/2+1))
			}
			if rng.IntN(4) == 0 {
				m.Fields[audience.FirstName], m.Fields[audience.LastName] = pool("Ada", 3), pool("Lovelace", 3)
				m.Fields[audience.Zip] = "1000" + pool("", 3)
			}
		}
		if rng.IntN(15) == 0 {
			m.Consent.AdUserData = audience.ConsentDenied
		}
		return m
	}
	for i := range n {
		base = append(base, member(i))
	}
	for i, m := range base {
		switch rng.IntN(10) {
		case 0: // gone
			continue
		case 1: // changed
			k := m.Key
			m = member(i)
			if k != "" {
				m.Key = k
			}
		}
		next = append(next, m)
		switch rng.IntN(12) {
		case 0: // a repeat
			next = append(next, m)
		case 1: // a conflict, or a keyless member sharing the primary identifier
			other := m
			other.Fields[audience.Phone] = "(202) 555-9999"
			next = append(next, other)
		}
	}
	for i := range rng.IntN(n / 5) {
		next = append(next, member(n+i))
	}
	rng.Shuffle(len(next), func(i, j int) { next[i], next[j] = next[j], next[i] })
	for i := range next {
		next[i].Line = int64(i + 2)
	}
	for i := range base {
		base[i].Line = int64(i + 2)
	}
	return base, next
}
