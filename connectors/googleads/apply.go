package googleads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/hashicorp/go-retryablehttp"
	datamanager "google.golang.org/api/datamanager/v1"
	"google.golang.org/api/googleapi"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/jsonstr"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// Reasons a single member is refused before sending. Google validates a
// request as a whole, so one malformed member would sink its batch; these
// are kept out and reported instead.
const (
	reasonNotHashed     = "identifier.not_hashed"
	reasonRegion        = "address.invalid_region_code"
	reasonPostalCode    = "address.invalid_postal_code"
	reasonNoIdentifiers = "member.no_identifiers"
	reasonDenied        = "consent.denied"
	reasonValidateOnly  = "validate_only"
)

// Apply sends one batch: adds, updates and refreshes to
// audienceMembers:ingest, removals to audienceMembers:remove.
func (d *Destination) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	add := b.Op == connectors.OpAdd
	if add && !d.s.termsAccepted() {
		return connectors.BatchResult{}, connectors.Fatal(errors.New("google_ads: uploads are refused until the Customer Match terms are accepted: " + termsAdvice))
	}
	dests, err := json.Marshal(d.destination(aud.ID))
	if err != nil {
		return connectors.BatchResult{}, connectors.Fatal(fmt.Errorf("google_ads: encode destination: %w", err))
	}
	buf := bodies.Get().(*[]byte)
	defer bodies.Put(buf)
	body, res := appendRequest((*buf)[:0], dests, b.Members, add, d.s.ValidateOnly)
	*buf = body
	if res.Platform["members_sent"] == 0 {
		return res, nil
	}
	path, op := "v1/audienceMembers:remove", "remove members"
	if add {
		path, op = "v1/audienceMembers:ingest", "ingest members"
	}
	ctx, retries := platformhttp.WithRetryCount(ctx)
	var requestID string
	var reauth int
	err = d.call(ctx, op, &reauth, func(api *datamanager.Service) error {
		var err error
		requestID, err = d.post(ctx, api.BasePath+path, body)
		return err
	})
	res.Retries = *retries + reauth
	if err != nil {
		return connectors.BatchResult{Retries: res.Retries}, err
	}
	res.RequestID = requestID
	if d.s.ValidateOnly {
		// Google checked the batch but applied nothing: state must not
		// record it as sent.
		res.Rejected = res.Rejected[:0]
		for i := range b.Members {
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: reasonValidateOnly})
		}
	}
	return res, nil
}

// bodies recycles request bodies, a few megabytes each.
var bodies = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

