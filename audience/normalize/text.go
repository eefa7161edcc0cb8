package normalize

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// isSpaceRune reports whether r is trimmed and, where a rule says so,
// removed: Unicode White_Space plus the zero-width characters that CRM
// exports carry invisibly (zero-width space, joiners, word joiner, BOM).
func isSpaceRune(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff':
		return true
	}
	return unicode.IsSpace(r)
}

// isASCIISpace reports ASCII white space: ' ' and \t, \n, \v, \f, \r,
// which are 9 to 13 (one unsigned comparison instead of five: prepare and
// trimASCII ask for every value).
func isASCIISpace(c byte) bool {
	return c == ' ' || c-'\t' <= '\r'-'\t'
}

// isControl reports a control character that is not white space: C0
// controls, DEL and the C1 range.
func isControl(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }

// isASCII reports whether every byte of s is below 0x80.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// trimASCII trims ASCII white space from both ends of s.
func trimASCII(s string) string {
	for len(s) > 0 && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// prepare trims raw and brings it to NFC. ASCII input (the common case) is
// only trimmed: it is already in NFC. Invalid UTF-8 is rejected, so every
// later rule works on well-formed text.
func prepare(raw string) (s string, ascii bool, r Reason) {
	ascii = true
	for i := printablePrefix(raw); i < len(raw); i++ {
		c := raw[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		// A control character is a sign of a corrupt export; filtering
		// it out would hash "Jo\x00hn" as "John" without a word.
		if c < ' ' && !isASCIISpace(c) || c == 0x7f {
			return "", true, ReasonControlChar
		}
	}
	if ascii {
		return trimASCII(raw), true, ""
	}
	if !utf8.ValidString(raw) {
		return "", false, ReasonInvalidUTF8
	}
	if strings.IndexFunc(raw, isControl) >= 0 {
		return "", false, ReasonControlChar
	}
	s = strings.TrimFunc(raw, isSpaceRune)
	s = norm.NFC.String(s)
	return s, isASCII(s), ""
}

// printablePrefix is how many leading bytes of s, a multiple of eight,
// are printable ASCII (0x20 to 0x7e), read a word at a time: what prepare
// need not look at byte by byte. Per byte b of the word, b|(b-0x20)
// |((b^0x7f)-1) has its high bit set exactly when b is 0x80 or above,
// below 0x20, or 0x7f; a borrow from a byte below only comes from such a
// byte, so the word test is exact.
func printablePrefix(s string) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if (w|(w-0x20*ones)|((w^0x7f*ones)-ones))&highs != 0 {
			break
		}
	}
	return i
}

// casers pools full Unicode lower-casers: a cases.Caser keeps state and is
// not safe for concurrent use.
var casers = sync.Pool{New: func() any { c := cases.Lower(language.Und); return &c }}

// lowerUnicode lower-cases s with the full Unicode mapping (final sigma
// included, as the platforms' own utilities do) and returns it in NFC.
func lowerUnicode(s string) string {
	c := casers.Get().(*cases.Caser)
	s = c.String(s)
	casers.Put(c)
	return norm.NFC.String(s)
}

// appendLower appends s lower-cased to dst; s is in NFC.
func appendLower(dst []byte, s string, ascii bool) []byte {
	if !ascii {
		return append(dst, lowerUnicode(s)...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendLowerFiltered lower-cases s and keeps only the runes keep accepts.
func appendLowerFiltered(dst []byte, s string, ascii bool, keep func(rune) bool) []byte {
	if !ascii {
		s = lowerUnicode(s)
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if keep(rune(c)) {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if keep(r) {
			dst = utf8.AppendRune(dst, r)
		}
		i += n
	}
	return dst
}

// isLetter keeps letters in any script and the combining marks that are
// part of them (Indic vowel signs, decomposed accents).
func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.In(r, unicode.Mn, unicode.Mc)
}

// isLetterOrDigit keeps letters, marks and digits.
func isLetterOrDigit(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return isLetter(r) || unicode.IsDigit(r)
}

// notSpace drops white space and zero-width characters.
func notSpace(r rune) bool { return !isSpaceRune(r) }

// isHex64 reports whether s is exactly 64 hexadecimal digits: a value that
// was hashed upstream.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
