package normalize

import (
	"bytes"
	"unicode/utf8"
)

// appendTrimmed appends raw trimmed and in NFC: clear values sent as
// written (Google postal code, external ids).
func appendTrimmed(dst []byte, raw string, empty Reason) ([]byte, Reason) {
	s, _, r := prepareNonEmpty(raw, empty)
	if r != "" {
		return dst, r
	}
	return append(dst, s...), ""
}

// prepareNonEmpty is prepare, answering empty for a value that is blank
// once trimmed.
func prepareNonEmpty(raw string, empty Reason) (s string, ascii bool, r Reason) {
	s, ascii, r = prepare(raw)
	if r == "" && s == "" {
		r = empty
	}
	return s, ascii, r
}

// appendLowerKept appends raw prepared and lower-cased, keeping the runes
// keep says; empty when it keeps none.
func appendLowerKept(dst []byte, raw string, keep func(rune) bool, empty Reason) ([]byte, Reason) {
	s, ascii, r := prepare(raw)
	if r != "" {
		return dst, r
	}
	out := appendLowerFiltered(dst, s, ascii, keep)
	if len(out) == len(dst) {
		return dst, empty
	}
	return out, ""
}

// appendName normalises a given or family name: lower case, keeping the
// runes keep says.
func appendName(dst []byte, raw string, keep func(rune) bool) ([]byte, Reason) {
	return appendLowerKept(dst, raw, keep, ReasonNameEmpty)
}

// appendInitial is Meta's FI: the first letter of the normalised name.
func appendInitial(dst []byte, raw string) ([]byte, Reason) {
	out, r := appendName(dst, raw, isLetter)
	if r != "" {
		return dst, r
	}
	_, n := utf8.DecodeRune(out[len(dst):])
	return out[:len(dst)+n], ""
}

// appendLetters lower-cases raw and keeps letters only (Meta CT:
// "Washington D.C" → "washingtondc").
func appendLetters(dst []byte, raw string, empty Reason) ([]byte, Reason) {
	return appendLowerKept(dst, raw, isLetter, empty)
}

// appendState is Meta ST. In the US it is the two-letter postal code,
// lower case; a state name is mapped to its code and anything else is
// rejected. Elsewhere: lower case without punctuation or white space.
func appendState(dst []byte, raw string, country [2]byte) ([]byte, Reason) {
	out, r := appendLowerKept(dst, raw, isLetterOrDigit, ReasonStateEmpty)
	if r != "" {
		return dst, r
	}
	if country != [2]byte{'U', 'S'} {
		return out, ""
	}
	code, ok := usStates[string(out[len(dst):])]
	if !ok {
		return dst, ReasonStateUnknown
	}
	return append(dst, code...), ""
}

// appendMetaZip is Meta ZIP as Meta's own SDK normalises it: lower case,
// no white space, only the part before the first "-" whatever the country
// ("98121-4892" → "98121"), at least two characters; in the US the first
// five digits ("981214892" → "98121"); elsewhere as written ("NR9 5AL" →
// "nr95al").
func appendMetaZip(dst []byte, raw string, country [2]byte) ([]byte, Reason) {
	out, r := appendLowerKept(dst, raw, notSpace, ReasonZipEmpty)
	if r != "" {
		return dst, r
	}
	if i := bytes.IndexByte(out[len(dst):], '-'); i >= 0 {
		out = out[:len(dst)+i]
	}
	if len(out)-len(dst) < 2 {
		return dst, ReasonZipMalformed
	}
	if country != [2]byte{'U', 'S'} {
		return out, ""
	}
	z := out[len(dst):]
	if len(z) < 5 {
		return dst, ReasonZipMalformed
	}
	for _, c := range z[:5] {
		if c < '0' || c > '9' {
			return dst, ReasonZipMalformed
		}
	}
	return out[:len(dst)+5], ""
}

// appendGender is Meta GEN: m or f.
func appendGender(dst []byte, raw string) ([]byte, Reason) {
	s, _, r := prepareNonEmpty(raw, ReasonGenderEmpty)
	if r != "" {
		return dst, r
	}
	var buf [8]byte
	if len(s) > len(buf) {
		return dst, ReasonGenderUnknown
	}
	switch string(appendLower(buf[:0], s, isASCII(s))) {
	case "m", "male":
		return append(dst, 'm'), ""
	case "f", "female":
		return append(dst, 'f'), ""
	}
	return dst, ReasonGenderUnknown
}

// appendBirthPart is Meta DOBY, DOBM and DOBD: decimal digits, in range
// [lo, hi], zero-padded to width.
func appendBirthPart(dst []byte, raw string, width, lo, hi int) ([]byte, Reason) {
	s, _, r := prepareNonEmpty(raw, ReasonDOBEmpty)
	if r != "" {
		return dst, r
	}
	if len(s) > width {
		return dst, ReasonDOBMalformed
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return dst, ReasonDOBMalformed
		}
		n = n*10 + int(c-'0')
	}
	if width == 4 && len(s) != 4 {
		return dst, ReasonDOBMalformed
	}
	if n < lo || n > hi {
		return dst, ReasonDOBOutOfRange
	}
	for range width - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...), ""
}

// isUUID reports whether s has the 8-4-4-4-12 hex shape of an IDFA or an
// Android advertising id.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// appendMADID is Meta MADID, sent in clear: an advertising id, lower case,
// hyphens kept.
func appendMADID(dst []byte, raw string) ([]byte, Reason) {
	s, _, r := prepareNonEmpty(raw, ReasonMobileIDEmpty)
	if r != "" {
		return dst, r
	}
	if !isUUID(s) {
		return dst, ReasonMobileIDMalformed
	}
	return appendLower(dst, s, true), ""
}

// appendDeviceID is X device_id: an IDFA or advertising id lower case with
// dashes; any other device id (an Android ID) as the device reports it.
func appendDeviceID(dst []byte, raw string) ([]byte, Reason) {
	s, ascii, r := prepareNonEmpty(raw, ReasonMobileIDEmpty)
	if r != "" {
		return dst, r
	}
	if isUUID(s) {
		return appendLower(dst, s, true), ""
	}
	if !ascii {
		return dst, ReasonMobileIDMalformed
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return dst, ReasonMobileIDMalformed
		}
	}
	return append(dst, s...), ""
}

// appendHandle is X handle: without "@", lower case; X handles are 1 to 15
// letters, digits or underscores.
func appendHandle(dst []byte, raw string) ([]byte, Reason) {
	s, _, r := prepare(raw)
	if r != "" {
		return dst, r
	}
	if len(s) > 0 && s[0] == '@' {
		s = s[1:]
	}
	if s == "" {
		return dst, ReasonHandleEmpty
	}
	if len(s) > 15 {
		return dst, ReasonHandleMalformed
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return dst, ReasonHandleMalformed
		}
	}
	return appendLower(dst, s, true), ""
}

// appendTwitterID is X twitter_id: the numeric user id.
func appendTwitterID(dst []byte, raw string) ([]byte, Reason) {
	s, _, r := prepareNonEmpty(raw, ReasonTwitterIDEmpty)
	if r != "" {
		return dst, r
	}
	if len(s) > 20 {
		return dst, ReasonTwitterIDMalformed
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return dst, ReasonTwitterIDMalformed
		}
	}
	return append(dst, s...), ""
}
