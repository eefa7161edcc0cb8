package api_test

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

var (
	loadFor  = flag.Duration("api-load-for", 10*time.Second, "how long BenchmarkAPIUnderLoad sends requests")
	loadRate = flag.Int("api-load-rate", 200, "requests per second BenchmarkAPIUnderLoad sends")
	loadRuns = flag.Int("api-load-runs", 5000, "runs in the state BenchmarkAPIUnderLoad reads")
	loadIdle = flag.Bool("api-load-idle", false, "BenchmarkAPIUnderLoad without the write load, for comparison")
)

// BenchmarkAPIUnderLoad measures the API's latency on loopback while the
// state store takes the writes of a 1,000,000-member sync: a real server
// on a real SQLite state holding -api-load-runs runs (each with four
// destination summaries and a report), sent -api-load-rate requests a
// second for -api-load-for, half run listings and half reports, fired on
// a fixed schedule whatever the answers' speed (so a slow server cannot
// slow the load down). Meanwhile a writer commits members in batches of
// 10,000 (the batches a Google or Meta upload acknowledges) as fast as
// the store takes them, up to 1,000,000, and records runs. It prints
// p50 and p99; the target is p99 under 50 ms.
//
//	go test -run '^$' -bench APIUnderLoad -benchtime 1x ./api/
func BenchmarkAPIUnderLoad(b *testing.B) {
	bb := setup(b, false, nil)
	base := time.Now().Add(-time.Duration(*loadRuns) * time.Minute).UTC()
	ids := seedLoadRuns(b, bb.store, *loadRuns, base)
	for range b.N {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var committed atomic.Int64
		if !*loadIdle {
			wg.Go(func() { writeLoad(b, bb.store, stop, &committed) })
		}
		lat, failures := sendLoad(b, bb, ids)
		close(stop)
		wg.Wait()
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(lat)), "requests")
		fmt.Printf("api under load: %d requests in %s (%d/s), %d failed; p50 %s, p99 %s, max %s; %d members committed meanwhile\n",
			len(lat), *loadFor, *loadRate, failures, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond),
			lat[len(lat)-1].Round(10*time.Microsecond), committed.Load())
		require.Zero(b, failures)
	}
}

// seedLoadRuns records n finished runs with four summaries and a report
// each, and returns their ids.
func seedLoadRuns(b *testing.B, log state.RunLog, n int, base time.Time) []string {
	b.Helper()
	ids := make([]string, n)
	dests := []string{"google", "meta", "x", "exports/google"}
	for i := range n {
		id := fmt.Sprintf("run-%06d", i)
		ids[i] = id
		sync := []string{"cart-abandoners", "newsletter-subscribers"}[i%2]
		started := base.Add(time.Duration(i) * time.Minute)
		require.NoError(b, log.BeginRun(b.Context(), state.Run{ID: id, Sync: sync, Status: "running", Started: started}))
		sums := make([]state.Summary, len(dests))
		rep := fmt.Sprintf(`{"run_id":%q,"sync":%q,"status":"succeeded","started_at":%q,"finished_at":%q,`+
			`"source":{"read":1000000,"valid":999000,"duplicates":12,"rejected":{"row.malformed":988},"rejected_lines":{"row.malformed":[2,3,5,7,11,13,17,19,23,29]}},"destinations":[`,
			id, sync, started.Format(time.RFC3339), started.Add(time.Minute).Format(time.RFC3339))
		for j, d := range dests {
			sums[j] = state.Summary{Destination: d, Status: "succeeded", Members: 1000000 - int64(i),
				Planned: state.Planned{Add: 1200, Remove: 300, Unchanged: 998500}, Applied: state.Applied{Added: 1200, Removed: 300},
				Platform: &state.PlatformFigures{Status: "SUCCESS", MatchRate: "MATCH_RATE_RANGE_41_TO_50", Size: 990000},
				Started:  started, Finished: started.Add(time.Minute)}
			if j > 0 {
				rep += ","
			}
			rep += fmt.Sprintf(`{"name":%q,"type":"google_ads","profile":"google","status":"succeeded","members":%d,`+
				`"planned":{"add":1200,"remove":300,"update":0,"refresh":0,"unchanged":998500},`+
				`"applied":{"added":1200,"removed":300,"updated":0,"refreshed":0,"failed":0,"not_attempted":0},`+
				`"rejected":{"email.malformed":125,"phone.invalid":20},"batches":3,"retries":0}`, d, 1000000-i)
		}
		rep += `]}`
		require.NoError(b, log.FinishRun(b.Context(), id, "succeeded", started.Add(time.Minute), []byte(rep), sums))
	}
	return ids
}

// writeLoad commits members of one scope in batches of 10,000, as a
// 1,000,000-member sync's uploads are acknowledged, until stop; after
// each 1,000,000 it starts over with removals. The changes are built
// without allocating per member (identifiers packed once, as the engine
// hands the store what it spooled), so that the load is the store's
// writes, not this generator's garbage.
func writeLoad(b *testing.B, store state.Store, stop <-chan struct{}, committed *atomic.Int64) {
	const batch, total = 10000, 1000000
	scope := state.Scope{Sync: "cart-abandoners", Destination: "load"}
	ids := []audience.Identifier{{Kind: audience.Email, Value: strings.Repeat("ab", 32), Hashed: true},
		{Kind: audience.Phone, Value: strings.Repeat("cd", 32), Hashed: true}}
	packed := audience.EncodeIdentifiers(nil, ids)
	changes := make([]state.Change, batch)
	var seed [8]byte
	for pass := 0; ; pass++ {
		for from := 0; from < total; from += batch {
			select {
			case <-stop:
				return
			default:
			}
			for i := range changes {
				binary.BigEndian.PutUint64(seed[:], uint64(from+i))
				sum := sha256.Sum256(seed[:])
				ch := state.Change{Delete: pass%2 == 1}
				copy(ch.Key[:], sum[:16])
				if !ch.Delete {
					copy(ch.Fingerprint[:], sum[16:])
					ch.Packed, ch.LastSent = packed, time.Now()
				}
				changes[i] = ch
			}
			if err := store.Commit(b.Context(), scope, changes); err != nil {
				b.Errorf("commit: %v", err)
				return
			}
			committed.Add(batch)
		}
	}
}

// sendLoad fires the requests and returns their latencies and how many
// did not answer 200.
func sendLoad(b *testing.B, bb *bundle, ids []string) ([]time.Duration, int) {
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		mu       sync.Mutex
		lat      []time.Duration
		failures int
		wg       sync.WaitGroup
	)
	n := int(loadFor.Seconds() * float64(*loadRate))
	tick := time.NewTicker(time.Second / time.Duration(*loadRate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		path := "/api/v1/runs/" + ids[rand.IntN(len(ids))] + "/report"
		if i%2 == 0 {
			path = "/api/v1/runs?limit=50"
			if i%4 == 0 {
				path = "/api/v1/runs?sync=cart-abandoners&status=succeeded&limit=50"
			}
		}
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(b.Context(), "GET", bb.srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+bb.viewer)
			start := time.Now()
			resp, err := client.Do(req)
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			took := time.Since(start)
			mu.Lock()
			lat = append(lat, took)
			if !ok {
				failures++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat, failures
}
