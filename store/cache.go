package store

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// BlockCache keeps recently read blocks of objects, shared by all readers,
// bounded in bytes. A block is identified by object, ETag and index, so a
// replaced object never serves its old bytes to a reader of the new one.
//
// It also knows the blocks being fetched, so that concurrent readers of the
// same block wait for one GET instead of issuing their own: the fetch
// engine claims blocks through claim, and settles them with complete or
// fail.
type BlockCache struct {
	blockSize int64
	budget    int64
	classes   []*bufferPool // buffer pools by size, smallest first

	// mu guards lru, bytes and pending, and in the blocks and fetches they
	// lead to the fields marked "guarded by BlockCache.mu". Nothing outside
	// this file takes it. What holds whenever it is free:
	//
	//   - Each block in lru holds one reference, the cache's; bytes is the
	//     sum of their costs and at most budget. A cached block is never
	//     replaced: the first copy to arrive stays.
	//   - pending[k] is the block on its way for k, if any: claimed by one
	//     fetch and not yet settled. A block leaves pending when it is
	//     settled (complete, fail) or when its fetch is cancelled; it is
	//     never put back, so a later claim of k starts a new fetch.
	//   - A fetch's refs count the waiters of its unsettled blocks, plus one
	//     for the reader whose readahead it is until that reader drops it.
	//     When refs reaches zero with blocks unsettled, the fetch is
	//     cancelled. blocks[:next] are settled, in order.
	//   - A waiter of a pending block holds one reference on its fetch; when
	//     the block arrives, each waiter is given one reference on it.
	//
	// Lock order: Reader.mu, then mu, then bufferPool.mu (blocks go back to
	// their pool while mu is held). The admit function of a claim is called
	// with mu held and must not call back into the cache.
	mu      sync.Mutex
	lru     *simplelru.LRU[blockKey, *block]
	bytes   int64
	pending map[blockKey]*pendingBlock

	inUse, peak atomic.Int64 // bytes of buffers held: cached, being filled, or being copied out
}

type blockKey struct {
	obj   string // URI
	etag  string
	index int64
}

// block is one cached block. Its buffer goes back to the pool when the
// last reference is dropped: the cache holds one while the block is
// cached, and each reader holds one while it copies out of it.
type block struct {
	data []byte      // len(data) valid bytes
	pool *bufferPool // where data goes back
	cost int64       // the size of the buffer
	refs atomic.Int32
	// unread marks readahead no reader has asked for yet. Eviction spares
	// it once: under a stream, the oldest blocks in the cache are the next
	// ones to be read, and evicting them would make the reader fetch each
	// one again, on demand. Guarded by BlockCache.mu.
	unread bool
}

// pendingBlock is a block on its way: waiters block on done, then find
// blk (with a reference taken for each of them) or err.
type pendingBlock struct {
	key     blockKey
	f       *fetch
	done    chan struct{}
	waiters int // guarded by BlockCache.mu
	blk     *block
	err     error
}

// NewBlockCache returns a cache of at most budget bytes of blocks of
// blockSize bytes.
func NewBlockCache(budget, blockSize int64) *BlockCache {
	l, _ := simplelru.NewLRU[blockKey, *block](math.MaxInt32, nil)
	return &BlockCache{
		blockSize: blockSize,
		budget:    budget,
		classes:   classesFor(int(blockSize)),
		lru:       l,
		pending:   make(map[blockKey]*pendingBlock),
	}
}

