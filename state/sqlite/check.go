package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// ErrCorrupt is wrapped by Open and Check when the state database fails
// SQLite's consistency checks or is not a database at all. Nothing may be
// planned from such a state: a damaged members table would make a run
// re-add or fail to remove members.
var ErrCorrupt = errors.New("state database is corrupt")

// maxCheckLines bounds how many problems a failed check reports.
const maxCheckLines = 5

// quickCheck runs PRAGMA quick_check on a connection of its own, before
// the store's pools open: it verifies the b-trees in time linear in the
// file, without the index cross-checks of a full integrity check, with a
// small page cache.
func quickCheck(ctx context.Context, path string) error {
	db, err := openPool(path, readerParams())
	if err != nil {
		return fmt.Errorf("open state database %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return consistency(ctx, db, path, "quick_check")
}

// Check runs SQLite's full integrity check (PRAGMA integrity_check), which
// also verifies that every index matches its table. It returns nil or an
// error wrapping ErrCorrupt. `audiencesync state check` calls it.
func (s *Store) Check(ctx context.Context) error {
	return consistency(ctx, s.read, s.path, "integrity_check")
}

func consistency(ctx context.Context, db *sql.DB, path, pragma string) error {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("PRAGMA %s(%d)", pragma, maxCheckLines))
	if err != nil {
		return corruptOr(path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return corruptOr(path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return corruptOr(path, err)
	}
	if len(problems) > 0 {
		return corrupt(path, strings.Join(problems, "; "))
	}
	return nil
}

// corruptOr turns SQLite's "malformed" and "not a database" errors into
// ErrCorrupt with advice, and returns other errors as they are.
func corruptOr(path string, err error) error {
	if isCorruption(err) {
		return corrupt(path, err.Error())
	}
	return err
}

func corrupt(path, detail string) error {
	return fmt.Errorf("%w: %s: %s. Nothing was uploaded. Restore the file from a backup "+
		"(audiencesync keeps a copy, %s.v*.bak, before each schema upgrade) or move it aside and rebuild "+
		"with `audiencesync sync --full-refresh`, which re-sends every member",
		ErrCorrupt, path, detail, path)
}

// isCorruption reports SQLite's result codes for a damaged file.
func isCorruption(err error) bool {
	var coded interface{ Code() int }
	if !errors.As(err, &coded) {
		return false
	}
	switch coded.Code() & 0xff { // the primary code; extended codes add high bits
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// backupBeforeMigration copies the database to PATH.vN-TIME.bak before a
// schema upgrade from version N, so an upgrade that goes wrong, or a
// downgrade of audiencesync, can go back to the file as it was. A new
// database (version 0) or one already current needs none. It returns the
// backup's path, or "".
func backupBeforeMigration(ctx context.Context, db *sql.DB, path string, steps int, now time.Time) (string, error) {
	var version int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return "", fmt.Errorf("read schema version: %w", err)
	}
	if version == 0 || version >= steps {
		return "", nil
	}
	backup := fmt.Sprintf("%s.v%d-%s.bak", path, version, now.UTC().Format("20060102T150405Z"))
	// VACUUM INTO writes into an empty file; creating it first gives it
	// mode 0600 whatever the umask.
	if err := createPrivate(backup); err != nil {
		return "", fmt.Errorf("back up state before upgrading its schema: %w", err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, backup); err != nil {
		_ = os.Remove(backup)
		return "", fmt.Errorf("back up state to %s before upgrading its schema: %w", backup, err)
	}
	return backup, nil
}
