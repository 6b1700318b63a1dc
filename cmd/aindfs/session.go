package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aind/aindfs/resolve"
	"github.com/spf13/cobra"
)

// capsuleDataDir is where a Code Ocean capsule sees its attached assets.
const capsuleDataDir = "/data"

// defaultDataDir is /data inside a capsule, nothing elsewhere.
func defaultDataDir() string {
	if fi, err := os.Stat(capsuleDataDir); err == nil && fi.IsDir() {
		return capsuleDataDir
	}
	return ""
}

func newSessionCmd(g *globals) *cobra.Command {
	var (
		asJSON bool
		src    sourceFlags
	)
	cmd := &cobra.Command{
		Use:   "session NAME",
		Short: "Describe one session: what session.json holds",
		Long: `Describe the session named by NAME: its raw asset and raw data folder, its
modalities, its sorted asset and all its assets, as the mount's session.json
shows them.

NAME may be a canonical session ID (ecephys_676909_2023-12-13_13-43-40), an
asset name with a suffix (..._sorted_2024-03-01_16-02-45), an old
underscore-only name, or a path that contains one.`,
		Example: `  aindfs session ecephys_676909_2023-12-13_13-43-40
  aindfs session /data/ecephys_686740_2023_10_26_12_29_08_to_dlc_side --json
  aindfs session ecephys_676909_2023-12-13_13-43-40 --data testdata/data --offline`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := resolve.ParseSession(args[0])
			if err != nil {
				return usageError{err}
			}
			sources, err := g.openSources(cmd.Context(), src)
			if err != nil {
				return err
			}
			defer sources.Close()
			// A failed lookup still leaves what the name says: print it,
			// then the reason, and exit 1.
			info, err := sources.resolver.Info(cmd.Context(), s)
			var perr error
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				perr = enc.Encode(info)
			} else {
				perr = printInfo(g.stdout, info)
			}
			return errors.Join(err, perr)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, as in session.json")
	src.register(cmd, defaultDataDir())
	return cmd
}

func printInfo(w io.Writer, info resolve.Info) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\n", info.ID)
	fmt.Fprintf(tw, "platform:\t%s\n", info.Platform)
	fmt.Fprintf(tw, "subject_id:\t%s\n", info.SubjectID)
	fmt.Fprintf(tw, "date:\t%s\n", info.Date)
	fmt.Fprintf(tw, "time:\t%s\n", info.Time)
	fmt.Fprintf(tw, "raw asset:\t%s\n", refText(info.RawDataAsset))
	fmt.Fprintf(tw, "raw data:\t%s\n", orNone(info.RawDataDir))
	fmt.Fprintf(tw, "modalities:\t%s\n", orNone(strings.Join(info.Modalities, ", ")))
	fmt.Fprintf(tw, "sorted asset:\t%s\n", refText(info.SortedDataAsset))
	fmt.Fprintf(tw, "assets:\t%d\n", len(info.DataAssets))
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range info.DataAssets {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", shortTime(a.Created), a.Type, a.Name, orNone(a.ID))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printSortings(w, info.SortedDataAssets)
}

// printSortings is the table of a session's sortings, oldest first.
func printSortings(w io.Writer, sortings []resolve.SortedRef) error {
	fmt.Fprintf(w, "sortings:      %d\n", len(sortings))
	if len(sortings) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  SORTER\tCREATED\tPROBES\tVERDICT\n")
	for _, v := range sortings {
		sorter := "unknown"
		if v.Sorter != nil {
			sorter = *v.Sorter
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", sorter, shortTime(v.Created), orNone(strings.Join(v.Probes, ",")), v.Verdict)
	}
	return tw.Flush()
}

func refText(r *resolve.Ref) string {
	if r == nil {
		return "none"
	}
	if r.ID == "" {
		return r.Name + " (local)"
	}
	return fmt.Sprintf("%s (%s, created %s)", r.Name, r.ID, shortTime(r.Created))
}

func shortTime(rfc3339 string) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return rfc3339
	}
	return t.Format("2006-01-02 15:04")
}