// Bytes returns the bytes of blocks cached now.
func (c *BlockCache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// buffers returns the bytes of block buffers held now and at most so far.
func (c *BlockCache) buffers() (now, peak int64) {
	return c.inUse.Load(), c.peak.Load()
}

// blockLen returns the length of block index of an object of size bytes.
func (c *BlockCache) blockLen(index, size int64) int64 {
	return min(c.blockSize, size-index*c.blockSize)
}

// newBlock allocates a block for n bytes, with one reference for the
// caller. Its buffer is the smallest class that holds n bytes, so that
// short blocks (the ends of objects, small files) cost little, and like
// every block they stay off the Go heap.
func (c *BlockCache) newBlock(n int) *block {
	p := c.classes[len(c.classes)-1]
	for _, q := range c.classes {
		if q.size >= n {
			p = q
			break
		}
	}
	b := &block{data: p.get()[:n], pool: p, cost: int64(p.size)}
	b.refs.Store(1)
	now := c.inUse.Add(b.cost)
	for {
		p := c.peak.Load()
		if now <= p || c.peak.CompareAndSwap(p, now) {
			break
		}
	}
	return b
}

// release drops one reference to b.
func (c *BlockCache) release(b *block) {
	if b.refs.Add(-1) == 0 {
		c.inUse.Add(-b.cost)
		b.pool.put(b.data)
		b.data = nil
	}
}

// A claimRequest asks for blocks first..last of one version of an object,
// either for a read, which waits for them all, or for readahead (owner
// set), which only wants them on their way.
type claimRequest struct {
	obj, etag   string
	first, last int64
	size        int64           // the object's: its last block may be short
	maxRun      int64           // most blocks one fetch fills
	ctx         context.Context // parent of the new fetches
	// owner is the reader whose readahead this is: it holds a reference on
	// each new fetch until it drops them. Nil for a read.
	owner *Reader
	// admit, for readahead, is asked whether the bytes of the blocks to
	// fetch may be; if not, nothing is claimed.
	admit func(bytes int64) bool
}

// claim looks up the blocks of req under one hold of the lock. Those
// neither cached nor on their way become pending, in runs of consecutive
// blocks of at most maxRun, each run a new fetch for the caller to run.
//
// For a read, slots has one entry per block: cached blocks with a
// reference for the caller, the others with the caller registered as a
// waiter. Readahead skips what is cached or on its way and gets no slots.
// bytes is the length of the new fetches together; ok is false when admit
// refused them.
func (c *BlockCache) claim(req claimRequest) (slots []slot, fetches []*fetch, bytes int64, ok bool) {
	read := req.owner == nil
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.admit != nil {
		var need int64
		for i := req.first; i <= req.last; i++ {
			k := blockKey{req.obj, req.etag, i}
			if c.pending[k] == nil && !c.lru.Contains(k) {
				need += c.blockLen(i, req.size)
			}
		}
		if need > 0 && !req.admit(need) {
			return nil, nil, 0, false
		}
	}
	if read {
		slots = make([]slot, req.last-req.first+1)
	}
	var cur *fetch
	for i := req.first; i <= req.last; i++ {
		k := blockKey{req.obj, req.etag, i}
		var sl *slot
		if read {
			sl = &slots[i-req.first]
			sl.index = i
			if b := c.getLocked(k); b != nil {
				sl.blk, cur = b, nil
				continue
			}
			if p := c.pending[k]; p != nil {
				c.joinLocked(p)
				sl.p, cur = p, nil
				continue
			}
		} else if c.pending[k] != nil || c.lru.Contains(k) {
			cur = nil
			continue
		}
		if cur == nil || int64(len(cur.blocks)) >= req.maxRun {
			ctx, cancel := context.WithCancel(req.ctx)
			cur = &fetch{ctx: ctx, cancel: cancel, owner: req.owner}
			if !read {
				cur.refs = 1
			}
			fetches = append(fetches, cur)
		}
		p := &pendingBlock{key: k, f: cur, done: make(chan struct{})}
		n := c.blockLen(i, req.size)
		cur.blocks = append(cur.blocks, p)
		cur.bytes += n
		bytes += n
		c.pending[k] = p
		if read {
			c.joinLocked(p)
			sl.p = p
		}
	}
	return slots, fetches, bytes, true
}

// getLocked returns the cached block for k with a reference for the
// caller, or nil.
func (c *BlockCache) getLocked(k blockKey) *block {
	b, ok := c.lru.Get(k)
	if !ok {
		return nil
	}
	b.unread = false
	b.refs.Add(1)
	return b
}

// peek returns the cached block for k with a reference for the caller,
// leaving its place in the LRU as it is, or nil.
func (c *BlockCache) peek(k blockKey) *block {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.lru.Peek(k)
	if !ok {
		return nil
	}
	b.refs.Add(1)
	return b
}

// addLocked caches b under k, evicting the least recently used blocks
// beyond the budget. The cache takes over the caller's reference.
func (c *BlockCache) addLocked(k blockKey, b *block) {
	if c.lru.Contains(k) {
		c.release(b)
		return
	}
	c.lru.Add(k, b)
	c.bytes += b.cost
	// Unread readahead goes back to the young end once instead of being
	// evicted; at most every block once, so the loop ends.
	spare := c.lru.Len()
	for c.bytes > c.budget {
		k, old, ok := c.lru.RemoveOldest()
		if !ok {
			break
		}
		if old.unread && spare > 0 {
			spare--
			old.unread = false
			c.lru.Add(k, old)
			continue
		}
		c.bytes -= old.cost
		c.release(old)
	}
}

// joinLocked registers one more waiter for p.
func (c *BlockCache) joinLocked(p *pendingBlock) {
	p.waiters++
	p.f.refs++
}

// leave unregisters a waiter that stops waiting for p, and drops the
// reference it was given if p arrived meanwhile.
func (c *BlockCache) leave(p *pendingBlock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-p.done:
		if p.blk != nil {
			c.release(p.blk)
		}
	default:
		p.waiters--
		c.unrefLocked(p.f)
	}
}

