package googledm

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/sandbox/fault"
)

const account = "1234567890"

type bundle struct {
	srv *Server
	ts  *httptest.Server
}

func setup(t *testing.T, opts Options) *bundle {
	t.Helper()
	srv := New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &bundle{srv: srv, ts: ts}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

// call sends body (a string as is, anything else as JSON) with token.
func (b *bundle) call(t *testing.T, method, path string, body any, token string) response {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		buf, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, b.ts.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := b.ts.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := response{status: res.StatusCode, header: res.Header}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out.body), "body: %s", raw)
	}
	return out
}

// googleError checks the Google error shape and returns status and message.
func googleError(t *testing.T, r response) (string, string) {
	t.Helper()
	e, ok := r.body["error"].(map[string]any)
	require.True(t, ok, "want a Google error body, got %v", r.body)
	require.EqualValues(t, r.status, e["code"])
	return e["status"].(string), e["message"].(string)
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (b *bundle) newList(t *testing.T, name string) string {
	t.Helper()
	r := b.call(t, "POST", "/v1/accountTypes/GOOGLE_ADS/accounts/"+account+"/userLists", map[string]any{
		"displayName":        name,
		"description":        "test list",
		"membershipDuration": "46656000s",
		"ingestedUserListInfo": map[string]any{
			"uploadKeyTypes": []string{"CONTACT_ID"},
			"contactIdInfo":  map[string]any{"dataSourceType": "DATA_SOURCE_TYPE_FIRST_PARTY"},
		},
	}, google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	return r.body["id"].(string)
}

func dest(listID string) map[string]any {
	return map[string]any{
		"operatingAccount":     map[string]any{"accountType": "GOOGLE_ADS", "accountId": account},
		"productDestinationId": listID,
	}
}

func emailMember(addr string) map[string]any {
	return map[string]any{"userData": map[string]any{"userIdentifiers": []any{map[string]any{"emailAddress": sha(addr)}}}}
}

func ingestBody(listID string, members ...any) map[string]any {
	return map[string]any{
		"destinations":    []any{dest(listID)},
		"audienceMembers": members,
		"consent":         map[string]any{"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"},
		"encoding":        "HEX",
		"termsOfService":  map[string]any{"customerMatchTermsOfServiceStatus": "ACCEPTED"},
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	for _, tc := range []struct {
		name, header, reason string
	}{
		{"missing", "", "CREDENTIALS_MISSING"},
		{"wrong token", "Bearer nope", "ACCESS_TOKEN_INVALID"},
		{"expired token", "Bearer " + google.ReplicaExpiredToken, "ACCESS_TOKEN_EXPIRED"},
		{"wrong scheme", "Basic " + google.ReplicaToken, "ACCESS_TOKEN_TYPE_UNSUPPORTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest("GET", b.ts.URL+"/v1/accountTypes/GOOGLE_ADS/accounts/"+account+"/userLists", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, 401, res.StatusCode)
			var body errorBody
			require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
			require.Equal(t, "UNAUTHENTICATED", body.Error.Status)
			require.Equal(t, tc.reason, body.Error.Details[0]["reason"])
		})
	}
	// The token is also accepted as the access_token parameter.
	res, err := http.Get(b.ts.URL + "/v1/accountTypes/GOOGLE_ADS/accounts/" + account + "/userLists?access_token=" + google.ReplicaToken)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
}

func TestUserLists(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	base := "/v1/accountTypes/GOOGLE_ADS/accounts/" + account + "/userLists"
	id := b.newList(t, "Cart abandoners")

	r := b.call(t, "GET", base+"/"+id, nil, google.ReplicaToken)
	require.Equal(t, 200, r.status)
	require.Equal(t, "accountTypes/GOOGLE_ADS/accounts/"+account+"/userLists/"+id, r.body["name"])
	require.Equal(t, "Cart abandoners", r.body["displayName"])
	require.Equal(t, "OPEN", r.body["membershipStatus"])
	require.Equal(t, "0", r.body["sizeInfo"].(map[string]any)["searchNetworkMembersCount"])

	r = b.call(t, "POST", base, map[string]any{"displayName": "Cart abandoners",
		"ingestedUserListInfo": map[string]any{"uploadKeyTypes": []string{"CONTACT_ID"}}}, google.ReplicaToken)
	require.Equal(t, 400, r.status, "duplicate names are refused")

	r = b.call(t, "PATCH", base+"/"+id+"?updateMask=description,membershipDuration",
		map[string]any{"description": "renamed", "membershipDuration": "86400s"}, google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	require.Equal(t, "renamed", r.body["description"])
	require.Equal(t, "86400s", r.body["membershipDuration"])

	r = b.call(t, "GET", base+"/999", nil, google.ReplicaToken)
	require.Equal(t, 404, r.status)
	status, _ := googleError(t, r)
	require.Equal(t, "NOT_FOUND", status)

	for i := range 3 {
		b.newList(t, fmt.Sprintf("list %d", i))
	}
	var names []string
	token := ""
	for page := 0; ; page++ {
		require.Less(t, page, 5)
		r = b.call(t, "GET", base+"?pageSize=2&pageToken="+token, nil, google.ReplicaToken)
		require.Equal(t, 200, r.status, r.body)
		for _, l := range r.body["userLists"].([]any) {
			names = append(names, l.(map[string]any)["displayName"].(string))
		}
		next, _ := r.body["nextPageToken"].(string)
		if next == "" {
			break
		}
		token = next
	}
	require.Equal(t, []string{"Cart abandoners", "list 0", "list 1", "list 2"}, names)

	r = b.call(t, "GET", base+`?filter=display_name%20%3D%20%22list%201%22`, nil, google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	require.Len(t, r.body["userLists"], 1)
}

func TestUserListValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	info := map[string]any{"uploadKeyTypes": []string{"CONTACT_ID"}}
	for _, tc := range []struct {
		name string
		path string
		body map[string]any
	}{
		{"no display name", "GOOGLE_ADS/accounts/" + account, map[string]any{"ingestedUserListInfo": info}},
		{"duration over 540 days", "GOOGLE_ADS/accounts/" + account, map[string]any{"displayName": "a", "membershipDuration": "46656001s", "ingestedUserListInfo": info}},
		{"duration not a duration", "GOOGLE_ADS/accounts/" + account, map[string]any{"displayName": "a", "membershipDuration": "540d", "ingestedUserListInfo": info}},
		{"no upload key types", "GOOGLE_ADS/accounts/" + account, map[string]any{"displayName": "a"}},
		{"bad upload key type", "GOOGLE_ADS/accounts/" + account, map[string]any{"displayName": "a", "ingestedUserListInfo": map[string]any{"uploadKeyTypes": []string{"EMAIL"}}}},
		{"unknown field", "GOOGLE_ADS/accounts/" + account, map[string]any{"displayName": "a", "ingestedUserListInfo": info, "size": 3}},
		{"account with hyphens", "GOOGLE_ADS/accounts/123-456-7890", map[string]any{"displayName": "a", "ingestedUserListInfo": info}},
		{"bad account type", "ADWORDS/accounts/" + account, map[string]any{"displayName": "a", "ingestedUserListInfo": info}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := b.call(t, "POST", "/v1/accountTypes/"+tc.path+"/userLists", tc.body, google.ReplicaToken)
			require.Equal(t, 400, r.status, r.body)
			status, _ := googleError(t, r)
			require.Equal(t, "INVALID_ARGUMENT", status)
		})
	}
}

func TestIngestValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	list := b.newList(t, "validation")
	good := func() map[string]any { return ingestBody(list, emailMember("a@example.com")) }
	tooMany := make([]any, MaxMembersPerRequest+1)
	for i := range tooMany {
		tooMany[i] = emailMember(fmt.Sprint(i))
	}
	ids := make([]any, MaxIdentifiersPerMember+1)
	for i := range ids {
		ids[i] = map[string]any{"emailAddress": sha(fmt.Sprint(i))}
	}
	address := func(a map[string]any) map[string]any {
		full := map[string]any{"givenName": sha("quinn"), "familyName": sha("young"), "regionCode": "US", "postalCode": "94045"}
		for k, v := range a {
			full[k] = v
		}
		return map[string]any{"userData": map[string]any{"userIdentifiers": []any{map[string]any{"address": full}}}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(map[string]any)
		field  string
	}{
		{"unknown top-level field", func(m map[string]any) { m["audience"] = "x" }, ""},
		{"field name in wrong case", func(m map[string]any) { m["Encoding"] = m["encoding"]; delete(m, "encoding") }, ""},
		{"snake_case field", func(m map[string]any) { m["audience_members"] = m["audienceMembers"] }, ""},
		{"no destinations", func(m map[string]any) { delete(m, "destinations") }, "destinations"},
		{"account type not Google Ads", func(m map[string]any) {
			m["destinations"] = []any{map[string]any{"operatingAccount": map[string]any{"accountType": "GOOGLE_ANALYTICS_PROPERTY", "accountId": account}, "productDestinationId": list}}
		}, "destinations[0].operatingAccount.accountType"},
		{"unknown account type", func(m map[string]any) {
			m["destinations"] = []any{map[string]any{"operatingAccount": map[string]any{"accountType": "ADS", "accountId": account}, "productDestinationId": list}}
		}, "destinations[0].operatingAccount.accountType"},
		{"list does not exist", func(m map[string]any) { m["destinations"] = []any{dest("42")} }, "destinations[0].productDestinationId"},
		{"no product destination", func(m map[string]any) { m["destinations"] = []any{dest("")} }, "destinations[0].productDestinationId"},
		{"no encoding", func(m map[string]any) { delete(m, "encoding") }, "encoding"},
		{"bad encoding", func(m map[string]any) { m["encoding"] = "SHA256" }, "encoding"},
		{"email in clear", func(m map[string]any) {
			m["audienceMembers"] = []any{map[string]any{"userData": map[string]any{"userIdentifiers": []any{map[string]any{"emailAddress": "a@example.com"}}}}}
		}, "audienceMembers[0].userData.userIdentifiers[0].emailAddress"},
		{"uppercase hex", func(m map[string]any) {
			m["audienceMembers"] = []any{map[string]any{"userData": map[string]any{"userIdentifiers": []any{map[string]any{"phoneNumber": strings.ToUpper(sha("+18005550100"))}}}}}
		}, "audienceMembers[0].userData.userIdentifiers[0].phoneNumber"},
		{"two identifiers in one", func(m map[string]any) {
			m["audienceMembers"] = []any{map[string]any{"userData": map[string]any{"userIdentifiers": []any{map[string]any{"emailAddress": sha("a"), "phoneNumber": sha("b")}}}}}
		}, "audienceMembers[0].userData.userIdentifiers[0]"},
		{"region code lowercase", func(m map[string]any) { m["audienceMembers"] = []any{address(map[string]any{"regionCode": "us"})} },
			"audienceMembers[0].userData.userIdentifiers[0].address.regionCode"},
		{"postal code hashed", func(m map[string]any) {
			m["audienceMembers"] = []any{address(map[string]any{"postalCode": sha("94045")})}
		},
			"audienceMembers[0].userData.userIdentifiers[0].address.postalCode"},
		{"given name in clear", func(m map[string]any) { m["audienceMembers"] = []any{address(map[string]any{"givenName": "Quinn"})} },
			"audienceMembers[0].userData.userIdentifiers[0].address.givenName"},
		{"too many identifiers", func(m map[string]any) {
			m["audienceMembers"] = []any{map[string]any{"userData": map[string]any{"userIdentifiers": ids}}}
		}, "audienceMembers[0].userData.userIdentifiers"},
		{"too many members", func(m map[string]any) { m["audienceMembers"] = tooMany }, "audienceMembers"},
		{"no members", func(m map[string]any) { m["audienceMembers"] = []any{} }, "audienceMembers"},
		{"no consent anywhere", func(m map[string]any) { delete(m, "consent") }, "consent"},
		{"bad consent value", func(m map[string]any) { m["consent"] = map[string]any{"adUserData": "GRANTED"} }, "consent.adUserData"},
		{"terms missing", func(m map[string]any) { delete(m, "termsOfService") }, "termsOfService.customerMatchTermsOfServiceStatus"},
		{"mobile data into a contact list", func(m map[string]any) {
			m["audienceMembers"] = []any{map[string]any{"mobileData": map[string]any{"mobileIds": []string{"6d92078a-8246-4ba4-ae5b-76104861e7dc"}}}}
		}, "audienceMembers[0]"},
		{"pair data unsupported", func(m map[string]any) {
			m["audienceMembers"] = []any{map[string]any{"pairData": map[string]any{"pairIds": []string{"x"}}}}
		}, "audienceMembers[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := good()
			tc.mutate(body)
			r := b.call(t, "POST", "/v1/audienceMembers:ingest", body, google.ReplicaToken)
			require.Equal(t, 400, r.status, r.body)
			status, _ := googleError(t, r)
			require.Equal(t, "INVALID_ARGUMENT", status)
			if tc.field != "" {
				details := r.body["error"].(map[string]any)["details"].([]any)
				violation := details[0].(map[string]any)["fieldViolations"].([]any)[0].(map[string]any)
				require.Equal(t, tc.field, violation["field"])
			}
		})
	}
	require.Empty(t, b.srv.Members(list), "nothing refused may be stored")

	t.Run("terms rejected", func(t *testing.T) {
		t.Parallel()
		body := good()
		body["termsOfService"] = map[string]any{"customerMatchTermsOfServiceStatus": "REJECTED"}
		r := b.call(t, "POST", "/v1/audienceMembers:ingest", body, google.ReplicaToken)
		require.Equal(t, 403, r.status)
	})
	t.Run("consent is not part of a removal", func(t *testing.T) {
		t.Parallel()
		body := good()
		delete(body, "termsOfService")
		r := b.call(t, "POST", "/v1/audienceMembers:remove", body, google.ReplicaToken)
		require.Equal(t, 400, r.status)
		_, msg := googleError(t, r)
		require.Contains(t, msg, `"consent"`)
	})
	t.Run("malformed JSON", func(t *testing.T) {
		t.Parallel()
		r := b.call(t, "POST", "/v1/audienceMembers:ingest", `{"destinations": [`, google.ReplicaToken)
		require.Equal(t, 400, r.status)
	})
}

func TestIngestRemoveAndStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{PollsBeforeDone: 1})
	list := b.newList(t, "members")
	address := map[string]any{"address": map[string]any{"givenName": sha("quinn"), "familyName": sha("young"), "regionCode": "US", "postalCode": "94045"}}
	denied := emailMember("denied@example.com")
	denied["consent"] = map[string]any{"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_DENIED"}
	multi := map[string]any{"userData": map[string]any{"userIdentifiers": []any{
		map[string]any{"emailAddress": sha("b@example.com")}, map[string]any{"phoneNumber": sha("+18005550100")}, address,
	}}}
	r := b.call(t, "POST", "/v1/audienceMembers:ingest", ingestBody(list, emailMember("a@example.com"), multi, denied), google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	reqID := r.body["requestId"].(string)
	require.NotEmpty(t, reqID)

	want := []string{
		"address:" + sha("quinn") + "|" + sha("young") + "|US|94045",
		sha("a@example.com"), sha("b@example.com"), sha("+18005550100"),
	}
	require.ElementsMatch(t, want, b.srv.Members(list))
	require.NotContains(t, b.srv.Members(list), sha("denied@example.com"), "a member who denies consent is not added")

	r = b.call(t, "GET", "/v1/requestStatus:retrieve?requestId="+reqID, nil, google.ReplicaToken)
	require.Equal(t, 200, r.status)
	st := r.body["requestStatusPerDestination"].([]any)[0].(map[string]any)
	require.Equal(t, "PROCESSING", st["requestStatus"])

	r = b.call(t, "GET", "/v1/requestStatus:retrieve?requestId="+reqID, nil, google.ReplicaToken)
	st = r.body["requestStatusPerDestination"].([]any)[0].(map[string]any)
	require.Equal(t, "PARTIAL_SUCCESS", st["requestStatus"])
	user := st["audienceMembersIngestionStatus"].(map[string]any)["userDataIngestionStatus"].(map[string]any)
	require.Equal(t, "2", user["recordCount"], "counts are int64 strings")
	require.Equal(t, "4", user["userIdentifierCount"])
	require.Contains(t, user["uploadMatchRateRange"], "MATCH_RATE_RANGE_")
	require.Equal(t, []any{map[string]any{"reason": "PROCESSING_ERROR_REASON_DENIED_CONSENT", "recordCount": "1"}},
		st["errorInfo"].(map[string]any)["errorCounts"])

	// Removal removes the identifiers given.
	r = b.call(t, "POST", "/v1/audienceMembers:remove", map[string]any{
		"destinations": []any{dest(list)}, "encoding": "HEX",
		"audienceMembers": []any{map[string]any{"userData": map[string]any{"userIdentifiers": []any{map[string]any{"phoneNumber": sha("+18005550100")}}}}},
	}, google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	require.ElementsMatch(t, []string{want[0], want[1], want[2]}, b.srv.Members(list))
	removal := r.body["requestId"].(string)
	b.call(t, "GET", "/v1/requestStatus:retrieve?requestId="+removal, nil, google.ReplicaToken) // PROCESSING
	r = b.call(t, "GET", "/v1/requestStatus:retrieve?requestId="+removal, nil, google.ReplicaToken)
	st = r.body["requestStatusPerDestination"].([]any)[0].(map[string]any)
	require.Equal(t, "SUCCESS", st["requestStatus"])
	require.Equal(t, "1", st["audienceMembersRemovalStatus"].(map[string]any)["userDataRemovalStatus"].(map[string]any)["recordCount"])

	// Base64 encoding lands on the same identifiers.
	raw := sha256.Sum256([]byte("c@example.com"))
	body := ingestBody(list, map[string]any{"userData": map[string]any{"userIdentifiers": []any{map[string]any{"emailAddress": base64.StdEncoding.EncodeToString(raw[:])}}}})
	body["encoding"] = "BASE64"
	r = b.call(t, "POST", "/v1/audienceMembers:ingest", body, google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	require.Contains(t, b.srv.Members(list), sha("c@example.com"))

	// validateOnly changes nothing.
	body = ingestBody(list, emailMember("d@example.com"))
	body["validateOnly"] = true
	r = b.call(t, "POST", "/v1/audienceMembers:ingest", body, google.ReplicaToken)
	require.Equal(t, 200, r.status)
	require.NotContains(t, b.srv.Members(list), sha("d@example.com"))

	r = b.call(t, "POST", "/v1/audienceMembers:removeAll", map[string]any{"destinations": []any{dest(list)}}, google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	require.Empty(t, b.srv.Members(list))

	r = b.call(t, "GET", "/v1/requestStatus:retrieve?requestId=nope", nil, google.ReplicaToken)
	require.Equal(t, 404, r.status)
}

func TestPerMemberConsentOverridesRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	list := b.newList(t, "consent")
	granted := emailMember("granted@example.com")
	granted["consent"] = map[string]any{"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"}
	body := ingestBody(list, granted, emailMember("default@example.com"))
	body["consent"] = map[string]any{"adUserData": "CONSENT_DENIED", "adPersonalization": "CONSENT_DENIED"}
	r := b.call(t, "POST", "/v1/audienceMembers:ingest", body, google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	require.Equal(t, []string{sha("granted@example.com")}, b.srv.Members(list))
}

func TestMatchRateIsDeterministic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		matched, total int64
		want           string
	}{
		{0, 0, "MATCH_RATE_RANGE_NOT_ELIGIBLE"},
		{1, 10, "MATCH_RATE_RANGE_LESS_THAN_20"},
		{3, 10, "MATCH_RATE_RANGE_20_TO_30"},
		{7, 10, "MATCH_RATE_RANGE_61_TO_70"},
		{10, 10, "MATCH_RATE_RANGE_91_TO_100"},
		// The edges of the ranges.
		{19, 100, "MATCH_RATE_RANGE_LESS_THAN_20"},
		{20, 100, "MATCH_RATE_RANGE_20_TO_30"},
		{31, 100, "MATCH_RATE_RANGE_31_TO_40"},
		{90, 100, "MATCH_RATE_RANGE_81_TO_90"},
		{91, 100, "MATCH_RATE_RANGE_91_TO_100"},
	} {
		require.Equal(t, tc.want, matchRateRange(tc.matched, tc.total))
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: fault.MustParse("google.ingest:429*1,google.ingest:503*1,google.ingest:expired*1,google.ingest:504*1,retry-after=3s")})
	list := b.newList(t, "faults")
	body := ingestBody(list, emailMember("a@example.com"))

	r := b.call(t, "POST", "/v1/audienceMembers:ingest", body, google.ReplicaToken)
	require.Equal(t, 429, r.status)
	status, _ := googleError(t, r)
	require.Equal(t, "RESOURCE_EXHAUSTED", status)
	require.Equal(t, "3", r.header.Get("Retry-After"))
	details := r.body["error"].(map[string]any)["details"].([]any)
	require.Contains(t, details, map[string]any{"@type": typeRetry, "retryDelay": "3s"})

	r = b.call(t, "POST", "/v1/audienceMembers:ingest", body, google.ReplicaToken)
	require.Equal(t, 503, r.status)
	status, _ = googleError(t, r)
	require.Equal(t, "UNAVAILABLE", status)

	r = b.call(t, "POST", "/v1/audienceMembers:ingest", body, google.ReplicaToken)
	require.Equal(t, 401, r.status)
	status, _ = googleError(t, r)
	require.Equal(t, "UNAUTHENTICATED", status)

	r = b.call(t, "POST", "/v1/audienceMembers:ingest", body, google.ReplicaToken)
	require.Equal(t, 504, r.status)
	status, _ = googleError(t, r)
	require.Equal(t, "DEADLINE_EXCEEDED", status)

	require.Empty(t, b.srv.Members(list), "faulted calls change nothing")
	r = b.call(t, "POST", "/v1/audienceMembers:ingest", body, google.ReplicaToken)
	require.Equal(t, 200, r.status)
	require.Len(t, b.srv.Members(list), 1)
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	r := b.call(t, "POST", "/v1/audienceMembers:upsert", map[string]any{}, google.ReplicaToken)
	require.Equal(t, 404, r.status)
	status, _ := googleError(t, r)
	require.Equal(t, "NOT_FOUND", status)
}

