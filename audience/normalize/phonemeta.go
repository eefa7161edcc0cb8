package normalize

import (
	"regexp"
	"regexp/syntax"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// This file compiles libphonenumber's metadata (as shipped in
// github.com/nyaruka/phonenumbers) into the form the fast path reads:
// digit automata for the number patterns, the national prefix as literals
// where it is one, and the lengths. Regions compile on first use.

// numberDesc is one number type of a region: the lengths it allows (none
// listed: any) and its pattern. A nil dfa matches nothing.
type numberDesc struct {
	lengths []int32
	dfa     *digitDFA
}

// matches is libphonenumber's isNumberMatchingDesc: length, then pattern.
func (d *numberDesc) matches(n []byte) bool {
	if d.dfa == nil {
		return false
	}
	if len(d.lengths) > 0 && !hasLength(d.lengths, len(n)) {
		return false
	}
	return d.dfa.full(n)
}

func hasLength(ls []int32, n int) bool {
	for _, l := range ls {
		if int(l) == n {
			return true
		}
	}
	return false
}

// phoneRegion is the compiled metadata of one region (or one
// non-geographical calling code).
type phoneRegion struct {
	cc    int
	ccStr string

	general      numberDesc
	localLengths []int32
	// The types after general that make a number valid, in the order
	// libphonenumber tests them, fixed line and mobile last.
	types           []numberDesc
	fixed, mobile   numberDesc
	sameMobileFixed bool

	// National prefix for parsing: npRe anchored, npFilter says whether
	// any prefix can match, npLits holds the prefix as ordered literal
	// alternatives when it is that simple (then no regexp runs).
	npRe        *regexp.Regexp
	npFilter    *digitDFA
	npLits      []string
	npTransform string

	idd     *digitDFA // some prefix is an international dialling prefix
	leading *digitDFA // leading digits that pick this region; nil: none
}

type lengthResult uint8

const (
	lengthPossible lengthResult = iota
	lengthLocalOnly
	lengthTooShort
	lengthTooLong
	lengthInvalid
)

// testLength is libphonenumber's testNumberLength for an unknown type.
func (r *phoneRegion) testLength(n int) lengthResult {
	pl := r.general.lengths
	if pl[0] == -1 {
		return lengthInvalid
	}
	if hasLength(r.localLengths, n) {
		return lengthLocalOnly
	}
	switch {
	case int(pl[0]) == n:
		return lengthPossible
	case int(pl[0]) > n:
		return lengthTooShort
	case int(pl[len(pl)-1]) < n:
		return lengthTooLong
	case hasLength(pl[1:], n):
		return lengthPossible
	}
	return lengthInvalid
}

// valid is libphonenumber's getNumberTypeHelper(n) != UNKNOWN.
func (r *phoneRegion) valid(n []byte) bool {
	if !r.general.matches(n) {
		return false
	}
	for i := range r.types {
		if r.types[i].matches(n) {
			return true
		}
	}
	if r.fixed.matches(n) {
		return true
	}
	return !r.sameMobileFixed && r.mobile.matches(n)
}

// stripNationalPrefix is libphonenumber's
// maybeStripNationalPrefixAndCarrierCode: it removes (or transforms) a
// national prefix unless doing so turns a number that fits the region's
// pattern into one that does not.
func (r *phoneRegion) stripNationalPrefix(n []byte) []byte {
	if len(n) == 0 || r.npRe == nil || !r.npFilter.prefix(n) {
		return n
	}
	if r.npLits != nil {
		for _, l := range r.npLits {
			if len(n) >= len(l) && string(n[:len(l)]) == l {
				if r.general.dfa.full(n) && !r.general.dfa.full(n[len(l):]) {
					return n
				}
				return n[len(l):]
			}
		}
		return n
	}
	// The regexp keeps its input reachable, so it gets a copy and n (on
	// the caller's stack) stays there.
	c := append([]byte(nil), n...)
	groups := r.npRe.FindSubmatchIndex(c)
	if groups == nil {
		return n
	}
	viable := r.general.dfa.full(n)
	last := len(groups)/2 - 1
	if r.npTransform == "" || groups[last*2] < 0 {
		if viable && !r.general.dfa.full(n[groups[1]:]) {
			return n
		}
		return n[groups[1]:]
	}
	t := r.npRe.ReplaceAll(c, []byte(r.npTransform))
	if viable && !r.general.dfa.full(t) {
		return n
	}
	return t
}

// lazyRegion compiles its region on first use. r stays nil when the
// metadata uses something the fast path does not model; numbers of that
// region then go to the parser.
type lazyRegion struct {
	once sync.Once
	meta *phonenumbers.PhoneMetadata
	r    *phoneRegion
}

func (l *lazyRegion) get() *phoneRegion {
	if l == nil {
		return nil
	}
	l.once.Do(func() { l.r = compileRegion(l.meta) })
	return l.r
}

// phoneIndex finds regions by code and by calling code.
type phoneIndex struct {
	regions   [26 * 26]*lazyRegion // supported geographic regions
	nonGeo    map[int]*lazyRegion
	ccRegions [1000][]string // regions of a calling code, main region first
}

var phones = sync.OnceValue(func() *phoneIndex {
	ix := &phoneIndex{nonGeo: map[int]*lazyRegion{}}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		// The metadata is embedded and parsed at the library's init, so
		// this cannot fail; with no index every number takes the parser.
		return ix
	}
	supported := phonenumbers.GetSupportedRegions()
	for _, m := range coll.GetMetadata() {
		id := m.GetId()
		switch {
		case id == "001":
			ix.nonGeo[int(m.GetCountryCode())] = &lazyRegion{meta: m}
		case supported[id] && len(id) == 2:
			ix.regions[regionSlot(id[0], id[1])] = &lazyRegion{meta: m}
		}
	}
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		if cc > 0 && cc < len(ix.ccRegions) {
			ix.ccRegions[cc] = phonenumbers.GetRegionCodesForCountryCode(cc)
		}
	}
	return ix
})

