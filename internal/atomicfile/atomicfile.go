// Package atomicfile replaces a file's contents all at once: a reader, or
// the next start after a crash, finds the old contents or the new ones,
// never part of either. The file destination writes its upload files
// through it and the sandbox its state file; it lives outside both so
// that production connectors need not import the sandbox.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with what write produces, or leaves it as it was:
// it creates path's directory (mode 0700) when missing, write fills a
// temporary file beside path (mode 0600, whatever the umask), which is
// synced and renamed over path only once write and the writes succeeded;
// then the directory is synced so the rename survives a crash too. An
// error of write is returned as it is; a failure leaves no temporary
// file behind. Write does not buffer: a caller writing small pieces wraps
// w in a bufio.Writer and flushes it before returning.
func Write(path string, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp's 0600 is narrowed by the umask, never widened; Chmod
	// makes the mode exact.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	// Not every platform can sync a directory, and the file is complete
	// either way: a failure here is no error.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
