package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/engine"
)

// loadSyncs is how many every-minute syncs the load test schedules: 200,
// or 20 under the race detector, whose slowdown would measure itself.
var loadSyncs = map[bool]int{false: 200, true: 20}[raceDetector]

// startLog records, per sync, when its runs started and how many of its
// runs were in progress at once.
type startLog struct {
	mu      sync.Mutex
	starts  map[string][]time.Time
	live    map[string]int
	maxLive int
	done    chan struct{}
	ended   int
}

func (l *startLog) Observe(ev engine.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := ev.(type) {
	case engine.RunStarted:
		l.starts[e.Run.Sync] = append(l.starts[e.Run.Sync], e.StartedAt)
		l.live[e.Run.Sync]++
		l.maxLive = max(l.maxLive, l.live[e.Run.Sync])
	case engine.RunFinished:
		l.live[e.Run.Sync]--
		l.ended++
		if l.ended%loadSyncs == 0 {
			l.done <- struct{}{}
		}
	}
}

// 200 syncs scheduled every minute, on the sandbox (an in-process Google
// replica): at each tick every sync starts within 2s of its tick plus
// its jitter, and never two runs of one sync at once. The fake clock
// moves with real time from just before each tick, so the delays are
// real scheduling and queueing delays, without waiting a real minute.
func TestLoad200SyncsEveryMinute(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeContacts(t, dir, 20)
	var cfg strings.Builder
	cfg.WriteString("state: {path: ./state.db}\nserve: {max_concurrent_runs: 8}\nconnections:\n" +
		"  crm: {type: csv, path: ./contacts.csv}\n" +
		"  google: {type: google_ads, sandbox: true, operating_account: \"1234567890\"}\nsyncs:\n")
	for i := range loadSyncs {
		fmt.Fprintf(&cfg, "  - name: sync-%03d\n    schedule: \"* * * * *\"\n    source: {connection: crm, key: contact_id, fields: {email: email}}\n"+
			"    destinations:\n      - connection: google\n        audience: {name: Audience %03d, membership_days: 540}\n"+
			"        consent: {ad_user_data: granted, ad_personalization: granted}\n", i, i)
	}
	b := setup(t, "", "placeholder", "* * * * *")
	require.NoError(t, os.WriteFile(b.path, []byte(cfg.String()), 0o600))
	writeContacts(t, filepath.Dir(b.path), 20)
	log := &startLog{starts: map[string][]time.Time{}, live: map[string]int{}, done: make(chan struct{}, 4)}
	b.opts.Observer = log
	// Start 10s before a minute, so every sync's first tick is the next
	// minute's.
	b.advanceTo(nextMinute.Add(-10 * time.Second))
	b.create(t)
	jitter := map[string]time.Duration{}
	for i := range loadSyncs {
		name := fmt.Sprintf("sync-%03d", i)
		next, ok := b.d.NextRun(name)
		require.True(t, ok)
		jitter[name] = next.Sub(nextMinute)
	}
	b.start(t, loadSyncs+1)

	for tick := range 2 {
		at := nextMinute.Add(time.Duration(tick) * time.Minute)
		// Follow real time from 1s before the tick until every run ended.
		b.advanceTo(at.Add(-time.Second))
		stop := make(chan struct{})
		go func() {
			step := time.NewTicker(5 * time.Millisecond)
			defer step.Stop()
			last := time.Now()
			for {
				select {
				case <-stop:
					return
				case now := <-step.C:
					b.clock.Advance(now.Sub(last))
					last = now
				}
			}
		}()
		select {
		case <-log.done:
		case <-time.After(60 * time.Second):
			close(stop)
			t.Fatalf("tick %d: the runs did not all end within a minute", tick)
		}
		close(stop)

		log.mu.Lock()
		var delays []time.Duration
		for name, j := range jitter {
			starts := log.starts[name]
			require.Len(t, starts, tick+1, "sync %s runs once per tick", name)
			delays = append(delays, starts[tick].Sub(at.Add(j)))
		}
		maxLive := log.maxLive
		log.mu.Unlock()
		slices.Sort(delays)
		p50, p99, worst := delays[len(delays)/2], delays[len(delays)*99/100], delays[len(delays)-1]
		spread := slices.Max(mapValues(jitter)) - slices.Min(mapValues(jitter))
		t.Logf("tick %d: %d syncs started; delay after tick+jitter p50 %s, p99 %s, max %s; jitter spread %s; max runs of one sync at once %d",
			tick, len(delays), p50.Round(time.Millisecond), p99.Round(time.Millisecond), worst.Round(time.Millisecond), spread.Round(time.Millisecond), maxLive)
		require.GreaterOrEqual(t, delays[0], time.Duration(0), "no sync starts before its tick plus jitter")
		require.Less(t, worst, 2*time.Second, "every sync starts within 2s of its tick plus jitter")
		require.Equal(t, 1, maxLive, "never two runs of one sync at once")
		b.waitTimers(t, loadSyncs+1)
	}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
