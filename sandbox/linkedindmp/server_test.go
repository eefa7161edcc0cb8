package linkedindmp_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/linkedin"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/linkedindmp"
)

const (
	hashA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hashB = "0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	gaid  = "6d92078a-8246-4ba4-ae5b-76104861e7dc"
)

type bed struct {
	t   *testing.T
	srv *linkedindmp.Server
	ts  *httptest.Server
	now time.Time
}

func setup(t *testing.T, o linkedindmp.Options) *bed {
	t.Helper()
	b := &bed{t: t, now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	if o.Now == nil {
		o.Now = func() time.Time { return b.now }
	}
	b.srv = linkedindmp.New(o)
	b.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fault.Serve(w, r, b.srv) }))
	t.Cleanup(b.ts.Close)
	return b
}

// good are the headers of a well-formed call.
func good() http.Header {
	return http.Header{
		"Authorization":             {"Bearer " + linkedin.ReplicaAccessToken},
		"Linkedin-Version":          {"202610"},
		"X-Restli-Protocol-Version": {"2.0.0"},
		"Content-Type":              {"application/json"},
	}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (b *bed) do(method, path string, h http.Header, body string) answer {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.ts.URL+path, strings.NewReader(body))
	require.NoError(b.t, err)
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	_ = json.NewDecoder(resp.Body).Decode(&a.body)
	return a
}

const createBody = `{"name":"Cart abandoners","account":"urn:li:sponsoredAccount:507404993","type":"USER","sourcePlatform":"STREAMING","accessPolicy":"PRIVATE","destinations":[{"destination":"LINKEDIN"}]}`

func (b *bed) create() string {
	b.t.Helper()
	a := b.do(http.MethodPost, "/rest/dmpSegments", good(), createBody)
	require.Equal(b.t, http.StatusCreated, a.status)
	id := a.header.Get("X-Restli-Id")
	require.NotEmpty(b.t, id)
	return id
}

func batch(h http.Header) http.Header {
	h.Set("X-RestLi-Method", "BATCH_CREATE")
	return h
}

func elements(els ...string) string { return `{"elements":[` + strings.Join(els, ",") + `]}` }

func el(action string, ids ...[2]string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf(`{"idType":%q,"idValue":%q}`, id[0], id[1])
	}
	return fmt.Sprintf(`{"action":%q,"userIds":[%s]}`, action, strings.Join(parts, ","))
}

