package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// Defaults of Options.
const (
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

// ErrClosed is returned by reads on a closed Reader or Store.
var ErrClosed = errors.New("store: closed")

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
	Logger   *slog.Logger
}

// Stats counts what a Store has done since it was made.
type Stats struct {
	Requests      int64 // backend calls: ranged reads, listings, probes, stats
	BytesFetched  int64 // bytes received from backends by reads
	CacheHits     int64 // blocks a read found cached
	CacheMisses   int64 // blocks a read had to wait for
	BytesServed   int64 // bytes returned by Reader.ReadAt
	PrefetchBytes int64 // bytes requested by readahead
	CachedBytes   int64 // bytes of blocks in the cache now
	InflightBytes int64 // bytes requested from backends and not yet received
	// BufferBytes and PeakBufferBytes are the memory holding object bytes:
	// cached blocks, blocks being filled and blocks being copied out.
	BufferBytes, PeakBufferBytes int64
}

// Store reads objects from S3 or local disk through one block cache. It
// implements Backend itself, routing each call by the location's scheme.
type Store struct {
	opts  Options
	cache *BlockCache
	log   *slog.Logger

	ctx    context.Context // parent of every fetch; cancelled by Close
	cancel context.CancelFunc
	closed atomic.Bool

	readers  atomic.Int64 // open readers of cached objects
	inflight atomic.Int64 // bytes requested from backends and not yet received

	requests, fetched, hits, misses, served, prefetched atomic.Int64
}

// New returns a Store; zero options take their defaults.
func New(opts Options) *Store {
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	if opts.BlockSize <= 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.PartSize <= 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.MaxReadahead <= 0 {
		opts.MaxReadahead = DefaultMaxReadahead
	}
	if opts.MaxInflightBytes <= 0 {
		opts.MaxInflightBytes = DefaultMaxInflightBytes
	}
	opts.PartSize = max(opts.BlockSize, min(opts.PartSize, opts.MaxInflightBytes))
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Store{
		opts:   opts,
		cache:  NewBlockCache(opts.CacheBytes, opts.BlockSize),
		log:    opts.Logger,
		ctx:    ctx,
		cancel: cancel,
	}
}

// Close cancels all reads in flight and empties the cache.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.cancel()
	s.cache.purge()
	return nil
}

// Stats returns the Store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Requests:        s.requests.Load(),
		BytesFetched:    s.fetched.Load(),
		CacheHits:       s.hits.Load(),
		CacheMisses:     s.misses.Load(),
		BytesServed:     s.served.Load(),
		PrefetchBytes:   s.prefetched.Load(),
		CachedBytes:     s.cache.Bytes(),
		InflightBytes:   s.inflight.Load(),
		BufferBytes:     s.cache.inUse.Load(),
		PeakBufferBytes: s.cache.peak.Load(),
	}
}

// Cache returns the Store's block cache.
func (s *Store) Cache() *BlockCache { return s.cache }

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

// Reader reads one version of one object: the one described by the
// ObjectInfo it was opened with. Once the object is seen to have changed,
// every read fails with ErrChanged. A Reader is safe for concurrent use.
//
// Reads of S3 objects go through the block cache, with readahead for
// sequential reading. Local files are read directly: the kernel's page
// cache already keeps them, and a second copy would only take memory.
type Reader struct {
	s      *Store
	obj    URI
	name   string // obj.String(), the cache key
	cached bool

	mu     sync.Mutex
	info   ObjectInfo
	stated bool
	pf     prefetcher
	owned  []*fetch   // readahead this reader started
	err    error      // sticky: ErrChanged or ErrClosed
	file   *localFile // a local file, opened by the first read, closed by Close
}

// fileOpener is a backend that can hold a file open for all of a Reader's
// reads, so that each read is one pread instead of open, fstat and close.
type fileOpener interface {
	openFile(obj URI, etag string) (*localFile, error)
}

// Open returns a Reader of obj, pinned to info.ETag. info normally comes
// from List or Stat; when its ETag is empty the first read asks Stat.
func (s *Store) Open(obj URI, info ObjectInfo) *Reader {
	r := &Reader{
		s:      s,
		obj:    obj,
		name:   obj.String(),
		cached: obj.Scheme == "s3",
		info:   info,
		stated: info.ETag != "",
		pf: prefetcher{
			blockSize: s.opts.BlockSize,
			minWindow: max(4*s.opts.BlockSize, 4<<20),
			maxPart:   s.opts.PartSize,
		},
	}
	if r.cached {
		s.readers.Add(1)
	}
	return r
}

