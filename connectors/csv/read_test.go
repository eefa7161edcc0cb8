package csv_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/csv"
)

// emailRequest maps the columns most tests use.
var emailRequest = connectors.ReadRequest{
	Key:    "id",
	Fields: map[audience.Kind]string{audience.Email: "email", audience.Phone: "phone"},
}

type result struct {
	members []audience.Member
	rejects []connectortest.Rejection
	err     error
}

func read(t *testing.T, s csv.Settings, content string, req connectors.ReadRequest) result {
	t.Helper()
	if s.Path == "" {
		s.Path = writeFile(t, "contacts.csv", []byte(content))
	}
	var rec connectortest.Recorder
	err := newSource(t, s).Read(t.Context(), req, &rec)
	return result{members: rec.Members(), rejects: rec.Rejections(), err: err}
}

// short describes members by key, email and line for compact comparisons.
type short struct {
	Key, Email string
	Line       int64
}

func shorten(ms []audience.Member) []short {
	out := make([]short, len(ms))
	for i, m := range ms {
		out[i] = short{m.Key, m.Fields[audience.Email], m.Line}
	}
	return out
}

func TestDelimiters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, delimiter, sep string
	}{
		{"default comma", "", ","},
		{"comma", ",", ","},
		{"semicolon", ";", ";"},
		{"pipe", "|", "|"},
		{"tab word", "tab", "\t"},
		{"tab escape", `\t`, "\t"},
		{"tab char", "\t", "\t"},
		{"non-ascii", "§", "§"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			content := strings.Join([]string{
				strings.Join([]string{"id", "email", "phone"}, tt.sep),
				strings.Join([]string{"1", "ada@example.com", "+1 555 555 0100"}, tt.sep),
			}, "\n") + "\n"
			r := read(t, csv.Settings{Delimiter: tt.delimiter}, content, emailRequest)
			require.NoError(t, r.err)
			require.Len(t, r.members, 1)
			require.Equal(t, "+1 555 555 0100", r.members[0].Fields[audience.Phone])
			require.Equal(t, []short{{"1", "ada@example.com", 2}}, shorten(r.members))
		})
	}
}

func TestGzipDetectedByContent(t *testing.T) {
	t.Parallel()
	content := []byte("id,email,phone\n1,ada@example.com,\n2,bob@example.com,\n")
	for _, name := range []string{"contacts.csv.gz", "contacts.csv"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, name, gzipped(t, content))
			r := read(t, csv.Settings{Path: path}, "", emailRequest)
			require.NoError(t, r.err)
			require.Equal(t, []short{{"1", "ada@example.com", 2}, {"2", "bob@example.com", 3}}, shorten(r.members))
		})
	}
}

func TestCorruptGzipFailsRead(t *testing.T) {
	t.Parallel()
	good := gzipped(t, []byte("id,email,phone\n1,ada@example.com,\n2,bob@example.com,\n"))
	tests := map[string][]byte{
		"checksum":  append(append([]byte{}, good[:len(good)-8]...), 0, 0, 0, 0, 0, 0, 0, 0),
		"truncated": good[:len(good)-12],
		"trailing":  append(append([]byte{}, good...), "garbage"...),
		"header":    []byte{0x1f, 0x8b, 0, 1, 2},
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "contacts.csv.gz", content)
			r := read(t, csv.Settings{Path: path}, "", emailRequest)
			require.Error(t, r.err, "a corrupt file must fail the read so nothing is removed")
			require.Contains(t, r.err.Error(), path)
		})
	}
}

func TestByteOrderMark(t *testing.T) {
	t.Parallel()
	r := read(t, csv.Settings{}, "\xef\xbb\xbfid,email,phone\n1,ada@example.com,\n", emailRequest)
	require.NoError(t, r.err, "the BOM must not become part of the first column's name")
	require.Equal(t, []short{{"1", "ada@example.com", 2}}, shorten(r.members))
}

