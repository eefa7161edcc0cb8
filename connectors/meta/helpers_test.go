package meta_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/meta"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
)

const adAccount = "act_1234567890"

// bundle is one test's sandbox, its HTTP server, the requests it saw and
// the logs the destination wrote.
type bundle struct {
	t    *testing.T
	sb   *sandbox.Server
	ts   *httptest.Server
	logs *observer.ObservedLogs
	log  *zap.Logger
	// faults is the sandbox's fault injector.
	faults *fault.Injector

	mu       sync.Mutex
	requests []seen
}

// seen is one request as the wire carried it.
type seen struct {
	method, path string
	params       url.Values
}

// setup starts a sandbox with the fault spec. Every request is checked:
// the access token must travel in the Authorization header only.
func setup(t *testing.T, faults string) *bundle {
	t.Helper()
	in := fault.MustParse(faults)
	sb := sandbox.New(sandbox.Options{Faults: in})
	core, logs := observer.New(zap.DebugLevel)
	b := &bundle{t: t, sb: sb, logs: logs, log: zap.New(core), faults: in}
	b.ts = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.ts.Close)
	t.Cleanup(b.checkLogs)
	return b
}

func (b *bundle) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	params, _ := url.ParseQuery(string(body))
	for k, v := range r.URL.Query() {
		params[k] = v
	}
	for _, tok := range []string{metaplatform.ReplicaToken, metagraph.ExpiringToken, metaplatform.ReplicaExpiredToken, metaplatform.ReplicaAppSecret} {
		if strings.Contains(r.URL.String(), tok) {
			b.t.Errorf("%s %s: a credential travelled in the URL", r.Method, r.URL.Path)
		}
	}
	if params.Has("access_token") {
		b.t.Errorf("%s %s: access_token sent as a parameter, not in the Authorization header", r.Method, r.URL.Path)
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		b.t.Errorf("%s %s: no Authorization header", r.Method, r.URL.Path)
	}
	b.mu.Lock()
	b.requests = append(b.requests, seen{method: r.Method, path: r.URL.Path, params: params})
	b.mu.Unlock()
	b.sb.ServeHTTP(w, r)
}

// checkLogs fails the test if a log line holds a credential.
func (b *bundle) checkLogs() {
	for _, e := range b.logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		text := e.Message + " " + string(line)
		for _, tok := range []string{metaplatform.ReplicaToken, metagraph.ExpiringToken, metaplatform.ReplicaExpiredToken, metaplatform.ReplicaAppSecret} {
			if strings.Contains(text, tok) {
				b.t.Errorf("a log line holds a credential: %q", e.Message)
			}
		}
	}
}

// settings points a connection at the bundle's sandbox with the sandbox
// credentials.
func (b *bundle) settings() *meta.Settings {
	return &meta.Settings{
		AdAccount:   adAccount,
		AppID:       metaplatform.ReplicaAppID,
		AppSecret:   auth.NewSecret(metaplatform.ReplicaAppSecret),
		AccessToken: auth.NewSecret(metaplatform.ReplicaToken),
		Settings:    platformconn.Settings{Endpoint: b.ts.URL},
	}
}

func (b *bundle) env() connectors.Env {
	return connectors.Env{Logger: b.log}
}

// dest builds a fast-retrying destination, changed by mods.
func (b *bundle) dest(mods ...func(*meta.Settings)) *meta.Destination {
	b.t.Helper()
	return b.destRows(meta.MaxRows, mods...)
}

// destRows is dest with at most rows rows a request.
func (b *bundle) destRows(rows int, mods ...func(*meta.Settings)) *meta.Destination {
	b.t.Helper()
	s := b.settings()
	for _, m := range mods {
		m(s)
	}
	d, err := meta.NewFast(s, b.env(), rows)
	require.NoError(b.t, err)
	b.t.Cleanup(func() { _ = d.Close() })
	return d
}

// ensure ensures the audience called name, creating it.
func (b *bundle) ensure(d connectors.Destination, name string) connectors.Audience {
	b.t.Helper()
	a, err := d.Ensure(context.Background(), connectors.AudienceSpec{Name: name, Create: true})
	require.NoError(b.t, err)
	return a
}

// calls returns the requests made to an edge (users, usersreplace,
// customaudiences…).
func (b *bundle) calls(edge string) []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []seen
	for _, r := range b.requests {
		if strings.HasSuffix(r.path, "/"+edge) {
			out = append(out, r)
		}
	}
	return out
}

// audienceID returns the id of the only audience called name in the ad
// account.
func (b *bundle) audienceID(name string) string {
	b.t.Helper()
	var ids []string
	for _, a := range sandbox.ReplicaOf[*metagraph.Server](b.sb).State(false) {
		if a.Name == name && "act_"+a.Account == adAccount {
			ids = append(ids, a.ID)
		}
	}
	require.Len(b.t, ids, 1, "audiences named %q", name)
	return ids[0]
}

// payload is a users request's payload.
type payload struct {
	Schema []string   `json:"schema"`
	Data   [][]string `json:"data"`
}

func payloadOf(t *testing.T, r seen) payload {
	t.Helper()
	var p payload
	require.NoError(t, json.Unmarshal([]byte(r.params.Get("payload")), &p), "payload of %s", r.path)
	return p
}

func rowCount(t *testing.T, r seen) int { return len(payloadOf(t, r).Data) }

// session is a usersreplace request's session.
type session struct {
	SessionID         uint64 `json:"session_id"`
	BatchSeq          int    `json:"batch_seq"`
	LastBatchFlag     bool   `json:"last_batch_flag"`
	EstimatedNumTotal int    `json:"estimated_num_total"`
}

func sessionOf(t *testing.T, r seen) session {
	t.Helper()
	var s session
	require.NoError(t, json.Unmarshal([]byte(r.params.Get("session")), &s), "session of %s", r.path)
	return s
}