// Size returns the size of the object, as known when it was opened.
func (r *Reader) Size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info.Size
}

// Close stops the reader's readahead that no other reader waits for.
func (r *Reader) Close() error {
	r.mu.Lock()
	if r.err == ErrClosed {
		r.mu.Unlock()
		return nil
	}
	r.err = ErrClosed
	owned := r.owned
	r.owned = nil
	file := r.file
	r.file = nil
	r.mu.Unlock()
	if file != nil {
		file.Close()
	}
	if r.cached {
		r.s.readers.Add(-1)
	}
	c := r.s.cache
	c.mu.Lock()
	for _, f := range owned {
		c.unrefLocked(f)
	}
	c.mu.Unlock()
	return nil
}

// ReadAt reads len(p) bytes at off, like io.ReaderAt: fewer bytes come
// only with an error, io.EOF at the end of the object.
func (r *Reader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	n, blocks, err := r.read(ctx, p, off)
	if blocks != nil {
		first := off / r.s.opts.BlockSize
		for i, b := range blocks {
			lo, hi := r.s.within(first+int64(i), b, off, off+int64(n))
			copy(p[(first+int64(i))*r.s.opts.BlockSize+lo-off:], b.data[lo:hi])
			r.s.cache.release(b)
		}
	}
	return n, err
}

// Lent is bytes of an object lent out of the cache by Reader.Lend: they
// stay valid, and their buffers out of the cache's reuse, until Release.
type Lent struct {
	c      *BlockCache
	parts  [][]byte
	blocks []*block
	n      int
}

// Parts returns the bytes, in order, as slices of cached blocks (or of
// the buffer given to Lend). They must not be modified.
func (l *Lent) Parts() [][]byte { return l.parts }

// Len returns the number of bytes lent.
func (l *Lent) Len() int { return l.n }

// Release gives the bytes back; Parts must not be used after it. A second
// call does nothing.
func (l *Lent) Release() {
	for _, b := range l.blocks {
		l.c.release(b)
	}
	l.blocks, l.parts = nil, nil
}

// Lend reads len(p) bytes at off as ReadAt does, but lends the bytes of
// cached objects out of their blocks instead of copying them into p: a
// server that writes them straight to its client saves a copy. Reads that
// bypass the cache (local files) fill p and lend that. On an error other
// than io.EOF nothing is lent.
func (r *Reader) Lend(ctx context.Context, p []byte, off int64) (*Lent, error) {
	n, blocks, err := r.read(ctx, p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		for _, b := range blocks {
			r.s.cache.release(b)
		}
		return nil, err
	}
	l := &Lent{c: r.s.cache, n: n}
	if blocks == nil {
		l.parts = [][]byte{p[:n]}
		return l, err
	}
	first := off / r.s.opts.BlockSize
	l.blocks = blocks
	l.parts = make([][]byte, 0, len(blocks))
	for i, b := range blocks {
		lo, hi := r.s.within(first+int64(i), b, off, off+int64(n))
		if hi > lo {
			l.parts = append(l.parts, b.data[lo:hi:hi])
		}
	}
	return l, err
}

// within returns the part [lo, hi) of block index b that lies in [off, end).
func (s *Store) within(index int64, b *block, off, end int64) (lo, hi int64) {
	start := index * s.opts.BlockSize
	lo = max(off, start) - start
	hi = max(lo, min(end-start, int64(len(b.data))))
	return lo, hi
}

// read reads len(p) bytes at off: into p when the object bypasses the
// cache, or else as the referenced blocks covering [off, off+n), which the
// caller releases. Fewer than len(p) bytes come only with an error.
func (r *Reader) read(ctx context.Context, p []byte, off int64) (n int, blocks []*block, err error) {
	if off < 0 {
		return 0, nil, fmt.Errorf("read %s: negative offset %d", r.obj, off)
	}
	info, err := r.prepare(ctx)
	if err != nil {
		return 0, nil, err
	}
	if info.Dir {
		return 0, nil, fmt.Errorf("read %s: is a folder", r.obj)
	}
	if off >= info.Size {
		return 0, nil, io.EOF
	}
	end := min(off+int64(len(p)), info.Size)
	if r.cached {
		blocks, err = r.readCached(ctx, off, end, info)
		if len(blocks) > 0 {
			n = int(min(end, (off/r.s.opts.BlockSize+int64(len(blocks)))*r.s.opts.BlockSize) - off)
		}
	} else {
		n, err = r.readDirect(ctx, p[:end-off], off, info)
	}
	r.s.served.Add(int64(n))
	if err != nil {
		if errors.Is(err, ErrChanged) {
			r.mu.Lock()
			if r.err == nil {
				r.err = err
			}
			r.mu.Unlock()
		}
		return n, blocks, err
	}
	if n < len(p) {
		return n, blocks, io.EOF
	}
	return n, blocks, nil
}

