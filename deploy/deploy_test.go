package deploy_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/cli"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// pendingFlags are flags the examples use that work in progress will add.
// The test fails when one appears in the CLI: then delete it here, and it
// is checked like the others. None today.
var pendingFlags = map[string][]string{}

var flagName = regexp.MustCompile(`(?m)^\s+(?:-[a-z], )?--([a-z][a-z0-9-]*)`)

// cliFlags returns the flags `audiencesync CMD --help` lists, global ones
// included; it fails the test when the command does not exist.
func cliFlags(t *testing.T, cmd []string) map[string]bool {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Main(append(slices.Clone(cmd), "--help"), strings.NewReader(""), &out, &errOut)
	require.Equal(t, 0, code, "audiencesync %s --help: %s", strings.Join(cmd, " "), errOut.String())
	require.Contains(t, out.String(), "Usage:\n  audiencesync "+strings.Join(cmd, " "), "%q is not a command of audiencesync", strings.Join(cmd, " "))
	flags := map[string]bool{}
	for _, m := range flagName.FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = true
	}
	return flags
}

// invocation is one command line of the binary in an example.
type invocation struct {
	where string
	cmd   []string          // the command path: serve, token create
	flags map[string]string // flag → value ("" for a bare flag)
}

func parseArgs(t *testing.T, where string, args []string) invocation {
	t.Helper()
	inv := invocation{where: where, flags: map[string]string{}}
	i := 0
	for ; i < len(args) && !strings.HasPrefix(args[i], "-"); i++ {
		inv.cmd = append(inv.cmd, args[i])
	}
	require.NotEmpty(t, inv.cmd, "%s: no command in %q", where, args)
	for ; i < len(args); i++ {
		a := args[i]
		require.True(t, strings.HasPrefix(a, "--"), "%s: %q is not a --flag", where, a)
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok && i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			value = args[i+1]
			i++
		}
		inv.flags[name] = value
	}
	return inv
}

// checkFlags: every flag of inv exists in the CLI, but for the pending ones,
// which must not exist yet.
func checkFlags(t *testing.T, inv invocation) {
	t.Helper()
	have := cliFlags(t, inv.cmd)
	pending := pendingFlags[strings.Join(inv.cmd, " ")]
	for name := range inv.flags {
		if slices.Contains(pending, name) {
			require.False(t, have[name], "%s: --%s now exists in the CLI: remove it from pendingFlags so it is checked", inv.where, name)
			continue
		}
		require.True(t, have[name], "%s: audiencesync %s has no flag --%s", inv.where, strings.Join(inv.cmd, " "), name)
	}
	if g, ok := inv.flags["grace"]; ok {
		_, err := time.ParseDuration(g)
		require.NoError(t, err, "%s: --grace %q", inv.where, g)
	}
}

// unit is a systemd unit file: section → key → values, in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			require.NotContains(t, u, section, "%s:%d: section [%s] twice", path, n, section)
			u[section] = map[string][]string{}
		default:
			key, value, ok := strings.Cut(line, "=")
			require.True(t, ok, "%s:%d: not key=value: %q", path, n, line)
			require.NotEmpty(t, section, "%s:%d: a key before any section", path, n)
			u[section][key] = append(u[section][key], value)
		}
	}
	require.NoError(t, sc.Err())
	return u
}

func (u unit) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	require.Len(t, v, 1, "[%s] %s", section, key)
	return v[0]
}

// hardening are the settings every long-running unit must carry.
var hardening = map[string]string{
	"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
	"PrivateDevices": "yes", "CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
	"MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "User": "audiencesync",
	"StateDirectory": "audiencesync", "UMask": "0077",
}

