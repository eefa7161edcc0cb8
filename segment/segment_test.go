package segment_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/internal/memstat"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/segment"
)

var attrs = []connectors.Attribute{
	{Name: "crm_country", Type: audience.AttrString},
	{Name: "visits", Type: audience.AttrNumber},
	{Name: "last_cart_at", Type: audience.AttrTime},
	{Name: "purchased_at", Type: audience.AttrTime},
	{Name: "vip", Type: audience.AttrBool},
}

var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// member is a synthetic member with the given attributes (nil: missing).
func member(key string, country any, visits any, cart, bought any) audience.Member {
	m := audience.Member{Key: key, Attrs: make([]audience.Value, len(attrs))}
	m.Fields[audience.Email] = key + "@example.com"
	if s, ok := country.(string); ok {
		m.Attrs[0] = audience.StringValue(s)
	}
	if f, ok := visits.(float64); ok {
		m.Attrs[1] = audience.NumberValue(f)
	}
	if t, ok := cart.(time.Time); ok {
		m.Attrs[2] = audience.TimeValue(t)
	}
	if t, ok := bought.(time.Time); ok {
		m.Attrs[3] = audience.TimeValue(t)
	}
	return m
}

func TestCompileFilterErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src, msg string
		col            int
	}{
		{"unknown attribute", "visit >= 5", "unknown name visit", 1},
		{"wrong type", `crm_country == 5`, "mismatched types string and int", 13},
		{"not boolean", "visits + 1", "expected bool", 0},
		{"syntax", "visits >= ", "unexpected token EOF", 0},
		{"wrong argument type", "days_since(visits) < 3", "cannot use float64 as argument (type time.Time)", 12},
		{"unknown function", "weeks_since(last_cart_at) < 3", "unknown name weeks_since", 0},
		{"empty", "  ", "the filter is empty", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := segment.CompileFilter(tc.src, attrs, now)
			var ce *segment.CompileError
			require.ErrorAs(t, err, &ce)
			require.Contains(t, ce.Msg, tc.msg)
			if tc.col > 0 {
				require.Equal(t, tc.col, ce.Column, ce.Error())
			}
		})
	}
}

// place places one member into a single segment with filter src.
func place(t *testing.T, src string, m audience.Member) string {
	t.Helper()
	p, err := segment.New(segment.Spec{Attributes: attrs, Segments: []segment.Def{{Name: "s", Filter: src}}}, now)
	require.NoError(t, err)
	reasons := make([]string, 1)
	p.Place(&m, audience.KeyFromSource(m.Key), reasons)
	return reasons[0]
}

func TestFilterEvaluation(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	full := member("a", "IT", 7.0, now.Add(-50*time.Hour), nil)
	empty := member("b", nil, nil, nil, nil)
	for _, tc := range []struct {
		name, src string
		m         audience.Member
		want      string
	}{
		{"number", "visits >= 5", full, ""},
		{"number false", "visits >= 10", full, report.ReasonFiltered},
		{"missing number", "visits >= 5", empty, report.ReasonMissing + "visits"},
		{"in", `crm_country in ["IT", "FR"]`, full, ""},
		{"startsWith", `crm_country startsWith "I"`, full, ""},
		{"matches", `crm_country matches "^(IT|ES)$"`, full, ""},
		{"contains", `crm_country contains "T"`, full, ""},
		{"nil test on a missing value", "purchased_at == nil", full, ""},
		{"nil test on a present value", "last_cart_at == nil", full, report.ReasonFiltered},
		{"days_since", "days_since(last_cart_at) == 2", full, ""},
		{"hours_since", "hours_since(last_cart_at) == 50", full, ""},
		{"days_since of a missing value", "days_since(purchased_at) < 3", full, report.ReasonMissing + "purchased_at"},
		{"now", "last_cart_at < now()", full, ""},
		{"default for a missing value", "(visits ?? 0) == 0", empty, ""},
		{"stage with a nil test", "days_since(last_cart_at) <= 3 && purchased_at == nil", full, ""},
		{"the first missing attribute is blamed", "days_since(last_cart_at) <= 3 && visits > 1", member("d", nil, nil, nil, nil), report.ReasonMissing + "last_cart_at"},
		{"missing blamed first", "days_since(last_cart_at) <= 3 && visits > 1", member("c", nil, nil, now.Add(-day), nil), report.ReasonMissing + "visits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, place(t, tc.src, tc.m))
		})
	}
}

