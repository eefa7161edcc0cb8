package chaos_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mcplatform "github.com/audiencesync/audiencesync/platform/mailchimp"
)

var (
	trials   = flag.Int("chaos.trials", 2, "trials per scenario")
	seed     = flag.Uint64("chaos.seed", 1, "seed of the kill instants, faults and source changes")
	members  = flag.Int("chaos.members", 2000, "members in the source audience")
	latency  = flag.Duration("chaos.latency", 20*time.Millisecond, "latency the sandbox adds to every platform request")
	parallel = flag.Int("chaos.parallel", 2, "trials run at once, each with its own sandbox process and state")
)

// bin is the audiencesync binary under test, built once.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "audiencesync-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "audiencesync")
	build := exec.Command("go", "build", "-o", bin, "github.com/audiencesync/audiencesync/cmd/audiencesync")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build audiencesync:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// platforms are the replicas the suite checks, as /_sandbox/state names
// them.
var platforms = []string{"google", "meta", "x", "linkedin", "mailchimp"}

// tally is what one scenario found on one platform. Trials running at once
// add to it under tallyMu.
type tally struct {
	trials, lost, spurious, extraAudiences int
}

var tallyMu sync.Mutex

// scenario is one way of disturbing a sync. run leaves the disturbed
// sandbox and state behind; the suite then converges and compares.
type scenario struct {
	name string
	run  func(t *testing.T, tr *trial)
}

func TestChaos(t *testing.T) {
	t.Parallel()
	scenarios := []scenario{
		{"first upload, killed", func(t *testing.T, tr *trial) {
			tr.killedSync(t, nothing, tr.want)
		}},
		{"incremental sync, killed", func(t *testing.T, tr *trial) {
			tr.killedSync(t, synced(tr.before), tr.want)
		}},
		{"full refresh, killed", func(t *testing.T, tr *trial) {
			tr.killedSync(t, synced(tr.want), tr.want, "--full-refresh")
		}},
		{"platform faults", func(t *testing.T, tr *trial) {
			tr.cleanSync(t, tr.before)
			// Mailchimp's member and tag rates are per member (see lostAnswers).
			tr.faults(t, "google.ingest:503@0.2,google.remove:reset@0.2,meta.users:613@0.2,meta.users:reset@0.1,x.users:500@0.2,x.users:reset@0.1,"+
				"linkedin.users:500@0.2,linkedin.users:reset@0.1,linkedin.segments:503@0.1,linkedin.oauth:503@0.1,"+
				"mailchimp.batch:503@0.2,mailchimp.members:500@0.02,mailchimp.tags:reset@0.02,mailchimp.segments:503@0.2")
			tr.source(t, tr.want)
			tr.syncUntilDone(t)
			tr.faults(t, "")
		}},
		{"applied, answer lost", func(t *testing.T, tr *trial) {
			tr.cleanSync(t, tr.before)
			tr.faults(t, lostAnswers)
			tr.source(t, tr.want)
			tr.syncUntilDone(t)
			tr.syncUntilDone(t, "--full-refresh")
			tr.faults(t, "")
		}},
		{"state damaged, then restored", func(t *testing.T, tr *trial) {
			tr.cleanSync(t, tr.before)
			db := filepath.Join(tr.dir, "state.db")
			backup := copyFile(t, db)
			damagePages(t, db, tr.rng)
			held := tr.sandbox.audiences(t)
			tr.source(t, tr.want)
			if code, _ := tr.sync(t, 0); code == 0 {
				t.Errorf("a sync on a damaged state succeeded")
			}
			if after := tr.sandbox.audiences(t); !sameAudiences(held, after) {
				t.Errorf("a sync on a damaged state changed the platforms")
			}
			if err := os.Rename(backup, db); err != nil {
				t.Fatal(err)
			}
		}},
		{"two syncs at once", func(t *testing.T, tr *trial) {
			tr.source(t, tr.want)
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() { _, _ = tr.sync(t, 0) })
			}
			wg.Wait()
		}},
	}

	results := make([]map[string]*tally, len(scenarios))
	// The summary is written once every trial has ended: with
	// -chaos.parallel above 1 the trials run after this function returns.
	t.Cleanup(func() { summarise(t, scenarios, results) })
	slots := make(chan struct{}, max(*parallel, 1))
	rng := rand.New(rand.NewPCG(*seed, 0x5eed))
	for i, sc := range scenarios {
		results[i] = map[string]*tally{}
		for _, p := range platforms {
			results[i][p] = &tally{}
		}
		for n := range *trials {
			// Each trial's seed is drawn here, in order, so a seed gives
			// the same trials however many run at once.
			tr := newTrial(t, rng.Uint64())
			t.Run(fmt.Sprintf("%s/%d", sc.name, n), func(t *testing.T) {
				if *parallel > 1 {
					t.Parallel()
				}
				slots <- struct{}{}
				defer func() { <-slots }()
				sc.run(t, tr)
				tr.source(t, tr.want)
				tr.syncUntilDone(t)
				tr.compare(t, results[i])
			})
		}
	}
}

