// Package store lists and reads immutable objects — on S3 or in a local
// directory — and serves their bytes through a bounded block cache.
//
// The package knows nothing of sessions or assets: it speaks of locations
// (URI: s3://bucket/prefix, file:///dir) and objects under them.
//
// A Store routes calls to an S3Backend or a LocalBackend by scheme. Its
// Readers read S3 objects in blocks through one BlockCache bounded in
// bytes, share the GETs of blocks that several readers want, and read
// ahead of sequential readers with many ranged GETs in flight (the fetch
// engine, fetch.go). Each Reader is pinned to the ETag it was opened
// with. With a DiskCache below it, blocks of S3 objects are also kept on
// local disk across restarts, shared by processes. Local files are read
// directly, and never cached. The S3Backend retries with capped
// exponential backoff, resumes broken or stalled answers from the last
// byte received, and gives up after a bounded time.
//
// Block buffers are allocated outside the Go heap, so the garbage
// collector's target does not grow with the cache: a process that holds a
// large cache should still cap its Go heap (GOMEMLIMIT or
// debug.SetMemoryLimit) at a few tens of MiB to keep RSS near the cache
// budget.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"
)

// ErrNotExist is returned (wrapped) when an object or folder does not
// exist. It matches io/fs.ErrNotExist under errors.Is, as os.ErrNotExist
// does, while saying "does not exist" of folders and objects alike.
var ErrNotExist error = notExist{}

type notExist struct{}

func (notExist) Error() string        { return "does not exist" }
func (notExist) Is(target error) bool { return target == fs.ErrNotExist }

// ErrChanged is returned (wrapped) when an object's ETag no longer matches the
// one a reader was opened with: its bytes must not be mixed with the old ones.
var ErrChanged = errors.New("object changed while being read")

// ErrClosed is returned by reads on a closed Reader or Store.
var ErrClosed = errors.New("store: closed")

// Defaults of Options.
const (
	// DefaultCacheBytes is the memory block cache's budget: room for the
	// blocks of several big files read at the same time, while staying a
	// small part of the memory a capsule has.
	DefaultCacheBytes = 1 << 30
	// DefaultBlockSize is the unit of caching. A random 256 KiB read (the
	// HDF5 chunk pattern) touches at most three 128 KiB blocks, so it
	// fetches at most 1.5 times what it reads.
	DefaultBlockSize = 128 << 10
	// DefaultPartSize is the largest readahead GET: long enough (~170 ms
	// at 100 MB/s) that the request latency (tens of ms) is small next to
	// the transfer.
	DefaultPartSize = 16 << 20
	// DefaultMaxReadahead is the most readahead one reader keeps in
	// flight: at about 100 MB/s per response, 32 parts of 16 MiB fill a
	// 25 Gb/s link. In practice a quarter of the cache, shared among the
	// open readers, is the limit (see Store.windowCap).
	DefaultMaxReadahead = 1 << 30
	// DefaultMaxInflightBytes bounds the readahead requested and not yet
	// received, across all readers. It is network, not memory: bytes take
	// memory when they arrive, in the cache.
	DefaultMaxInflightBytes = 1 << 30
)

// Options configures New.
type Options struct {
	S3    Backend // for s3:// locations; nil: they fail
	Local Backend // for file:// locations (a LocalBackend); nil: they fail
	// CacheBytes bounds the block cache; default 1 GiB.
	CacheBytes int64
	// BlockSize is the unit of caching and of the smallest GET; default 128 KiB.
	BlockSize int64
	// MaxInflightBytes bounds readahead requested but not yet received;
	// default 1 GiB. It costs no memory until the bytes arrive, and then
	// they count against CacheBytes.
	MaxInflightBytes int64
	// MaxReadahead bounds one reader's readahead window; default 1 GiB.
	// The Store lowers it to a quarter of the cache shared among the open
	// readers, so that readahead, which runs up to twice the window ahead,
	// never fills more than half the cache.
	MaxReadahead int64
	// PartSize is the largest readahead GET; default 16 MiB.
	PartSize int64
	// DiskDir, when set, keeps blocks of S3 objects on local disk too, in
	// a folder that outlives the process and may be shared by several
	// (see DiskCache); DiskBytes bounds it, default 10 GiB. A folder that
	// cannot be used is logged and the Store goes on with memory alone.
	DiskDir   string
	DiskBytes int64
	// DiskWait makes reads wait for the disk when it falls behind, instead
	// of leaving blocks to wait in the memory cache, which may let them go
	// first: for prefetching, where keeping every block is the point.
	DiskWait bool
	Logger   *slog.Logger
}

// Stats counts what a Store has done since it was made.
type Stats struct {
	Requests     int64 // backend calls: ranged reads, listings, probes, stats
	BytesFetched int64 // bytes received from backends by reads
	CacheHits    int64 // blocks a read found cached
	CacheMisses  int64 // blocks a read had to wait for
	// Unforeseen are the blocks of CacheMisses that no readahead had
	// asked for: the read fetched them itself.
	Unforeseen  int64
	BytesServed int64 // bytes returned by Reader.ReadAt
	// BytesFromCache are the bytes of BytesServed that a read found in
	// blocks already cached (CacheHits), not waited for.
	BytesFromCache int64
	PrefetchBytes  int64 // bytes requested by readahead
	CachedBytes    int64 // bytes of blocks in the cache now
	InflightBytes  int64 // bytes requested from backends and not yet received
	// BufferBytes and PeakBufferBytes are the memory holding object bytes:
	// cached blocks, blocks being filled and blocks being copied out.
	BufferBytes, PeakBufferBytes int64
	// The disk tier: blocks read from it, written to it, not written
	// (gone from memory before the disk got to them, no room, or the
	// disk failing), and found damaged and fetched again.
	DiskHits, DiskWrites, DiskSkipped, DiskDamaged int64
}

