package normalize

import (
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/stretchr/testify/require"
)

// h is a hashed identifier of a normalised value; c a clear one.
func h(k audience.Kind, norm string) audience.Identifier {
	return audience.Identifier{Kind: k, Value: sha(norm), Hashed: true}
}

func c(k audience.Kind, v string) audience.Identifier {
	return audience.Identifier{Kind: k, Value: v}
}

func member(fields map[audience.Kind]string) *audience.Member {
	m := &audience.Member{}
	for k, v := range fields {
		m.Fields[k] = v
	}
	return m
}

func only(ks ...audience.Kind) (on [audience.NumKinds]bool) {
	for _, k := range ks {
		on[k] = true
	}
	return on
}

func TestMember(t *testing.T) {
	t.Parallel()
	type F = map[audience.Kind]string
	tests := []struct {
		name     string
		profile  string
		fields   F
		opts     Options
		want     []audience.Identifier
		ok       bool
		rejected map[Reason]int64
		pre      int64
	}{
		{
			name:    "google everything",
			profile: "google",
			fields: F{audience.Email: "Quinn.Y@gmail.com", audience.Phone: "020 7183 8750",
				audience.FirstName: "Quinn", audience.LastName: "Young", audience.Country: "gb", audience.Zip: "NR9 5AL"},
			opts: Options{DefaultRegion: "US"},
			want: []audience.Identifier{
				h(audience.Email, "quinny@gmail.com"), h(audience.Phone, "+442071838750"),
				h(audience.FirstName, "quinn"), h(audience.LastName, "young"),
				c(audience.Country, "GB"), c(audience.Zip, "NR9 5AL"),
			},
			ok: true,
		},
		{
			name:     "google address without postal code",
			profile:  "google",
			fields:   F{audience.Email: "quinn@example.com", audience.FirstName: "Quinn", audience.LastName: "Young", audience.Country: "US"},
			want:     []audience.Identifier{h(audience.Email, "quinn@example.com")},
			ok:       true,
			rejected: map[Reason]int64{ReasonAddressIncomplete: 1},
		},
		{
			name:    "google address with unknown region code",
			profile: "google",
			fields: F{audience.Email: "quinn@example.com", audience.FirstName: "Quinn", audience.LastName: "Young",
				audience.Country: "Atlantis", audience.Zip: "12345"},
			want:     []audience.Identifier{h(audience.Email, "quinn@example.com")},
			ok:       true,
			rejected: map[Reason]int64{ReasonCountryUnknown: 1, ReasonAddressIncomplete: 1},
		},
		{
			name:    "google complete address alone",
			profile: "google",
			fields:  F{audience.FirstName: "Quinn", audience.LastName: "Young", audience.Country: "US", audience.Zip: "94043"},
			want: []audience.Identifier{
				h(audience.FirstName, "quinn"), h(audience.LastName, "young"), c(audience.Country, "US"), c(audience.Zip, "94043"),
			},
			ok: true,
		},
		{
			name:     "google incomplete address alone",
			profile:  "google",
			fields:   F{audience.FirstName: "Quinn", audience.LastName: "Young", audience.Email: "not an email"},
			rejected: map[Reason]int64{ReasonEmailMalformed: 1, ReasonAddressIncomplete: 1, ReasonNoIdentifiers: 1},
		},
		{
			name:    "member country is the phone region",
			profile: "google",
			fields:  F{audience.Phone: "06 1234 5678", audience.Country: "IT"},
			opts:    Options{DefaultRegion: "US"},
			want:    []audience.Identifier{h(audience.Phone, "+390612345678")},
			ok:      true,
			// Country alone is an incomplete address.
			rejected: map[Reason]int64{ReasonAddressIncomplete: 1},
		},
		{
			name:     "unknown member country falls back to the default region",
			profile:  "meta",
			fields:   F{audience.Phone: "(650) 555-1212", audience.Country: "Narnia"},
			opts:     Options{DefaultRegion: "US"},
			want:     []audience.Identifier{h(audience.Phone, "16505551212")},
			ok:       true,
			rejected: map[Reason]int64{ReasonCountryUnknown: 1},
		},
		{
			name:     "national phone without any region",
			profile:  "x",
			fields:   F{audience.Phone: "(650) 555-1212"},
			rejected: map[Reason]int64{ReasonPhoneNoCountry: 1, ReasonNoIdentifiers: 1},
		},
		{
			name:    "meta first initial from first name",
			profile: "meta",
			fields: F{audience.Email: "quinn@example.com", audience.FirstName: "Élodie", audience.LastName: "Young",
				audience.Zip: "98121-4892", audience.Country: "US", audience.Gender: "Female"},
			want: []audience.Identifier{
				h(audience.Email, "quinn@example.com"), h(audience.FirstName, "élodie"), h(audience.LastName, "young"),
				h(audience.FirstInitial, "é"), h(audience.Zip, "98121"), h(audience.Country, "us"), h(audience.Gender, "f"),
			},
			ok: true,
		},
		{
			name:    "meta own first initial wins",
			profile: "meta",
			fields:  F{audience.FirstName: "Quinn", audience.FirstInitial: "J", audience.LastName: "Young", audience.City: "Seattle"},
			want: []audience.Identifier{
				h(audience.FirstName, "quinn"), h(audience.LastName, "young"), h(audience.FirstInitial, "j"), h(audience.City, "seattle"),
			},
			ok: true,
		},
		{
			name:    "meta prehashed first name gives no initial",
			profile: "meta",
			fields:  F{audience.Email: "quinn@example.com", audience.FirstName: sha("quinn")},
			want:    []audience.Identifier{h(audience.Email, "quinn@example.com"), {Kind: audience.FirstName, Value: sha("quinn"), Hashed: true}},
			ok:      true,
			pre:     1,
		},
		{
			name:     "meta names alone do not match",
			profile:  "meta",
			fields:   F{audience.FirstName: "Quinn", audience.LastName: "Young", audience.Country: "US"},
			rejected: map[Reason]int64{ReasonNoIdentifiers: 1},
		},
		{
			name:    "meta names with birth date match",
			profile: "meta",
			fields: F{audience.FirstName: "Quinn", audience.LastName: "Young", audience.BirthYear: "1984",
				audience.BirthMonth: "3", audience.BirthDay: "9"},
			want: []audience.Identifier{
				h(audience.FirstName, "quinn"), h(audience.LastName, "young"), h(audience.FirstInitial, "q"),
				h(audience.BirthYear, "1984"), h(audience.BirthMonth, "03"), h(audience.BirthDay, "09"),
			},
			ok: true,
		},
		{
			name:    "meta external id alone",
			profile: "meta",
			fields:  F{audience.ExternalID: "crm-42", audience.MobileID: "not-a-uuid"},
			want:    []audience.Identifier{c(audience.ExternalID, "crm-42")},
			ok:      true,
			rejected: map[Reason]int64{
				ReasonMobileIDMalformed: 1,
			},
		},
		{
			name:    "x handle",
			profile: "x",
			fields:  F{audience.Handle: "@AdsAPI", audience.FirstName: "ignored: not an x kind"},
			want:    []audience.Identifier{h(audience.Handle, "adsapi")},
			ok:      true,
		},
		{
			name:    "kinds filter",
			profile: "google",
			fields: F{audience.Email: "quinn@example.com", audience.Phone: "+1 650 555 1212",
				audience.FirstName: "Quinn", audience.LastName: "Young", audience.Country: "US", audience.Zip: "94043"},
			opts: Options{Kinds: only(audience.Phone, audience.FirstName, audience.LastName, audience.Zip)},
			want: []audience.Identifier{h(audience.Phone, "+16505551212")},
			ok:   true,
		},
		{
			name:    "kinds filter keeps the member country for phones",
			profile: "meta",
			fields:  F{audience.Phone: "020 7183 8750", audience.Country: "GB"},
			opts:    Options{DefaultRegion: "US", Kinds: only(audience.Phone)},
			want:    []audience.Identifier{h(audience.Phone, "442071838750")},
			ok:      true,
		},
		{
			name:     "empty member",
			profile:  "meta",
			fields:   F{},
			rejected: map[Reason]int64{ReasonNoIdentifiers: 1},
		},
		{
			name:     "blank fields are rejected, absent ones are not",
			profile:  "x",
			fields:   F{audience.Email: "  ", audience.Handle: "\u00a0"},
			rejected: map[Reason]int64{ReasonEmailEmpty: 1, ReasonHandleEmpty: 1, ReasonNoIdentifiers: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mustProfile(t, tt.profile)
			prior := []audience.Identifier{c(audience.ExternalID, "earlier member")}
			var tally Tally
			got, ok := p.Member(member(tt.fields), tt.opts, prior, &tally)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, prior[0], got[0], "dst's contents are kept")
			if tt.want == nil {
				tt.want = []audience.Identifier{}
			}
			require.Equal(t, tt.want, got[1:])
			if tt.rejected == nil {
				require.Empty(t, tally.Rejected)
			} else {
				require.Equal(t, tt.rejected, tally.Rejected)
			}
			require.Equal(t, tt.pre, tally.PreHashed)
		})
	}
}

func TestTallyMerge(t *testing.T) {
	t.Parallel()
	var a, b Tally
	a.Reject(ReasonEmailEmpty)
	b.Reject(ReasonEmailEmpty)
	b.Reject(ReasonPhoneInvalid)
	b.PreHashed = 2
	a.Merge(&b)
	require.Equal(t, map[Reason]int64{ReasonEmailEmpty: 2, ReasonPhoneInvalid: 1}, a.Rejected)
	require.Equal(t, int64(2), a.PreHashed)
}

// TestMemberConcurrent runs one profile from many goroutines (go test
// -race finds shared state).
func TestMemberConcurrent(t *testing.T) {
	t.Parallel()
	p := mustProfile(t, "meta")
	m := member(map[audience.Kind]string{audience.Email: "quinn@example.com", audience.Phone: "+61 2 9374 4000", audience.FirstName: "Zoë"})
	done := make(chan []audience.Identifier)
	for range 8 {
		go func() {
			var tally Tally
			ids, _ := p.Member(m, Options{}, nil, &tally)
			done <- ids
		}()
	}
	first := <-done
	for range 7 {
		require.Equal(t, first, <-done)
	}
}
