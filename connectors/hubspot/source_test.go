package hubspot_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/hubspot"
	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	replica "github.com/audiencesync/audiencesync/sandbox/hubspot"
)

// clock is a fake clock shared by the replica and the source: sleeping
// advances it, so rate-limit windows pass at once.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	slept  time.Duration
	sleeps int
}

func newClock() *clock { return &clock{t: time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.slept += d
	c.sleeps++
	c.mu.Unlock()
	return ctx.Err()
}

func (c *clock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// counter wraps the replica, counting requests and answers by endpoint
// and status, and lets a test change an answer.
type counter struct {
	next     http.Handler
	mu       sync.Mutex
	requests map[string]int // "GET memberships" …
	statuses map[int]int
	// intercept, when set, may answer instead of the replica (true).
	intercept func(w http.ResponseWriter, r *http.Request, n int) bool
	n         atomic.Int64
}

func endpointOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/batch/read"):
		return "batchread"
	case strings.Contains(p, "/memberships"):
		return "memberships"
	case strings.HasSuffix(p, "/search"):
		return "search"
	case strings.Contains(p, "/oauth/"):
		return "token"
	case strings.Contains(p, "idmapping"):
		return "idmapping"
	}
	return "lists"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(c.n.Add(1))
	c.mu.Lock()
	c.requests[endpointOf(r)]++
	c.mu.Unlock()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	if c.intercept == nil || !c.intercept(rec, r, n) {
		c.next.ServeHTTP(rec, r)
	}
	c.mu.Lock()
	c.statuses[rec.status]++
	c.mu.Unlock()
}

func (c *counter) count(endpoint string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[endpoint]
}

func (c *counter) status(code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statuses[code]
}

// bundle is a replica served over HTTP, a source pointed at it, and the
// shared fake clock.
type bundle struct {
	rep    *replica.Server
	faults *fault.Injector
	http   *counter
	url    string
	clock  *clock
}

func setup(t *testing.T, opts replica.Options) *bundle {
	t.Helper()
	b := &bundle{clock: newClock(), faults: fault.MustParse("")}
	opts.Now, opts.Faults = b.clock.Now, b.faults
	b.rep = replica.New(opts)
	b.http = &counter{next: fault.Handler(b.rep), requests: map[string]int{}, statuses: map[int]int{}}
	ts := httptest.NewServer(b.http)
	t.Cleanup(ts.Close)
	b.url = ts.URL
	return b
}

// source builds a source on the replica; edit changes its settings.
func (b *bundle) source(t *testing.T, edit func(*hubspot.Settings)) *hubspot.Source {
	t.Helper()
	s := &hubspot.Settings{Settings: platformconn.Settings{Endpoint: b.url}, AccessToken: auth.NewSecret(replicacreds.AccessToken)}
	if edit != nil {
		edit(s)
	}
	src, err := hubspot.NewWithSleep(s, connectors.Env{Now: b.clock.Now}, b.clock.Sleep)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, src.Close()) })
	return src
}