// drop lets go of the owner's reference on each of fetches (a reader's
// readahead, when it is closed).
func (c *BlockCache) drop(fetches []*fetch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range fetches {
		c.unrefLocked(f)
	}
}

// unsettled returns, in place, those of fetches that still have blocks on
// their way.
func (c *BlockCache) unsettled(fetches []*fetch) []*fetch {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := fetches[:0]
	for _, f := range fetches {
		if f.next < len(f.blocks) {
			kept = append(kept, f)
		}
	}
	clear(fetches[len(kept):])
	return kept
}

// unrefLocked drops a reference to f, cancelling it when nobody wants it
// any more. Its unsettled blocks are forgotten at once, so that a reader
// arriving later starts a new fetch instead of joining a dying one.
func (c *BlockCache) unrefLocked(f *fetch) {
	f.refs--
	if f.refs > 0 || f.next == len(f.blocks) {
		return
	}
	f.cancel()
	for _, p := range f.blocks[f.next:] {
		if c.pending[p.key] == p {
			delete(c.pending, p.key)
		}
	}
}

// complete hands block b (with one reference) to the waiters of p and to
// the cache.
func (c *BlockCache) complete(p *pendingBlock, b *block) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[p.key] == p {
		delete(c.pending, p.key)
	}
	b.unread = p.waiters == 0 && p.f.owner != nil
	b.refs.Add(int32(p.waiters))
	p.blk = b
	p.f.next++
	c.addLocked(p.key, b)
	close(p.done)
	c.settleLocked(p)
}

// fail settles p with err.
func (c *BlockCache) fail(p *pendingBlock, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[p.key] == p {
		delete(c.pending, p.key)
	}
	p.err = err
	p.f.next++
	close(p.done)
	c.settleLocked(p)
}

// settleLocked drops the fetch references of p's waiters, which have what
// they waited for.
func (c *BlockCache) settleLocked(p *pendingBlock) {
	for range p.waiters {
		c.unrefLocked(p.f)
	}
}

// purge empties the cache.
func (c *BlockCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		_, old, ok := c.lru.RemoveOldest()
		if !ok {
			break
		}
		c.release(old)
	}
	c.bytes = 0
}