func TestSystemdUnits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file    string
		workers bool
	}{{"audiencesync.service", false}, {"audiencesync-worker.service", true}} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			u := parseUnit(t, filepath.Join("systemd", tc.file))
			for _, s := range []string{"Unit", "Service", "Install"} {
				require.Contains(t, u, s)
			}
			for k, v := range hardening {
				require.Equal(t, v, u.one(t, "Service", k), "[Service] %s", k)
			}
			args := strings.Fields(u.one(t, "Service", "ExecStart"))
			require.Equal(t, "/usr/local/bin/audiencesync", args[0])
			inv := parseArgs(t, tc.file, args[1:])
			require.Equal(t, []string{"serve"}, inv.cmd)
			checkFlags(t, inv)
			_, hasWorkers := inv.flags["workers"]
			require.Equal(t, tc.workers, hasWorkers, "--workers in %s", tc.file)
			if tc.workers {
				// A PostgreSQL state has no directory: runs spill to
				// TMPDIR, which must be the state directory (on disk).
				require.Equal(t, "TMPDIR=/var/lib/"+u.one(t, "Service", "StateDirectory"), u.one(t, "Service", "Environment"))
			}
			require.True(t, strings.HasPrefix(inv.flags["config"], "/etc/audiencesync/"))
			// systemd must wait for --grace before it kills.
			grace, err := time.ParseDuration(inv.flags["grace"])
			require.NoError(t, err)
			stop, err := time.ParseDuration(u.one(t, "Service", "TimeoutStopSec"))
			require.NoError(t, err)
			require.Greater(t, stop, grace)
			require.Equal(t, "/bin/kill -HUP $MAINPID", u.one(t, "Service", "ExecReload"), "SIGHUP reloads the config")
			for _, c := range u["Service"]["LoadCredential"] {
				name, src, ok := strings.Cut(c, ":")
				require.True(t, ok && name != "" && strings.HasPrefix(src, "/etc/audiencesync/credentials/"), "LoadCredential=%s", c)
			}
		})
	}
}

func TestBackupUnits(t *testing.T) {
	t.Parallel()
	svc := parseUnit(t, filepath.Join("systemd", "audiencesync-backup.service"))
	require.Equal(t, "oneshot", svc.one(t, "Service", "Type"))
	main := parseUnit(t, filepath.Join("systemd", "audiencesync.service"))
	// The backup reads the state file the service writes, as the same
	// user: a unit of another user would have systemd chown the state
	// directory to it.
	require.Equal(t, main.one(t, "Service", "StateDirectory"), svc.one(t, "Service", "StateDirectory"))
	require.Equal(t, main.one(t, "Service", "User"), svc.one(t, "Service", "User"))
	execs := strings.Join(svc["Service"]["ExecStart"], "\n")
	require.Contains(t, execs, `/var/lib/audiencesync/audiencesync.db ".backup `, "SQLite's online backup of the state file")
	require.Contains(t, execs, "PRAGMA integrity_check", "the copy is checked before it replaces the last one")
	runBackup(t, svc["Service"]["ExecStartPre"], svc["Service"]["ExecStart"])
	timer := parseUnit(t, filepath.Join("systemd", "audiencesync-backup.timer"))
	require.NotEmpty(t, timer.one(t, "Timer", "OnCalendar"))
	require.Equal(t, "timers.target", timer.one(t, "Install", "WantedBy"))
}

