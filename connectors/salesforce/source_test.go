package salesforce_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/retry/retrytest"
	"github.com/audiencesync/audiencesync/connectors/salesforce"
	"github.com/audiencesync/audiencesync/connectors/salesforce/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	replica "github.com/audiencesync/audiencesync/sandbox/salesforce"
)

// counter wraps the replica, counting requests by endpoint, and lets a
// test answer instead of it.
type counter struct {
	next      http.Handler
	mu        sync.Mutex
	requests  map[string]int
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

// endpointOf names a request: token, count, query (a first page), more
// (a nextRecordsUrl), campaign (a Campaign lookup), jobs (create), poll,
// results.
func endpointOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/oauth2/token"):
		return "token"
	case strings.HasSuffix(p, "/results"):
		return "results"
	case strings.HasSuffix(p, "/jobs/query"):
		return "jobs"
	case strings.Contains(p, "/jobs/query/"):
		return "poll"
	case strings.Contains(p, "/query/"):
		return "more"
	case strings.Contains(r.URL.Query().Get("q"), "COUNT()"):
		return "count"
	case strings.HasSuffix(r.URL.Query().Get("q"), " FROM Campaign"), strings.Contains(r.URL.Query().Get("q"), " FROM Campaign WHERE"):
		return "campaign"
	}
	return "query"
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.requests[endpointOf(r)]++
	intercept := c.intercept
	c.mu.Unlock()
	if intercept == nil || !intercept(w, r) {
		c.next.ServeHTTP(w, r)
	}
}

func (c *counter) count(endpoint string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[endpoint]
}

func (c *counter) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.intercept = f
}

// bundle is a replica served over HTTP and the shared fake clock.
type bundle struct {
	rep    *replica.Server
	faults *fault.Injector
	http   *counter
	url    string
	clock  *retrytest.Clock
}

func setup(t *testing.T, opts replica.Options) *bundle {
	t.Helper()
	b := &bundle{clock: retrytest.NewClock(time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)), faults: fault.MustParse("")}
	opts.Now, opts.Faults = b.clock.Now, b.faults
	b.rep = replica.New(opts)
	b.http = &counter{next: fault.Handler(b.rep), requests: map[string]int{}}
	ts := httptest.NewServer(b.http)
	t.Cleanup(ts.Close)
	b.url = ts.URL
	return b
}

// jwtSettings are the JWT bearer flow's settings for the replica.
func (b *bundle) jwtSettings() *salesforce.Settings {
	return &salesforce.Settings{Settings: platformconn.Settings{Endpoint: b.url}, ClientID: replicacreds.ClientID,
		Username: replicacreds.Username, PrivateKey: auth.NewSecret(replicacreds.PrivateKey)}
}

// source builds a source on the replica; edit changes its settings.
func (b *bundle) source(t *testing.T, restBatch int, edit func(*salesforce.Settings)) *salesforce.Source {
	t.Helper()
	s := b.jwtSettings()
	if edit != nil {
		edit(s)
	}
	src, err := salesforce.NewWithSleep(s, connectors.Env{Now: b.clock.Now}, b.clock.Sleep, restBatch)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, src.Close()) })
	return src
}

func request(ref string) connectors.ReadRequest {
	return connectors.ReadRequest{Audience: ref, Fields: map[audience.Kind]string{
		audience.Email: "Email", audience.Phone: "Phone", audience.Zip: "MailingPostalCode", audience.Country: "MailingCountry",
	}, Consent: connectors.ConsentFields{AdUserData: "HasOptedOutOfEmail"}}
}

func read(t *testing.T, src *salesforce.Source, req connectors.ReadRequest) (*connectortest.KeyedRecorder, error) {
	t.Helper()
	rec := connectortest.NewKeyedRecorder()
	err := src.Read(t.Context(), req, rec)
	return rec, err
}

// The Spring campaign holds Contacts 1–20 and Leads 1–12, of which Leads
// 1–3 are converted: 29 members are read.
const springMembers = 29

