package googledm

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

func fakeHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// uploadBody is an ingest body as the googleads connector writes it, with
// n members carrying an e-mail, a phone and an address.
func uploadBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"destinations":[{"operatingAccount":{"accountType":"GOOGLE_ADS","accountId":"1234567890"},"productDestinationId":"9000000001"}],` +
		`"encoding":"HEX","termsOfService":{"customerMatchTermsOfServiceStatus":"ACCEPTED"},"audienceMembers":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		k := strconv.Itoa(i)
		b.WriteString(`{"consent":{"adUserData":"CONSENT_GRANTED","adPersonalization":"CONSENT_GRANTED"},"userData":{"userIdentifiers":[`)
		b.WriteString(`{"emailAddress":"` + fakeHash("e"+k) + `"},{"phoneNumber":"` + fakeHash("p"+k) + `"},`)
		b.WriteString(`{"address":{"givenName":"` + fakeHash("g"+k) + `","familyName":"` + fakeHash("f"+k) + `","regionCode":"US","postalCode":"` + strconv.Itoa(10000+i) + `"}}]}}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// fastSeeds are bodies on both sides of what the fast decoder accepts.
var fastSeeds = []string{
	string(uploadBody(3)),
	`{"audienceMembers":[],"destinations":[],"encoding":"HEX","validateOnly":true}`,
	` { "validateOnly" : false , "audienceMembers" : [ { "userData" : { "userIdentifiers" : [ ] } } ] } `,
	`{"audienceMembers":[{"consent":{}}],"consent":{"adUserData":"CONSENT_DENIED"}}`,
	`{"destinations":[{"loginAccount":{"product":"GOOGLE_ADS"},"linkedAccount":{},"reference":"a"}]}`,
	`{"audienceMembers":[{"userData":{"userIdentifiers":[{"address":{"addressLine":"x","city":"y","administrativeArea":"z"}}]}}]}`,
	`{"audienceMembers":[{"userData":{"userIdentifiers":[{"emailAddress":"a","phoneNumber":"b"}]}}]}`,
	`{}`,
	// Outside the fast shape: the strict path decides these.
	`{"audienceMembers":null}`,
	`{"encoding":"HEX","encoding":"BASE64"}`,
	`{"Encoding":"HEX"}`,
	`{"encoding":"H\u0045X"}`,
	`{"encoding":"HÉX"}`,
	`{"validateOnly":truex}`,
	`{"validateOnly":1}`,
	`{"audienceMembers":[{"mobileData":{"mobileIds":["x"]}}]}`,
	`{"audienceMembers":[{"compositeData":{}}]}`,
	`{"audienceMembers":[{"destinationReferences":["a"]}]}`,
	`{"encryptionInfo":{}}`,
	`{"audienceMembers":[,]}`,
	`{"audienceMembers":[{}],}`,
	`{"encoding":"HEX"} {}`,
	`{"encoding":"HEX"`,
	`[]`,
	`{"audienceMembers":[{"userData":{"userIdentifiers":[{"emailAddress":"a"}],"userIdentifiers":[]}}]}`,
	`{"termsOfService":{"customerMatchTermsOfServiceStatus":"ACCEPTED","customerMatchTermsOfServiceStatus":"REJECTED"}}`,
	"{\"encoding\":\"HE\tX\"}",
}

// checkFastAgrees asserts that when the fast decoder accepts body, the
// strict decoder accepts it too and fills an identical request.
func checkFastAgrees(t *testing.T, body []byte, ingest bool) (handled bool) {
	t.Helper()
	var fast ingestRequest
	if !decodeMembersFast(string(body), ingest, &fast) {
		return false
	}
	if ingest {
		var strict ingestRequest
		require.NoError(t, wire.DecodeStrict(body, &strict), "fast path accepted what the strict path refuses: %q", body)
		require.Equal(t, strict, fast, "fast and strict decoding differ for %q", body)
		return true
	}
	var strict removeRequest
	require.NoError(t, wire.DecodeStrict(body, &strict), "fast path accepted what the strict path refuses: %q", body)
	require.Equal(t, strict, removeRequest{AudienceMembers: fast.AudienceMembers, Destinations: fast.Destinations,
		Encoding: fast.Encoding, ValidateOnly: fast.ValidateOnly}, "fast and strict decoding differ for %q", body)
	return true
}

func TestFastMembersBody(t *testing.T) {
	t.Parallel()
	handled := 0
	for _, seed := range fastSeeds {
		if checkFastAgrees(t, []byte(seed), true) {
			handled++
		}
		checkFastAgrees(t, []byte(seed), false)
	}
	// The first eight seeds are the shape the fast path exists for.
	require.Equal(t, 8, handled)
	require.True(t, checkFastAgrees(t, uploadBody(500), true))

	// A remove body carrying ingest-only fields is left to the strict
	// path, which refuses the unknown field.
	var req ingestRequest
	require.False(t, decodeMembersFast(`{"consent":{}}`, false, &req))
	require.False(t, decodeMembersFast(`{"termsOfService":{}}`, false, &req))
}

func FuzzFastMembersBody(f *testing.F) {
	for _, seed := range fastSeeds {
		f.Add([]byte(seed), true)
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, ingest bool) {
		checkFastAgrees(t, body, ingest)
	})
}

func BenchmarkDecodeIngestBody(b *testing.B) {
	body := uploadBody(MaxMembersPerRequest)
	text := string(body)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var req ingestRequest
			if !decodeMembersFast(text, true, &req) {
				b.Fatal("not handled")
			}
		}
	})
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var req ingestRequest
			if err := wire.DecodeStrict(body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast+parse", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var req ingestRequest
			if !decodeMembersFast(text, true, &req) {
				b.Fatal("not handled")
			}
			if _, err := parseMembers(req.AudienceMembers, req.Encoding, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
