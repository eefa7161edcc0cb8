package normalize

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/stretchr/testify/require"
)

var fuzzRegions = []string{"", "US", "GB", "DE", "FR", "IT", "JP", "BR", "AU", "IN", "AR", "MX", "AQ", "xx"}

func isLowerHex64(s string) bool {
	return isHex64(s) && strings.ToLower(s) == s
}

// checkIdentifier asserts that an accepted value has the shape its kind
// allows on the platform.
func checkIdentifier(t *testing.T, p *Profile, id audience.Identifier) {
	t.Helper()
	require.Equal(t, p.Hashed(id.Kind), id.Hashed)
	if id.Hashed {
		require.True(t, isLowerHex64(id.Value), "hashed value %q", id.Value)
		return
	}
	v := id.Value
	require.True(t, utf8.ValidString(v), "clear value %q", v)
	require.NotEmpty(t, v)
	require.Equal(t, strings.TrimFunc(v, isSpaceRune), v, "clear value %q is trimmed", v)
	switch id.Kind {
	case audience.Country:
		require.True(t, knownCountry(v[0], v[1]) && len(v) == 2, "region code %q", v)
	case audience.MobileID:
		require.True(t, isUUID(v) && strings.ToLower(v) == v, "madid %q", v)
	}
}

// checkValue runs one value through a profile and checks the invariants:
// a known reason or a well-shaped identifier, and normalising the
// normalised form again changes nothing.
func checkValue(t *testing.T, p *Profile, k audience.Kind, raw string, opts Options) {
	t.Helper()
	id, r := p.Value(k, raw, opts)
	norm, nr := p.Normalize(k, raw, opts)
	require.Equal(t, r, nr)
	if r != "" {
		require.Contains(t, Reasons(), r)
		return
	}
	require.Equal(t, k, id.Kind)
	checkIdentifier(t, p, id)

	// Idempotence. Meta's and X's phone form drops the "+"; put it back,
	// or the digits would be read as a national number.
	again := norm
	if k == audience.Phone && p.Name() != "google" && !isHex64(norm) {
		again = "+" + norm
	}
	norm2, r2 := p.Normalize(k, again, opts)
	require.Empty(t, r2, "normalising %q (from %q) again", again, raw)
	require.Equal(t, norm, norm2, "normalising %q (from %q) again", again, raw)
	if isHex64(norm) && !isHex64(trimASCII(raw)) {
		// A normalised value that happens to look like a hash (a name of
		// 64 letters a–f) reads as pre-hashed the second time: the one
		// ambiguity the pass-through rule has.
		return
	}
	id2, _ := p.Value(k, again, opts)
	require.Equal(t, id, id2)
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{"  ALEXZ@example.com   ", "Jefferson.Loves.hiking@gmail.com", "quinn", " ...@gmail.com",
		"a@b@c", "JOSE\u0301@EXAMPLE.COM", "\u00a0q@example.com\u200b", "q\xff@example.com", "ΟΔΥΣΣΕΥΣ@example.com",
		"İ@example.com", strings.Repeat("A", 300) + "@x"} {
		f.Add(s)
	}
	profiles := []*Profile{mustProfile(f, "google"), mustProfile(f, "meta"), mustProfile(f, "x")}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, p := range profiles {
			checkValue(t, p, audience.Email, raw, Options{})
		}
	})
}

