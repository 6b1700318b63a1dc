package main

import (
	"fmt"

	"github.com/aind/aindfs/fs"
	"github.com/spf13/cobra"
)

func newCatCmd(g *globals) *cobra.Command {
	var src sourceFlags
	cmd := &cobra.Command{
		Use:   "cat PATH...",
		Short: "Print files of the tree, without FUSE",
		Long: `Write the bytes of each file PATH of the tree to standard output, for machines
where FUSE is not available. PATH is relative to the top of the tree, such as
sessions/<session-id>/metadata/subject.json; links on the way are followed.`,
		Example: `  aindfs cat sessions/ecephys_676909_2023-12-13_13-43-40/session.json
  aindfs cat sessions/ecephys_676909_2023-12-13_13-43-40/raw/ecephys/ecephys_compressed/experiment1_Record\ Node\ 104#Neuropix-PXI-100.ProbeA.zarr/.zgroup`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			tree, done, err := g.openTree(ctx, src)
			if err != nil {
				return err
			}
			defer done()
			for _, p := range args {
				f, err := walkFile(ctx, tree, p)
				if err != nil {
					return err
				}
				if _, err := fs.ReadAll(ctx, f, g.stdout); err != nil {
					return fmt.Errorf("cat: %w", err)
				}
			}
			return nil
		},
	}
	src.register(cmd, defaultDataDir())
	return cmd
}
