package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aind/aindfs/fs"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// defaultPrefetchJobs is how many files prefetch reads at once: each is
// read with readahead of many GETs, so a few files fill the link.
const defaultPrefetchJobs = 4

// prefetchCacheSize is prefetch's default --cache-size. Blocks only pass
// through memory on their way to disk, and every page of a larger cache is
// one the kernel zeroes for a new process: with 1 GiB, half the CPU time
// of prefetching a 1 GiB file went to that.
const prefetchCacheSize = "256MiB"

func newPrefetchCmd(g *globals) *cobra.Command {
	var (
		src    sourceFlags
		dryRun bool
		jobs   int
	)
	cmd := &cobra.Command{
		Use:   "prefetch PATH...",
		Short: "Fetch files of the tree into the disk cache (--cache-dir)",
		Long: `Read every file stored on S3 under each PATH of the tree into the disk cache,
so that a mount with the same --cache-dir (running now or started later)
reads them from local disk. PATH is relative to the top of the tree, as for
ls and cat; no mount is needed. Files of --data are on local disk already and
are left out.

On a terminal a progress bar shows bytes, rate and time left; otherwise a
line is printed per file fetched. Ctrl-C stops at once; what was fetched
stays in the cache.`,
		Example: `  aindfs prefetch --cache-dir /scratch sessions/ecephys_676909_2023-12-13_13-43-40/raw
  aindfs prefetch --cache-dir /scratch --dry-run sessions/ecephys_676909_2023-12-13_13-43-40`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if src.cacheDir == "" && !dryRun {
				return usageError{errors.New("prefetch: --cache-dir is needed (the folder the mount reads from)")}
			}
			if jobs < 1 {
				return usageError{fmt.Errorf("--jobs %d: want at least 1", jobs)}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			src.diskWait = true
			tree, done, err := g.openTree(ctx, src)
			if err != nil {
				return err
			}
			defer done()
			var files []prefetchFile
			for _, p := range args {
				if files, err = collectFiles(ctx, tree, p, files); err != nil {
					if ctx.Err() != nil {
						return errors.New("prefetch interrupted")
					}
					return treeError(err)
				}
			}
			var total int64
			for _, f := range files {
				total += f.size
			}
			if dryRun {
				for _, f := range files {
					fmt.Fprintf(g.stdout, "%s\t%s\n", formatBytes(f.size), f.file.Path())
				}
				fmt.Fprintf(g.stdout, "%d files, %s\n", len(files), formatBytes(total))
				return nil
			}
			return prefetch(ctx, g, files, total, jobs)
		},
	}
	src.register(cmd, defaultDataDir())
	src.cacheSize = prefetchCacheSize
	cmd.Flags().Lookup("cache-size").DefValue = prefetchCacheSize
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the files that would be fetched and their total size, fetch nothing")
	cmd.Flags().IntVar(&jobs, "jobs", defaultPrefetchJobs, "files fetched at once")
	return cmd
}

// prefetchFile is a file of the tree stored on S3.
type prefetchFile struct {
	file fs.File
	size int64
}

// collectFiles appends the files stored on S3 at or under path. Links
// inside folders are not followed: what they point to is elsewhere in the
// tree, and following them could go round in circles.
func collectFiles(ctx context.Context, tree *fs.Tree, path string, files []prefetchFile) ([]prefetchFile, error) {
	n, err := tree.Walk(ctx, path, true)
	if err != nil {
		return files, err
	}
	var walk func(n fs.Node) error
	walk = func(n fs.Node) error {
		switch n := n.(type) {
		case fs.Object:
			if loc, info := n.Object(); loc.Scheme == "s3" {
				files = append(files, prefetchFile{file: n, size: info.Size})
			}
		case fs.Dir:
			entries, err := n.ReadDir(ctx)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return files, walk(n)
}

// prefetch reads files, jobs at a time, showing progress on stderr when it
// is a terminal and a line per file on stdout otherwise.
func prefetch(ctx context.Context, g *globals, files []prefetchFile, total int64, jobs int) error {
	var bar *progressbar.ProgressBar
	if f, ok := g.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(g.stderr),
			progressbar.OptionSetDescription(fmt.Sprintf("prefetch %d files", len(files))),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(g.stderr) }),
		)
	}
	var (
		next, fetched atomic.Int64
		failed        atomic.Int64
		mu            sync.Mutex // one line at a time
		wg            sync.WaitGroup
	)
	start := time.Now()
	for range min(jobs, len(files)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				f := files[i]
				var w io.Writer = io.Discard
				if bar != nil {
					w = bar
				}
				began := time.Now()
				_, err := fs.ReadAll(ctx, f.file, w)
				mu.Lock()
				switch {
				case ctx.Err() != nil:
				case err != nil:
					failed.Add(1)
					if bar != nil {
						bar.Clear()
					}
					fmt.Fprintf(g.stderr, "aindfs: prefetch %s: %v\n", f.file.Path(), err)
				default:
					fetched.Add(1)
					if bar == nil {
						fmt.Fprintf(g.stdout, "%s\t%s\t%.1fs\n", formatBytes(f.size), f.file.Path(), time.Since(began).Seconds())
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if bar != nil {
		bar.Exit()
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("prefetch interrupted: %d of %d files fetched; what was fetched stays in the cache", fetched.Load(), len(files))
	case failed.Load() > 0:
		return fmt.Errorf("prefetch: %d of %d files failed", failed.Load(), len(files))
	}
	fmt.Fprintf(g.stderr, "prefetch: %d files, %s in %.1fs\n", len(files), formatBytes(total), time.Since(start).Seconds())
	return nil
}
