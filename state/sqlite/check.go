package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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

// The quick check reads and verifies every b-tree page, which costs more
// than the rest of opening a large state and grows with the file. It can
// only find damage done since the file was last left sound, so Close
// records a checksum of the file it leaves (when it is the last to close
// it and no -wal is left), and Open skips the quick check while the file
// is still byte for byte as that Close left it. Anything else runs it: no
// record (a crash, a copy from elsewhere, an older audiencesync), a -wal
// left beside the file (an unclean shutdown, or another process has it
// open), or any byte changed since, whoever changed it.

// cleanSuffix names the record Close leaves beside the database.
const cleanSuffix = ".clean"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileSum returns the size and CRC-32C of the file at path: reading a file
// and summing it costs far less than verifying its pages.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d %08x\n", n, h.Sum32()), nil
}

// leftClean reports whether the database at path is as a clean Close left
// it: no -wal beside it, and the size and checksum Close recorded.
func leftClean(path string) bool {
	want, err := os.ReadFile(path + cleanSuffix)
	if err != nil {
		return false
	}
	if _, err := os.Lstat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	got, err := fileSum(path)
	return err == nil && got == string(want)
}

// markClean records the checksum of the database as Close leaves it, when
// no -wal is left beside it (the last connection to close checkpoints and
// deletes it). Failing to record costs only a quick check at the next
// open, so errors are dropped; the old record is removed first, so a
// failure never leaves one that could match.
func markClean(path string) {
	marker := path + cleanSuffix
	if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return
	}
	if _, err := os.Lstat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	sum, err := fileSum(path)
	if err != nil {
		return
	}
	// Written aside and renamed, so that two processes closing at once
	// never leave half a record.
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(marker)+".*")
	if err != nil {
		return
	}
	_, werr := tmp.WriteString(sum)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), marker) != nil {
		_ = os.Remove(tmp.Name())
	}
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