// Calls without what LinkedIn requires are refused in its error shape.
func TestStrictCalls(t *testing.T) {
	t.Parallel()
	b := setup(t, linkedindmp.Options{})
	id := b.create()
	users := "/rest/dmpSegments/" + id + "/users"
	one := elements(el("ADD", [2]string{"SHA256_EMAIL", hashA}))
	for _, tc := range []struct {
		name   string
		method string
		path   string
		mod    func(http.Header)
		body   string
		status int
		code   string
	}{
		{"no token", http.MethodGet, "/rest/dmpSegments/" + id, func(h http.Header) { h.Del("Authorization") }, "", 401, "INVALID_ACCESS_TOKEN"},
		{"unknown token", http.MethodGet, "/rest/dmpSegments/" + id, func(h http.Header) { h.Set("Authorization", "Bearer nope") }, "", 401, "INVALID_ACCESS_TOKEN"},
		{"revoked token", http.MethodGet, "/rest/dmpSegments/" + id, func(h http.Header) { h.Set("Authorization", "Bearer "+linkedin.ReplicaRevokedToken) }, "", 401, "REVOKED_ACCESS_TOKEN"},
		{"no protocol version", http.MethodGet, "/rest/dmpSegments/" + id, func(h http.Header) { h.Del("X-Restli-Protocol-Version") }, "", 400, "ILLEGAL_ARGUMENT"},
		{"protocol 1.0", http.MethodGet, "/rest/dmpSegments/" + id, func(h http.Header) { h.Set("X-Restli-Protocol-Version", "1.0.0") }, "", 400, "ILLEGAL_ARGUMENT"},
		{"no version", http.MethodGet, "/rest/dmpSegments/" + id, func(h http.Header) { h.Del("Linkedin-Version") }, "", 400, "VERSION_MISSING"},
		{"retired version", http.MethodGet, "/rest/dmpSegments/" + id, func(h http.Header) { h.Set("Linkedin-Version", "202312") }, "", 426, "NONEXISTENT_VERSION"},
		{"future version", http.MethodGet, "/rest/dmpSegments/" + id, func(h http.Header) { h.Set("Linkedin-Version", "202701") }, "", 426, "NONEXISTENT_VERSION"},
		{"dated version", http.MethodGet, "/rest/dmpSegments/" + id, func(h http.Header) { h.Set("Linkedin-Version", "2026-10") }, "", 426, "NONEXISTENT_VERSION"},
		{"unknown segment", http.MethodGet, "/rest/dmpSegments/1", nil, "", 404, "NOT_FOUND"},
		{"batch without method", http.MethodPost, users, nil, one, 400, "ILLEGAL_ARGUMENT"},
		{"batch not JSON", http.MethodPost, users, func(h http.Header) { batch(h).Set("Content-Type", "text/plain") }, one, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"batch unknown field", http.MethodPost, users, func(h http.Header) { batch(h) }, `{"elements":[],"extra":1}`, 400, "ILLEGAL_ARGUMENT"},
		{"batch single user form", http.MethodPost, users, func(h http.Header) { batch(h) }, `{"elements":[{"action":"ADD","userId":{"idType":"SHA256_EMAIL","idValue":"` + hashA + `"}}]}`, 400, "ILLEGAL_ARGUMENT"},
		{"batch empty", http.MethodPost, users, func(h http.Header) { batch(h) }, `{"elements":[]}`, 400, "ILLEGAL_ARGUMENT"},
		{"batch too large", http.MethodPost, users, func(h http.Header) { batch(h) }, elements(strings.Repeat(el("ADD", [2]string{"SHA256_EMAIL", hashA})+",", linkedindmp.MaxElements) + el("ADD", [2]string{"SHA256_EMAIL", hashA})), 400, "ILLEGAL_ARGUMENT"},
		{"create without destinations", http.MethodPost, "/rest/dmpSegments", nil, strings.Replace(createBody, `,"destinations":[{"destination":"LINKEDIN"}]`, "", 1), 422, "INVALID_VALUE"},
		{"create with account id", http.MethodPost, "/rest/dmpSegments", nil, strings.Replace(createBody, "urn:li:sponsoredAccount:", "", 1), 422, "INVALID_VALUE"},
		{"create with bad type", http.MethodPost, "/rest/dmpSegments", nil, strings.Replace(createBody, `"USER"`, `"PEOPLE"`, 1), 422, "INVALID_VALUE"},
		{"finder without account", http.MethodGet, "/rest/dmpSegments?q=account", nil, "", 400, "ILLEGAL_ARGUMENT"},
		{"finder count too big", http.MethodGet, "/rest/dmpSegments?q=account&account=" + url.QueryEscape("urn:li:sponsoredAccount:1") + "&count=101", nil, "", 400, "ILLEGAL_ARGUMENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := good()
			if tc.mod != nil {
				tc.mod(h)
			}
			a := b.do(tc.method, tc.path, h, tc.body)
			require.Equal(t, tc.status, a.status, "%v", a.body)
			require.Equal(t, tc.code, a.body["code"])
			require.EqualValues(t, tc.status, a.body["status"], "the body repeats the status")
			require.NotEmpty(t, a.body["message"])
		})
	}
	require.Empty(t, b.srv.Members(id), "nothing refused changed the segment")
}

