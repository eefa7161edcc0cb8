package sql_test

import (
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	sqlsource "github.com/audiencesync/audiencesync/connectors/sql"
	"github.com/audiencesync/audiencesync/internal/memstat"
)

// BenchmarkReadPostgres1M reads 1,000,000 rows of five columns from
// PostgreSQL through the source into an emitter that only counts, and
// reports rows/s (target ≥ 300,000), the process's peak RSS during the
// read, and the live heap: its growth over the read and its peak after the
// first 100,000 rows against its peak over all of them, which stay equal
// when memory is constant.
func BenchmarkReadPostgres1M(b *testing.B) {
	const rows = 1_000_000
	d := newDatabase(b, sqlsource.DriverPostgres)
	d.exec(b, `CREATE TABLE contacts AS SELECT g AS id, 'member' || g || '@example.com' AS email,
		'+1555' || lpad((g % 10000000)::text, 7, '0') AS phone, lpad((g % 99999)::text, 5, '0') AS zip, 'US' AS country
		FROM generate_series(1, `+strconv.Itoa(rows)+`) g`, `VACUUM ANALYZE contacts`)
	src := d.source(b, nil)
	req := connectors.ReadRequest{Audience: "SELECT id, email, phone, zip, country FROM contacts", Key: "id",
		Fields: map[audience.Kind]string{audience.Email: "email", audience.Phone: "phone", audience.Zip: "zip", audience.Country: "country"}}
	b.ReportAllocs()
	b.ResetTimer()
	var (
		elapsed          time.Duration
		peakRSS          int64
		early, peak, gro uint64
	)
	for b.Loop() {
		runtime.GC()
		memstat.ResetPeakRSS()
		out := &counting{sample: metrics.Sample{Name: "/memory/classes/heap/objects:bytes"}}
		out.base = out.heap()
		start := time.Now()
		require.NoError(b, src.Read(b.Context(), req, out))
		elapsed += time.Since(start)
		require.Equal(b, int64(rows), out.n)
		peakRSS = max(peakRSS, memstat.PeakRSS())
		early, peak = max(early, out.early), max(peak, out.peak)
		gro = max(gro, out.peak-min(out.peak, out.base))
	}
	b.ReportMetric(float64(rows)*float64(b.N)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(gro)/(1<<20), "heap-growth-MB")
	b.ReportMetric(float64(early)/(1<<20), "heap-peak-first-100k-MB")
	b.ReportMetric(float64(peak)/(1<<20), "heap-peak-MB")
}

// counting counts members and samples the live heap every 16,384.
type counting struct {
	n                 int64
	sample            metrics.Sample
	base, early, peak uint64
}

func (c *counting) heap() uint64 {
	s := []metrics.Sample{c.sample}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func (c *counting) Emit(m *audience.Member) error {
	c.n++
	if m.Fields[audience.Email] == "" {
		return os.ErrInvalid
	}
	if c.n%16384 == 0 {
		h := c.heap()
		c.peak = max(c.peak, h)
		if c.n <= 100_000 {
			c.early = max(c.early, h)
		}
	}
	return nil
}

func (*counting) Reject(string, int64) {}
