package googleads

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	datamanager "google.golang.org/api/datamanager/v1"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

func h(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func ids(kind audience.Kind, n int) []audience.Identifier {
	out := make([]audience.Identifier, n)
	for i := range out {
		out[i] = audience.Identifier{Kind: kind, Value: h(fmt.Sprint(kind, i)), Hashed: true}
	}
	return out
}

func address(zip string) []audience.Identifier {
	return []audience.Identifier{
		{Kind: audience.FirstName, Value: h("ada"), Hashed: true},
		{Kind: audience.LastName, Value: h("example"), Hashed: true},
		{Kind: audience.Zip, Value: zip},
		{Kind: audience.Country, Value: "GB"},
	}
}

func concat(parts ...[]audience.Identifier) []audience.Identifier {
	var out []audience.Identifier
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// decode reads a request body strictly into the generated client's type,
// so every field name and type must be the API's.
func decode(t *testing.T, body []byte) *datamanager.IngestAudienceMembersRequest {
	t.Helper()
	require.True(t, json.Valid(body))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req datamanager.IngestAudienceMembersRequest
	require.NoError(t, dec.Decode(&req))
	return &req
}

func TestRequestMatchesGeneratedTypes(t *testing.T) {
	t.Parallel()
	granted := audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted}
	cases := []struct {
		name    string
		up      connectors.Upload
		add     bool
		want    []string // identifier kinds sent, in order: e, p, a
		consent *datamanager.Consent
		reason  string
		trimmed bool
	}{
		{name: "email phone address", up: connectors.Upload{Identifiers: concat(ids(audience.Email, 1), ids(audience.Phone, 1), address("SW1A 1AA")), Consent: granted},
			add: true, want: []string{"e", "p", "a"}, consent: &datamanager.Consent{AdUserData: "CONSENT_GRANTED", AdPersonalization: "CONSENT_GRANTED"}},
		{name: "postal code needing escapes", up: connectors.Upload{Identifiers: address(`12"\3`)}, add: true, want: []string{"a"}},
		{name: "one consent answer", up: connectors.Upload{Identifiers: ids(audience.Email, 1), Consent: audience.Consent{AdPersonalization: audience.ConsentGranted}},
			add: true, want: []string{"e"}, consent: &datamanager.Consent{AdPersonalization: "CONSENT_GRANTED"}},
		{name: "removal carries no consent", up: connectors.Upload{Identifiers: ids(audience.Phone, 1), Consent: granted}, want: []string{"p"}},
		{name: "twelve e-mails keep ten", up: connectors.Upload{Identifiers: concat(ids(audience.Email, 12), ids(audience.Phone, 2), address("1"))},
			add: true, want: []string{"e", "e", "e", "e", "e", "e", "e", "e", "e", "e"}, trimmed: true},
		{name: "e-mails, then phones, then address", up: connectors.Upload{Identifiers: concat(ids(audience.Email, 8), ids(audience.Phone, 3), address("1"))},
			add: true, want: []string{"e", "e", "e", "e", "e", "e", "e", "e", "p", "p"}, trimmed: true},
		{name: "address fits last", up: connectors.Upload{Identifiers: concat(ids(audience.Email, 8), ids(audience.Phone, 1), address("1"))},
			add: true, want: []string{"e", "e", "e", "e", "e", "e", "e", "e", "p", "a"}},
		{name: "incomplete address alone", up: connectors.Upload{Identifiers: address("1")[:2]}, add: true, reason: reasonNoIdentifiers},
		{name: "incomplete address dropped", up: connectors.Upload{Identifiers: concat(ids(audience.Email, 1), address("1")[1:])}, add: true, want: []string{"e"}},
		{name: "clear e-mail refused", up: connectors.Upload{Identifiers: []audience.Identifier{{Kind: audience.Email, Value: "a@example.com"}}}, add: true, reason: reasonNotHashed},
		{name: "bad region refused", up: connectors.Upload{Identifiers: []audience.Identifier{
			{Kind: audience.FirstName, Value: h("a")}, {Kind: audience.LastName, Value: h("b")}, {Kind: audience.Zip, Value: "1"}, {Kind: audience.Country, Value: "gb"}}}, add: true, reason: reasonRegion},
		{name: "hashed postal code refused", up: connectors.Upload{Identifiers: address(h("1"))}, add: true, reason: reasonPostalCode},
		{name: "denied consent refused", up: connectors.Upload{Identifiers: ids(audience.Email, 1), Consent: audience.Consent{AdUserData: audience.ConsentDenied}}, add: true, reason: reasonDenied},
		{name: "denied consent removable", up: connectors.Upload{Identifiers: ids(audience.Email, 1), Consent: audience.Consent{AdUserData: audience.ConsentDenied}}, want: []string{"e"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ups := []connectors.Upload{{Identifiers: ids(audience.Email, 1)}, tc.up}
			body, res := appendRequest(nil, []byte(`[{"operatingAccount":{"accountId":"1","accountType":"GOOGLE_ADS"},"productDestinationId":"9"}]`), ups, tc.add, false)
			req := decode(t, body)
			require.Equal(t, "HEX", req.Encoding)
			require.Equal(t, "9", req.Destinations[0].ProductDestinationId)
			require.Equal(t, tc.add, req.TermsOfService != nil)
			if tc.reason != "" {
				require.Equal(t, []connectors.MemberRejection{{Index: 1, Reason: tc.reason}}, res.Rejected)
				require.Len(t, req.AudienceMembers, 1)
				return
			}
			require.Empty(t, res.Rejected)
			require.Len(t, req.AudienceMembers, 2)
			m := req.AudienceMembers[1]
			var got []string
			for _, id := range m.UserData.UserIdentifiers {
				switch {
				case id.EmailAddress != "":
					got = append(got, "e")
				case id.PhoneNumber != "":
					got = append(got, "p")
				case id.Address != nil:
					got = append(got, "a")
					var zip string
					for _, x := range tc.up.Identifiers {
						if x.Kind == audience.Zip {
							zip = x.Value
						}
					}
					require.Equal(t, datamanager.AddressInfo{GivenName: h("ada"), FamilyName: h("example"), RegionCode: "GB", PostalCode: zip}, *id.Address)
				}
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.consent, m.Consent)
			var trimmed int64
			if tc.trimmed {
				trimmed = 1
			}
			require.Equal(t, map[string]int64{"members_sent": 2, "identifiers_sent": int64(1 + len(tc.want)), "members_trimmed": trimmed}, res.Platform)
		})
	}
}

func TestValidateOnlyFlag(t *testing.T) {
	t.Parallel()
	body, _ := appendRequest(nil, []byte(`[]`), []connectors.Upload{{Identifiers: ids(audience.Email, 1)}}, false, true)
	require.True(t, decode(t, body).ValidateOnly)
}

func TestParseErrorDropsQuotedValues(t *testing.T) {
	t.Parallel()
	body := `{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"Invalid value \"jane@example.com\" at 'x'","details":[` +
		`{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"},` +
		`{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"audienceMembers[0]","description":"\"jane@example.com\""}]}]}}`
	e := parseError("ingest members", 400, []byte(body))
	require.Equal(t, "INVALID_ARGUMENT", e.key())
	require.Equal(t, []string{"audienceMembers[0]"}, e.Fields)
	require.Equal(t, 1500*time.Millisecond, e.RetryDelay)
	require.NotContains(t, e.Error(), "jane")
	require.Contains(t, e.Error(), "'x'")
	require.Equal(t, "HTTP_502", parseError("x", 502, []byte("<html>")).key())
}

func TestSummarise(t *testing.T) {
	t.Parallel()
	for want, in := range map[string][]string{
		statusProcessing: {statusSuccess, statusProcessing},
		statusPartial:    {statusSuccess, statusFailed},
		statusFailed:     {statusFailed},
		statusSuccess:    {statusSuccess, statusSuccess},
		"":               nil,
	} {
		require.Equal(t, want, summarise(in), "%v", in)
	}
	require.Equal(t, "<20%", matchRateText(0, 0))
	require.Equal(t, "41-50% to 61-70%", matchRateText(3, 5))
}
