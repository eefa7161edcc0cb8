package normalize

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestHashLinesGolden hashes testdata/*.in (named profile_kind[_REGION].in)
// and compares with the .golden beside it; -update rewrites them.
func TestHashLinesGolden(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob("testdata/*.in")
	require.NoError(t, err)
	require.NotEmpty(t, inputs)
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			parts := strings.Split(name, "_")
			require.GreaterOrEqual(t, len(parts), 2, "name files profile_kind[_REGION].in")
			p := mustProfile(t, parts[0])
			k, err := audience.ParseKind(parts[1])
			require.NoError(t, err)
			var opts Options
			if len(parts) > 2 {
				opts.DefaultRegion = parts[2]
			}
			raw, err := os.ReadFile(in)
			require.NoError(t, err)
			var out bytes.Buffer
			tally, err := HashLines(bytes.NewReader(raw), &out, p, k, opts)
			require.NoError(t, err)

			golden := strings.TrimSuffix(in, ".in") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), out.String())

			// One output line per input line, and the tally agrees.
			lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			require.Len(t, got, len(lines))
			var invalid int64
			for i, line := range got {
				if r, ok := strings.CutPrefix(line, "!invalid: "); ok {
					invalid++
					_, want := p.Value(k, strings.TrimSuffix(lines[i], "\r"), opts)
					require.Equal(t, string(want), r)
					continue
				}
				id, r := p.Value(k, strings.TrimSuffix(lines[i], "\r"), opts)
				require.Empty(t, r)
				require.Equal(t, id.Value, line)
			}
			var counted int64
			for _, n := range tally.Rejected {
				counted += n
			}
			require.Equal(t, invalid, counted)
		})
	}
}

func TestHashLines(t *testing.T) {
	t.Parallel()
	google := mustProfile(t, "google")
	tests := []struct {
		name  string
		in    string
		kind  audience.Kind
		want  string
		tally Tally
	}{
		{name: "empty input", in: "", kind: audience.Email, want: ""},
		{name: "one blank line", in: "\n", kind: audience.Email, want: "!invalid: email.empty\n",
			tally: Tally{Rejected: map[Reason]int64{ReasonEmailEmpty: 1}}},
		{name: "no final newline", in: "ALEXZ@example.com", kind: audience.Email,
			want: "509e933019bb285a134a9334b8bb679dff79d0ce023d529af4bd744d47b4fd8a\n"},
		{name: "crlf", in: "ALEXZ@example.com\r\nquinn\r\n", kind: audience.Email,
			want:  "509e933019bb285a134a9334b8bb679dff79d0ce023d529af4bd744d47b4fd8a\n!invalid: email.malformed\n",
			tally: Tally{Rejected: map[Reason]int64{ReasonEmailMalformed: 1}}},
		{name: "prehashed", in: strings.ToUpper(sha("x")) + "\n", kind: audience.Phone, want: sha("x") + "\n", tally: Tally{PreHashed: 1}},
		{name: "clear kind", in: " us \nxx\n", kind: audience.Country, want: "US\n!invalid: country.unknown\n",
			tally: Tally{Rejected: map[Reason]int64{ReasonCountryUnknown: 1}}},
		{name: "too long line", in: "a@example.com\n" + strings.Repeat("x", maxLine+10) + "\nb@example.com", kind: audience.Email,
			want:  sha("a@example.com") + "\n!invalid: line.too_long\n" + sha("b@example.com") + "\n",
			tally: Tally{Rejected: map[Reason]int64{ReasonLineTooLong: 1}}},
		{name: "too long last line", in: strings.Repeat("x", maxLine+10), kind: audience.Email,
			want:  "!invalid: line.too_long\n",
			tally: Tally{Rejected: map[Reason]int64{ReasonLineTooLong: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			tally, err := HashLines(strings.NewReader(tt.in), &out, google, tt.kind, Options{DefaultRegion: "US"})
			require.NoError(t, err)
			require.Equal(t, tt.want, out.String())
			require.Equal(t, tt.tally, tally)
		})
	}
}

func TestHashLinesErrors(t *testing.T) {
	t.Parallel()
	x := mustProfile(t, "x")
	_, err := HashLines(strings.NewReader("a\n"), &bytes.Buffer{}, x, audience.FirstName, Options{})
	require.ErrorContains(t, err, "does not take")

	boom := errors.New("boom")
	_, err = HashLines(errReader{boom}, &bytes.Buffer{}, x, audience.Email, Options{})
	require.ErrorIs(t, err, boom)

	_, err = HashLines(strings.NewReader("a@example.com\n"), errWriter{boom}, x, audience.Email, Options{})
	require.ErrorIs(t, err, boom)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }
