package engine_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/internal/memstat"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/segment"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

var funnelAttrs = []connectors.Attribute{
	{Name: "last_cart_at", Field: "cart", Type: audience.AttrTime},
	{Name: "purchased_at", Field: "bought", Type: audience.AttrTime},
}

// funnel is three stages by days since the cart was abandoned, and a
// buyers segment that suppresses its members from the stages.
var funnel = segment.Spec{Attributes: funnelAttrs,
	Segments: []segment.Def{
		{Name: "buyers", Filter: "purchased_at != nil"},
		{Name: "d0", Filter: "days_since(last_cart_at) < 1", Group: "cart", Exclusive: true},
		{Name: "d1-3", Filter: "days_since(last_cart_at) <= 3", Group: "cart", Exclusive: true},
		{Name: "d4-14", Filter: "days_since(last_cart_at) <= 14", Group: "cart", Exclusive: true},
	},
	Suppress: []string{"buyers"},
}

// funnelMembers are n members whose carts were abandoned i hours before
// at, for member i; none bought.
func funnelMembers(n int, at time.Time) []audience.Member {
	ms := members(0, n)
	for i := range ms {
		ms[i].Attrs = []audience.Value{audience.TimeValue(at.Add(-time.Duration(i) * time.Hour)), {}}
	}
	return ms
}

// segmented makes the job a funnel with one target per stage, all on
// the bundle's destination (each its own audience).
func (b *bundle) segmented(spec segment.Spec, place func(ctx context.Context, now time.Time) (engine.Placer, error)) func(*engine.Job) {
	return func(j *engine.Job) {
		j.Request.Attributes = spec.Attributes
		base := j.Targets[0]
		j.Targets = nil
		for _, d := range spec.Segments {
			j.Segments = append(j.Segments, engine.SegmentInfo{Name: d.Name, Group: d.Group})
			if d.Name == "buyers" {
				continue // a suppression list, sent nowhere
			}
			t := *base
			t.Name, t.Segment = d.Name+"/dest", d.Name
			t.Audience.Name = "stage " + d.Name
			j.Targets = append(j.Targets, &t)
		}
		j.Place = place
		if place == nil {
			j.Place = func(_ context.Context, now time.Time) (engine.Placer, error) {
				p, err := segment.New(spec, now)
				if err != nil {
					return nil, err
				}
				return p.PlaceAll, nil
			}
		}
	}
}

func (b *bundle) heldIn(target string) []string {
	b.t.Helper()
	id, err := b.store.AudienceID(context.Background(), state.Scope{Sync: "test-sync", Destination: target})
	require.NoError(b.t, err)
	return b.dest.Held(id)
}

func byName(rep *report.Report, name string) *report.Destination { return rep.DestinationNamed(name) }

