package normalize

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

var phoneTypes = []phonenumbers.PhoneNumberType{
	phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
	phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP,
	phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER, phonenumbers.UAN,
	phonenumbers.VOICEMAIL,
}

type phoneCase struct {
	input, region string
}

// phoneCorpus spells libphonenumber's example numbers of every type of
// every supported region in national, international and E.164 format, with
// spaces, dashes, dots and parentheses, read in their own region and in
// others; and the same numbers broken (a digit more, a digit less, another
// leading digit) so rejections are compared too.
func phoneCorpus(tb testing.TB) []phoneCase {
	tb.Helper()
	regions := make([]string, 0, 256)
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	var out []phoneCase
	add := func(s string, regions ...string) {
		for _, r := range regions {
			out = append(out, phoneCase{s, r})
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, region := range regions {
		// Random digit strings, national and international, reach the
		// rejections and the corners of prefix handling.
		cc := itoa(phonenumbers.GetCountryCodeForRegion(region))
		for range 10 {
			b := make([]byte, 4+rng.IntN(11))
			for j := range b {
				b[j] = byte('0' + rng.IntN(10))
			}
			add(string(b), region)
			add("+"+cc+string(b), region)
			add(cc+string(b), region)
		}
		for _, typ := range phoneTypes {
			num := phonenumbers.GetExampleNumberForType(region, typ)
			if num == nil {
				continue
			}
			national := phonenumbers.Format(num, phonenumbers.NATIONAL)
			intl := phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			for _, s := range []string{national, intl, e164} {
				add(s, region)
				add(strings.NewReplacer(" ", "-").Replace(s), region)
				add(strings.NewReplacer(" ", ".", "-", ".").Replace(s), region)
				add(strings.NewReplacer(" ", "", "-", "").Replace(s), region)
			}
			add(intl, "US", "")
			add(e164, "GB", "")
			add("00"+e164[1:], region, "")
			nsn := phonenumbers.GetNationalSignificantNumber(num)
			if len(nsn) > 3 {
				add("("+nsn[:3]+") "+nsn[3:], region)
			}
			// Broken variants.
			add(e164+"5", region)
			add(e164[:len(e164)-1], region)
			digits := strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(national)
			add(digits+"0", region)
			add(digits[:len(digits)-1], region)
			if len(nsn) > 1 {
				for _, d := range "0159" {
					add("+"+itoa(int(num.GetCountryCode()))+string(d)+nsn[1:], region)
				}
			}
		}
	}
	return out
}

// TestPhoneFastPathAgrees proves the fast path gives what
// phonenumbers.Parse + IsValidNumber + Format(E164) gives, on the corpus,
// and that it actually takes nearly all of it.
func TestPhoneFastPathAgrees(t *testing.T) {
	t.Parallel()
	ix := phones()
	corpus := phoneCorpus(t)
	require.Greater(t, len(corpus), 20000)
	regions := map[string]bool{}
	fast, valid := 0, 0
	for _, c := range corpus {
		var def *lazyRegion
		if c.region != "" {
			def = ix.region(c.region)
			require.NotNil(t, def, c.region)
		}
		got, st, gotReason := appendE164Fast(nil, ix, c.input, def)
		want, wantReason := appendE164Parser(nil, c.input, c.region)
		if st == fastSlow {
			continue
		}
		fast++
		regions[c.region] = true
		require.Equal(t, string(want), string(got), "input %q region %q", c.input, c.region)
		require.Equal(t, wantReason, gotReason, "input %q region %q", c.input, c.region)
		if gotReason == "" {
			valid++
		}
	}
	t.Logf("corpus %d, fast path %d (%.1f%%), valid %d, regions %d", len(corpus), fast, 100*float64(fast)/float64(len(corpus)), valid, len(regions))
	require.Greater(t, float64(fast)/float64(len(corpus)), 0.95, "the fast path should take nearly every corpus number")
	require.Greater(t, len(regions), 200)
}

// TestPhoneParserPathIsTheLibrary pins the parser path to the library for
// inputs the documented "00" rule does not touch.
func TestPhoneParserPathIsTheLibrary(t *testing.T) {
	t.Parallel()
	for _, c := range phoneCorpus(t) {
		if strings.HasPrefix(c.input, "00") || c.region == "" {
			continue
		}
		got, r := appendE164Parser(nil, c.input, c.region)
		num, err := phonenumbers.Parse(c.input, c.region)
		if err != nil || !phonenumbers.IsValidNumber(num) {
			require.Equal(t, ReasonPhoneInvalid, r, c.input)
			continue
		}
		require.Empty(t, r)
		require.Equal(t, phonenumbers.Format(num, phonenumbers.E164), string(got))
	}
}

func TestPhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, input, region string
		want                string
		reason              Reason
	}{
		{name: "google example", input: "+1 800-555-0100", want: "+18005550100"},
		{name: "google example uk", input: "+44-113-496-0987", want: "+441134960987"},
		{name: "meta example", input: "+1 (650) 555-1212", want: "+16505551212"},
		{name: "meta example uk", input: "+442071838750", want: "+442071838750"},
		{name: "national us", input: "(650) 555-1212", region: "US", want: "+16505551212"},
		{name: "national us with 1", input: "1-650-555-1212", region: "US", want: "+16505551212"},
		{name: "national us country code no plus", input: "16505551212", region: "US", want: "+16505551212"},
		{name: "national gb trunk zero", input: "020 7183 8750", region: "GB", want: "+442071838750"},
		{name: "international with trunk zero", input: "+44 (0)20 7183 8750", region: "US", want: "+442071838750"},
		{name: "italy keeps leading zero", input: "06 1234 5678", region: "IT", want: "+390612345678"},
		{name: "double zero prefix", input: "0044 20 7183 8750", want: "+442071838750"},
		{name: "double zero prefix in us", input: "0044 20 7183 8750", region: "US", want: "+442071838750"},
		{name: "us idd via parser", input: "011 44 20 7183 8750", region: "US", want: "+442071838750"},
		{name: "germany", input: "030 123456", region: "DE", want: "+4930123456"},
		{name: "france", input: "01 23 45 67 89", region: "FR", want: "+33123456789"},
		{name: "extension via parser", input: "650-555-1212 ext. 42", region: "US", want: "+16505551212"},
		{name: "fullwidth digits via parser", input: "６５０５５５１２１２", region: "US", want: "+16505551212"},
		{name: "no-break spaces", input: "\u00a0+1 650 555 1212\u3000", want: "+16505551212"},
		{name: "national no region", input: "650 555 1212", reason: ReasonPhoneNoCountry},
		{name: "national unsupported region", input: "650 555 1212", region: "AQ", reason: ReasonPhoneNoCountry},
		{name: "empty", input: "  ", reason: ReasonPhoneEmpty},
		{name: "no digits", input: "n/a", region: "US", reason: ReasonPhoneNoDigits},
		{name: "meta example without country code", input: "123-456-7890", region: "US", reason: ReasonPhoneInvalid},
		{name: "too short", input: "555-0100", region: "US", reason: ReasonPhoneInvalid},
		{name: "unknown country code", input: "+999 1234 5678", reason: ReasonPhoneInvalid},
		{name: "too long", input: "+1 650 555 1212 1212 1212 1212 1212", reason: ReasonPhoneInvalid},
		{name: "invalid utf8", input: "+1 650\xff 555 1212", reason: ReasonInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cc [2]byte
			if tt.region != "" {
				copy(cc[:], tt.region)
			}
			got, r := appendE164(nil, tt.input, cc)
			require.Equal(t, tt.reason, r)
			require.Equal(t, tt.want, string(got))
		})
	}
}

