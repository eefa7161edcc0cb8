package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

type valueCase struct {
	name   string
	kind   audience.Kind
	raw    string
	region string // Options.DefaultRegion
	norm   string // the normalised value ("" when rejected)
	reason Reason
}

// checkValues runs cases through Normalize, Value and AppendHash, which
// must agree: Value is the hash of the normalised value for hashed kinds,
// the normalised value for clear kinds.
func checkValues(t *testing.T, profile string, tests []valueCase) {
	t.Helper()
	p := mustProfile(t, profile)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{DefaultRegion: tt.region}
			norm, r := p.Normalize(tt.kind, tt.raw, opts)
			require.Equal(t, tt.reason, r, "reason")
			require.Equal(t, tt.norm, norm, "normalised")

			id, r := p.Value(tt.kind, tt.raw, opts)
			require.Equal(t, tt.reason, r)
			appended, r := p.AppendHash([]byte("prefix:"), tt.kind, tt.raw, opts)
			require.Equal(t, tt.reason, r)
			if tt.reason != "" {
				require.Equal(t, audience.Identifier{}, id)
				require.Equal(t, "prefix:", string(appended))
				return
			}
			want := tt.norm
			if p.Hashed(tt.kind) && !isHex64(tt.norm) {
				want = sha(tt.norm)
			}
			require.Equal(t, audience.Identifier{Kind: tt.kind, Value: want, Hashed: p.Hashed(tt.kind)}, id)
			require.Equal(t, "prefix:"+want, string(appended))
		})
	}
}