// call sends one request to the replica's API with its private-app token
// and returns the status.
func (b *bundle) call(t *testing.T, method, path, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+replicacreds.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// recorder is the engine's side of a read: members by key, rejections by
// reason, and the declared count.
type recorder struct {
	members  map[string]audience.Member
	emitted  int
	rejected map[string]int
	lines    map[int64]bool
	declared int64
}

func newRecorder() *recorder {
	return &recorder{members: map[string]audience.Member{}, rejected: map[string]int{}, lines: map[int64]bool{}, declared: -1}
}

func (r *recorder) Emit(m *audience.Member) error {
	if r.lines[m.Line] {
		return fmt.Errorf("line %d emitted twice", m.Line)
	}
	r.lines[m.Line] = true
	kept := *m
	kept.Attrs = slices.Clone(m.Attrs) // the source reuses them
	r.members[m.Key] = kept
	r.emitted++
	return nil
}

func (r *recorder) Reject(reason string, line int64) {
	r.lines[line] = true
	r.rejected[reason]++
}

func (r *recorder) Declare(n int64) { r.declared = n }

func (r *recorder) records() int64 {
	n := int64(r.emitted)
	for _, c := range r.rejected {
		n += int64(c)
	}
	return n
}

func request(audienceRef string) connectors.ReadRequest {
	return connectors.ReadRequest{Audience: audienceRef, Fields: map[audience.Kind]string{
		audience.Email: "email", audience.Phone: "phone",
	}}
}

func read(t *testing.T, src *hubspot.Source, req connectors.ReadRequest) (*recorder, error) {
	t.Helper()
	rec := newRecorder()
	err := src.Read(t.Context(), req, rec)
	return rec, err
}

func TestReadListByNameIDAndLegacyID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ref  string
		wantSize   int64
		wantFirst  string // a member's e-mail that must be there
		wantAbsent string // and one that must not
		noIDs      int
	}{
		{"name", "Newsletter subscribers", 41, "user0040@example.com", "user0041@example.com", 1},
		{"name ignores case", "newsletter SUBSCRIBERS", 41, "user0001@example.com", "user0041@example.com", 1},
		{"explicit name", "name:Trial users", 25, "user0025@example.com", "user0026@example.com", 0},
		{"v3 id of the dynamic list", "id:" + replicacreds.TrialID, 25, "user0025@example.com", "user0026@example.com", 0},
		// Legacy id 1 is the newsletter, whose v3 id is 3; v3 id 1 is the trial list.
		{"legacy id is translated", "legacy:" + replicacreds.NewsletterLegacyID, 41, "user0040@example.com", "user0041@example.com", 1},
		{"snapshot list", "id:" + replicacreds.WebinarID, 16, "user0045@example.com", "user0029@example.com", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, replica.Options{})
			rec, err := read(t, b.source(t, nil), request(tc.ref))
			require.NoError(t, err)
			require.Equal(t, tc.wantSize, rec.declared, "the list's size is declared")
			require.Equal(t, tc.wantSize, rec.records(), "every member is emitted or rejected")
			require.Equal(t, tc.noIDs, rec.rejected[hubspot.ReasonNoIdentifiers])
			emails := map[string]bool{}
			for key, m := range rec.members {
				require.NotEmpty(t, key, "the record id is the key")
				emails[m.Fields[audience.Email]] = true
			}
			require.True(t, emails[tc.wantFirst])
			require.False(t, emails[tc.wantAbsent])
		})
	}
}

func TestMemberFieldsAndKey(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	req := request("id:" + replicacreds.TrialID)
	req.Fields[audience.Country] = "country"
	rec, err := read(t, b.source(t, nil), req)
	require.NoError(t, err)
	m, ok := rec.members["51001"]
	require.True(t, ok, "keys are HubSpot record ids")
	require.Equal(t, "user0001@example.com", m.Fields[audience.Email])
	require.Equal(t, "+1 202 555 0100", m.Fields[audience.Phone])
	require.Equal(t, "US", m.Fields[audience.Country])
	require.Equal(t, int64(1), m.Line, "the line is the position in the list")

	// A property as key.
	req.Key = "zip"
	rec, err = read(t, b.source(t, nil), req)
	require.NoError(t, err)
	require.Contains(t, rec.members, "00001")
}

func TestPagesAndBatchesAreFull(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	id := b.rep.AddSyntheticList("Big list", 1234)
	rec, err := read(t, b.source(t, nil), request("id:"+id))
	require.NoError(t, err)
	require.Equal(t, 1234, rec.emitted)
	require.Equal(t, int64(1234), rec.declared)
	require.Len(t, rec.members, 1234)
	require.Equal(t, 5, b.http.count("memberships"), "ceil(1234/250) pages")
	require.Equal(t, 13, b.http.count("batchread"), "ceil(1234/100) batch reads, each full but the last")
}

