package csv

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// ctxCheckEvery is how many rows pass between context checks: often enough
// to stop promptly, rarely enough to cost nothing.
const ctxCheckEvery = 1024

var (
	gzipMagic = []byte{0x1f, 0x8b}
	utf8BOM   = []byte{0xef, 0xbb, 0xbf}
)

// Read streams the file's rows to out as members.
func (s *Source) Read(ctx context.Context, req connectors.ReadRequest, out connectors.Emitter) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("open csv source: %w", err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open csv source: %w", err)
	}
	if err := s.read(ctx, f, req, out); err != nil {
		return err
	}
	return s.unchanged(f, before)
}

// unchanged fails the read when the file was written to, truncated or
// replaced while it was read: what was read may be part of an export still
// being written, and removing the members it lacks would be wrong. The
// open file and the path are both checked, so an export renamed into place
// is caught as well as one rewritten in place. A named pipe, read as it is
// written, is not checked.
func (s *Source) unchanged(f *os.File, before os.FileInfo) error {
	if !before.Mode().IsRegular() {
		return nil // a pipe or a device: its size and times say nothing
	}
	// The open file catches a rewrite in place, the path a replacement.
	for _, stat := range []func() (os.FileInfo, error){f.Stat, func() (os.FileInfo, error) { return os.Stat(s.path) }} {
		after, err := stat()
		if err != nil {
			return fmt.Errorf("read %s: check that the file did not change while it was read: %w", s.path, err)
		}
		if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
			return fmt.Errorf("read %s: the file changed while it was read (%d bytes, modified %s; now %d bytes, modified %s), so the audience may be incomplete and nothing is removed: "+
				"run again once the export is complete (have the exporter write to a temporary name and rename it into place)",
				s.path, before.Size(), before.ModTime().UTC().Format(time.RFC3339Nano), after.Size(), after.ModTime().UTC().Format(time.RFC3339Nano))
		}
	}
	return nil
}

// Check opens the file and reads its header.
func (s *Source) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("open csv source: %w", err)
	}
	defer f.Close()
	_, _, _, err = s.open(f)
	return err
}

// open wraps r in a csv.Reader, decompressing and dropping a byte-order
// mark as needed, and reads the header.
func (s *Source) open(r io.Reader) (*csv.Reader, []string, *tailReader, error) {
	tail := &tailReader{r: r}
	br := bufio.NewReaderSize(tail, 64<<10)
	if magic, _ := br.Peek(len(gzipMagic)); bytes.Equal(magic, gzipMagic) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read %s: gzip header: %w", s.path, err)
		}
		// What decides a cut row is the text, not the compressed bytes.
		tail = &tailReader{r: gz}
		br = bufio.NewReaderSize(tail, 64<<10)
	}
	if bom, _ := br.Peek(len(utf8BOM)); bytes.Equal(bom, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(br)
	cr.Comma = s.comma
	cr.Comment = s.comment
	cr.LazyQuotes = s.lazy
	cr.FieldsPerRecord = -1 // a row of the wrong width is counted, not fatal
	cr.ReuseRecord = true
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return nil, nil, nil, fmt.Errorf("read %s: the file is empty: its first row must name the columns", s.path)
	case err != nil:
		return nil, nil, nil, fmt.Errorf("read header of %s: %w", s.path, err)
	}
	header = slices.Clone(header) // the reader reuses the slice
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
	}
	return cr, header, tail, nil
}

// tailReader remembers the last byte read through it, so the end of the
// file can be told from a cut: an export cut short usually ends mid-row,
// without the final line break.
type tailReader struct {
	r    io.Reader
	last byte
	any  bool
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.last, t.any = p[n-1], true
	}
	return n, err
}

// endsMidLine reports whether the text read so far stops without a line
// break.
func (t *tailReader) endsMidLine() bool { return t.any && t.last != '\n' }

func (s *Source) read(ctx context.Context, r io.Reader, req connectors.ReadRequest, out connectors.Emitter) error {
	cr, header, tail, err := s.open(r)
	if err != nil {
		return err
	}
	cols, err := mapColumns(header, req)
	if err != nil {
		return fmt.Errorf("csv source %s: %w", s.path, err)
	}
	var (
		// m is reused for every row, its attribute values too: the
		// engine copies what it keeps.
		m                       audience.Member
		rows, emitted, rejected int64
		lastLine                int
		// cutLine is the line of the last record when it was
		// malformed, 0 otherwise: malformed and unterminated, it is
		// most likely a file cut short.
		cutLine int64
	)
	if len(cols.Attrs) > 0 {
		m.Attrs = make([]audience.Value, len(cols.Attrs))
	}
	for {
		if rows%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("read %s: %w", s.path, err)
			}
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		rows++
		cutLine = 0
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			out.Reject(ReasonMalformed, int64(perr.StartLine))
			rejected++
			cutLine = int64(perr.StartLine)
			continue
		}
		if err != nil {
			// An I/O error or corrupt compression: the audience is
			// incomplete, so the engine must not remove anyone.
			return fmt.Errorf("read %s after line %d: %w", s.path, lastLine, err)
		}
		line, _ := cr.FieldPos(0) // a record has at least one field
		lastLine = line
		if reason := cols.fill(&m, rec); reason != "" {
			out.Reject(reason, int64(line))
			rejected++
			if reason == ReasonMalformed {
				cutLine = int64(line)
			}
			continue
		}
		m.Line = int64(line)
		if err := out.Emit(&m); err != nil {
			return fmt.Errorf("csv source %s, line %d: %w", s.path, line, err)
		}
		emitted++
	}
	if cutLine > 0 && tail.endsMidLine() {
		return fmt.Errorf("read %s: the last row (line %d) is malformed and has no line break: the file looks cut short, so nothing is removed: "+
			"check that the export finished (or fix the last row) and run again", s.path, cutLine)
	}
	s.log.Debug("csv source read", zap.Int64("rows", rows), zap.Int64("emitted", emitted), zap.Int64("rejected", rejected))
	return nil
}