// summarise prints, and with CHAOS_REPORT writes, the figures per scenario
// and platform.
func summarise(t *testing.T, scenarios []scenario, results []map[string]*tally) {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos: seed %d, %d members, %d trials per scenario, %s sandbox latency\n", *seed, *members, *trials, *latency)
	fmt.Fprintf(&b, "%-28s %-9s %7s %6s %9s %15s\n", "scenario", "platform", "trials", "lost", "spurious", "extra audiences")
	for i, sc := range scenarios {
		for _, p := range platforms {
			r := results[i][p]
			fmt.Fprintf(&b, "%-28s %-9s %7d %6d %9d %15d\n", sc.name, p, r.trials, r.lost, r.spurious, r.extraAudiences)
		}
	}
	t.Log("\n" + b.String())
	if os.Getenv("CHAOS_REPORT") != "" {
		if err := os.WriteFile(os.Getenv("CHAOS_REPORT"), []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// trial is one disturbed sandbox and state, with the source it converges
// to (want) and the one an incremental scenario starts from (before).
type trial struct {
	rng          *rand.Rand
	dir          string
	sandbox      *sandboxProc
	before, want []contact
}

func newTrial(t *testing.T, s uint64) *trial {
	rng := rand.New(rand.NewPCG(s, s>>1|1))
	before := contacts(0, *members)
	want := changed(rng, before)
	return &trial{rng: rng, before: before, want: want}
}

// start gives the trial its own directory and sandbox process; it is
// called from the subtest, so failures and clean-up belong to it.
func (tr *trial) start(t *testing.T) {
	if tr.sandbox != nil {
		return
	}
	tr.dir = t.TempDir()
	tr.sandbox = startSandbox(t)
	writeConfig(t, tr.dir, tr.sandbox.url)
}

func (tr *trial) source(t *testing.T, cs []contact) {
	tr.start(t)
	writeContacts(t, filepath.Join(tr.dir, "contacts.csv"), cs)
}

// cleanSync syncs cs to completion, undisturbed.
func (tr *trial) cleanSync(t *testing.T, cs []contact) {
	tr.source(t, cs)
	tr.syncUntilDone(t)
}

// lostAnswers makes platforms apply requests and then drop the connection
// before answering, on every operation that changes an audience.
// Mailchimp's member and tag endpoints take one request per member (a
// batch of 200 is 200 requests), so their rate is per member: 2% of them
// is about as many faults per batch as 20% of the other platforms' batch
// requests.
const lostAnswers = "google.ingest:lost@0.2,google.remove:lost@0.2,google.removeall:lost@0.5," +
	"meta.users:lost@0.2,meta.usersreplace:lost@0.3,x.users:lost@0.2,linkedin.users:lost@0.2," +
	"mailchimp.batch:lost@0.2,mailchimp.tags:lost@0.02,mailchimp.segments:lost@0.2"

// nothing prepares a fresh sandbox and state.
func nothing(*testing.T, *trial) {}

// synced prepares a sandbox and state that hold cs.
func synced(cs []contact) func(*testing.T, *trial) {
	return func(t *testing.T, tr *trial) { tr.cleanSync(t, cs) }
}

// killedSync prepares the trial, then syncs cs and kills the process at a
// random instant within the time the same work takes undisturbed (timed in
// a scratch trial with its own sandbox and state).
func (tr *trial) killedSync(t *testing.T, prepare func(*testing.T, *trial), cs []contact, args ...string) {
	scratch := &trial{rng: tr.rng}
	prepare(t, scratch)
	scratch.source(t, cs)
	start := time.Now()
	scratch.syncUntilDone(t, args...)
	span := time.Since(start)

	prepare(t, tr)
	tr.source(t, cs)
	at := time.Duration(tr.rng.Int64N(int64(span) + 1))
	if _, killed := tr.sync(t, at, args...); !killed {
		t.Logf("the run ended before the kill at %s of %s", at, span)
	}
}

// faults replaces the fault spec of the trial's sandbox; "" clears it.
func (tr *trial) faults(t *testing.T, spec string) {
	tr.start(t)
	if spec != "" {
		spec += fmt.Sprintf(",seed=%d", tr.rng.Uint32())
	}
	resp, err := http.Post(tr.sandbox.url+"/_sandbox/faults", "text/plain", strings.NewReader(spec))
	if err != nil {
		t.Fatalf("set faults: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set faults %q: %s: %s", spec, resp.Status, body)
	}
}

// syncTimeout bounds one sync process; none takes a tenth of it.
const syncTimeout = 3 * time.Minute

// sync runs `audiencesync sync` once and, with kill > 0, kills it after
// that long. It returns the exit code and whether the kill landed.
func (tr *trial) sync(t *testing.T, kill time.Duration, args ...string) (code int, killed bool) {
	tr.start(t)
	cmd := exec.Command(bin, append([]string{"sync", "--config", filepath.Join(tr.dir, "config.yaml"), "--log-format", "json"}, args...)...)
	logf, err := os.OpenFile(filepath.Join(tr.dir, "runs.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if kill <= 0 {
		kill = syncTimeout
	}
	var werr error
	select {
	case werr = <-done:
	case <-time.After(kill):
		_ = cmd.Process.Kill()
		werr, killed = <-done, true
		if kill == syncTimeout {
			log, _ := os.ReadFile(filepath.Join(tr.dir, "runs.log"))
			t.Fatalf("a sync ran for more than %s; last lines of the log:\n%s", syncTimeout, lastLines(string(log), 25))
		}
	}
	var exit *exec.ExitError
	switch {
	case werr == nil:
		return 0, killed
	case errors.As(werr, &exit):
		return exit.ExitCode(), killed
	}
	t.Fatalf("sync: %v", werr)
	return -1, killed
}

// syncUntilDone runs plain syncs until one succeeds; a sync that keeps
// failing is a trial that never converges.
func (tr *trial) syncUntilDone(t *testing.T, args ...string) {
	const attempts = 6
	for range attempts {
		code, _ := tr.sync(t, 0, args...)
		if code == 0 {
			return
		}
		args = nil // a full refresh is not repeated: plain syncs converge
	}
	log, _ := os.ReadFile(filepath.Join(tr.dir, "runs.log"))
	t.Fatalf("no sync succeeded in %d attempts; last lines of the log:\n%s", attempts, lastLines(string(log), 15))
}

// compare checks every platform against a clean run of the same source
// into a fresh sandbox and state.
func (tr *trial) compare(t *testing.T, into map[string]*tally) {
	ref := &trial{rng: tr.rng}
	ref.cleanSync(t, tr.want)
	want := ref.sandbox.audiences(t)
	got := tr.sandbox.audiences(t)
	tallyMu.Lock()
	defer tallyMu.Unlock()
	for _, p := range platforms {
		r := into[p]
		r.trials++
		if len(want[p]) != 1 {
			t.Fatalf("%s: the clean run left %d audiences named %q, want 1", p, len(want[p]), audienceName)
		}
		if len(got[p]) != 1 {
			r.extraAudiences += len(got[p]) - 1
			t.Errorf("%s: %d audiences named %q, want 1", p, len(got[p]), audienceName)
			if len(got[p]) == 0 {
				r.lost += len(want[p][0])
				continue
			}
		}
		exp, have := want[p][0], got[p][0]
		lost, spurious := diff(exp, have)
		r.lost += lost
		r.spurious += spurious
		if lost+spurious > 0 {
			t.Errorf("%s: %d identifiers lost and %d spurious of %d expected", p, lost, spurious, len(exp))
		}
	}
}

func diff(want, got map[string]bool) (lost, spurious int) {
	for id := range want {
		if !got[id] {
			lost++
		}
	}
	for id := range got {
		if !want[id] {
			spurious++
		}
	}
	return lost, spurious
}

// copyFile copies path to path.copy and returns the copy's path.
func copyFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".copy", data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path + ".copy"
}

// damagePages overwrites the first bytes of a random half of the pages
// past the first (the b-tree page headers) of a SQLite file.
func damagePages(t *testing.T, path string, rng *rand.Rand) {
	t.Helper()
	const page = 4096
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 8)
	for off := int64(page); off < fi.Size(); off += page {
		if rng.IntN(2) == 0 {
			continue
		}
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(junk, off); err != nil {
			t.Fatal(err)
		}
	}
}

func sameAudiences(a, b map[string][]map[string]bool) bool {
	for _, p := range platforms {
		if len(a[p]) != len(b[p]) {
			return false
		}
		for i := range a[p] {
			if lost, spurious := diff(a[p][i], b[p][i]); lost+spurious > 0 {
				return false
			}
		}
	}
	return true
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// sandboxProc is an `audiencesync sandbox` process on a free port.
type sandboxProc struct {
	url string
}

func startSandbox(t *testing.T) *sandboxProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "sandbox", "--addr", "127.0.0.1:0", "--latency", latency.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "listening on "); ok {
				found <- strings.Fields(rest)[0]
			}
		}
		close(found)
	}()
	select {
	case url, ok := <-found:
		if !ok {
			t.Fatal("the sandbox exited without printing its address")
		}
		return &sandboxProc{url: url}
	case <-time.After(30 * time.Second):
		t.Fatal("the sandbox did not start within 30s")
	}
	return nil
}