func TestReadCampaignByIDAndName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, ref string }{
		{"id", replicacreds.SpringCampaignID},
		{"explicit id", "id:" + replicacreds.SpringCampaignID},
		{"name", replicacreds.SpringCampaign},
		{"explicit name", "name:" + replicacreds.SpringCampaign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, replica.Options{})
			rec, err := read(t, b.source(t, 0, nil), request(tc.ref))
			require.NoError(t, err)
			require.Equal(t, int64(springMembers), rec.Declared, "the count query's figure is declared")
			require.Equal(t, int64(springMembers), rec.Records())
			require.Empty(t, rec.Rejected)
			emails := rec.ByField(audience.Email)
			require.Contains(t, emails, "contact0020@example.com")
			require.Contains(t, emails, "lead0012@example.com")
			for _, converted := range []string{"lead0001@example.com", "lead0002@example.com", "lead0003@example.com"} {
				require.NotContains(t, emails, converted, "converted leads are left out")
			}
			require.NotContains(t, emails, "contact0021@example.com")
			lead := emails["lead0004@example.com"]
			require.Equal(t, "80004", lead.Fields[audience.Zip], "a Lead's PostalCode stands for MailingPostalCode")
			require.Equal(t, "US", lead.Fields[audience.Country])
			require.True(t, strings.HasPrefix(lead.Key, "00Q"), "a Lead member's key is the Lead id")
			c := emails["contact0001@example.com"]
			require.True(t, strings.HasPrefix(c.Key, "003"), "a Contact member's key is the Contact id")
			require.Equal(t, "20001", c.Fields[audience.Zip])
			require.Equal(t, audience.ConsentDenied, emails["contact0010@example.com"].Consent.AdUserData, "HasOptedOutOfEmail true denies")
			require.Equal(t, audience.ConsentUnspecified, c.Consent.AdUserData)
			require.Zero(t, b.http.count("jobs"), "a small audience is read with the REST query API")
			require.Equal(t, 1, b.http.count("count"))
		})
	}
}

func TestRESTPagingFollowsNextRecordsURL(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	require.True(t, b.rep.AddSyntheticMembers(replicacreds.WebinarCampaignID, 600))
	rec, err := read(t, b.source(t, 200, nil), request(replicacreds.WebinarCampaignID))
	require.NoError(t, err)
	require.Equal(t, int64(615), rec.Declared)
	require.Equal(t, int64(615), rec.Records())
	require.Len(t, rec.Members, 615-rec.Rejected[salesforce.ReasonNoIdentifiers])
	require.Equal(t, 1, b.http.count("query"))
	require.Equal(t, 3, b.http.count("more"), "pages of 200: the first and three nextRecordsUrl pages")
}

func TestBulkAboveThreshold(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{PollsBeforeDone: 3})
	rec, err := read(t, b.source(t, 0, func(s *salesforce.Settings) { s.BulkThreshold, s.BulkPage = 10, 7 }),
		request(replicacreds.SpringCampaign))
	require.NoError(t, err)
	require.Equal(t, int64(springMembers), rec.Declared)
	require.Equal(t, int64(springMembers), rec.Records())
	require.NotContains(t, rec.ByField(audience.Email), "lead0001@example.com", "converted leads are left out of Bulk reads too")
	require.Equal(t, "80004", rec.ByField(audience.Email)["lead0004@example.com"].Fields[audience.Zip])
	require.Equal(t, 1, b.http.count("jobs"))
	require.Equal(t, 4, b.http.count("poll"), "three polls answer not complete, the fourth JobComplete")
	require.Equal(t, []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}, b.clock.Slept(),
		"polls back off, doubling up to the most (4ms in tests)")
	require.Equal(t, 5, b.http.count("results"), "29 records in pages of 7, followed by locator")
	require.Zero(t, b.http.count("query"), "no REST record pages")
}

func TestBulkPageShorterThanItsCountFails(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{PollsBeforeDone: -1})
	b.http.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if endpointOf(r) != "results" {
			return false
		}
		w.Header().Set("Sforce-NumberOfRecords", "5")
		w.Header().Set("Sforce-Locator", "null")
		_, _ = w.Write([]byte("Id,ContactId,LeadId,Contact.Email,Lead.Email\n00v1,0031,,contact9001@example.com,\n"))
		return true
	})
	_, err := read(t, b.source(t, 0, func(s *salesforce.Settings) { s.BulkThreshold = 1 }),
		connectors.ReadRequest{Audience: replicacreds.SpringCampaignID, Fields: map[audience.Kind]string{audience.Email: "Email"}})
	require.ErrorContains(t, err, "the page held 1 records but Sforce-NumberOfRecords said 5")
}

