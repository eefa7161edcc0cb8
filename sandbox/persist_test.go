package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	fb "github.com/huandu/facebook/v2"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/google"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/googledm"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
	"github.com/audiencesync/audiencesync/sandbox/xads"
)

// open serves a sandbox persisted at path; closing it (t.Cleanup or the
// returned func) stops the HTTP server, then closes the sandbox.
func open(t *testing.T, opts sandbox.Options) (*bundle, func()) {
	t.Helper()
	srv, err := sandbox.Open(opts)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	closed := false
	closeFn := func() {
		if closed {
			return
		}
		closed = true
		ts.Close()
		require.NoError(t, srv.Close())
	}
	t.Cleanup(closeFn)
	return &bundle{srv: srv, ts: ts}, closeFn
}

func snapshotJSON(t *testing.T, s *sandbox.Server) string {
	t.Helper()
	snap, err := s.Snapshot()
	require.NoError(t, err)
	raw, err := json.Marshal(snap)
	require.NoError(t, err)
	return string(raw)
}

func googleStatus(t *testing.T, b *bundle, requestID string) string {
	t.Helper()
	status, body := b.google(t, "GET", "/v1/requestStatus:retrieve?requestId="+requestID, nil)
	require.Equal(t, 200, status, body)
	return body["requestStatusPerDestination"].([]any)[0].(map[string]any)["requestStatus"].(string)
}

// TestStateSurvivesRestart drives each replica over HTTP as a client would,
// closes the sandbox, reopens it from the state file, and checks that it
// holds exactly what it held, and carries on from there.
func TestStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// before changes state and returns a check to run after reopening.
		before func(t *testing.T, b *bundle) (after func(t *testing.T, b *bundle))
	}{
		{"google lists, members and request statuses", func(t *testing.T, b *bundle) func(*testing.T, *bundle) {
			status, body := b.google(t, "POST", "/v1/accountTypes/GOOGLE_ADS/accounts/1234567890/userLists", map[string]any{
				"displayName": "Buyers", "description": "kept", "ingestedUserListInfo": map[string]any{"uploadKeyTypes": []string{"CONTACT_ID"}},
			})
			require.Equal(t, 200, status, body)
			list := body["id"].(string)
			status, body = b.google(t, "POST", "/v1/audienceMembers:ingest", ingest(list, "a@example.com", "b@example.com", "c@example.com"))
			require.Equal(t, 200, status, body)
			ingested := body["requestId"].(string)
			require.Equal(t, "PROCESSING", googleStatus(t, b, ingested), "first of two polls")
			remove := ingest(list, "b@example.com")
			delete(remove, "consent")
			delete(remove, "termsOfService")
			status, body = b.google(t, "POST", "/v1/audienceMembers:remove", remove)
			require.Equal(t, 200, status, body)
			removed := body["requestId"].(string)
			return func(t *testing.T, b *bundle) {
				require.Equal(t, []string{sha("a@example.com"), sha("c@example.com")}, sortedCopy(b.srv.Members("google", list)))
				require.Equal(t, "SUCCESS", googleStatus(t, b, ingested), "the poll count survived")
				require.Equal(t, "PROCESSING", googleStatus(t, b, removed))
				status, body := b.google(t, "GET", "/v1/accountTypes/GOOGLE_ADS/accounts/1234567890/userLists/"+list, nil)
				require.Equal(t, 200, status, body)
				require.Equal(t, "kept", body["description"])
				status, body = b.google(t, "POST", "/v1/accountTypes/GOOGLE_ADS/accounts/1234567890/userLists", map[string]any{
					"displayName": "Later", "ingestedUserListInfo": map[string]any{"uploadKeyTypes": []string{"CONTACT_ID"}},
				})
				require.Equal(t, 200, status, body)
				require.NotEqual(t, list, body["id"], "ids are not reused")
			}
		}},
		{"meta audiences, members and an open replace session", func(t *testing.T, b *bundle) func(*testing.T, *bundle) {
			s := b.meta()
			res, err := s.Post("/act_1234567890/customaudiences", fb.Params{"name": "Buyers", "subtype": "CUSTOM",
				"customer_file_source": "USER_PROVIDED_ONLY"})
			require.NoError(t, err)
			id := res.Get("id").(string)
			_, err = s.Post("/"+id+"/users", fb.Params{"payload": emailPayload("old@example.com", "keep@example.com")})
			require.NoError(t, err)
			batch := func(s *fb.Session, seq int, last bool, addrs ...string) error {
				_, err := s.Post("/"+id+"/usersreplace", fb.Params{"payload": emailPayload(addrs...),
					"session": map[string]any{"session_id": 9001, "batch_seq": seq, "last_batch_flag": last}})
				return err
			}
			require.NoError(t, batch(s, 1, false, "new@example.com"))
			return func(t *testing.T, b *bundle) {
				s := b.meta()
				require.Equal(t, sortedCopy([]string{sha("old@example.com"), sha("keep@example.com")}), b.srv.Members("meta", id))
				require.True(t, sandbox.ReplicaOf[*metagraph.Server](b.srv).State(false)[0].Replacing, "the replace session is still open")
				_, err := s.Post("/"+id+"/users", fb.Params{"payload": emailPayload("during@example.com")})
				require.Error(t, err, "no adds while the replace is open")
				require.Error(t, batch(s, 3, true, "x@example.com"), "the session still expects batch 2")
				require.NoError(t, batch(s, 2, true, "keep@example.com"))
				require.Equal(t, sortedCopy([]string{sha("new@example.com"), sha("keep@example.com")}), b.srv.Members("meta", id))
			}
		}},
		{"x custom audiences and members", func(t *testing.T, b *bundle) func(*testing.T, *bundle) {
			xc := b.x()
			kept, gone := xCreate(t, b, "Buyers"), xCreate(t, b, "Gone")
			ops := `[{"operation_type":"Update","params":{"users":[{"email":["` + sha("a@example.com") + `","` + sha("b@example.com") + `"]}]}},` +
				`{"operation_type":"Delete","params":{"users":[{"email":["` + sha("b@example.com") + `"]}]}}]`
			r, err := xc.Post(b.ts.URL+"/12/accounts/"+xplatform.ReplicaAccount+"/custom_audiences/"+kept+"/users", "application/json", strings.NewReader(ops))
			require.NoError(t, err)
			r.Body.Close()
			require.Equal(t, 200, r.StatusCode)
			req, _ := http.NewRequest("DELETE", b.ts.URL+"/12/accounts/"+xplatform.ReplicaAccount+"/custom_audiences/"+gone, nil)
			r, err = xc.Do(req)
			require.NoError(t, err)
			r.Body.Close()
			require.Equal(t, 200, r.StatusCode)
			return func(t *testing.T, b *bundle) {
				require.Equal(t, []string{sha("a@example.com")}, b.srv.Members("x", kept))
				st := sandbox.ReplicaOf[*xads.Server](b.srv).State(false)
				require.Len(t, st, 2)
				require.True(t, st[1].Deleted)
				require.NotContains(t, []string{kept, gone}, xCreate(t, b, "Later"), "ids are not reused")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := sandbox.Options{StatePath: filepath.Join(t.TempDir(), "state.json"), GooglePollsBeforeDone: 1}
			b, closeFirst := open(t, opts)
			after := tt.before(t, b)
			wantState, wantSnap := b.srv.State(true), snapshotJSON(t, b.srv)
			closeFirst()

			b, _ = open(t, opts)
			require.Equal(t, wantState, b.srv.State(true))
			require.JSONEq(t, wantSnap, snapshotJSON(t, b.srv))
			after(t, b)
		})
	}
}