// prepare checks that the reader may read and learns the object's ETag
// when it was opened without one.
func (r *Reader) prepare(ctx context.Context) (ObjectInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		if r.err == ErrClosed {
			return ObjectInfo{}, fmt.Errorf("read %s: %w", r.obj, ErrClosed)
		}
		return ObjectInfo{}, r.err
	}
	if r.s.closed.Load() {
		return ObjectInfo{}, fmt.Errorf("read %s: %w", r.obj, ErrClosed)
	}
	if !r.stated {
		info, err := r.s.Stat(ctx, r.obj)
		if err != nil {
			return ObjectInfo{}, err
		}
		r.info, r.stated = info, true
	}
	return r.info, nil
}

func (r *Reader) readDirect(ctx context.Context, p []byte, off int64, info ObjectInfo) (int, error) {
	if o, ok := r.s.opts.Local.(fileOpener); ok && r.obj.Scheme == "file" {
		f, err := r.localFile(o, info)
		if err != nil {
			return 0, err
		}
		n, err := f.ReadAt(p, off)
		r.s.fetched.Add(int64(n))
		return n, err
	}
	body, err := r.s.ReadRange(ctx, r.obj, info.ETag, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.ReadFull(body, p)
	r.s.fetched.Add(int64(n))
	if err != nil {
		return n, fmt.Errorf("read %s at %d: %w", r.obj, off, err)
	}
	return n, nil
}

// LocalFile returns the file a Reader of a local object reads, opened on
// first use and checked to be the version the Reader was opened with, so
// that a caller may hand it to the kernel to read directly (FUSE
// passthrough). It stays the Reader's: Close closes it. ok is false for
// objects that are not local files.
func (r *Reader) LocalFile(ctx context.Context) (f *os.File, ok bool, err error) {
	o, isOpener := r.s.opts.Local.(fileOpener)
	if r.obj.Scheme != "file" || !isOpener {
		return nil, false, nil
	}
	info, err := r.prepare(ctx)
	if err != nil {
		return nil, true, err
	}
	lf, err := r.localFile(o, info)
	if err != nil {
		return nil, true, err
	}
	return lf.f, true, nil
}

// localFile returns the reader's open file, opening it on first use.
func (r *Reader) localFile(o fileOpener, info ObjectInfo) (*localFile, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == ErrClosed {
		return nil, fmt.Errorf("read %s: %w", r.obj, ErrClosed)
	}
	if r.file == nil {
		r.s.requests.Add(1)
		f, err := o.openFile(r.obj, info.ETag)
		if err != nil {
			return nil, err
		}
		r.file = f
	}
	return r.file, nil
}

// slot is one block a read needs: already cached (blk, referenced) or on
// its way (p, registered as a waiter).
type slot struct {
	index int64
	blk   *block
	p     *pendingBlock
}

// readCached returns the blocks holding [off, end), referenced, waiting
// for those on their way. On failure it returns those it has, from the
// first on.
func (r *Reader) readCached(ctx context.Context, off, end int64, info ObjectInfo) ([]*block, error) {
	s := r.s
	bs := s.opts.BlockSize
	r.mu.Lock()
	r.pf.observe(off, end-off, s.windowCap())
	r.mu.Unlock()

	var blocks []*block
	for attempt := 0; ; attempt++ {
		from := max(off, (off/bs+int64(len(blocks)))*bs)
		slots, fetches := s.plan(r, info, from, end)
		if attempt == 0 {
			if len(fetches) > 0 {
				r.mu.Lock()
				r.pf.missed(end)
				r.mu.Unlock()
			}
			fetches = append(fetches, r.refill()...)
		}
		s.start(fetches, r.obj, info)
		var err error
		blocks, err = s.collect(ctx, slots, blocks)
		if err == nil {
			return blocks, nil
		}
		// The fetch this read joined was cancelled by the reader that
		// started it, or the Store was closed: try again on our own.
		if errors.Is(err, context.Canceled) && ctx.Err() == nil && !s.closed.Load() && attempt < 3 {
			continue
		}
		switch {
		case s.closed.Load():
			err = fmt.Errorf("read %s: %w", r.obj, ErrClosed)
		case ctx.Err() != nil && err == ctx.Err():
			err = fmt.Errorf("read %s at %d: %w", r.obj, max(off, (off/bs+int64(len(blocks)))*bs), err)
		}
		return blocks, err
	}
}

func (s *Store) start(fetches []*fetch, obj URI, info ObjectInfo) {
	for _, f := range fetches {
		go s.run(f, obj, info)
	}
}

// windowCap shares the cache among open readers so that readahead does
// not evict itself, or another reader's, before it is read. A reader's
// readahead reaches at most twice its window past what it has read, so a
// quarter of the cache each keeps what is fetched and unread to half the
// cache, and what was just read stays cached behind it.
func (s *Store) windowCap() int64 {
	readers := max(1, s.readers.Load())
	return min(s.opts.MaxReadahead, s.opts.CacheBytes/(4*readers), s.opts.MaxInflightBytes)
}

func (s *Store) key(r *Reader, etag string, index int64) blockKey {
	return blockKey{obj: r.name, etag: etag, index: index}
}

// blockLen returns the length of block index of an object of size bytes.
func (s *Store) blockLen(index, size int64) int64 {
	return min(s.opts.BlockSize, size-index*s.opts.BlockSize)
}

// newFetchLocked returns a fetch with no blocks yet.
func (s *Store) newFetchLocked() *fetch {
	ctx, cancel := context.WithCancel(s.ctx)
	return &fetch{ctx: ctx, cancel: cancel}
}

// plan finds the blocks holding [off, end): it references the cached
// ones, joins those on their way, and claims the others in runs, each to
// be fetched by one GET.
func (s *Store) plan(r *Reader, info ObjectInfo, off, end int64) ([]slot, []*fetch) {
	bs := s.opts.BlockSize
	first, last := off/bs, (end-1)/bs
	maxRun := s.opts.PartSize / bs
	slots := make([]slot, last-first+1)
	var fetches []*fetch
	var cur *fetch
	c := s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := first; i <= last; i++ {
		k := s.key(r, info.ETag, i)
		sl := &slots[i-first]
		sl.index = i
		if b := c.getLocked(k); b != nil {
			s.hits.Add(1)
			sl.blk, cur = b, nil
			continue
		}
		s.misses.Add(1)
		if p := c.pending[k]; p != nil {
			c.joinLocked(p)
			sl.p, cur = p, nil
			continue
		}
		if cur == nil || int64(len(cur.blocks)) >= maxRun {
			cur = s.newFetchLocked()
			fetches = append(fetches, cur)
		}
		p := &pendingBlock{key: k, f: cur, done: make(chan struct{})}
		cur.blocks = append(cur.blocks, p)
		cur.bytes += s.blockLen(i, info.Size)
		c.pending[k] = p
		c.joinLocked(p)
		sl.p = p
	}
	for _, f := range fetches {
		s.inflight.Add(f.bytes)
	}
	return slots, fetches
}

// refill requests readahead parts as the prefetcher asks for them, as
// far as the in-flight budget allows. Blocks already cached or on their
// way are skipped. The fetches belong to r until it is closed.
func (r *Reader) refill() []*fetch {
	s := r.s
	bs := s.opts.BlockSize
	var fetches []*fetch
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || !r.stated {
		return nil
	}
	info := r.info
	c := s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		from, to, ok := r.pf.next(info.Size)
		if !ok {
			break
		}
		var need int64
		for i := from / bs; i*bs < to; i++ {
			k := s.key(r, info.ETag, i)
			if c.pending[k] == nil && !c.lru.Contains(k) {
				need += s.blockLen(i, info.Size)
			}
		}
		if need > 0 && !s.reserve(need) {
			break
		}
		s.prefetched.Add(need)
		r.pf.requested(to, need)
		var cur *fetch
		for i := from / bs; i*bs < to; i++ {
			k := s.key(r, info.ETag, i)
			if c.pending[k] != nil || c.lru.Contains(k) {
				cur = nil
				continue
			}
			if cur == nil {
				cur = s.newFetchLocked()
				cur.refs = 1 // the reader's
				cur.owner = r
				fetches = append(fetches, cur)
			}
			p := &pendingBlock{key: k, f: cur, done: make(chan struct{})}
			cur.blocks = append(cur.blocks, p)
			cur.bytes += s.blockLen(i, info.Size)
			c.pending[k] = p
		}
	}
	if len(fetches) > 0 {
		// Forget finished readahead so the list stays short.
		kept := r.owned[:0]
		for _, f := range r.owned {
			if f.next < len(f.blocks) {
				kept = append(kept, f)
			}
		}
		r.owned = append(kept, fetches...)
	}
	return fetches
}