func TestDeletedContactsAreNotFoundNotFatal(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	for _, id := range []string{"51003", "51007"} {
		require.Equal(t, http.StatusNoContent, b.call(t, http.MethodDelete, "/crm/v3/objects/contacts/"+id, ""))
	}
	rec, err := read(t, b.source(t, nil), request("id:"+replicacreds.TrialID))
	require.NoError(t, err)
	require.Equal(t, 2, rec.rejected[hubspot.ReasonNotFound])
	require.Equal(t, 23, rec.emitted)
	require.Equal(t, int64(25), rec.declared, "the archived contacts are still members, counted as not found")
	require.Equal(t, 1, b.http.status(http.StatusMultiStatus), "HubSpot answered 207")
	require.NotContains(t, rec.members, "51003")
}

func TestRollingLimit429IsWaitedOut(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	require.NoError(t, b.faults.Load("hubspot.batchread:429*2,hubspot.memberships:ratelimit*1"))
	rec, err := read(t, b.source(t, nil), request("id:"+replicacreds.TrialID))
	require.NoError(t, err)
	require.Equal(t, 25, rec.emitted)
	require.Equal(t, 3, b.http.status(http.StatusTooManyRequests))
	require.Positive(t, b.clock.Slept(), "the source waited before repeating")
}

func TestLimitsAreHonouredBefore429(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{RateLimit: 4, Window: 10 * time.Second})
	id := b.rep.AddSyntheticList("Big list", 1000) // 1 + 4 + 10 requests
	rec, err := read(t, b.source(t, func(s *hubspot.Settings) { s.Concurrency = 3 }), request("id:"+id))
	require.NoError(t, err)
	require.Equal(t, 1000, rec.emitted)
	require.Zero(t, b.http.status(http.StatusTooManyRequests), "the headers were honoured: HubSpot never had to say 429")
	require.GreaterOrEqual(t, b.clock.Slept(), 30*time.Second, "15 requests at 4 per 10 s take three more windows")
}

func TestDailyLimitStopsTheRead(t *testing.T) {
	t.Parallel()
	t.Run("from the headers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, replica.Options{DailyLimit: 3})
		id := b.rep.AddSyntheticList("Big list", 1000)
		_, err := read(t, b.source(t, nil), request("id:"+id))
		var le *hubspot.LimitError
		require.ErrorAs(t, err, &le)
		require.Equal(t, int64(3), le.Daily)
		require.Contains(t, err.Error(), "midnight")
		require.Contains(t, err.Error(), "nothing is removed")
		require.Zero(t, b.http.status(http.StatusTooManyRequests), "stopped before HubSpot refused")
	})
	t.Run("from a 429", func(t *testing.T) {
		t.Parallel()
		b := setup(t, replica.Options{})
		b.http.intercept = func(w http.ResponseWriter, r *http.Request, _ int) bool {
			if endpointOf(r) != "batchread" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","correlationId":"c-1","policyName":"DAILY"}`))
			return true
		}
		_, err := read(t, b.source(t, nil), request("id:"+replicacreds.TrialID))
		var le *hubspot.LimitError
		require.ErrorAs(t, err, &le)
		require.Equal(t, 1, b.http.count("batchread"), "a daily 429 is not retried")
	})
}

