package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/cluster"
	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
	"github.com/audiencesync/audiencesync/web"
)

// defaultServeAddr is where `audiencesync serve` listens unless told
// otherwise: loopback only.
const defaultServeAddr = "127.0.0.1:8080"

func (a *app) serveCmd() *cobra.Command {
	var (
		addr    string
		grace   time.Duration
		limit   int
		workers int
	)
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--grace D] [--max-concurrent-runs N] [--workers N]",
		Short: "Run every sync on its schedule and serve health checks, metrics and the API",
		Long: `serve runs each sync that has a schedule: (cron fields or @every, @hourly…,
in the sync's timezone:) and serves on --addr:

  /healthz   200 while the process is up
  /readyz    200 once the config is loaded and the state store answers
  /metrics   Prometheus metrics
  /api/v1/   the JSON API
  /          the web UI (sign in with an API token)

A sync never runs twice at once: a tick while it is still running is skipped
("skipped: still running") and recorded in the run log with status skipped
(audiencesync runs shows it). At start, a sync that missed a tick since its
last run runs once (serve.catch_up). SIGHUP reloads the config (a config
that does not validate is refused and the old one keeps running).
SIGTERM or Ctrl-C stops scheduling, lets runs finish for --grace, then
cancels them: what the platforms acknowledged is committed, and the next
run carries on.

--workers N makes this process one node of a cluster: the nodes share the
syncs through a job queue in PostgreSQL (serve.queue.dsn, else state.dsn),
the elected leader enqueues each tick, any node runs it (N at once here),
never two of one sync at once; a node killed mid-run leaves its job to
another node after serve.queue.rescue_after.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if grace < 0 || limit < 0 || workers < 0 {
				return withCode(ExitUsage, errors.New("--grace, --max-concurrent-runs and --workers must not be negative"))
			}
			if !cmd.Flags().Changed("log-format") && !a.stderrIsTerminal() {
				// A service's logs go to a collector: JSON, one object a line.
				a.logFormat = "json"
				if err := a.setupLogger(); err != nil {
					return err
				}
			}
			opts := daemon.Options{Grace: grace, MaxConcurrentRuns: limit}
			if workers > 0 {
				opts.Queue = cluster.Factory(cluster.Options{Workers: workers, Logger: a.log})
				// River hands this node N jobs at once: the cap must not
				// hold them back.
				opts.MaxConcurrentRuns = cmp.Or(limit, workers)
			}
			return a.serve(cmd.Context(), addr, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", defaultServeAddr, "address to serve on, HOST:PORT (port 0 picks a free one)")
	f.DurationVar(&grace, "grace", daemon.DefaultGrace, "how long runs in progress may finish after SIGTERM before they are cancelled")
	f.IntVar(&limit, "max-concurrent-runs", 0, "runs in progress at once across syncs (default: serve.max_concurrent_runs, or 4; with --workers, N)")
	f.IntVar(&workers, "workers", 0, "join the cluster on the PostgreSQL job queue (serve.queue.dsn or state.dsn) and run up to N of its jobs at once; 0 schedules in this process alone")
	return cmd
}

func (a *app) stderrIsTerminal() bool {
	f, ok := a.stderr.(*os.File)
	return ok && isTerminal(f)
}

// serve runs the daemon until ctx ends, reloading the config on SIGHUP.
func (a *app) serve(ctx context.Context, addr string, opts daemon.Options) error {
	opts.Logger = a.log
	workers := syncs.ServePlanWorkers(syncs.ServeCPUs())
	// Off loopback the API needs tokens: the first service opened (before
	// anything is scheduled) checks there are some, so serve refuses to
	// start without any.
	var bindErr error
	checked := false
	opts.Open = func(ctx context.Context) (*syncs.Service, error) {
		svc, err := a.openWith(ctx, syncs.Options{CheckFiles: true, PlanWorkers: workers})
		if err != nil || checked {
			return svc, err
		}
		checked = true
		tokens, err := svc.Tokens(ctx)
		if err == nil {
			if err = api.CheckBind(ctx, addr, tokens, a.log); err != nil {
				bindErr = err
			}
		}
		if err != nil {
			_ = svc.Close()
			return nil, err
		}
		return svc, nil
	}
	// The JSON API and the web UI, built again on each reload with the
	// new service. The UI's sessions and its view of runs in progress
	// live as long as the process, so a reload signs no one out.
	sessions, live := web.NewSessions(0), web.NewLive()
	opts.Observer = live
	opts.API = withTokens(ctx, func(dep daemon.APIDeps, tokens state.Tokens) http.Handler {
		return api.New(api.Options{Service: dep.Service, Tokens: tokens, Logger: dep.Logger,
			Trigger: dep.Trigger, Reload: dep.Reload, NextRun: dep.NextRun})
	})
	opts.Web = withTokens(ctx, func(dep daemon.APIDeps, tokens state.Tokens) http.Handler {
		return web.New(web.Options{Service: dep.Service, Tokens: tokens, Logger: dep.Logger,
			Trigger: dep.Trigger, NextRun: dep.NextRun, Sessions: sessions, Live: live})
	})
	d, err := daemon.New(ctx, opts)
	if bindErr != nil {
		return withCode(ExitUsage, bindErr)
	}
	if err != nil {
		return withCode(codeFor(err), err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = d.Service().Close()
		return withCode(ExitUsage, fmt.Errorf("serve on %s: %w: choose another --addr", addr, err))
	}
	// Listening for SIGHUP before saying "serving": from then on a reload
	// signal never finds the default action (exit) in place.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	fmt.Fprintf(a.stdout, "serving on http://%s (web UI at /; healthz, readyz, metrics, api/v1)\n", ln.Addr())
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				// Reload logs a refused config itself.
				_ = d.Reload(ctx)
			}
		}
	}()
	return withCode(ExitFailed, d.Run(ctx, ln))
}

// withTokens makes a handler factory of build, handing it the service's
// token store. Without the token store no request can be authorised, so
// the handler then answers 503 saying why.
func withTokens(ctx context.Context, build func(daemon.APIDeps, state.Tokens) http.Handler) daemon.APIFactory {
	return func(dep daemon.APIDeps) http.Handler {
		tokens, err := dep.Service.Tokens(ctx)
		if err != nil {
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "the API token store cannot be read: "+err.Error(), http.StatusServiceUnavailable)
			})
		}
		return build(dep, tokens)
	}
}
