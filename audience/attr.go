package audience

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// AttrType is the type of a member attribute: what a sync asks a source to
// hand over besides identifiers and consent (a country, a lifecycle stage,
// the time of the last visit), for segmentation. Attributes never reach a
// destination or the state store.
type AttrType uint8

// Attribute types. The zero AttrType is no type: the type of a missing
// value.
const (
	AttrString AttrType = iota + 1 // text, as the source has it (trimmed)
	AttrNumber                     // a float64
	AttrBool                       // true or false
	AttrTime                       // an instant, in UTC
)

var attrTypeNames = [...]string{"", "string", "number", "bool", "timestamp"}

// String returns the type's name as written in configs.
func (t AttrType) String() string {
	if int(t) < len(attrTypeNames) && t != 0 {
		return attrTypeNames[t]
	}
	return fmt.Sprintf("attrtype(%d)", uint8(t))
}

// ParseAttrType reads a type as written in configs: string, number, bool or
// timestamp.
func ParseAttrType(s string) (AttrType, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for t := AttrString; t <= AttrTime; t++ {
		if attrTypeNames[t] == name {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown attribute type %q (known: %s)", s, strings.Join(attrTypeNames[1:], ", "))
}

// Value is one attribute value of a member: a string, a number, a bool or
// an instant — or no value, either missing (the source had nothing) or
// invalid (the source had a value that does not parse as the attribute's
// type). An invalid value reads as missing; it is told apart only to be
// counted. Value is 32 bytes and holds no pointer but its string's, so a
// slice of them per chunk of members costs one allocation.
//
// Value has no method that prints what it holds: %v of a Value shows its
// type only, so a value cannot end up in a log by accident.
type Value struct {
	typ     AttrType
	invalid bool
	str     string
	// bits: math.Float64bits for numbers, 0 or 1 for bools, Unix
	// nanoseconds for instants.
	bits uint64
}

// StringValue returns s as a string value.
func StringValue(s string) Value { return Value{typ: AttrString, str: s} }

// NumberValue returns f as a number value; NaN and infinities are invalid.
func NumberValue(f float64) Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return InvalidValue()
	}
	return Value{typ: AttrNumber, bits: math.Float64bits(f)}
}

// BoolValue returns b as a bool value.
func BoolValue(b bool) Value {
	v := Value{typ: AttrBool}
	if b {
		v.bits = 1
	}
	return v
}

// Instants a Value can hold: those time.Time.UnixNano represents.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// TimeValue returns t as an instant. Instants before 1678 or after 2262
// (outside Unix nanoseconds) are invalid: no CRM date of a member is.
func TimeValue(t time.Time) Value {
	if t.Before(minTime) || t.After(maxTime) {
		return InvalidValue()
	}
	return Value{typ: AttrTime, bits: uint64(t.UnixNano())}
}

// InvalidValue is the value of an attribute whose source value did not
// parse: it reads as missing and is counted as invalid.
func InvalidValue() Value { return Value{invalid: true} }

// Type returns the value's type, or zero when it has none (missing or
// invalid).
func (v Value) Type() AttrType { return v.typ }

// Present reports whether v holds a value.
func (v Value) Present() bool { return v.typ != 0 }

// Invalid reports whether the source had a value that did not parse.
func (v Value) Invalid() bool { return v.invalid }

// Text returns a string value.
func (v Value) Text() (string, bool) { return v.str, v.typ == AttrString }

// Number returns a number value.
func (v Value) Number() (float64, bool) { return math.Float64frombits(v.bits), v.typ == AttrNumber }

// Bool returns a bool value.
func (v Value) Bool() (value, ok bool) { return v.bits == 1, v.typ == AttrBool }

// Time returns an instant, in UTC.
func (v Value) Time() (time.Time, bool) {
	if v.typ != AttrTime {
		return time.Time{}, false
	}
	return time.Unix(0, int64(v.bits)).UTC(), true
}

// String says what sort of value v is, never the value itself.
func (v Value) String() string {
	switch {
	case v.typ != 0:
		return v.typ.String() + " value"
	case v.invalid:
		return "invalid value"
	}
	return "missing value"
}

// GoString is String, so %#v does not print the value either.
func (v Value) GoString() string { return v.String() }

// DateLayout is the date-only layout every timestamp attribute accepts
// besides RFC 3339: a date is midnight UTC.
const DateLayout = "2006-01-02"

// isoLayouts are the ISO 8601 forms read besides a configured layout:
// RFC 3339 (fractional seconds optional), the same with an offset without
// a colon (Salesforce's 2018-12-10T17:50:19.000+0000) and a date alone.
var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", DateLayout}

// ParseAttr parses raw, as a text source has it, as a value of type t.
// Blank is missing; what does not parse is invalid. Numbers are decimal,
// with '.' for the decimal point and an optional exponent (no thousands
// separators, no NaN or infinities); bools are true/false, yes/no or 1/0
// in any case; timestamps are read with layout first when it is set
// (zone-less layouts in UTC), then as RFC 3339, ISO 8601 with a +hhmm
// offset, or a date (2006-01-02). Strings are trimmed.
func ParseAttr(t AttrType, raw, layout string) Value {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Value{}
	}
	switch t {
	case AttrString:
		return StringValue(s)
	case AttrNumber:
		if !isDecimal(s) {
			return InvalidValue()
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return InvalidValue()
		}
		return NumberValue(f)
	case AttrBool:
		switch strings.ToLower(s) {
		case "true", "yes", "1":
			return BoolValue(true)
		case "false", "no", "0":
			return BoolValue(false)
		}
		return InvalidValue()
	case AttrTime:
		if layout != "" {
			if ts, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				return TimeValue(ts)
			}
		}
		for _, l := range isoLayouts {
			if ts, err := time.ParseInLocation(l, s, time.UTC); err == nil {
				return TimeValue(ts)
			}
		}
	}
	return InvalidValue()
}

// isDecimal reports whether s is made of what a decimal number written
// with '.' holds, so that ParseFloat's hexadecimal, underscores, "inf" and
// "nan" are refused and a decimal comma is not read as something else.
func isDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}