func TestOAuthTokensAreRefreshed(t *testing.T) {
	t.Parallel()
	oauth := func(refresh string) func(*hubspot.Settings) {
		return func(s *hubspot.Settings) {
			s.AccessToken = auth.Secret{}
			s.ClientID, s.ClientSecret, s.RefreshToken = replicacreds.ClientID, auth.NewSecret(replicacreds.ClientSecret), auth.NewSecret(refresh)
		}
	}
	t.Run("expired mid-read", func(t *testing.T) {
		t.Parallel()
		b := setup(t, replica.Options{})
		id := b.rep.AddSyntheticList("Big list", 600)
		b.http.intercept = func(_ http.ResponseWriter, r *http.Request, _ int) bool {
			if endpointOf(r) == "memberships" && r.URL.Query().Get("after") != "" && b.rep.Issued() == 1 {
				b.rep.ExpireTokens() // the token lapses between two pages
			}
			return false
		}
		rec, err := read(t, b.source(t, oauth(replicacreds.RefreshToken)), request("id:"+id))
		require.NoError(t, err)
		require.Equal(t, 600, rec.emitted)
		require.Equal(t, 2, b.rep.Issued(), "one refresh at the start, one when HubSpot said the token expired")
		// Each request in flight with the lapsed token is refused once.
		require.LessOrEqual(t, b.http.status(http.StatusUnauthorized), 3)
	})
	t.Run("expired by its lifetime", func(t *testing.T) {
		t.Parallel()
		// Paced at 2 requests a window, the read outlasts its token.
		b := setup(t, replica.Options{TokenLifetime: time.Minute, OAuthRateLimit: 2, Window: 90 * time.Second})
		rec, err := read(t, b.source(t, oauth(replicacreds.RefreshToken)), request("id:"+replicacreds.TrialID))
		require.NoError(t, err)
		require.Equal(t, 25, rec.emitted)
		require.Equal(t, 2, b.rep.Issued(), "the lapsed token was refreshed")
	})
	t.Run("revoked refresh token", func(t *testing.T) {
		t.Parallel()
		b := setup(t, replica.Options{})
		_, err := read(t, b.source(t, oauth(replicacreds.RevokedToken)), request("id:"+replicacreds.TrialID))
		require.ErrorContains(t, err, "re-authorise the app")
		require.Equal(t, 1, b.http.count("token"), "a refused refresh is not retried")
	})
}

func TestErrorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ref string
		edit      func(*hubspot.Settings)
		faults    string
		want      []string
	}{
		{name: "unknown name", ref: "No such list", want: []string{`"No such list"`, "check source.audience", "audiencesync sources"}},
		{name: "unknown id", ref: "id:999", want: []string{"no list with id 999", "legacy:N"}},
		{name: "unknown legacy id", ref: "legacy:999", want: []string{"legacy id 999", "check source.audience"}},
		{name: "company list", ref: "Target accounts", want: []string{"HubSpot has no contact list"}},
		{name: "company list by id", ref: "id:6", want: []string{"objects of type 0-2", "choose a contact list"}},
		{name: "ambiguous number", ref: "3", want: []string{"ambiguous", "id:3", "legacy:3"}},
		{name: "bad token", ref: "id:1", edit: func(s *hubspot.Settings) { s.AccessToken = auth.NewSecret("pat-wrong") },
			want: []string{"INVALID_AUTHENTICATION", "check access_token"}},
		{name: "revoked token", ref: "id:1", faults: "hubspot:401", want: []string{"EXPIRED_AUTHENTICATION", "check access_token"}},
		{name: "server errors", ref: "id:1", faults: "hubspot.batchread:503", want: []string{"HTTP 503", "run again later"}},
		{name: "connection resets", ref: "id:1", faults: "hubspot.memberships:reset", want: []string{"no answer from HubSpot", "run again"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, replica.Options{})
			require.NoError(t, b.faults.Load(tc.faults))
			rec, err := read(t, b.source(t, tc.edit), request(tc.ref))
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), replicacreds.AccessToken, "no token in messages")
			require.NotContains(t, err.Error(), "@example.com")
			_ = rec
		})
	}
}

