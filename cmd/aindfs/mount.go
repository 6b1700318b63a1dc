package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/aind/aindfs/fs"
	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"
)

func newMountCmd(g *globals) *cobra.Command {
	var (
		src            sourceFlags
		allowOther     bool
		readAhead      string
		directIO       string
		maxBackground  int
		debugFUSE      bool
		background     bool
		metricsAddr    string
		allowNonEmpty  bool
		listingEntries int
	)
	cmd := &cobra.Command{
		Use:   "mount [flags] MOUNTPOINT",
		Short: "Serve the sessions as a read-only filesystem at MOUNTPOINT",
		Long: `Mount the tree of sessions at MOUNTPOINT and serve it in the foreground until
interrupted (Ctrl-C, SIGTERM), then unmount:

  sessions/<session-id>/  session.json, raw/, metadata/, sorted/, assets/<name>/
  subjects/<subject-id>/  a link per session of the subject
  assets/<asset-id>/      any asset's files by Code Ocean ID

Any session name can be looked up under sessions/ without listing it first.
Assets in --data are served from local disk; with a Code Ocean token and S3
access the others are found in the catalog and streamed from S3 through the
block cache (--cache-size), and with --cache-dir (in a Code Ocean capsule:
/scratch) also kept on local disk across mounts. As root the kernel is
asked directly; otherwise fusermount3 (package fuse3) is needed. A stale mount left at MOUNTPOINT by a
process that died is cleared first; a MOUNTPOINT that holds files is refused
(the mount would hide them) unless --allow-non-empty.

Once the mount serves, "aindfs: serving MOUNTPOINT" is printed on stderr (and
READY sent to systemd when it started aindfs, STOPPING when it unmounts).
With --background the command returns at that moment, leaving the mount in
its own process; it fails instead, with the reason, if the mount could not
be made. SIGUSR2 steps the log level: debug, info, warn, error, debug, ...
SIGHUP, or aindfs refresh, forgets what was learnt of sessions (answers,
listings; not file contents, which never change), so that an asset made
since shows up. SIGINT or SIGTERM unmounts (a second one ends the process at
once); while it unmounts, SIGHUP and SIGUSR2 are logged and ignored. aindfs
stats shows what the mount has done.`,
		Example: `  aindfs mount ~/sessions
  aindfs mount --data /data --cache-size 4GiB /root/capsule/sessions
  aindfs mount --data testdata/data --offline ./mnt
  aindfs mount --background --log-file /var/log/aindfs.log /mnt/sessions`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ra, err := parseSize(readAhead)
			if err != nil || ra < 4096 {
				return usageError{fmt.Errorf("--read-ahead %q: want a size of at least 4KiB, such as 1MiB", readAhead)}
			}
			direct := int64(-1)
			if directIO != "off" {
				if direct, err = parseSize(directIO); err != nil || direct < 1 {
					return usageError{fmt.Errorf("--direct-io %q: want a size such as 16MiB, or off", directIO)}
				}
			}
			if listingEntries < 1 {
				return usageError{fmt.Errorf("--listing-cache %d: want at least 1", listingEntries)}
			}
			if maxBackground < 1 {
				return usageError{fmt.Errorf("--max-background %d: want at least 1", maxBackground)}
			}
			// Signals are caught before anything is mounted, so that an
			// early Ctrl-C still unmounts.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if background && g.ready == nil {
				return g.mountInBackground(ctx)
			}
			if fi, err := os.Stat(args[0]); err == nil && !fi.IsDir() {
				return usageError{fmt.Errorf("mount point %s is not a folder", args[0])}
			} else if errors.Is(err, os.ErrNotExist) {
				return usageError{fmt.Errorf("mount point %s does not exist", args[0])}
			}
			sources, err := g.openSources(ctx, src)
			if err != nil {
				return err
			}
			defer sources.Close()
			limitGoHeap(g, listingEntries)
			dir, err := filepath.Abs(args[0])
			if err != nil {
				return usageError{fmt.Errorf("mount point %s: %w", args[0], err)}
			}
			cacheBytes, _ := parseSize(src.cacheSize) // checked by openSources
			tree := fs.New(fs.Config{Resolver: sources.resolver, Objects: fs.StoreObjects(sources.store), Logger: g.log,
				Stats: g.statsFile(sources, dir, controlSocket()), FolderAhead: fs.FolderAheadFor(cacheBytes),
				ListingEntries: listingEntries})
			m, err := tree.Mount(dir, fs.MountOptions{
				AllowOther: allowOther, ReadAhead: int(ra), MaxBackground: maxBackground, DirectIO: direct, Debug: debugFUSE,
				AllowNonEmpty: allowNonEmpty, Reads: sources.metrics.ObserveRead,
			})
			if errors.Is(err, fs.ErrNotEmpty) {
				return usageError{fmt.Errorf("%w; choose an empty folder, or pass --allow-non-empty", err)}
			}
			if err != nil {
				return err
			}
			g.log.Info("mounted", "dir", m.Dir, "data", orNone(src.dataDir), "code_ocean", sources.describeCatalog(),
				"s3", !src.offline, "cache", src.cacheSize, "direct_io", directIO, "allow_other", allowOther)
			stopMetrics, err := g.watchMount(sources, m, metricsAddr)
			if err != nil {
				m.Unmount()
				return err
			}
			defer stopMetrics()
			stopControl, err := g.serveControl(controlSocket(), sources.resolver, m)
			if err != nil {
				m.Unmount()
				return err
			}
			defer stopControl()
			defer onSignal(ctx, g.log, syscall.SIGUSR2, g.stepLogLevel)()
			defer onSignal(ctx, g.log, syscall.SIGHUP, func() { g.refresh(sources.resolver, m, "") })()
			g.serving(m.Dir)
			return serveUntilDone(ctx, stop, g.log, m.Dir, m)
		},
	}
	src.register(cmd, defaultDataDir())
	src.registerTTLs(cmd)
	cmd.Flags().BoolVar(&allowOther, "allow-other", false, "let other users read the mount (needs user_allow_other in /etc/fuse.conf unless root)")
	cmd.Flags().StringVar(&readAhead, "read-ahead", formatSize(fs.DefaultReadAhead), "how far the kernel reads ahead of a sequential reader")
	cmd.Flags().StringVar(&directIO, "direct-io", "off", "S3 files of at least this size (such as 16MiB) bypass the kernel's page cache and are served from the block cache alone: less CPU for cp and cat, but a round trip to aindfs for every read, which makes programs that read a few bytes at a time (h5py) many times slower; off: every file keeps the page cache")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://HOST:PORT/metrics, and Go's profiles at /debug/pprof/ (off when empty)")
	cmd.Flags().BoolVar(&background, "background", false, "return once the mount serves (exit 0) or with the reason it could not; the mount goes on in its own process, logging to --log-file (without one, its log is discarded)")
	cmd.Flags().IntVar(&maxBackground, "max-background", fs.DefaultMaxBackground, "read-ahead requests the kernel may have in flight")
	cmd.Flags().IntVar(&listingEntries, "listing-cache", fs.DefaultListingEntries, "entries of folder listings kept in memory (about 1 KiB each); the least recently used folders are listed again when next asked")
	cmd.Flags().BoolVar(&allowNonEmpty, "allow-non-empty", false, "mount over a folder that holds files, hiding them until unmounted")
	cmd.Flags().BoolVar(&debugFUSE, "debug-fuse", false, "log every FUSE request (with --log-level debug)")
	return cmd
}

