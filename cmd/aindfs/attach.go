package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/resolve"
	"github.com/spf13/cobra"
)

func newAttachCmd(g *globals) *cobra.Command {
	var (
		withSorted bool
		capsule    string
		dryRun     bool
		src        sourceFlags
	)
	cmd := &cobra.Command{
		Use:   "attach NAME...",
		Short: "Attach sessions' raw (and sorted) assets to a capsule",
		Long: `Attach to a capsule the raw asset of each named session (and its sorted asset
with --sorted), skipping those already attached in --data (default /data).
Needs a Code Ocean token with capsule write access. The capsule is --capsule,
else $CO_CAPSULE_ID (set inside a running capsule).`,
		Example: `  aindfs attach ecephys_676909_2023-12-13_13-43-40 --sorted
  aindfs attach ecephys_676909_2023-12-13_13-43-40 behavior_702131_2024-02-05_10-11-12 --capsule 0d1e...`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sessions []resolve.Session
			for _, a := range args {
				s, err := resolve.ParseSession(a)
				if err != nil {
					return usageError{err}
				}
				sessions = append(sessions, s)
			}
			if capsule == "" {
				capsule = os.Getenv(capsuleIDVar)
			}
			if capsule == "" {
				return usageError{fmt.Errorf("no capsule: give --capsule ID or set %s", capsuleIDVar)}
			}
			sources, err := g.openSources(cmd.Context(), src)
			if err != nil {
				return err
			}
			defer sources.Close()
			if sources.catalog == nil {
				return fmt.Errorf("attach needs Code Ocean access: set %s", codeocean.TokenVar)
			}
			var (
				want []codeocean.Attachment
				errs []error
			)
			for _, s := range sessions {
				raw, err := sources.resolver.RawAsset(cmd.Context(), s)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				want = appendMissing(g, want, raw)
				if !withSorted {
					continue
				}
				sorted, ok, err := sources.resolver.SortedAsset(cmd.Context(), s)
				switch {
				case err != nil:
					errs = append(errs, err)
				case !ok:
					fmt.Fprintf(g.stdout, "%s: no sorted asset\n", s)
				default:
					want = appendMissing(g, want, sorted)
				}
			}
			if len(want) > 0 && !dryRun {
				res, err := sources.catalog.AttachDataAssets(cmd.Context(), capsule, want)
				if err != nil {
					return errors.Join(append(errs, fmt.Errorf("attach to capsule %s: %w", capsule, err))...)
				}
				for _, r := range res {
					fmt.Fprintf(g.stdout, "attached %s at /data/%s (%s)\n", r.ID, r.Mount, orNone(r.MountState))
				}
			} else if len(want) > 0 {
				for _, a := range want {
					fmt.Fprintf(g.stdout, "would attach %s at /data/%s\n", a.ID, a.Mount)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&withSorted, "sorted", false, "also attach each session's sorted asset")
	cmd.Flags().StringVar(&capsule, "capsule", "", "capsule to attach to (default $"+capsuleIDVar+")")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be attached, attach nothing")
	cmd.Flags().StringVar(&src.dataDir, "data", defaultDataDir(), "folder where attached assets appear (default /data when it exists)")
	src.cacheSize = defaultCacheSize
	return cmd
}

// appendMissing adds a to the attachments unless it is attached already.
func appendMissing(g *globals, want []codeocean.Attachment, a resolve.Asset) []codeocean.Attachment {
	if !a.Local.IsZero() {
		fmt.Fprintf(g.stdout, "%s: already attached\n", a.Name)
		return want
	}
	for _, w := range want {
		if w.ID == a.ID {
			return want
		}
	}
	return append(want, codeocean.Attachment{ID: a.ID, Mount: strings.TrimSpace(a.Name)})
}
