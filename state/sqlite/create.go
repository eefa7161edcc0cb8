package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrEmptyFile is wrapped by Open for a state file of 0 bytes. A new state
// database is never left empty (see create), so such a file is a damaged
// or truncated copy, not a new state: taking it as one would make every
// audience look new.
var ErrEmptyFile = errors.New("state database file is empty (0 bytes)")

// prepareFile makes sure path holds a state database before it is opened:
// a path with no file gets a new, fully formed database (create); an
// existing file of 0 bytes is refused with ErrEmptyFile. (SQLite writes
// the header into the file itself as soon as it switches a database to
// WAL mode, so even a database whose later writes sit in its -wal file is
// never empty on disk.)
func prepareFile(ctx context.Context, path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return create(ctx, path)
	case err != nil:
		return err
	case fi.Mode().IsRegular() && fi.Size() == 0:
		return fmt.Errorf("%w: %s. Nothing was uploaded. An empty file is not a new state: restore the file from a backup "+
			"(audiencesync keeps a copy, %s.v*.bak, before each schema upgrade); or, to start over, delete it, knowing that "+
			"every audience that already holds members is then refused until you pass --adopt or --full-refresh",
			ErrEmptyFile, path, path)
	}
	return nil
}

// create makes a new state database at path, atomically: it is built
// under a temporary name in the same directory, with its schema, and
// linked into place only once complete. Whoever sees a file at path sees
// a whole database, which is what lets prepareFile refuse an empty file
// without mistaking another process's new one for it. If another process
// links its database first, that one is used.
func create(ctx context.Context, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // once linked, path keeps the file
	if err := tmp.Close(); err != nil {
		return err
	}
	// CreateTemp makes the file 0600 whatever the umask.
	db, err := openPool(name, writerParams())
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	err = migrate(ctx, db, migrations)
	// Closing the last connection checkpoints the WAL into the file and
	// removes the -wal and -shm files of the temporary name.
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create a new state database: %w", err)
	}
	err = os.Link(name, path)
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		return nil
	}
	// A file system without hard links: create the file in place. Another
	// process opening it in the moment before its first write would find
	// it empty and refuse it; running again then finds it whole.
	return createPrivate(path)
}
