package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/aind/aindfs/resolve"
	"github.com/spf13/cobra"
)

func newAttachedCmd(g *globals) *cobra.Command {
	var (
		src    sourceFlags
		asJSON bool
	)
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
			return g.printAttached(cmd.Context(), sources, asJSON)
		},
	}
	cmd.Flags().BoolVar(&src.offline, "offline", false, "only list the sessions: no Code Ocean, no S3")
	cmd.Flags().BoolVar(&asJSON, "json", false, `one JSON object a session: {"session", "raw", "sorted"}, each asset {"state": attached|missing|none|unknown, "name", "id"}`)
	src.cacheSize = defaultCacheSize
	return cmd
}

func (g *globals) printAttached(ctx context.Context, src *sources, asJSON bool) error {
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
	online := src.resolver.Online()
	if asJSON {
		return printAttachedJSON(ctx, g.stdout, src.resolver, sessions, online)
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
		raw, sorted, err := attachState(ctx, src.resolver, s)
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
func printAttachedJSON(ctx context.Context, w io.Writer, r *resolve.Resolver, sessions []resolve.Session, online bool) error {
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
			raw, sorted, err := attachState(ctx, r, s)
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
	if a.State == stateMissing {
		return a.State + ": " + a.Name + " (" + a.ID + ")"
	}
	return a.State
}

// stateOf is the attachment of asset a.
func stateOf(a resolve.Asset) attachment {
	if !a.Local.IsZero() {
		return attachment{State: stateAttached, Name: strings.TrimSpace(a.Name), ID: a.ID}
	}
	return attachment{State: stateMissing, Name: strings.TrimSpace(a.Name), ID: a.ID}
}

// attachState says whether a session's raw and sorted assets are attached
// (present as local folders), naming each.
func attachState(ctx context.Context, r *resolve.Resolver, s resolve.Session) (raw, sorted attachment, err error) {
	rawAsset, rerr := r.RawAsset(ctx, s)
	switch {
	case rerr == nil:
		raw = stateOf(rawAsset)
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
		sorted = stateOf(sortedAsset)
	}
	return raw, sorted, err
}