func TestQuotedFields(t *testing.T) {
	t.Parallel()
	content := "id,email,phone,last_name\n" +
		"1,ada@example.com,,\"Two\nLines, and a comma\"\n" +
		"2,\"bob@example.com\",\"+1 555, 555 0101\",\"Says \"\"hi\"\"\"\n" +
		"\n" + // blank lines are skipped but counted
		"3,carol@example.com,,\r\n"
	req := emailRequest
	req.Fields = map[audience.Kind]string{audience.Email: "email", audience.Phone: "phone", audience.LastName: "last_name"}
	r := read(t, csv.Settings{}, content, req)
	require.NoError(t, r.err)
	require.Empty(t, r.rejects)
	require.Equal(t, []short{{"1", "ada@example.com", 2}, {"2", "bob@example.com", 4}, {"3", "carol@example.com", 6}}, shorten(r.members))
	require.Equal(t, "Two\nLines, and a comma", r.members[0].Fields[audience.LastName])
	require.Equal(t, "+1 555, 555 0101", r.members[1].Fields[audience.Phone])
	require.Equal(t, `Says "hi"`, r.members[1].Fields[audience.LastName])
	require.Empty(t, r.members[2].Fields[audience.LastName])
}

func TestMalformedRowsCountedWithLines(t *testing.T) {
	t.Parallel()
	content := "id,email,phone\n" +
		"1,ada@example.com,\n" +
		"2,bo\"b@example.com,\n" + // bare quote
		"3,carol@example.com\n" + // short
		"4,dan@example.com,,extra\n" + // long
		"5,\"erin@example.com\"x,\n" + // text after a closing quote
		"6,frank@example.com,\n"
	r := read(t, csv.Settings{}, content, emailRequest)
	require.NoError(t, r.err, "malformed rows are counted, not fatal")
	require.Equal(t, []short{{"1", "ada@example.com", 2}, {"6", "frank@example.com", 7}}, shorten(r.members))
	require.Equal(t, []connectortest.Rejection{
		{Reason: csv.ReasonMalformed, Line: 3},
		{Reason: csv.ReasonMalformed, Line: 4},
		{Reason: csv.ReasonMalformed, Line: 5},
		{Reason: csv.ReasonMalformed, Line: 6},
	}, r.rejects)

	t.Run("lazy quotes accept stray quotes", func(t *testing.T) {
		t.Parallel()
		r := read(t, csv.Settings{LazyQuotes: true}, "id,email,phone\n1,bo\"b@example.com,\n", emailRequest)
		require.NoError(t, r.err)
		require.Equal(t, []short{{"1", "bo\"b@example.com", 2}}, shorten(r.members))
	})

	t.Run("unterminated quote at end of file", func(t *testing.T) {
		t.Parallel()
		r := read(t, csv.Settings{}, "id,email,phone\n1,ada@example.com,\n2,\"bob@example.com,\n3,x,\n", emailRequest)
		require.NoError(t, r.err)
		require.Equal(t, []short{{"1", "ada@example.com", 2}}, shorten(r.members))
		require.Equal(t, []connectortest.Rejection{{Reason: csv.ReasonMalformed, Line: 3}}, r.rejects)
	})
}

func TestCommentLines(t *testing.T) {
	t.Parallel()
	content := "id,email,phone\n# exported by a CRM\n1,ada@example.com,\n"
	r := read(t, csv.Settings{Comment: "#"}, content, emailRequest)
	require.NoError(t, r.err)
	require.Equal(t, []short{{"1", "ada@example.com", 3}}, shorten(r.members))
}

func TestMissingColumns(t *testing.T) {
	t.Parallel()
	req := connectors.ReadRequest{
		Key:     "contact_id",
		Fields:  map[audience.Kind]string{audience.Email: "email", audience.Phone: "mobile"},
		Consent: connectors.ConsentFields{AdUserData: "consent"},
	}
	r := read(t, csv.Settings{}, "id, email ,phone\n1,ada@example.com,\n", req)
	require.Error(t, r.err)
	msg := r.err.Error()
	for _, want := range []string{`"mobile" (field phone)`, `"contact_id" (key)`, `"consent" (consent ad_user_data)`, `"id", "email", "phone"`} {
		require.Contains(t, msg, want)
	}
	require.NotContains(t, msg, `"email" (field email)`, "header names are trimmed")
	require.Empty(t, r.members, "nothing is read when the mapping is wrong")

	t.Run("duplicate column", func(t *testing.T) {
		t.Parallel()
		r := read(t, csv.Settings{}, "id,email,email,phone\n", emailRequest)
		require.ErrorContains(t, r.err, `"email" (field email) appears more than once`)
	})

	t.Run("headerless file does not leak its first row", func(t *testing.T) {
		t.Parallel()
		r := read(t, csv.Settings{}, "1,ada@example.com,+15555550100\n", emailRequest)
		require.ErrorContains(t, r.err, "does not look like a header")
		require.NotContains(t, r.err.Error(), "ada@")
		require.NotContains(t, r.err.Error(), "5555550100")
	})

	t.Run("empty file", func(t *testing.T) {
		t.Parallel()
		r := read(t, csv.Settings{}, "", emailRequest)
		require.ErrorContains(t, r.err, "the file is empty")
	})
}

