package csv_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/csv"
)

// A file cut short ends mid-row without a line break. Such a read must
// fail, so the engine removes nothing; a last row that parses, or a bad
// row that was written whole, is no sign of a cut.
func TestCutFileFailsRead(t *testing.T) {
	t.Parallel()
	const head = "id,email,phone\n1,ada@example.com,\n2,bob@example.com,\n"
	tests := []struct {
		name    string
		content string
		gzip    bool
		wantErr string // "" for a read that succeeds
	}{
		{name: "cut inside a row", content: head + "3,carol@exa", wantErr: "the last row (line 4) is malformed and has no line break"},
		{name: "cut inside a quoted field", content: head + "3,\"carol@exa", wantErr: "the last row (line 4) is malformed and has no line break"},
		{name: "cut gzip text", content: head + "3,carol@exa", gzip: true, wantErr: "looks cut short"},
		{name: "last row whole without a line break", content: head + "3,carol@example.com,"},
		{name: "malformed last row with its line break", content: head + "3,carol@example.com\n"},
		{name: "malformed row before a good unterminated one", content: head + "3,carol\n4,dan@example.com,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			content := []byte(tt.content)
			if tt.gzip {
				content = gzipped(t, content)
			}
			path := writeFile(t, "contacts.csv", content)
			r := read(t, csv.Settings{Path: path}, "", emailRequest)
			if tt.wantErr == "" {
				require.NoError(t, r.err)
				return
			}
			require.ErrorContains(t, r.err, tt.wantErr)
			require.ErrorContains(t, r.err, "nothing is removed")
			require.NotContains(t, r.err.Error(), "carol", "the error must not show the row")
		})
	}
}

// mutatingEmitter changes the file once the first member is read, as an
// exporter still writing (or replacing) the file would.
type mutatingEmitter struct {
	connectortest.Recorder
	mutate func()
	done   bool
}

func (e *mutatingEmitter) Emit(m *audience.Member) error {
	if !e.done {
		e.done = true
		e.mutate()
	}
	return e.Recorder.Emit(m)
}

func TestFileChangedDuringReadFailsRead(t *testing.T) {
	t.Parallel()
	var content strings.Builder
	content.WriteString("id,email,phone\n")
	for i := range 5000 {
		fmt.Fprintf(&content, "%d,member%d@example.com,\n", i+1, i+1)
	}
	// A cut at a row boundary, so only the change itself can tell.
	cut := strings.LastIndexByte(content.String()[:content.Len()*95/100], '\n') + 1
	tests := []struct {
		name   string
		mutate func(t *testing.T, path string)
	}{
		{"truncated in place", func(t *testing.T, path string) {
			require.NoError(t, os.Truncate(path, int64(cut)))
		}},
		{"appended to", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString("9,late@example.com,\n")
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
		{"replaced by rename", func(t *testing.T, path string) {
			next := filepath.Join(filepath.Dir(path), "next.csv")
			require.NoError(t, os.WriteFile(next, []byte(content.String()), 0o600))
			require.NoError(t, os.Rename(next, path))
		}},
		{"rewritten with the same size", func(t *testing.T, path string) {
			later := time.Now().Add(time.Minute)
			require.NoError(t, os.Chtimes(path, later, later))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "contacts.csv", []byte(content.String()))
			e := &mutatingEmitter{mutate: func() { tt.mutate(t, path) }}
			err := newSource(t, csv.Settings{Path: path}).Read(t.Context(), emailRequest, e)
			require.ErrorContains(t, err, "the file changed while it was read")
			require.ErrorContains(t, err, "nothing is removed")
		})
	}

	t.Run("an untouched file reads", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, "contacts.csv", []byte(content.String()))
		e := &mutatingEmitter{mutate: func() {}}
		require.NoError(t, newSource(t, csv.Settings{Path: path}).Read(t.Context(), emailRequest, e))
		require.Len(t, e.Members(), 5000)
	})
}

// A named pipe changes as it is written: that is no sign of a partial
// export, and the read succeeds.
func TestNamedPipeReads(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "contacts.csv")
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = f.WriteString("id,email,phone\n")
		time.Sleep(20 * time.Millisecond)
		_, _ = f.WriteString("1,ada@example.com,\n")
	}()
	r := read(t, csv.Settings{Path: path}, "", emailRequest)
	require.NoError(t, r.err)
	require.Len(t, r.members, 1)
}