// TestTimeMovesMembers checks that the same member leaves a segment on
// the day its filter stops being true, with nothing changed but the
// clock, and that days are whole days.
func TestTimeMovesMembers(t *testing.T) {
	t.Parallel()
	m := member("a", "IT", 1.0, now.Add(-23*time.Hour), nil)
	spec := segment.Spec{Attributes: attrs, Segments: []segment.Def{
		{Name: "d0", Filter: "days_since(last_cart_at) < 1", Group: "cart", Exclusive: true},
		{Name: "d1-3", Filter: "days_since(last_cart_at) <= 3", Group: "cart", Exclusive: true},
		{Name: "d4-14", Filter: "days_since(last_cart_at) <= 14", Group: "cart", Exclusive: true},
	}}
	for _, tc := range []struct {
		after time.Duration
		want  []string
	}{
		{0, []string{"", report.ReasonEarlierStage, report.ReasonEarlierStage}},
		{time.Hour, []string{report.ReasonFiltered, "", report.ReasonEarlierStage}},
		{3*24*time.Hour - 2*time.Hour, []string{report.ReasonFiltered, "", report.ReasonEarlierStage}},
		{3*24*time.Hour + time.Hour, []string{report.ReasonFiltered, report.ReasonFiltered, ""}},
		{15 * 24 * time.Hour, []string{report.ReasonFiltered, report.ReasonFiltered, report.ReasonFiltered}},
	} {
		p, err := segment.New(spec, now.Add(tc.after))
		require.NoError(t, err)
		got := make([]string, 3)
		p.Place(&m, audience.KeyFromSource(m.Key), got)
		require.Equal(t, tc.want, got, "after %s", tc.after)
	}
}

