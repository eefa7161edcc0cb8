package configs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/audiencesync/audiencesync/connectors"
)

// localFiles checks that every local file a connection reads exists, is a
// file and can be opened for reading, in connection order.
func (l *loader) localFiles() {
	conns := make([]*Connection, 0, len(l.cfg.Connections))
	for _, c := range l.cfg.Connections {
		conns = append(conns, c)
	}
	slices.SortFunc(conns, func(a, b *Connection) int { return a.Line - b.Line })
	for _, c := range conns {
		fr, ok := c.Settings.(connectors.FileReader)
		if !ok {
			continue
		}
		for _, f := range fr.LocalFiles() {
			if f.Path == "" {
				continue // Validate reported it
			}
			if msg := unreadable(f.Path, l.baseDir); msg != "" {
				l.ps.addf(lineAt(c.Node, f.Key), "connection %q: %s %s %s", c.Name, f.Key, f.Path, msg)
			}
		}
	}
}

// unreadable says what is wrong with the file at path (relative to
// baseDir) and what to do, or "" when it can be read.
func unreadable(path, baseDir string) string {
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(baseDir, path)
	}
	where := ""
	if abs != path {
		where = fmt.Sprintf(" (%s: a relative path is taken from the config file's directory)", abs)
	}
	f, err := os.Open(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist" + where + ": export the file there, or correct the path"
	case errors.Is(err, fs.ErrPermission):
		return "cannot be read" + where + ": permission denied; make it readable by the user audiencesync runs as"
	case err != nil:
		return fmt.Sprintf("cannot be opened%s: %v", where, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return fmt.Sprintf("cannot be read%s: %v", where, err)
	case fi.IsDir():
		return "is a directory" + where + ": point it at the exported file"
	}
	return ""
}
