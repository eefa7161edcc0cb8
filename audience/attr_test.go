package audience

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestParseAttr(t *testing.T) {
	t.Parallel()
	at := func(s string) Value {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return TimeValue(ts)
	}
	for _, tc := range []struct {
		name   string
		typ    AttrType
		raw    string
		layout string
		want   Value
	}{
		{"string trimmed", AttrString, "  lead ", "", StringValue("lead")},
		{"blank is missing", AttrNumber, "  ", "", Value{}},
		{"integer", AttrNumber, "12", "", NumberValue(12)},
		{"decimal point", AttrNumber, "-3.25", "", NumberValue(-3.25)},
		{"exponent", AttrNumber, "1e3", "", NumberValue(1000)},
		{"decimal comma", AttrNumber, "3,25", "", InvalidValue()},
		{"thousands", AttrNumber, "1,000", "", InvalidValue()},
		{"hexadecimal", AttrNumber, "0x10", "", InvalidValue()},
		{"nan", AttrNumber, "NaN", "", InvalidValue()},
		{"inf", AttrNumber, "Inf", "", InvalidValue()},
		{"overflow", AttrNumber, "1e400", "", InvalidValue()},
		{"text", AttrNumber, "twelve", "", InvalidValue()},
		{"true", AttrBool, "TRUE", "", BoolValue(true)},
		{"yes", AttrBool, "yes", "", BoolValue(true)},
		{"1", AttrBool, "1", "", BoolValue(true)},
		{"false", AttrBool, "False", "", BoolValue(false)},
		{"no", AttrBool, "no", "", BoolValue(false)},
		{"0", AttrBool, "0", "", BoolValue(false)},
		{"maybe", AttrBool, "maybe", "", InvalidValue()},
		{"rfc3339", AttrTime, "2026-11-30T08:15:00Z", "", at("2026-11-30T08:15:00Z")},
		{"rfc3339 offset fraction", AttrTime, "2026-11-30T09:15:00.250+01:00", "", at("2026-11-30T08:15:00.25Z")},
		{"offset without colon", AttrTime, "2018-12-10T17:50:19.000+0000", "", at("2018-12-10T17:50:19Z")},
		{"date only", AttrTime, "2026-11-30", "", at("2026-11-30T00:00:00Z")},
		{"layout in utc", AttrTime, "30/11/2026 08:15", "02/01/2006 15:04", at("2026-11-30T08:15:00Z")},
		{"layout set, rfc3339 still read", AttrTime, "2026-11-30T08:15:00Z", "02/01/2006 15:04", at("2026-11-30T08:15:00Z")},
		{"not a time", AttrTime, "yesterday", "", InvalidValue()},
		{"american date without layout", AttrTime, "11/30/2026", "", InvalidValue()},
		{"before 1678", AttrTime, "1600-01-01", "", InvalidValue()},
		{"unknown type", 0, "x", "", InvalidValue()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ParseAttr(tc.typ, tc.raw, tc.layout); got != tc.want {
				t.Errorf("ParseAttr(%v, %q, %q) = %#v %+v, want %#v %+v", tc.typ, tc.raw, tc.layout, got, got.bits, tc.want, tc.want.bits)
			}
		})
	}
}

func TestValueAccessors(t *testing.T) {
	t.Parallel()
	if s, ok := StringValue("x").Text(); !ok || s != "x" {
		t.Errorf("Text = %q, %v", s, ok)
	}
	if f, ok := NumberValue(2.5).Number(); !ok || f != 2.5 {
		t.Errorf("Number = %v, %v", f, ok)
	}
	if b, ok := BoolValue(true).Bool(); !ok || !b {
		t.Errorf("Bool = %v, %v", b, ok)
	}
	when := time.Date(2026, 12, 1, 10, 0, 0, 5, time.FixedZone("x", 3600))
	if ts, ok := TimeValue(when).Time(); !ok || !ts.Equal(when) || ts.Location() != time.UTC {
		t.Errorf("Time = %v, %v", ts, ok)
	}
	if _, ok := NumberValue(1).Text(); ok {
		t.Error("a number read as text")
	}
	if v := NumberValue(math.NaN()); v.Present() || !v.Invalid() {
		t.Error("NaN is a value")
	}
	var missing Value
	if missing.Present() || missing.Invalid() {
		t.Error("the zero Value is not missing")
	}
	if size := unsafe.Sizeof(Value{}); size > 32 {
		t.Errorf("Value is %d bytes, want at most 32: a chunk holds 512 members' worth", size)
	}
}

// TestValueDoesNotPrint guards logs: formatting a Value shows its type,
// never what it holds.
func TestValueDoesNotPrint(t *testing.T) {
	t.Parallel()
	secret := "zz-distinctive-attr-value"
	for _, v := range []Value{StringValue(secret), NumberValue(987654321), InvalidValue(), {}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, v)
			if out == "" || strings.Contains(out, secret) || strings.Contains(out, "987654321") {
				t.Errorf("%s of a Value printed %q", verb, out)
			}
		}
	}
	if got := fmt.Sprint([]Value{StringValue(secret)}); strings.Contains(got, secret) {
		t.Errorf("a slice of Values printed %q", got)
	}
}

func TestParseAttrType(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want AttrType
		err  bool
	}{
		{"string", AttrString, false}, {"Number", AttrNumber, false}, {"bool", AttrBool, false},
		{"timestamp", AttrTime, false}, {"date", 0, true}, {"", 0, true},
	} {
		got, err := ParseAttrType(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseAttrType(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestResetKeepsAttrs(t *testing.T) {
	t.Parallel()
	m := Member{Key: "k", Attrs: make([]Value, 2)}
	m.Attrs[0] = StringValue("x")
	backing := &m.Attrs[0]
	m.Reset()
	if m.Key != "" || len(m.Attrs) != 2 || &m.Attrs[0] != backing || m.Attrs[0].Present() {
		t.Errorf("Reset: key %q, %d attrs, same storage %v, first present %v", m.Key, len(m.Attrs), &m.Attrs[0] == backing, m.Attrs[0].Present())
	}
}
