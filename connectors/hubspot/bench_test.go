package hubspot_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/hubspot"
	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/internal/memstat"
	replica "github.com/audiencesync/audiencesync/sandbox/hubspot"
)

// countingEmitter counts what a read yields and keeps nothing.
type countingEmitter struct{ emitted, rejected, declared int64 }

func (c *countingEmitter) Emit(*audience.Member) error { c.emitted++; return nil }
func (c *countingEmitter) Reject(string, int64)        { c.rejected++ }
func (c *countingEmitter) Declare(n int64)             { c.declared = n }

// benchEnv reads a positive integer or duration setting of the benchmark.
func benchEnv[T int | time.Duration](b *testing.B, name string, def T, parse func(string) (T, error)) T {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := parse(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive value", name, v)
	}
	return n
}

// BenchmarkReadList1M reads a 1,000,000-member list from the replica at
// 190 requests per window and compares the time with the least the limit
// allows: (membership pages + batch reads) / (190 per window). HubSpot's
// window is 10 s, which makes the read take over 12 minutes; the
// benchmark uses a 1 s window (the same pacing, ten times faster) unless
// HUBSPOT_BENCH_WINDOW says otherwise (e.g. 10s). HUBSPOT_BENCH_MEMBERS
// changes the list's size. Targets: within 1.2x of the minimum, peak RSS
// under 200 MB.
func BenchmarkReadList1M(b *testing.B) {
	members := benchEnv(b, "HUBSPOT_BENCH_MEMBERS", 1_000_000, strconv.Atoi)
	window := benchEnv(b, "HUBSPOT_BENCH_WINDOW", time.Second, time.ParseDuration)
	const limit = 190
	rep := replica.New(replica.Options{RateLimit: limit, Window: window, DailyLimit: 10_000_000})
	id := rep.AddSyntheticList("Benchmark list", members)
	ts := httptest.NewServer(rep)
	b.Cleanup(ts.Close)
	src, err := hubspot.New(&hubspot.Settings{Settings: platformconn.Settings{Endpoint: ts.URL},
		AccessToken: auth.NewSecret(replicacreds.AccessToken)}, connectors.Env{})
	if err != nil {
		b.Fatal(err)
	}
	req := connectors.ReadRequest{Audience: "id:" + id, Fields: map[audience.Kind]string{
		audience.Email: "email", audience.Phone: "phone", audience.FirstName: "firstname", audience.LastName: "lastname"},
		Consent: connectors.ConsentFields{AdUserData: "hs_email_optout"}}
	pages := (members + hubspot.MembershipPage - 1) / hubspot.MembershipPage
	reads := (members + hubspot.BatchRead - 1) / hubspot.BatchRead
	minimum := time.Duration(float64(pages+reads) / limit * float64(window))
	b.ResetTimer()
	for range b.N {
		memstat.ResetPeakRSS()
		out := &countingEmitter{}
		start := time.Now()
		if err := src.Read(b.Context(), req, out); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		if out.emitted != int64(members) {
			b.Fatalf("emitted %d of %d", out.emitted, members)
		}
		peak := memstat.PeakRSS()
		b.ReportMetric(took.Seconds()/minimum.Seconds(), "x-limit-minimum")
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
		fmt.Printf("BenchmarkReadList1M: %d members, %d pages + %d batch reads at %d per %s: took %s, the limit allows %s at best (%.3fx); peak RSS %.0f MB (targets: 1.2x, 200 MB)\n",
			members, pages, reads, limit, window, took.Round(time.Millisecond), minimum.Round(time.Millisecond),
			took.Seconds()/minimum.Seconds(), float64(peak)/(1<<20))
	}
}
