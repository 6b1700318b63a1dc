package main

import (
	"errors"
	"fmt"

	"github.com/aind/aindfs/store"
	"github.com/spf13/cobra"
)

// registerCacheDir adds --cache-dir and --cache-dir-size to cmd.
func registerCacheDir(cmd *cobra.Command, dir, size *string) {
	cmd.Flags().StringVar(dir, "cache-dir", "", "keep file blocks read from S3 in this folder too, across mounts and restarts, shared by the processes that name it (in a Code Ocean capsule: /scratch); default: memory only")
	cmd.Flags().StringVar(size, "cache-dir-size", formatSize(store.DefaultDiskBytes), "most disk --cache-dir may take, its bookkeeping included")
}

func parseCacheDirSize(s string) (int64, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, usageError{fmt.Errorf("--cache-dir-size: %w", err)}
	}
	return n, nil
}

func newCacheCmd(g *globals) *cobra.Command {
	var dir, size string
	cmd := &cobra.Command{
		Use:   "cache stats|clear --cache-dir DIR",
		Short: "Show or empty the disk cache",
		Long: `stats prints the disk cache folder's size and number of blocks; clear removes
every block. Mounts using the folder go on: they fetch again from S3 what
they no longer find.`,
		Example: `  aindfs cache stats --cache-dir /scratch
  aindfs cache clear --cache-dir /scratch`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"stats", "clear"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "stats" && args[0] != "clear" {
				return usageError{fmt.Errorf("cache %q: want stats or clear", args[0])}
			}
			if dir == "" {
				return usageError{errors.New("cache: --cache-dir is needed")}
			}
			limit, err := parseCacheDirSize(size)
			if err != nil {
				return err
			}
			d, err := store.OpenDiskCache(dir, limit, g.log)
			if err != nil {
				return err
			}
			defer d.Close()
			if args[0] == "clear" {
				if err := d.Clear(); err != nil {
					return fmt.Errorf("cache clear %s: %w", dir, err)
				}
			}
			st, err := d.Stats()
			if err != nil {
				return fmt.Errorf("cache stats %s: %w", dir, err)
			}
			fmt.Fprintf(g.stdout, "%s: %d blocks, %s of %s\n", st.Dir, st.Blocks, formatBytes(st.Bytes), formatBytes(limit))
			return nil
		},
	}
	registerCacheDir(cmd, &dir, &size)
	return cmd
}
