package normalize

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/nyaruka/phonenumbers"
)

// The benchmarks that carry a target report it as a metric measured in the
// same run against its baseline, so machines of any speed compare:
//
//	BenchmarkEmail          x-sha256: normalise+hash+hex time ÷ bare sha256+hex of the same bytes (target ≤ 1.5), 0 allocs/op
//	BenchmarkPhoneNational  speedup: parser time ÷ ours for the same national numbers (target ≥ 6), ns/op ≤ 2000
//	BenchmarkMetaRow        rows/s: Member on one core for email, phone, FN, LN, ZIP, COUNTRY (target ≥ 250,000)
//	BenchmarkHashLines      x-baseline: HashLines ÷ read lines+sha256+hex+write over 1,000,000 e-mail lines (target ≤ 2)

// sameRun times two functions alternately and returns the ratio of their
// best times, which shrugs off noise from neighbours on a shared machine.
func sameRun(rounds int, num, den func()) float64 {
	bestNum, bestDen := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range rounds {
		t0 := time.Now()
		num()
		bestNum = min(bestNum, time.Since(t0))
		t0 = time.Now()
		den()
		bestDen = min(bestDen, time.Since(t0))
	}
	return float64(bestNum) / float64(bestDen)
}

func benchEmails(n int) []string {
	out := make([]string, n)
	for i := range out {
		switch i % 4 {
		case 0:
			out[i] = fmt.Sprintf("  User.Name%d@Example.com ", i)
		case 1:
			out[i] = fmt.Sprintf("quinn.y%d@example.com", i)
		case 2:
			out[i] = fmt.Sprintf("Jefferson.Loves.Hiking%d@gmail.com", i)
		default:
			out[i] = fmt.Sprintf("ALEX+news%d@EXAMPLE.ORG", i)
		}
	}
	return out
}

func sha256Hex(dst []byte, b []byte) []byte {
	sum := sha256.Sum256(b)
	return hex.AppendEncode(dst, sum[:])
}

func asBytes(in []string) [][]byte {
	out := make([][]byte, len(in))
	for i, s := range in {
		out[i] = []byte(s)
	}
	return out
}

// BenchmarkSHA256Hex is the bound for BenchmarkEmail: hashing the raw bytes
// of the same inputs with no normalisation.
func BenchmarkSHA256Hex(b *testing.B) {
	in := asBytes(benchEmails(1024))
	dst := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dst = sha256Hex(dst[:0], in[i&1023])
	}
}

func BenchmarkEmail(b *testing.B) {
	p := mustProfile(b, "google")
	in := benchEmails(1024)
	raw := asBytes(in)
	dst := make([]byte, 0, 64)
	var opts Options
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dst, _ = p.AppendHash(dst[:0], audience.Email, in[i&1023], opts)
	}
	const n = 200_000
	b.ReportMetric(sameRun(11, func() {
		for i := range n {
			dst, _ = p.AppendHash(dst[:0], audience.Email, in[i&1023], opts)
		}
	}, func() {
		for i := range n {
			dst = sha256Hex(dst[:0], raw[i&1023])
		}
	}), "x-sha256")
}

// nationalNumbers are national spellings of example numbers of regions
// CRMs hold most, each with its region.
func nationalNumbers(tb testing.TB) []phoneCase {
	var out []phoneCase
	for _, r := range []string{"US", "GB", "DE", "FR", "IT", "ES", "NL", "BR", "IN", "JP", "AU", "CA", "MX", "PL", "SE"} {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE} {
			if num := phonenumbers.GetExampleNumberForType(r, typ); num != nil {
				out = append(out, phoneCase{phonenumbers.Format(num, phonenumbers.NATIONAL), r})
			}
		}
	}
	if len(out) == 0 {
		tb.Fatal("no example numbers")
	}
	return out
}

