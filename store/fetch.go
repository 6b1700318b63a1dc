package store

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// The fetch engine: how a Reader's reads of an S3 object become ranged
// GETs. A read asks the cache for the blocks it covers (plan); those
// neither cached nor on their way are claimed in runs, each run one GET
// (run) whose body fills its blocks in turn; the read then waits for its
// blocks (collect). Readahead (refill) claims blocks the same way ahead of
// a sequential reader, as its prefetcher asks, within a budget of bytes in
// flight (reserve).

// fetch is one ranged GET filling a run of consecutive pending blocks. It
// lives while someone wants it: each waiter of one of its blocks holds a
// reference, and so does the reader whose readahead started it. When the
// last one leaves, the GET is cancelled.
type fetch struct {
	ctx    context.Context
	cancel context.CancelFunc
	blocks []*pendingBlock
	refs   int     // guarded by BlockCache.mu
	next   int     // blocks[:next] are settled; guarded by BlockCache.mu
	owner  *Reader // the reader whose readahead this is, or nil
	bytes  int64   // length of the GET
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

// plan finds the blocks holding [off, end): it references the cached
// ones, joins those on their way, and claims the others in runs, each to
// be fetched by one GET of at most PartSize.
func (s *Store) plan(r *Reader, info ObjectInfo, off, end int64) ([]slot, []*fetch) {
	slots, fetches, bytes, _ := s.cache.claim(s.blocksOf(r, info, off, end))
	for _, f := range fetches {
		s.unforeseen.Add(int64(len(f.blocks)))
	}
	for _, sl := range slots {
		if sl.blk != nil {
			s.hits.Add(1)
			lo, hi := s.within(sl.index, sl.blk, off, end)
			s.fromCache.Add(hi - lo)
		} else {
			s.misses.Add(1)
		}
	}
	s.inflight.Add(bytes)
	return slots, fetches
}

// blocksOf returns a claim of the blocks holding [off, end) of r's object,
// in runs of at most PartSize.
func (s *Store) blocksOf(r *Reader, info ObjectInfo, off, end int64) claimRequest {
	bs := s.opts.BlockSize
	return claimRequest{
		obj: r.name, etag: info.ETag,
		first: off / bs, last: (end - 1) / bs,
		size:   info.Size,
		maxRun: s.opts.PartSize / bs,
		ctx:    s.ctx,
	}
}

// refill requests readahead parts as the prefetcher asks for them, as
// far as the in-flight budget allows. Blocks already cached or on their
// way are skipped. The fetches belong to r until it is closed.
func (r *Reader) refill() []*fetch {
	s := r.s
	var fetches []*fetch
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || !r.stated {
		return nil
	}
	info := r.info
	for {
		from, to, ok := r.pf.next(info.Size)
		if !ok {
			break
		}
		req := s.blocksOf(r, info, from, to)
		req.owner, req.admit = r, s.reserve
		_, part, need, ok := s.cache.claim(req)
		if !ok {
			break
		}
		s.prefetched.Add(need)
		r.pf.requested(to, need)
		fetches = append(fetches, part...)
	}
	if len(fetches) > 0 {
		// Forget finished readahead so the list stays short.
		r.owned = append(s.cache.unsettled(r.owned), fetches...)
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

// run performs fetch f. Its blocks found on disk are read from there;
// each run of the others is one ranged GET whose body fills them in turn,
// and the blocks it brings are queued for the disk.
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
	arrived := func(p *pendingBlock, blk *block, fromS3 bool) {
		n := int64(len(blk.data))
		s.inflight.Add(-n)
		// Queued for the disk once cached, so that a writer that finds
		// only its key finds it; the extra reference keeps it until then.
		toDisk := fromS3 && s.disk != nil
		if toDisk {
			blk.refs.Add(1)
		}
		c.complete(p, blk)
		if toDisk {
			s.disk.put(p.key, info.Size, blk)
			c.release(blk)
		}
		if f.owner != nil {
			left -= n
			f.owner.arrived(n, true)
		}
	}
	for i := 0; i < len(f.blocks); {
		if blk := s.fromDisk(f.blocks[i], info); blk != nil {
			arrived(f.blocks[i], blk, false)
			i++
			continue
		}
		j := len(f.blocks)
		if s.disk != nil {
			for j = i + 1; j < len(f.blocks) && !s.disk.has(f.blocks[j].key, info.Size); j++ {
			}
		}
		if k, err := s.get(f, f.blocks[i:j], obj, info, arrived); err != nil {
			if errors.Is(err, ErrChanged) {
				s.log.Warn("object changed while open; its readers fail until reopened", "location", obj.String(), "cause", err)
			} else if f.ctx.Err() == nil {
				s.log.Warn("read failed", "location", obj.String(), "offset", f.blocks[i+k].key.index*c.blockSize, "cause", err)
			}
			for _, p := range f.blocks[i+k:] {
				s.inflight.Add(-c.blockLen(p.key.index, info.Size))
				c.fail(p, err)
			}
			return
		}
		i = j
	}
}

// get fetches blocks, consecutive, with one ranged GET, handing each to
// arrived in turn. On failure it returns how many arrived.
func (s *Store) get(f *fetch, blocks []*pendingBlock, obj URI, info ObjectInfo, arrived func(*pendingBlock, *block, bool)) (int, error) {
	c := s.cache
	off := blocks[0].key.index * c.blockSize
	var length int64
	for _, p := range blocks {
		length += c.blockLen(p.key.index, info.Size)
	}
	b, err := s.backend(obj)
	if err != nil {
		return 0, err
	}
	s.requests.Add(1)
	body, err := b.ReadRange(f.ctx, obj, info.ETag, off, length)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	for i, p := range blocks {
		n := c.blockLen(p.key.index, info.Size)
		blk := c.newBlock(int(n))
		got, err := io.ReadFull(body, blk.data)
		s.fetched.Add(int64(got))
		if err != nil {
			c.release(blk)
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				err = fmt.Errorf("read %s: answer ended %d bytes short of %d-%d: %w",
					obj, length-(p.key.index*c.blockSize-off)-int64(got), off, off+length, io.ErrUnexpectedEOF)
			}
			return i, err
		}
		arrived(p, blk, true)
	}
	return len(blocks), nil
}

// fromDisk returns block p read from the disk tier, or nil.
func (s *Store) fromDisk(p *pendingBlock, info ObjectInfo) *block {
	if s.disk == nil {
		return nil
	}
	c := s.cache
	blk := c.newBlock(int(c.blockLen(p.key.index, info.Size)))
	if !s.disk.get(p.key, info.Size, blk.data) {
		c.release(blk)
		return nil
	}
	return blk
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
