package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// tokenCmd manages the JSON API's tokens, kept hashed in the state store
// the config names.
func (a *app) tokenCmd() *cobra.Command {
	return group("token", "Manage the JSON API's tokens", a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd())
}

// withTokens runs fn with the state store's tokens.
func (a *app) withTokens(cmd *cobra.Command, fn func(state.Tokens) error) error {
	return a.withService(cmd.Context(), syncs.Options{SkipSecrets: true}, func(svc *syncs.Service) error {
		tokens, err := svc.Tokens(cmd.Context())
		if err != nil {
			return withCode(codeFor(err), err)
		}
		return fn(tokens)
	})
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var name, role string
	cmd := &cobra.Command{
		Use:   "create --role viewer|operator [--name NAME]",
		Short: "Create an API token and print it once",
		Long: `create makes an API token for the JSON API of audiencesync serve and prints it
on stdout, once: the state store keeps only its SHA-256 hash. Send it as
Authorization: Bearer TOKEN. A viewer token reads syncs, runs and reports; an
operator token also triggers runs and plans and reloads the config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, rec, err := api.NewToken(name, role, time.Now())
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--role: %w", err))
			}
			return a.withTokens(cmd, func(tokens state.Tokens) error {
				if err := tokens.CreateToken(cmd.Context(), rec); err != nil {
					if errors.Is(err, state.ErrTokenExists) {
						return withCode(ExitUsage, fmt.Errorf("a token named %q exists: pick another --name, or revoke it first", rec.Name))
					}
					return withCode(ExitFailed, err)
				}
				fmt.Fprintln(a.stdout, tok)
				fmt.Fprintf(a.stderr, "created API token %q (id %s, role %s); it is shown only this once: store it in your secret manager\n",
					rec.Name, rec.ID, rec.Role)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "viewer (read) or operator (read, trigger runs and plans, reload)")
	cmd.Flags().StringVar(&name, "name", "", "a name to list and revoke it by (default token-ID)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func (a *app) tokenListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withTokens(cmd, func(tokens state.Tokens) error {
				list, err := tokens.ListTokens(cmd.Context())
				if err != nil {
					return withCode(ExitFailed, err)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tID\tROLE\tCREATED\tLAST USED")
				for _, t := range list {
					used := "never"
					if !t.LastUsed.IsZero() {
						used = t.LastUsed.Local().Format("2006-01-02 15:04:05")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.ID, t.Role, t.Created.Local().Format("2006-01-02 15:04:05"), used)
				}
				return tw.Flush()
			})
		},
	}
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME|ID",
		Short: "Revoke an API token: requests with it are refused from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withTokens(cmd, func(tokens state.Tokens) error {
				t, err := tokens.RevokeToken(cmd.Context(), args[0])
				if errors.Is(err, state.ErrNotFound) {
					return withCode(ExitUsage, fmt.Errorf("no API token named %q or with that id: `audiencesync token list` shows them", args[0]))
				}
				if err != nil {
					return withCode(ExitFailed, err)
				}
				fmt.Fprintf(a.stdout, "revoked API token %q (id %s, role %s)\n", t.Name, t.ID, t.Role)
				return nil
			})
		},
	}
}