// A batch answers each element: valid ones are applied, invalid ones
// named, and adding twice or removing an absent user is a 201.
func TestUsersPerElement(t *testing.T) {
	t.Parallel()
	b := setup(t, linkedindmp.Options{})
	id := b.create()
	users := "/rest/dmpSegments/" + id + "/users"
	a := b.do(http.MethodPost, users, batch(good()), elements(
		el("ADD", [2]string{"SHA256_EMAIL", hashA}, [2]string{"GOOGLE_AID", gaid}),
		el("ADD", [2]string{"SHA256_EMAIL", "Ada@Example.com"}),
		el("ADD", [2]string{"SHA256_EMAIL", hashB}),
		el("ADD", [2]string{"SHA256_EMAIL", hashB}),
		el("JOIN", [2]string{"SHA256_EMAIL", hashB}),
		el("ADD", [2]string{"GOOGLE_AID", "6D92078A-8246-4BA4-AE5B-76104861E7DC"}),
		el("ADD", [2]string{"TWITTER_ID", "1"}),
		el("REMOVE", [2]string{"SHA256_EMAIL", strings.Repeat("c", 64)}),
		`{"action":"ADD","userIds":[],"firstName":"Ada","lastName":"Lovelace"}`,
		`{"action":"ADD","userIds":[]}`,
	))
	require.Equal(t, http.StatusOK, a.status, "%v", a.body)
	var statuses []float64
	for _, e := range a.body["elements"].([]any) {
		m := e.(map[string]any)
		statuses = append(statuses, m["status"].(float64))
		if m["status"].(float64) != 201 {
			errBody := m["error"].(map[string]any)
			require.Equal(t, "INVALID_VALUE", errBody["code"])
			require.NotContains(t, errBody["message"], "Ada@Example.com", "no value quoted back")
		}
	}
	require.Equal(t, []float64{201, 400, 201, 201, 400, 400, 400, 201, 201, 400}, statuses)
	require.Equal(t, []string{hashB, "GOOGLE_AID:" + gaid, hashA}, b.srv.Members(id))

	a = b.do(http.MethodPost, users, batch(good()), elements(el("REMOVE", [2]string{"SHA256_EMAIL", hashA}, [2]string{"GOOGLE_AID", gaid})))
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, []string{hashB}, b.srv.Members(id))
}

// A new segment is BUILDING until read PollsBeforeReady times, and is
// listed by the account finder with its counts.
func TestSegmentLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, linkedindmp.Options{PollsBeforeReady: 2})
	id := b.create()
	for _, want := range []string{"BUILDING", "BUILDING", "READY", "READY"} {
		a := b.do(http.MethodGet, "/rest/dmpSegments/"+id, good(), "")
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, want, a.body["status"])
		require.Equal(t, want, a.body["destinations"].([]any)[0].(map[string]any)["status"])
	}
	b.create()
	a := b.do(http.MethodGet, "/rest/dmpSegments?q=account&account="+url.QueryEscape("urn:li:sponsoredAccount:507404993")+"&start=1&count=1", good(), "")
	require.Equal(t, http.StatusOK, a.status, "%v", a.body)
	require.Len(t, a.body["elements"], 1)
	require.EqualValues(t, 2, a.body["paging"].(map[string]any)["total"])
	a = b.do(http.MethodGet, "/rest/dmpSegments?q=account&account="+url.QueryEscape("urn:li:sponsoredAccount:42"), good(), "")
	require.Empty(t, a.body["elements"], "another account's segments are not listed")

	// Matched counts and the 300-member minimum.
	var els []string
	for i := range 1000 {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		els = append(els, el("ADD", [2]string{"SHA256_EMAIL", hex.EncodeToString(sum[:])}))
	}
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/rest/dmpSegments/"+id+"/users", batch(good()), elements(els...)).status)
	a = b.do(http.MethodGet, "/rest/dmpSegments/"+id, good(), "")
	matched := a.body["matchedCount"].(float64)
	require.Greater(t, matched, 300.0)
	require.Less(t, matched, 1000.0, "not every user matches a member")
	require.Equal(t, matched, a.body["audienceSize"])
	require.EqualValues(t, 1000, a.body["inputCount"])
}

