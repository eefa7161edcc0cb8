package normalize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/audiencesync/audiencesync/audience"
)

// maxLine is the longest input line HashLines reads; longer lines are
// answered with "!invalid: line.too_long".
const maxLine = 1 << 20

// HashLines reads one raw value of kind k per line from r and writes one
// line per input line to w: what the platform is sent for it (the
// lowercase hex SHA-256, or the normalised value for a clear kind), or
// "!invalid: REASON". A trailing "\r" is dropped; the last line needs no
// newline. Rejections and values that arrived hashed are counted in the
// returned Tally. A national phone number is read in opts.DefaultRegion.
func HashLines(r io.Reader, w io.Writer, p *Profile, k audience.Kind, opts Options) (Tally, error) {
	var t Tally
	if !p.Accepts(k) {
		return t, fmt.Errorf("hash %s values: the %s profile does not take them (it takes %v)", k, p.name, p.kinds)
	}
	c := ctxFor(&opts)
	br := bufio.NewReaderSize(r, maxLine)
	bw := bufio.NewWriterSize(w, 1<<20)
	out := make([]byte, 0, 256)
	for n := int64(1); ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if err = skipLine(br); err != nil && err != io.EOF {
				return t, fmt.Errorf("read line %d: %w", n, err)
			}
			t.Reject(ReasonLineTooLong)
			if _, werr := bw.WriteString("!invalid: " + string(ReasonLineTooLong) + "\n"); werr != nil {
				return t, fmt.Errorf("write line %d: %w", n, werr)
			}
			if err == io.EOF {
				break
			}
			continue
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return t, fmt.Errorf("read line %d: %w", n, err)
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		// The value is only read during the call, while the buffer holds
		// it; no copy is needed.
		var raw string
		if len(line) > 0 {
			raw = unsafe.String(&line[0], len(line))
		}
		var reason Reason
		var pre bool
		out, pre, reason = p.appendWire(out[:0], k, raw, c)
		switch {
		case reason != "":
			t.Reject(reason)
			out = append(append(out[:0], "!invalid: "...), reason...)
		case pre:
			t.PreHashed++
		}
		out = append(out, '\n')
		if _, werr := bw.Write(out); werr != nil {
			return t, fmt.Errorf("write line %d: %w", n, werr)
		}
		if err == io.EOF {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return t, fmt.Errorf("write output: %w", err)
	}
	return t, nil
}

// skipLine discards the rest of an over-long line, through its newline.
func skipLine(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}
