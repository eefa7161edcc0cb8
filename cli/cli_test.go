package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/builtin"
	"github.com/audiencesync/audiencesync/internal/servetest"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
)

// quickstartHubSpot starts the quickstart's second sync, which reads the
// sandbox's HubSpot list.
const quickstartHubSpot = "\n  - name: newsletter-subscribers\n"

// quickstart copies the bundled quickstart config, with its CSV sync only,
// and export into a temp dir and returns the config path. The tests that
// use it are about the CSV sync; quickstartFull keeps the HubSpot sync.
func quickstart(t *testing.T) string {
	t.Helper()
	return quickstartCopy(t, false)
}

// quickstartFull is quickstart with both syncs.
func quickstartFull(t *testing.T) string {
	t.Helper()
	return quickstartCopy(t, true)
}

func quickstartCopy(t *testing.T, full bool) string {
	t.Helper()
	return servetest.Quickstart(t, "..", func(cfg []byte) []byte {
		if full {
			return cfg
		}
		i := bytes.Index(cfg, []byte(quickstartHubSpot))
		require.Positive(t, i, "the quickstart's HubSpot sync")
		return cfg[:i+1]
	})
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := args
	code := Main(a, strings.NewReader(stdin), &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func syncJSON(t *testing.T, cfg string, extra ...string) (*report.Report, result) {
	t.Helper()
	args := append([]string{"sync", "--config", cfg, "--output", "json", "--log-format", "json"}, extra...)
	r := run(t, "", args...)
	reps := decodeReports(t, r)
	return reps[0], r
}

// decodeReports reads the JSON reports a sync printed, one per sync run.
func decodeReports(t *testing.T, r result) []*report.Report {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var reps []*report.Report
	for dec.More() {
		var rep report.Report
		require.NoError(t, dec.Decode(&rep), "stdout: %s\nstderr: %s", r.stdout, r.stderr)
		reps = append(reps, &rep)
	}
	require.NotEmpty(t, reps, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	return reps
}

func readRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	rows, err := cr.ReadAll()
	require.NoError(t, err)
	return rows
}

func writeRows(t *testing.T, path string, rows [][]string) {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	require.NoError(t, w.WriteAll(rows))
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o600))
}

