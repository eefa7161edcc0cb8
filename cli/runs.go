package cli

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

func (a *app) runsCmd() *cobra.Command {
	var syncName string
	var limit int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List recorded runs, newest first",
		Long: `runs lists recorded runs, newest first. A run whose process stopped before it
could record how the run ended (killed, crashed, power lost) shows as
interrupted; the next run of its sync carries on from what it committed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			svc, err := a.open(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer closeService(svc, &err)
			runs, err := svc.Runs(cmd.Context(), syncName, limit)
			if err != nil {
				return withCode(codeFor(err), fmt.Errorf("list runs: %w", err))
			}
			// One line per run, then one per destination: figures are
			// per destination (members of one audience), never summed
			// across audiences.
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSYNC / DESTINATION\tSTATUS\tSTARTED\tTOOK\tADDED\tREMOVED\tFAILED\tNOT ATTEMPTED\tSTARTED BY")
			for _, r := range runs {
				took := "-"
				if !r.Finished.IsZero() {
					took = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
				}
				status := r.Status
				if r.Interrupted {
					status = string(report.StatusInterrupted)
				}
				// Runs recorded before the run log kept who started
				// them do not say.
				by := cmp.Or(r.StartedBy, "-")
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\t\t\t\t%s\n", r.ID, r.Sync, status,
					r.Started.Local().Format("2006-01-02 15:04:05"), took, by)
				// The run log's summary rows: a listing decodes no report.
				// A run that never finished has none.
				for _, d := range r.Summaries {
					fmt.Fprintf(tw, "\t  %s\t%s\t\t\t%d\t%d\t%d\t%d\n", d.Destination, d.Status,
						d.Applied.Added+d.Applied.Updated, d.Applied.Removed, d.Applied.Failed, d.Applied.NotAttempted)
				}
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
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if output != "text" && output != "json" {
				return withCode(ExitUsage, fmt.Errorf("--output %q: use text or json", output))
			}
			svc, err := a.open(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer closeService(svc, &err)
			rep, err := svc.Report(cmd.Context(), args[0])
			if errors.Is(err, syncs.ErrNotFound) {
				return withCode(ExitUsage, fmt.Errorf("%w: list runs with `audiencesync runs`", err))
			}
			if err != nil {
				return withCode(codeFor(err), err)
			}
			return a.printReport(rep, output)
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
