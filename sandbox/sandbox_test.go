package sandbox_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dghubble/oauth1"
	fb "github.com/huandu/facebook/v2"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/google"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/googledm"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

type bundle struct {
	srv *sandbox.Server
	ts  *httptest.Server
}

func setup(t *testing.T, opts sandbox.Options) *bundle {
	t.Helper()
	srv := sandbox.New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &bundle{srv: srv, ts: ts}
}

func (b *bundle) google(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	buf, err := json.Marshal(body)
	require.NoError(t, err)
	req, _ := http.NewRequest(method, b.ts.URL+path, bytes.NewReader(buf))
	req.Header.Set("Authorization", "Bearer "+google.ReplicaToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}

func (b *bundle) meta() *fb.Session {
	app := fb.New(metaplatform.ReplicaAppID, metaplatform.ReplicaAppSecret)
	app.EnableAppsecretProof = true
	s := app.Session(metaplatform.ReplicaToken)
	s.Version = metaplatform.ReplicaVersion
	s.BaseURL = b.ts.URL + "/"
	s.UseAuthorizationHeader()
	return s
}

func (b *bundle) x() *http.Client {
	cfg := oauth1.NewConfig(xplatform.ReplicaConsumerKey, xplatform.ReplicaConsumerSecret)
	return cfg.Client(context.Background(), oauth1.NewToken(xplatform.ReplicaAccessToken, xplatform.ReplicaAccessSecret))
}

func ingest(list string, emails ...string) map[string]any {
	members := make([]any, len(emails))
	for i, e := range emails {
		members[i] = map[string]any{"userData": map[string]any{"userIdentifiers": []any{map[string]any{"emailAddress": sha(e)}}}}
	}
	return map[string]any{
		"destinations": []any{map[string]any{
			"operatingAccount":     map[string]any{"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
			"productDestinationId": list,
		}},
		"audienceMembers": members,
		"consent":         map[string]any{"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"},
		"encoding":        "HEX",
		"termsOfService":  map[string]any{"customerMatchTermsOfServiceStatus": "ACCEPTED"},
	}
}

// TestAllThreePlatformsOnOneHandler drives each replica through the one
// handler and reads the result back through state and accessors.
func TestAllThreePlatformsOnOneHandler(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{})

	status, body := b.google(t, "POST", "/v1/accountTypes/GOOGLE_ADS/accounts/1234567890/userLists", map[string]any{
		"displayName": "Cart abandoners", "ingestedUserListInfo": map[string]any{"uploadKeyTypes": []string{"CONTACT_ID"}},
	})
	require.Equal(t, 200, status, body)
	list := body["id"].(string)
	status, body = b.google(t, "POST", "/v1/audienceMembers:ingest", ingest(list, "a@example.com", "b@example.com"))
	require.Equal(t, 200, status, body)
	require.ElementsMatch(t, []string{sha("a@example.com"), sha("b@example.com")}, b.srv.Members("google", list))

	s := b.meta()
	res, err := s.Post("/act_1234567890/customaudiences", fb.Params{"name": "Cart abandoners", "subtype": "CUSTOM",
		"customer_file_source": "USER_PROVIDED_ONLY"})
	require.NoError(t, err)
	audience := res.Get("id").(string)
	_, err = s.Post("/"+audience+"/users", fb.Params{"payload": map[string]any{"schema": []string{"EMAIL"}, "data": [][]string{{sha("a@example.com")}}}})
	require.NoError(t, err)
	require.Equal(t, []string{sha("a@example.com")}, b.srv.Members("meta", audience))

	xc := b.x()
	r, err := xc.Post(b.ts.URL+"/12/accounts/"+xplatform.ReplicaAccount+"/custom_audiences?name=Cart", "", nil)
	require.NoError(t, err)
	var created struct{ Data struct{ ID string } }
	require.NoError(t, json.NewDecoder(r.Body).Decode(&created))
	r.Body.Close()
	ops := `[{"operation_type":"Update","params":{"users":[{"email":["` + sha("c@example.com") + `"]}]}}]`
	r, err = xc.Post(b.ts.URL+"/12/accounts/"+xplatform.ReplicaAccount+"/custom_audiences/"+created.Data.ID+"/users", "application/json", strings.NewReader(ops))
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, 200, r.StatusCode)
	require.Equal(t, []string{sha("c@example.com")}, b.srv.Members("x", created.Data.ID))

	get := func(path string) map[string]any {
		res, err := http.Get(b.ts.URL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return out
	}
	st := get("/_sandbox/state")
	g := st["google"].(map[string]any)["user_lists"].([]any)[0].(map[string]any)
	require.EqualValues(t, 2, g["members"])
	require.Nil(t, g["identifiers"])
	m := st["meta"].(map[string]any)["audiences"].([]any)[0].(map[string]any)
	require.EqualValues(t, 1, m["members"])
	x := st["x"].(map[string]any)["custom_audiences"].([]any)[0].(map[string]any)
	require.EqualValues(t, 1, x["members"])
	st = get("/_sandbox/state?members=1")
	g = st["google"].(map[string]any)["user_lists"].([]any)[0].(map[string]any)
	require.Len(t, g["identifiers"], 2)

	res2, err := http.Post(b.ts.URL+"/_sandbox/reset", "", nil)
	require.NoError(t, err)
	res2.Body.Close()
	require.Nil(t, b.srv.Members("google", list))
	require.Empty(t, sandbox.ReplicaOf[*metagraph.Server](b.srv).State(false))
}

func TestFaultsEndpointAndLogWrapperKeepResets(t *testing.T) {
	t.Parallel()
	var logBuf syncBuffer
	b := setup(t, sandbox.Options{Log: &logBuf})
	res, err := http.Post(b.ts.URL+"/_sandbox/faults", "text/plain", strings.NewReader("google.requeststatus:reset*1,meta:613*1"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	req, _ := http.NewRequest("GET", b.ts.URL+"/v1/requestStatus:retrieve?requestId=x", nil)
	req.Header.Set("Authorization", "Bearer "+google.ReplicaToken)
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err, "the reset goes through the logging wrapper")

	_, err = b.meta().Get("/"+sandbox.ReplicaOf[*metagraph.Server](b.srv).CreateAudience("act_1", "x"), nil)
	var fe *fb.Error
	require.ErrorAs(t, err, &fe)
	require.Equal(t, 613, fe.Code)

	res, err = http.Get(b.ts.URL + "/_sandbox/faults")
	require.NoError(t, err)
	var fs sandbox.FaultState
	require.NoError(t, json.NewDecoder(res.Body).Decode(&fs))
	res.Body.Close()
	require.Equal(t, map[string]int{"google.requeststatus:reset*1": 1, "meta:613*1": 1}, fs.Fired)

	res, err = http.Post(b.ts.URL+"/_sandbox/faults", "text/plain", strings.NewReader("nonsense"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 400, res.StatusCode)
	// The reset request is logged once its handler returns, which may be
	// after the client saw the connection drop.
	require.Eventually(t, func() bool { return strings.Contains(logBuf.String(), "GET /v1/requestStatus:retrieve") },
		5*time.Second, 10*time.Millisecond)
	require.NotContains(t, logBuf.String(), google.ReplicaToken)
}

func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{Faults: fault.MustParse("google.ingest:503@0.2,seed=3")})
	list := sandbox.ReplicaOf[*googledm.Server](b.srv).CreateList("1234567890", "concurrent")
	var wg sync.WaitGroup
	accepted := make([]bool, 40)
	for i := range accepted {
		wg.Go(func() {
			// No require here: it must not stop the test from another goroutine.
			buf, _ := json.Marshal(ingest(list, fmt.Sprint("user", i)))
			req, _ := http.NewRequest("POST", b.ts.URL+"/v1/audienceMembers:ingest", bytes.NewReader(buf))
			req.Header.Set("Authorization", "Bearer "+google.ReplicaToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			res.Body.Close()
			accepted[i] = res.StatusCode == 200
		})
		wg.Go(func() { _ = b.srv.State(true) })
	}
	wg.Wait()
	n := 0
	for _, ok := range accepted {
		if ok {
			n++
		}
	}
	require.Len(t, b.srv.Members("google", list), n)
	require.Less(t, n, 40, "some requests were faulted")
}

func TestRouting(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{})
	for path, want := range map[string]string{
		"/v1/nothing":            `"status":"NOT_FOUND"`, // Google shape
		"/12/accounts/abc/wrong": `"code":"NOT_FOUND"`,   // X shape
		"/v25.0/act_1/wrong":     `"fbtrace_id"`,         // Meta shape
		"/_sandbox/nothing":      `"error"`,
	} {
		res, err := http.Get(b.ts.URL + path)
		require.NoError(t, err)
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Contains(t, string(raw), want, path)
	}
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- sandbox.ListenAndServe(ctx, addr, sandbox.Options{Faults: fault.MustParse("x.users:429*1"), Latency: time.Millisecond}, &out)
	}()
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + addr + "/_sandbox/state")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, 5*time.Second, 20*time.Millisecond)
	summary := out.String()
	for _, want := range []string{"http://" + addr, google.ReplicaToken, metaplatform.ReplicaAppSecret, metaplatform.ReplicaToken,
		xplatform.ReplicaConsumerKey, xplatform.ReplicaConsumerSecret, xplatform.ReplicaAccessToken, xplatform.ReplicaAccessSecret, "x.users:429*1", "Latency"} {
		require.Contains(t, summary, want)
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not stop")
	}
	require.Error(t, sandbox.ListenAndServe(context.Background(), "256.0.0.1:1", sandbox.Options{}, nil))
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
