package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
)

func (a *app) validateCmd() *cobra.Command {
	var offline bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a config file without touching the network",
		Long: `validate loads the config strictly (unknown keys are errors), applies defaults,
resolves secret references and checks every rule. It makes no network call.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(offline)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: ok (%d connections, %d syncs)\n", cfg.Path, len(cfg.Connections), len(cfg.Syncs))
			for _, s := range cfg.Syncs {
				fmt.Fprintf(a.stdout, "  sync %s: %s -> %d destinations", s.Name, s.Source.Connection, len(s.Destinations))
				if s.Schedule != "" {
					fmt.Fprintf(a.stdout, ", schedule %q", s.Schedule)
				}
				fmt.Fprintln(a.stdout)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&offline, "skip-secrets", false, "do not resolve ${env:…} and ${file:…} secrets (check the shape only)")
	return cmd
}

type runFlags struct {
	sync        string
	output      string
	fullRefresh bool
	force       bool
}

func (a *app) planCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what a sync would change, without uploading or changing state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSyncs(cmd.Context(), f, engine.Options{DryRun: true, FullRefresh: f.fullRefresh, Force: f.force})
		},
	}
	cmd.Flags().StringVar(&f.sync, "sync", "", "plan only this sync (default: all)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "report format: text or json")
	cmd.Flags().BoolVar(&f.fullRefresh, "full-refresh", false, "plan a full refresh")
	cmd.Flags().BoolVar(&f.force, "force", false, "plan as if the removal guard were overridden")
	return cmd
}

func (a *app) syncCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Run syncs now: read, diff, upload the changes, print the report",
		Long: `sync runs every sync in the config (or the one named with --sync) once.
It uploads only what changed since the last run. A run whose source fails
removes nothing; a run that would remove more than safety.max_remove_fraction
of an audience, or empty it, stops before uploading unless --force is given.

Exit status: 0 succeeded, 1 failed or partial, 2 bad usage or config,
3 stopped by the removal guard.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSyncs(cmd.Context(), f, engine.Options{FullRefresh: f.fullRefresh, Force: f.force})
		},
	}
	cmd.Flags().StringVar(&f.sync, "sync", "", "run only this sync (default: all)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "report format: text or json")
	cmd.Flags().BoolVar(&f.fullRefresh, "full-refresh", false, "re-send every member (empties the remote audience first where the platform allows)")
	cmd.Flags().BoolVar(&f.force, "force", false, "proceed even if the removal guard would stop the run")
	return cmd
}

func (a *app) runSyncs(ctx context.Context, f runFlags, opts engine.Options) error {
	if f.output != "text" && f.output != "json" {
		return withCode(ExitUsage, fmt.Errorf("--output %q: use text or json", f.output))
	}
	cfg, err := a.loadConfig(false)
	if err != nil {
		return err
	}
	syncs := cfg.Syncs
	if f.sync != "" {
		s := cfg.Sync(f.sync)
		if s == nil {
			return withCode(ExitUsage, fmt.Errorf("no sync named %q in %s (syncs: %s)", f.sync, cfg.Path, syncNames(cfg)))
		}
		syncs = []*configs.Sync{s}
	}
	st, err := a.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	eng := &engine.Engine{Store: st, Logger: a.log, Observer: newProgress(a.stderr)}
	code := ExitOK
	var errs []error
	for _, s := range syncs {
		job, err := engine.Build(cfg, s, a.env(cfg))
		if err != nil {
			errs = append(errs, err)
			code = max(code, ExitFailed)
			continue
		}
		rep, runErr := eng.Run(ctx, job, opts)
		_ = job.Close()
		if err := a.printReport(rep, f.output); err != nil {
			return err
		}
		if runErr != nil {
			errs = append(errs, runErr)
			if rep.Status == report.StatusAborted {
				code = max(code, ExitAborted)
			} else {
				code = max(code, ExitFailed)
			}
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

func syncNames(cfg *configs.Config) string {
	s := ""
	for i, x := range cfg.Syncs {
		if i > 0 {
			s += ", "
		}
		s += x.Name
	}
	return s
}

func (a *app) printReport(rep *report.Report, output string) error {
	if output == "json" {
		return rep.WriteJSON(a.stdout)
	}
	return rep.WriteText(a.stdout)
}

// stdoutIsTerminal is used for the progress bar decision in tests too.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