// The token endpoint exchanges the refresh token for access tokens that
// expire after 60 days; what it refuses is said in OAuth's shape.
func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, linkedindmp.Options{})
	form := func(mod func(url.Values)) answer {
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {linkedin.ReplicaRefreshToken},
			"client_id": {linkedin.ReplicaClientID}, "client_secret": {linkedin.ReplicaClientSecret}}
		if mod != nil {
			mod(v)
		}
		return b.do(http.MethodPost, "/oauth/v2/accessToken", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, v.Encode())
	}
	for _, tc := range []struct {
		name   string
		mod    func(url.Values)
		status int
		err    string
	}{
		{"revoked refresh token", func(v url.Values) { v.Set("refresh_token", linkedin.ReplicaRevokedToken) }, 400, "invalid_grant"},
		{"wrong secret", func(v url.Values) { v.Set("client_secret", "x") }, 401, "invalid_client"},
		{"wrong grant", func(v url.Values) { v.Set("grant_type", "client_credentials") }, 400, "unsupported_grant_type"},
	} {
		a := form(tc.mod)
		require.Equal(t, tc.status, a.status, tc.name)
		require.Equal(t, tc.err, a.body["error"], tc.name)
	}
	a := form(nil)
	require.Equal(t, http.StatusOK, a.status)
	require.EqualValues(t, 60*24*3600, a.body["expires_in"])
	h := good()
	h.Set("Authorization", "Bearer "+a.body["access_token"].(string))
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/rest/adAccounts/507404993", h, "").status)

	b.now = b.now.Add(linkedindmp.TokenLifetime)
	a = b.do(http.MethodGet, "/rest/adAccounts/507404993", h, "")
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, "EXPIRED_ACCESS_TOKEN", a.body["code"])
}

// The users endpoint allows RateLimit calls per token and window.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, linkedindmp.Options{RateLimit: 2})
	id := b.create()
	body := elements(el("ADD", [2]string{"SHA256_EMAIL", hashA}))
	for _, want := range []int{200, 200, 429} {
		a := b.do(http.MethodPost, "/rest/dmpSegments/"+id+"/users", batch(good()), body)
		require.Equal(t, want, a.status)
		if want == 429 {
			require.Equal(t, "TOO_MANY_REQUESTS", a.body["code"])
		}
	}
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/rest/dmpSegments/"+id, good(), "").status, "other endpoints are not limited")
	b.now = b.now.Add(linkedindmp.DefaultRateWindow)
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/rest/dmpSegments/"+id+"/users", batch(good()), body).status, "a new window")
}

// Injected faults come in LinkedIn's shapes.
func TestFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, linkedindmp.Options{Faults: fault.MustParse("linkedin.users:429*1,linkedin.segments:503*1,linkedin:expired*1,retry-after=7s")})
	a := b.do(http.MethodPost, "/rest/dmpSegments", good(), createBody)
	require.Equal(t, http.StatusServiceUnavailable, a.status, "the first rule for segments fires first")
	require.EqualValues(t, 503, a.body["status"])
	a = b.do(http.MethodPost, "/rest/dmpSegments", good(), createBody)
	require.Equal(t, http.StatusUnauthorized, a.status, "then the platform-wide one")
	require.Equal(t, "EXPIRED_ACCESS_TOKEN", a.body["code"])
	id := b.create()
	a = b.do(http.MethodPost, "/rest/dmpSegments/"+id+"/users", batch(good()), elements(el("ADD", [2]string{"SHA256_EMAIL", hashA})))
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Equal(t, "7", a.header.Get("Retry-After"))
	require.Empty(t, b.srv.Members(id))
}

// The replica's state survives Save and Load, and a state of the wrong
// shape changes nothing.
func TestSnapshot(t *testing.T) {
	t.Parallel()
	b := setup(t, linkedindmp.Options{})
	id := b.create()
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/rest/dmpSegments/"+id+"/users", batch(good()),
		elements(el("ADD", [2]string{"SHA256_EMAIL", hashA}, [2]string{"GOOGLE_AID", gaid}))).status)
	saved, err := b.srv.Save()
	require.NoError(t, err)

	other := setup(t, linkedindmp.Options{})
	require.NoError(t, other.srv.Load(saved))
	require.Equal(t, b.srv.Members(id), other.srv.Members(id))
	require.Equal(t, b.srv.State(false), other.srv.State(false))
	require.NotEqual(t, id, other.create(), "new ids do not reuse restored ones")

	require.Error(t, other.srv.Load([]byte(`{"dmp_segments":[{"id":"x","account_id":"1","name":"n","type":"USER","source_platform":"S","access_policy":"PRIVATE","members":[]}],"next_id":1}`)))
	require.Error(t, other.srv.Load([]byte(`{"dmp_segments":[],"next_id":1,"extra":true}`)))
	require.Len(t, other.srv.State(false), 2, "a refused load changes nothing")
}