func regionSlot(a, b byte) int { return int(a-'A')*26 + int(b-'A') }

// region returns the lazily compiled region for an upper-case code, or nil
// when libphonenumber does not support it.
func (ix *phoneIndex) region(code string) *lazyRegion {
	if len(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' {
		return nil
	}
	return ix.regions[regionSlot(code[0], code[1])]
}

// byID resolves a region id from a calling code's list ("001" is the
// non-geographical entity of that calling code).
func (ix *phoneIndex) byID(id string, cc int) *lazyRegion {
	if id == "001" {
		return ix.nonGeo[cc]
	}
	return ix.region(id)
}

func compileRegion(m *phonenumbers.PhoneMetadata) *phoneRegion {
	r := &phoneRegion{cc: int(m.GetCountryCode()), sameMobileFixed: m.GetSameMobileAndFixedLinePattern()}
	r.ccStr = itoa(r.cc)
	var err error
	desc := func(d *phonenumbers.PhoneNumberDesc) numberDesc {
		nd := numberDesc{lengths: d.GetPossibleLength()}
		if p := d.GetNationalNumberPattern(); p != "" && err == nil {
			nd.dfa, err = compileDigitDFA(p)
		}
		return nd
	}
	r.general = desc(m.GetGeneralDesc())
	r.localLengths = m.GetGeneralDesc().GetPossibleLengthLocalOnly()
	for _, d := range []*phonenumbers.PhoneNumberDesc{
		m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(), m.GetVoip(),
		m.GetPersonalNumber(), m.GetPager(), m.GetUan(), m.GetVoicemail(),
	} {
		if nd := desc(d); nd.dfa != nil {
			r.types = append(r.types, nd)
		}
	}
	r.fixed = desc(m.GetFixedLine())
	r.mobile = desc(m.GetMobile())
	if p := m.GetNationalPrefixForParsing(); p != "" && err == nil {
		r.npRe, err = regexp.Compile("^(?:" + p + ")")
		if err == nil {
			r.npFilter, err = compileDigitDFA(p)
		}
		r.npTransform = m.GetNationalPrefixTransformRule()
		if r.npTransform == "" {
			r.npLits = literalAlternatives(p)
		}
	}
	if p := m.GetInternationalPrefix(); p != "" && err == nil {
		r.idd, err = compileDigitDFA(p)
	}
	if p := m.GetLeadingDigits(); p != "" && err == nil {
		r.leading, err = compileDigitDFA(p)
	}
	if err != nil || r.general.dfa == nil || len(r.general.lengths) == 0 {
		return nil
	}
	return r
}

// literalAlternatives returns the strings a pattern made only of digit
// literals, digit classes and alternation matches, in the order a regexp
// prefers them; nil when the pattern is anything richer.
func literalAlternatives(pattern string) []string {
	const maxLiteralAlternatives = 64
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	var walk func(re *syntax.Regexp) []string
	walk = func(re *syntax.Regexp) []string {
		switch re.Op {
		case syntax.OpLiteral:
			for _, c := range re.Rune {
				if c < '0' || c > '9' {
					return nil
				}
			}
			return []string{string(re.Rune)}
		case syntax.OpCharClass:
			var out []string
			for i := 0; i+1 < len(re.Rune); i += 2 {
				for c := re.Rune[i]; c <= re.Rune[i+1]; c++ {
					if c < '0' || c > '9' {
						return nil
					}
					out = append(out, string(c))
				}
			}
			return out
		case syntax.OpCapture:
			return walk(re.Sub[0])
		case syntax.OpConcat:
			out := []string{""}
			for _, s := range re.Sub {
				l := walk(s)
				if l == nil || len(out)*len(l) > maxLiteralAlternatives {
					return nil
				}
				next := make([]string, 0, len(out)*len(l))
				for _, a := range out {
					for _, b := range l {
						next = append(next, a+b)
					}
				}
				out = next
			}
			return out
		case syntax.OpAlternate:
			var out []string
			for _, s := range re.Sub {
				l := walk(s)
				if l == nil {
					return nil
				}
				out = append(out, l...)
			}
			return out
		}
		return nil
	}
	return walk(re)
}

func itoa(n int) string {
	return string(appendInt(nil, n))
}

func appendInt(dst []byte, n int) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}
