package cli

// A platform added without editing any other package: everything about
// "acme" — its kinds and normalisation, its upload-file layout, its sandbox
// replica and a destination built on that replica — is declared in this
// file and registered in registries the test owns. It then goes through
// `audiencesync hash`, a sync (engine, acme destination, file destination
// writing only the acme format) and the sandbox.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/csv"
	"github.com/audiencesync/audiencesync/connectors/file"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/platform"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
)

// acmeToken is the fixed credential acme's replica accepts.
const acmeToken = "sandbox-acme-token"

// acme is the platform: e-mail hashed, the advertiser's id in clear.
var acme = &platform.Platform{
	Name:  "acme",
	Title: "Acme Audiences API",
	Profile: normalize.MustProfile(normalize.Spec{
		Name: "acme",
		Fields: []normalize.Field{
			{Kind: audience.Email, Rule: normalize.Email},
			{Kind: audience.ExternalID, Rule: normalize.ExternalID, Clear: true},
		},
	}),
	Match:  platform.NewMatch(false),
	Layout: []platform.Column{{Kind: audience.ExternalID, Name: "customer_id"}, {Kind: audience.Email, Name: "email_sha256"}},
}

// acmeReplica is acme's API: create and find audiences, add and remove
// members ("email:HASH", "id:VALUE").
type acmeReplica struct {
	mu        sync.Mutex
	audiences map[string]*acmeAudience // by id
	order     []string
}

type acmeAudience struct {
	Name    string          `json:"name"`
	Members map[string]bool `json:"members"`
}

var _ sandbox.Replica = (*acmeReplica)(nil)

func newAcmeReplica(sandbox.Options, *fault.Injector) sandbox.Replica {
	r := &acmeReplica{}
	r.Reset()
	return r
}

func (r *acmeReplica) Platform() string { return acme.Name }

func (r *acmeReplica) Owns(req *http.Request) bool { return strings.HasPrefix(req.URL.Path, "/acme/") }

func (r *acmeReplica) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audiences, r.order = map[string]*acmeAudience{}, nil
}

func (r *acmeReplica) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Header.Get("Authorization") != "Bearer "+acmeToken {
		http.Error(w, `{"error":"unauthenticated"}`, http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var body struct {
		Name   string   `json:"name"`
		Add    []string `json:"add"`
		Remove []string `json:"remove"`
	}
	if req.Method == http.MethodPost {
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			http.Error(w, `{"error":"malformed body"}`, http.StatusBadRequest)
			return
		}
	}
	switch {
	case len(parts) == 2 && parts[1] == "audiences" && req.Method == http.MethodGet:
		for _, id := range r.order {
			if r.audiences[id].Name == req.URL.Query().Get("name") {
				_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
				return
			}
		}
		http.Error(w, `{"error":"no such audience"}`, http.StatusNotFound)
	case len(parts) == 2 && parts[1] == "audiences" && req.Method == http.MethodPost:
		id := fmt.Sprintf("aud%d", len(r.order)+1)
		r.audiences[id] = &acmeAudience{Name: body.Name, Members: map[string]bool{}}
		r.order = append(r.order, id)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
	case len(parts) == 4 && parts[1] == "audiences" && parts[3] == "members" && req.Method == http.MethodPost:
		a, ok := r.audiences[parts[2]]
		if !ok {
			http.Error(w, `{"error":"no such audience"}`, http.StatusNotFound)
			return
		}
		for _, v := range body.Add {
			a.Members[v] = true
		}
		for _, v := range body.Remove {
			delete(a.Members, v)
		}
		_ = json.NewEncoder(w).Encode(map[string]int{"size": len(a.Members)})
	default:
		http.Error(w, `{"error":"unknown call"}`, http.StatusNotFound)
	}
}

func (r *acmeReplica) Inspect(withMembers bool) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	type state struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Members     int      `json:"members"`
		Identifiers []string `json:"identifiers,omitempty"`
	}
	out := []state{}
	for _, id := range r.order {
		st := state{ID: id, Name: r.audiences[id].Name, Members: len(r.audiences[id].Members)}
		if withMembers {
			st.Identifiers = r.membersLocked(id)
		}
		out = append(out, st)
	}
	return map[string]any{"audiences": out}
}

func (r *acmeReplica) Members(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.membersLocked(id)
}

