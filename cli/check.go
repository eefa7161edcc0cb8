package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/syncs"
)

func (a *app) checkCmd() *cobra.Command {
	var only string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify credentials and access for every connection, changing nothing",
		Long: `check builds every connection in the config and, where the connector can,
verifies its credentials and access (a CSV file is readable, a Google Ads
account's user lists can be listed, a Meta token is valid and not about to
expire, an X account is reachable). It uploads and changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withService(cmd.Context(), syncs.Options{}, func(svc *syncs.Service) error {
				return a.checkConnections(cmd.Context(), svc, only, timeout)
			})
		},
	}
	cmd.Flags().StringVar(&only, "connection", "", "check only this connection")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "time allowed per connection")
	return cmd
}

// checkConnections checks connection only (all when "") of svc, each
// within timeout, and prints a line per connection.
func (a *app) checkConnections(ctx context.Context, svc *syncs.Service, only string, timeout time.Duration) error {
	names := svc.Connections()
	if only != "" {
		names = []string{only}
	}
	kind := map[string]string{}
	for name, c := range svc.Config().Connections {
		kind[name] = c.Type
	}
	failed := 0
	for _, name := range names {
		checkCtx, cancel := context.WithTimeout(ctx, timeout)
		msg, err := svc.Check(checkCtx, name)
		cancel()
		if errors.Is(err, syncs.ErrNotFound) {
			return withCode(ExitUsage, err)
		}
		status := "ok"
		if err != nil {
			status, msg = "FAILED", err.Error()
			failed++
		}
		fmt.Fprintf(a.stdout, "%-20s %-12s %-7s %s\n", name, kind[name], status, msg)
	}
	if failed > 0 {
		return withCode(ExitFailed, fmt.Errorf("%d of %d connections failed their check", failed, len(names)))
	}
	return nil
}
