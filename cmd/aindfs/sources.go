package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/docdb"
	"github.com/aind/aindfs/internal/metrics"
	"github.com/aind/aindfs/resolve"
	"github.com/aind/aindfs/store"
	"github.com/spf13/cobra"
)

// Environment variables of aindfs itself (the Code Ocean and AWS ones are
// read by their packages' conventions).
const (
	bucketsVar   = "AINDFS_BUCKETS"
	capsuleIDVar = "CO_CAPSULE_ID"
)

// defaultCacheSize is the store's default budget, as --cache-size shows it.
var defaultCacheSize = formatSize(store.DefaultCacheBytes)

// catalogCallBudget is the time one Code Ocean call (a search page, an asset)
// may take, retries included: less than the resolver's bound on a whole
// lookup, so that a stalled server ends the call first and the error the
// reader gets names the server, the request and the limit, not only the
// lookup's deadline.
const catalogCallBudget = resolve.DefaultLookupTimeout * 5 / 6

// sourceFlags say where sessions are looked for; shared by every command that
// resolves sessions.
type sourceFlags struct {
	dataDir   string
	offline   bool
	cacheSize string
	// The disk cache: a folder and its bound (see cachedir.go).
	cacheDir, cacheDirSize string
	diskWait               bool // prefetch: wait for the disk rather than skip blocks
	// How long answers and failures are remembered; zero: the resolver's
	// defaults. Set by mount (registerTTLs), which runs long enough to care.
	metadataTTL, negativeTTL time.Duration
}

// registerTTLs adds the flags of how long answers are remembered.
func (f *sourceFlags) registerTTLs(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.metadataTTL, "metadata-ttl", resolve.DefaultAnswerTTL, "how long answers about sessions and listings are remembered (SIGHUP forgets them at once)")
	cmd.Flags().DurationVar(&f.negativeTTL, "negative-ttl", resolve.DefaultFailureTTL, "how long a failed or empty lookup is remembered before it is tried again")
}

func (f *sourceFlags) register(cmd *cobra.Command, dataDefault string) {
	cmd.Flags().StringVar(&f.dataDir, "data", dataDefault, "folder of attached asset folders, named by asset name (as a capsule's /data)")
	cmd.Flags().BoolVar(&f.offline, "offline", false, "use only --data (and a file:// AINDFS_DOCDB_URL): no Code Ocean, DocDB or S3")
	cmd.Flags().StringVar(&f.cacheSize, "cache-size", defaultCacheSize, "memory for cached file blocks (e.g. 512MiB, 4GiB)")
	registerCacheDir(cmd, &f.cacheDir, &f.cacheDirSize)
}

// sources are the pieces built from flags and environment: the catalog (when
// a token exists), the object store and the resolver on top of them.
type sources struct {
	catalog  *codeocean.Client // nil without a token or offline
	store    *store.Store
	resolver *resolve.Resolver
	dataDir  string
	local    *store.LocalBackend // nil without a data folder
	// metrics counts the requests to S3, Code Ocean and DocDB, and what
	// mount adds (Watch); stats and Prometheus read it.
	metrics    *metrics.Metrics
	cacheBytes int64 // the block cache's budget
}

