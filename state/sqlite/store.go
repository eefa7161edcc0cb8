// Package sqlite is the embedded state store: one SQLite file per
// installation, in WAL mode, written by one connection at a time and read by
// a small pool of connections that never block on the writer.
//
// Layout. Each (sync, destination) scope gets a small integer id in the
// scopes table; members are kept in a WITHOUT ROWID table clustered on
// (scope_id, key), so a member row is its 16-byte key, its 16-byte
// fingerprint, the time it was last sent (unix microseconds, UTC) and its
// identifiers packed with audience.EncodeIdentifiers (32 raw bytes per
// hash). Streaming a scope is one range scan in key order. Runs keep their
// report as JSON beside one run_summaries row per destination (typed
// figures, indexed by scope and end time for size history), and
// pending_requests holds the platform request ids still to poll.
//
// The file is created with mode 0600 and the store tightens the database,
// -wal and -shm files to 0600 on open whatever the umask; the record a
// clean Close leaves beside it (NAME.clean: the file's size and CRC-32C,
// see leftClean) is 0600 too. It holds only what
// the engine commits: hashes, fingerprints and times, never contact data in
// clear.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/audiencesync/audiencesync/state"
)

var _ state.Store = (*Store)(nil)

// busyTimeoutMS is how long a connection waits for another process holding
// the database lock before failing with SQLITE_BUSY.
const busyTimeoutMS = 10000

// writerCacheKiB is the writer's page cache. Commits of random member keys
// touch pages all over the members table; a cache that holds most of a
// large audience's pages saves reading them back for every commit.
const writerCacheKiB = 64 << 10

// walCheckpointPages is how large the WAL grows (in pages) before a commit
// copies it back into the database. A 10,000-member commit dirties
// thousands of pages; checkpointing after every one would write each page
// twice and fsync each time.
const walCheckpointPages = 16384

// Readers do not memory-map the file: a plan streams every member once, and
// mapped pages of a large state file would count toward the process's
// resident memory (hundreds of MB for a million members) for little gain
// over the OS page cache.

// Store is a state.Store backed by one SQLite file. It is safe for
// concurrent use; writes are serialised in-process, reads run in parallel
// with them.
type Store struct {
	path string

	// writeMu serialises write transactions: SQLite admits one writer, and
	// queueing here is cheaper and fairer than retrying on SQLITE_BUSY.
	writeMu sync.Mutex
	write   *sql.DB // one connection
	read    *sql.DB // query-only connections

	// runs keeps what was read of finished runs (runcache.go).
	runs *runCache
	// stmts are the read pool's prepared statements (stmts.go).
	stmts stmtCache

	// backup is the copy Open made before upgrading the schema; "" when
	// it made none.
	backup string

	closeOnce sync.Once
	closeErr  error
}

// Open opens the state database at path, creating it (mode 0600) where no
// file exists and migrating its schema as needed. It refuses a database
// written by a newer audiencesync (ErrSchemaTooNew), a SQLite file that
// belongs to another application (ErrForeignDatabase), a damaged one
// (ErrCorrupt, after SQLite's quick check, which a file still as a clean
// Close left it skips) and a file of 0 bytes
// (ErrEmptyFile). Before a schema upgrade it copies the file (see
// Backup).
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open state database: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open state database %s: %w", path, err)
	}
	if err := prepareFile(ctx, abs); err != nil {
		return nil, fmt.Errorf("open state database %s: %w", path, err)
	}

	return open(ctx, abs, migrations, time.Now)
}