func (r *acmeReplica) membersLocked(id string) []string {
	a, ok := r.audiences[id]
	if !ok {
		return nil
	}
	out := make([]string, 0, len(a.Members))
	for v := range a.Members {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

type acmeSnapshot struct {
	Order     []string                 `json:"order"`
	Audiences map[string]*acmeAudience `json:"audiences"`
}

func (r *acmeReplica) Save() (json.RawMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return json.Marshal(acmeSnapshot{Order: r.order, Audiences: r.audiences})
}

func (r *acmeReplica) Load(data json.RawMessage) error {
	var snap acmeSnapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order, r.audiences = snap.Order, snap.Audiences
	return nil
}

// acmeSettings configure an acme connection.
type acmeSettings struct {
	platformconn.Settings `yaml:",inline"`
	Token                 string `yaml:"token"`
}

var acmeLimits = platformconn.Limits{Type: "acme", Platform: acme.Name, Endpoint: "https://api.acme.test/", Concurrency: 2, MaxConcurrency: 4}

func (s *acmeSettings) Validate() error { return s.Settings.Validate(acmeLimits) }

// acmeDestination uploads to acme's API.
type acmeDestination struct {
	conn  platformconn.Conn
	token string
}

func acmeSpec() connectors.Spec {
	return connectors.Spec{
		Type: "acme", Role: connectors.RoleDestination, Summary: "Acme audiences (test only).",
		Sample:   "acme:\n  type: acme\n  endpoint: http://127.0.0.1:8089/\n  token: t\n",
		Settings: func() any { return &acmeSettings{} },
		NewDestination: connectors.DestinationFunc(func(s *acmeSettings, env connectors.Env) (*acmeDestination, error) {
			c, err := platformconn.New(s.Settings, acmeLimits, env, nil)
			if err != nil {
				return nil, err
			}
			return &acmeDestination{conn: c, token: cmpOr(s.Token, acmeToken)}, nil
		}),
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (d *acmeDestination) Info() connectors.DestinationInfo {
	return connectors.DestinationInfo{Platform: acme, Kinds: acme.Kinds(), MaxBatch: 100, Concurrency: d.conn.Concurrency}
}

func (d *acmeDestination) call(ctx context.Context, method, path string, body any, out any) (int, error) {
	base, err := d.conn.BaseURL(ctx)
	if err != nil {
		return 0, err
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}

func (d *acmeDestination) Ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	var got struct{ ID string }
	status, err := d.call(ctx, http.MethodGet, "/acme/audiences?name="+spec.Name, nil, &got)
	if err != nil {
		return connectors.Audience{}, err
	}
	if status == http.StatusOK {
		return connectors.Audience{ID: got.ID, Name: spec.Name}, nil
	}
	if status, err = d.call(ctx, http.MethodPost, "/acme/audiences", map[string]string{"name": spec.Name}, &got); err != nil || status != http.StatusOK {
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("acme: create audience: status %d, %v", status, err))
	}
	return connectors.Audience{ID: got.ID, Name: spec.Name, Created: true}, nil
}

func (d *acmeDestination) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	var values []string
	for _, m := range b.Members {
		for _, id := range m.Identifiers {
			prefix := "email:"
			if id.Kind == audience.ExternalID {
				prefix = "id:"
			}
			values = append(values, prefix+id.Value)
		}
	}
	body := map[string][]string{"add": values}
	if b.Op == connectors.OpRemove {
		body = map[string][]string{"remove": values}
	}
	var res struct{ Size int }
	if status, err := d.call(ctx, http.MethodPost, "/acme/audiences/"+aud.ID+"/members", body, &res); err != nil || status != http.StatusOK {
		return connectors.BatchResult{}, connectors.Fatal(fmt.Errorf("acme: apply batch %d: status %d, %v", b.Seq, status, err))
	}
	return connectors.BatchResult{}, nil
}

func (d *acmeDestination) Close() error { return nil }

// acmeApp is the command line with acme registered beside the built-in
// platforms, and connectors that know it.
func acmeApp(stdin string) (*app, *bytes.Buffer, *bytes.Buffer) {
	platforms := platformbuiltin.Registry().Clone()
	platforms.Register(acme)
	reg := &connectors.Registry{}
	reg.Register(csv.Spec())
	reg.Register(file.SpecFor(platforms))
	reg.Register(acmeSpec())
	var out, errb bytes.Buffer
	return &app{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, registry: reg, platforms: platforms,
		lookupEnv: func(string) (string, bool) { return "", false }}, &out, &errb
}

// runApp runs a as Main would and returns the exit code.
func runApp(t *testing.T, a *app, args ...string) int {
	t.Helper()
	root := a.root()
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	}
	return ExitUsage
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestNewPlatformThroughHash(t *testing.T) {
	t.Parallel()
	a, out, errb := acmeApp(" Ada@Example.com \nnot-an-email\n")
	require.Equal(t, ExitOK, runApp(t, a, "hash", "--profile", "acme", "--field", "email"), errb.String())
	require.Equal(t, sha256Hex("ada@example.com")+"\n!invalid: email.malformed\n", out.String())

	dir := t.TempDir()
	in, outFile := filepath.Join(dir, "in.csv"), filepath.Join(dir, "acme.csv")
	require.NoError(t, os.WriteFile(in, []byte("Mail,Customer\nada@example.com,c-1\n"), 0o600))
	a, _, errb = acmeApp("")
	require.Equal(t, ExitOK, runApp(t, a, "hash", "--profile", "acme", "--in", in, "--out", outFile, "--map", "Mail=email,Customer=external_id"), errb.String())
	body, err := os.ReadFile(outFile)
	require.NoError(t, err)
	require.Equal(t, "customer_id,email_sha256\nc-1,"+sha256Hex("ada@example.com")+"\n", string(body), "acme's layout, in its column order")

	// The built-in command line does not know acme.
	r := run(t, "x@example.com\n", "hash", "--profile", "acme", "--field", "email")
	require.Equal(t, ExitUsage, r.code)
}

func TestNewPlatformThroughSyncAndSandbox(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(sandbox.Options{Replicas: append(sandbox.Builtin(), newAcmeReplica)})
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	require.NoError(t, sb.SetFaults("acme:ok*1,google.ingest:ok*1"), "fault rules may target the new replica")
	require.NoError(t, sb.SetFaults(""))

	dir := t.TempDir()
	contacts := filepath.Join(dir, "contacts.csv")
	cfg := filepath.Join(dir, "audiencesync.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`state:
  path: ./state.db
connections:
  crm:
    type: csv
    path: ./contacts.csv
  acme:
    type: acme
    endpoint: `+ts.URL+`
  exports:
    type: file
    dir: ./out
    formats: [acme]
syncs:
  - name: testers
    source:
      connection: crm
      key: id
      fields: {email: email, external_id: customer}
    destinations:
      - connection: acme
        audience: {name: Testers}
      - connection: exports
    safety:
      max_remove_fraction: 0.5
`), 0o600))

	sync := func(rows ...string) {
		t.Helper()
		require.NoError(t, os.WriteFile(contacts, []byte("id,email,customer\n"+strings.Join(rows, "\n")+"\n"), 0o600))
		a, _, errb := acmeApp("")
		require.Equal(t, ExitOK, runApp(t, a, "sync", "--config", cfg, "--log-level", "error"), errb.String())
	}
	sync("1,ada@example.com,c-1", "2,bob@example.com,c-2", "3,cy@example.com,c-3")
	audienceID := func() string {
		var st struct {
			Acme struct {
				Audiences []struct{ ID string } `json:"audiences"`
			} `json:"acme"`
		}
		resp, err := http.Get(ts.URL + "/_sandbox/state")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
		require.Len(t, st.Acme.Audiences, 1, "the sandbox lists the new replica's audience")
		return st.Acme.Audiences[0].ID
	}
	members := func() []string { return sb.Members("acme", audienceID()) }
	want := func(ids ...string) []string {
		var out []string
		for _, id := range ids {
			out = append(out, "email:"+sha256Hex(id+"@example.com"), "id:c-"+map[string]string{"ada": "1", "bob": "2", "cy": "3"}[id])
		}
		slices.Sort(out)
		return out
	}
	require.Equal(t, want("ada", "bob", "cy"), members())

	// Bob leaves: the engine removes exactly his identifiers.
	sync("1,ada@example.com,c-1", "3,cy@example.com,c-3")
	require.Equal(t, want("ada", "cy"), members())

	// The file destination wrote the acme format only, in acme's layout.
	latest := filepath.Join(dir, "out", "testers", "latest")
	entries, err := os.ReadDir(latest)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "acme-audience.csv", entries[0].Name())
	rows := readRows(t, filepath.Join(latest, "acme-audience.csv"))
	require.Equal(t, []string{"customer_id", "email_sha256"}, rows[0])
	require.ElementsMatch(t, [][]string{{"c-1", sha256Hex("ada@example.com")}, {"c-3", sha256Hex("cy@example.com")}}, rows[1:])

	// The replica's audiences survive a restart through the state file.
	snap, err := sb.Snapshot()
	require.NoError(t, err)
	raw, err := json.Marshal(snap)
	require.NoError(t, err)
	statePath := filepath.Join(dir, "sandbox.json")
	require.NoError(t, os.WriteFile(statePath, raw, 0o600))
	restarted, err := sandbox.Open(sandbox.Options{StatePath: statePath, Replicas: append(sandbox.Builtin(), newAcmeReplica)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = restarted.Close() })
	require.Equal(t, want("ada", "cy"), restarted.Members("acme", audienceID()))
	// A sandbox without the acme replica refuses the file rather than
	// dropping acme's audiences.
	_, err = sandbox.Open(sandbox.Options{StatePath: statePath})
	require.ErrorIs(t, err, sandbox.ErrCorruptState)
}
