package googledm

import (
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

const (
	consentGranted = "CONSENT_GRANTED"
	consentDenied  = "CONSENT_DENIED"

	reasonDenied  = "PROCESSING_ERROR_REASON_DENIED_CONSENT"
	reasonNone    = "PROCESSING_ERROR_REASON_NO_CONSENT"
	reasonUnknown = "PROCESSING_ERROR_REASON_UNKNOWN_CONSENT"
)

// target is a destination resolved to a stored user list.
type target struct {
	dest destination
	list *list
}

// member is a validated audience member: the identifiers it carries, in
// canonical form, and whether they are contact (userData) or mobile ids.
type member struct {
	ids     []string
	hashed  []string // the hex hashes among ids, for the match rate
	mobile  bool
	consent *consent
	refs    []string
}

func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) *apiError {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var req ingestRequest
	if !decodeMembersFast(body, true, &req) {
		req = ingestRequest{}
		if err := decodeStrict([]byte(body), &req); err != nil {
			return err
		}
	}
	if len(req.EncryptionInfo) > 0 {
		return invalidArg("encryptionInfo", "UNSUPPORTED_ENCRYPTION", "Encrypted uploads are not supported by the sandbox; send hex or base64 SHA-256 hashes.")
	}
	if err := checkTerms(req.TermsOfService); err != nil {
		return err
	}
	if err := checkConsent("consent", req.Consent); err != nil {
		return err
	}
	members, err := parseMembers(req.AudienceMembers, req.Encoding, true)
	if err != nil {
		return err
	}
	if req.Consent == nil && !slices.ContainsFunc(members, func(m member) bool { return m.consent != nil }) {
		return invalidArg("consent", "CONSENT_REQUIRED",
			"Consent is required for Customer Match uploads: set consent on the request or on each audience member (adUserData and adPersonalization).")
	}
	return s.applyMembers(w, memberChange{kind: "ingest", add: true, dests: req.Destinations, members: members,
		validateOnly: req.ValidateOnly, refused: func(m member) string { return effectiveConsent(req.Consent, m.consent) }})
}

func (s *Server) handleRemove(w http.ResponseWriter, r *http.Request) *apiError {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var req removeRequest
	var fast ingestRequest
	if decodeMembersFast(body, false, &fast) {
		req = removeRequest{AudienceMembers: fast.AudienceMembers, Destinations: fast.Destinations,
			Encoding: fast.Encoding, ValidateOnly: fast.ValidateOnly}
	} else if err := decodeStrict([]byte(body), &req); err != nil {
		return err
	}
	if len(req.EncryptionInfo) > 0 {
		return invalidArg("encryptionInfo", "UNSUPPORTED_ENCRYPTION", "Encrypted uploads are not supported by the sandbox.")
	}
	members, err := parseMembers(req.AudienceMembers, req.Encoding, false)
	if err != nil {
		return err
	}
	return s.applyMembers(w, memberChange{kind: "remove", dests: req.Destinations, members: members,
		validateOnly: req.ValidateOnly})
}

// memberChange is an ingest or a remove request, validated.
type memberChange struct {
	kind         string // ingest or remove, for requestStatus
	add          bool   // add the members, else remove them
	dests        []destination
	members      []member
	validateOnly bool
	// refused, when set, names the processing error a member is refused
	// with (missing or denied consent), or "" to accept it.
	refused func(member) string
}

// applyMembers resolves c's destinations, counts for each what it is sent
// and queues the change to its user list (unless validate only), to be
// applied once the request is answered, and answers with the request id.
func (s *Server) applyMembers(w http.ResponseWriter, c memberChange) *apiError {
	s.Changes.SettleIfBacklogged()
	s.mu.Lock()
	defer s.mu.Unlock()
	targets, err := s.resolveLocked(c.dests, c.members)
	if err != nil {
		return err
	}
	rec := &requestRecord{kind: c.kind}
	for _, t := range targets {
		out := outcome{dest: t.dest, errors: map[string]int64{}}
		var ids []string
		var ends []int // one audience member, one person
		for _, m := range c.members {
			if !m.sentTo(t.dest) {
				continue
			}
			if c.refused != nil {
				if reason := c.refused(m); reason != "" {
					out.errors[reason]++
					continue
				}
			}
			out.count(m, cmp.Or(s.opts.MatchThreshold, defaultMatchThreshold))
			ids = append(ids, m.ids...)
			ends = append(ends, len(ids))
		}
		if !c.validateOnly {
			s.Changes.PushMembersLocked(&t.list.members, ids, ends, c.add)
		}
		rec.dests = append(rec.dests, out)
	}
	writeJSON(w, http.StatusOK, requestIDResponse{RequestID: s.recordLocked(rec)})
	return nil
}

