package hubspot_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/hubspot"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type bundle struct {
	srv   *hubspot.Server
	url   string
	clock *clock
}

func setup(t *testing.T, opts hubspot.Options) *bundle {
	t.Helper()
	c := &clock{t: time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)}
	opts.Now = c.Now
	srv := hubspot.New(opts)
	ts := httptest.NewServer(fault.Handler(srv))
	t.Cleanup(ts.Close)
	return &bundle{srv: srv, url: ts.URL, clock: c}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (b *bundle) do(t *testing.T, token, method, path, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if strings.HasPrefix(path, "/oauth/") {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &r.body), string(raw))
	}
	return r
}

const tok = replicacreds.AccessToken

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t, hubspot.Options{})
	for _, tc := range []struct {
		name, token, category string
	}{
		{"none", "", "INVALID_AUTHENTICATION"},
		{"wrong", "pat-na1-wrong", "INVALID_AUTHENTICATION"},
		{"revoked", replicacreds.RevokedToken, "INVALID_AUTHENTICATION"},
	} {
		r := b.do(t, tc.token, http.MethodGet, "/crm/v3/lists/1", "")
		require.Equal(t, http.StatusUnauthorized, r.status, tc.name)
		require.Equal(t, tc.category, r.body["category"], tc.name)
		require.NotEmpty(t, r.body["correlationId"])
	}
	require.Equal(t, http.StatusOK, b.do(t, tok, http.MethodGet, "/crm/v3/lists/1", "").status)
}

func TestOAuthTokenEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, hubspot.Options{TokenLifetime: time.Minute})
	form := func(edit func(url.Values)) string {
		v := url.Values{"grant_type": {"refresh_token"}, "client_id": {replicacreds.ClientID},
			"client_secret": {replicacreds.ClientSecret}, "refresh_token": {replicacreds.RefreshToken}}
		if edit != nil {
			edit(v)
		}
		return v.Encode()
	}
	for _, tc := range []struct {
		name, status string
		edit         func(url.Values)
	}{
		{"bad client", "BAD_CLIENT_ID", func(v url.Values) { v.Set("client_id", "x") }},
		{"bad secret", "BAD_CLIENT_SECRET", func(v url.Values) { v.Set("client_secret", "x") }},
		{"revoked", "BAD_REFRESH_TOKEN", func(v url.Values) { v.Set("refresh_token", replicacreds.RevokedToken) }},
		{"grant", "BAD_GRANT_TYPE", func(v url.Values) { v.Set("grant_type", "authorization_code") }},
	} {
		r := b.do(t, "", http.MethodPost, "/oauth/v1/token", form(tc.edit))
		require.Equal(t, http.StatusBadRequest, r.status, tc.name)
		require.Equal(t, tc.status, r.body["status"], tc.name)
	}
	for _, path := range []string{"/oauth/v1/token", "/oauth/2026-03/token"} {
		r := b.do(t, "", http.MethodPost, path, form(nil))
		require.Equal(t, http.StatusOK, r.status, path)
		require.Equal(t, "bearer", r.body["token_type"])
		require.EqualValues(t, 60, r.body["expires_in"])
		access := r.body["access_token"].(string)
		got := b.do(t, access, http.MethodGet, "/crm/v3/lists/1", "")
		require.Equal(t, http.StatusOK, got.status)
		require.Equal(t, "110", got.header.Get("X-HubSpot-RateLimit-Max"), "an OAuth app's limit")
		require.Empty(t, got.header.Get("X-HubSpot-RateLimit-Daily"), "OAuth answers carry no daily figures")
		b.clock.advance(2 * time.Minute)
		expired := b.do(t, access, http.MethodGet, "/crm/v3/lists/1", "")
		require.Equal(t, http.StatusUnauthorized, expired.status)
		require.Equal(t, "EXPIRED_AUTHENTICATION", expired.body["category"])
	}
}