// TestStagesMoveWithTime runs a funnel of stages by days since a cart
// was abandoned: each member lands in one stage only; as the clock
// advances with no change in the source, members leave one stage and
// join the next in the same run, the report counts the moves per pair,
// and the removal guard does not take moves for removals. A buyer
// leaves every stage at once.
func TestStagesMoveWithTime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := b.now
	// 100 members, carts 0..99 hours old: 24 in d0, 72 in d1-3 (24..95
	// hours), 4 in d4-14.
	ms := funnelMembers(100, start)
	rep, err := b.run(ms, engine.Options{}, b.segmented(funnel, nil))
	require.NoError(t, err)
	require.Equal(t, int64(24), byName(rep, "d0/dest").Planned.Add)
	require.Equal(t, int64(72), byName(rep, "d1-3/dest").Planned.Add)
	require.Equal(t, int64(4), byName(rep, "d4-14/dest").Planned.Add)
	require.Equal(t, held(t, ms[:24]), b.heldIn("d0/dest"))
	require.Equal(t, held(t, ms[24:96]), b.heldIn("d1-3/dest"))
	require.Empty(t, rep.Moves, "nothing was anywhere before")
	require.Len(t, rep.Segments, 4)
	d13 := rep.Segments[2]
	require.Equal(t, report.Segment{Name: "d1-3", Group: "cart", Destinations: []string{"d1-3/dest"},
		Members: 72, Matched: 72, EarlierStage: 24, Filtered: 4}, *d13)
	require.Equal(t, "d0/dest", byName(rep, "d0/dest").Name)
	require.Equal(t, "d0", byName(rep, "d0/dest").Segment)

	// Twelve hours later: members 12..23 are a day old now (d0 → d1-3),
	// 84..95 four days (d1-3 → d4-14). Exact counts, in one run; the
	// guard, at 20%, would stop d0 losing half its members otherwise.
	b.now = start.Add(12 * time.Hour)
	rep, err = b.run(ms, engine.Options{}, b.segmented(funnel, nil))
	require.NoError(t, err)
	require.Equal(t, int64(12), byName(rep, "d0/dest").Planned.Remove)
	require.Equal(t, int64(12), byName(rep, "d1-3/dest").Planned.Add)
	require.Equal(t, int64(12), byName(rep, "d1-3/dest").Planned.Remove)
	require.Equal(t, int64(12), byName(rep, "d4-14/dest").Planned.Add)
	require.Equal(t, []report.Move{
		{Group: "cart", From: "d0", To: "d1-3", Destination: "dest", Members: 12},
		{Group: "cart", From: "d1-3", To: "d4-14", Destination: "dest", Members: 12},
	}, rep.Moves)
	require.Equal(t, held(t, ms[:12]), b.heldIn("d0/dest"))
	require.Equal(t, held(t, ms[12:84]), b.heldIn("d1-3/dest"))
	require.Equal(t, held(t, ms[84:]), b.heldIn("d4-14/dest"))

	// --now: a plan three days on shows the moves and changes nothing.
	// d0 empties, but into the next stage: no guard stops a funnel
	// moving on.
	rep, err = b.run(ms, engine.Options{DryRun: true, FilterTime: b.now.Add(72 * time.Hour)}, b.segmented(funnel, nil))
	require.NoError(t, err)
	require.Equal(t, int64(12), byName(rep, "d0/dest").Planned.Remove)
	require.Equal(t, []report.Move{
		{Group: "cart", From: "d0", To: "d1-3", Destination: "dest", Members: 12},
		{Group: "cart", From: "d1-3", To: "d4-14", Destination: "dest", Members: 72},
	}, rep.Moves)
	require.Equal(t, held(t, ms[:12]), b.heldIn("d0/dest"), "a plan changes nothing")

	// A buyer converts: out of every stage in one run, counted as
	// suppressed by the buyers list.
	bought := append([]audience.Member(nil), ms...)
	bought[5].Attrs = []audience.Value{bought[5].Attrs[0], audience.TimeValue(b.now)}
	bought[50].Attrs = []audience.Value{bought[50].Attrs[0], audience.TimeValue(b.now)}
	rep, err = b.run(bought, engine.Options{}, b.segmented(funnel, nil))
	require.NoError(t, err)
	require.Equal(t, int64(1), byName(rep, "d0/dest").Planned.Remove)
	require.Equal(t, int64(1), byName(rep, "d1-3/dest").Planned.Remove)
	require.Equal(t, map[string]int64{"buyers": 1}, rep.Segments[1].Suppressed)
	require.Equal(t, map[string]int64{"buyers": 1}, rep.Segments[2].Suppressed)
	require.Equal(t, int64(2), rep.Segments[0].Members)
	require.Equal(t, int64(1), byName(rep, "d0/dest").Excluded[report.ReasonSuppressed+"buyers"])
	require.Empty(t, rep.Moves)
	require.NotContains(t, b.heldIn("d0/dest"), held(t, bought[5:6])[0])
	require.NotContains(t, b.heldIn("d1-3/dest"), held(t, bought[50:51])[0])
}

// TestSegmentPlacingFails checks that a run whose placing cannot start
// (a suppression list that could not be read) sends nothing and removes
// nothing, and says so.
func TestSegmentPlacingFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := funnelMembers(30, b.now)
	_, err := b.run(ms, engine.Options{}, b.segmented(funnel, nil))
	require.NoError(t, err)
	calls := len(b.dest.Calls())
	before := b.heldIn("d0/dest")
	broken := errors.New("read suppression list shop: connection refused")
	rep, err := b.run(ms[:1], engine.Options{Force: true}, b.segmented(funnel, func(context.Context, time.Time) (engine.Placer, error) {
		return nil, broken
	}))
	require.ErrorIs(t, err, broken)
	require.Contains(t, err.Error(), "nothing was uploaded or removed")
	require.Equal(t, report.StatusFailed, rep.Status)
	require.Len(t, b.dest.Calls(), calls, "nothing was sent")
	require.Equal(t, before, b.heldIn("d0/dest"), "nothing was removed")
}