func TestQuickstartSyncsThenSendsOnlyTheDifference(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)

	rep, r := syncJSON(t, cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	require.Equal(t, "cli", rep.StartedBy)
	require.Equal(t, int64(2003), rep.Source.Read, "2,003 data rows in the export")
	require.Positive(t, rep.Source.Duplicates)
	require.Equal(t, int64(3), rep.Source.Rejected["row.malformed"])
	require.Equal(t, []int64{501, 1201, 1801}, rep.Source.RejectedLines["row.malformed"], "bad rows are pointed at by line")
	require.Len(t, rep.Destinations, 8)
	for _, d := range rep.Destinations {
		require.Equal(t, report.StatusSucceeded, d.Status, d.Name)
		require.Greater(t, d.Applied.Added, int64(1700), d.Name)
		require.Positive(t, d.ConsentDenied, d.Name)
		require.Positive(t, d.Rejected["email.malformed"], d.Name)
	}

	rep, r = syncJSON(t, cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	for _, d := range rep.Destinations {
		require.Zero(t, d.Planned.Add, d.Name)
		require.Zero(t, d.Planned.Remove, d.Name)
		require.Zero(t, d.Applied.Added+d.Applied.Removed+d.Applied.Updated, d.Name)
	}

	// Delete 10 contacts that every destination holds and add 5 new ones,
	// editing lines as text so the other rows stay byte for byte.
	csvPath := filepath.Join(filepath.Dir(cfg), "quickstart", "contacts.csv")
	raw, err := os.ReadFile(csvPath)
	require.NoError(t, err)
	lines := strings.SplitAfter(string(raw), "\n")
	seen := map[string]int{}
	for _, l := range lines[1:] {
		id, _, _ := strings.Cut(l, ",")
		seen[id]++
	}
	// The export's columns: identifiers, consent, then the attributes
	// the segments quickstart reads (empty for the new contacts).
	columns := len(strings.Split(strings.TrimSpace(lines[0]), ","))
	var kept strings.Builder
	deleted := 0
	for i, l := range lines {
		f := strings.Split(strings.TrimSpace(l), ",")
		if i > 0 && deleted < 10 && len(f) == columns && seen[f[0]] == 1 && f[7] == "granted" &&
			strings.HasSuffix(f[1], "@example.com") && !strings.ContainsAny(f[1], " \"") && f[2] != "" {
			deleted++
			continue
		}
		kept.WriteString(l)
	}
	require.Equal(t, 10, deleted)
	for i := range 5 {
		fmt.Fprintf(&kept, "N%05d,new.contact.%d@example.com,(202) 555-01%02d,Newt,Newcomer,10001,US,granted%s\n", i, i, 50+i, strings.Repeat(",", columns-8))
	}
	require.NoError(t, os.WriteFile(csvPath, []byte(kept.String()), 0o600))

	plan := run(t, "", "plan", "--config", cfg, "--output", "json")
	require.Equal(t, ExitOK, plan.code, plan.stderr)
	var planned report.Report
	require.NoError(t, json.Unmarshal([]byte(plan.stdout), &planned))
	require.True(t, planned.DryRun)

	rep, r = syncJSON(t, cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	for i, d := range rep.Destinations {
		require.Equal(t, int64(5), d.Planned.Add, d.Name)
		require.Equal(t, int64(10), d.Planned.Remove, d.Name)
		require.Zero(t, d.Planned.Update, d.Name)
		require.Equal(t, int64(5), d.Applied.Added, d.Name)
		require.Equal(t, int64(10), d.Applied.Removed, d.Name)
		require.Equal(t, planned.Destinations[i].Planned, d.Planned, "plan and sync agree")
	}

	// runs and report read what was stored.
	runs := run(t, "", "runs", "--config", cfg)
	require.Equal(t, ExitOK, runs.code, runs.stderr)
	require.Equal(t, 3, strings.Count(runs.stdout, "cart-abandoners"))
	for _, line := range strings.Split(runs.stdout, "\n") {
		if strings.Contains(line, "cart-abandoners") {
			require.True(t, strings.HasSuffix(strings.TrimSpace(line), " cli"), "each run was started by the command line: %q", line)
		}
	}
	// The last run's figures, per destination: 5 added and 10 removed on
	// each, not their sum, none failed or not attempted.
	var last []string
	for _, line := range strings.Split(runs.stdout, "\n")[2:] {
		if strings.Contains(line, "cart-abandoners") {
			break
		}
		last = append(last, strings.Join(strings.Fields(line), " "))
	}
	require.Len(t, last, len(rep.Destinations), runs.stdout)
	for i, d := range rep.Destinations {
		require.Equal(t, d.Name+" succeeded 5 10 0 0", last[i])
	}
	shown := run(t, "", "report", rep.RunID, "--config", cfg, "--output", "json")
	require.Equal(t, ExitOK, shown.code, shown.stderr)
	var stored report.Report
	require.NoError(t, json.Unmarshal([]byte(shown.stdout), &stored))
	require.Equal(t, rep.RunID, stored.RunID)
	require.Equal(t, rep.Destinations[0].Applied, stored.Destinations[0].Applied)
	text := run(t, "", "report", rep.RunID, "--config", cfg)
	require.Contains(t, text.stdout, "SUCCEEDED")
}

// TestNoContactDataAtRest looks for the input's e-mail addresses in the
// state database, logs, reports and upload files. Text outputs must hold no
// "@" at all (no address can hide there); the binary state files are
// searched for every address and its local part.
func TestNoContactDataAtRest(t *testing.T) {
	t.Parallel()
	cfg := quickstartFull(t)
	dir := filepath.Dir(cfg)
	var text strings.Builder
	for _, format := range []string{"json", "console"} {
		r := run(t, "", "sync", "--config", cfg, "--log-format", format, "--log-level", "debug")
		require.Equal(t, ExitOK, r.code, r.stderr)
		text.WriteString(r.stdout + r.stderr)
	}
	rep, r := syncJSON(t, cfg)
	require.Equal(t, ExitOK, r.code)
	text.WriteString(r.stdout + r.stderr)
	shown := run(t, "", "report", rep.RunID, "--config", cfg, "--output", "json")
	text.WriteString(shown.stdout + shown.stderr)
	runs := run(t, "", "runs", "--config", cfg)
	text.WriteString(runs.stdout + runs.stderr)

	var binary [][]byte
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() || strings.HasSuffix(path, "contacts.csv") || strings.HasSuffix(path, ".yaml") {
			return nil
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		files++
		if strings.Contains(path, "audiencesync.db") {
			binary = append(binary, bytes.ToLower(b))
		} else {
			text.Write(b)
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 6, "state and upload files were read")
	require.NotEmpty(t, binary, "the state database was read")
	require.Greater(t, text.Len(), 100000)
	require.NotContains(t, text.String(), "@", "logs, reports and upload files hold no e-mail address")

	rows := readRows(t, filepath.Join(dir, "quickstart", "contacts.csv"))
	checked := 0
	for _, row := range rows[1:] {
		if len(row) < 2 {
			continue
		}
		email := strings.ToLower(strings.TrimSpace(row[1]))
		local, _, found := strings.Cut(email, "@")
		if !found || len(local) < 8 {
			continue
		}
		for _, b := range binary {
			require.False(t, bytes.Contains(b, []byte(local)), "state holds an address's local part")
		}
		checked++
	}
	require.Greater(t, checked, 1500)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	r := run(t, "", "validate", "--config", cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "ok")

	bad := filepath.Join(filepath.Dir(cfg), "bad.yaml")
	body, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bad, bytes.Replace(body, []byte("      key: contact_id"), []byte("      kee: contact_id"), 1), 0o600))
	r = run(t, "", "validate", "--config", bad)
	require.Equal(t, ExitUsage, r.code)
	require.Contains(t, r.stderr, "bad.yaml:")
	require.Contains(t, r.stderr, "kee")
}

func TestGuardExitCode(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	_, r := syncJSON(t, cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	csvPath := filepath.Join(filepath.Dir(cfg), "quickstart", "contacts.csv")
	rows := readRows(t, csvPath)
	writeRows(t, csvPath, rows[:len(rows)/2])

	rep, r := syncJSON(t, cfg)
	require.Equal(t, ExitAborted, r.code, r.stderr)
	require.Equal(t, report.StatusAborted, rep.Status)
	require.Contains(t, r.stderr, "--force")
	for _, d := range rep.Destinations {
		require.Zero(t, d.Applied.Removed+d.Applied.Added)
	}
	rep, r = syncJSON(t, cfg, "--force")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Positive(t, rep.Destinations[0].Applied.Removed)
}

func TestSourceFailureExitCode(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	_, r := syncJSON(t, cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	// A truncated gzip export fails part-way: nothing is removed.
	csvPath := filepath.Join(filepath.Dir(cfg), "quickstart", "contacts.csv")
	require.NoError(t, os.WriteFile(csvPath, []byte{0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x01, 0x02}, 0o600))
	rep, r := syncJSON(t, cfg)
	require.Equal(t, ExitFailed, r.code)
	require.Equal(t, report.StatusFailed, rep.Status)
	for _, d := range rep.Destinations {
		require.Zero(t, d.Applied.Removed)
	}
	require.Contains(t, r.stderr, "nothing was uploaded or removed")
}

func TestHashCommand(t *testing.T) {
	t.Parallel()
	r := run(t, "  ALEXZ@example.com   \nquinn\n\n+18005550100\n", "hash", "--profile", "google", "--field", "email")
	require.Equal(t, ExitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 4, "one output line per input line")
	require.Equal(t, "509e933019bb285a134a9334b8bb679dff79d0ce023d529af4bd744d47b4fd8a", lines[0])
	require.True(t, strings.HasPrefix(lines[1], "!invalid: "))
	require.True(t, strings.HasPrefix(lines[2], "!invalid: "))

	r = run(t, "+18005550100\n", "hash", "--profile", "google", "--field", "phone_number")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30\n", r.stdout)

	r = run(t, "adsapi\n", "hash", "--profile", "x", "--field", "handle")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d\n", r.stdout)

	r = run(t, "", "hash", "--profile", "tiktok", "--field", "email")
	require.Equal(t, ExitUsage, r.code)
}

func TestHashCSVMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	out := filepath.Join(dir, "out.csv")
	require.NoError(t, os.WriteFile(in, []byte("Mail,Tel,Land\nQuinnY@EXAMPLE.com,+1 800-555-0100,US\nnot-an-email,,US\n"), 0o600))
	r := run(t, "", "hash", "--profile", "meta", "--in", in, "--out", out, "--map", "Mail=email,Tel=phone,Land=country")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, r.stderr, "email.malformed")
	body, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NotContains(t, strings.ToLower(string(body)), "quinny")
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	require.Equal(t, "EMAIL,PHONE,COUNTRY", lines[0])
	require.Len(t, lines, 2, "the header and the one good row: a row left with only a country has nothing to match on")
	require.Contains(t, r.stderr, "member.no_identifiers")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	r := run(t, "", "check", "--config", cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "crm_export")
	require.Contains(t, r.stdout, "ok")

	require.NoError(t, os.Remove(filepath.Join(filepath.Dir(cfg), "quickstart", "contacts.csv")))
	r = run(t, "", "check", "--config", cfg, "--connection", "crm_export")
	require.Equal(t, ExitFailed, r.code)
	require.Contains(t, r.stdout, "FAILED")
}

// sandboxHolds opens the sandbox state the run left beside the state file.
func sandboxHolds(t *testing.T, cfg string) *sandbox.Server {
	t.Helper()
	srv, err := sandbox.Open(sandbox.Options{StatePath: filepath.Join(filepath.Dir(cfg), "quickstart", "audiencesync.sandbox.json")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// latestUpload reads one of the file destination's whole-audience files.
func latestUpload(t *testing.T, cfg, name string) [][]string {
	t.Helper()
	return readRows(t, filepath.Join(filepath.Dir(cfg), "quickstart", "out", "cart-abandoners", "latest", name))
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// googleExpected reads the Google upload file of the whole audience, written
// by the file destination from the same plan, as the replica's member
// strings: a hash per e-mail and phone, and one address entry.
func googleExpected(t *testing.T, cfg string) []string {
	t.Helper()
	rows := latestUpload(t, cfg, "google-audience.csv")
	require.Equal(t, []string{"Email", "Phone", "First Name", "Last Name", "Country", "Zip"}, rows[0])
	set := map[string]bool{}
	for _, r := range rows[1:] {
		for _, v := range r[:2] {
			if v != "" {
				set[v] = true
			}
		}
		if r[2] != "" {
			set["address:"+strings.Join(r[2:6], "|")] = true
		}
	}
	return sortedSet(set)
}

// metaExpected reads the Meta customer file of the whole audience as the
// replica's member strings: each e-mail and phone hash, or, for a row with
// neither, the row's other cells together.
func metaExpected(t *testing.T, cfg string) []string {
	t.Helper()
	rows := latestUpload(t, cfg, "meta-audience.csv")
	header := rows[0]
	set := map[string]bool{}
	for _, r := range rows[1:] {
		var strong, rest []string
		for i, v := range r {
			switch {
			case v == "":
			case header[i] == "EMAIL" || header[i] == "PHONE":
				strong = append(strong, v)
			case header[i] == "MADID":
				strong = append(strong, "madid:"+v)
			case header[i] == "EXTERN_ID":
				strong = append(strong, "extern_id:"+v)
			default:
				rest = append(rest, header[i]+"="+v)
			}
		}
		if len(strong) == 0 {
			strong = []string{"row:" + strings.Join(rest, ",")}
		}
		for _, v := range strong {
			set[v] = true
		}
	}
	return sortedSet(set)
}

// xExpected reads the X audience file of the whole audience as the
// replica's member strings: every hashed identifier, and partner ids in
// clear with their prefix.
func xExpected(t *testing.T, cfg string) []string {
	t.Helper()
	rows := latestUpload(t, cfg, "x-audience.csv")
	header := rows[0]
	set := map[string]bool{}
	for _, r := range rows[1:] {
		for i, v := range r {
			switch {
			case v == "":
			case header[i] == "partner_user_id":
				set["partner_user_id:"+v] = true
			default:
				set[v] = true
			}
		}
	}
	return sortedSet(set)
}

func destinationNamed(t *testing.T, rep *report.Report, name string) *report.Destination {
	t.Helper()
	for _, d := range rep.Destinations {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no destination %s in the report", name)
	return nil
}

// TestSandboxHoldsExactlyTheAudience syncs the quickstart to the sandbox
// replicas, then changes the export and syncs again: each time the replica
// holds exactly the hashed audience, no more, no less.
func TestSandboxHoldsExactlyTheAudience(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	rep, r := syncJSON(t, cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	google := destinationNamed(t, rep, "google")
	require.NotEmpty(t, google.AudienceID)
	want := googleExpected(t, cfg)
	require.Greater(t, len(want), 4000)
	held := sandboxHolds(t, cfg)
	require.Equal(t, want, held.Members("google", google.AudienceID))
	meta := destinationNamed(t, rep, "meta")
	wantMeta := metaExpected(t, cfg)
	require.Greater(t, len(wantMeta), 2500)
	require.Equal(t, wantMeta, held.Members("meta", meta.AudienceID))
	x := destinationNamed(t, rep, "x")
	wantX := xExpected(t, cfg)
	require.Greater(t, len(wantX), 2500)
	require.Equal(t, wantX, held.Members("x", x.AudienceID))
	require.NoError(t, held.Close())

	// Drop every other US contact and change some addresses.
	editQuickstartContacts(t, cfg, false)
	rep, r = syncJSON(t, cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	google = destinationNamed(t, rep, "google")
	require.Positive(t, google.Applied.Removed)
	require.Positive(t, google.Applied.Updated)
	held = sandboxHolds(t, cfg)
	require.Equal(t, googleExpected(t, cfg), held.Members("google", google.AudienceID))
	meta = destinationNamed(t, rep, "meta")
	require.Positive(t, meta.Applied.Removed)
	require.Equal(t, metaExpected(t, cfg), held.Members("meta", meta.AudienceID))
	x = destinationNamed(t, rep, "x")
	require.Positive(t, x.Applied.Removed)
	require.Equal(t, xExpected(t, cfg), held.Members("x", x.AudienceID))
}

// TestExampleConfigs checks that every sample config validates and that
// every registered connector has one. The samples name files (CSV
// exports) that only a user has: each sample is validated in a directory
// of its own, first without those files, which validate must report by
// path, then with them put in place.
func TestExampleConfigs(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../configs/examples/*.yaml")
	require.NoError(t, err)
	have := map[string]bool{}
	for _, f := range files {
		have[strings.TrimSuffix(filepath.Base(f), ".yaml")] = true
		dir := t.TempDir()
		cfg := filepath.Join(dir, filepath.Base(f))
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(cfg, data, 0o600))
		loaded, err := configs.Load(cfg, builtin.Registry(), configs.LoadOptions{SkipSecrets: true})
		require.NoError(t, err)
		var needed []string
		for _, c := range loaded.Connections {
			if fr, ok := c.Settings.(connectors.FileReader); ok {
				for _, lf := range fr.LocalFiles() {
					needed = append(needed, lf.Path)
				}
			}
		}
		if len(needed) > 0 {
			r := run(t, "", "validate", "--config", cfg, "--skip-secrets")
			require.Equal(t, ExitUsage, r.code, "%s: validate passed without the files it reads", f)
			for _, p := range needed {
				require.Contains(t, r.stderr, p+" does not exist", f)
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte("contact_id,email\n"), 0o600))
			}
		}
		r := run(t, "", "validate", "--config", cfg, "--skip-secrets")
		require.Equal(t, ExitOK, r.code, "%s: %s", f, r.stderr)
	}
	for _, typ := range builtin.Registry().Types() {
		require.True(t, have[typ], "configs/examples/%s.yaml is missing", typ)
	}
}

// editQuickstartContacts rewrites the quickstart's CSV export beside cfg:
// it drops every seventh row, moves every eleventh address to example.org
// and, with flipConsent, flips every thirteenth row's consent.
func editQuickstartContacts(t *testing.T, cfg string, flipConsent bool) {
	t.Helper()
	csvPath := filepath.Join(filepath.Dir(cfg), "quickstart", "contacts.csv")
	raw, err := os.ReadFile(csvPath)
	require.NoError(t, err)
	lines := strings.SplitAfter(string(raw), "\n")
	var b strings.Builder
	for i, l := range lines {
		switch {
		case i > 0 && i%7 == 0:
			continue
		case i > 0 && i%11 == 0:
			l = strings.Replace(l, "@example.com", "@example.org", 1)
		case flipConsent && i > 0 && i%13 == 0:
			if strings.Contains(l, ",granted,") {
				l = strings.Replace(l, ",granted,", ",denied,", 1)
			} else {
				l = strings.Replace(l, ",denied,", ",granted,", 1)
			}
		}
		b.WriteString(l)
	}
	require.NoError(t, os.WriteFile(csvPath, []byte(b.String()), 0o600))
}
