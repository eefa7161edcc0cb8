package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

func (a *app) validateCmd() *cobra.Command {
	var offline bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a config file without touching the network",
		Long: `validate loads the config strictly (unknown keys are errors), applies defaults,
resolves secret references and checks every rule, and that every local file
a source reads (a CSV export) exists and can be read. It makes no network
call.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withService(cmd.Context(), syncs.Options{SkipSecrets: offline, CheckFiles: true}, func(svc *syncs.Service) error {
				cfg := svc.Config()
				fmt.Fprintf(a.stdout, "%s: ok (%d connections, %d syncs)\n", cfg.Path, len(cfg.Connections), len(cfg.Syncs))
				for _, s := range svc.Syncs() {
					fmt.Fprintf(a.stdout, "  sync %s: %s -> %d destinations", s.Name, s.Source, len(s.Destinations))
					if s.Schedule != "" {
						fmt.Fprintf(a.stdout, ", schedule %q", s.Schedule)
					}
					fmt.Fprintln(a.stdout)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&offline, "skip-secrets", false, "do not resolve ${env:…} and ${file:…} secrets (check the shape only)")
	return cmd
}

type runFlags struct {
	sync   string
	output string
	dryRun bool
	// now is --now: the instant segment filters are evaluated at.
	now  string
	opts syncs.RunOptions
}

// runFlagHelp is how plan and sync describe the flags they share.
type runFlagHelp struct{ sync, fullRefresh, force string }

// runCommand completes cmd, plan or sync: it takes no arguments, runs the
// syncs with f, and has the flags the two share.
func (a *app) runCommand(cmd *cobra.Command, f *runFlags, help runFlagHelp) *cobra.Command {
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return a.runSyncs(cmd.Context(), *f)
	}
	cmd.Flags().StringVar(&f.sync, "sync", "", help.sync)
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "report format: text or json")
	cmd.Flags().BoolVar(&f.opts.FullRefresh, "full-refresh", false, help.fullRefresh)
	cmd.Flags().BoolVar(&f.opts.Force, "force", false, help.force)
	cmd.Flags().StringVar(&f.now, "now", "", "evaluate segment filters as if it were this instant (RFC 3339, such as 2026-03-04T09:00:00Z), to rehearse how members move between segments as time passes; state and reports keep the real clock")
	return cmd
}

func (a *app) planCmd() *cobra.Command {
	f := &runFlags{dryRun: true}
	return a.runCommand(&cobra.Command{
		Use:   "plan",
		Short: "Show what a sync would change, without uploading or changing state",
	}, f, runFlagHelp{
		sync:        "plan only this sync (default: all)",
		fullRefresh: "plan a full refresh",
		force:       "plan as if the removal guard were overridden",
	})
}

func (a *app) syncCmd() *cobra.Command {
	f := &runFlags{}
	cmd := a.runCommand(&cobra.Command{
		Use:   "sync",
		Short: "Run syncs now: read, diff, upload the changes, print the report",
		Long: `sync runs every sync in the config (or the one named with --sync) once.
It uploads only what changed since the last run. A run whose source fails
removes nothing; a run that would remove more than safety.max_remove_fraction
of an audience, or empty it, stops before uploading unless --force is given.

A sync runs in one process at a time: a sync already running elsewhere on
the same state is not run again at once. By default sync then stops with
exit status 4 and says which process holds the sync; --wait waits for it.

A destination whose audience already exists on the platform with members
while state has no record of it (a new, lost or replaced state file) is
refused before anything is uploaded to it: restore the state file from its
backup, or pass --full-refresh to rebuild the audience from the source
(where the platform can empty it), or --adopt to take it over as it is
(the source's members are added; members already in it that are not in
the source stay until a full refresh).

Exit status: 0 succeeded, 1 failed or partial (a refused destination
included), 2 bad usage or config, 3 stopped by the removal guard,
4 already running elsewhere.`,
	}, f, runFlagHelp{
		sync:        "run only this sync (default: all)",
		fullRefresh: "re-send every member (empties the remote audience first where the platform allows)",
		force:       "proceed even if the removal guard would stop the run",
	})
	cmd.Flags().BoolVar(&f.opts.Adopt, "adopt", false, "take over existing audiences that hold members while state has no record of them (members not in the source stay until a full refresh)")
	cmd.Flags().DurationVar(&f.opts.Wait, "wait", 0, "when the sync is already running elsewhere, wait up to this long for it (e.g. 10m; default: do not wait)")
	return cmd
}

func (a *app) runSyncs(ctx context.Context, f runFlags) (err error) {
	if f.output != "text" && f.output != "json" {
		return withCode(ExitUsage, fmt.Errorf("--output %q: use text or json", f.output))
	}
	if f.opts.Wait < 0 {
		return withCode(ExitUsage, fmt.Errorf("--wait %s: use a positive duration, or 0 not to wait", f.opts.Wait))
	}
	if f.now != "" {
		at, err := time.Parse(time.RFC3339, f.now)
		if err != nil {
			return withCode(ExitUsage, fmt.Errorf("--now %q: use an RFC 3339 instant such as 2026-03-04T09:00:00Z", f.now))
		}
		f.opts.FilterTime = at
	}
	svc, err := a.open(ctx, false)
	if err != nil {
		return err
	}
	defer closeService(svc, &err)
	var names []string
	for _, s := range svc.Syncs() {
		if f.sync == "" || f.sync == s.Name {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 && f.sync != "" {
		// Let the service say there is no such sync, and list the others.
		names = []string{f.sync}
	}
	opts := f.opts
	opts.Observer, opts.StartedBy = newProgress(a.console()), "cli"
	code := ExitOK
	var errs []error
	for _, name := range names {
		run := svc.Run
		if f.dryRun {
			run = svc.Plan
		}
		rep, runErr := run(ctx, name, opts)
		if rep != nil {
			if err := a.printReport(rep, f.output); err != nil {
				return err
			}
		}
		if runErr != nil {
			c := codeFor(runErr)
			switch {
			case rep != nil && rep.Status == report.StatusAborted:
				c = ExitAborted
			case c == ExitBusy && opts.Wait == 0:
				runErr = fmt.Errorf("%w. To wait for it instead, pass --wait DURATION (e.g. --wait 10m)", runErr)
			case c == ExitUsage:
				return withCode(c, runErr)
			}
			errs = append(errs, runErr)
			code = max(code, c)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) > 0 {
		return withCode(code, errors.Join(errs...))
	}
	return nil
}

func (a *app) printReport(rep *report.Report, output string) error {
	if output == "json" {
		return rep.WriteJSON(a.stdout)
	}
	return rep.WriteText(a.stdout)
}

// isTerminal reports whether f is a terminal, for the progress line.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
