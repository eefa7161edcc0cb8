package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/syncs"
)

func (a *app) sourcesCmd() *cobra.Command {
	var connection, syncName, output string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "sources",
		Short: "List the audiences a source offers (a CRM's lists), with their sizes and ids",
		Long: `sources lists what a source connection can read: a HubSpot account's contact
lists with their processing type, size and id, or a Salesforce org's
campaigns with their member counts. The last column is what to write in a
sync's source.audience to read that audience. It changes nothing.

Name the connection with --connection, or a sync with --sync to use its
source.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (connection == "") == (syncName == "") {
				return withCode(ExitUsage, errors.New("name a source with --connection NAME or --sync NAME"))
			}
			if output != "text" && output != "json" {
				return withCode(ExitUsage, fmt.Errorf("--output %q: use text or json", output))
			}
			return a.withService(cmd.Context(), syncs.Options{}, func(svc *syncs.Service) error {
				name := connection
				if syncName != "" {
					var err error
					if name, err = svc.SourceConnection(syncName); err != nil {
						return withCode(codeFor(err), err)
					}
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				defer cancel()
				lists, err := svc.ListAudiences(ctx, name)
				switch {
				case errors.Is(err, syncs.ErrCannotList):
					return withCode(ExitUsage, err)
				case err != nil:
					return withCode(codeFor(err), fmt.Errorf("list the audiences of %s: %w", name, err))
				}
				return a.printAudiences(lists, output)
			})
		},
	}
	cmd.Flags().StringVar(&connection, "connection", "", "the source connection to list")
	cmd.Flags().StringVar(&syncName, "sync", "", "list the source of this sync")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "time allowed for the listing")
	return cmd
}

// printAudiences writes a source's audiences as a table or as JSON.
func (a *app) printAudiences(lists []connectors.AudienceInfo, output string) error {
	if output == "json" {
		type item struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Kind     string `json:"kind,omitempty"`
			Size     int64  `json:"size"`
			Audience string `json:"audience"`
		}
		items := make([]item, len(lists))
		for i, l := range lists {
			items[i] = item{ID: l.ID, Name: l.Name, Kind: l.Kind, Size: l.Size, Audience: l.Ref}
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(items)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSIZE\tNAME\tSOURCE.AUDIENCE")
	for _, l := range lists {
		size := "?"
		if l.Size >= 0 {
			size = strconv.FormatInt(l.Size, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.ID, l.Kind, size, l.Name, l.Ref)
	}
	return tw.Flush()
}
