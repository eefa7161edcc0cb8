package sqlite

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

// filledStore writes a store with enough members to span many pages and
// closes it, returning its path.
func filledStore(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	changes := make([]state.Change, 0, 3000)
	for i := range cap(changes) {
		changes = append(changes, state.Change{
			Key:         audience.KeyFromSource(strconv.Itoa(i)),
			Fingerprint: audience.Fingerprint{byte(i), 7},
			Identifiers: []audience.Identifier{hashedEmail("member" + strconv.Itoa(i) + "@example.org")},
			LastSent:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		})
	}
	mustDo(t, s.Commit(ctx, testScope, changes))
	mustDo(t, s.Close())
	return path
}

// damage overwrites n bytes at off with 0xA5.
func damage(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("\xa5", n)), off); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptStateRefused(t *testing.T) {
	t.Parallel()
	const page = 4096
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"header", func(t *testing.T, path string) { damage(t, path, 0, 16) }},
		{"truncated", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/2/page*page); err != nil {
				t.Fatal(err)
			}
		}},
		{"b-tree page headers", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			for off := int64(2 * page); off < fi.Size(); off += page {
				damage(t, path, off, 12)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filledStore(t)
			tt.damage(t, path)
			s, err := Open(t.Context(), path)
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a damaged state database")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open error = %v, want ErrCorrupt", err)
			}
			for _, advice := range []string{"Nothing was uploaded", "--full-refresh", ".bak"} {
				if !strings.Contains(err.Error(), advice) {
					t.Errorf("error %q does not say %q", err, advice)
				}
			}
		})
	}
}

// TestCleanCloseRecord pins when Open may skip the quick check: only for
// a file byte for byte as a clean Close left it, with no -wal beside it.
func TestCleanCloseRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		clean  bool
	}{
		{"as closed", func(*testing.T, string) {}, true},
		{"reopened and closed", func(t *testing.T, path string) {
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			mustDo(t, s.Close())
		}, true},
		{"one byte changed", func(t *testing.T, path string) { damage(t, path, 5*4096+100, 1) }, false},
		{"grown", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(make([]byte, 4096)); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a -wal left behind", func(t *testing.T, path string) { mustDo(t, os.WriteFile(path+"-wal", nil, 0o600)) }, false},
		{"no record", func(t *testing.T, path string) { mustDo(t, os.Remove(path+cleanSuffix)) }, false},
		{"open", func(t *testing.T, path string) {
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			mustDo(t, s.Commit(t.Context(), testScope, []state.Change{{Key: audience.KeyFromSource("new"),
				Identifiers: []audience.Identifier{hashedEmail("new@example.org")}, LastSent: time.Unix(1, 0)}}))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filledStore(t)
			tt.change(t, path)
			if got := leftClean(path); got != tt.clean {
				t.Errorf("leftClean = %v, want %v", got, tt.clean)
			}
		})
	}
}

func TestCheckPassesSoundStore(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filledStore(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check of a sound store: %v", err)
	}
	if s.Backup() != "" {
		t.Errorf("Backup() = %q for a store needing no upgrade", s.Backup())
	}
}

func TestBackupBeforeMigration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filledStore(t)
	now := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	upgraded := append(slices.Clone(migrations), migration{stmts: []string{`CREATE TABLE upgrade_test (x INTEGER)`}})

	s, err := open(ctx, path, upgraded, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	backup := s.Backup()
	mustDo(t, s.Close())
	want := path + ".v" + strconv.Itoa(len(migrations)) + "-20261201T093000Z.bak"
	if backup != want {
		t.Fatalf("Backup() = %q, want %q", backup, want)
	}
	fi, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}

	// The backup is the file as it was: the old version, every member.
	db, err := sql.Open("sqlite", "file:"+backup+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version, n int
	mustDo(t, db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version))
	mustDo(t, db.QueryRowContext(ctx, `SELECT count(*) FROM members`).Scan(&n))
	if version != len(migrations) || n != 3000 {
		t.Errorf("backup has version %d and %d members, want %d and 3000", version, n, len(migrations))
	}

	// Once upgraded, opening again copies nothing.
	s, err = open(ctx, path, upgraded, func() time.Time { return now.Add(time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Backup() != "" {
		t.Errorf("a second open made a backup: %s", s.Backup())
	}
}
