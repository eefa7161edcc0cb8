package normalize

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
)

// appendEmail appends the normalised address: trimmed, lower-cased, exactly
// one "@" with something on both sides, no white space or control
// character inside. With gmailDots (Google) the dots of a gmail.com or
// googlemail.com local part are removed, since Gmail ignores them. Nothing
// else is rewritten: "+tags" stay.
//
// ASCII addresses, nearly all of them, take one pass over the bytes; the
// first byte above 0x7f sends the address to the Unicode path.
func appendEmail(dst []byte, raw string, gmailDots bool) ([]byte, Reason) {
	s := trimASCII(raw)
	if s == "" {
		return dst, ReasonEmailEmpty
	}
	out, at, r, ascii := scanEmail(dst, s, false)
	if !ascii {
		s, _, r = prepare(s)
		switch {
		case r != "":
			return dst, r
		case s == "":
			return dst, ReasonEmailEmpty
		case strings.IndexFunc(s, isSpaceRune) >= 0:
			return dst, ReasonEmailMalformed
		}
		out, at, r, _ = scanEmail(dst, lowerUnicode(s), true)
	}
	if r != "" {
		return dst, r
	}
	if !gmailDots {
		return out, ""
	}
	start := len(dst)
	if d := out[start+at+1:]; string(d) != "gmail.com" && string(d) != "googlemail.com" {
		return out, ""
	}
	// Squeeze the dots out of the local part, a run at a time.
	w, rest := start, out[start:start+at]
	for {
		j := bytes.IndexByte(rest, '.')
		if j < 0 {
			w += copy(out[w:], rest)
			break
		}
		w += copy(out[w:], rest[:j])
		rest = rest[j+1:]
	}
	if w == start {
		return dst, ReasonEmailMalformed
	}
	return append(out[:w], out[start+at:]...), ""
}

// scanEmail lower-cases s (ASCII letters; s is already lower-cased if it
// is not ASCII) onto dst and checks the shape. at is the offset of the "@"
// in what was appended. Unless unicode is set, ascii comes back false at
// the first non-ASCII byte and nothing else is reported.
func scanEmail(dst []byte, s string, unicode bool) (out []byte, at int, r Reason, ascii bool) {
	// The shape first, with the vectorised byte search. Non-ASCII input
	// may yet turn out empty once Unicode spaces are trimmed, so it is
	// judged on the Unicode path.
	at = strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.IndexByte(s[at+1:], '@') >= 0 {
		if !unicode && !isASCII(s) {
			return dst, 0, "", false
		}
		return dst, 0, ReasonEmailMalformed, true
	}
	start := len(dst)
	if cap(dst)-start < len(s) {
		dst = slices.Grow(dst, len(s))
	}
	out = dst[:start+len(s)]
	b := out[start:]
	b = b[:len(s)]
	// Eight bytes at a time while they are printable ASCII, the last word
	// overlapping the one before (lower-casing twice is harmless).
	if len(s) >= 8 {
		for i := 0; ; i += 8 {
			i = min(i, len(s)-8)
			w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
				uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
			if !printable8(w) {
				break
			}
			binary.LittleEndian.PutUint64(b[i:], lower8(w))
			if i == len(s)-8 {
				return out, at, "", true
			}
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c <= ' ' || c == 0x7f:
			return dst, 0, ReasonEmailMalformed, true
		case c >= 0x80 && !unicode:
			return dst, 0, "", false
		}
		b[i] = c
	}
	return out, at, "", true
}

const (
	ones8 = 0x0101010101010101
	high8 = 0x8080808080808080
)

// printable8 reports whether the eight bytes of w all lie in 0x21..0x7e
// (the classic has-less and has-zero bit tricks, which are exact about
// whether some byte qualifies, if not about which).
func printable8(w uint64) bool {
	x := w ^ 0x7f*ones8
	return (w|(w-0x21*ones8)&^w|(x-ones8)&^x)&high8 == 0
}

// lower8 lower-cases the ASCII letters among eight ASCII bytes.
func lower8(w uint64) uint64 {
	geA := w + (0x80-'A')*ones8
	gtZ := w + (0x80-'Z'-1)*ones8
	upper := (geA ^ gtZ) & high8
	return w | upper>>2
}
