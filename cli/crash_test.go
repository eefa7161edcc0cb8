package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
)

// crashConfig is a quickstart-shaped config whose platform connections
// talk to the sandbox at %[1]s, so a test process can serve the platforms
// while a child process runs the sync and is killed. %[2]s lists the
// platform destinations, %[3]s the file destination's formats: the file
// destination writes, from the same plan, the audience each platform
// should hold.
const crashConfig = `state:
  path: ./quickstart/audiencesync.db
connections:
  crm_export: {type: csv, path: ./quickstart/contacts.csv}
  google: {type: google_ads, sandbox: true, endpoint: "%[1]s", operating_account: "1234567890"}
  meta: {type: meta, sandbox: true, endpoint: "%[1]s", ad_account: act_1234567890}
  x: {type: x, sandbox: true, endpoint: "%[1]s", account_id: 18ce54d4x5t}
  exports: {type: file, dir: ./quickstart/out, formats: [%[3]s]}
syncs:
  - name: cart-abandoners
    source:
      connection: crm_export
      key: contact_id
      default_region: US
      fields: {email: email, first_name: first_name, last_name: last_name, zip: zip, country: country}
    destinations:
%[2]s      - connection: exports
        consent: {ad_user_data: granted, ad_personalization: granted}
`

// crashDestinations are the destination entries of crashConfig.
var crashDestinations = map[string]string{
	"google": "      - connection: google\n        audience: {name: Cart abandoners, membership_days: 540}\n" +
		"        consent: {ad_user_data: granted, ad_personalization: granted}\n",
	"meta": "      - connection: meta\n        audience: {name: Cart abandoners}\n",
	"x":    "      - connection: x\n        audience: {name: Cart abandoners}\n",
}

// crashContacts writes n synthetic contacts, leaving out every dropEvery-th
// (none when 0).
func crashContacts(t *testing.T, path string, n, dropEvery int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("contact_id,email,first_name,last_name,zip,country\n")
	for i := range n {
		if dropEvery > 0 && i%dropEvery == 0 {
			continue
		}
		fmt.Fprintf(&b, "C%06d,person.%06d@example.com,Ann%d,Lee%d,%05d,US\n", i, i, i%97, i%89, 10000+i%80000)
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
}

// killer serves the sandbox and, once armed, kills the child process right
// after the platform has applied the nth request that matches, before the
// child can read the answer: the platform did the work, state never heard.
type killer struct {
	sb    *sandbox.Server
	match func(*http.Request) bool
	nth   int32
	seen  atomic.Int32
	armed atomic.Bool
	mu    sync.Mutex
	child *os.Process
	fired atomic.Bool
	// sig, when set, is sent to the child instead of killing it, once
	// the nth request has been answered.
	sig os.Signal
}

func (k *killer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !k.armed.Load() || !k.match(r) || k.seen.Add(1) != k.nth {
		k.sb.ServeHTTP(w, r)
		return
	}
	if k.sig != nil {
		k.sb.ServeHTTP(w, r)
		k.mu.Lock()
		if k.child != nil {
			_ = k.child.Signal(k.sig)
			k.fired.Store(true)
		}
		k.mu.Unlock()
		return
	}
	k.sb.ServeHTTP(httptest.NewRecorder(), r) // applied; the answer goes nowhere
	k.mu.Lock()
	if k.child != nil {
		_ = k.child.Kill()
		k.fired.Store(true)
	}
	k.mu.Unlock()
	panic(http.ErrAbortHandler) // drop the connection
}

// bed is a sandbox served by this process, a config pointing at it and
// the contacts file the config reads.
type bed struct {
	t         *testing.T
	k         *killer
	cfg       string
	csvPath   string
	platforms []string
}

// newBed syncs to the given platforms (google, meta, x).
func newBed(t *testing.T, platforms ...string) *bed {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "quickstart"), 0o700))
	b := &bed{t: t, k: &killer{sb: sandbox.New(sandbox.Options{})}, platforms: platforms}
	ts := httptest.NewServer(b.k)
	t.Cleanup(ts.Close)
	b.cfg = filepath.Join(dir, "quickstart.yaml")
	var dests strings.Builder
	for _, p := range platforms {
		dests.WriteString(crashDestinations[p])
	}
	require.NoError(t, os.WriteFile(b.cfg, fmt.Appendf(nil, crashConfig, ts.URL+"/", dests.String(), strings.Join(platforms, ", ")), 0o600))
	b.csvPath = filepath.Join(dir, "quickstart", "contacts.csv")
	return b
}