func TestSuppressionAndHoldout(t *testing.T) {
	t.Parallel()
	key := make([]byte, segment.HoldoutKeySize)
	spec := segment.Spec{Attributes: attrs, HoldoutKey: key,
		Segments: []segment.Def{
			{Name: "buyers", Filter: "purchased_at != nil"},
			{Name: "carts", Filter: "last_cart_at != nil", Holdout: 0.1},
		},
		Suppress: []string{"buyers"},
	}
	p, err := segment.New(spec, now)
	require.NoError(t, err)
	buyer := member("b", nil, nil, now, now)
	got := make([]string, 2)
	p.Place(&buyer, audience.KeyFromSource(buyer.Key), got)
	require.Equal(t, []string{"", report.ReasonSuppressed + "buyers"}, got, "a buyer is out of every other segment")

	// The holdout: about a tenth, the same members at every run, and
	// others under another key.
	held := func(p *segment.Placer) map[string]bool {
		out := map[string]bool{}
		for i := range 2000 {
			m := member(fmt.Sprintf("m%d", i), nil, nil, now, nil)
			p.Place(&m, audience.KeyFromSource(m.Key), got)
			if got[1] == report.ReasonHoldout {
				out[m.Key] = true
			}
		}
		return out
	}
	first := held(p)
	require.InDelta(t, 200, len(first), 50)
	again, err := segment.New(spec, now.Add(72*time.Hour))
	require.NoError(t, err)
	require.Equal(t, first, held(again), "the same members are held out on the next run")
	spec.HoldoutKey = []byte("another key, another holdout....")
	other, err := segment.New(spec, now)
	require.NoError(t, err)
	require.NotEqual(t, first, held(other))

	// A member without a source key is never held out.
	keyless := member("", nil, nil, now, nil)
	for range 50 {
		p.Place(&keyless, audience.MemberKey{}, got)
		require.Equal(t, "", got[1])
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	prof, err := platformbuiltin.Profile("meta")
	require.NoError(t, err)
	l := segment.NewList("shop", prof, normalize.Options{DefaultRegion: "US"})
	var buyer audience.Member
	buyer.Key = "shop-17"
	buyer.Fields[audience.Email] = " Buyer.One@Example.com "
	buyer.Fields[audience.Phone] = "(202) 555-0143"
	l.Add(&buyer)
	p, err := segment.New(segment.Spec{Attributes: attrs, Lists: []*segment.List{l},
		Segments: []segment.Def{{Name: "all", Filter: "true"}}}, now)
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		key   string
		email string
		phone string
		want  string
	}{
		{"same e-mail, another key", "crm-1", "buyer.one@example.com", "", report.ReasonSuppressed + "shop"},
		{"same phone written otherwise", "crm-2", "", "+1 202-555-0143", report.ReasonSuppressed + "shop"},
		{"same key", "shop-17", "", "", report.ReasonSuppressed + "shop"},
		{"someone else", "crm-3", "other@example.com", "+1 202-555-0199", ""},
	} {
		m := audience.Member{Key: tc.key, Attrs: make([]audience.Value, len(attrs))}
		m.Fields[audience.Email], m.Fields[audience.Phone] = tc.email, tc.phone
		got := make([]string, 1)
		p.Place(&m, audience.KeyFromSource(tc.key), got)
		require.Equal(t, tc.want, got[0], tc.name)
	}
}

// BenchmarkFilter measures filter evaluation: member-filters per second
// on one goroutine (the target is at least 2,000,000 per core).
func BenchmarkFilter(b *testing.B) {
	segs := []segment.Def{{Name: "s", Filter: "days_since(last_cart_at) <= 3 && purchased_at == nil && visits >= 2"}}
	p, err := segment.New(segment.Spec{Attributes: attrs, Segments: segs}, now)
	require.NoError(b, err)
	ms := make([]audience.Member, 1024)
	for i := range ms {
		ms[i] = member(fmt.Sprintf("m%d", i), "IT", float64(i%7), now.Add(-time.Duration(i)*time.Hour), nil)
	}
	reasons := make([]string, len(ms))
	at := func(i int) (*audience.Member, audience.MemberKey) { return &ms[i], audience.MemberKey{} }
	b.ReportAllocs()
	cpu := memstat.CPUTime()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(ms) {
		p.PlaceAll(min(len(ms), b.N-i), at, reasons)
	}
	b.StopTimer()
	// Per second of CPU the benchmark used, so that other processes on
	// the machine do not count against the figure (the target is per
	// core); and per second of wall time.
	b.ReportMetric(float64(b.N)/(memstat.CPUTime()-cpu).Seconds(), "member-filters/cpu-s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "member-filters/s")
}

// TestSuppressionBySegmentDefinedLater checks that a suppressing segment
// applies whatever its place in the list: suppressors are evaluated
// first.
func TestSuppressionBySegmentDefinedLater(t *testing.T) {
	t.Parallel()
	p, err := segment.New(segment.Spec{Attributes: attrs, Suppress: []string{"buyers"},
		Segments: []segment.Def{
			{Name: "carts", Filter: "last_cart_at != nil"},
			{Name: "buyers", Filter: "purchased_at != nil"},
		}}, now)
	require.NoError(t, err)
	buyer := member("b", nil, nil, now, now)
	got := make([]string, 2)
	p.Place(&buyer, audience.KeyFromSource(buyer.Key), got)
	require.Equal(t, []string{report.ReasonSuppressed + "buyers", ""}, got)
}