// audienceName is the name every destination's audience gets.
const audienceName = "Chaos"

// audiences returns, per platform, the identifier sets of the audiences
// named audienceName (deleted X audiences left out).
func (s *sandboxProc) audiences(t *testing.T) map[string][]map[string]bool {
	t.Helper()
	resp, err := http.Get(s.url + "/_sandbox/state?members=1")
	if err != nil {
		t.Fatalf("read sandbox state: %v", err)
	}
	defer resp.Body.Close()
	type list struct {
		Name        string   `json:"name"`
		DisplayName string   `json:"displayName"`
		Deleted     bool     `json:"deleted"`
		Identifiers []string `json:"identifiers"`
	}
	var st struct {
		Google struct {
			UserLists []list `json:"user_lists"`
		} `json:"google"`
		Meta struct {
			Audiences []list `json:"audiences"`
		} `json:"meta"`
		X struct {
			CustomAudiences []list `json:"custom_audiences"`
		} `json:"x"`
		LinkedIn struct {
			Segments []list `json:"dmp_segments"`
		} `json:"linkedin"`
		// A Mailchimp audience is a tag on a list: its members are the
		// tagged contacts' subscriber hashes.
		Mailchimp struct {
			Lists []struct {
				Tags []struct {
					Name    string   `json:"name"`
					Members []string `json:"members"`
				} `json:"tags"`
			} `json:"lists"`
		} `json:"mailchimp"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decode sandbox state: %v", err)
	}
	out := map[string][]map[string]bool{}
	add := func(p string, ls []list) {
		for _, l := range ls {
			if (l.Name == audienceName || l.DisplayName == audienceName) && !l.Deleted {
				set := make(map[string]bool, len(l.Identifiers))
				for _, id := range l.Identifiers {
					set[id] = true
				}
				out[p] = append(out[p], set)
			}
		}
	}
	add("google", st.Google.UserLists)
	add("meta", st.Meta.Audiences)
	add("x", st.X.CustomAudiences)
	add("linkedin", st.LinkedIn.Segments)
	for _, l := range st.Mailchimp.Lists {
		for _, tag := range l.Tags {
			add("mailchimp", []list{{Name: tag.Name, Identifiers: tag.Members}})
		}
	}
	return out
}

func writeConfig(t *testing.T, dir, url string) {
	t.Helper()
	cfg := fmt.Sprintf(`state:
  path: ./state.db
connections:
  crm:
    type: csv
    path: ./contacts.csv
  google:
    type: google_ads
    sandbox: true
    endpoint: %[1]s
    operating_account: "1234567890"
  meta:
    type: meta
    sandbox: true
    endpoint: %[1]s
    ad_account: act_1234567890
  x:
    type: x
    sandbox: true
    endpoint: %[1]s
    account_id: 18ce54d4x5t
  linkedin:
    type: linkedin
    sandbox: true
    endpoint: %[1]s
  mailchimp:
    type: mailchimp
    sandbox: true
    endpoint: %[1]s
syncs:
  - name: chaos
    source:
      connection: crm
      key: contact_id
      default_region: US
      fields: {email: email, phone: phone, first_name: first_name, last_name: last_name, zip: zip, country: country}
    destinations:
      - connection: google
        audience: {name: %[2]s}
        consent: {ad_user_data: granted, ad_personalization: granted}
        batch_size: 200
      - connection: meta
        audience: {name: %[2]s}
        batch_size: 200
      - connection: x
        audience: {name: %[2]s}
        batch_size: 200
      - connection: linkedin
        audience: {name: %[2]s}
        batch_size: 200
      - connection: mailchimp
        audience: {list_id: %[3]s, tag: %[2]s}
        batch_size: 200
`, url, audienceName, mcplatform.ReplicaListID)
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// contact is one synthetic CRM record (example.com addresses, the UK's
// drama numbers).
type contact struct {
	id, email, phone, first, last, zip, country string
}

func contacts(from, to int) []contact {
	out := make([]contact, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, newContact(i, 0))
	}
	return out
}

// newContact makes contact i; version changes its e-mail address. Every
// third contact shares a phone number with two others, so removals must
// keep identifiers that a staying member still carries.
func newContact(i, version int) contact {
	c := contact{
		id:    fmt.Sprintf("c%06d", i),
		email: fmt.Sprintf("chaos.member.%06d.v%d@example.com", i, version),
		first: "Test", last: fmt.Sprintf("Member%d", i), zip: fmt.Sprintf("%05d", 10000+i%80000), country: "US",
	}
	if i%3 == 0 {
		c.phone = fmt.Sprintf("+44 7700 900%03d", i%1000)
	}
	return c
}

// changed returns cs with about 12% left out, 10% added and 5% with a new
// e-mail address: within the default removal guard of 20%.
func changed(rng *rand.Rand, cs []contact) []contact {
	out := make([]contact, 0, len(cs)*11/10)
	for i, c := range cs {
		switch r := rng.Float64(); {
		case r < 0.12:
			continue
		case r < 0.17:
			c = newContact(i, 1)
		}
		out = append(out, c)
	}
	for i := range len(cs) / 10 {
		out = append(out, newContact(len(cs)+i, 0))
	}
	return out
}

func writeContacts(t *testing.T, path string, cs []contact) {
	t.Helper()
	var b strings.Builder
	b.WriteString("contact_id,email,phone,first_name,last_name,zip,country\n")
	for _, c := range cs {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s\n", c.id, c.email, c.phone, c.first, c.last, c.zip, c.country)
	}
	// Write and rename, as an exporter should: the CSV source fails a
	// read of a file that changes under it.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
