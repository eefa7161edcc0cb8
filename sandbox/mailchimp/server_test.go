package mailchimp

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/mailchimp"
	"github.com/audiencesync/audiencesync/sandbox/fault"
)

type harness struct {
	s  *Server
	ts *httptest.Server
}

func setup(t *testing.T, opts Options) *harness {
	t.Helper()
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &harness{s: s, ts: ts}
}

// do sends a call with key (Basic auth) and returns the status and the
// decoded answer.
func (h *harness) do(t *testing.T, key, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, h.ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.SetBasicAuth("anyone", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	}
	if resp.StatusCode >= 400 {
		require.Equal(t, "application/problem+json; charset=utf-8", resp.Header.Get("Content-Type"))
		for _, k := range []string{"type", "title", "status", "detail", "instance"} {
			require.Contains(t, out, k, "problem+json has %s", k)
		}
	}
	return resp.StatusCode, out
}

const key = mailchimp.ReplicaAPIKey

var listPath = "/3.0/lists/" + mailchimp.ReplicaListID

func TestAuth(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{})
	for _, c := range []struct {
		name, key string
		want      int
	}{
		{"none", "", 401},
		{"revoked", mailchimp.ReplicaRevokedKey, 401},
		{"another data centre", strings.TrimSuffix(key, "us21") + "us6", 401},
		{"the key", key, 200},
	} {
		got, _ := h.do(t, c.key, "GET", "/3.0/ping", "")
		require.Equal(t, c.want, got, c.name)
	}
	// Bearer works too, and a host of another data centre is refused.
	req, _ := http.NewRequest("GET", h.ts.URL+listPath, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	req, _ = http.NewRequest("GET", h.ts.URL+listPath, nil)
	req.Host = "us6.api.mailchimp.com"
	req.SetBasicAuth("x", key)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode)
}

func batchBody(n int, status string, update bool) string {
	var ms []string
	for i := range n {
		ms = append(ms, fmt.Sprintf(`{"email_address":"p%d@example.com","status":%q}`, i, status))
	}
	return fmt.Sprintf(`{"members":[%s],"update_existing":%t}`, strings.Join(ms, ","), update)
}

func TestBatchLimitsAndErrors(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{})
	st, _ := h.do(t, key, "POST", listPath, batchBody(501, "transactional", false))
	require.Equal(t, 400, st, "more than 500 members")
	st, _ = h.do(t, key, "POST", listPath, `{"members":[],"update_existing":false,"extra":1}`)
	require.Equal(t, 400, st, "unknown fields are refused")
	st, _ = h.do(t, key, "POST", listPath, `{"members":[{"email_address":"a@example.com","status":"nope"}]}`)
	require.Equal(t, 400, st)
	req, _ := http.NewRequest("POST", h.ts.URL+listPath, strings.NewReader(batchBody(1, "pending", false)))
	req.SetBasicAuth("x", key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode, "a body needs Content-Type: application/json")

	h.s.Block("blocked@example.com")
	require.NoError(t, h.s.SetStatus(mailchimp.ReplicaListID, "gone@example.com", "unsubscribed"))
	st, out := h.do(t, key, "POST", listPath, `{"members":[
		{"email_address":"ok@example.com","status":"transactional"},
		{"email_address":"fake@localhost","status":"transactional"},
		{"email_address":"blocked@example.com","status":"transactional"},
		{"email_address":"gone@example.com","status":"transactional"}],"update_existing":false}`)
	require.Equal(t, 200, st)
	require.EqualValues(t, 1, out["total_created"])
	require.EqualValues(t, 3, out["error_count"])
	var codes []string
	for _, e := range out["errors"].([]any) {
		m := e.(map[string]any)
		codes = append(codes, m["error_code"].(string)+": "+m["error"].(string))
	}
	require.Contains(t, codes[0], "looks fake or invalid")
	require.Contains(t, codes[1], "compliance state")
	require.Contains(t, codes[2], "ERROR_CONTACT_EXISTS")

	// update_existing cannot bring an unsubscribed contact back.
	st, out = h.do(t, key, "POST", listPath, `{"members":[{"email_address":"gone@example.com","status":"subscribed"}],"update_existing":true}`)
	require.Equal(t, 200, st)
	require.EqualValues(t, 1, out["error_count"])
	m, _ := h.s.Member(mailchimp.ReplicaListID, SubscriberHash("gone@example.com"))
	require.Equal(t, "unsubscribed", m.Status)
}

