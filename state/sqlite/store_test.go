package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/statetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	statetest.Run(t, func(t *testing.T) state.Store {
		return openTemp(t)
	})
}

// TestSuitesAlone runs each part's suite on its own, against a value that
// has only that part's methods: no suite may lean on another part.
func TestSuitesAlone(t *testing.T) {
	t.Parallel()
	suites := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Members", func(t *testing.T) {
			statetest.Members.Run(t, func(t *testing.T) state.MemberStore { return struct{ state.MemberStore }{openTemp(t)} })
		}},
		{"AudienceIDs", func(t *testing.T) {
			statetest.AudienceIDs.Run(t, func(t *testing.T) state.AudienceIDs { return struct{ state.AudienceIDs }{openTemp(t)} })
		}},
		{"WriteAhead", func(t *testing.T) {
			statetest.WriteAhead.Run(t, func(t *testing.T) statetest.WriteAheadStore {
				return struct{ statetest.WriteAheadStore }{openTemp(t)}
			})
		}},
		{"RunLog", func(t *testing.T) {
			statetest.RunLog.Run(t, func(t *testing.T) state.RunLog { return struct{ state.RunLog }{openTemp(t)} })
		}},
		{"PendingRequests", func(t *testing.T) {
			statetest.PendingRequests.Run(t, func(t *testing.T) state.PendingRequests { return struct{ state.PendingRequests }{openTemp(t)} })
		}},
		{"Locker", func(t *testing.T) {
			statetest.Locker.Run(t, func(t *testing.T) state.Locker { return struct{ state.Locker }{openTemp(t)} })
		}},
		{"Tokens", func(t *testing.T) {
			statetest.Tokens.Run(t, func(t *testing.T) state.Tokens { return struct{ state.Tokens }{openTemp(t)} })
		}},
		{"Holdouts", func(t *testing.T) {
			statetest.Holdouts.Run(t, func(t *testing.T) state.Holdouts { return struct{ state.Holdouts }{openTemp(t)} })
		}},
	}
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.run(t)
		})
	}
}

// openTemp opens a store in a fresh directory and closes it at cleanup.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

var testScope = state.Scope{Sync: "cart-abandoners", Destination: "google"}

func hashedEmail(email string) audience.Identifier {
	sum := sha256.Sum256([]byte(email))
	return audience.Identifier{Kind: audience.Email, Value: hex.EncodeToString(sum[:]), Hashed: true}
}

func TestFileModes(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	if err := s.Commit(t.Context(), testScope, []state.Change{{Key: audience.KeyFromSource("1"), LastSent: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{s.Path(), s.Path() + "-wal", s.Path() + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat: %v", err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), got)
		}
	}
}

func TestOpenTightensExistingFiles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %#o after reopen, want 0600", filepath.Base(p), got)
		}
	}
}

func TestWALAndPragmas(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	tests := []struct {
		pragma string
		db     *sql.DB
		want   string
	}{
		{"journal_mode", s.write, "wal"},
		{"journal_mode", s.read, "wal"},
		{"synchronous", s.write, "1"}, // NORMAL
		{"foreign_keys", s.write, "1"},
		{"busy_timeout", s.write, "10000"},
		{"busy_timeout", s.read, "10000"},
		{"query_only", s.read, "1"},
	}
	for _, tt := range tests {
		var got string
		if err := tt.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
		}
	}
	if _, err := s.read.ExecContext(t.Context(), `DELETE FROM members`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ch := state.Change{
		Key:         audience.KeyFromSource("42"),
		Fingerprint: audience.Fingerprint{1, 2, 3},
		Identifiers: []audience.Identifier{hashedEmail("someone@example.org")},
		LastSent:    time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC),
	}
	mustDo(t, s.Commit(ctx, testScope, []state.Change{ch}))
	mustDo(t, s.SetAudienceID(ctx, testScope, "aud-9"))
	mustDo(t, s.BeginRun(ctx, state.Run{ID: "r1", Sync: testScope.Sync, Status: "running", Started: ch.LastSent}))
	mustDo(t, s.Close())
	mustDo(t, s.Close()) // a second Close is harmless

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []state.Entry
	for e, err := range s.Snapshot(ctx, testScope) {
		mustDo(t, err)
		got = append(got, e)
	}
	want := state.Entry{Key: ch.Key, Fingerprint: ch.Fingerprint, LastSent: ch.LastSent, Identifiers: ch.Identifiers}
	if len(got) != 1 || got[0].Key != want.Key || got[0].Fingerprint != want.Fingerprint ||
		!got[0].LastSent.Equal(want.LastSent) || got[0].Identifiers[0] != want.Identifiers[0] {
		t.Errorf("after reopen: %+v, want [%+v]", got, want)
	}
	if id, err := s.AudienceID(ctx, testScope); err != nil || id != "aud-9" {
		t.Errorf("AudienceID after reopen = %q, %v", id, err)
	}
	if _, err := s.Run(ctx, "r1"); err != nil {
		t.Errorf("Run after reopen: %v", err)
	}
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var version, appID int
	mustDo(t, s.write.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version))
	mustDo(t, s.write.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID))
	if version != len(migrations) || appID != applicationID {
		t.Errorf("user_version %d, application_id %#x; want %d, %#x", version, appID, len(migrations), applicationID)
	}
	// A newer audiencesync has migrated the file further.
	_, err = s.write.ExecContext(ctx, `PRAGMA user_version = 99`)
	mustDo(t, err)
	mustDo(t, s.Close())

	_, err = Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a version-99 database: %v, want ErrSchemaTooNew", err)
	}
	t.Logf("refusal reads: %v", err)
}

func TestForeignDatabaseRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup []string
	}{
		{"other application id", []string{`PRAGMA application_id = 7`}},
		{"tables without version", []string{`CREATE TABLE invoices (id INTEGER PRIMARY KEY)`}},
		{"version without application id", []string{`PRAGMA user_version = 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "other.db")
			db, err := sql.Open("sqlite", path)
			mustDo(t, err)
			for _, q := range tt.setup {
				_, err := db.ExecContext(t.Context(), q)
				mustDo(t, err)
			}
			mustDo(t, db.Close())
			if _, err := Open(t.Context(), path); !errors.Is(err, ErrForeignDatabase) {
				t.Fatalf("Open: %v, want ErrForeignDatabase", err)
			}
		})
	}
}

func TestOpenOddPath(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a dir?#%", "state 1.db")
	mustDo(t, os.MkdirAll(filepath.Dir(path), 0o700))
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustDo(t, s.Commit(t.Context(), testScope, []state.Change{{Key: audience.KeyFromSource("1")}}))
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %q: %v", path, err)
	}
}

// TestNoClearContactData is a negative control: the store writes what the
// engine commits and nothing else, so a clear e-mail address that only
// ever reached it hashed must not appear anywhere in its files.
func TestNoClearContactData(t *testing.T) {
	t.Parallel()
	const email = "jane.clear-control@example.net"
	ctx := t.Context()
	s := openTemp(t)
	id := hashedEmail(email)
	ch := state.Change{
		Key:         audience.KeyFromIdentifier(id),
		Fingerprint: audience.FingerprintOf([]audience.Identifier{id}, audience.Consent{}),
		Identifiers: []audience.Identifier{id},
		LastSent:    time.Now(),
	}
	mustDo(t, s.Commit(ctx, testScope, []state.Change{ch}))
	mustDo(t, s.BeginRun(ctx, state.Run{ID: "r1", Sync: testScope.Sync, Status: "running", Started: time.Now()}))
	mustDo(t, s.FinishRun(ctx, "r1", "succeeded", time.Now(), []byte(`{"added":1}`), nil))

	raw, err := hex.DecodeString(id.Value)
	mustDo(t, err)
	files := readAll(t, s.Path())
	if !bytes.Contains(files, raw) {
		t.Fatal("the committed hash is not in the files: the scan is not looking at the data")
	}
	if bytes.Contains(bytes.ToLower(files), []byte(email)) {
		t.Errorf("clear e-mail %q found in the state files", email)
	}

	// After a checkpoint and close, the same holds for the file alone.
	mustDo(t, s.Close())
	main, err := os.ReadFile(s.Path())
	mustDo(t, err)
	if !bytes.Contains(main, raw) || bytes.Contains(bytes.ToLower(main), []byte(email)) {
		t.Errorf("database file after close: hash present %v, clear e-mail present %v",
			bytes.Contains(main, raw), bytes.Contains(bytes.ToLower(main), []byte(email)))
	}
}

// readAll returns the database file and its WAL, concatenated.
func readAll(t *testing.T, path string) []byte {
	t.Helper()
	var out []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

func TestCommitRollsBackOnCancelMidway(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	changes := make([]state.Change, 50_000)
	for i := range changes {
		changes[i] = state.Change{Key: audience.KeyFromSource(strconv.Itoa(i)), LastSent: time.Now()}
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		cancel()
	}()
	err := s.Commit(ctx, testScope, changes)
	n, cerr := s.Count(t.Context(), testScope)
	mustDo(t, cerr)
	switch {
	case err == nil && n != int64(len(changes)):
		t.Errorf("commit succeeded but holds %d of %d", n, len(changes))
	case err != nil && n != 0:
		t.Errorf("commit failed (%v) but left %d members", err, n)
	}
	t.Logf("commit: %v, members %d", err, n)
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenMigratesVersion1 opens a state file written before the intents
// table existed: its members stay, and the write-ahead methods work.
func TestOpenMigratesVersion1(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := openPool(path, writerParams())
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range migrations[0].stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	k := audience.KeyFromSource("contact-1")
	fp := bytes.Repeat([]byte{7}, 16)
	ids := audience.EncodeIdentifiers(nil, []audience.Identifier{hashedEmail("one@example.com")})
	for _, stmt := range []string{
		`PRAGMA user_version = 1`,
		`PRAGMA application_id = ` + strconv.Itoa(applicationID),
		`INSERT INTO scopes (id, sync, dest) VALUES (1, 'cart-abandoners', 'google')`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO members VALUES (1, ?, ?, 0, ?)`, k[:], fp, ids); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open a version 1 file: %v", err)
	}
	defer s.Close()
	var version int
	if err := s.write.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d (%v), want %d", version, err, len(migrations))
	}
	got, err := s.Identifiers(t.Context(), testScope, []audience.MemberKey{k})
	if err != nil || len(got[k]) != 1 || got[k][0] != hashedEmail("one@example.com") {
		t.Fatalf("member after migration: %v, %v", got, err)
	}
	if err := s.SetIntent(t.Context(), testScope, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Taint(t.Context(), testScope, []audience.MemberKey{k}); err != nil {
		t.Fatal(err)
	}
	err = s.Members(t.Context(), testScope, func(e state.Entry) error {
		if e.Fingerprint != (audience.Fingerprint{}) {
			return errors.New("member not tainted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
