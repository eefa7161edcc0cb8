package normalize

import (
	"strings"

	"golang.org/x/text/language"
)

// isoCountries holds the officially assigned ISO 3166-1 alpha-2 codes.
const isoCountries = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ OM " +
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"

// countrySet is indexed by the two letters of an upper-case code.
var countrySet = func() (set [26][26]bool) {
	for _, c := range strings.Fields(isoCountries) {
		set[c[0]-'A'][c[1]-'A'] = true
	}
	return set
}()

// KnownCountry reports whether code is an officially assigned ISO 3166-1
// alpha-2 code, in upper case.
func KnownCountry(code string) bool { return len(code) == 2 && knownCountry(code[0], code[1]) }

func knownCountry(a, b byte) bool {
	return 'A' <= a && a <= 'Z' && 'A' <= b && b <= 'Z' && countrySet[a-'A'][b-'A']
}

// parseCountry reads a country as CRMs write it: an ISO 3166-1 alpha-2 code
// in any case, the exceptionally reserved "UK" for GB, or an alpha-3 code
// ("USA"). It returns the upper-case alpha-2 code. Country names are not
// guessed at.
func parseCountry(raw string) (code [2]byte, r Reason) {
	s, _, r := prepare(raw)
	if r != "" {
		return code, r
	}
	switch len(s) {
	case 0:
		return code, ReasonCountryEmpty
	case 2:
		a, b := upperASCII(s[0]), upperASCII(s[1])
		if a == 'U' && b == 'K' {
			a, b = 'G', 'B'
		}
		if knownCountry(a, b) {
			return [2]byte{a, b}, ""
		}
	case 3:
		if reg, err := language.ParseRegion(s); err == nil {
			if c := reg.String(); len(c) == 2 && knownCountry(c[0], c[1]) {
				return [2]byte{c[0], c[1]}, ""
			}
		}
	}
	return code, ReasonCountryUnknown
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// usStates maps US state, district, territory and military postal codes
// (lower case) to themselves and their names, squeezed to letters, to the
// code. Meta wants the two-letter code for US states.
var usStates = func() map[string]string {
	m := make(map[string]string)
	for _, e := range strings.Split(""+
		"al alabama,ak alaska,az arizona,ar arkansas,ca california,co colorado,"+
		"ct connecticut,de delaware,fl florida,ga georgia,hi hawaii,id idaho,"+
		"il illinois,in indiana,ia iowa,ks kansas,ky kentucky,la louisiana,"+
		"me maine,md maryland,ma massachusetts,mi michigan,mn minnesota,"+
		"ms mississippi,mo missouri,mt montana,ne nebraska,nv nevada,"+
		"nh newhampshire,nj newjersey,nm newmexico,ny newyork,nc northcarolina,"+
		"nd northdakota,oh ohio,ok oklahoma,or oregon,pa pennsylvania,"+
		"ri rhodeisland,sc southcarolina,sd southdakota,tn tennessee,tx texas,"+
		"ut utah,vt vermont,va virginia,wa washington,wv westvirginia,"+
		"wi wisconsin,wy wyoming,dc districtofcolumbia,dc washingtondc,"+
		"as americansamoa,gu guam,mp northernmarianaislands,pr puertorico,"+
		"vi virginislands,vi usvirginislands,um usminoroutlyingislands,"+
		"aa armedforcesamericas,ae armedforceseurope,ap armedforcespacific", ",") {
		code, name, _ := strings.Cut(e, " ")
		m[code] = code
		m[name] = code
	}
	return m
}()