func TestListsByIDNameLegacyAndSearch(t *testing.T) {
	t.Parallel()
	b := setup(t, hubspot.Options{})
	for _, prefix := range []string{"/crm/v3/lists", "/crm/lists/2026-03"} {
		r := b.do(t, tok, http.MethodGet, prefix+"/3", "")
		require.Equal(t, http.StatusOK, r.status)
		l := r.body["list"].(map[string]any)
		require.Equal(t, "3", l["listId"], "ids are strings")
		require.Equal(t, replicacreds.NewsletterList, l["name"])
		require.EqualValues(t, 41, l["size"])

		r = b.do(t, tok, http.MethodGet, prefix+"/object-type-id/0-1/name/"+url.PathEscape("TRIAL users"), "")
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "1", r.body["list"].(map[string]any)["listId"], "names match ignoring case")

		r = b.do(t, tok, http.MethodGet, prefix+"/idmapping?legacyListId=1", "")
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "3", r.body["listId"], "legacy id 1 is the newsletter, not v3 list 1")

		for _, path := range []string{"/99", "/object-type-id/0-1/name/Nope", "/object-type-id/0-1/name/Target%20accounts", "/idmapping?legacyListId=99", "/99/memberships"} {
			r = b.do(t, tok, http.MethodGet, prefix+path, "")
			require.Equal(t, http.StatusNotFound, r.status, path)
			require.Equal(t, "OBJECT_NOT_FOUND", r.body["category"], path)
		}
	}
	r := b.do(t, tok, http.MethodPost, "/crm/v3/lists/search", `{"query":"","offset":0,"count":2,"objectTypeId":"0-1"}`)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, true, r.body["hasMore"])
	require.EqualValues(t, 2, r.body["offset"])
	require.EqualValues(t, 3, r.body["total"])
	first := r.body["lists"].([]any)[0].(map[string]any)
	require.Nil(t, first["size"], "search results carry the size only as hs_list_size")
	require.Equal(t, "25", first["additionalProperties"].(map[string]any)["hs_list_size"])
	require.Empty(t, r.header.Get("X-HubSpot-RateLimit-Max"), "search sends no rate-limit headers")
}

func TestMembershipPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, hubspot.Options{})
	id := b.srv.AddSyntheticList("Big", 601)
	var ids []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 4)
		q := url.Values{"limit": {"250"}}
		if after != "" {
			q.Set("after", after)
		}
		r := b.do(t, tok, http.MethodGet, "/crm/v3/lists/"+id+"/memberships?"+q.Encode(), "")
		require.Equal(t, http.StatusOK, r.status)
		for _, m := range r.body["results"].([]any) {
			ids = append(ids, m.(map[string]any)["recordId"].(string))
		}
		next, ok := r.body["paging"].(map[string]any)
		if !ok {
			break
		}
		after = next["next"].(map[string]any)["after"].(string)
	}
	require.Len(t, ids, 601)
	slices.Sort(ids)
	require.Equal(t, b.srv.Members(id), ids)

	r := b.do(t, tok, http.MethodGet, "/crm/v3/lists/"+id+"/memberships?limit=251", "")
	require.Equal(t, http.StatusBadRequest, r.status, "at most 250 a page")
	r = b.do(t, tok, http.MethodGet, "/crm/v3/lists/"+id+"/memberships?after=garbage", "")
	require.Equal(t, http.StatusBadRequest, r.status, "a cursor not handed out")
}