// Store reads objects from S3 or local disk through one block cache. It
// implements Backend itself, routing each call by the location's scheme.
type Store struct {
	opts  Options
	cache *BlockCache
	disk  *DiskCache // nil without DiskDir
	log   *slog.Logger

	ctx    context.Context // parent of every fetch; cancelled by Close
	cancel context.CancelFunc
	closed atomic.Bool

	readers  atomic.Int64 // open readers of cached objects
	inflight atomic.Int64 // bytes requested from backends and not yet received

	requests, fetched, hits, misses, unforeseen, served, prefetched atomic.Int64
	fromCache                                                       atomic.Int64
}

// New returns a Store; zero options take their defaults.
func New(opts Options) *Store {
	orDefault(&opts.CacheBytes, DefaultCacheBytes)
	orDefault(&opts.BlockSize, DefaultBlockSize)
	orDefault(&opts.PartSize, DefaultPartSize)
	orDefault(&opts.MaxReadahead, DefaultMaxReadahead)
	orDefault(&opts.MaxInflightBytes, DefaultMaxInflightBytes)
	opts.PartSize = max(opts.BlockSize, min(opts.PartSize, opts.MaxInflightBytes))
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		opts:   opts,
		cache:  NewBlockCache(opts.CacheBytes, opts.BlockSize),
		log:    opts.Logger,
		ctx:    ctx,
		cancel: cancel,
	}
	if opts.DiskDir != "" {
		orDefault(&opts.DiskBytes, DefaultDiskBytes)
		d, err := OpenDiskCache(opts.DiskDir, opts.DiskBytes, opts.Logger)
		if err != nil {
			opts.Logger.Warn("cache folder unusable; going on with the memory cache only", "cause", err)
		} else {
			if opts.DiskWait {
				// Blocks waiting by key are then the newest half of
				// the cache: none is evicted before its turn.
				d.waitAbove = max(diskBacklog, opts.CacheBytes/2)
			}
			d.cache = s.cache
			s.disk = d
		}
	}
	return s
}

// orDefault sets an option left unset (zero or less) to its default.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Close cancels all reads in flight, writes the blocks waiting for the
// disk (from memory, so before emptying it), and empties the cache.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.cancel()
	var err error
	if s.disk != nil {
		err = s.disk.Close()
	}
	s.cache.purge()
	return err
}

// Stats returns the Store's counters.
func (s *Store) Stats() Stats {
	buffers, peak := s.cache.buffers()
	st := Stats{
		Requests:        s.requests.Load(),
		BytesFetched:    s.fetched.Load(),
		CacheHits:       s.hits.Load(),
		CacheMisses:     s.misses.Load(),
		Unforeseen:      s.unforeseen.Load(),
		BytesServed:     s.served.Load(),
		BytesFromCache:  s.fromCache.Load(),
		PrefetchBytes:   s.prefetched.Load(),
		CachedBytes:     s.cache.Bytes(),
		InflightBytes:   s.inflight.Load(),
		BufferBytes:     buffers,
		PeakBufferBytes: peak,
	}
	if d := s.disk; d != nil {
		st.DiskHits, st.DiskWrites = d.hits.Load(), d.written.Load()
		st.DiskSkipped, st.DiskDamaged = d.dropped.Load(), d.corrupt.Load()
	}
	return st
}

func (s *Store) backend(u URI) (Backend, error) {
	switch u.Scheme {
	case "s3":
		if s.opts.S3 == nil {
			return nil, fmt.Errorf("%s: no S3 access configured", u)
		}
		return s.opts.S3, nil
	case "file":
		if s.opts.Local == nil {
			return nil, fmt.Errorf("%s: no local folder configured", u)
		}
		return s.opts.Local, nil
	}
	return nil, fmt.Errorf("%q: not an s3:// or file:// location", u.String())
}

// List implements Backend.
func (s *Store) List(ctx context.Context, dir URI) ([]ObjectInfo, error) {
	b, err := s.backend(dir)
	if err != nil {
		return nil, err
	}
	s.requests.Add(1)
	return b.List(ctx, dir)
}

var _ PageLister = (*Store)(nil)

// ListPages implements PageLister. A backend that cannot page (local
// folders) gives its whole listing as one page, sorted by name.
func (s *Store) ListPages(ctx context.Context, dir URI, page func([]ObjectInfo) error) error {
	b, err := s.backend(dir)
	if err != nil {
		return err
	}
	s.requests.Add(1)
	if p, ok := b.(PageLister); ok {
		return p.ListPages(ctx, dir, page)
	}
	list, err := b.List(ctx, dir)
	if err != nil || len(list) == 0 {
		return err
	}
	return page(list)
}

// Exists implements Backend.
func (s *Store) Exists(ctx context.Context, dir URI) (bool, error) {
	b, err := s.backend(dir)
	if err != nil {
		return false, err
	}
	s.requests.Add(1)
	return b.Exists(ctx, dir)
}

// Stat implements Backend.
func (s *Store) Stat(ctx context.Context, obj URI) (ObjectInfo, error) {
	b, err := s.backend(obj)
	if err != nil {
		return ObjectInfo{}, err
	}
	s.requests.Add(1)
	return b.Stat(ctx, obj)
}

// ReadRange implements Backend, straight from the backend, bypassing the cache.
func (s *Store) ReadRange(ctx context.Context, obj URI, etag string, off, length int64) (io.ReadCloser, error) {
	b, err := s.backend(obj)
	if err != nil {
		return nil, err
	}
	s.requests.Add(1)
	return b.ReadRange(ctx, obj, etag, off, length)
}