// contacts makes the source contacts 0..n-1 but every dropEvery-th.
func (b *bed) contacts(n, dropEvery int) { crashContacts(b.t, b.csvPath, n, dropEvery) }

// sync runs a sync in this process and requires it to succeed.
func (b *bed) sync(extra ...string) *report.Report {
	b.t.Helper()
	rep, r := syncJSON(b.t, b.cfg, extra...)
	require.Equal(b.t, ExitOK, r.code, r.stderr)
	require.Equal(b.t, report.StatusSucceeded, rep.Status)
	return rep
}

// killedSync runs a sync with args in a child process that the sandbox
// kills right after applying the nth request that match accepts.
func (b *bed) killedSync(match func(*http.Request) bool, nth int32, args string) {
	b.t.Helper()
	k := b.k
	k.match, k.nth = match, nth
	k.seen.Store(0)
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullRefreshCrashConverges$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CLI_CRASH_CONFIG="+b.cfg, "CLI_CRASH_ARGS="+args)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	k.fired.Store(false)
	k.armed.Store(true)
	k.mu.Lock()
	require.NoError(b.t, cmd.Start())
	k.child = cmd.Process
	k.mu.Unlock()
	err := cmd.Wait()
	k.armed.Store(false)
	var ee *exec.ExitError
	require.True(b.t, errors.As(err, &ee) && k.fired.Load(), "the sync should have been killed: %v\n%s", err, out.String())
}

// requireExact checks that every platform holds exactly the source's
// audience, as the file destination wrote it from the same run, and
// returns the run's report of a further plain sync, which must find
// nothing to change.
func (b *bed) requireExact(rep *report.Report, contacts int) {
	t := b.t
	t.Helper()
	held := b.k.sb
	for _, p := range b.platforms {
		id := destinationNamed(t, rep, p).AudienceID
		var want, got []string
		switch p {
		case "google":
			want, got = googleExpected(t, b.cfg), held.Members("google", id)
			require.Len(t, want, 2*contacts, "an e-mail and an address per contact")
		case "meta":
			want, got = metaExpected(t, b.cfg), held.Members("meta", id)
			require.Len(t, want, contacts, "an e-mail per contact")
		case "x":
			want, got = xExpected(t, b.cfg), held.Members("x", id)
			require.Len(t, want, contacts, "an e-mail per contact")
		}
		requireSameSet(t, p, want, got)
	}
	rep = b.sync()
	for _, name := range b.platforms {
		d := destinationNamed(t, rep, name)
		require.Equal(t, report.Planned{Unchanged: d.Planned.Unchanged}, d.Planned, "%s: state is exact after converging", name)
	}
}

// post matches POST requests whose path contains part and ends with suffix.
func post(part, suffix string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.Contains(r.URL.Path, part) && strings.HasSuffix(r.URL.Path, suffix)
	}
}

// kept is how many of contacts 0..n-1 stay when every dropEvery-th goes.
func kept(n, dropEvery int) int { return n - (n+dropEvery-1)/dropEvery }

