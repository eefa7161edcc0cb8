package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/state/sqlite"
)

func (a *app) stateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Inspect the state store",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Run a full integrity check of the state database",
		Long: `check runs SQLite's full integrity check on the state database named by the
config (every b-tree and every index against its table). Every run already
refuses a damaged file after a quicker check; this one also finds index
damage. It changes nothing, and exits 1 when the file is damaged, with what
to do: restore a backup (a copy is kept before each schema upgrade, beside
the file as NAME.vN-TIME.bak) or rebuild with sync --full-refresh.`,
		Args: cobra.NoArgs,
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
			db, ok := st.(*sqlite.Store)
			if !ok {
				return withCode(ExitUsage, errors.New("state check works on the SQLite state store only"))
			}
			if err := db.Check(cmd.Context()); err != nil {
				return withCode(ExitFailed, err)
			}
			fmt.Fprintf(a.stdout, "%s: ok (integrity check passed)\n", db.Path())
			return nil
		},
	})
	return cmd
}