func (s *Server) handleRemoveAll(w http.ResponseWriter, r *http.Request) *apiError {
	var req removeAllRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.RemoveAsOfTime != "" {
		if _, err := time.Parse(time.RFC3339Nano, req.RemoveAsOfTime); err != nil {
			return invalidArg("removeAsOfTime", "INVALID_ARGUMENT",
				"Invalid value at 'removeAsOfTime' (type.googleapis.com/google.protobuf.Timestamp), %q", req.RemoveAsOfTime)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	targets, err := s.resolveLocked(req.Destinations, nil)
	if err != nil {
		return err
	}
	rec := &requestRecord{kind: "removeAll"}
	for _, t := range targets {
		if !req.ValidateOnly {
			l := t.list
			s.Changes.PushLocked(0, func() { l.members = wire.Set{} })
		}
		rec.dests = append(rec.dests, outcome{dest: t.dest, errors: map[string]int64{}})
	}
	writeJSON(w, http.StatusOK, requestIDResponse{RequestID: s.recordLocked(rec)})
	return nil
}

func checkTerms(t *termsOfService) *apiError {
	status := ""
	if t != nil {
		status = t.CustomerMatchTermsOfServiceStatus
	}
	switch status {
	case "ACCEPTED":
		return nil
	case "REJECTED":
		return &apiError{httpStatus: http.StatusForbidden, status: "PERMISSION_DENIED",
			message: "The Customer Match terms of service were rejected; accept them before uploading.",
			reason:  "TERMS_OF_SERVICE_NOT_ACCEPTED", field: "termsOfService.customerMatchTermsOfServiceStatus"}
	case "", "TERMS_OF_SERVICE_STATUS_UNSPECIFIED":
		return invalidArg("termsOfService.customerMatchTermsOfServiceStatus", "TERMS_OF_SERVICE_NOT_ACCEPTED",
			"termsOfService.customerMatchTermsOfServiceStatus must be ACCEPTED for Customer Match uploads.")
	}
	return invalidArg("termsOfService.customerMatchTermsOfServiceStatus", "INVALID_ARGUMENT",
		"Invalid value at 'termsOfService.customerMatchTermsOfServiceStatus' (type.googleapis.com/google.ads.datamanager.v1.TermsOfServiceStatus), %q", status)
}

func checkConsent(path string, c *consent) *apiError {
	if c == nil {
		return nil
	}
	if err := checkConsentStatus(path, "adUserData", c.AdUserData); err != nil {
		return err
	}
	return checkConsentStatus(path, "adPersonalization", c.AdPersonalization)
}

func checkConsentStatus(path, name, v string) *apiError {
	switch v {
	case "", "CONSENT_STATUS_UNSPECIFIED", consentGranted, consentDenied:
		return nil
	}
	return invalidArg(path+"."+name, "INVALID_ARGUMENT",
		"Invalid value at '%s.%s' (type.googleapis.com/google.ads.datamanager.v1.ConsentStatus), %q", path, name, v)
}

// effectiveConsent applies the member's consent over the request's, field
// by field, and returns the processing error reason that keeps the member
// out of the list, or "" when both signals are granted.
func effectiveConsent(req, mem *consent) string {
	pick := func(f func(*consent) string) string {
		if mem != nil {
			if v := f(mem); v != "" && v != "CONSENT_STATUS_UNSPECIFIED" {
				return v
			}
		}
		if req != nil {
			if v := f(req); v != "" && v != "CONSENT_STATUS_UNSPECIFIED" {
				return v
			}
		}
		return ""
	}
	userData := pick(func(c *consent) string { return c.AdUserData })
	personalization := pick(func(c *consent) string { return c.AdPersonalization })
	switch {
	case userData == consentDenied || personalization == consentDenied:
		return reasonDenied
	case userData == "" && personalization == "":
		return reasonNone
	case userData == "" || personalization == "":
		return reasonUnknown
	}
	return ""
}

func parseMembers(in []audienceMember, encoding string, ingest bool) ([]member, *apiError) {
	if len(in) == 0 {
		return nil, invalidArg("audienceMembers", "REQUIRED_FIELD_MISSING", "audienceMembers must not be empty.")
	}
	if len(in) > MaxMembersPerRequest {
		return nil, invalidArg("audienceMembers", "TOO_MANY_AUDIENCE_MEMBERS",
			"Too many audience members: %d sent, at most %d per request.", len(in), MaxMembersPerRequest)
	}
	switch encoding {
	case "HEX", "BASE64":
	case "", "ENCODING_UNSPECIFIED":
		if slices.ContainsFunc(in, func(m audienceMember) bool { return m.UserData != nil }) {
			return nil, invalidArg("encoding", "INVALID_ENCODING", "encoding is required (HEX or BASE64) when audience members carry userData.")
		}
	default:
		return nil, invalidArg("encoding", "INVALID_ARGUMENT",
			"Invalid value at 'encoding' (type.googleapis.com/google.ads.datamanager.v1.Encoding), %q", encoding)
	}
	// Every member's identifiers share two arrays, each member taking the
	// run it appends to: two allocations a request rather than two a member.
	n := 0
	for i := range in {
		if in[i].UserData != nil {
			n += len(in[i].UserData.UserIdentifiers)
		}
	}
	slab := idSlab{ids: make([]string, 0, n), hashed: make([]string, 0, n)}
	out := make([]member, 0, len(in))
	for i, am := range in {
		m, err := parseMember(i, am, encoding, &slab)
		if err != nil {
			return nil, err
		}
		if am.Consent != nil {
			path := fmt.Sprintf("audienceMembers[%d].consent", i)
			if !ingest {
				return nil, invalidArg(path, "INVALID_ARGUMENT", "Consent is not accepted on removal.")
			}
			if err := checkConsent(path, am.Consent); err != nil {
				return nil, err
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// parseMember validates member i of a request. Error paths are built only
// when there is an error: a request carries ten thousand members.
// idSlab holds the identifiers of a request's members.
type idSlab struct{ ids, hashed []string }

func parseMember(i int, am audienceMember, encoding string, slab *idSlab) (member, *apiError) {
	path := func() string { return fmt.Sprintf("audienceMembers[%d]", i) }
	m := member{consent: am.Consent, refs: am.DestinationReferences}
	kinds := 0
	for _, raw := range [][]byte{am.CompositeData, am.GoogleUserIDData, am.PairData, am.PartnerProvidedIDData, am.PpidData, am.UserIDData} {
		if len(raw) > 0 {
			return m, invalidArg(path(), "UNSUPPORTED_DATA_TYPE",
				"Only userData and mobileData audience members are supported by the sandbox's Customer Match lists.")
		}
	}
	if am.UserData != nil {
		kinds++
	}
	if am.MobileData != nil {
		kinds++
	}
	if kinds != 1 {
		return m, invalidArg(path(), "INVALID_AUDIENCE_MEMBER", "An audience member must carry exactly one of userData or mobileData.")
	}
	if am.MobileData != nil {
		m.mobile = true
		ids := am.MobileData.MobileIDs
		if len(ids) == 0 || len(ids) > MaxIdentifiersPerMember {
			return m, invalidArg(path()+".mobileData.mobileIds", "INVALID_MOBILE_ID",
				"mobileData.mobileIds must hold 1 to %d ids.", MaxIdentifiersPerMember)
		}
		for j, id := range ids {
			if strings.TrimSpace(id) == "" || wire.IsSHA256Hex(id) {
				return m, invalidArg(fmt.Sprintf("%s.mobileData.mobileIds[%d]", path(), j), "INVALID_MOBILE_ID",
					"A mobile id (IDFA or AAID) is sent in clear, not hashed or empty.")
			}
			m.ids = append(m.ids, "mobile:"+strings.ToLower(id))
		}
		return m, nil
	}
	ids := am.UserData.UserIdentifiers
	if len(ids) == 0 {
		return m, invalidArg(path()+".userData.userIdentifiers", "REQUIRED_FIELD_MISSING", "userData.userIdentifiers must not be empty.")
	}
	if len(ids) > MaxIdentifiersPerMember {
		return m, invalidArg(path()+".userData.userIdentifiers", "TOO_MANY_USER_IDENTIFIERS",
			"Too many user identifiers: %d sent, at most %d per audience member.", len(ids), MaxIdentifiersPerMember)
	}
	if cap(slab.ids)-len(slab.ids) < len(ids) {
		slab.ids, slab.hashed = make([]string, 0, len(ids)), make([]string, 0, len(ids))
	}
	start := len(slab.ids)
	for j, ui := range ids {
		id, hashed, err := parseIdentifier(func() string {
			return fmt.Sprintf("%s.userData.userIdentifiers[%d]", path(), j)
		}, ui, encoding)
		if err != nil {
			return m, err
		}
		slab.ids = append(slab.ids, id)
		slab.hashed = append(slab.hashed, hashed)
	}
	end := len(slab.ids)
	m.ids, m.hashed = slab.ids[start:end:end], slab.hashed[start:end:end]
	return m, nil
}

func parseIdentifier(path func() string, ui userIdentifier, encoding string) (id, hashed string, err *apiError) {
	set := 0
	if ui.EmailAddress != "" {
		set++
	}
	if ui.PhoneNumber != "" {
		set++
	}
	if ui.Address != nil {
		set++
	}
	if set != 1 {
		return "", "", invalidArg(path(), "INVALID_USER_IDENTIFIER",
			"A user identifier must set exactly one of emailAddress, phoneNumber or address.")
	}
	switch {
	case ui.EmailAddress != "":
		h, err := canonicalHash(path, ".emailAddress", ui.EmailAddress, encoding)
		return h, h, err
	case ui.PhoneNumber != "":
		h, err := canonicalHash(path, ".phoneNumber", ui.PhoneNumber, encoding)
		return h, h, err
	}
	a := ui.Address
	if a.AddressLine != "" || a.City != "" || a.AdministrativeArea != "" {
		return "", "", invalidArg(path()+".address", "INVALID_ADDRESS",
			"Customer Match addresses take givenName, familyName, regionCode and postalCode only.")
	}
	given, err := canonicalHash(path, ".address.givenName", a.GivenName, encoding)
	if err != nil {
		return "", "", err
	}
	family, err := canonicalHash(path, ".address.familyName", a.FamilyName, encoding)
	if err != nil {
		return "", "", err
	}
	if !isRegionCode(a.RegionCode) {
		return "", "", invalidArg(path()+".address.regionCode", "INVALID_REGION_CODE",
			"regionCode must be a two-letter uppercase ISO 3166-1 alpha-2 code sent in clear, got %q.", a.RegionCode)
	}
	if a.PostalCode == "" || strings.TrimSpace(a.PostalCode) != a.PostalCode || wire.IsSHA256Hex(a.PostalCode) {
		return "", "", invalidArg(path()+".address.postalCode", "INVALID_POSTAL_CODE",
			"postalCode is required and is sent in clear (not hashed), without surrounding whitespace.")
	}
	return "address:" + given + "|" + family + "|" + a.RegionCode + "|" + a.PostalCode, given, nil
}

func isRegionCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// canonicalHash checks a hashed value in the request's encoding and returns
// it as lowercase hex, so membership is the same whichever encoding sent it.
// The field's path is at() + field, built only for an error.
func canonicalHash(at func() string, field, v, encoding string) (string, *apiError) {
	path := func() string { return at() + field }
	if v == "" {
		return "", invalidArg(path(), "REQUIRED_FIELD_MISSING", "%s is required.", path())
	}
	if encoding == "BASE64" {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			b, err = base64.URLEncoding.DecodeString(v)
		}
		if err != nil || len(b) != 32 {
			return "", invalidArg(path(), "INVALID_HASH_FORMAT",
				"%s is not a base64-encoded SHA-256 hash (32 bytes).", path())
		}
		return hex.EncodeToString(b), nil
	}
	if !wire.IsSHA256Hex(v) {
		return "", invalidArg(path(), "INVALID_HASH_FORMAT",
			"%s is not a hex-encoded SHA-256 hash (64 lowercase hex characters); normalise and hash values before sending.", path())
	}
	return v, nil
}

// sentTo reports whether the member goes to destination d: all
// destinations unless the member names some by reference.
func (m member) sentTo(d destination) bool {
	return len(m.refs) == 0 || slices.Contains(m.refs, d.Reference)
}

// resolveLocked validates destinations and finds their user lists; s.mu is
// held. Members (nil for removeAll) are checked against each list's upload
// key types and against the destination references.
func (s *Server) resolveLocked(dests []destination, members []member) ([]target, *apiError) {
	if len(dests) == 0 {
		return nil, invalidArg("destinations", "REQUIRED_FIELD_MISSING", "destinations must not be empty.")
	}
	refs := map[string]bool{}
	out := make([]target, 0, len(dests))
	for i, d := range dests {
		path := fmt.Sprintf("destinations[%d]", i)
		if err := checkAccount(path+".operatingAccount", d.OperatingAccount, true); err != nil {
			return nil, err
		}
		if err := checkAccount(path+".loginAccount", d.LoginAccount, false); err != nil {
			return nil, err
		}
		if err := checkAccount(path+".linkedAccount", d.LinkedAccount, false); err != nil {
			return nil, err
		}
		if d.ProductDestinationID == "" {
			return nil, invalidArg(path+".productDestinationId", "REQUIRED_FIELD_MISSING",
				"productDestinationId (the user list id) is required.")
		}
		l, ok := s.lists.Get(d.ProductDestinationID)
		if !ok || l.account != d.OperatingAccount.AccountID {
			return nil, invalidArg(path+".productDestinationId", "INVALID_PRODUCT_DESTINATION_ID",
				"User list %s does not exist in account %s.", d.ProductDestinationID, d.OperatingAccount.AccountID)
		}
		if len(dests) > 1 && d.Reference == "" {
			return nil, invalidArg(path+".reference", "REQUIRED_FIELD_MISSING", "reference is required when a request has several destinations.")
		}
		if d.Reference != "" {
			if refs[d.Reference] {
				return nil, invalidArg(path+".reference", "DUPLICATE_DESTINATION_REFERENCE", "Destination reference %q is used twice.", d.Reference)
			}
			refs[d.Reference] = true
		}
		keys := []string{}
		if l.res.IngestedUserListInfo != nil {
			keys = l.res.IngestedUserListInfo.UploadKeyTypes
		}
		for j, m := range members {
			for _, ref := range m.refs {
				if !refs[ref] && !slices.ContainsFunc(dests, func(d destination) bool { return d.Reference == ref }) {
					return nil, invalidArg(fmt.Sprintf("audienceMembers[%d].destinationReferences", j), "INVALID_DESTINATION_REFERENCE",
						"Destination reference %q does not name a destination of this request.", ref)
				}
			}
			if !m.sentTo(d) {
				continue
			}
			want := "CONTACT_ID"
			if m.mobile {
				want = "MOBILE_ID"
			}
			if !slices.Contains(keys, want) {
				return nil, invalidArg(fmt.Sprintf("audienceMembers[%d]", j), "UPLOAD_KEY_TYPE_MISMATCH",
					"User list %s takes %v; this member carries %s data. Do not mix data types in one list.",
					l.res.ID, keys, want)
			}
		}
		out = append(out, target{dest: d, list: l})
	}
	return out, nil
}

func checkAccount(path string, a *productAccount, required bool) *apiError {
	if a == nil {
		if required {
			return invalidArg(path, "REQUIRED_FIELD_MISSING", "%s is required.", path)
		}
		return nil
	}
	switch a.AccountType {
	case "GOOGLE_ADS":
	case "DATA_PARTNER", "DISPLAY_VIDEO_PARTNER", "DISPLAY_VIDEO_ADVERTISER":
		if required {
			return invalidArg(path+".accountType", "UNSUPPORTED_ACCOUNT_TYPE",
				"The sandbox replicates Customer Match for GOOGLE_ADS operating accounts only.")
		}
	case "", "ACCOUNT_TYPE_UNSPECIFIED":
		return invalidArg(path+".accountType", "REQUIRED_FIELD_MISSING", "%s.accountType is required.", path)
	default:
		return invalidArg(path+".accountType", "INVALID_ARGUMENT",
			"Invalid value at '%s.accountType' (type.googleapis.com/google.ads.datamanager.v1.ProductAccount.AccountType), %q", path, a.AccountType)
	}
	if a.Product != "" {
		return invalidArg(path+".product", "INVALID_ARGUMENT", "product is deprecated; set accountType instead.")
	}
	if !isAccountID(a.AccountID) {
		return invalidArg(path+".accountId", "INVALID_ACCOUNT_ID",
			"Invalid account id %q: digits only, without hyphens.", a.AccountID)
	}
	return nil
}
