package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/resolve"
	"github.com/spf13/cobra"
)

// computationIDVar names the computation a running capsule is: Code Ocean
// sets it in cloud workstations, beside CO_CAPSULE_ID.
const computationIDVar = "CO_COMPUTATION_ID"

// defaultAttachWait bounds the wait for attached assets' folders: Code Ocean
// mounts an asset in seconds to a few minutes.
const defaultAttachWait = 10 * time.Minute

// mountPoll is how often the data folder is looked at while waiting.
const mountPoll = 500 * time.Millisecond

func newAttachCmd(g *globals) *cobra.Command {
	var (
		withSorted  bool
		capsule     string
		computation string
		dryRun      bool
		wait        bool
		waitFor     time.Duration
		src         sourceFlags
	)
	cmd := &cobra.Command{
		Use:   "attach NAME...",
		Short: "Attach sessions' raw (and sorted) assets to the running capsule, or to a capsule",
		Long: `Attach the raw asset of each named session (and its sorted asset with --sorted),
skipping those whose folders are in --data already (default /data).

Inside a running capsule (a cloud workstation) Code Ocean sets $` + computationIDVar + `:
the assets are attached to that running computation, and their folders appear
under /data without a restart. attach then waits for each folder (--wait, on by
default there, for at most --wait-timeout) and prints a line as each arrives.
--computation ID names another running computation.

With --capsule ID, or outside a running capsule, the assets are attached to
that capsule (default $` + capsuleIDVar + `) and appear at its next run. A capsule whose cloud workstation is running
refuses that: attach to its computation instead.

Assets attached already are reported as such, not as failures. Assets go in
requests of at most 100; when Code Ocean refuses one, its assets are tried one
by one and each gets its own line. Needs a Code Ocean token with the Capsules
read & write and Data Assets read & write scopes.`,
		Example: `  aindfs attach ecephys_676909_2023-12-13_13-43-40 --sorted     # inside a running capsule
  aindfs attach ecephys_676909_2023-12-13_13-43-40 --dry-run
  aindfs attach behavior_702131_2024-02-05_10-11-12 --capsule 0d1e...`,
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
			target, inside, err := attachTarget(computation, capsule)
			if err != nil {
				return usageError{err}
			}
			if !cmd.Flags().Changed("wait") {
				// The folders appear here only when this is the running
				// capsule the assets go to.
				wait = inside && src.dataDir != ""
			}
			if wait && src.dataDir == "" {
				return usageError{errors.New("--wait needs --data: the folder where the capsule sees its assets")}
			}
			sources, err := g.openSources(cmd.Context(), src)
			if err != nil {
				return err
			}
			defer sources.Close()
			if sources.catalog == nil {
				return fmt.Errorf("attach needs Code Ocean access: set %s", codeocean.TokenVar)
			}
			want, errs := g.missingAssets(cmd.Context(), sources.resolver, sessions, withSorted)
			if len(want) == 0 {
				return errors.Join(errs...)
			}
			if dryRun {
				for _, a := range want {
					fmt.Fprintf(g.stdout, "would attach %s at /data/%s to %s\n", a.ID, a.Mount, target)
				}
				return errors.Join(errs...)
			}
			outcomes, err := sources.catalog.Attach(cmd.Context(), target, want)
			var arriving []codeocean.AttachOutcome
			for _, o := range outcomes {
				switch {
				case o.Err != nil:
					fmt.Fprintf(g.stdout, "failed %s (%s): %v\n", o.ID, o.Mount, o.Err)
					if err == nil {
						errs = append(errs, fmt.Errorf("attach %s: %w", o.ID, o.Err))
					}
				case o.Already:
					fmt.Fprintf(g.stdout, "already attached %s at /data/%s\n", o.ID, o.Mount)
					arriving = append(arriving, o)
				default:
					fmt.Fprintf(g.stdout, "attached %s at /data/%s (%s)\n", o.ID, o.Mount, orNone(o.Result.MountState))
					arriving = append(arriving, o)
				}
			}
			if err != nil {
				return errors.Join(append(errs, err)...)
			}
			if wait {
				if err := g.waitForFolders(cmd.Context(), sources.dataDir, arriving, waitFor); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&withSorted, "sorted", false, "also attach each session's sorted asset")
	cmd.Flags().StringVar(&computation, "computation", "", "running computation (cloud workstation) to attach to (default $"+computationIDVar+")")
	cmd.Flags().StringVar(&capsule, "capsule", "", "capsule to attach to when no computation is named (default $"+capsuleIDVar+")")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be attached, attach nothing")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until each asset's folder is in --data (default on inside the running capsule attached to)")
	cmd.Flags().DurationVar(&waitFor, "wait-timeout", defaultAttachWait, "how long --wait waits for the folders")
	cmd.Flags().StringVar(&src.dataDir, "data", defaultDataDir(), "folder where attached assets appear (default /data when it exists)")
	src.cacheSize = defaultCacheSize
	return cmd
}

