package state

import "time"

// UnixMicros is how the stores keep a time: unix microseconds. The zero
// time has its own (very negative) value, which FromUnixMicros gives back
// as the zero time.
func UnixMicros(t time.Time) int64 { return t.UnixMicro() }

// FromUnixMicros reverses UnixMicros, in UTC.
func FromUnixMicros(v int64) time.Time {
	t := time.UnixMicro(v).UTC()
	if t.IsZero() {
		return time.Time{}
	}
	return t
}
