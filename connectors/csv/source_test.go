package csv_test

import (
	"bytes"
	"compress/gzip"
	stdcsv "encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/csv"
)

// header is the layout conformance files use.
var header = []string{"id", "email", "phone", "first_name", "last_name", "zip", "country", "ad_user_data", "ad_personalization"}

var kindColumns = map[audience.Kind]string{
	audience.Email: "email", audience.Phone: "phone", audience.FirstName: "first_name",
	audience.LastName: "last_name", audience.Zip: "zip", audience.Country: "country",
}

func conformanceRequest() connectors.ReadRequest {
	return connectors.ReadRequest{
		Key:     "id",
		Fields:  kindColumns,
		Consent: connectors.ConsentFields{AdUserData: "ad_user_data", AdPersonalization: "ad_personalization"},
	}
}

// encode writes members as CSV rows with comma as delimiter.
func encode(t *testing.T, members []audience.Member, comma rune) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := stdcsv.NewWriter(&buf)
	w.Comma = comma
	require.NoError(t, w.Write(header))
	for _, m := range members {
		require.NoError(t, w.Write(row(m)))
	}
	w.Flush()
	require.NoError(t, w.Error())
	return buf.Bytes()
}

func row(m audience.Member) []string {
	return []string{
		m.Key, m.Fields[audience.Email], m.Fields[audience.Phone], m.Fields[audience.FirstName],
		m.Fields[audience.LastName], m.Fields[audience.Zip], m.Fields[audience.Country],
		connectortest.ConsentValue(m.Consent.AdUserData), connectortest.ConsentValue(m.Consent.AdPersonalization),
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, err := gz.Write(b)
	require.NoError(t, err)
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

func writeFile(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, content, 0o600))
	return path
}

func newSource(t *testing.T, s csv.Settings) connectors.Source {
	t.Helper()
	src, err := csv.Spec().NewSource(&s, connectors.Env{})
	require.NoError(t, err)
	return src
}

func TestConformance(t *testing.T) {
	t.Parallel()
	variants := []struct {
		name     string
		file     string
		settings csv.Settings
		content  func(t *testing.T, members []audience.Member) []byte
	}{
		{"comma", "contacts.csv", csv.Settings{}, func(t *testing.T, ms []audience.Member) []byte { return encode(t, ms, ',') }},
		{"tab_gzip", "contacts.tsv.gz", csv.Settings{Delimiter: "tab"}, func(t *testing.T, ms []audience.Member) []byte {
			return gzipped(t, encode(t, ms, '\t'))
		}},
		{"semicolon_bom", "contacts.csv", csv.Settings{Delimiter: ";"}, func(t *testing.T, ms []audience.Member) []byte {
			return append([]byte("\xef\xbb\xbf"), encode(t, ms, ';')...)
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			connectortest.Source(t, connectortest.SourceHarness{
				New: func(t *testing.T, members []audience.Member) (connectors.Source, connectors.ReadRequest) {
					s := v.settings
					s.Path = writeFile(t, v.file, v.content(t, members))
					return newSource(t, s), conformanceRequest()
				},
				Failing: func(t *testing.T, members []audience.Member, after int) (connectors.Source, connectors.ReadRequest) {
					return newSource(t, csv.Settings{Path: writeFile(t, "broken.csv.gz", truncatedGzip(t, members, after))}), conformanceRequest()
				},
			})
		})
	}
}

// truncatedGzip compresses the header and the first after members, then
// stops without ending the stream, as a copy cut short does.
func truncatedGzip(t *testing.T, members []audience.Member, after int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, err := gz.Write(encode(t, members[:after], ','))
	require.NoError(t, err)
	require.NoError(t, gz.Flush())
	return buf.Bytes()
}

func TestSpec(t *testing.T) {
	t.Parallel()
	settings := connectortest.Spec(t, csv.Spec())
	require.Equal(t, &csv.Settings{Path: "./exports/contacts.csv", Delimiter: ",", Comment: "#"}, settings)
}
