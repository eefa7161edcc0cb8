package normalize

import (
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Phone numbers become E.164 ("+" country code, national significant
// number) and must be valid by libphonenumber's IsValidNumber: the number
// has to fit the pattern of a number type of its region, not only a
// possible length. A number that cannot match anyone is rejected
// (phone.invalid) instead of being uploaded as a hash nobody has.
//
// Two paths give the same answer. The parser path is phonenumbers.Parse,
// IsValidNumber and Format(E164), well over 10µs a number. The fast path
// handles what CRM exports nearly always hold — ASCII digits with spaces,
// dashes, dots, slashes and parentheses, optionally after one "+" — by
// replaying the parser's steps (country code extraction, national prefix
// stripping with its viability checks, length tests, the choice of region
// among those sharing a calling code, type patterns) on metadata compiled
// to digit automata. Anything else — letters, extensions, non-ASCII digits,
// an international dialling prefix of the default region, metadata the
// automata do not model — takes the parser path. TestPhoneFastPathAgrees
// checks the two against each other.
//
// Beyond the parser: a leading "00" followed by a non-zero digit is read as
// an international prefix everywhere (as "+"), even where the default
// region dials out with another prefix, because exports from Europe write
// numbers that way; and a national number with no region is rejected
// (phone.no_country), never guessed.

// appendE164 appends the E.164 form of raw to dst. country is the
// upper-case region for national numbers, zero when unknown.
func appendE164(dst []byte, raw string, country [2]byte) ([]byte, Reason) {
	s, ascii, r := prepare(raw)
	if r != "" {
		return dst, r
	}
	if s == "" {
		return dst, ReasonPhoneEmpty
	}
	ix := phones()
	var def *lazyRegion
	if country != ([2]byte{}) {
		def = ix.regions[regionSlot(country[0], country[1])]
	}
	if ascii {
		if out, st, r := appendE164Fast(dst, ix, s, def); st != fastSlow {
			return out, r
		}
	}
	region := ""
	if def != nil {
		region = string(country[:])
	}
	return appendE164Parser(dst, s, region)
}

type fastStatus uint8

const (
	fastDone fastStatus = iota // a result or a rejection
	fastSlow                   // the parser must decide
)

// maxParserInput is the longest input phonenumbers.Parse looks at.
const maxParserInput = 250

// isPhonePunct reports the formatting the fast path skips; the parser
// accepts them anywhere between digits.
func isPhonePunct(c byte) bool {
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/'
}

// maxFastDigits bounds the digits the fast path looks at; longer input is
// far beyond any valid number and the parser rejects it.
const maxFastDigits = 24

// appendE164Fast is the fast path for ASCII input.
func appendE164Fast(dst []byte, ix *phoneIndex, s string, def *lazyRegion) ([]byte, fastStatus, Reason) {
	if len(s) > maxParserInput {
		return dst, fastSlow, ""
	}
	var buf [maxFastDigits]byte
	digits := buf[:0]
	plus := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			if len(digits) == maxFastDigits {
				return dst, fastSlow, ""
			}
			digits = append(digits, c)
		case c == '+' && len(digits) == 0 && !plus:
			plus = true
		case isPhonePunct(c):
		default:
			return dst, fastSlow, ""
		}
	}
	if len(digits) == 0 {
		return dst, fastDone, ReasonPhoneNoDigits
	}
	if len(digits) < 3 {
		return dst, fastSlow, ""
	}
	if !plus && digits[0] == '0' && digits[1] == '0' && digits[2] != '0' {
		plus, digits = true, digits[2:]
	}
	if !plus && def == nil {
		return dst, fastDone, ReasonPhoneNoCountry
	}
	cc, nsn, st := ix.nationalSignificant(digits, plus, def)
	switch {
	case st == fastSlow:
		return dst, fastSlow, ""
	case cc == 0:
		return dst, fastDone, ReasonPhoneInvalid
	}
	valid, st := ix.valid(cc, nsn)
	switch {
	case st == fastSlow:
		return dst, fastSlow, ""
	case !valid:
		return dst, fastDone, ReasonPhoneInvalid
	}
	dst = append(dst, '+')
	dst = appendInt(dst, cc)
	return append(dst, nsn...), fastDone, ""
}

