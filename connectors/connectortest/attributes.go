package connectortest

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// SyntheticAttributes are the attributes synthetic members carry when a
// source harness says its source hands attributes over: one of each type.
// Field is the name a harness stores the value under unless its source
// spells fields otherwise.
var SyntheticAttributes = []connectors.Attribute{
	{Name: "tier", Field: "tier", Type: audience.AttrString},
	{Name: "visits", Field: "visits", Type: audience.AttrNumber},
	{Name: "subscribed", Field: "subscribed", Type: audience.AttrBool},
	{Name: "last_visit", Field: "last_visit", Type: audience.AttrTime},
}

// SyntheticAttrValues are synthetic member i's values of
// SyntheticAttributes: every fifth member lacks one of them in turn, so a
// source that shifts or drops a missing value is caught.
func SyntheticAttrValues(i int) []audience.Value {
	vals := []audience.Value{
		audience.StringValue([]string{"gold", "silver", "bronze"}[i%3]),
		audience.NumberValue(float64(i%40) + 0.5*float64(i%2)),
		audience.BoolValue(i%2 == 0),
		audience.TimeValue(time.Date(2026, 1, 1, 9, 30, 0, 0, time.UTC).Add(time.Duration(i) * 61 * time.Minute)),
	}
	if i%5 == 4 {
		vals[(i/5)%len(vals)] = audience.Value{}
	}
	return vals
}

// AttrText is v as a source stores it, for a harness filling its backend:
// numbers in decimal, bools as true/false, instants in RFC 3339 (UTC,
// milliseconds), a missing value as "".
func AttrText(v audience.Value) string {
	if s, ok := v.Text(); ok {
		return s
	}
	if f, ok := v.Number(); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	if b, ok := v.Bool(); ok {
		return strconv.FormatBool(b)
	}
	if ts, ok := v.Time(); ok {
		return ts.Format("2006-01-02T15:04:05.000Z07:00")
	}
	return ""
}

// requireSyntheticAttributes checks a harness's request asks for
// SyntheticAttributes, in order.
func requireSyntheticAttributes(t *testing.T, got []connectors.Attribute) {
	t.Helper()
	require.Len(t, got, len(SyntheticAttributes), "the request asks for SyntheticAttributes")
	for i, a := range got {
		want := SyntheticAttributes[i]
		require.Equal(t, want.Name, a.Name, "attribute %d", i)
		require.Equal(t, want.Type, a.Type, "attribute %s", a.Name)
	}
}

// attrsString spells attribute values for comparing members.
func attrsString(vals []audience.Value) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = v.Type().String() + "=" + AttrText(v)
		if v.Invalid() {
			parts[i] = "invalid"
		}
	}
	return strings.Join(parts, ";")
}

// declaringRecorder is a Recorder that keeps the count the source
// declared and whether it came before the first member.
type declaringRecorder struct {
	Recorder
	mu            sync.Mutex
	declared      int64
	declaredFirst bool
	emitted       bool
}

func (r *declaringRecorder) Emit(m *audience.Member) error {
	r.mu.Lock()
	r.emitted = true
	r.mu.Unlock()
	return r.Recorder.Emit(m)
}

func (r *declaringRecorder) Declare(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.declared < 0 {
		r.declaredFirst = !r.emitted
	}
	r.declared = n
}

// Declared is the last declared count, -1 when none was.
func (r *declaringRecorder) Declared() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.declared
}

// RecordOf writes m as a source record whose fields req names: the key
// under req.Key, each identifier under its req.Fields field, each consent
// answer under its req.Consent field (ConsentValue) and each attribute
// under its req.Attributes field (AttrText), leaving out what is empty, as
// a CRM leaves an unset property out. Harnesses fill their backends with
// it.
func RecordOf(m audience.Member, req connectors.ReadRequest) map[string]string {
	rec := map[string]string{}
	set := func(field, v string) {
		if field != "" && v != "" {
			rec[field] = v
		}
	}
	set(req.Key, m.Key)
	for k, f := range req.Fields {
		set(f, m.Fields[k])
	}
	set(req.Consent.AdUserData, ConsentValue(m.Consent.AdUserData))
	set(req.Consent.AdPersonalization, ConsentValue(m.Consent.AdPersonalization))
	for i, a := range req.Attributes {
		if i < len(m.Attrs) {
			set(a.Field, AttrText(m.Attrs[i]))
		}
	}
	return rec
}