// attachTarget picks where assets go: the flags first, then the running
// capsule's own computation, then its capsule. inside says the target is the
// computation this process runs in, whose /data gains the folders.
func attachTarget(computation, capsule string) (t codeocean.Target, inside bool, err error) {
	own := strings.TrimSpace(os.Getenv(computationIDVar))
	switch {
	case computation != "":
		return codeocean.Target{Computation: computation}, computation == own, nil
	case capsule != "":
		return codeocean.Target{Capsule: capsule}, false, nil
	case own != "":
		return codeocean.Target{Computation: own}, true, nil
	}
	if c := strings.TrimSpace(os.Getenv(capsuleIDVar)); c != "" {
		return codeocean.Target{Capsule: c}, false, nil
	}
	return t, false, fmt.Errorf("nothing to attach to: give --computation ID or --capsule ID, or run inside a capsule ($%s, $%s)", computationIDVar, capsuleIDVar)
}

// missingAssets are the raw (and sorted) assets of the sessions that are not
// in the data folder yet, each once.
func (g *globals) missingAssets(ctx context.Context, r *resolve.Resolver, sessions []resolve.Session, withSorted bool) ([]codeocean.Attachment, []error) {
	var (
		want []codeocean.Attachment
		errs []error
	)
	for _, s := range sessions {
		raw, err := r.RawAsset(ctx, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		want = appendMissing(g, want, raw)
		if !withSorted {
			continue
		}
		sorted, ok, err := r.SortedAsset(ctx, s)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !ok:
			fmt.Fprintf(g.stdout, "%s: no sorted asset\n", s)
		default:
			want = appendMissing(g, want, sorted)
		}
	}
	return want, errs
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

// waitForFolders waits until each asset's folder is in dataDir, printing a
// line as each arrives, for at most limit.
func (g *globals) waitForFolders(ctx context.Context, dataDir string, assets []codeocean.AttachOutcome, limit time.Duration) error {
	pending := map[string]string{} // folder -> asset ID
	for _, a := range assets {
		if m := filepath.Base(a.Mount); m != "." && m != "/" {
			pending[filepath.Join(dataDir, m)] = a.ID
		}
	}
	start := time.Now()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(mountPoll)
	defer tick.Stop()
	announced := false
	for {
		for dir, id := range pending {
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
				fmt.Fprintf(g.stdout, "ready %s at %s (after %s)\n", id, dir, time.Since(start).Round(time.Second))
				delete(pending, dir)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if !announced {
			fmt.Fprintf(g.stdout, "waiting up to %s for %d folder(s) in %s\n", limit, len(pending), dataDir)
			announced = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("after %s these attached assets are not in %s yet: %s (Code Ocean may still be mounting them; see aindfs attached)",
				limit, dataDir, strings.Join(slices.Sorted(maps.Keys(pending)), ", "))
		case <-tick.C:
		}
	}
}