// nationalSignificant splits digits into calling code and national
// significant number as phonenumbers.Parse does; cc is 0 where the parser
// would fail.
func (ix *phoneIndex) nationalSignificant(digits []byte, plus bool, def *lazyRegion) (cc int, nsn []byte, st fastStatus) {
	var reg *phoneRegion
	if plus {
		if len(digits) <= 2 {
			return 0, nil, fastDone
		}
		cc, nsn = ix.splitCallingCode(digits)
		if cc == 0 {
			return 0, nil, fastSlow // the parser retries without the "+"
		}
		if reg = ix.mainRegion(cc); reg == nil {
			return 0, nil, fastSlow
		}
	} else {
		d := def.get()
		if d == nil || d.idd != nil && d.idd.prefix(digits) {
			return 0, nil, fastSlow
		}
		// A national number may start with the region's own calling code
		// written without "+"; the parser takes it as such when that makes
		// the number fit the region better.
		if len(digits) > len(d.ccStr) && string(digits[:len(d.ccStr)]) == d.ccStr {
			rest := d.stripNationalPrefix(digits[len(d.ccStr):])
			full, national := d.general.dfa.full(digits), d.general.dfa.full(rest)
			if !full && national || d.testLength(len(digits)) == lengthTooLong {
				cc, nsn = d.cc, rest
				if reg = ix.mainRegion(cc); reg == nil {
					return 0, nil, fastSlow
				}
			}
		}
		if cc == 0 {
			cc, nsn, reg = d.cc, digits, d
		}
	}
	if len(nsn) < 2 {
		return 0, nil, fastDone
	}
	// Strip the national prefix only where what remains has a possible
	// length: otherwise the original could be a short number.
	if p := reg.stripNationalPrefix(nsn); len(p) != len(nsn) || string(p) != string(nsn) {
		switch reg.testLength(len(p)) {
		case lengthTooShort, lengthLocalOnly, lengthInvalid:
		default:
			nsn = p
		}
	}
	if len(nsn) < 2 || len(nsn) > 17 {
		return 0, nil, fastDone
	}
	return cc, nsn, fastDone
}

// splitCallingCode reads the one to three digit calling code at the start
// of digits.
func (ix *phoneIndex) splitCallingCode(digits []byte) (int, []byte) {
	if digits[0] == '0' {
		return 0, nil
	}
	cc := 0
	for i := 0; i < 3 && i < len(digits); i++ {
		cc = cc*10 + int(digits[i]-'0')
		if len(ix.ccRegions[cc]) > 0 {
			return cc, digits[i+1:]
		}
	}
	return 0, nil
}

// mainRegion is the region whose metadata the parser uses for a calling
// code.
func (ix *phoneIndex) mainRegion(cc int) *phoneRegion {
	ids := ix.ccRegions[cc]
	if len(ids) == 0 {
		return nil
	}
	return ix.byID(ids[0], cc).get()
}

// valid is phonenumbers.IsValidNumber: pick the region among those sharing
// the calling code (by leading digits, else by full validation), then
// validate against it.
func (ix *phoneIndex) valid(cc int, nsn []byte) (bool, fastStatus) {
	ids := ix.ccRegions[cc]
	if len(ids) == 1 {
		r := ix.byID(ids[0], cc).get()
		if r == nil {
			return false, fastSlow
		}
		return r.valid(nsn), fastDone
	}
	for _, id := range ids {
		r := ix.byID(id, cc).get()
		if r == nil {
			return false, fastSlow
		}
		if r.leading != nil {
			if r.leading.prefix(nsn) {
				return r.valid(nsn), fastDone
			}
		} else if r.valid(nsn) {
			return true, fastDone
		}
	}
	return false, fastDone
}

// appendE164Parser is the parser path.
func appendE164Parser(dst []byte, s string, region string) ([]byte, Reason) {
	if strings.IndexFunc(s, unicode.IsDigit) < 0 {
		return dst, ReasonPhoneNoDigits
	}
	s = rewriteIDD00(s)
	if region == "" && !strings.ContainsAny(s, "+＋") {
		return dst, ReasonPhoneNoCountry
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return dst, ReasonPhoneInvalid
	}
	return append(dst, phonenumbers.Format(num, phonenumbers.E164)...), ""
}

// rewriteIDD00 turns a leading "00" international prefix into "+", as the
// fast path does: the first two digits, with only formatting before and
// between them and no "+", are zeros followed by a non-zero digit.
func rewriteIDD00(s string) string {
	zeros := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isPhonePunct(c):
		case c == '0' && zeros < 2:
			zeros++
		case '1' <= c && c <= '9' && zeros == 2:
			return "+" + s[i:]
		default:
			return s
		}
	}
	return s
}