// goHeapHeadroom is the Go heap a mount needs besides its listings:
// resolver answers, request buffers, the nodes the kernel holds, garbage.
const goHeapHeadroom = 64 << 20

// limitGoHeap sets the Go soft memory limit from the budgets that live in
// the Go heap: twice the listings kept (listingEntries of about
// fs.ListingEntryBytes), since the collector needs as much room again to
// run seldom, plus goHeapHeadroom. The block cache is not among them: its
// blocks live outside the Go heap, and counting it would let garbage grow
// to its size. A limit close to the live heap makes the collector run
// without pause: a fixed 32 MiB under a 200,000-entry listing cost four
// times the CPU of the listing itself. GOMEMLIMIT, when set, wins.
func limitGoHeap(g *globals, listingEntries int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := 2*int64(listingEntries)*fs.ListingEntryBytes + goHeapHeadroom
	debug.SetMemoryLimit(limit)
	g.log.Debug("Go heap limited", "bytes", limit, "listing_entries", listingEntries)
}

// mounted is what serveUntilDone needs of a mount.
type mounted interface {
	// Wait returns when the mount has stopped serving.
	Wait()
	// Unmount stops serving and unmounts.
	Unmount() error
}

// serveUntilDone waits for a signal, or for someone else to unmount, then
// unmounts. Signals stop being caught (stopSignals) once the first one has
// arrived, so a second Ctrl-C kills a process whose unmount hangs.
func serveUntilDone(ctx context.Context, stopSignals context.CancelFunc, log *slog.Logger, dir string, m mounted) error {
	served := make(chan struct{})
	go func() { m.Wait(); close(served) }()
	select {
	case <-ctx.Done():
		stopSignals()
		log.Info("unmounting; a second signal ends the process at once", "dir", dir, "why", context.Cause(ctx))
	case <-served:
		log.Info("unmounted from outside", "dir", dir)
	}
	if _, err := daemon.SdNotify(false, daemon.SdNotifyStopping); err != nil {
		log.Warn("could not tell systemd the mount is stopping", "err", err)
	}
	return m.Unmount()
}