func xCreate(t *testing.T, b *bundle, name string) string {
	t.Helper()
	r, err := b.x().Post(b.ts.URL+"/12/accounts/"+xplatform.ReplicaAccount+"/custom_audiences?name="+name, "", nil)
	require.NoError(t, err)
	defer r.Body.Close()
	var created struct{ Data struct{ ID string } }
	require.NoError(t, json.NewDecoder(r.Body).Decode(&created))
	return created.Data.ID
}

func emailPayload(addrs ...string) map[string]any {
	rows := make([][]string, len(addrs))
	for i, a := range addrs {
		rows[i] = []string{sha(a)}
	}
	return map[string]any{"schema": []string{"EMAIL"}, "data": rows}
}

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }

func TestStateFileIsPrivateAndHoldsNoCredentials(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nested", "state.json")
	b, closeFn := open(t, sandbox.Options{StatePath: path})
	info, err := os.Stat(path)
	require.NoError(t, err, "Open writes the empty state at once")
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	list := sandbox.ReplicaOf[*googledm.Server](b.srv).CreateList("1234567890", "Buyers")
	status, body := b.google(t, "POST", "/v1/audienceMembers:ingest", ingest(list, "a@example.com"))
	require.Equal(t, 200, status, body)
	closeFn()

	info, err = os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(raw), sha("a@example.com"))
	require.NotContains(t, string(raw), "a@example.com\"", "hashes only")
	for _, secret := range []string{google.ReplicaToken, metaplatform.ReplicaToken, metaplatform.ReplicaAppSecret, xplatform.ReplicaAccessToken, xplatform.ReplicaAccessSecret, xplatform.ReplicaConsumerSecret} {
		require.NotContains(t, string(raw), secret)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
}

// TestChangesAreSavedWithoutClose checks the background save: a sandbox
// killed without Close has lost at most the last moments.
func TestChangesAreSavedWithoutClose(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	b, _ := open(t, sandbox.Options{StatePath: path})
	status, body := b.google(t, "POST", "/v1/accountTypes/GOOGLE_ADS/accounts/1234567890/userLists", map[string]any{
		"displayName": "Saved in the background", "ingestedUserListInfo": map[string]any{"uploadKeyTypes": []string{"CONTACT_ID"}},
	})
	require.Equal(t, 200, status, body)
	require.Eventually(t, func() bool {
		raw, err := os.ReadFile(path)
		return err == nil && strings.Contains(string(raw), "Saved in the background")
	}, 5*time.Second, 20*time.Millisecond)
}