// TestSizeInfoCountsPeople ingests members of several identifiers: the
// list's sizeInfo counts the members (one person each, known by their
// first identifier), not the identifiers, and keeps counting them so
// after a removal and a save and load.
func TestSizeInfoCountsPeople(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	list := b.newList(t, "people")
	member := func(ids ...map[string]any) map[string]any {
		out := make([]any, len(ids))
		for i, id := range ids {
			out[i] = id
		}
		return map[string]any{"userData": map[string]any{"userIdentifiers": out}}
	}
	email := func(a string) map[string]any { return map[string]any{"emailAddress": sha(a)} }
	phone := func(p string) map[string]any { return map[string]any{"phoneNumber": sha(p)} }
	size := func(srv *Server, want string, msg string) {
		t.Helper()
		ts := httptest.NewServer(srv)
		defer ts.Close()
		r := (&bundle{srv: srv, ts: ts}).call(t, "GET", "/v1/accountTypes/GOOGLE_ADS/accounts/"+account+"/userLists/"+list, nil, google.ReplicaToken)
		require.Equal(t, 200, r.status, r.body)
		si := r.body["sizeInfo"].(map[string]any)
		require.Equal(t, []any{want, want}, []any{si["displayNetworkMembersCount"], si["searchNetworkMembersCount"]}, msg)
	}
	ingest := func(members ...any) {
		t.Helper()
		r := b.call(t, "POST", "/v1/audienceMembers:ingest", ingestBody(list, members...), google.ReplicaToken)
		require.Equal(t, 200, r.status, r.body)
	}

	ingest(member(email("a@example.com"), phone("+18005550100")), member(email("b@example.com")), member(phone("+18005550101")))
	require.Len(t, b.srv.Members(list), 4)
	size(b.srv, "3", "three members, three people")
	ingest(member(email("b@example.com"), phone("+18005550101")))
	size(b.srv, "3", "b again, with the third member's phone: still three people")

	r := b.call(t, "POST", "/v1/audienceMembers:remove", map[string]any{
		"destinations": []any{dest(list)}, "encoding": "HEX", "audienceMembers": []any{member(email("a@example.com"))},
	}, google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	require.Len(t, b.srv.Members(list), 3, "a's phone stays")
	size(b.srv, "2", "but a leaves with the e-mail that stood for them")

	saved, err := b.srv.Save()
	require.NoError(t, err)
	loaded := New(Options{})
	require.NoError(t, loaded.Load(saved))
	size(loaded, "2", "a saved list keeps who is one person")
}
