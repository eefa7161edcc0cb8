package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
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
			cfg, err := a.loadConfig(false)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(cfg.Connections))
			for name := range cfg.Connections {
				if only == "" || only == name {
					names = append(names, name)
				}
			}
			if len(names) == 0 {
				return withCode(ExitUsage, fmt.Errorf("no connection named %q in %s", only, cfg.Path))
			}
			sort.Strings(names)
			env := a.env(cfg)
			failed := 0
			for _, name := range names {
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				msg, err := checkConnection(ctx, cfg.Connections[name], env(name))
				cancel()
				status := "ok"
				if err != nil {
					status, msg = "FAILED", err.Error()
					failed++
				}
				fmt.Fprintf(a.stdout, "%-20s %-12s %-7s %s\n", name, cfg.Connections[name].Type, status, msg)
			}
			if failed > 0 {
				return withCode(ExitFailed, fmt.Errorf("%d of %d connections failed their check", failed, len(names)))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&only, "connection", "", "check only this connection")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "time allowed per connection")
	return cmd
}

// checkConnection builds one connection and runs its Check, if it has one.
func checkConnection(ctx context.Context, c *configs.Connection, env connectors.Env) (string, error) {
	var (
		target any
		closer interface{ Close() error }
	)
	switch c.Spec.Role {
	case connectors.RoleSource:
		s, err := c.Spec.NewSource(c.Settings, env)
		if err != nil {
			return "", err
		}
		target, closer = s, s
	default:
		d, err := c.Spec.NewDestination(c.Settings, env)
		if err != nil {
			return "", err
		}
		target, closer = d, d
	}
	defer closer.Close()
	ch, ok := target.(connectors.Checker)
	if !ok {
		return "built (this connector has no remote check)", nil
	}
	if err := ch.Check(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("no answer within the timeout: %w", err)
		}
		return "", err
	}
	return "credentials and access verified", nil
}
