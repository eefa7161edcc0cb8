package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

func (a *app) runsCmd() *cobra.Command {
	var syncName string
	var limit int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List recorded runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(true)
			if err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.Runs(cmd.Context(), syncName, limit)
			if err != nil {
				return withCode(ExitFailed, fmt.Errorf("list runs: %w", err))
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSYNC\tSTATUS\tSTARTED\tTOOK\tADDED\tREMOVED\tFAILED")
			for _, r := range runs {
				took := "-"
				if !r.Finished.IsZero() {
					took = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
				}
				var added, removed, failed int64
				if len(r.Report) > 0 {
					var rep report.Report
					if json.Unmarshal(r.Report, &rep) == nil {
						for _, d := range rep.Destinations {
							added += d.Applied.Added + d.Applied.Updated
							removed += d.Applied.Removed
							failed += d.Applied.Failed
						}
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", r.ID, r.Sync, r.Status,
					r.Started.Local().Format("2006-01-02 15:04:05"), took, added, removed, failed)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&syncName, "sync", "", "only runs of this sync")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs to list")
	return cmd
}

func (a *app) reportCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "report RUN_ID",
		Short: "Print the report of a recorded run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return withCode(ExitUsage, fmt.Errorf("--output %q: use text or json", output))
			}
			cfg, err := a.loadConfig(true)
			if err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			run, err := st.Run(cmd.Context(), args[0])
			if errors.Is(err, state.ErrNotFound) {
				return withCode(ExitUsage, fmt.Errorf("no run %q: list runs with `audiencesync runs`", args[0]))
			}
			if err != nil {
				return withCode(ExitFailed, err)
			}
			if len(run.Report) == 0 {
				return withCode(ExitFailed, fmt.Errorf("run %s has no report yet (status %s): it is still running or was interrupted", run.ID, run.Status))
			}
			var rep report.Report
			if err := json.Unmarshal(run.Report, &rep); err != nil {
				return withCode(ExitFailed, fmt.Errorf("decode report of run %s: %w", run.ID, err))
			}
			return a.printReport(&rep, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func (a *app) connectorsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "connectors",
		Short: "List registered connectors with a sample config for each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range a.registry.Specs() {
				fmt.Fprintf(a.stdout, "%s (%s): %s\n", s.Type, s.Role, s.Summary)
				if s.Sample != "" {
					fmt.Fprintln(a.stdout, indent(s.Sample, "    "))
				}
			}
			return nil
		},
	}
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+pre) + "\n"
}
