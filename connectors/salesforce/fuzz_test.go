package salesforce_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors/salesforce"
)

// tally counts what a parse hands on, and checks every member has a key.
type tally struct {
	t                 *testing.T
	emitted, rejected int64
}

func (c *tally) Emit(m *audience.Member) error {
	if m.Key == "" {
		c.t.Fatalf("member %d emitted without a key", m.Line)
	}
	c.emitted++
	return nil
}

func (c *tally) Reject(string, int64) { c.rejected++ }

// FuzzBulkCSV feeds arbitrary bytes to the Bulk results parser, both as
// raw rows and as a campaign read: neither may panic, every record has
// one value per header column, and every record parsed is handed on as a
// member or a rejection.
func FuzzBulkCSV(f *testing.F) {
	for _, seed := range []string{
		"Id,ContactId,LeadId,Contact.Email,Lead.Email\n00v1,0031,,contact0001@example.com,\n00v2,,00Q1,,lead0001@example.com\n",
		"Id,ContactId,LeadId,Contact.Email,Lead.Email\r\n00v1,0031,,\"contact,0001@example.com\",\r\n",
		"\"Id\",\"ContactId\",\"LeadId\",\"Contact.Email\",\"Lead.Email\"\n\"00v1\",\"\",\"\",\"\",\"\"\n",
		"Id,ContactId,LeadId,Contact.Email,Lead.Email\n00v1,\"multi\nline\",,x,\n",
		"Id,ContactId\n1,2\n",
		"Id,Id\n",
		"",
		"\n",
		"Id,ContactId,LeadId,Contact.Email,Lead.Email\n00v1,\"unterminated\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := salesforce.NewCSVRows(bytes.NewReader(data))
		if err == nil {
			width := len(rows.Header())
			for {
				rec, err := rows.Next()
				if errors.Is(err, io.EOF) || err != nil {
					break
				}
				if len(rec) != width {
					t.Fatalf("record of %d values under a header of %d", len(rec), width)
				}
			}
		}
		c := &tally{t: t}
		n, err := salesforce.ParseBulkPage(bytes.NewReader(data), c)
		if err == nil && n != c.emitted+c.rejected {
			t.Fatalf("parsed %d records, handed on %d", n, c.emitted+c.rejected)
		}
	})
}
