package salesforce_test

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors/salesforce"
)

// bulkStream generates a Bulk API 2.0 results page of n campaign members
// as it is read, so the input takes no memory however large: Contacts
// with Contact.* columns, every fifth a Lead with Lead.* columns, some
// values quoted as Salesforce quotes them.
type bulkStream struct {
	n, row int
	buf    []byte
	off    int
}

const bulkHeader = "Id,ContactId,LeadId,Contact.Email,Contact.Phone,Contact.MailingPostalCode,Lead.Email,Lead.Phone,Lead.PostalCode\n"

func (s *bulkStream) Read(p []byte) (int, error) {
	for s.off == len(s.buf) {
		if s.row > s.n {
			return 0, io.EOF
		}
		s.buf, s.off = s.buf[:0], 0
		if s.row == 0 {
			s.buf = append(s.buf, bulkHeader...)
			s.row++
		}
		for ; s.row <= s.n && len(s.buf) < 32<<10; s.row++ {
			s.buf = s.appendRow(s.buf, s.row)
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

func (s *bulkStream) appendRow(b []byte, i int) []byte {
	id := strconv.Itoa(i)
	b = append(b, "00v"...)
	b = append(b, id...)
	if i%5 == 0 {
		b = append(b, ",,00Q"...)
		b = append(b, id...)
		b = append(b, ",,,,lead"...)
		b = append(b, id...)
		b = append(b, "@example.com,\"+1 (303) 555-0100\",80"...)
		return append(append(b, id[len(id)-1]), '\n')
	}
	b = append(b, ",003"...)
	b = append(b, id...)
	b = append(b, ",,contact"...)
	b = append(b, id...)
	b = append(b, "@example.com,+1 202 555 0100,20"...)
	return append(append(b, id[len(id)-1]), ",,,\n"...)
}

// heapWatch discards members, sampling the live heap every 100,000.
type heapWatch struct {
	rows, peak uint64
	ms         runtime.MemStats
}

func (h *heapWatch) Emit(*audience.Member) error { h.tick(); return nil }
func (h *heapWatch) Reject(string, int64)        { h.tick() }

func (h *heapWatch) tick() {
	h.rows++
	if h.rows%100_000 == 0 {
		runtime.ReadMemStats(&h.ms)
		h.peak = max(h.peak, h.ms.HeapInuse)
	}
}

// BenchmarkBulkParse1M parses a 1,000,000-member Bulk results page of a
// campaign read, generated as it streams, on one core, and reports rows
// parsed a second (target ≥ 200,000) and the peak live heap sampled while
// parsing, which stays flat whatever the page's size.
func BenchmarkBulkParse1M(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const members = 1_000_000
	var rows uint64
	var elapsed time.Duration
	var peak uint64
	b.ReportAllocs()
	for b.Loop() {
		w := &heapWatch{}
		runtime.GC()
		start := time.Now()
		n, err := salesforce.ParseBulkPage(&bulkStream{n: members}, w)
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if n != members || w.rows != members {
			b.Fatalf("parsed %d records, handed on %d; want %d", n, w.rows, members)
		}
		rows += uint64(n)
		peak = max(peak, w.peak)
	}
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.Logf("%s rows/s on one core, peak live heap %.1f MB", fmt.Sprintf("%.0f", float64(rows)/elapsed.Seconds()), float64(peak)/(1<<20))
}
