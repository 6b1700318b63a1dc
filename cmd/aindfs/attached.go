package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/resolve"
	"github.com/spf13/cobra"
)

func newAttachedCmd(g *globals) *cobra.Command {
	var (
		src         sourceFlags
		asJSON      bool
		computation string
	)
	cmd := &cobra.Command{
		Use:   "attached [DIR]",
		Short: "List the sessions that have assets in DIR, and what is missing",
		Long: `List the unique sessions that have asset folders in DIR (default /data, where
a capsule sees its attached assets). With Code Ocean access, say for each
whether its raw and sorted assets are attached, naming the missing ones.

Inside a running capsule ($` + computationIDVar + `, or --computation ID), also list
the assets attached to the computation whose folders are not in DIR yet
(Code Ocean is still mounting them).`,
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
			if computation == "" {
				computation = strings.TrimSpace(os.Getenv(computationIDVar))
			}
			var pending []codeocean.AttachedAsset
			if sources.catalog != nil && computation != "" {
				// The sessions in DIR are still worth listing without it.
				if pending, err = notMounted(cmd.Context(), sources.catalog, computation, sources.dataDir); err != nil {
					g.log.Warn("cannot say what is still mounting", "err", err)
				}
			}
			return g.printAttached(cmd.Context(), sources, asJSON, computation, pending)
		},
	}
	cmd.Flags().BoolVar(&src.offline, "offline", false, "only list the sessions: no Code Ocean, no S3")
	cmd.Flags().StringVar(&computation, "computation", "", "running computation whose attached assets to look for (default $"+computationIDVar+")")
	cmd.Flags().BoolVar(&asJSON, "json", false, `one JSON object a session: {"session", "raw", "sorted"}, each asset {"state": attached|mounting|missing|none|unknown, "name", "id"}; inside a running capsule first {"computation", "not_mounted": [{"id", "mount"}]} when some are`)
	src.cacheSize = defaultCacheSize
	return cmd
}

// notMounted lists the assets attached to a computation whose folders are
// not in dataDir yet.
func notMounted(ctx context.Context, catalog *codeocean.Client, computation, dataDir string) ([]codeocean.AttachedAsset, error) {
	comp, err := catalog.GetComputation(ctx, computation)
	if err != nil {
		return nil, fmt.Errorf("assets attached to computation %s: %w", computation, err)
	}
	var out []codeocean.AttachedAsset
	for _, a := range comp.DataAssets {
		name := filepath.Base(a.Mount)
		if a.Mount == "" {
			name = a.ID
		}
		if fi, err := os.Stat(filepath.Join(dataDir, name)); err != nil || !fi.IsDir() {
			out = append(out, a)
		}
	}
	return out, nil
}

func (g *globals) printAttached(ctx context.Context, src *sources, asJSON bool, computation string, pending []codeocean.AttachedAsset) error {
	local, err := src.resolver.LocalAssets(ctx)
	if err != nil {
		return err
	}
	if len(local) == 0 && len(pending) == 0 {
		return fmt.Errorf("no asset folders of sessions in %s", src.dataDir)
	}
	mounting := map[string]bool{}
	for _, a := range pending {
		mounting[a.ID] = true
	}
	if asJSON && len(pending) > 0 {
		line := struct {
			Computation string                    `json:"computation"`
			NotMounted  []codeocean.AttachedAsset `json:"not_mounted"`
		}{computation, pending}
		if err := json.NewEncoder(g.stdout).Encode(line); err != nil {
			return err
		}
	} else if len(pending) > 0 {
		fmt.Fprintf(g.stdout, "attached to computation %s, not in %s yet:\n", computation, src.dataDir)
		for _, a := range pending {
			fmt.Fprintf(g.stdout, "  %s (%s)\n", a.Mount, a.ID)
		}
	}
	var sessions []resolve.Session
	for _, a := range local {
		if s, err := resolve.ParseSession(a.Name); err == nil && !slices.Contains(sessions, s) {
			sessions = append(sessions, s)
		}
	}
	slices.SortFunc(sessions, resolve.Session.Compare)
	if len(sessions) == 0 {
		return nil
	}
	online := src.resolver.Online()
	if asJSON {
		return printAttachedJSON(ctx, g.stdout, src.resolver, sessions, online, mounting)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	if !online {
		for _, s := range sessions {
			fmt.Fprintln(tw, s.ID())
		}
		return tw.Flush()
	}
	fmt.Fprintln(tw, "SESSION\tRAW\tSORTED")
	var errs []error
	for _, s := range sessions {
		raw, sorted, err := attachState(ctx, src.resolver, s, mounting)
		if err != nil {
			errs = append(errs, err)
		}
		rawText := raw.String()
		if raw.State == stateNone {
			rawText = "none in catalog"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID(), rawText, sorted)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// printAttachedJSON writes one object a session: its ID and, online, the
// state of its raw and sorted assets.
func printAttachedJSON(ctx context.Context, w io.Writer, r *resolve.Resolver, sessions []resolve.Session, online bool, mounting map[string]bool) error {
	type line struct {
		Session string      `json:"session"`
		Raw     *attachment `json:"raw,omitempty"`
		Sorted  *attachment `json:"sorted,omitempty"`
	}
	enc := json.NewEncoder(w)
	var errs []error
	for _, s := range sessions {
		l := line{Session: s.ID()}
		if online {
			raw, sorted, err := attachState(ctx, r, s, mounting)
			if err != nil {
				errs = append(errs, err)
			}
			l.Raw, l.Sorted = &raw, &sorted
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// States of a session's raw or sorted asset in a capsule.
const (
	stateAttached = "attached" // a local folder
	stateMissing  = "missing"  // in the catalog, not attached
	stateMounting = "mounting" // attached to the running computation, its folder not there yet
	stateNone     = "none"     // no such asset in the catalog
	stateUnknown  = "unknown"  // the catalog could not say
)

// attachment is whether an asset is attached, and which asset.
type attachment struct {
	State string `json:"state"`
	Name  string `json:"name,omitempty"`
	ID    string `json:"id,omitempty"`
}

func (a attachment) String() string {
	if a.State == stateMissing || a.State == stateMounting {
		return a.State + ": " + a.Name + " (" + a.ID + ")"
	}
	return a.State
}

// stateOf is the attachment of asset a; mounting holds the IDs of assets
// attached to the running computation but not in the data folder yet.
func stateOf(a resolve.Asset, mounting map[string]bool) attachment {
	state := stateMissing
	switch {
	case !a.Local.IsZero():
		state = stateAttached
	case mounting[a.ID]:
		state = stateMounting
	}
	return attachment{State: state, Name: strings.TrimSpace(a.Name), ID: a.ID}
}

// attachState says whether a session's raw and sorted assets are attached
// (present as local folders), naming each.
func attachState(ctx context.Context, r *resolve.Resolver, s resolve.Session, mounting map[string]bool) (raw, sorted attachment, err error) {
	rawAsset, rerr := r.RawAsset(ctx, s)
	switch {
	case rerr == nil:
		raw = stateOf(rawAsset, mounting)
	case errors.Is(rerr, resolve.ErrNotFound):
		raw = attachment{State: stateNone}
	default:
		raw, err = attachment{State: stateUnknown}, rerr
	}
	sortedAsset, ok, serr := r.SortedAsset(ctx, s)
	switch {
	case serr != nil:
		sorted, err = attachment{State: stateUnknown}, errors.Join(err, serr)
	case !ok:
		sorted = attachment{State: stateNone}
	default:
		sorted = stateOf(sortedAsset, mounting)
	}
	return raw, sorted, err
}