// runBackup runs the backup unit's commands on a state the SQLite store
// wrote, in a temporary directory standing for /var/lib/audiencesync, and
// opens the copy as a state.
func runBackup(t *testing.T, pre, cmds []string) {
	t.Helper()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sqlite3 is not installed: .ci/run installs it (apt-get install sqlite3)")
		}
		t.Skip("sqlite3 is not installed: the backup unit's commands were parsed, not run (apt-get install sqlite3)")
	}
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "audiencesync.db"))
	require.NoError(t, err)
	require.NoError(t, st.Close())
	for _, c := range append(slices.Clone(pre), cmds...) {
		c = strings.ReplaceAll(c, "/var/lib/audiencesync", dir)
		out, err := exec.Command("/bin/sh", "-c", c).CombinedOutput()
		require.NoError(t, err, "%s: %s", c, out)
	}
	st, err = sqlite.Open(t.Context(), filepath.Join(dir, "backup", "audiencesync.db"))
	require.NoError(t, err, "the backup opens as a state")
	require.NoError(t, st.Close())
	_, err = os.Stat(filepath.Join(dir, "backup", "audiencesync.db.new"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// compose is the part of a compose file the test reads.
type compose struct {
	Services map[string]struct {
		Image       string   `yaml:"image"`
		Command     []string `yaml:"command"`
		Secrets     []string `yaml:"secrets"`
		Volumes     []string `yaml:"volumes"`
		Ports       []string `yaml:"ports"`
		StopGrace   string   `yaml:"stop_grace_period"`
		Environment map[string]string
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

func TestCompose(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("docker", "compose.yaml"))
	require.NoError(t, err)
	var c compose
	require.NoError(t, yaml.Unmarshal(b, &c), "compose.yaml") // merge keys (<<: *worker) resolved
	pg, ok := c.Services["postgres"]
	require.True(t, ok, "a postgres service")
	require.NotNil(t, pg.Healthcheck, "the workers wait for PostgreSQL to be healthy")
	workers, ports := 0, map[string]bool{}
	for name, s := range c.Services {
		for _, sec := range s.Secrets {
			require.Contains(t, c.Secrets, sec, "service %s mounts secret %s, which is not declared", name, sec)
		}
		for _, p := range s.Ports {
			require.False(t, ports[p], "port %s published twice", p)
			ports[p] = true
		}
		if len(s.Command) == 0 {
			continue
		}
		inv := parseArgs(t, "compose service "+name, s.Command)
		checkFlags(t, inv)
		require.Equal(t, "/etc/audiencesync/audiencesync.yaml", inv.flags["config"])
		require.Contains(t, s.Volumes, "./audiencesync.yaml:/etc/audiencesync/audiencesync.yaml:ro")
		require.Equal(t, "service_healthy", s.DependsOn["postgres"].Condition, "service %s", name)
		if slices.Equal(inv.cmd, []string{"serve"}) {
			workers++
			_, ok := inv.flags["workers"]
			require.True(t, ok, "service %s serves without --workers", name)
			// Runs spill to TMPDIR with a PostgreSQL state: the volume
			// on disk, not the tmpfs.
			require.Equal(t, "/var/lib/audiencesync", s.Environment["TMPDIR"], "service %s", name)
			require.Contains(t, s.Volumes, s.Environment["TMPDIR"], "service %s", name)
			grace, err := time.ParseDuration(inv.flags["grace"])
			require.NoError(t, err)
			stop, err := time.ParseDuration(s.StopGrace)
			require.NoError(t, err)
			require.Greater(t, stop, grace, "service %s is killed before --grace ends", name)
		}
	}
	require.Equal(t, 2, workers, "two workers")
	for name, s := range c.Secrets {
		require.True(t, strings.HasPrefix(s.File, "./secrets/"), "secret %s: keep secret files under secrets/ (git-ignored)", name)
	}
	// Every secret the config reads is one compose mounts.
	cfg, err := os.ReadFile(filepath.Join("docker", "audiencesync.yaml"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`\$\{file:/run/secrets/([a-z_]+)\}`).FindAllSubmatch(cfg, -1) {
		require.Contains(t, c.Secrets, string(m[1]), "the config reads /run/secrets/%s", m[1])
	}
}

// TestComposeConfigValidates: the config the workers mount loads and
// passes every rule (secrets are files only the containers have).
func TestComposeConfigValidates(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := cli.Main([]string{"validate", "--config", filepath.Join("docker", "audiencesync.yaml"), "--skip-secrets"},
		strings.NewReader(""), &out, &errOut)
	require.Equal(t, 0, code, "validate: %s%s", out.String(), errOut.String())
	require.Contains(t, out.String(), "ok (")
}

// TestDockerfile: the image builds the command that exists, static, and
// runs a command line the CLI takes.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("docker", "Dockerfile"))
	require.NoError(t, err)
	df := string(b)
	require.Equal(t, 2, strings.Count(df, "\nFROM "), "a multi-stage build: one stage builds, one runs")
	build := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 .*go build .* (\./cmd/[a-z]+))$`).FindStringSubmatch(df)
	require.NotNil(t, build, "the build stage runs CGO_ENABLED=0 go build ./cmd/…")
	_, err = os.Stat(filepath.Join("..", build[2], "main.go"))
	require.NoError(t, err, "%s does not exist", build[2])
	cmd := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindStringSubmatch(df)
	require.NotNil(t, cmd)
	var args []string
	require.NoError(t, yaml.Unmarshal([]byte(cmd[1]), &args))
	checkFlags(t, parseArgs(t, "Dockerfile CMD", args))

	// Without cgo every package of the command still builds: go list
	// reports a package whose files all need cgo as an error.
	list := exec.Command("go", "list", "-e", "-deps", "-f", "{{with .Error}}{{$.ImportPath}}: {{.}}{{end}}", "./"+strings.TrimPrefix(build[2], "./"))
	list.Dir = ".."
	list.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := list.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "packages that do not build without cgo")
}

// TestAlertRules: the alert rules parse and name only metrics the daemon
// exports.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("prometheus", "alerts.yaml"))
	require.NoError(t, err)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(b, &rules))
	metrics, err := os.ReadFile(filepath.Join("..", "daemon", "metrics.go"))
	require.NoError(t, err)
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`Name: "(audiencesync_[a-z_]+)"`).FindAllSubmatch(metrics, -1) {
		exported[string(m[1])] = true
	}
	require.Contains(t, exported, "audiencesync_last_success_timestamp_seconds")
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			for _, name := range regexp.MustCompile(`audiencesync_[a-z_]+`).FindAllString(r.Expr, -1) {
				require.True(t, exported[name], "alert %s uses %s, which daemon/metrics.go does not export", r.Alert, name)
			}
			n++
		}
	}
	require.GreaterOrEqual(t, n, 4)
}