func TestBatchRead(t *testing.T) {
	t.Parallel()
	b := setup(t, hubspot.Options{})
	r := b.do(t, tok, http.MethodPost, "/crm/v3/objects/contacts/batch/read",
		`{"inputs":[{"id":"51001"},{"id":"51060"}],"properties":["email","phone","hs_email_optout"]}`)
	require.Equal(t, http.StatusOK, r.status)
	res := r.body["results"].([]any)
	require.Len(t, res, 2)
	props := res[0].(map[string]any)["properties"].(map[string]any)
	require.Equal(t, "user0001@example.com", props["email"])
	require.Equal(t, "false", props["hs_email_optout"], "property values are strings")
	require.Contains(t, res[1].(map[string]any)["properties"], "email")
	require.Nil(t, res[1].(map[string]any)["properties"].(map[string]any)["email"], "a requested property without value is null")

	require.Equal(t, http.StatusNoContent, b.do(t, tok, http.MethodDelete, "/crm/v3/objects/contacts/51001", "").status)
	r = b.do(t, tok, http.MethodPost, "/crm/v3/objects/contacts/batch/read", `{"inputs":[{"id":"51001"},{"id":"51002"},{"id":"999"}],"properties":["email"]}`)
	require.Equal(t, http.StatusMultiStatus, r.status)
	require.Len(t, r.body["results"].([]any), 1)
	e := r.body["errors"].([]any)[0].(map[string]any)
	require.Equal(t, "OBJECT_NOT_FOUND", e["category"])
	require.Equal(t, []any{"51001", "999"}, e["context"].(map[string]any)["ids"])

	r = b.do(t, tok, http.MethodPost, "/crm/v3/objects/contacts/batch/read", `{"inputs":[{"id":"999"}]}`)
	require.Equal(t, http.StatusMultiStatus, r.status, "none found is a 207 too")
	require.Empty(t, r.body["results"])

	inputs := make([]string, 101)
	for i := range inputs {
		inputs[i] = `{"id":"51002"}`
	}
	r = b.do(t, tok, http.MethodPost, "/crm/v3/objects/contacts/batch/read", `{"inputs":[`+strings.Join(inputs, ",")+`]}`)
	require.Equal(t, http.StatusBadRequest, r.status, "at most 100 inputs")
	require.Equal(t, "VALIDATION_ERROR", r.body["category"])
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("ten-secondly", func(t *testing.T) {
		t.Parallel()
		b := setup(t, hubspot.Options{RateLimit: 3})
		for i := range 3 {
			r := b.do(t, tok, http.MethodGet, "/crm/v3/lists/1", "")
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, "3", r.header.Get("X-HubSpot-RateLimit-Max"))
			require.Equal(t, "10000", r.header.Get("X-HubSpot-RateLimit-Interval-Milliseconds"))
			require.Equal(t, []string{"2", "1", "0"}[i], r.header.Get("X-HubSpot-RateLimit-Remaining"))
			require.NotEmpty(t, r.header.Get("X-HubSpot-RateLimit-Daily-Remaining"))
		}
		r := b.do(t, tok, http.MethodGet, "/crm/v3/lists/1", "")
		require.Equal(t, http.StatusTooManyRequests, r.status)
		require.Equal(t, "TEN_SECONDLY_ROLLING", r.body["policyName"])
		require.Equal(t, "RATE_LIMIT", r.body["errorType"])
		b.clock.advance(10 * time.Second)
		require.Equal(t, http.StatusOK, b.do(t, tok, http.MethodGet, "/crm/v3/lists/1", "").status, "the window rolled on")
	})
	t.Run("daily", func(t *testing.T) {
		t.Parallel()
		b := setup(t, hubspot.Options{DailyLimit: 2})
		for range 2 {
			require.Equal(t, http.StatusOK, b.do(t, tok, http.MethodGet, "/crm/v3/lists/1", "").status)
		}
		r := b.do(t, tok, http.MethodGet, "/crm/v3/lists/1", "")
		require.Equal(t, http.StatusTooManyRequests, r.status)
		require.Equal(t, "DAILY", r.body["policyName"])
		require.Equal(t, "0", r.header.Get("X-HubSpot-RateLimit-Daily-Remaining"))
		b.clock.advance(24 * time.Hour)
		require.Equal(t, http.StatusOK, b.do(t, tok, http.MethodGet, "/crm/v3/lists/1", "").status, "a new day")
	})
	t.Run("search", func(t *testing.T) {
		t.Parallel()
		b := setup(t, hubspot.Options{})
		for range hubspot.SearchPerSecond {
			require.Equal(t, http.StatusOK, b.do(t, tok, http.MethodPost, "/crm/v3/lists/search", `{}`).status)
		}
		r := b.do(t, tok, http.MethodPost, "/crm/v3/lists/search", `{}`)
		require.Equal(t, http.StatusTooManyRequests, r.status)
		require.Equal(t, "SECONDLY", r.body["policyName"])
	})
}

