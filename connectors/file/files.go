package file

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors/uploadfile"
	"github.com/audiencesync/audiencesync/platform"
)

// uploadFile is an upload file open for appending during a run.
type uploadFile struct {
	path   string
	f      *os.File
	w      *uploadfile.Writer
	gz     *gzip.Writer // nil unless compressing
	closed bool
}

// createUploadFile creates path, which must not exist: run ids are unique,
// so an existing file means two runs collided.
func createUploadFile(path string, p *platform.Platform, kinds []audience.Kind, compress bool) (*uploadFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return nil, fmt.Errorf("create upload file directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create upload file: %w: another destination of this run wrote it (segments of a sync naming one audience on one file connection: give each its own audience name) or a run id was reused", err)
	}
	if err != nil {
		return nil, fmt.Errorf("create upload file: %w", err)
	}
	uf := &uploadFile{path: path, f: f}
	var w io.Writer = f
	if compress {
		uf.gz = gzip.NewWriter(f)
		w = uf.gz
	}
	if uf.w, err = uploadfile.NewWriter(w, p, kinds); err != nil {
		_ = f.Close()
		return nil, err
	}
	return uf, nil
}

func (u *uploadFile) flush() error {
	if err := u.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", u.path, err)
	}
	if u.gz != nil {
		if err := u.gz.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", u.path, err)
		}
	}
	return nil
}

func (u *uploadFile) close() error {
	if u.closed {
		return nil
	}
	u.closed = true
	err := u.flush()
	if u.gz != nil && err == nil {
		err = u.gz.Close()
	}
	if err == nil {
		err = u.f.Sync()
	}
	if cerr := u.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", u.path, cerr)
	}
	return err
}

// newUploadWriter starts an upload file on w; finish flushes it and ends the
// gzip stream, if any, without closing w.
func newUploadWriter(w io.Writer, p *platform.Platform, kinds []audience.Kind, compress bool) (*uploadfile.Writer, func() error, error) {
	var gz *gzip.Writer
	if compress {
		gz = gzip.NewWriter(w)
		w = gz
	}
	uw, err := uploadfile.NewWriter(w, p, kinds)
	if err != nil {
		return nil, nil, err
	}
	finish := func() error {
		if err := uw.Flush(); err != nil {
			return err
		}
		if gz != nil {
			return gz.Close()
		}
		return nil
	}
	return uw, finish, nil
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// safeName turns a sync name, run id or audience name into one path
// element: letters, digits, '.' and '_' are kept, runs of anything else
// become one '-', and leading or trailing dots and dashes go, so no
// name can climb out of its directory.
func safeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), ".-")
	if out == "" {
		return "unnamed"
	}
	return out
}