func TestListDeletedWhileRead(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	id := b.rep.AddSyntheticList("Big list", 600)
	b.http.intercept = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if endpointOf(r) != "memberships" || r.URL.Query().Get("after") == "" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"status":"error","message":"List does not exist with ID ` + id + `.","category":"OBJECT_NOT_FOUND"}`))
		return true
	}
	_, err := read(t, b.source(t, nil), request("id:"+id))
	require.ErrorContains(t, err, "no longer exists")
	require.ErrorContains(t, err, "nothing is removed")
}

func TestConsentMapping(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	patch := func(id, body string) {
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPatch, "/crm/v3/objects/contacts/"+id, body))
	}
	patch("51001", `{"properties":{"ads_consent":"granted"}}`)
	patch("51002", `{"properties":{"ads_consent":"denied"}}`)
	patch("51003", `{"properties":{"ads_consent":"perhaps"}}`)

	req := request("id:" + replicacreds.TrialID)
	req.Consent = connectors.ConsentFields{AdUserData: "hs_email_optout", AdPersonalization: "ads_consent"}
	rec, err := read(t, b.source(t, nil), req)
	require.NoError(t, err)
	require.Equal(t, 1, rec.rejected[hubspot.ReasonInvalidConsent], "an unknown answer is rejected")
	for key, want := range map[string]audience.Consent{
		"51001": {AdPersonalization: audience.ConsentGranted},
		"51002": {AdPersonalization: audience.ConsentDenied},
		"51010": {AdUserData: audience.ConsentDenied}, // opted out of e-mail
		"51020": {AdUserData: audience.ConsentDenied},
		"51011": {},
	} {
		require.Equal(t, want, rec.members[key].Consent, key)
	}

	// Another opt-out property, configured.
	patch("51004", `{"properties":{"ads_optout":"true"}}`)
	req.Consent = connectors.ConsentFields{AdPersonalization: "ads_optout"}
	rec, err = read(t, b.source(t, func(s *hubspot.Settings) { s.OptOutProperties = []string{"ads_optout"} }), req)
	require.NoError(t, err)
	require.Equal(t, audience.ConsentDenied, rec.members["51004"].Consent.AdPersonalization)
	require.Equal(t, audience.ConsentUnspecified, rec.members["51010"].Consent.AdUserData, "hs_email_optout is no longer mapped")
}

// TestAttributes reads contact properties as attributes in HubSpot's
// formats: numbers and booleans as strings, datetimes in ISO 8601 or epoch
// milliseconds. A value that does not parse is invalid and the contact is
// still read.
func TestAttributes(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	patch := func(id, body string) {
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPatch, "/crm/v3/objects/contacts/"+id, body))
	}
	patch("51001", `{"properties":{"lifecyclestage":"customer","hs_analytics_num_visits":"12","vip":"true",`+
		`"hs_analytics_last_visit_timestamp":"2026-11-30T08:15:25.170Z","first_deal":"2026-11-02"}}`)
	patch("51002", `{"properties":{"lifecyclestage":"lead","hs_analytics_num_visits":"many","vip":"false",`+
		`"hs_analytics_last_visit_timestamp":"1796026525170","first_deal":"not yet"}}`)
	patch("51003", `{"properties":{"hs_analytics_num_visits":"2.5","vip":"perhaps","hs_analytics_last_visit_timestamp":""}}`)

	req := request("id:" + replicacreds.TrialID)
	req.Attributes = []connectors.Attribute{
		{Name: "stage", Field: "lifecyclestage", Type: audience.AttrString},
		{Name: "visits", Field: "hs_analytics_num_visits", Type: audience.AttrNumber},
		{Name: "vip", Field: "vip", Type: audience.AttrBool},
		{Name: "last_visit", Field: "hs_analytics_last_visit_timestamp", Type: audience.AttrTime},
		{Name: "first_deal", Field: "first_deal", Type: audience.AttrTime},
	}
	var body string
	b.http.intercept = func(_ http.ResponseWriter, r *http.Request, _ int) bool {
		if endpointOf(r) == "batchread" && body == "" {
			raw, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			body = string(raw)
			r.Body = io.NopCloser(bytes.NewReader(raw))
		}
		return false
	}
	rec, err := read(t, b.source(t, nil), req)
	require.NoError(t, err)
	require.Contains(t, body, `"properties":["email","first_deal","hs_analytics_last_visit_timestamp","hs_analytics_num_visits","lifecyclestage","phone","vip"]`,
		"the batch read asks for the attributes' properties")
	require.Empty(t, rec.rejected, "an attribute never rejects a contact")
	visit := time.Date(2026, 11, 30, 8, 15, 25, 170e6, time.UTC)
	bad, none := audience.InvalidValue(), audience.Value{}
	for key, want := range map[string][]audience.Value{
		"51001": {audience.StringValue("customer"), audience.NumberValue(12), audience.BoolValue(true), audience.TimeValue(visit),
			audience.TimeValue(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))},
		"51002": {audience.StringValue("lead"), bad, audience.BoolValue(false), audience.TimeValue(visit), bad},
		"51003": {audience.StringValue("subscriber"), audience.NumberValue(2.5), bad, none, none}, // the stage the replica seeds
	} {
		require.Equal(t, want, rec.members[key].Attrs, key)
	}
	require.Len(t, rec.members["51004"].Attrs, len(req.Attributes), "a contact without the properties has them missing")
}

func TestOnlyMappedPropertiesAreRequested(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	var body string
	b.http.intercept = func(_ http.ResponseWriter, r *http.Request, _ int) bool {
		if endpointOf(r) == "batchread" {
			raw, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			body = string(raw)
			r.Body = io.NopCloser(bytes.NewReader(raw))
		}
		return false
	}
	req := connectors.ReadRequest{Audience: "id:1", Fields: map[audience.Kind]string{audience.Email: "email"},
		Consent: connectors.ConsentFields{AdUserData: "hs_email_optout"}}
	_, err := read(t, b.source(t, nil), req)
	require.NoError(t, err)
	require.Contains(t, body, `"properties":["email","hs_email_optout"]`)
}

func TestListAudiences(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	got, err := b.source(t, nil).ListAudiences(t.Context())
	require.NoError(t, err)
	require.Equal(t, []connectors.AudienceInfo{
		{ID: "1", Ref: "id:1", Name: replicacreds.TrialList, Kind: "DYNAMIC", Size: 25},
		{ID: "3", Ref: "id:3", Name: replicacreds.NewsletterList, Kind: "MANUAL", Size: 41},
		{ID: "5", Ref: "id:5", Name: replicacreds.WebinarList, Kind: "SNAPSHOT", Size: 16},
	}, got)
	require.NoError(t, b.source(t, nil).Check(t.Context()))
	err = b.source(t, func(s *hubspot.Settings) { s.AccessToken = auth.NewSecret("nope") }).Check(t.Context())
	require.ErrorContains(t, err, "check access_token")
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, kind, value, err string }{
		{in: "Newsletter subscribers", kind: "name", value: "Newsletter subscribers"},
		{in: "name:2026", kind: "name", value: "2026"},
		{in: "id:42", kind: "id", value: "42"},
		{in: " legacy: 7 ", kind: "legacy", value: "7"},
		{in: "2026", err: "ambiguous"},
		{in: "id:abc", err: "is a number"},
		{in: "", err: "empty"},
		{in: "Campaign: spring", kind: "name", value: "Campaign: spring"},
	} {
		kind, value, err := hubspot.ParseRef(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, [2]string{tc.kind, tc.value}, [2]string{kind, value}, tc.in)
	}
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	tok := auth.NewSecret("x")
	for _, tc := range []struct {
		name string
		s    hubspot.Settings
		err  string
	}{
		{name: "private app", s: hubspot.Settings{AccessToken: tok}},
		{name: "oauth", s: hubspot.Settings{ClientID: "a", ClientSecret: tok, RefreshToken: tok}},
		{name: "sandbox needs none", s: hubspot.Settings{Settings: platformconn.Settings{Sandbox: true}}},
		{name: "none", s: hubspot.Settings{}, err: "no credentials"},
		{name: "both", s: hubspot.Settings{AccessToken: tok, ClientID: "a", ClientSecret: tok, RefreshToken: tok}, err: "not both"},
		{name: "half oauth", s: hubspot.Settings{ClientID: "a"}, err: "together"},
		{name: "bad endpoint", s: hubspot.Settings{AccessToken: tok, Settings: platformconn.Settings{Endpoint: "ftp://x"}}, err: "endpoint"},
	} {
		err := tc.s.Validate()
		if tc.err == "" {
			require.NoError(t, err, tc.name)
		} else {
			require.ErrorContains(t, err, tc.err, tc.name)
		}
	}
}