// TestFullRefreshCrashConverges kills a real sync process during a full
// refresh, right after the platform applied a destructive step (a clear,
// removeAll, a replace batch) and before state could record it, then runs
// plain syncs: every platform holds exactly the source's audience — nothing
// lost, nothing spurious — and a Meta replace session the crash left open
// does not block the next run.
func TestFullRefreshCrashConverges(t *testing.T) {
	if cfg := os.Getenv("CLI_CRASH_CONFIG"); cfg != "" {
		args := append([]string{"sync", "--config", cfg, "--log-format", "json"}, strings.Fields(os.Getenv("CLI_CRASH_ARGS"))...)
		os.Exit(Main(args, strings.NewReader(""), os.Stdout, os.Stderr))
	}
	t.Parallel()
	// One contact in seven is dropped before the full refresh; then,
	// unless 0, one in `then` before the plain runs. X takes 2,500
	// operations a request, so 3,000 contacts clear in two; 11,800 contacts
	// leave Meta more than its 10,000 rows a request, so its replace takes
	// two batches.
	tests := []struct {
		name     string
		platform string
		contacts int
		match    func(*http.Request) bool
		nth      int32
		then     int
	}{
		{"X first clear", "x", 3000, post("/custom_audiences/", "/users"), 1, 0},
		{"X last clear", "x", 3000, post("/custom_audiences/", "/users"), 2, 0},
		{"X clear, then the source changes", "x", 3000, post("/custom_audiences/", "/users"), 2, 5},
		{"Google removeAll", "google", 3000, post("/v1/", "audienceMembers:removeAll"), 1, 0},
		{"Google re-add after removeAll, then the source changes", "google", 3000, post("/v1/", "audienceMembers:ingest"), 1, 5},
		{"Meta replace session left open", "meta", 11800, post("/v", "/usersreplace"), 1, 0},
		// The resumed session holds what the crashed run staged: the
		// contacts dropped since must be removed for real.
		{"Meta session left open, then the source changes", "meta", 11800, post("/v", "/usersreplace"), 1, 5},
		{"Meta replace finished, unrecorded", "meta", 11800, post("/v", "/usersreplace"), 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBed(t, tt.platform)
			b.contacts(tt.contacts, 0)
			b.sync()
			b.contacts(tt.contacts, 7)
			b.killedSync(tt.match, tt.nth, "--full-refresh --force")
			want := kept(tt.contacts, 7)
			args := []string{}
			if tt.then > 0 {
				b.contacts(tt.contacts, tt.then)
				want = kept(tt.contacts, tt.then)
				args = append(args, "--force")
			}
			// A plain run converges (the Meta session does not block it);
			// the next finds nothing to do.
			b.requireExact(b.sync(args...), want)
		})
	}
}

// TestRemovedMemberReturnsAfterLostRemove kills a plain sync right after
// the platform applied a batch of removals, then brings the removed
// contacts back: they are re-added, though the platform removed them
// without state hearing of it.
func TestRemovedMemberReturnsAfterLostRemove(t *testing.T) {
	t.Parallel()
	tests := []struct {
		platform string
		match    func(*http.Request) bool
	}{
		{"x", post("/custom_audiences/", "/users")},
		{"google", post("/v1/", "audienceMembers:remove")},
		{"meta", post("/v", "/users")},
	}
	const contacts = 1000
	for _, tt := range tests {
		t.Run(tt.platform, func(t *testing.T) {
			b := newBed(t, tt.platform)
			b.contacts(contacts, 0)
			b.sync()
			b.contacts(contacts, 7)
			// A plain run's first request of the kind is its removal.
			b.killedSync(tt.match, 1, "--force")
			b.contacts(contacts, 0)
			b.requireExact(b.sync(), contacts)
		})
	}
}

// requireSameSet fails with the counts of lost and spurious identifiers.
func requireSameSet(t *testing.T, platform string, want, got []string) {
	t.Helper()
	have := make(map[string]bool, len(got))
	for _, v := range got {
		have[v] = true
	}
	lost := 0
	for _, v := range want {
		if !have[v] {
			lost++
		}
		delete(have, v)
	}
	require.True(t, lost == 0 && len(have) == 0, "%s: %d identifiers lost, %d spurious (of %d)", platform, lost, len(have), len(want))
}
