package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/aind/aindfs/resolve"
	"github.com/spf13/cobra"
)

func newAttachedCmd(g *globals) *cobra.Command {
	var src sourceFlags
	cmd := &cobra.Command{
		Use:   "attached [DIR]",
		Short: "List the sessions that have assets in DIR, and what is missing",
		Long: `List the unique sessions that have asset folders in DIR (default /data, where
a capsule sees its attached assets). With Code Ocean access, say for each
whether its raw and sorted assets are attached, naming the missing ones.`,
		Example: `  aindfs attached
  aindfs attached testdata/data --offline`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src.dataDir = capsuleDataDir
			if len(args) == 1 {
				src.dataDir = args[0]
			}
			sources, err := g.openSources(cmd.Context(), src)
			if err != nil {
				return err
			}
			defer sources.Close()
			return g.printAttached(cmd.Context(), sources)
		},
	}
	cmd.Flags().BoolVar(&src.offline, "offline", false, "only list the sessions: no Code Ocean, no S3")
	src.cacheSize = defaultCacheSize
	return cmd
}

func (g *globals) printAttached(ctx context.Context, src *sources) error {
	local, err := src.resolver.LocalAssets(ctx)
	if err != nil {
		return err
	}
	if len(local) == 0 {
		return fmt.Errorf("no asset folders of sessions in %s", src.dataDir)
	}
	var sessions []resolve.Session
	for _, a := range local {
		if s, err := resolve.ParseSession(a.Name); err == nil && !slices.Contains(sessions, s) {
			sessions = append(sessions, s)
		}
	}
	slices.SortFunc(sessions, resolve.Session.Compare)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	if !src.resolver.Online() {
		for _, s := range sessions {
			fmt.Fprintln(tw, s.ID())
		}
		return tw.Flush()
	}
	fmt.Fprintln(tw, "SESSION\tRAW\tSORTED")
	var errs []error
	for _, s := range sessions {
		raw, sorted, err := attachState(ctx, src.resolver, s)
		if err != nil {
			errs = append(errs, err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID(), raw, sorted)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// attachState says whether a session's raw and sorted assets are attached
// (present as local folders), naming a missing one.
func attachState(ctx context.Context, r *resolve.Resolver, s resolve.Session) (raw, sorted string, err error) {
	rawAsset, rerr := r.RawAsset(ctx, s)
	switch {
	case rerr == nil && !rawAsset.Local.IsZero():
		raw = "attached"
	case rerr == nil:
		raw = "missing: " + rawAsset.Name + " (" + rawAsset.ID + ")"
	case errors.Is(rerr, resolve.ErrNotFound):
		raw = "none in catalog"
	default:
		raw, err = "unknown", rerr
	}
	sortedAsset, ok, serr := r.SortedAsset(ctx, s)
	switch {
	case serr != nil:
		sorted, err = "unknown", errors.Join(err, serr)
	case !ok:
		sorted = "none"
	case !sortedAsset.Local.IsZero():
		sorted = "attached"
	default:
		sorted = "missing: " + sortedAsset.Name + " (" + sortedAsset.ID + ")"
	}
	return strings.TrimSpace(raw), sorted, err
}