// otherKey is a PEM key the replica's connected app does not hold.
func otherKey(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestAuthFlows(t *testing.T) {
	t.Parallel()
	wrongKey := otherKey(t)
	for _, tc := range []struct {
		name string
		edit func(*salesforce.Settings)
		want string // "" reads
	}{
		{"jwt bearer", nil, ""},
		{"refresh token", func(s *salesforce.Settings) {
			s.Username, s.PrivateKey = "", auth.Secret{}
			s.ClientSecret, s.RefreshToken = auth.NewSecret(replicacreds.ClientSecret), auth.NewSecret(replicacreds.RefreshToken)
		}, ""},
		{"client credentials", func(s *salesforce.Settings) {
			s.Username, s.PrivateKey = "", auth.Secret{}
			s.ClientSecret = auth.NewSecret(replicacreds.ClientSecret)
		}, ""},
		{"jwt signed with another key", func(s *salesforce.Settings) { s.PrivateKey = auth.NewSecret(wrongKey) }, "invalid_grant"},
		{"jwt for another user", func(s *salesforce.Settings) { s.Username = "someone@example.com" }, "check client_id (the consumer key), username"},
		{"revoked refresh token", func(s *salesforce.Settings) {
			s.Username, s.PrivateKey = "", auth.Secret{}
			s.ClientSecret, s.RefreshToken = auth.NewSecret(replicacreds.ClientSecret), auth.NewSecret(replicacreds.RevokedToken)
		}, "authorise the app again and update refresh_token"},
		{"wrong client secret", func(s *salesforce.Settings) {
			s.Username, s.PrivateKey = "", auth.Secret{}
			s.ClientSecret = auth.NewSecret("wrong")
		}, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, replica.Options{})
			rec, err := read(t, b.source(t, 0, tc.edit), request(replicacreds.WebinarCampaignID))
			if tc.want != "" {
				require.ErrorContains(t, err, tc.want)
				require.ErrorContains(t, err, "credentials refused by Salesforce")
				require.NotContains(t, err.Error(), "PRIVATE KEY")
				return
			}
			require.NoError(t, err)
			require.Equal(t, int64(15), rec.Records())
			require.Equal(t, 1, b.rep.Issued())
		})
	}
}

func TestInvalidSessionReauthenticatesOnce(t *testing.T) {
	t.Parallel()
	t.Run("session ended mid-read", func(t *testing.T) {
		t.Parallel()
		b := setup(t, replica.Options{})
		require.True(t, b.rep.AddSyntheticMembers(replicacreds.WebinarCampaignID, 300))
		var once sync.Once
		b.http.setIntercept(func(_ http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) == "more" {
				once.Do(b.rep.InvalidateSessions)
			}
			return false
		})
		rec, err := read(t, b.source(t, 200, nil), request(replicacreds.WebinarCampaignID))
		require.NoError(t, err)
		require.Equal(t, int64(315), rec.Records())
		require.Equal(t, 2, b.rep.Issued(), "authenticated again once")
	})
	t.Run("refused again after authenticating anew", func(t *testing.T) {
		t.Parallel()
		b := setup(t, replica.Options{})
		require.NoError(t, b.faults.Load("salesforce.query:401"))
		_, err := read(t, b.source(t, 0, nil), request(replicacreds.WebinarCampaignID))
		require.ErrorContains(t, err, "refused again after authenticating anew")
		require.Equal(t, 2, b.rep.Issued(), "one re-authentication, then it stops")
	})
}

func TestRequestLimitExceededStopsWithFigures(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{DailyLimit: 3})
	require.True(t, b.rep.AddSyntheticMembers(replicacreds.WebinarCampaignID, 600))
	_, err := read(t, b.source(t, 200, nil), request(replicacreds.WebinarCampaignID))
	var le *salesforce.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, int64(3), le.Used)
	require.Equal(t, int64(3), le.Max)
	require.ErrorContains(t, err, "api-usage=3/3")
	require.ErrorContains(t, err, "nothing is removed")
	require.Equal(t, 1, b.http.count("more"), "the third API request is refused, and none is sent after it")
}

func TestSOQLAudience(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	req := connectors.ReadRequest{
		Audience: "soql:SELECT Id, Email, MailingPostalCode FROM Contact WHERE HasOptedOutOfEmail = false",
		Fields:   map[audience.Kind]string{audience.Email: "Email", audience.Zip: "mailingpostalcode"},
	}
	rec, err := read(t, b.source(t, 0, nil), req)
	require.NoError(t, err)
	require.Equal(t, int64(27), rec.Declared, "30 Contacts, three opted out")
	require.Equal(t, int64(27), rec.Records())
	require.Equal(t, "20001", rec.ByField(audience.Email)["contact0001@example.com"].Fields[audience.Zip], "column names match ignoring case")

	// The same query as a Bulk job.
	rec, err = read(t, b.source(t, 0, func(s *salesforce.Settings) { s.BulkThreshold = 5 }), req)
	require.NoError(t, err)
	require.Equal(t, int64(27), rec.Records())
	require.Equal(t, 1, b.http.count("jobs"))

	req.Fields[audience.Phone] = "Phone"
	_, err = read(t, b.source(t, 0, nil), req)
	require.ErrorContains(t, err, "field Phone: not in the answer: add it to the query's SELECT list")
}

func TestSalesforceErrorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		req  connectors.ReadRequest
		want []string
	}{
		{"unknown field", connectors.ReadRequest{Audience: replicacreds.SpringCampaignID,
			Fields: map[audience.Kind]string{audience.Email: "Email", audience.Country: "MailingCountryCode"}},
			[]string{"INVALID_FIELD", "No such column 'Contact.MailingCountryCode'", "state and country picklists"}},
		{"malformed query", connectors.ReadRequest{Audience: "soql:SELECT Id, Email FROM Contact GROUP BY Email",
			Fields: map[audience.Kind]string{audience.Email: "Email"}}, []string{"MALFORMED_QUERY", "fix the soql: audience"}},
		{"unknown object", connectors.ReadRequest{Audience: "soql:SELECT Id, Email FROM Person",
			Fields: map[audience.Kind]string{audience.Email: "Email"}}, []string{"INVALID_TYPE"}},
		{"unknown campaign", request("No such campaign"), []string{"Salesforce has no such campaign", "audiencesync sources --connection"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, replica.Options{})
			_, err := read(t, b.source(t, 0, nil), tc.req)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestListAndCheckAudiences(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	src := b.source(t, 0, nil)
	lists, err := src.ListAudiences(t.Context())
	require.NoError(t, err)
	require.Equal(t, []connectors.AudienceInfo{
		{ID: replicacreds.EmptyCampaignID, Ref: replicacreds.EmptyCampaignID, Name: replicacreds.EmptyCampaign, Kind: "active", Size: 0},
		{ID: replicacreds.SpringCampaignID, Ref: replicacreds.SpringCampaignID, Name: replicacreds.SpringCampaign, Kind: "active", Size: springMembers},
		{ID: replicacreds.WebinarCampaignID, Ref: replicacreds.WebinarCampaignID, Name: replicacreds.WebinarCampaign, Kind: "inactive", Size: 15},
	}, lists)

	got, err := src.CheckAudience(t.Context(), replicacreds.SpringCampaign)
	require.NoError(t, err)
	require.Equal(t, `campaign "Spring launch": active campaign "Spring launch" (701000000000001AAA), 29 members, last modified 2026-08-31 12:00 UTC`, got)
	_, err = src.CheckAudience(t.Context(), "701000000000009AAA")
	require.ErrorContains(t, err, "no such campaign")
	got, err = src.CheckAudience(t.Context(), "soql:SELECT Id FROM Lead WHERE IsConverted = false")
	require.NoError(t, err)
	require.Equal(t, "the soql: query counts 17 records", got)
	require.NoError(t, src.Check(t.Context()))
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "2018-12-10T17:50:19.000+0000", want: time.Date(2018, 12, 10, 17, 50, 19, 0, time.UTC)},
		{in: "2018-12-10T17:50:19.123-0800", want: time.Date(2018, 12, 11, 1, 50, 19, 123e6, time.UTC)},
		{in: "2023-05-30T14:29:25.170Z", want: time.Date(2023, 5, 30, 14, 29, 25, 170e6, time.UTC)},
		{in: "2023-05-30T14:29:25+02:00", want: time.Date(2023, 5, 30, 12, 29, 25, 0, time.UTC)},
		{in: "2023-05-30", bad: true},
		{in: "yesterday", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := salesforce.ParseTime(tc.in)
			if tc.bad {
				require.ErrorContains(t, err, "is not a Salesforce datetime")
				return
			}
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "got %s", got)
		})
	}
}

func TestParseRefAndCountQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, kind, value, err string }{
		{in: "701000000000001", kind: "id", value: "701000000000001"},
		{in: "701000000000001AAA", kind: "id", value: "701000000000001AAA"},
		{in: "id:701000000000001AAA", kind: "id", value: "701000000000001AAA"},
		{in: "id:123", err: "starts with 701"},
		{in: "Spring launch", kind: "name", value: "Spring launch"},
		{in: "name:701000000000001AAA", kind: "name", value: "701000000000001AAA"},
		{in: "soql:SELECT Id FROM Contact", kind: "soql", value: "SELECT Id FROM Contact"},
		{in: "soql:DELETE Contact", err: "starting with SELECT"},
		{in: " ", err: "source.audience is empty"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			kind, value, err := salesforce.ParseRef(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.kind, kind)
			require.Equal(t, tc.value, value)
		})
	}
	got, err := salesforce.CountQuery("SELECT Id, Email FROM Contact WHERE Name = 'x FROM y' ORDER BY Email LIMIT 10")
	require.NoError(t, err)
	require.Equal(t, "SELECT COUNT() FROM Contact WHERE Name = 'x FROM y' LIMIT 10", got)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	key := auth.NewSecret(replicacreds.PrivateKey)
	for _, tc := range []struct {
		name string
		s    salesforce.Settings
		want string
	}{
		{"jwt", salesforce.Settings{ClientID: "c", Username: "u", PrivateKey: key}, ""},
		{"sandbox defaults", salesforce.Settings{Settings: platformconn.Settings{Sandbox: true}}, ""},
		{"no client id", salesforce.Settings{Username: "u", PrivateKey: key}, "client_id is missing"},
		{"no credentials", salesforce.Settings{ClientID: "c"}, "no credentials"},
		{"jwt without key", salesforce.Settings{ClientID: "c", Username: "u"}, "needs both username and private_key"},
		{"two flows", salesforce.Settings{ClientID: "c", Username: "u", PrivateKey: key, ClientSecret: auth.NewSecret("s")}, "not both"},
		{"refresh without secret", salesforce.Settings{ClientID: "c", RefreshToken: auth.NewSecret("r")}, "needs client_secret"},
		{"bad version", salesforce.Settings{ClientID: "c", ClientSecret: auth.NewSecret("s"), APIVersion: "v62"}, "api_version"},
		{"bad login url", salesforce.Settings{ClientID: "c", ClientSecret: auth.NewSecret("s"), LoginURL: "login.salesforce.com"}, "login_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.s.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := salesforce.New(&salesforce.Settings{ClientID: "c", Username: "u", PrivateKey: auth.NewSecret("not a key")}, connectors.Env{})
	require.ErrorContains(t, err, "not a PEM RSA private key")
	require.False(t, errors.Is(err, context.Canceled))
}

func TestReauthenticationRefusedSaysWhy(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	require.True(t, b.rep.AddSyntheticMembers(replicacreds.WebinarCampaignID, 300))
	var once sync.Once
	b.http.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		switch endpointOf(r) {
		case "more":
			once.Do(b.rep.InvalidateSessions)
		case "token":
			if b.rep.Issued() > 0 { // the key was revoked along with the sessions
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"user hasn't approved this consumer"}`))
				return true
			}
		}
		return false
	})
	_, err := read(t, b.source(t, 200, nil), request(replicacreds.WebinarCampaignID))
	require.ErrorContains(t, err, "invalid_grant")
	require.ErrorContains(t, err, "check client_id (the consumer key), username")
}

// TestAttributes reads a campaign's Contact and Lead fields as member
// attributes, by REST and by Bulk: Salesforce's booleans and its datetimes
// (no colon in the offset) parse as their types.
func TestAttributes(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	req := request(replicacreds.SpringCampaignID)
	req.Attributes = []connectors.Attribute{
		{Name: "opted_out", Field: "HasOptedOutOfEmail", Type: audience.AttrBool},
		{Name: "modified", Field: "LastModifiedDate", Type: audience.AttrTime},
	}
	for name, src := range map[string]*salesforce.Source{
		"rest": b.source(t, 0, nil),
		"bulk": b.source(t, 0, func(s *salesforce.Settings) { s.BulkThreshold = 5 }),
	} {
		rec, err := read(t, src, req)
		require.NoError(t, err, name)
		require.NotZero(t, rec.Records(), name)
		for _, m := range rec.Members {
			require.Len(t, m.Attrs, 2, name)
			_, ok := m.Attrs[0].Bool()
			require.True(t, ok, "%s: %s opted_out is a bool", name, m.Key)
			at, ok := m.Attrs[1].Time()
			require.True(t, ok, "%s: %s modified is a timestamp", name, m.Key)
			require.False(t, at.IsZero(), name)
		}
	}
	req.Attributes = append(req.Attributes, connectors.Attribute{Name: "bad", Field: "No Such Field", Type: audience.AttrString})
	_, err := read(t, b.source(t, 0, nil), req)
	require.ErrorContains(t, err, "source.attributes bad")
}
