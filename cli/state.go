package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/syncs"
)

func (a *app) stateCmd() *cobra.Command {
	return group("state", "Inspect the state store", &cobra.Command{
		Use:   "check",
		Short: "Run a full integrity check of the state database",
		Long: `check runs SQLite's full integrity check on the state database named by the
config (every b-tree and every index against its table). Every run already
refuses a damaged file after a quicker check; this one also finds index
damage. It changes nothing, and exits 1 when the file is damaged, with what
to do: restore a backup (a copy is kept before each schema upgrade, beside
the file as NAME.vN-TIME.bak) or rebuild with sync --full-refresh.

With state.dsn (PostgreSQL) it checks that the schema is this build's and
that every member row is well formed; the server keeps its own pages.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withService(cmd.Context(), syncs.Options{SkipSecrets: true}, func(svc *syncs.Service) error {
				path, err := svc.CheckState(cmd.Context())
				if err != nil {
					return withCode(codeFor(err), err)
				}
				fmt.Fprintf(a.stdout, "%s: ok (integrity check passed)\n", path)
				return nil
			})
		},
	})
}