// The published examples of each platform, verbatim.
func TestPublishedExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile string
		kind    audience.Kind
		raw     string
		region  string
		want    string // hash or normalised value
		hash    bool   // want is the hash
		reason  Reason
	}{
		{profile: "google", kind: audience.Email, raw: "QuinnY@EXAMPLE.com", want: "quinny@example.com"},
		{profile: "google", kind: audience.Email, raw: "Jefferson.Loves.hiking@gmail.com", want: "jeffersonloveshiking@gmail.com"},
		{profile: "google", kind: audience.Phone, raw: "+1 800-555-0100", want: "+18005550100"},
		{profile: "google", kind: audience.Phone, raw: "+44-113-496-0987", want: "+441134960987"},
		{profile: "google", kind: audience.Email, raw: "  ALEXZ@example.com   ", want: "509e933019bb285a134a9334b8bb679dff79d0ce023d529af4bd744d47b4fd8a", hash: true},
		{profile: "google", kind: audience.Phone, raw: "+18005550100", want: "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30", hash: true},
		{profile: "google", kind: audience.Email, raw: "", reason: ReasonEmailEmpty},
		{profile: "google", kind: audience.Email, raw: "quinn", reason: ReasonEmailMalformed},
		{profile: "google", kind: audience.Email, raw: " ...@gmail.com", reason: ReasonEmailMalformed},
		{profile: "meta", kind: audience.Phone, raw: "+1 (650) 555-1212", want: "16505551212"},
		{profile: "meta", kind: audience.Phone, raw: "+442071838750", want: "442071838750"},
		// Meta's "123-456-7890" → "1234567890" illustrates symbol removal
		// on a number already carrying its country code, but no country
		// has that number: +1 234 567 890 is too short for the NANP and,
		// read as a US national number, 123 is not an area code. We
		// reject it rather than upload a hash nobody has.
		{profile: "meta", kind: audience.Phone, raw: "123-456-7890", region: "US", reason: ReasonPhoneInvalid},
		{profile: "meta", kind: audience.FirstName, raw: "José", want: "josé"},
		{profile: "meta", kind: audience.City, raw: "Washington D.C", want: "washingtondc"},
		{profile: "meta", kind: audience.Zip, raw: "98121-4892", region: "US", want: "98121"},
		{profile: "meta", kind: audience.Zip, raw: "NR9 5AL", region: "GB", want: "nr95al"},
		{profile: "meta", kind: audience.Country, raw: "US", want: "us"},
		{profile: "meta", kind: audience.Gender, raw: "Female", want: "f"},
		{profile: "meta", kind: audience.BirthMonth, raw: "1", want: "01"},
		{profile: "meta", kind: audience.BirthDay, raw: "32", reason: ReasonDOBOutOfRange},
		{profile: "x", kind: audience.Email, raw: "adsapi", reason: ReasonEmailMalformed},
		{profile: "x", kind: audience.Handle, raw: "adsapi", want: "49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d", hash: true},
	}
	for _, tt := range tests {
		t.Run(tt.profile+"/"+tt.raw, func(t *testing.T) {
			t.Parallel()
			p := mustProfile(t, tt.profile)
			opts := Options{DefaultRegion: tt.region}
			if tt.hash {
				id, r := p.Value(tt.kind, tt.raw, opts)
				require.Empty(t, r)
				require.Equal(t, tt.want, id.Value)
				return
			}
			got, r := p.Normalize(tt.kind, tt.raw, opts)
			require.Equal(t, tt.reason, r)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestGoogleValues(t *testing.T) {
	t.Parallel()
	checkValues(t, "google", []valueCase{
		{name: "email trimmed lowered", kind: audience.Email, raw: " Quinn.Y+news@Example.COM\t", norm: "quinn.y+news@example.com"},
		{name: "email googlemail dots", kind: audience.Email, raw: "a.b.c@googlemail.com", norm: "abc@googlemail.com"},
		{name: "email gmail plus tag kept", kind: audience.Email, raw: "Quinn.Y+tag@Gmail.com", norm: "quinny+tag@gmail.com"},
		{name: "email other domain keeps dots", kind: audience.Email, raw: "a.b@example.com", norm: "a.b@example.com"},
		{name: "email only dots at gmail", kind: audience.Email, raw: "...@gmail.com", reason: ReasonEmailMalformed},
		{name: "email inner space", kind: audience.Email, raw: "quinn y@example.com", reason: ReasonEmailMalformed},
		{name: "email inner no-break space", kind: audience.Email, raw: "quinn\u00a0y@example.com", reason: ReasonEmailMalformed},
		{name: "email inner zero-width space", kind: audience.Email, raw: "quinn\u200by@example.com", reason: ReasonEmailMalformed},
		{name: "email two ats", kind: audience.Email, raw: "a@b@example.com", reason: ReasonEmailMalformed},
		{name: "email no local", kind: audience.Email, raw: "@example.com", reason: ReasonEmailMalformed},
		{name: "email no domain", kind: audience.Email, raw: "quinn@", reason: ReasonEmailMalformed},
		{name: "email blank", kind: audience.Email, raw: " \u00a0\u200b\ufeff\u3000", reason: ReasonEmailEmpty},
		{name: "email unicode spaces trimmed", kind: audience.Email, raw: "\ufeff\u00a0Quinn@Example.com\u3000\u200b", norm: "quinn@example.com"},
		{name: "email unicode lowered NFC", kind: audience.Email, raw: "JOSE\u0301@EXAMPLE.COM", norm: "josé@example.com"},
		{name: "email long", kind: audience.Email, raw: strings.Repeat("Q", 200) + "@example.com", norm: strings.Repeat("q", 200) + "@example.com"},
		{name: "email invalid utf8", kind: audience.Email, raw: "quinn\xff@example.com", reason: ReasonInvalidUTF8},
		{name: "email prehashed", kind: audience.Email, raw: " 509E933019BB285A134A9334B8BB679DFF79D0CE023D529AF4BD744D47B4FD8A ", norm: "509e933019bb285a134a9334b8bb679dff79d0ce023d529af4bd744d47b4fd8a"},
		{name: "phone national", kind: audience.Phone, raw: "(650) 555-1212", region: "us", norm: "+16505551212"},
		{name: "phone no region", kind: audience.Phone, raw: "(650) 555-1212", reason: ReasonPhoneNoCountry},
		{name: "phone prehashed", kind: audience.Phone, raw: "FB4F73A6EC5FDB7077D564CDD22C3554B43CE49168550C3B12C547B78C517B30", norm: "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30"},
		{name: "given name", kind: audience.FirstName, raw: "  Mary Ann ", norm: "maryann"},
		{name: "given name punctuation kept", kind: audience.FirstName, raw: "O'Brien", norm: "o'brien"},
		{name: "given name unicode", kind: audience.FirstName, raw: "ÉLODIE", norm: "élodie"},
		{name: "given name final sigma", kind: audience.FirstName, raw: "ΟΔΥΣΣΕΥΣ", norm: "οδυσσευς"},
		{name: "given name empty", kind: audience.FirstName, raw: " \u3000", reason: ReasonNameEmpty},
		{name: "family name", kind: audience.LastName, raw: "Van Der Berg", norm: "vanderberg"},
		{name: "region code clear", kind: audience.Country, raw: " us ", norm: "US"},
		{name: "region code uk", kind: audience.Country, raw: "UK", norm: "GB"},
		{name: "region code alpha-3", kind: audience.Country, raw: "deu", norm: "DE"},
		{name: "region code unknown", kind: audience.Country, raw: "ZZ", reason: ReasonCountryUnknown},
		{name: "region code name", kind: audience.Country, raw: "United States", reason: ReasonCountryUnknown},
		{name: "region code empty", kind: audience.Country, raw: "  ", reason: ReasonCountryEmpty},
		{name: "postal code clear as written", kind: audience.Zip, raw: " NR9 5AL ", norm: "NR9 5AL"},
		{name: "postal code empty", kind: audience.Zip, raw: "\t", reason: ReasonZipEmpty},
		{name: "not taken", kind: audience.Gender, raw: "f", reason: ReasonKindUnsupported},
		{name: "invalid kind", kind: audience.KindInvalid, raw: "x", reason: ReasonKindUnsupported},
		{name: "out of range kind", kind: audience.Kind(200), raw: "x", reason: ReasonKindUnsupported},
	})
}

func TestMetaValues(t *testing.T) {
	t.Parallel()
	checkValues(t, "meta", []valueCase{
		{name: "email", kind: audience.Email, raw: " Quinn.Y@Example.com ", norm: "quinn.y@example.com"},
		{name: "email gmail dots kept", kind: audience.Email, raw: "Quinn.Y@gmail.com", norm: "quinn.y@gmail.com"},
		{name: "email malformed", kind: audience.Email, raw: "quinn at example.com", reason: ReasonEmailMalformed},
		{name: "phone national", kind: audience.Phone, raw: "020 7183 8750", region: "GB", norm: "442071838750"},
		{name: "phone double zero", kind: audience.Phone, raw: "0044 20 7183 8750", norm: "442071838750"},
		{name: "phone no country", kind: audience.Phone, raw: "650 555 1212", reason: ReasonPhoneNoCountry},
		{name: "phone letters only", kind: audience.Phone, raw: "unknown", region: "US", reason: ReasonPhoneNoDigits},
		{name: "first name punctuation", kind: audience.FirstName, raw: "Mary-Ann O'Neil", norm: "maryannoneil"},
		{name: "first name digits dropped", kind: audience.FirstName, raw: "Quinn2", norm: "quinn"},
		{name: "first name only punctuation", kind: audience.FirstName, raw: "--", reason: ReasonNameEmpty},
		{name: "first name decomposed", kind: audience.FirstName, raw: "Jose\u0301", norm: "josé"},
		{name: "first name devanagari", kind: audience.FirstName, raw: "प्रिया", norm: "प्रिया"},
		{name: "last name", kind: audience.LastName, raw: "Smith-Jones", norm: "smithjones"},
		{name: "first initial", kind: audience.FirstInitial, raw: "Élodie", norm: "é"},
		{name: "first initial skips punctuation", kind: audience.FirstInitial, raw: "'Quinn", norm: "q"},
		{name: "city", kind: audience.City, raw: "St. Louis 2", norm: "stlouis"},
		{name: "city empty", kind: audience.City, raw: "123", reason: ReasonCityEmpty},
		// A control character is rejected, not filtered out of the value.
		{name: "name with NUL", kind: audience.FirstName, raw: "Jo\x00hn", reason: ReasonControlChar},
		{name: "name with a C1 control", kind: audience.LastName, raw: "Jos\u00e9\u0090", reason: ReasonControlChar},
		{name: "city with DEL", kind: audience.City, raw: "Paris\x7f", reason: ReasonControlChar},
		{name: "external id with a control", kind: audience.ExternalID, raw: "c-\x01-7", reason: ReasonControlChar},
		{name: "tabs are white space", kind: audience.FirstName, raw: "\tQuinn\t", norm: "quinn"},
		{name: "state us code", kind: audience.Region, raw: "CA", region: "US", norm: "ca"},
		{name: "state us name", kind: audience.Region, raw: "New York", region: "US", norm: "ny"},
		{name: "state us unknown", kind: audience.Region, raw: "Narnia", region: "US", reason: ReasonStateUnknown},
		{name: "state elsewhere", kind: audience.Region, raw: "Île-de-France", region: "FR", norm: "îledefrance"},
		{name: "state no country", kind: audience.Region, raw: "N.S.W.", norm: "nsw"},
		{name: "state empty", kind: audience.Region, raw: ".", reason: ReasonStateEmpty},
		{name: "zip us nine digits", kind: audience.Zip, raw: "981214892", region: "US", norm: "98121"},
		{name: "zip us short", kind: audience.Zip, raw: "2134", region: "US", reason: ReasonZipMalformed},
		{name: "zip us letters", kind: audience.Zip, raw: "ABCDE", region: "US", reason: ReasonZipMalformed},
		{name: "zip elsewhere", kind: audience.Zip, raw: "75008", region: "FR", norm: "75008"},
		// Meta's SDK keeps the part before a "-" whatever the country and
		// rejects what is shorter than two characters.
		{name: "zip plus four without a country", kind: audience.Zip, raw: "98121-4892", norm: "98121"},
		{name: "zip with a dash elsewhere", kind: audience.Zip, raw: "1000-205", region: "PT", norm: "1000"},
		{name: "zip one character", kind: audience.Zip, raw: "1", reason: ReasonZipMalformed},
		{name: "zip nothing before the dash", kind: audience.Zip, raw: "-4892", reason: ReasonZipMalformed},
		{name: "zip empty", kind: audience.Zip, raw: " ", reason: ReasonZipEmpty},
		{name: "country", kind: audience.Country, raw: "gb", norm: "gb"},
		{name: "country unknown", kind: audience.Country, raw: "XX", reason: ReasonCountryUnknown},
		{name: "gender m", kind: audience.Gender, raw: "M", norm: "m"},
		{name: "gender male", kind: audience.Gender, raw: " male ", norm: "m"},
		{name: "gender unknown", kind: audience.Gender, raw: "other", reason: ReasonGenderUnknown},
		{name: "gender empty", kind: audience.Gender, raw: " ", reason: ReasonGenderEmpty},
		{name: "birth year", kind: audience.BirthYear, raw: "1984", norm: "1984"},
		{name: "birth year two digits", kind: audience.BirthYear, raw: "84", reason: ReasonDOBMalformed},
		{name: "birth year range", kind: audience.BirthYear, raw: "1850", reason: ReasonDOBOutOfRange},
		{name: "birth month", kind: audience.BirthMonth, raw: "12", norm: "12"},
		{name: "birth month zero", kind: audience.BirthMonth, raw: "0", reason: ReasonDOBOutOfRange},
		{name: "birth month thirteen", kind: audience.BirthMonth, raw: "13", reason: ReasonDOBOutOfRange},
		{name: "birth month name", kind: audience.BirthMonth, raw: "Jan", reason: ReasonDOBMalformed},
		{name: "birth day padded", kind: audience.BirthDay, raw: "07", norm: "07"},
		{name: "birth day three digits", kind: audience.BirthDay, raw: "007", reason: ReasonDOBMalformed},
		{name: "birth empty", kind: audience.BirthDay, raw: " ", reason: ReasonDOBEmpty},
		{name: "madid clear lowercase", kind: audience.MobileID, raw: " 6D92078A-8246-4BA4-AE5B-76104861E7DC ", norm: "6d92078a-8246-4ba4-ae5b-76104861e7dc"},
		{name: "madid malformed", kind: audience.MobileID, raw: "6d92078a82464ba4ae5b76104861e7dc", reason: ReasonMobileIDMalformed},
		{name: "madid empty", kind: audience.MobileID, raw: "", reason: ReasonMobileIDEmpty},
		{name: "extern id clear", kind: audience.ExternalID, raw: " CRM-0042 ", norm: "CRM-0042"},
		{name: "extern id 64 hex stays clear", kind: audience.ExternalID, raw: strings.Repeat("AB", 32), norm: strings.Repeat("AB", 32)},
		{name: "extern id empty", kind: audience.ExternalID, raw: " ", reason: ReasonExternalIDEmpty},
		{name: "prehashed first name", kind: audience.FirstName, raw: strings.Repeat("Ab", 32), norm: strings.Repeat("ab", 32)},
		{name: "handle not taken", kind: audience.Handle, raw: "quinn", reason: ReasonKindUnsupported},
	})
}

func TestXValues(t *testing.T) {
	t.Parallel()
	checkValues(t, "x", []valueCase{
		{name: "email", kind: audience.Email, raw: "  Quinn.Y@Gmail.com ", norm: "quinn.y@gmail.com"},
		{name: "phone", kind: audience.Phone, raw: "+1 (650) 555-1212", norm: "16505551212"},
		{name: "phone national", kind: audience.Phone, raw: "06 1234 5678", region: "IT", norm: "390612345678"},
		{name: "handle", kind: audience.Handle, raw: " @AdsAPI ", norm: "adsapi"},
		{name: "handle too long", kind: audience.Handle, raw: "@a_very_long_handle_name", reason: ReasonHandleMalformed},
		{name: "handle bad char", kind: audience.Handle, raw: "quinn.y", reason: ReasonHandleMalformed},
		{name: "handle empty", kind: audience.Handle, raw: "@", reason: ReasonHandleEmpty},
		{name: "twitter id", kind: audience.TwitterID, raw: " 783214 ", norm: "783214"},
		{name: "twitter id letters", kind: audience.TwitterID, raw: "78321a", reason: ReasonTwitterIDMalformed},
		{name: "twitter id empty", kind: audience.TwitterID, raw: "", reason: ReasonTwitterIDEmpty},
		{name: "idfa lowercase dashes", kind: audience.MobileID, raw: "6D92078A-8246-4BA4-AE5B-76104861E7DC", norm: "6d92078a-8246-4ba4-ae5b-76104861e7dc"},
		{name: "android id as on device", kind: audience.MobileID, raw: "9774d56d682e549c", norm: "9774d56d682e549c"},
		{name: "device id with space", kind: audience.MobileID, raw: "9774 d56d", reason: ReasonMobileIDMalformed},
		{name: "partner user id clear", kind: audience.ExternalID, raw: " user-42 ", norm: "user-42"},
		{name: "first name not taken", kind: audience.FirstName, raw: "Quinn", reason: ReasonKindUnsupported},
	})
}

func TestLookup(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"google", "meta", "x", " Meta "} {
		p, err := Lookup(name)
		require.NoError(t, err)
		require.Equal(t, strings.ToLower(strings.TrimSpace(name)), p.Name())
	}
	_, err := Lookup("tiktok")
	require.ErrorContains(t, err, `"tiktok"`)
	require.ErrorContains(t, err, "google, meta, x")
}

func TestKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile string
		want    []audience.Kind
		clear   []audience.Kind
	}{
		{"google", []audience.Kind{audience.Email, audience.Phone, audience.FirstName, audience.LastName, audience.Country, audience.Zip},
			[]audience.Kind{audience.Country, audience.Zip}},
		{"meta", []audience.Kind{audience.Email, audience.Phone, audience.MobileID, audience.ExternalID,
			audience.FirstName, audience.LastName, audience.FirstInitial, audience.Zip, audience.City,
			audience.Region, audience.Country, audience.BirthYear, audience.BirthMonth, audience.BirthDay, audience.Gender},
			[]audience.Kind{audience.MobileID, audience.ExternalID}},
		{"x", []audience.Kind{audience.Email, audience.Phone, audience.MobileID, audience.Handle, audience.TwitterID, audience.ExternalID},
			[]audience.Kind{audience.ExternalID}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			t.Parallel()
			p := mustProfile(t, tt.profile)
			require.Equal(t, tt.want, p.Kinds())
			p.Kinds()[0] = audience.KindInvalid // a copy: the profile is unchanged
			require.Equal(t, tt.want, p.Kinds())
			for _, k := range audience.Kinds() {
				require.Equal(t, contains(tt.want, k), p.Accepts(k), k)
				require.Equal(t, contains(tt.want, k) && !contains(tt.clear, k), p.Hashed(k), k)
			}
		})
	}
}

func contains(ks []audience.Kind, k audience.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// TestCountryTable checks the ISO list against x/text's region data.
func TestCountryTable(t *testing.T) {
	t.Parallel()
	codes := strings.Fields(isoCountries)
	require.Len(t, codes, 249)
	for _, c := range codes {
		r, err := language.ParseRegion(c)
		require.NoError(t, err, c)
		require.True(t, r.IsCountry(), c)
		require.Equal(t, c, r.String())
	}
}

// TestReasonsDocumented keeps doc.go's list and Reasons in step.
func TestReasonsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		require.False(t, seen[r], "duplicate %s", r)
		seen[r] = true
		require.Contains(t, string(doc), "\t"+string(r)+" ", "doc.go must describe %s", r)
	}
}
