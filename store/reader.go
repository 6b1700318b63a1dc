package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

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
	r.s.cache.drop(owned)
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