// TestDigitDFA checks the automata against Go's regexp on every pattern of
// a sample of regions, on random and example-derived digit strings.
func TestDigitDFA(t *testing.T) {
	t.Parallel()
	coll, err := phonenumbers.MetadataCollection()
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for i, m := range coll.GetMetadata() {
		if i%5 != 0 {
			continue
		}
		for _, d := range []*phonenumbers.PhoneNumberDesc{m.GetGeneralDesc(), m.GetFixedLine(), m.GetMobile(), m.GetTollFree()} {
			p := d.GetNationalNumberPattern()
			if p == "" {
				continue
			}
			dfa, err := compileDigitDFA(p)
			require.NoError(t, err, p)
			full := regexpFor(t, "^(?:"+p+")$")
			prefix := regexpFor(t, "^(?:"+p+")")
			inputs := []string{d.GetExampleNumber()}
			for range 200 {
				b := make([]byte, 1+rng.IntN(14))
				for j := range b {
					b[j] = byte('0' + rng.IntN(10))
				}
				inputs = append(inputs, string(b))
				if ex := d.GetExampleNumber(); len(ex) > 2 {
					k := rng.IntN(len(ex))
					inputs = append(inputs, ex[:k]+string(b[0])+ex[k+1:])
				}
			}
			for _, s := range inputs {
				require.Equal(t, full.MatchString(s), dfa.full([]byte(s)), "pattern %q input %q", p, s)
				require.Equal(t, prefix.MatchString(s), dfa.prefix([]byte(s)), "pattern %q input %q", p, s)
				checked++
			}
		}
	}
	t.Logf("%d pattern/input pairs agree", checked)
}

func TestLiteralAlternatives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		want    []string
	}{
		{"0", []string{"0"}},
		{"0|180020", []string{"0", "180020"}},
		{"[08]", []string{"0", "8"}},
		{"(183[12])|0", []string{"1831", "1832", "0"}},
		{"0|80?", nil},
		{"0(1\\d)?", nil},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, literalAlternatives(tt.pattern))
		})
	}
}
