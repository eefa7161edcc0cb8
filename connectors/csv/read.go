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
	return s.read(ctx, f, req, out)
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
	_, _, err = s.open(f)
	return err
}

// open wraps r in a csv.Reader, decompressing and dropping a byte-order
// mark as needed, and reads the header.
func (s *Source) open(r io.Reader) (*csv.Reader, []string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(len(gzipMagic)); bytes.Equal(magic, gzipMagic) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: gzip header: %w", s.path, err)
		}
		br = bufio.NewReaderSize(gz, 64<<10)
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
		return nil, nil, fmt.Errorf("read %s: the file is empty: its first row must name the columns", s.path)
	case err != nil:
		return nil, nil, fmt.Errorf("read header of %s: %w", s.path, err)
	}
	header = slices.Clone(header) // the reader reuses the slice
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
	}
	return cr, header, nil
}

func (s *Source) read(ctx context.Context, r io.Reader, req connectors.ReadRequest, out connectors.Emitter) error {
	cr, header, err := s.open(r)
	if err != nil {
		return err
	}
	cols, err := mapColumns(header, req)
	if err != nil {
		return fmt.Errorf("csv source %s: %w", s.path, err)
	}
	var (
		m                       audience.Member
		rows, emitted, rejected int64
		lastLine                int
	)
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
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			out.Reject(ReasonMalformed, int64(perr.StartLine))
			rejected++
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
			continue
		}
		m.Line = int64(line)
		if err := out.Emit(&m); err != nil {
			return fmt.Errorf("csv source %s, line %d: %w", s.path, line, err)
		}
		emitted++
	}
	s.log.Debug("csv source read", zap.Int64("rows", rows), zap.Int64("emitted", emitted), zap.Int64("rejected", rejected))
	return nil
}
