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
// same block wait for one GET instead of issuing their own.
type BlockCache struct {
	blockSize int64
	budget    int64
	classes   []*bufferPool // buffer pools by size, smallest first

	mu      sync.Mutex
	lru     *simplelru.LRU[blockKey, *block]
	bytes   int64 // cost of the blocks in lru
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

// NewBlockCache returns a cache of at most budget bytes of blocks of
// blockSize bytes.
func NewBlockCache(budget, blockSize int64) *BlockCache {
	l, _ := simplelru.NewLRU[blockKey, *block](math.MaxInt32, nil)
	c := &BlockCache{
		blockSize: blockSize,
		budget:    budget,
		classes:   classesFor(int(blockSize)),
		lru:       l,
		pending:   make(map[blockKey]*pendingBlock),
	}
	return c
}

// Bytes returns the bytes of blocks cached now.
func (c *BlockCache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Budget returns the cache's size limit in bytes.
func (c *BlockCache) Budget() int64 { return c.budget }

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
