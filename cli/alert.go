package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/syncs"
)

func (a *app) alertCmd() *cobra.Command {
	var sync string
	test := &cobra.Command{
		Use:   "test [--sync NAME]",
		Short: "Send a sample failure alert to the configured webhook",
		Long: `alert test posts a sample alert to the webhook of alerts: (or of the sync's
own alerts: with --sync), so you can check the receiver before a real
failure. The webhook URL is never printed: it usually holds a token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withService(cmd.Context(), syncs.Options{}, func(svc *syncs.Service) error {
				cfg := svc.Config()
				al, name := cfg.Alerts, "example"
				if sync != "" {
					sc := cfg.Sync(sync)
					if sc == nil {
						return withCode(ExitUsage, fmt.Errorf("no sync named %q in %s", sync, cfg.Path))
					}
					al, name = cfg.SyncAlerts(sc), sync
				}
				if al.Webhook.IsZero() {
					return withCode(ExitUsage, errors.New("no alerts webhook configured: set alerts.webhook (such as ${env:SLACK_WEBHOOK_URL})"))
				}
				s := &daemon.Sender{Logger: a.log}
				if err := s.Send(cmd.Context(), al.Webhook.Reveal(), daemon.TestAlert(name)); err != nil {
					return withCode(ExitFailed, err)
				}
				fmt.Fprintf(a.stdout, "test alert for sync %s sent\n", name)
				return nil
			})
		},
	}
	test.Flags().StringVar(&sync, "sync", "", "use this sync's alerts (default: the global ones)")
	return group("alert", "Failure alerts", test)
}