// TestLeftoverTempFileIsIgnored simulates a crash in the middle of a save:
// the partial temporary file never replaces the good state file.
func TestLeftoverTempFileIsIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	b, closeFn := open(t, sandbox.Options{StatePath: path})
	list := sandbox.ReplicaOf[*googledm.Server](b.srv).CreateList("1234567890", "Buyers")
	closeFn()
	partial := filepath.Join(dir, ".state.json.tmp-123")
	require.NoError(t, os.WriteFile(partial, []byte(`{"version":1,"google":{"user_lists":[{"acc`), 0o600))

	b, closeFn = open(t, sandbox.Options{StatePath: path})
	require.NotNil(t, b.srv.Members("google", list), "the good file was loaded")
	status, body := b.google(t, "POST", "/v1/audienceMembers:ingest", ingest(list, "a@example.com"))
	require.Equal(t, 200, status, body)
	closeFn()

	b, _ = open(t, sandbox.Options{StatePath: path})
	require.Equal(t, []string{sha("a@example.com")}, b.srv.Members("google", list))
	raw, err := os.ReadFile(partial)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"acc`, "the leftover was neither used nor overwritten")
}

func TestCorruptStateFile(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, content string }{
		{"empty", ""},
		{"not JSON", "audiences: yes"},
		{"truncated", `{"version":1,"google":{"user_lists":[`},
		{"unknown field", `{"version":1,"tokens":{}}`},
		{"other version", `{"version":2}`},
		{"trailing data", `{"version":1} {}`},
		{"duplicate id", `{"version":1,"x":{"custom_audiences":[{"id":"a","account_id":"b","members":[]},{"id":"a","account_id":"b","members":[]}]}}`},
		{"bad google resource", `{"version":1,"google":{"user_lists":[{"account":"1","resource":{"id":"5","colour":"red"}}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.json")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			_, err := sandbox.Open(sandbox.Options{StatePath: path})
			require.ErrorIs(t, err, sandbox.ErrCorruptState)
			require.Contains(t, err.Error(), path)
			require.Contains(t, err.Error(), "delete it to start with an empty sandbox")
			raw, rerr := os.ReadFile(path)
			require.NoError(t, rerr)
			require.Equal(t, tt.content, string(raw), "a corrupt file is left for the user to inspect")
		})
	}
}

func TestNewRefusesStatePath(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() { sandbox.New(sandbox.Options{StatePath: "state.json"}) })
	srv, err := sandbox.Open(sandbox.Options{})
	require.NoError(t, err)
	require.NoError(t, srv.Flush(), "without a state file Flush and Close do nothing")
	require.NoError(t, srv.Close())
}

func TestStartInProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	base, stop, err := sandbox.StartInProcess(t.Context(), sandbox.Options{StatePath: path})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), base)

	// A bundle around the base URL, to reuse the client helpers.
	b := &bundle{ts: &httptest.Server{URL: base}}
	status, body := b.google(t, "POST", "/v1/accountTypes/GOOGLE_ADS/accounts/1234567890/userLists", map[string]any{
		"displayName": "In process", "ingestedUserListInfo": map[string]any{"uploadKeyTypes": []string{"CONTACT_ID"}},
	})
	require.Equal(t, 200, status, body)
	res, err := http.Get(base + "/_sandbox/state")
	require.NoError(t, err)
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Contains(t, string(raw), "In process")

	require.NoError(t, stop())
	require.NoError(t, stop(), "a second stop is harmless")
	_, err = http.Get(base + "/_sandbox/state")
	require.Error(t, err, "stopped")
	saved, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(saved), "In process", "stop flushed the state")

	base2, stop2, err := sandbox.StartInProcess(t.Context(), sandbox.Options{StatePath: path})
	require.NoError(t, err)
	defer func() { require.NoError(t, stop2()) }()
	res, err = http.Get(base2 + "/_sandbox/state")
	require.NoError(t, err)
	raw, _ = io.ReadAll(res.Body)
	res.Body.Close()
	require.Contains(t, string(raw), "In process", "a restart serves the saved state")
}

func TestStartInProcessOutlivesItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	base, stop, err := sandbox.StartInProcess(ctx, sandbox.Options{})
	require.NoError(t, err)
	cancel()
	res, err := http.Get(base + "/_sandbox/state")
	require.NoError(t, err, "ctx bounds the start only")
	res.Body.Close()
	require.NoError(t, stop())
}

func TestStartInProcessCorruptState(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(path, []byte("{"), 0o600))
	_, _, err := sandbox.StartInProcess(t.Context(), sandbox.Options{StatePath: path})
	require.ErrorIs(t, err, sandbox.ErrCorruptState)
}