// openSources builds the pieces. Without a Code Ocean token the resolver
// works from the data folder and the known buckets (S3-only mode).
func (g *globals) openSources(ctx context.Context, f sourceFlags) (*sources, error) {
	cacheBytes, err := parseSize(f.cacheSize)
	if err != nil {
		return nil, usageError{fmt.Errorf("--cache-size: %w", err)}
	}
	if f.dataDir != "" {
		// Locations are absolute paths: the tree must not depend on the
		// folder the command was started in.
		abs, err := filepath.Abs(f.dataDir)
		if err != nil {
			return nil, usageError{fmt.Errorf("--data %s: %w", f.dataDir, err)}
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, usageError{fmt.Errorf("--data %s: no such folder", f.dataDir)}
		}
		f.dataDir = abs
	}
	src := &sources{dataDir: f.dataDir, metrics: metrics.New(), cacheBytes: cacheBytes}
	opts := store.Options{CacheBytes: cacheBytes, Logger: g.log, DiskDir: f.cacheDir, DiskWait: f.diskWait}
	if f.cacheDir != "" {
		if opts.DiskBytes, err = parseCacheDirSize(f.cacheDirSize); err != nil {
			return nil, err
		}
	}
	if f.dataDir != "" {
		// Nothing outside the data folder is read: links that leave it are
		// shown as links, for the kernel to follow in the reader's own rights.
		if src.local, err = store.NewLocal(f.dataDir); err != nil {
			return nil, usageError{fmt.Errorf("--data %s: %w", f.dataDir, err)}
		}
		opts.Local = src.local
	}
	buckets := bucketsFromEnv()
	if f.offline {
		buckets = []string{}
	} else {
		s3, err := store.NewS3(ctx, store.S3Options{Logger: g.log, HTTPClient: src.metrics.S3Client(store.NewS3HTTPClient())})
		if err != nil {
			return nil, fmt.Errorf("set up S3: %w", err)
		}
		opts.S3 = s3
		cfg, tokenVar := codeocean.ConfigFromEnv(os.Getenv, os.Environ())
		cfg.Logger = g.log
		cfg.Retry.MaxElapsed = catalogCallBudget
		cfg.HTTPClient = src.metrics.Client(metrics.CodeOcean, metrics.CodeOceanKind)
		if cfg.Token != "" {
			// The variable's name, never its value: a cop_ value may be found
			// under any name, and the person should know which one was used.
			g.log.Info("code ocean token", "from", "$"+tokenVar)
			if src.catalog, err = codeocean.New(cfg); err != nil {
				return nil, fmt.Errorf("set up Code Ocean: %w", err)
			}
		}
	}
	src.store = store.New(opts)
	if f.metadataTTL < 0 || f.negativeTTL < 0 {
		return nil, usageError{fmt.Errorf("--metadata-ttl %s, --negative-ttl %s: want positive durations such as 10m or 30s", f.metadataTTL, f.negativeTTL)}
	}
	rcfg := resolve.Config{Objects: src.store, DataDir: f.dataDir, Buckets: buckets, Logger: g.log,
		AnswerTTL: f.metadataTTL, FailureTTL: f.negativeTTL}
	if src.catalog != nil {
		rcfg.Catalog = src.catalog
	}
	records, describeRecords, err := g.openRecords(f.offline, src.metrics)
	if err != nil {
		return nil, err
	}
	rcfg.Records = records
	src.resolver = resolve.New(rcfg)
	g.log.Info("sources", "data", orNone(f.dataDir), "code_ocean", src.describeCatalog(), "docdb", describeRecords,
		"s3", !f.offline, "cache", f.cacheSize)
	return src, nil
}

// openRecords returns DocDB as AINDFS_DOCDB_URL says: the public API by
// default, none for "off" or --offline, or, for file://PATH, the records of
// a local file (a network is not needed, so --offline keeps it).
func (g *globals) openRecords(offline bool, m *metrics.Metrics) (resolve.Records, string, error) {
	u, on := docdb.URLFromEnv(os.Getenv)
	if !on {
		return nil, "off", nil
	}
	if path, ok := strings.CutPrefix(u, "file://"); ok {
		f, err := docdb.OpenFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", docdb.URLVar, err)
		}
		return f, u, nil
	}
	if offline {
		return nil, "off (offline)", nil
	}
	c, err := docdb.New(docdb.Config{URL: u, Logger: g.log, HTTPClient: m.Client(metrics.DocDB, metrics.LastPathKind)})
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", docdb.URLVar, err)
	}
	return c, c.URL(), nil
}

// Close ends the resolver's lookups and the store's reads; call it when the
// command is done (after unmounting).
func (s *sources) Close() {
	s.resolver.Close()
	s.store.Close()
	if s.local != nil {
		s.local.Close()
	}
}

func (s *sources) describeCatalog() string {
	if s.catalog == nil {
		return "none (no token)"
	}
	return s.catalog.Domain()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// bucketsFromEnv returns the buckets of AINDFS_BUCKETS (comma separated), or
// nil for the defaults.
func bucketsFromEnv() []string {
	var out []string
	for _, b := range strings.Split(os.Getenv(bucketsVar), ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// formatSize writes n as parseSize reads it: in the largest binary unit
// that divides it (1GiB, 16MiB), else in bytes.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseSize reads sizes such as 1073741824, 512MiB, 4GiB, 2G or 100MB.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 512MiB, 4GiB)", s)
	}
	return int64(n * float64(mult)), nil
}