// open is Open with the schema steps and the clock as parameters, for
// tests of upgrades.
func open(ctx context.Context, abs string, steps []migration, now func() time.Time) (*Store, error) {
	// A damaged file is refused before anything is planned from it, and
	// before a migration could write over it. A file as a clean Close left
	// it needs no check (see leftClean).
	if !leftClean(abs) {
		if err := quickCheck(ctx, abs); err != nil {
			return nil, err
		}
	}
	s := &Store{path: abs, runs: newRunCache()}
	var err error
	s.write, err = openPool(abs, writerParams())
	if err != nil {
		return nil, fmt.Errorf("open state database %s: %w", abs, err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	backup, err := backupBeforeMigration(ctx, s.write, abs, len(steps), now())
	if err == nil {
		err = migrateRetrying(ctx, s.write, steps)
	}
	if err != nil {
		s.write.Close()
		if backup != "" {
			return nil, fmt.Errorf("open state database %s: %w (the file as it was is in %s)", abs, corruptOr(abs, err), backup)
		}
		return nil, fmt.Errorf("open state database %s: %w", abs, corruptOr(abs, err))
	}
	s.backup = backup

	s.read, err = openPool(abs, readerParams())
	if err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open state database %s: %w", abs, err)
	}
	// Sixteen readers, whatever the cores: the API and the web UI read
	// beside a run, and a request holding a connection while it waits for
	// a core made the others queue for the pool (block profile of
	// BenchmarkAPIUnderLoad: 2.3 ms a request waiting on database/sql at
	// four connections). Each reader's page cache is SQLite's default.
	readers := max(16, runtime.GOMAXPROCS(0))
	s.read.SetMaxOpenConns(readers)
	s.read.SetMaxIdleConns(readers)
	if err := s.read.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open state database %s: %w", abs, err)
	}

	// The writer has put the file in WAL mode, so -wal and -shm exist now.
	// SQLite gives them the database file's mode, but a permissive file
	// created by someone else would leak through; tighten all three.
	if err := tightenModes(abs); err != nil {
		s.Close()
		return nil, fmt.Errorf("open state database %s: %w", abs, err)
	}
	return s, nil
}

// Backup returns the path of the copy Open made of the database before it
// upgraded the schema, or "" when it made none.
func (s *Store) Backup() string { return s.backup }

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database. Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		errs := []error{s.stmts.close()}
		if s.read != nil {
			errs = append(errs, s.read.Close())
		}
		// Closing the last connection checkpoints the WAL into the file.
		errs = append(errs, s.write.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close state database %s: %w", s.path, err)
			return
		}
		markClean(s.path)
	})
	return s.closeErr
}

// migrateRetrying runs migrate, asking again for up to the busy timeout
// while SQLite answers SQLITE_BUSY. Two processes opening one new file at
// once get that answer straight away, without the busy timeout, while
// the other switches the file to WAL mode.
func migrateRetrying(ctx context.Context, db *sql.DB, steps []migration) error {
	deadline := time.Now().Add(busyTimeoutMS * time.Millisecond)
	for {
		err := migrate(ctx, db, steps)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// isBusy reports whether err is SQLITE_BUSY or one of its extended codes.
func isBusy(err error) bool {
	var se interface{ Code() int }
	return errors.As(err, &se) && se.Code()&0xff == 5
}

// createPrivate creates path with mode 0600 unless it exists already.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The umask may have removed bits we need (say 0277); set it exactly.
	return os.Chmod(path, 0o600)
}

// tightenModes removes group and other permissions from the database file
// and its WAL and shared-memory files.
func tightenModes(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
			return fmt.Errorf("restrict permissions of %s: %w", p, err)
		}
	}
	return nil
}

func writerParams() url.Values {
	q := pragmas("journal_mode(WAL)", "synchronous(NORMAL)", fmt.Sprintf("cache_size(%d)", -writerCacheKiB),
		fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointPages))
	// Take the write lock at BEGIN, so a transaction never fails half-way
	// when another process writes; busy_timeout makes BEGIN wait instead.
	q.Set("_txlock", "immediate")
	return q
}

func readerParams() url.Values {
	return pragmas("query_only(1)", "mmap_size(0)")
}

// pragmas are DSN parameters setting, on every connection of a pool, the
// busy timeout, foreign keys and then each of more, in order.
func pragmas(more ...string) url.Values {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	for _, p := range more {
		q.Add("_pragma", p)
	}
	return q
}

// openPool opens a connection pool on path with the given DSN parameters.
// The path goes in a file: URI so that '?', '#' and '%' in it are safe.
func openPool(path string, params url.Values) (*sql.DB, error) {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), OmitHost: true, RawQuery: params.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	return db, nil
}