func FuzzPhone(f *testing.F) {
	for _, s := range []string{"+1 800-555-0100", "(650) 555-1212", "020 7183 8750", "0044 20 7183 8750", "011 44 20 7183 8750",
		"06 1234 5678", "+44 (0)20 7183 8750", "650-555-1212 ext. 42", "６５０５５５１２１２", "n/a", "1-800-FLOWERS", "+",
		"00", "+999 1234", "tel:+1-650-555-1212", "+1 (650) 555-1212;ext=3"} {
		for i := range 4 {
			f.Add(s, uint8(i))
		}
	}
	profiles := []*Profile{mustProfile(f, "google"), mustProfile(f, "meta"), mustProfile(f, "x")}
	ix := phones()
	f.Fuzz(func(t *testing.T, raw string, region uint8) {
		opts := Options{DefaultRegion: fuzzRegions[int(region)%len(fuzzRegions)]}
		for _, p := range profiles {
			checkValue(t, p, audience.Phone, raw, opts)
		}
		// Where the fast path answers, the parser agrees.
		s, ascii, r := prepare(raw)
		if r != "" || !ascii || s == "" {
			return
		}
		var cc [2]byte
		if reg := opts.DefaultRegion; reg != "" {
			if c, r := parseCountry(reg); r == "" {
				cc = c
			}
		}
		var def *lazyRegion
		region2 := ""
		if cc != ([2]byte{}) {
			if def = ix.region(string(cc[:])); def != nil {
				region2 = string(cc[:])
			}
		}
		fast, st, fr := appendE164Fast(nil, ix, s, def)
		if st == fastSlow {
			return
		}
		slow, sr := appendE164Parser(nil, s, region2)
		require.Equal(t, sr, fr, "input %q region %q", s, region2)
		require.Equal(t, string(slow), string(fast), "input %q region %q", s, region2)
	})
}

// FuzzValue drives every kind of every profile.
func FuzzValue(f *testing.F) {
	for _, s := range []string{"José", "Washington D.C", "98121-4892", "NR9 5AL", "US", "uk", "deu", "Female", "1", "32", "1984",
		"6D92078A-8246-4BA4-AE5B-76104861E7DC", "@AdsAPI", "783214", "New York", "Île-de-France", " ", "\u00a0\u200b",
		strings.Repeat("AB", 32), "ΣΑΣ", "ﬃ", "İstanbul", "ǅ"} {
		f.Add(s, uint8(0), uint8(0))
	}
	profiles := []*Profile{mustProfile(f, "google"), mustProfile(f, "meta"), mustProfile(f, "x")}
	f.Fuzz(func(t *testing.T, raw string, kind, region uint8) {
		k := audience.Kind(int(kind) % audience.NumKinds)
		opts := Options{DefaultRegion: fuzzRegions[int(region)%len(fuzzRegions)]}
		for _, p := range profiles {
			checkValue(t, p, k, raw, opts)
		}
	})
}

func FuzzMetaRow(f *testing.F) {
	f.Add(" Quinn.Y@Example.com", "(650) 555-1212", "Quinn", "O'Young", "98121-4892", "US", "")
	f.Add("", "020 7183 8750", "Élodie", "", "NR9 5AL", "gb", "CA")
	f.Add("bad", "bad", "", "", "", "Narnia", "US")
	p := mustProfile(f, "meta")
	google := mustProfile(f, "google")
	f.Fuzz(func(t *testing.T, email, phone, fn, ln, zip, country, region string) {
		m := &audience.Member{}
		m.Fields[audience.Email] = email
		m.Fields[audience.Phone] = phone
		m.Fields[audience.FirstName] = fn
		m.Fields[audience.LastName] = ln
		m.Fields[audience.Zip] = zip
		m.Fields[audience.Country] = country
		for _, p := range []*Profile{p, google} {
			var tally Tally
			ids, ok := p.Member(m, Options{DefaultRegion: region}, nil, &tally)
			for r := range tally.Rejected {
				require.Contains(t, Reasons(), r)
			}
			if !ok {
				require.Empty(t, ids)
				require.Equal(t, int64(1), tally.Rejected[ReasonNoIdentifiers])
				continue
			}
			require.NotEmpty(t, ids)
			kinds := make([]audience.Kind, 0, len(ids))
			for _, id := range ids {
				checkIdentifier(t, p, id)
				kinds = append(kinds, id.Kind)
			}
			// Priority order, each kind at most once.
			require.True(t, slices.IsSortedFunc(kinds, func(a, b audience.Kind) int {
				return slices.Index(p.kinds, a) - slices.Index(p.kinds, b)
			}))
			require.Len(t, slices.Compact(slices.Clone(kinds)), len(kinds))
		}
	})
}
