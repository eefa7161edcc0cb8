package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/internal/pgtest"
	"github.com/audiencesync/audiencesync/syncs"
)

// pg is the throw-away PostgreSQL server of the package's tests; nil
// without PostgreSQL (the tests that need it then skip, or fail in CI).
var pg *pgtest.Server

// Environment of a node subprocess: the test binary run again as one
// node of the cluster, which a test can kill.
const (
	nodeConfigEnv = "CLUSTER_TEST_NODE_CONFIG"
	nodeDSNEnv    = "CLUSTER_TEST_NODE_DSN"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(nodeConfigEnv); cfg != "" {
		os.Exit(runNodeProcess(cfg, os.Getenv(nodeDSNEnv)))
	}
	os.Exit(pgtest.Main(m, &pg))
}

// runNodeProcess serves one node until SIGTERM (or SIGKILL, which the
// kill test sends).
func runNodeProcess(cfg, dsn string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log, _ := zap.NewDevelopment()
	n, err := startNode(ctx, cfg, dsn, 1, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("node serving on", n.addr)
	if err := n.wait(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// node is one daemon of a test cluster, serving the API on loopback.
type node struct {
	d      *daemon.Daemon
	q      *Cluster
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// tuneForTests shortens River's polling so a test sees jobs within a
// fraction of a second; the rescue and job timeouts come from the
// config's serve.queue.
func tuneForTests(rc *river.Config) {
	rc.TestOnly = true
	rc.FetchPollInterval = 100 * time.Millisecond
	rc.FetchCooldown = 20 * time.Millisecond
}

// startNode starts a daemon on cfg whose queue is the cluster on dsn,
// with workers workers, the JSON API (open to loopback without tokens)
// and metrics served on a loopback port.
func startNode(ctx context.Context, cfg, dsn string, workers int, log *zap.Logger) (*node, error) {
	var q *Cluster
	opts := daemon.Options{
		Open: func(ctx context.Context) (*syncs.Service, error) {
			return syncs.Open(ctx, syncs.Options{ConfigPath: cfg, Logger: log, LockTTL: 10 * time.Second})
		},
		Logger:            log,
		Grace:             5 * time.Second,
		MaxConcurrentRuns: workers,
		Queue: func(ctx context.Context, c *configs.Config) (daemon.Queue, error) {
			var err error
			q, err = Open(ctx, c, Options{DSN: dsn, Workers: workers, Logger: log, Tune: tuneForTests})
			if err != nil {
				return nil, err
			}
			return q, nil
		},
		API: func(dep daemon.APIDeps) http.Handler {
			return api.New(api.Options{Service: dep.Service, Logger: dep.Logger, Trigger: dep.Trigger, NextRun: dep.NextRun})
		},
	}
	d, err := daemon.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, errors.Join(err, d.Service().Close())
	}
	ctx, cancel := context.WithCancel(ctx)
	n := &node{d: d, q: q, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- d.Run(ctx, ln) }()
	return n, nil
}

// stop shuts the node down and returns what Run returned.
func (n *node) stop() error {
	n.cancel()
	return n.wait()
}

func (n *node) wait() error {
	select {
	case err := <-n.done:
		n.done <- err
		return err
	case <-time.After(60 * time.Second):
		return errors.New("the node did not stop within 60s")
	}
}