func parserE164(c phoneCase) string {
	num, err := phonenumbers.Parse(c.input, c.region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return ""
	}
	return phonenumbers.Format(num, phonenumbers.E164)
}

// BenchmarkPhoneNational is one national number to E.164 with its region
// known, validated; no hashing.
func BenchmarkPhoneNational(b *testing.B) {
	in := nationalNumbers(b)
	countries := make([][2]byte, len(in))
	for i, c := range in {
		copy(countries[i][:], c.region)
	}
	dst := make([]byte, 0, 32)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j := i % len(in)
		dst, _ = appendE164(dst[:0], in[j].input, countries[j])
	}
	b.ReportMetric(sameRun(5, func() {
		for i := range 20_000 {
			_ = parserE164(in[i%len(in)])
		}
	}, func() {
		for i := range 20_000 {
			j := i % len(in)
			dst, _ = appendE164(dst[:0], in[j].input, countries[j])
		}
	}), "speedup")
}

// BenchmarkPhoneParser is the same work through phonenumbers.Parse,
// IsValidNumber and Format.
func BenchmarkPhoneParser(b *testing.B) {
	in := nationalNumbers(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = parserE164(in[i%len(in)])
	}
}

// BenchmarkPhoneHash is a national phone number normalised, hashed and
// hex-encoded for Google.
func BenchmarkPhoneHash(b *testing.B) {
	p := mustProfile(b, "google")
	opts := Options{DefaultRegion: "US"}
	in := []string{"(650) 555-1212", "650.555.0100", "+1 800 555 0199", "1-212-555-0142"}
	dst := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dst, _ = p.AppendHash(dst[:0], audience.Phone, in[i&3], opts)
	}
}

func BenchmarkMetaRow(b *testing.B) {
	p := mustProfile(b, "meta")
	rows := make([]audience.Member, 256)
	for i := range rows {
		m := &rows[i]
		m.Fields[audience.Email] = fmt.Sprintf(" Quinn.Y%d@Example.com", i)
		m.Fields[audience.Phone] = fmt.Sprintf("(650) 555-%04d", 1000+i)
		m.Fields[audience.FirstName] = "Quinn"
		m.Fields[audience.LastName] = "O'Young"
		m.Fields[audience.Zip] = "98121-4892"
		m.Fields[audience.Country] = "US"
	}
	var t Tally
	dst := make([]audience.Identifier, 0, 16)
	opts := Options{DefaultRegion: "US"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dst, _ = p.Member(&rows[i&255], opts, dst[:0], &t)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// hashLinesInput is 1,000,000 e-mail lines.
func hashLinesInput() []byte {
	var buf bytes.Buffer
	in := benchEmails(1024)
	for i := range 1_000_000 {
		buf.WriteString(in[i&1023])
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// hashLinesBaseline is the bound for HashLines: read lines, sha256, hex,
// write, with the same buffering and no normalisation.
func hashLinesBaseline(r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, 1<<20)
	bw := bufio.NewWriterSize(w, 1<<20)
	out := make([]byte, 0, 80)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			sum := sha256.Sum256(bytes.TrimSuffix(line, []byte{'\n'}))
			out = append(hex.AppendEncode(out[:0], sum[:]), '\n')
			if _, err := bw.Write(out); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return bw.Flush()
		}
		if err != nil {
			return err
		}
	}
}

func BenchmarkHashLinesBaseline(b *testing.B) {
	in := hashLinesInput()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := hashLinesBaseline(bytes.NewReader(in), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHashLines(b *testing.B) {
	p := mustProfile(b, "google")
	in := hashLinesInput()
	run := func() {
		if _, err := HashLines(bytes.NewReader(in), io.Discard, p, audience.Email, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		run()
	}
	b.ReportMetric(1e6*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(sameRun(3, run, func() {
		if err := hashLinesBaseline(bytes.NewReader(in), io.Discard); err != nil {
			b.Fatal(err)
		}
	}), "x-baseline")
}
