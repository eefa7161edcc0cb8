package daemon_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/syncs"
)

// t0 is where the fake clock starts: a few seconds past a minute, so
// every-minute ticks are ahead.
var t0 = time.Date(2026, 3, 2, 10, 0, 5, 0, time.UTC)

// syncEntry is one sync of the test config: a CSV of synthetic contacts
// into a file destination, so a run costs a few milliseconds.
const syncEntry = `  - name: %s
    schedule: "%s"
    source: {connection: crm, key: contact_id, fields: {email: email}}
    destinations: [{connection: exports}]
`

type bundle struct {
	dir   string
	path  string
	clock *clockwork.FakeClock
	logs  *observer.ObservedLogs
	d     *daemon.Daemon
	gate  *gate
	opts  daemon.Options
	// env is the environment ${env:…} references read.
	env map[string]string
}

// gate holds runs at their RunStarted event until opened, and tells when
// runs start and finish.
type gate struct {
	mu       sync.Mutex
	hold     bool
	open     chan struct{}
	started  chan engine.RunStarted
	finished chan engine.RunFinished
}

func newGate() *gate {
	return &gate{open: make(chan struct{}), started: make(chan engine.RunStarted, 1024), finished: make(chan engine.RunFinished, 1024)}
}

func (g *gate) Observe(ev engine.Event) {
	switch e := ev.(type) {
	case engine.RunStarted:
		g.started <- e
		g.mu.Lock()
		hold, open := g.hold, g.open
		g.mu.Unlock()
		if hold {
			<-open
		}
	case engine.RunFinished:
		g.finished <- e
	}
}

// holdRuns makes runs wait at their start until release.
func (g *gate) holdRuns() {
	g.mu.Lock()
	g.hold = true
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold {
		g.hold = false
		close(g.open)
		g.open = make(chan struct{})
	}
}

// config writes the config: serve holds the serve: section ("" for
// none), syncs name=schedule pairs.
func writeConfig(t *testing.T, dir, serve string, syncs ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "state: {path: ./state.db}\n%sconnections:\n  crm: {type: csv, path: ./contacts.csv}\n  exports: {type: file, dir: ./out, formats: [google]}\nsyncs:\n", serve)
	for i := 0; i+1 < len(syncs); i += 2 {
		fmt.Fprintf(&b, syncEntry, syncs[i], syncs[i+1])
	}
	path := filepath.Join(dir, "audiencesync.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

func writeContacts(t *testing.T, dir string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("contact_id,email\n")
	for i := range n {
		fmt.Fprintf(&b, "C%04d,person.%04d@example.com\n", i, i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "contacts.csv"), []byte(b.String()), 0o600))
}

// setup writes a config and creates a daemon on a fake clock at t0; the
// daemon is not running yet (see start).
func setup(t *testing.T, serve string, syncsAndSchedules ...string) *bundle {
	t.Helper()
	dir := t.TempDir()
	writeContacts(t, dir, 5)
	b := &bundle{dir: dir, path: writeConfig(t, dir, serve, syncsAndSchedules...), clock: clockwork.NewFakeClockAt(t0), gate: newGate(),
		env: map[string]string{}}
	core, logs := observer.New(zap.DebugLevel)
	b.logs = logs
	b.opts = daemon.Options{
		Open: func(ctx context.Context) (*syncs.Service, error) {
			return syncs.Open(ctx, syncs.Options{ConfigPath: b.path, Now: b.clock.Now, CheckFiles: true,
				LookupEnv: func(k string) (string, bool) { v, ok := b.env[k]; return v, ok }})
		},
		Logger:   zap.New(core),
		Clock:    b.clock,
		Observer: b.gate,
		Grace:    time.Minute,
	}
	return b
}

func (b *bundle) create(t *testing.T) {
	t.Helper()
	d, err := daemon.New(t.Context(), b.opts)
	require.NoError(t, err)
	b.d = d
}

// start runs the daemon on a loopback listener until the test ends, and
// waits until the scheduler has set its timers (jobs of them).
func (b *bundle) start(t *testing.T, jobs int) (addr string, stop func()) {
	t.Helper()
	if b.d == nil {
		b.create(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- b.d.Run(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("the daemon did not stop")
			}
		})
	}
	t.Cleanup(func() { b.gate.release(); stop() })
	b.waitTimers(t, jobs)
	return ln.Addr().String(), stop
}

func (b *bundle) waitTimers(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.clock.BlockUntilContext(ctx, n), "the scheduler did not set its timers")
}

// advanceTo moves the fake clock to at.
func (b *bundle) advanceTo(at time.Time) { b.clock.Advance(at.Sub(b.clock.Now())) }

// waitIdle waits until n runs have returned (the daemon logs it at debug
// level), past the engine's RunFinished event.
func (b *bundle) waitIdle(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return b.logs.FilterMessage("run returned").Len() >= n }, 10*time.Second, 5*time.Millisecond)
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func none[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	case <-time.After(300 * time.Millisecond):
	}
}
