// Package pgtest starts a throw-away PostgreSQL server for tests: a new
// cluster in a temporary directory, listening only on a Unix socket in that
// directory, removed when the tests end. Nothing is installed or configured
// by hand; the package finds PostgreSQL's binaries (Debian's
// /usr/lib/postgresql/*/bin, then PATH, or PGTEST_BIN).
//
// initdb and postgres refuse to run as root, so when the tests run as root
// (as CI does) the server runs as the postgres user that the Debian package
// creates, and the directory is given to it.
//
// Use it from TestMain:
//
//	var pg *pgtest.Server
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }
//
// and in each test that needs the server, dsn := pgtest.Database(t, pg),
// which skips the test with install advice when PostgreSQL is missing (and
// fails it instead when CI=true).
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver
)

// ErrNotInstalled means no PostgreSQL binaries were found.
var ErrNotInstalled = errors.New("PostgreSQL is not installed: install it to run these tests " +
	"(Debian/Ubuntu: apt-get install -y postgresql; macOS: brew install postgresql), or set PGTEST_BIN to the directory holding initdb and postgres")

// Server is a running throw-away PostgreSQL server.
type Server struct {
	dir  string // owns data/ and the socket
	bin  string
	cmd  *exec.Cmd
	cred *syscall.Credential
	done chan error
	next atomic.Int64
}

// port only names the socket file: the server listens on no TCP port.
const port = 5432

// Start creates a cluster and starts its server. It returns ErrNotInstalled
// (wrapped) when PostgreSQL cannot be found.
func Start() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	base := ""
	if os.Geteuid() == 0 {
		// The server's user must reach the directory: the root user's
		// own TMPDIR may be closed to it.
		base = "/tmp"
		if s.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	if s.dir, err = os.MkdirTemp(base, "pgtest-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := s.start(); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: give %s to the postgres user: %w", s.dir, err)
		}
	}
	data := filepath.Join(s.dir, "data")
	initdb := s.command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	log, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer log.Close()
	// Durability is of no use to a throw-away cluster; speed is.
	s.cmd = s.command("postgres", "-D", data, "-k", s.dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=100")
	s.cmd.Stdout, s.cmd.Stderr = log, log
	// The server dies with the test binary, even one killed by a timeout.
	s.cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	return s.waitReady()
}

// command runs a PostgreSQL binary as the server's user.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Env = []string{"PATH=" + s.bin + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	return cmd
}

func (s *Server) waitReady() error {
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			return fmt.Errorf("pgtest: postgres exited: %v\n%s", err, log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres not ready after 30s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DSN returns a connection string for database db, for pgx.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", s.dir, port, db)
}

// CreateDatabase creates a new, empty database and returns its DSN.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), s.next.Add(1))
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// Stop stops the server at once and removes its directory. It is safe to
// call twice.
func (s *Server) Stop() error {
	var errs []error
	if s.cmd != nil && s.cmd.Process != nil && s.done != nil {
		// SIGQUIT is PostgreSQL's immediate shutdown: nothing is worth
		// keeping.
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			errs = append(errs, errors.New("pgtest: postgres did not stop within 30s"))
		}
		s.done = nil
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: %w", err))
		}
		s.dir = ""
	}
	return errors.Join(errs...)
}

// Main starts a server, runs the tests and stops the server, returning
// the exit code for os.Exit. Without PostgreSQL, *srv stays nil and the
// tests run (Database skips those that need it), unless CI=true, where a
// missing PostgreSQL fails the package: CI must never pass by skipping.
func Main(m *testing.M, srv **Server) int {
	s, err := Start()
	switch {
	case errors.Is(err, ErrNotInstalled) && !InCI():
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return m.Run()
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*srv = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Database returns the DSN of a new database on srv for t, or skips t when
// PostgreSQL is not installed (fails it under CI=true).
func Database(t testing.TB, srv *Server) string {
	t.Helper()
	if srv == nil {
		if InCI() {
			t.Fatal(ErrNotInstalled)
		}
		t.Skip(ErrNotInstalled.Error())
	}
	dsn, err := srv.CreateDatabase(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// InCI reports whether the tests run in CI (CI=true), where nothing may be
// skipped for want of PostgreSQL.
func InCI() bool { return os.Getenv("CI") == "true" }

// findBin returns the directory holding initdb and postgres: PGTEST_BIN,
// else the newest Debian install, else PATH.
func findBin() (string, error) {
	if dir := os.Getenv("PGTEST_BIN"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("pgtest: PGTEST_BIN=%s holds no initdb: %w", dir, err)
		}
		return dir, nil
	}
	found, _ := filepath.Glob(debianInitdb)
	slices.SortFunc(found, func(a, b string) int { return versionOf(a) - versionOf(b) })
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("pgtest: %w", ErrNotInstalled)
}

// debianInitdb is where Debian's postgresql packages put initdb, one
// directory per major version.
var debianInitdb = "/usr/lib/postgresql/*/bin/initdb"

// versionOf reads the major version out of /usr/lib/postgresql/N/bin/initdb.
func versionOf(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// postgresUser returns the credentials of the postgres user.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, the server must run as the postgres user, which does not exist (the postgresql package creates it): %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// Dir is the directory holding the cluster and its socket.
func (s *Server) Dir() string { return s.dir }
