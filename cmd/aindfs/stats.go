package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aind/aindfs/fs"
	"github.com/aind/aindfs/internal/metrics"
	"github.com/spf13/cobra"
)

// statsPath is where a mount shows its counters, relative to the mount point.
const statsPath = ".aindfs/stats.json"

// mountStats is what stats.json holds: the counters and what they are of.
type mountStats struct {
	Mount    string `json:"mount"`
	Version  string `json:"version"`
	LogLevel string `json:"log_level"`
	Control  string `json:"control"` // the socket aindfs refresh talks to
	metrics.Snapshot
}

// statsFile returns the contents of stats.json for the mount at dir.
func (g *globals) statsFile(src *sources, dir, control string) func() []byte {
	return func() []byte {
		snap, err := src.metrics.Snapshot()
		if err != nil {
			g.log.Warn("could not read the counters", "err", err)
		}
		b, _ := json.MarshalIndent(mountStats{Mount: dir, Version: buildVersion(), Control: control,
			LogLevel: strings.ToLower(g.level.Level().String()), Snapshot: snap}, "", "  ")
		return append(b, '\n')
	}
}

// watchMount adds the mount's own counters to src's, and serves them to
// Prometheus at addr unless it is empty. The returned func stops serving.
func (g *globals) watchMount(src *sources, m *fs.Mount, addr string) (func(), error) {
	src.metrics.Watch(metrics.Sources{
		Store: src.store, CacheBudget: src.cacheBytes, OpenFiles: m.OpenFiles,
		Sessions: func() int { return len(src.resolver.KnownSessions(context.Background())) },
	})
	if addr == "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", src.metrics.Handler())
	// Go's profiles, for finding where a slow mount spends its time:
	// go tool pprof http://HOST:PORT/debug/pprof/profile?seconds=10
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	g.log.Info("serving metrics", "url", "http://"+l.Addr().String()+"/metrics")
	return func() { srv.Close() }, nil
}

func newStatsCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats MOUNTPOINT",
		Short: "Show what a running mount has done: cache, bytes, requests, errors",
		Long: `Show the counters of the mount at MOUNTPOINT, as it keeps them in
MOUNTPOINT/` + statsPath + ` (a file root listings do not show): the cache's
budget and use, hits and misses, bytes read, found in the cache and fetched
from S3, the disk cache's blocks read and written, requests to
S3, Code Ocean and DocDB by kind, errors by kind, FUSE reads, open files,
readahead in flight, sessions resolved, and uptime. Counts are since the
mount started. --json prints the file as it is.`,
		Example: `  aindfs stats /mnt/sessions
  aindfs stats --json /mnt/sessions | jq .cache`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(filepath.Join(args[0], statsPath))
			if errors.Is(err, os.ErrNotExist) {
				return usageError{fmt.Errorf("%s is not an aindfs mount: it has no %s", args[0], statsPath)}
			}
			if err != nil {
				return err
			}
			if asJSON {
				_, err = g.stdout.Write(b)
				return err
			}
			var st mountStats
			if err := json.Unmarshal(b, &st); err != nil {
				return fmt.Errorf("%s: %w", filepath.Join(args[0], statsPath), err)
			}
			return printStats(g.stdout, st)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print "+statsPath+" as it is")
	return cmd
}

func printStats(w io.Writer, st mountStats) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	up := time.Duration(st.UptimeSeconds * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(tw, "mount:\t%s (pid %d, up %s, aindfs %s, log level %s)\n", st.Mount, st.PID, up, st.Version, st.LogLevel)
	fmt.Fprintf(tw, "cache:\t%s used of %s; %d hits, %d misses\n", formatBytes(st.Cache.UsedBytes), formatBytes(st.Cache.BudgetBytes), st.Cache.Hits, st.Cache.Misses)
	fmt.Fprintf(tw, "bytes:\t%s read (%s of it found in the cache), %s fetched into the cache, %s received from S3\n",
		formatBytes(st.Bytes.Read), formatBytes(st.Bytes.FromCache), formatBytes(st.Bytes.Fetched), formatBytes(st.Bytes.FromS3))
	fmt.Fprintf(tw, "disk cache:\t%d blocks read back, %d written\n", st.DiskCache.Hits, st.DiskCache.Writes)
	fmt.Fprintf(tw, "requests:\t%s\n", byKind(st.Requests))
	fmt.Fprintf(tw, "errors:\t%s\n", byKind(st.Errors))
	fmt.Fprintf(tw, "fuse reads:\t%d (%d failed)\n", st.FUSEReads, st.FUSEReadErrors)
	fmt.Fprintf(tw, "open files:\t%d\n", st.OpenFiles)
	fmt.Fprintf(tw, "readahead:\t%s in flight\n", formatBytes(st.ReadaheadInflightBytes))
	fmt.Fprintf(tw, "sessions:\t%d resolved\n", st.SessionsResolved)
	return tw.Flush()
}

// byKind writes counts by service and kind: "s3 get_range 12, head 3; codeocean search 8".
func byKind(m map[string]map[string]int64) string {
	var services []string
	for s := range m {
		services = append(services, s)
	}
	slices.Sort(services)
	var parts []string
	for _, s := range services {
		var kinds []string
		for k, n := range m[s] {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		slices.Sort(kinds)
		parts = append(parts, s+" "+strings.Join(kinds, ", "))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// formatBytes writes n in binary units with one decimal: 1.5 GiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
