package salesforce_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors/salesforce/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/salesforce"
)

var now = time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	rep *salesforce.Server
	url string
	tok string
}

func setup(t *testing.T, opts salesforce.Options) *harness {
	t.Helper()
	opts.Now = func() time.Time { return now }
	h := &harness{rep: salesforce.New(opts)}
	ts := httptest.NewServer(h.rep)
	t.Cleanup(ts.Close)
	h.url = ts.URL
	status, body := h.token(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {replicacreds.ClientID},
		"client_secret": {replicacreds.ClientSecret}})
	require.Equal(t, http.StatusOK, status, body)
	var tok struct{ AccessToken, InstanceURL string }
	require.NoError(t, json.Unmarshal([]byte(body), &struct {
		A *string `json:"access_token"`
		I *string `json:"instance_url"`
	}{&tok.AccessToken, &tok.InstanceURL}))
	require.Equal(t, h.url, tok.InstanceURL)
	h.tok = tok.AccessToken
	return h
}

func (h *harness) token(t *testing.T, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(h.url+"/services/oauth2/token", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// get calls the API with the harness's token and returns status, headers
// and body.
func (h *harness) do(t *testing.T, method, path, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.url+path, strings.NewReader(body))
	require.NoError(t, err)
	if h.tok != "" {
		req.Header.Set("Authorization", "Bearer "+h.tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func q(soql string) string { return "/services/data/v62.0/query?q=" + url.QueryEscape(soql) }

// errorCode reads the first errorCode of an error array.
func errorCode(t *testing.T, body string) string {
	t.Helper()
	var errs []struct{ ErrorCode, Message string }
	require.NoError(t, json.Unmarshal([]byte(body), &errs), body)
	require.NotEmpty(t, errs)
	return errs[0].ErrorCode
}

func TestQueryStrictness(t *testing.T) {
	t.Parallel()
	h := setup(t, salesforce.Options{})
	for _, tc := range []struct {
		name, soql string
		status     int
		code       string
	}{
		{"count", "SELECT COUNT() FROM Contact", 200, ""},
		{"campaign members", "SELECT Id, Contact.Email, Lead.Email FROM CampaignMember WHERE CampaignId = '" + replicacreds.SpringCampaignID + "' AND (ContactId != null OR Lead.IsConverted = false)", 200, ""},
		{"group by", "SELECT Email FROM Contact GROUP BY Email", 400, "MALFORMED_QUERY"},
		{"less than", "SELECT Id FROM Contact WHERE LastModifiedDate > 2020-01-01T00:00:00Z", 400, "MALFORMED_QUERY"},
		{"unterminated", "SELECT Id FROM Contact WHERE Email = 'x", 400, "MALFORMED_QUERY"},
		{"no from", "SELECT Id", 400, "MALFORMED_QUERY"},
		{"unknown object", "SELECT Id FROM Person", 400, "INVALID_TYPE"},
		{"unknown field", "SELECT Id, MailingCountryCode FROM Contact", 400, "INVALID_FIELD"},
		{"unknown parent field", "SELECT Id, Lead.MailingPostalCode FROM CampaignMember", 400, "INVALID_FIELD"},
		{"unknown field in where", "SELECT Id FROM Contact WHERE Nickname = 'x'", 400, "INVALID_FIELD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, hdr, body := h.do(t, http.MethodGet, q(tc.soql), "")
			require.Equal(t, tc.status, status, body)
			require.Regexp(t, `^api-usage=\d+/100000$`, hdr.Get("Sforce-Limit-Info"), "every answer carries the usage")
			if tc.code != "" {
				require.Equal(t, tc.code, errorCode(t, body))
			}
		})
	}
	_, _, body := h.do(t, http.MethodGet, q("SELECT COUNT() FROM CampaignMember WHERE CampaignId = '"+replicacreds.SpringCampaignID+"' AND (ContactId != null OR Lead.IsConverted = false)"), "")
	require.JSONEq(t, `{"totalSize":29,"done":true,"records":[]}`, body)
}

func TestRecordsNestParentsAndBooleans(t *testing.T) {
	t.Parallel()
	h := setup(t, salesforce.Options{})
	_, _, body := h.do(t, http.MethodGet, q("SELECT Id, ContactId, Contact.Email, Contact.HasOptedOutOfEmail, Lead.Email FROM CampaignMember WHERE CampaignId = '"+replicacreds.WebinarCampaignID+"'"), "")
	var page struct {
		TotalSize int
		Done      bool
		Records   []map[string]any
	}
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	require.Equal(t, 15, page.TotalSize)
	require.True(t, page.Done)
	r := page.Records[0]
	require.Nil(t, r["Lead"], "a member without a Lead has Lead null")
	c := r["Contact"].(map[string]any)
	require.Equal(t, "contact0011@example.com", c["Email"])
	require.Equal(t, false, c["HasOptedOutOfEmail"], "booleans are JSON booleans")
}

func TestQueryPaging(t *testing.T) {
	t.Parallel()
	h := setup(t, salesforce.Options{})
	require.True(t, h.rep.AddSyntheticMembers(replicacreds.EmptyCampaignID, 450))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.url+q("SELECT Id FROM CampaignMember WHERE CampaignId = '"+replicacreds.EmptyCampaignID+"'"), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+h.tok)
	req.Header.Set("Sforce-Query-Options", "batchSize=200")
	seen := 0
	for page := 0; ; page++ {
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var p struct {
			Done           bool
			NextRecordsURL string
			Records        []json.RawMessage
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		_ = resp.Body.Close()
		seen += len(p.Records)
		if p.Done {
			require.Empty(t, p.NextRecordsURL)
			require.Equal(t, 2, page)
			break
		}
		require.Len(t, p.Records, 200)
		require.True(t, strings.HasPrefix(p.NextRecordsURL, "/services/data/v62.0/query/01g"))
		req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, h.url+p.NextRecordsURL, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+h.tok)
	}
	require.Equal(t, 450, seen)
	status, _, body := h.do(t, http.MethodGet, "/services/data/v62.0/query/01gdeadbeef-200", "")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "INVALID_QUERY_LOCATOR", errorCode(t, body))
}

func TestBulkJobStatesAndLocators(t *testing.T) {
	t.Parallel()
	h := setup(t, salesforce.Options{PollsBeforeDone: 2})
	soql := "SELECT Id, ContactId, Contact.Email FROM CampaignMember WHERE CampaignId = '" + replicacreds.WebinarCampaignID + "'"
	status, _, body := h.do(t, http.MethodPost, "/services/data/v62.0/jobs/query", `{"operation":"query","query":"`+soql+`"}`)
	require.Equal(t, http.StatusOK, status, body)
	var job struct {
		ID         string
		State      string
		APIVersion float64
	}
	require.NoError(t, json.Unmarshal([]byte(body), &job))
	require.Equal(t, "UploadComplete", job.State)
	require.Equal(t, 62.0, job.APIVersion, "apiVersion is a JSON number")
	jobPath := "/services/data/v62.0/jobs/query/" + job.ID

	status, _, body = h.do(t, http.MethodGet, jobPath+"/results", "")
	require.Equal(t, http.StatusPreconditionFailed, status)
	require.Equal(t, "JOB_NOT_COMPLETE", errorCode(t, body))

	for _, want := range []string{"InProgress", "InProgress", "JobComplete"} {
		_, _, body = h.do(t, http.MethodGet, jobPath, "")
		require.NoError(t, json.Unmarshal([]byte(body), &job))
		require.Equal(t, want, job.State)
	}
	status, _, body = h.do(t, http.MethodGet, "/services/data/v61.0/jobs/query/"+job.ID+"/results", "")
	require.Equal(t, http.StatusConflict, status, "another API version than the job's")
	require.NotEmpty(t, errorCode(t, body))

	var csv strings.Builder
	loc, pages := "", 0
	for {
		path := jobPath + "/results?maxRecords=6"
		if loc != "" {
			path += "&locator=" + loc
		}
		status, hdr, body := h.do(t, http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, "text/csv", hdr.Get("Content-Type"))
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		require.Equal(t, "Id,ContactId,Contact.Email", lines[0], "a header row in the query's column order")
		require.Equal(t, hdr.Get("Sforce-NumberOfRecords"), strconv.Itoa(len(lines)-1))
		csv.WriteString(strings.Join(lines[1:], "\n") + "\n")
		pages++
		loc = hdr.Get("Sforce-Locator")
		if loc == "null" {
			break
		}
	}
	require.Equal(t, 3, pages, "15 records in pages of 6")
	require.Equal(t, 15, strings.Count(csv.String(), "@example.com"))

	status, _, body = h.do(t, http.MethodPost, "/services/data/v62.0/jobs/query", `{"operation":"query","query":"SELECT COUNT() FROM Contact"}`)
	require.Equal(t, http.StatusBadRequest, status, "no aggregates in Bulk jobs")
	require.NotEmpty(t, errorCode(t, body))
}

func TestSessionsAndDailyLimit(t *testing.T) {
	t.Parallel()
	h := setup(t, salesforce.Options{DailyLimit: 2})
	status, hdr, _ := h.do(t, http.MethodGet, q("SELECT COUNT() FROM Contact"), "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "api-usage=1/2", hdr.Get("Sforce-Limit-Info"))
	h.do(t, http.MethodGet, q("SELECT COUNT() FROM Contact"), "")
	status, hdr, body := h.do(t, http.MethodGet, q("SELECT COUNT() FROM Contact"), "")
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, "REQUEST_LIMIT_EXCEEDED", errorCode(t, body))
	require.Equal(t, "api-usage=2/2", hdr.Get("Sforce-Limit-Info"))

	h.rep.InvalidateSessions()
	status, _, body = h.do(t, http.MethodGet, q("SELECT COUNT() FROM Contact"), "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "INVALID_SESSION_ID", errorCode(t, body))
	h.tok = ""
	status, _, body = h.do(t, http.MethodGet, q("SELECT COUNT() FROM Contact"), "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "INVALID_SESSION_ID", errorCode(t, body))
}

func TestJWTBearerChecks(t *testing.T) {
	t.Parallel()
	h := setup(t, salesforce.Options{})
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(replicacreds.PrivateKey))
	require.NoError(t, err)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	exp := now.Add(3 * time.Minute).Unix()
	good := jwt.MapClaims{"iss": replicacreds.ClientID, "sub": replicacreds.Username, "aud": "https://login.salesforce.com", "exp": exp}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	sign := func(m jwt.SigningMethod, c jwt.MapClaims, k any) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(k)
		require.NoError(t, err)
		return s
	}
	for _, tc := range []struct {
		name      string
		assertion string
		ok        bool
	}{
		{"valid", sign(jwt.SigningMethodRS256, good, key), true},
		{"exp as a string", sign(jwt.SigningMethodRS256, with("exp", strconv.Itoa(int(exp))), key), true},
		{"aud the replica itself", sign(jwt.SigningMethodRS256, with("aud", h.url), key), true},
		{"another key", sign(jwt.SigningMethodRS256, good, other), false},
		{"HS256", sign(jwt.SigningMethodHS256, good, []byte("secret")), false},
		{"RS512", sign(jwt.SigningMethodRS512, good, key), false},
		{"expired", sign(jwt.SigningMethodRS256, with("exp", now.Add(-time.Minute).Unix()), key), false},
		{"no exp", sign(jwt.SigningMethodRS256, with("exp", nil), key), false},
		{"other issuer", sign(jwt.SigningMethodRS256, with("iss", "someone"), key), false},
		{"other user", sign(jwt.SigningMethodRS256, with("sub", "nobody@example.com"), key), false},
		{"other audience", sign(jwt.SigningMethodRS256, with("aud", "https://example.com"), key), false},
		{"garbage", "not.a.jwt", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, body := h.token(t, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {tc.assertion}})
			if tc.ok {
				require.Equal(t, http.StatusOK, status, body)
				require.Contains(t, body, `"access_token"`)
				require.NotContains(t, body, "refresh_token", "the JWT flow issues no refresh token")
				return
			}
			require.Equal(t, http.StatusBadRequest, status)
			require.Contains(t, body, `"error":"invalid_grant"`)
		})
	}
	status, body := h.token(t, url.Values{"grant_type": {"password"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "unsupported_grant_type")
}

func TestSaveLoadAndMembers(t *testing.T) {
	t.Parallel()
	a := salesforce.New(salesforce.Options{})
	require.True(t, a.AddSyntheticMembers(replicacreds.EmptyCampaignID, 3))
	require.Len(t, a.Members(replicacreds.EmptyCampaignID), 3)
	require.Len(t, a.Members(replicacreds.SpringCampaignID), 32, "member rows, converted Leads' included")
	require.Nil(t, a.Members("701000000000009AAA"))
	state, err := a.Save()
	require.NoError(t, err)
	b := salesforce.New(salesforce.Options{})
	require.NoError(t, b.Load(state))
	require.Equal(t, a.Members(replicacreds.EmptyCampaignID), b.Members(replicacreds.EmptyCampaignID))
	require.Error(t, b.Load([]byte(`{"objects":{"Opportunity":[{"Id":"006"}]}}`)))
	require.Equal(t, a.Members(replicacreds.EmptyCampaignID), b.Members(replicacreds.EmptyCampaignID), "a failed load changes nothing")
	b.Reset()
	require.Empty(t, b.Members(replicacreds.EmptyCampaignID))
}

func TestStateHoldsNoAddresses(t *testing.T) {
	t.Parallel()
	a := salesforce.New(salesforce.Options{})
	require.True(t, a.AddSyntheticMembers(replicacreds.WebinarCampaignID, 5))
	require.True(t, a.ConvertLead("00Q000000000010AAA"))
	state, err := a.Save()
	require.NoError(t, err)
	require.NotContains(t, string(state), "@", "synthetic records are saved by number, not by address")
	b := salesforce.New(salesforce.Options{})
	require.NoError(t, b.Load(state))
	h := &harness{rep: b}
	ts := httptest.NewServer(b)
	t.Cleanup(ts.Close)
	h.url = ts.URL
	_, body := h.token(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {replicacreds.ClientID}, "client_secret": {replicacreds.ClientSecret}})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	h.tok = tok.AccessToken
	_, _, body = h.do(t, http.MethodGet, q("SELECT Id, Email FROM Lead WHERE IsConverted = false"), "")
	require.Contains(t, body, "lead0011@example.com", "records come back whole")
	require.NotContains(t, body, "lead0010@example.com", "and with their changes")
	_, _, body = h.do(t, http.MethodGet, q("SELECT COUNT() FROM Contact"), "")
	require.Contains(t, body, `"totalSize":35`)
}