// TestSegmentsMissingAttribute checks that a filter on a missing
// attribute is false and counted by attribute, per segment and per
// destination, never failing the run.
func TestSegmentsMissingAttribute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := funnelMembers(10, b.now)
	for i := range 4 {
		ms[i].Attrs = nil // no attributes at all
	}
	rep, err := b.run(ms, engine.Options{}, b.segmented(funnel, nil))
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"last_cart_at": 4}, rep.Segments[1].Missing)
	require.Equal(t, int64(6), rep.Segments[1].Members)
	require.Equal(t, int64(4), byName(rep, "d0/dest").Excluded[report.ReasonMissing+"last_cart_at"])
	require.Equal(t, int64(10), rep.Segments[0].Filtered, "purchased_at != nil is simply false for a missing value")
}

// BenchmarkSegmentsPlan compares planning 1,000,000 members
// (AUDIENCESYNC_BENCH_MEMBERS) into 5 segments with one destination
// each, stages of one group, against planning them into one audience:
// dry runs against an empty state, one source read each. The target is
// a ratio of at most 1.5. Each is planned twice, interleaved (single,
// segmented, segmented, single), and the faster of each pair counts, so
// a load that drifts on a shared machine weighs on both alike; the CPU
// time of the process is reported beside the wall time (cpu-ratio), as
// what other processes do affects it least.
func BenchmarkSegmentsPlan(b *testing.B) {
	n := benchMembers()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	five := segment.Spec{Attributes: funnelAttrs}
	for i, upTo := range []int{3, 7, 11, 15, 19} {
		five.Segments = append(five.Segments, segment.Def{Name: fmt.Sprintf("s%d", i),
			Filter: fmt.Sprintf("days_since(last_cart_at) <= %d && purchased_at == nil", upTo), Group: "g", Exclusive: true})
	}
	plan := func(segmented bool) (wall, cpu time.Duration) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "state.db"))
		require.NoError(b, err)
		defer st.Close()
		eng := &engine.Engine{Store: st, Now: func() time.Time { return at }}
		dest := &nullDestination{}
		prof, err := platformbuiltin.Profile("google")
		require.NoError(b, err)
		job := &engine.Job{Sync: "bench", Source: &streamedFunnel{n: n, at: at}, DefaultRegion: "US", MaxRemoveFraction: 0.2,
			Request: connectors.ReadRequest{Key: "id", Fields: map[audience.Kind]string{audience.Email: "email"}, Attributes: funnelAttrs},
			Targets: []*engine.Target{{Name: "null", Type: "null", Dest: dest, Info: dest.Info(), Profile: prof,
				Audience:       connectors.AudienceSpec{Name: "bench", Create: true},
				DefaultConsent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted}}},
		}
		if segmented {
			(&bundle{}).segmented(five, nil)(job)
		}
		start, startCPU := time.Now(), memstat.CPUTime()
		rep, err := eng.Run(context.Background(), job, engine.Options{DryRun: true})
		wall, cpu = time.Since(start), memstat.CPUTime()-startCPU
		require.NoError(b, err)
		var members int64
		for _, d := range rep.Destinations {
			members += d.Members
		}
		require.Equal(b, int64(n), members)
		return wall, cpu
	}
	var single, segmented, singleCPU, segmentedCPU time.Duration
	for range b.N {
		w1, c1 := plan(false)
		w2, c2 := plan(true)
		w3, c3 := plan(true)
		w4, c4 := plan(false)
		single, singleCPU = single+min(w1, w4), singleCPU+min(c1, c4)
		segmented, segmentedCPU = segmented+min(w2, w3), segmentedCPU+min(c2, c3)
	}
	b.ReportMetric(single.Seconds()/float64(b.N), "single-s")
	b.ReportMetric(segmented.Seconds()/float64(b.N), "segmented-s")
	b.ReportMetric(segmented.Seconds()/single.Seconds(), "ratio")
	b.ReportMetric(segmentedCPU.Seconds()/singleCPU.Seconds(), "cpu-ratio")
}

// streamedFunnel yields n members as a source does, one reused Member
// at a time (so the benchmark holds no million members the garbage
// collector would scan), member i with a cart i%20 days old: a fifth of
// the members in each stage.
type streamedFunnel struct {
	n  int
	at time.Time
}

func (s *streamedFunnel) Read(ctx context.Context, _ connectors.ReadRequest, e connectors.Emitter) error {
	m := audience.Member{Attrs: make([]audience.Value, len(funnelAttrs))}
	for i := range s.n {
		m.Reset()
		m.Key = fmt.Sprintf("C%07d", i)
		m.Fields[audience.Email] = fmt.Sprintf("member-%07d@example.com", i)
		m.Attrs[0] = audience.TimeValue(s.at.Add(-time.Duration(i%20) * 24 * time.Hour))
		if err := e.Emit(&m); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (s *streamedFunnel) Close() error { return nil }
