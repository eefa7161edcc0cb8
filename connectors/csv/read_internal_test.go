package csv

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

var fuzzRequest = connectors.ReadRequest{
	Key:     "id",
	Fields:  map[audience.Kind]string{audience.Email: "email", audience.Phone: "phone"},
	Consent: connectors.ConsentFields{AdUserData: "consent"},
}

// checkingEmitter fails the test on members that break Read's promises.
type checkingEmitter struct {
	t        *testing.T
	lastLine int64
	members  int
}

func (e *checkingEmitter) Emit(m *audience.Member) error {
	if m.Line <= e.lastLine || m.Line < 2 {
		e.t.Fatalf("member line %d after line %d: lines must increase and follow the header", m.Line, e.lastLine)
	}
	if m.Key == "" {
		e.t.Fatal("member without a key emitted although a key column is mapped")
	}
	e.lastLine = m.Line
	e.members++
	return nil
}

func (e *checkingEmitter) Reject(reason string, line int64) {
	if line < 1 {
		e.t.Fatalf("rejection %s at line %d", reason, line)
	}
}

func TestReadErrorMidFile(t *testing.T) {
	t.Parallel()
	errDisk := errors.New("input/output error")
	for name, head := range map[string]string{
		"between records": "id,email,phone,consent\n1,ada@example.com,,\n",
		"inside a record": "id,email,phone,consent\n1,ada@example.com,,\n2,bob@exa",
		"inside quotes":   "id,email,phone,consent\n1,\"ada@example.com",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := &Source{path: "contacts.csv", comma: ',', log: zap.NewNop()}
			r := io.MultiReader(strings.NewReader(head), iotest.ErrReader(errDisk))
			err := s.read(t.Context(), r, fuzzRequest, &checkingEmitter{t: t})
			require.ErrorIs(t, err, errDisk, "an I/O error must fail the read")
		})
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("id,email,phone,consent\n1,ada@example.com,+15555550100,granted\n"), false)
	f.Add([]byte("\xef\xbb\xbfid,email,phone,consent\n1,\"a\nb\",,no\n2,x\"y,,\n"), true)
	f.Add([]byte("id,email,phone,consent\n1,\"unterminated,,\n"), false)
	f.Add([]byte("id,email,phone,consent\r\n\r\n,,,maybe\r\n1,2\n"), false)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte("id,email,phone,consent\n1,bob@example.com,,denied\n"))
	_ = w.Close()
	f.Add(gz.Bytes(), false)
	f.Fuzz(func(t *testing.T, data []byte, lazy bool) {
		s := &Source{path: "fuzz.csv", comma: ',', lazy: lazy, log: zap.NewNop()}
		e := &checkingEmitter{t: t}
		_ = s.read(t.Context(), bytes.NewReader(data), fuzzRequest, e)
	})
}

func BenchmarkRead(b *testing.B) {
	const rows = 1_000_000
	for _, compressed := range []bool{false, true} {
		name := "plain"
		if compressed {
			name = "gzip"
		}
		b.Run(name, func(b *testing.B) {
			path := writeBenchFile(b, rows, compressed)
			info, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			src, err := New(&Settings{Path: path}, connectors.Env{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(info.Size())
			b.ReportAllocs()
			var out countingEmitter
			for b.Loop() {
				out = countingEmitter{}
				if err := src.Read(b.Context(), fuzzRequest, &out); err != nil {
					b.Fatal(err)
				}
			}
			if out.members != rows {
				b.Fatalf("read %d members, want %d", out.members, rows)
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

type countingEmitter struct{ members int }

func (c *countingEmitter) Emit(*audience.Member) error { c.members++; return nil }
func (c *countingEmitter) Reject(string, int64)        {}

func writeBenchFile(b *testing.B, rows int, compressed bool) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "contacts.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var w io.Writer = f
	var gz *gzip.Writer
	if compressed {
		gz = gzip.NewWriter(f)
		w = gz
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "id,email,phone,first_name,last_name,consent")
	for i := range rows {
		fmt.Fprintf(bw, "%d,user%07d@example.com,+1 555-555-%04d,Ada,\"Example, %d\",granted\n", i, i, i%10000, i%100)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return path
}