// TestMatchedCountsPeople pins the matched count to people, as LinkedIn
// counts the users it matched: an element is one person however many ids
// it carries, known by its first id, and matches when that id does (a
// hashed e-mail whose first byte is below 0xB3, every advertising id). A
// member with an e-mail and an advertising id counts once, not twice; an
// element sent again is the same person; two elements sharing only a
// later id are two people. The figure survives a snapshot.
func TestMatchedCountsPeople(t *testing.T) {
	t.Parallel()
	b := setup(t, linkedindmp.Options{})
	id := b.create()
	users := "/rest/dmpSegments/" + id + "/users"
	email := func(i int) [2]string {
		sum := sha256.Sum256(fmt.Appendf(nil, "member-%d@example.com", i))
		return [2]string{"SHA256_EMAIL", hex.EncodeToString(sum[:])}
	}
	aid := func(i int) [2]string { return [2]string{"GOOGLE_AID", fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)} }
	emailMatches := func(i int) bool { return email(i)[1] < "b3" }

	var els []string
	want := 0
	for i := range 400 { // an e-mail and an advertising id: one person, matched by the e-mail
		els = append(els, el("ADD", email(i), aid(i)))
		if emailMatches(i) {
			want++
		}
	}
	for i := 400; i < 450; i++ { // an advertising id alone: one person, always matched
		els = append(els, el("ADD", aid(i)))
		want++
	}
	for i := range 10 { // sent again: the same people
		els = append(els, el("ADD", email(i), aid(i)))
	}
	els = append(els, el("ADD", email(500), aid(0))) // shares only a later id: a person of its own
	if emailMatches(500) {
		want++
	}
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, users, batch(good()), elements(els...)).status)

	read := func(b *bed) (input, matched, size float64) {
		a := b.do(http.MethodGet, "/rest/dmpSegments/"+id, good(), "")
		require.Equal(t, http.StatusOK, a.status)
		dest := a.body["destinations"].([]any)[0].(map[string]any)
		require.Equal(t, a.body["matchedCount"], dest["matchedCount"])
		return a.body["inputCount"].(float64), a.body["matchedCount"].(float64), a.body["audienceSize"].(float64)
	}
	input, matched, size := read(b)
	require.EqualValues(t, 451, input, "people, not the 851 ids")
	require.EqualValues(t, want, matched)
	require.EqualValues(t, 314, matched, "counting identifiers would give 714")
	require.Equal(t, matched, size, "above the 300 minimum")
	st := b.srv.State(false)[0]
	require.Equal(t, want, st.Matched)
	require.Equal(t, 451, st.People)
	require.Equal(t, 851, st.Members)

	saved, err := b.srv.Save()
	require.NoError(t, err)
	other := setup(t, linkedindmp.Options{})
	require.NoError(t, other.srv.Load(saved))
	_, again, _ := read(other)
	require.Equal(t, matched, again, "a snapshot keeps who stands for a person")

	// Removing the people 0..99 (an element carries all its ids) leaves
	// the others; person 500 stays though it shared person 0's id.
	els = els[:0]
	gone := 0
	for i := range 100 {
		els = append(els, el("REMOVE", email(i), aid(i)))
		if emailMatches(i) {
			gone++
		}
	}
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, users, batch(good()), elements(els...)).status)
	input, matched, _ = read(b)
	require.EqualValues(t, 351, input)
	require.EqualValues(t, want-gone, matched)
}