func TestConsent(t *testing.T) {
	t.Parallel()
	content := "id,email,phone,aud,ap\n" +
		"1,ada@example.com,,granted,denied\n" +
		"2,bob@example.com,,Yes,no\n" +
		"3,carol@example.com,,,\n" +
		"4,dan@example.com,,maybe,granted\n" +
		"5,erin@example.com,,granted,perhaps\n" +
		"6,frank@example.com,, TRUE ,0\n"
	req := emailRequest
	req.Consent = connectors.ConsentFields{AdUserData: "aud", AdPersonalization: "ap"}
	r := read(t, csv.Settings{}, content, req)
	require.NoError(t, r.err)
	g, d, u := audience.ConsentGranted, audience.ConsentDenied, audience.ConsentUnspecified
	var got []audience.Consent
	for _, m := range r.members {
		got = append(got, m.Consent)
	}
	require.Equal(t, []audience.Consent{{AdUserData: g, AdPersonalization: d}, {AdUserData: g, AdPersonalization: d}, {AdUserData: u, AdPersonalization: u}, {AdUserData: g, AdPersonalization: d}}, got)
	require.Equal(t, []connectortest.Rejection{
		{Reason: csv.ReasonInvalidConsent, Line: 5},
		{Reason: csv.ReasonInvalidConsent, Line: 6},
	}, r.rejects)
}

func TestKey(t *testing.T) {
	t.Parallel()
	content := "id,email,phone\n 1 ,ada@example.com,\n,bob@example.com,\n   ,carol@example.com,\n"
	r := read(t, csv.Settings{}, content, emailRequest)
	require.NoError(t, r.err)
	require.Equal(t, []short{{"1", "ada@example.com", 2}}, shorten(r.members))
	require.Equal(t, []connectortest.Rejection{
		{Reason: csv.ReasonMissingKey, Line: 3},
		{Reason: csv.ReasonMissingKey, Line: 4},
	}, r.rejects)

	t.Run("no key column", func(t *testing.T) {
		t.Parallel()
		req := emailRequest
		req.Key = ""
		r := read(t, csv.Settings{}, content, req)
		require.NoError(t, r.err)
		require.Len(t, r.members, 3)
		require.Empty(t, r.members[0].Key)
	})
}

func TestRejectionsHoldNoContent(t *testing.T) {
	t.Parallel()
	// Errors and reasons identify rows by line only.
	r := read(t, csv.Settings{}, "id,email,phone\n1,\"ada@example.com\n", emailRequest)
	require.NoError(t, r.err)
	for _, rej := range r.rejects {
		require.NotContains(t, rej.Reason, "ada")
	}
}

func TestMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "absent.csv")
	r := read(t, csv.Settings{Path: path}, "", emailRequest)
	require.ErrorIs(t, r.err, os.ErrNotExist)
}

