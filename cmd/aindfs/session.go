package main

import (
	"encoding/json"
	"fmt"

	"github.com/aind/aindfs/resolve"
	"github.com/spf13/cobra"
)

func newSessionCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "session NAME",
		Short: "Describe one session: what session.json holds",
		Long: `Describe the session named by NAME. NAME may be a canonical session ID
(ecephys_676909_2023-12-13_13-43-40), an asset name with a suffix
(..._sorted_2024-03-01_16-02-45), an old underscore-only name, or a path
that contains one.`,
		Example: `  aindfs session ecephys_676909_2023-12-13_13-43-40
  aindfs session /data/ecephys_686740_2023_10_26_12_29_08_to_dlc_side --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := resolve.ParseSession(args[0])
			if err != nil {
				return usageError{err}
			}
			id := s.Identity()
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(id)
			}
			_, err = fmt.Fprintf(g.stdout, "id:         %s\nplatform:   %s\nsubject_id: %s\ndate:       %s\ntime:       %s\n",
				id.ID, id.Platform, id.SubjectID, id.Date, id.Time)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, as in session.json")
	return cmd
}