func TestUpsertKeepsComplianceStates(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{})
	for _, status := range []string{"unsubscribed", "cleaned"} {
		email := status + "@example.com"
		require.NoError(t, h.s.SetStatus(mailchimp.ReplicaListID, email, status))
		path := listPath + "/members/" + SubscriberHash(email)
		st, out := h.do(t, key, "PUT", path, `{"email_address":"`+email+`","status":"subscribed"}`)
		require.Equal(t, 400, st)
		require.Equal(t, "Member In Compliance State", out["title"])
		st, _ = h.do(t, key, "PUT", path, `{"email_address":"`+email+`","status_if_new":"transactional","merge_fields":{"FNAME":"Ann"}}`)
		require.Equal(t, 200, st, "status_if_new changes no existing status")
		m, _ := h.s.Member(mailchimp.ReplicaListID, SubscriberHash(email))
		require.Equal(t, status, m.Status)
		require.Equal(t, ValueDigest("Ann"), m.Merge["FNAME"])
	}
	st, _ := h.do(t, key, "PUT", listPath+"/members/"+SubscriberHash("x@example.com"), `{"email_address":"y@example.com","status_if_new":"pending"}`)
	require.Equal(t, 400, st, "the address must match the subscriber hash")
	// The hash is of the lower-cased address.
	st, out := h.do(t, key, "PUT", listPath+"/members/"+SubscriberHash("mixed@example.com"), `{"email_address":"Mixed@Example.com","status_if_new":"pending"}`)
	require.Equal(t, 200, st)
	require.Equal(t, "pending", out["status"])
}

func TestTags(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{})
	st, seg := h.do(t, key, "POST", listPath+"/segments", `{"name":"cart-abandoner","static_segment":[]}`)
	require.Equal(t, 200, st)
	st, _ = h.do(t, key, "POST", listPath+"/segments", `{"name":"cart-abandoner","static_segment":[]}`)
	require.Equal(t, 400, st, "a tag name is unique")
	id := fmt.Sprint(seg["id"])
	st, _ = h.do(t, key, "POST", listPath, batchBody(3, "transactional", false))
	require.Equal(t, 200, st)
	st, out := h.do(t, key, "POST", listPath+"/segments/"+id, `{"members_to_add":["p0@example.com","p1@example.com","stranger@example.com"]}`)
	require.Equal(t, 200, st)
	require.EqualValues(t, 2, out["total_added"])
	require.EqualValues(t, 1, out["error_count"])
	require.Len(t, h.s.Members(mailchimp.ReplicaListID+"/"+id), 2)

	tags := listPath + "/members/" + SubscriberHash("p0@example.com") + "/tags"
	st, _ = h.do(t, key, "POST", tags, `{"tags":[{"name":"cart-abandoner","status":"inactive"}]}`)
	require.Equal(t, 204, st)
	require.Equal(t, []string{SubscriberHash("p1@example.com")}, h.s.Members(mailchimp.ReplicaListID+"/"+id))
	st, _ = h.do(t, key, "POST", tags, `{"tags":[{"name":"cart-abandoner","status":"maybe"}]}`)
	require.Equal(t, 400, st)
	st, _ = h.do(t, key, "POST", listPath+"/members/"+SubscriberHash("nobody@example.com")+"/tags", `{"tags":[{"name":"cart-abandoner","status":"inactive"}]}`)
	require.Equal(t, 404, st)
	st, out = h.do(t, key, "GET", listPath+"/segments?type=static&count=1000", "")
	require.Equal(t, 200, st)
	require.EqualValues(t, 1, out["total_items"])
	st, _ = h.do(t, key, "GET", "/3.0/lists/nosuchlist", "")
	require.Equal(t, 404, st)
}

// An eleventh simultaneous request is answered 429.
func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Faults: fault.MustParse("latency=600ms")})
	var wg sync.WaitGroup
	codes := make(chan int, 12)
	for range 12 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", h.ts.URL+"/3.0/ping", nil)
			req.SetBasicAuth("x", key)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				codes <- resp.StatusCode
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	close(codes)
	n := map[int]int{}
	for c := range codes {
		n[c]++
	}
	require.Equal(t, 10, n[200])
	require.Equal(t, 2, n[429])
}

func TestFaultsAndState(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Faults: fault.MustParse("mailchimp.batch:503*1")})
	st, _ := h.do(t, key, "POST", listPath, batchBody(2, "pending", false))
	require.Equal(t, 503, st)
	st, _ = h.do(t, key, "POST", listPath, batchBody(2, "pending", false))
	require.Equal(t, 200, st)
	saved, err := h.s.Save()
	require.NoError(t, err)
	require.NotContains(t, string(saved), "@", "no address is kept")
	other := New(Options{})
	require.NoError(t, other.Load(saved))
	again, err := other.Save()
	require.NoError(t, err)
	require.JSONEq(t, string(saved), string(again))
	require.Error(t, other.Load([]byte(`{"lists":[{"id":"x","name":"x","tags":[],"members":[{"subscriber_hash":"short","status":"subscribed","tags":[]}]}],"next_id":1}`)))
}