func TestRelativePathResolvesAgainstBaseDir(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "contacts.csv", []byte("id,email,phone\n1,ada@example.com,\n"))
	src, err := csv.New(&csv.Settings{Path: "contacts.csv"}, connectors.Env{BaseDir: filepath.Dir(path)})
	require.NoError(t, err)
	var rec connectortest.Recorder
	require.NoError(t, src.Read(t.Context(), emailRequest, &rec))
	require.Len(t, rec.Members(), 1)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{"readable", []byte("id,email\n"), ""},
		{"gzip", gzipped(t, []byte("id,email\n")), ""},
		{"empty", nil, "the file is empty"},
		{"missing", nil, "no such file"},
		{"bad header", []byte("id,\"email\n"), "read header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "absent.csv")
			if tt.name != "missing" {
				path = writeFile(t, "contacts.csv", tt.content)
			}
			src, err := csv.New(&csv.Settings{Path: path}, connectors.Env{})
			require.NoError(t, err)
			var checker connectors.Checker = src
			err = checker.Check(context.Background())
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		s       csv.Settings
		wantErr string
	}{
		{"minimal", csv.Settings{Path: "a.csv"}, ""},
		{"tab", csv.Settings{Path: "a.csv", Delimiter: "tab", Comment: "#"}, ""},
		{"no path", csv.Settings{}, "path is required"},
		{"long delimiter", csv.Settings{Path: "a.csv", Delimiter: ";;"}, "delimiter must be a single character"},
		{"quote delimiter", csv.Settings{Path: "a.csv", Delimiter: `"`}, "delimiter cannot be a quote"},
		{"newline delimiter", csv.Settings{Path: "a.csv", Delimiter: "\n"}, "delimiter cannot be"},
		{"invalid utf-8", csv.Settings{Path: "a.csv", Delimiter: "\xff"}, "single character"},
		{"long comment", csv.Settings{Path: "a.csv", Comment: "//"}, "comment must be a single character"},
		{"comment is delimiter", csv.Settings{Path: "a.csv", Delimiter: ";", Comment: ";"}, "must differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.s.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			_, err = csv.New(&tt.s, connectors.Env{})
			require.Error(t, err, "New validates too")
		})
	}
}

// TestAttributes reads attributes of each type from their columns: values
// parsed per type, blanks missing, unparsable values invalid — and the row
// kept every time.
func TestAttributes(t *testing.T) {
	t.Parallel()
	content := "id,email,phone,stage,visits,vip,seen,bought\n" +
		"1,ada@example.com,,lead,12,yes,2026-11-30T08:15:00Z,30/11/2026 09:00\n" +
		"2,bob@example.com,,, 3.5 ,0,2026-11-29,\n" +
		"3,carol@example.com,,customer,1,5,2026-13-01,\n" +
		"4,dan@example.com,,,\"1,5\",maybe,last week,2026-11-30T10:00:00+01:00\n"
	req := emailRequest
	req.Attributes = []connectors.Attribute{
		{Name: "stage", Field: "stage", Type: audience.AttrString},
		{Name: "visits", Field: "visits", Type: audience.AttrNumber},
		{Name: "vip", Field: "vip", Type: audience.AttrBool},
		{Name: "last_visit", Field: "seen", Type: audience.AttrTime},
		{Name: "bought_at", Field: "bought", Type: audience.AttrTime, Layout: "02/01/2006 15:04"},
	}
	r := read(t, csv.Settings{}, content, req)
	require.NoError(t, r.err)
	require.Empty(t, r.rejects, "an attribute never rejects a row")
	date := func(s string) audience.Value {
		ts, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return audience.TimeValue(ts)
	}
	bad, none := audience.InvalidValue(), audience.Value{}
	want := [][]audience.Value{
		{audience.StringValue("lead"), audience.NumberValue(12), audience.BoolValue(true), date("2026-11-30T08:15:00Z"), date("2026-11-30T09:00:00Z")},
		{none, audience.NumberValue(3.5), audience.BoolValue(false), date("2026-11-29T00:00:00Z"), none},
		{audience.StringValue("customer"), audience.NumberValue(1), bad, bad, none},
		{none, bad, bad, bad, date("2026-11-30T09:00:00Z")},
	}
	require.Len(t, r.members, len(want))
	for i, m := range r.members {
		require.Equal(t, want[i], m.Attrs, "row %d", i+1)
	}

	t.Run("missing column", func(t *testing.T) {
		t.Parallel()
		req := emailRequest
		req.Attributes = []connectors.Attribute{{Name: "visits", Field: "num_visits", Type: audience.AttrNumber}}
		r := read(t, csv.Settings{}, "id,email,phone\n1,ada@example.com,\n", req)
		require.ErrorContains(t, r.err, `column "num_visits" (attribute visits) is not in the header`)
	})

	t.Run("none asked", func(t *testing.T) {
		t.Parallel()
		r := read(t, csv.Settings{}, content, emailRequest)
		require.NoError(t, r.err)
		for _, m := range r.members {
			require.Empty(t, m.Attrs)
		}
	})
}