// post sends a member request body to url through the destination's
// retrying client and returns the request id. Ingest and remove bodies are
// written by appendRequest rather than through the generated client's
// types: its nested MarshalJSON calls re-encode and re-compact every level
// of a 10,000-member request (about 12µs a member, which at a million
// members outweighs the network); the bytes are the same JSON, as
// TestRequestMatchesGeneratedTypes checks.
func (d *Destination) post(ctx context.Context, url string, body []byte) (string, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		return "", err
	}
	defer googleapi.CloseBody(resp)
	if err := googleapi.CheckResponse(resp); err != nil {
		return "", err
	}
	var out struct {
		RequestID string `json:"requestId"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("read the response: %w", err)
	}
	return out.RequestID, nil
}

var _ connectors.Resetter = (*Destination)(nil)

// RemoveAll empties the user list (audienceMembers:removeAll), for a full
// refresh.
func (d *Destination) RemoveAll(ctx context.Context, aud connectors.Audience) error {
	return d.call(ctx, "remove all members", nil, func(api *datamanager.Service) error {
		_, err := api.AudienceMembers.RemoveAll(&datamanager.RemoveAllAudienceMembersRequest{
			Destinations: d.destination(aud.ID),
			ValidateOnly: d.s.ValidateOnly,
		}).Context(ctx).Do()
		return err
	})
}

// appendRequest appends the JSON of an IngestAudienceMembersRequest (add)
// or RemoveAudienceMembersRequest to buf, leaving out (and listing in the
// result) members Google would refuse. dests is the encoded destinations.
func appendRequest(buf, dests []byte, ups []connectors.Upload, add, validateOnly bool) ([]byte, connectors.BatchResult) {
	var res connectors.BatchResult
	var sent, trimmed, ids int64
	buf = append(buf, `{"destinations":`...)
	buf = append(buf, dests...)
	buf = append(buf, `,"audienceMembers":[`...)
	for i := range ups {
		m, reason := parseMember(&ups[i], add)
		if reason != "" {
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: reason})
			continue
		}
		if sent > 0 {
			buf = append(buf, ',')
		}
		buf = m.appendJSON(buf, add)
		sent++
		ids += int64(m.n)
		if m.trimmed {
			trimmed++
		}
	}
	buf = append(buf, `],"encoding":"HEX"`...)
	if add {
		buf = append(buf, `,"termsOfService":{"customerMatchTermsOfServiceStatus":"ACCEPTED"}`...)
	}
	if validateOnly {
		buf = append(buf, `,"validateOnly":true`...)
	}
	buf = append(buf, '}')
	res.Platform = map[string]int64{"members_sent": sent, "identifiers_sent": ids, "members_trimmed": trimmed}
	return buf, res
}

// member is one upload as Google takes it.
type member struct {
	emails, phones []string
	addr           [4]string // given name, family name, region code, postal code
	hasAddr        bool
	n              int  // identifiers sent
	trimmed        bool // some were cut to stay within MaxIdentifiers
	consent        audience.Consent
}

// parseMember checks an upload and orders its identifiers: e-mail
// addresses first, then phone numbers, then the address (given name,
// family name, region and postal code), keeping the first MaxIdentifiers
// by that priority. It returns why the member cannot be sent, if so.
func parseMember(u *connectors.Upload, withConsent bool) (member, string) {
	var m member
	if withConsent && u.Consent.Denied() {
		return m, reasonDenied
	}
	m.consent = u.Consent
	parts := 0
	for _, id := range u.Identifiers {
		switch id.Kind {
		case audience.Email, audience.Phone, audience.FirstName, audience.LastName:
			if !audience.IsHashHex(id.Value) {
				return m, reasonNotHashed
			}
		}
		switch id.Kind {
		case audience.Email:
			m.emails = append(m.emails, id.Value)
		case audience.Phone:
			m.phones = append(m.phones, id.Value)
		case audience.FirstName:
			m.addr[0], parts = id.Value, parts|1
		case audience.LastName:
			m.addr[1], parts = id.Value, parts|2
		case audience.Country:
			if !isRegionCode(id.Value) {
				return m, reasonRegion
			}
			m.addr[2], parts = id.Value, parts|4
		case audience.Zip:
			if id.Value == "" || audience.IsHashHex(id.Value) || strings.TrimSpace(id.Value) != id.Value {
				return m, reasonPostalCode
			}
			m.addr[3], parts = id.Value, parts|8
		}
	}
	m.hasAddr = parts == 15 // an incomplete address cannot match: leave it out
	total := len(m.emails) + len(m.phones)
	if m.hasAddr {
		total++
	}
	if total == 0 {
		return m, reasonNoIdentifiers
	}
	m.n = min(total, MaxIdentifiers)
	m.trimmed = total > m.n
	m.emails = m.emails[:min(len(m.emails), m.n)]
	m.phones = m.phones[:min(len(m.phones), m.n-len(m.emails))]
	m.hasAddr = m.hasAddr && len(m.emails)+len(m.phones) < m.n
	return m, ""
}

// appendJSON appends the member as an AudienceMember.
func (m *member) appendJSON(buf []byte, withConsent bool) []byte {
	buf = append(buf, `{"userData":{"userIdentifiers":[`...)
	first := true
	sep := func() {
		if !first {
			buf = append(buf, ',')
		}
		first = false
	}
	for _, e := range m.emails {
		sep()
		buf = jsonstr.Append(append(buf, `{"emailAddress":`...), e)
		buf = append(buf, '}')
	}
	for _, p := range m.phones {
		sep()
		buf = jsonstr.Append(append(buf, `{"phoneNumber":`...), p)
		buf = append(buf, '}')
	}
	if m.hasAddr {
		sep()
		buf = jsonstr.Append(append(buf, `{"address":{"givenName":`...), m.addr[0])
		buf = jsonstr.Append(append(buf, `,"familyName":`...), m.addr[1])
		buf = jsonstr.Append(append(buf, `,"regionCode":`...), m.addr[2])
		buf = jsonstr.Append(append(buf, `,"postalCode":`...), m.addr[3])
		buf = append(buf, "}}"...)
	}
	buf = append(buf, "]}"...)
	if c := consentOf(m.consent); withConsent && c != nil {
		buf = append(buf, `,"consent":{`...)
		if c.AdUserData != "" {
			buf = jsonstr.Append(append(buf, `"adUserData":`...), c.AdUserData)
		}
		if c.AdPersonalization != "" {
			if c.AdUserData != "" {
				buf = append(buf, ',')
			}
			buf = jsonstr.Append(append(buf, `"adPersonalization":`...), c.AdPersonalization)
		}
		buf = append(buf, '}')
	}
	return append(buf, '}')
}

// consentOf gives a member's consent as Google takes it, leaving out
// unspecified answers; nil when there is none.
func consentOf(c audience.Consent) *datamanager.Consent {
	if c.AdUserData == audience.ConsentUnspecified && c.AdPersonalization == audience.ConsentUnspecified {
		return nil
	}
	return &datamanager.Consent{AdUserData: consentStatus(c.AdUserData), AdPersonalization: consentStatus(c.AdPersonalization)}
}

func consentStatus(s audience.ConsentStatus) string {
	switch s {
	case audience.ConsentGranted:
		return "CONSENT_GRANTED"
	case audience.ConsentDenied:
		return "CONSENT_DENIED"
	}
	return ""
}

func isRegionCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
