package main

import (
	"encoding/json"
	"fmt"

	"github.com/aind/aindfs/fs"
	"github.com/spf13/cobra"
)

// objectURL is what `aindfs url --json` prints for one file.
type objectURL struct {
	Path string `json:"path"`
	URL  string `json:"url"`
	Size int64  `json:"size"`
	ETag string `json:"etag"`
}

func newURLCmd(g *globals) *cobra.Command {
	var (
		src    sourceFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "url PATH...",
		Short: "Print where the bytes of files of the tree are (s3://bucket/key)",
		Long: `Print the location of each file PATH of the tree, for programs that read S3
themselves (fsspec, remfile, h5py's ros3 driver): s3://bucket/key, or
file:///path for a file served from --data. PATH is relative to the top of the
tree, as for ls; links on the way are followed. With --json, one object a
line: {"path" as given, "url", "size", "etag"}, the size and ETag of the version the
mount serves. Files aindfs makes itself (session.json) have no location.`,
		Example: `  aindfs url sessions/ecephys_676909_2023-12-13_13-43-40/raw/ecephys/ecephys_compressed/experiment1_Record\ Node\ 104#Neuropix-PXI-100.ProbeA.zarr/.zgroup
  aindfs url --json sessions/ecephys_676909_2023-12-13_13-43-40/sorted/output`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			tree, done, err := g.openTree(ctx, src)
			if err != nil {
				return err
			}
			defer done()
			enc := json.NewEncoder(g.stdout)
			for _, p := range args {
				f, err := walkFile(ctx, tree, p)
				if err != nil {
					return err
				}
				obj, ok := f.(fs.Object)
				if !ok {
					return usageError{fmt.Errorf("%s is made by aindfs: it is stored nowhere", f.Path())}
				}
				loc, info := obj.Object()
				if asJSON {
					err = enc.Encode(objectURL{Path: p, URL: loc.String(), Size: info.Size, ETag: info.ETag})
				} else {
					_, err = fmt.Fprintln(g.stdout, loc)
				}
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	src.register(cmd, defaultDataDir())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print path, url, size and etag as JSON, one object a line")
	return cmd
}
