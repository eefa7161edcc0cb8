package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/internal/servetest"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// quickstart copies the quickstart config and its CSV into a temp dir and
// returns the config's path.
func quickstart(t testing.TB) string {
	t.Helper()
	return servetest.Quickstart(t, "..", nil)
}

// bundle is a real server on loopback over a service on the quickstart
// config with its SQLite state.
type bundle struct {
	svc      *syncs.Service
	store    state.Store
	srv      *httptest.Server
	doc      doc
	config   string
	viewer   string // a viewer token
	operator string // an operator token
}

// setup starts the server; mutate changes the options first. With
// noTokens the store holds no token.
func setup(t testing.TB, noTokens bool, mutate func(*api.Options)) *bundle {
	t.Helper()
	return setupWith(t, syncs.Options{ConfigPath: quickstart(t)}, noTokens, mutate)
}

// setupOn starts the server on the config at path, with runs on the
// clock now (nil: the real one).
func setupOn(t testing.TB, noTokens bool, path string, now func() time.Time, mutate func(*api.Options)) *bundle {
	t.Helper()
	return setupWith(t, syncs.Options{ConfigPath: path, Now: now}, noTokens, mutate)
}

// setupWith is setup on a service opened with sopts (its ConfigPath set).
func setupWith(t testing.TB, sopts syncs.Options, noTokens bool, mutate func(*api.Options)) *bundle {
	t.Helper()
	b := &bundle{config: sopts.ConfigPath}
	var err error
	b.svc, err = syncs.Open(t.Context(), sopts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.svc.Close()) })
	tokens, err := b.svc.Tokens(t.Context())
	require.NoError(t, err)
	b.store = tokens.(state.Store)
	if !noTokens {
		b.viewer = createToken(t, tokens, "grafana", api.RoleViewer)
		b.operator = createToken(t, tokens, "ci", api.RoleOperator)
	}
	opts := api.Options{Service: b.svc, Tokens: tokens, Logger: zaptest.NewLogger(t)}
	if mutate != nil {
		mutate(&opts)
	}
	b.srv = httptest.NewServer(api.New(opts))
	t.Cleanup(b.srv.Close)
	v, err := decodeJSON(api.OpenAPI())
	require.NoError(t, err)
	b.doc = v.(map[string]any)
	return b
}

func createToken(t testing.TB, tokens state.Tokens, name, role string) string {
	t.Helper()
	return servetest.Token(t, tokens, name, role)
}

// response is one answer, its body decoded.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   any
}

// field returns the value at a dotted path of the decoded body.
func (r response) field(t *testing.T, path string) any {
	t.Helper()
	var cur any = r.body
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		require.True(t, ok, "%s: %s is not an object in %s", path, part, r.raw)
		cur = m[part]
	}
	return cur
}

// call sends a request with token (none when "") and checks the answer
// against the OpenAPI document: its status is documented for the
// operation (or falls under default), its content type is the
// documented one, and its body validates against the schema.
func (b *bundle) call(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		out.body, err = decodeJSON(raw)
		require.NoError(t, err, "body of %s %s: %s", method, path, raw)
	}
	b.conforms(t, method, path, out)
	return out
}

// conforms checks resp to method path against the document. Answers of
// paths the document does not have (404, 405) must be problems.
func (b *bundle) conforms(t *testing.T, method, path string, resp response) {
	t.Helper()
	ct := resp.header.Get("Content-Type")
	op := b.doc.operation(method, strings.SplitN(path, "?", 2)[0])
	if op == nil {
		require.Equal(t, "application/problem+json", ct, "%s %s is undocumented: only a problem may answer", method, path)
		require.Empty(t, b.doc.validate(schema{"$ref": "#/components/schemas/Problem"}, resp.body, "problem"))
		return
	}
	responses := op["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(resp.status)]
	if !ok {
		r = responses["default"]
	}
	rs := r.(map[string]any)
	if ref, ok := rs["$ref"].(string); ok {
		target, err := b.doc.lookup(ref)
		require.NoError(t, err)
		rs = target
	}
	content, ok := rs["content"].(map[string]any)
	if !ok {
		require.Empty(t, resp.raw, "%s %s answered %d with a body the document does not have", method, path, resp.status)
		return
	}
	media, ok := content[strings.TrimSpace(strings.Split(ct, ";")[0])].(map[string]any)
	require.True(t, ok, "%s %s answered %d as %q, the document says %v", method, path, resp.status, ct, content)
	errs := b.doc.validate(media["schema"].(map[string]any), resp.body, "body")
	require.Empty(t, errs, "%s %s (%d) does not match the document: %s", method, path, resp.status, resp.raw)
}

// operation finds the document's operation for method on a concrete
// path, matching {param} segments (an escaped slash stays in its
// segment).
func (d doc) operation(method, path string) map[string]any {
	paths := d["paths"].(map[string]any)
	for tmpl, item := range paths {
		re := "^" + regexp.MustCompile(`\\\{[^/]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`) + "$"
		if regexp.MustCompile(re).MatchString(path) {
			op, _ := item.(map[string]any)[strings.ToLower(method)].(map[string]any)
			return op
		}
	}
	return nil
}

// runOnce runs sync through the API, waiting for the report, and returns
// the run id.
func (b *bundle) runOnce(t *testing.T, sync string) string {
	t.Helper()
	resp := b.call(t, "POST", "/api/v1/syncs/"+sync+"/runs", b.operator, map[string]any{"wait": true})
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.raw)
	require.Equal(t, "succeeded", resp.field(t, "status"))
	return resp.field(t, "run_id").(string)
}

// waitRun polls a run until it is no longer running, and then until its
// sync's lock is released, so that the run's goroutine is done with the
// service before the test closes it.
func (b *bundle) waitRun(t *testing.T, id string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		resp := b.call(t, "GET", "/api/v1/runs/"+id, b.viewer, nil)
		require.Equal(t, http.StatusOK, resp.status)
		if resp.field(t, "status") != "running" {
			_, err := b.store.LockHolder(ctx, "sync:"+resp.field(t, "sync").(string))
			if errors.Is(err, state.ErrNotFound) {
				return resp
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s still running", id)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