func TestMembershipChanges(t *testing.T) {
	t.Parallel()
	b := setup(t, hubspot.Options{})
	r := b.do(t, tok, http.MethodPut, "/crm/v3/lists/3/memberships/add", `["51050","99"]`)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, []any{"51050"}, r.body["recordIdsAdded"])
	require.Equal(t, []any{"99"}, r.body["recordIdsMissing"])
	r = b.do(t, tok, http.MethodPut, "/crm/v3/lists/3/memberships/remove", `["51001"]`)
	require.Equal(t, []any{"51001"}, r.body["recordIdsRemoved"])
	require.Len(t, b.srv.Members("3"), 41)
	require.NotContains(t, b.srv.Members("3"), "51001")
	r = b.do(t, tok, http.MethodPut, "/crm/v3/lists/1/memberships/add", `["51050"]`)
	require.Equal(t, http.StatusBadRequest, r.status, "a DYNAMIC list follows its filters")

	// The change survives a save and load; Reset returns to the seed.
	saved, err := b.srv.Save()
	require.NoError(t, err)
	require.NotContains(t, string(saved), "@", "seeded contacts are not written out")
	fresh := hubspot.New(hubspot.Options{})
	require.NoError(t, fresh.Load(saved))
	require.Equal(t, b.srv.Members("3"), fresh.Members("3"))
	require.Error(t, fresh.Load([]byte(`{"lists":[{"listId":"1","members":[3,2]}]}`)), "members out of order")
	require.Equal(t, b.srv.Members("3"), fresh.Members("3"), "a failed load changes nothing")
	fresh.Reset()
	require.Len(t, fresh.Members("3"), 41)
	require.Contains(t, fresh.Members("3"), "51001")
}

func TestFaults(t *testing.T) {
	t.Parallel()
	in := fault.MustParse("hubspot.batchread:429*1,hubspot.lists:401*1,hubspot.memberships:503*1")
	srv := hubspot.New(hubspot.Options{Faults: in})
	ts := httptest.NewServer(fault.Handler(srv))
	t.Cleanup(ts.Close)
	b := &bundle{srv: srv, url: ts.URL}
	r := b.do(t, tok, http.MethodPost, "/crm/v3/objects/contacts/batch/read", `{"inputs":[{"id":"51001"}]}`)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, "TEN_SECONDLY_ROLLING", r.body["policyName"])
	r = b.do(t, tok, http.MethodGet, "/crm/v3/lists/1", "")
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "EXPIRED_AUTHENTICATION", r.body["category"])
	require.Equal(t, http.StatusServiceUnavailable, b.do(t, tok, http.MethodGet, "/crm/v3/lists/1/memberships", "").status)
	require.Equal(t, http.StatusOK, b.do(t, tok, http.MethodGet, "/crm/v3/lists/1/memberships", "").status)
	require.ElementsMatch(t, []string{"lists", "search", "idmapping", "memberships", "batchread", "contacts", "token"}, srv.FaultEndpoints())
}

// TestLoadRefusesStateThatDoesNotHoldTogether loads snapshots whose
// lists or contacts are broken: each is refused, saying which, and
// changes nothing.
func TestLoadRefusesStateThatDoesNotHoldTogether(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, contacts, lists, want string }{
		{"empty id", `{}`, `[{"listId":"","members":[]}]`, "list 0: empty id"},
		{"repeated id", `{}`, `[{"listId":"8","members":[]},{"listId":"8","members":[]}]`, "list 1: id 8 is used twice"},
		{"members out of order", `{}`, `[{"listId":"8","members":[1]},{"listId":"9","members":[3,2]}]`, "list 1: id 9: members are not in ascending order"},
		{"contact id zero", `{"0":{"email":"a@example.com"}}`, `[]`, "contact id 0 is not a positive number"},
		{"contact id not a number", `{"x":{}}`, `[]`, "cannot unmarshal number x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := hubspot.New(hubspot.Options{})
			err := srv.Load([]byte(`{"contacts":` + tc.contacts + `,"next_contact":51061,"next_list":9,"lists":` + tc.lists + `}`))
			require.ErrorContains(t, err, tc.want)
			require.Len(t, srv.Members("3"), 41, "the seeded lists are still there")
		})
	}
}

// TestLoadNumbersNewListsAfterRestoredOnes restores a list whose id is
// past the snapshot's next_list: a list added afterwards gets a new id.
func TestLoadNumbersNewListsAfterRestoredOnes(t *testing.T) {
	t.Parallel()
	srv := hubspot.New(hubspot.Options{})
	require.NoError(t, srv.Load([]byte(`{"contacts":{},"next_contact":51061,"next_list":3,"lists":[{"listId":"12","members":[]}]}`)))
	require.Equal(t, "13", srv.AddContactList("Added", nil))
	require.NotNil(t, srv.Members("12"))
}