// arrived is told by a readahead fetch of r that n more of its bytes
// arrived, or with ok false that they never will, and requests more
// readahead when that makes room for it.
func (r *Reader) arrived(n int64, ok bool) {
	r.mu.Lock()
	r.pf.arrived(n)
	_, _, more := r.pf.next(r.info.Size)
	info := r.info
	r.mu.Unlock()
	if ok && more {
		r.s.start(r.refill(), r.obj, info)
	}
}

// reserve takes n bytes of the in-flight budget for readahead, if
// available. Reads that are waited for are never refused: they are counted
// but only ever make readahead wait.
func (s *Store) reserve(n int64) bool {
	for {
		cur := s.inflight.Load()
		if cur+n > s.opts.MaxInflightBytes {
			return false
		}
		if s.inflight.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// run performs fetch f: one ranged GET whose body fills its blocks in turn.
func (s *Store) run(f *fetch, obj URI, info ObjectInfo) {
	defer f.cancel()
	left := f.bytes // of the owner's readahead, not yet arrived
	if f.owner != nil {
		defer func() {
			if left > 0 {
				f.owner.arrived(left, false)
			}
		}()
	}
	c := s.cache
	bs := s.opts.BlockSize
	first := f.blocks[0].key.index
	off := first * bs
	var length int64
	for _, p := range f.blocks {
		length += s.blockLen(p.key.index, info.Size)
	}
	failFrom := func(i int, err error) {
		if errors.Is(err, ErrChanged) {
			s.log.Warn("object changed while open; its readers fail until reopened", "location", obj.String(), "cause", err)
		} else if f.ctx.Err() == nil {
			s.log.Warn("read failed", "location", obj.String(), "offset", f.blocks[i].key.index*bs, "cause", err)
		}
		for _, p := range f.blocks[i:] {
			s.inflight.Add(-s.blockLen(p.key.index, info.Size))
			c.fail(p, err)
		}
	}
	b, err := s.backend(obj)
	if err != nil {
		failFrom(0, err)
		return
	}
	s.requests.Add(1)
	body, err := b.ReadRange(f.ctx, obj, info.ETag, off, length)
	if err != nil {
		failFrom(0, err)
		return
	}

	defer body.Close()
	for i, p := range f.blocks {
		n := s.blockLen(p.key.index, info.Size)
		blk := c.newBlock(int(n))
		got, err := io.ReadFull(body, blk.data)
		s.fetched.Add(int64(got))
		if err != nil {
			c.release(blk)
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				err = fmt.Errorf("read %s: answer ended %d bytes short of %d-%d: %w",
					obj, length-(p.key.index*bs-off)-int64(got), off, off+length, io.ErrUnexpectedEOF)
			}
			failFrom(i, err)
			return
		}
		s.inflight.Add(-n)
		c.complete(p, blk)
		if f.owner != nil {
			left -= n
			f.owner.arrived(n, true)
		}
	}
}

// collect appends the blocks of slots to blocks, waiting for those on
// their way. On failure it lets go of the slots it did not reach.
func (s *Store) collect(ctx context.Context, slots []slot, blocks []*block) ([]*block, error) {
	for i := range slots {
		sl := slots[i]
		b := sl.blk
		if b == nil {
			select {
			case <-sl.p.done:
			case <-ctx.Done():
				s.abandon(slots[i:])
				return blocks, ctx.Err()
			}
			if sl.p.err != nil {
				s.abandon(slots[i+1:])
				return blocks, sl.p.err
			}
			b = sl.p.blk
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// abandon lets go of slots a read no longer needs.
func (s *Store) abandon(slots []slot) {
	for _, sl := range slots {
		if sl.blk != nil {
			s.cache.release(sl.blk)
		} else {
			s.cache.leave(sl.p)
		}
	}
}
