package store

import (
	"context"
	"testing"
	"time"
)

func TestBlockCacheBudget(t *testing.T) {
	const bs = 64 << 10
	c := NewBlockCache(4*bs, bs)
	key := func(i int64) blockKey { return blockKey{obj: "s3://b/o", etag: `"e"`, index: i} }
	add := func(i int64) {
		b := c.newBlock(bs)
		b.data[0] = byte(i)
		c.mu.Lock()
		c.addLocked(key(i), b)
		c.mu.Unlock()
	}
	get := func(i int64) bool {
		c.mu.Lock()
		b := c.getLocked(key(i))
		c.mu.Unlock()
		if b == nil {
			return false
		}
		if b.data[0] != byte(i) {
			t.Errorf("block %d holds the bytes of block %d", i, b.data[0])
		}
		c.release(b)
		return true
	}
	for i := range int64(4) {
		add(i)
	}
	get(0) // 0 is now the most recently used
	add(4) // evicts 1, the least recently used
	add(5) // evicts 2
	for i, want := range []bool{true, false, false, true, true, true} {
		if got := get(int64(i)); got != want {
			t.Errorf("block %d cached: %v, want %v", i, got, want)
		}
	}
	if c.Bytes() != 4*bs {
		t.Errorf("cache holds %d bytes, want %d", c.Bytes(), 4*bs)
	}
	if c.inUse.Load() != 4*bs {
		t.Errorf("%d bytes of buffers in use, want the %d cached: evicted buffers not returned", c.inUse.Load(), 4*bs)
	}

	// A block being copied out when it is evicted keeps its bytes until
	// the copy is done.
	c.mu.Lock()
	b := c.getLocked(key(5))
	c.mu.Unlock()
	for i := int64(6); i < 10; i++ {
		add(i)
	}
	if b.data == nil || b.data[0] != 5 {
		t.Fatal("evicted block lost its bytes while referenced")
	}
	c.release(b)
	if c.inUse.Load() != 4*bs {
		t.Errorf("%d bytes in use after the last reference went, want %d", c.inUse.Load(), 4*bs)
	}

	// Short blocks cost the smallest buffer class that holds them (a
	// page, 8 KiB, ...), not a whole block's buffer.
	for _, tt := range []struct{ n, cost int64 }{{100, 4 << 10}, {4 << 10, 4 << 10}, {5000, 8 << 10}, {bs/2 + 1, bs}} {
		small := c.newBlock(int(tt.n))
		if small.cost != tt.cost || len(small.data) != int(tt.n) {
			t.Errorf("a %d-byte block costs %d bytes and holds %d, want %d and %d", tt.n, small.cost, len(small.data), tt.cost, tt.n)
		}
		c.release(small)
	}
	c.purge()
	if c.Bytes() != 0 || c.inUse.Load() != 0 {
		t.Errorf("after purge: %d bytes cached, %d in use", c.Bytes(), c.inUse.Load())
	}
}

func TestPrefetcher(t *testing.T) {
	const (
		kib = 1 << 10
		mib = 1 << 20
	)
	type read struct{ off, n int64 }
	tests := []struct {
		name       string
		reads      []read
		wantWindow bool
	}{
		{"first read at the start", []read{{0, 128 * kib}}, true},
		{"one read elsewhere", []read{{10 * mib, 128 * kib}}, false},
		{"two sequential reads", []read{{10 * mib, 128 * kib}, {10*mib + 128*kib, 128 * kib}}, true},
		{"kernel reads out of order", []read{
			{10*mib + 256*kib, 128 * kib}, {10 * mib, 128 * kib}, {10*mib + 384*kib, 128 * kib}, {10*mib + 128*kib, 128 * kib},
		}, true},
		{"random reads", []read{{10 * mib, 256 * kib}, {70 * mib, 256 * kib}, {3 * mib, 256 * kib}, {50 * mib, 256 * kib}}, false},
		{"sequential then a jump", []read{{0, mib}, {mib, mib}, {2 * mib, mib}, {90 * mib, 256 * kib}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pf := prefetcher{blockSize: 128 * kib, minWindow: 4 * mib, maxPart: 16 * mib}
			for _, r := range tt.reads {
				pf.observe(r.off, r.n, 512*mib)
			}
			_, _, ok := pf.next(1 << 30)
			if ok != tt.wantWindow {
				t.Errorf("readahead wanted: %v (window %d), want %v", ok, pf.window, tt.wantWindow)
			}
		})
	}
}

func TestPrefetcherKeepsPartsInFlight(t *testing.T) {
	const mib = 1 << 20
	pf := prefetcher{blockSize: 128 << 10, minWindow: 4 * mib, maxPart: 16 * mib}
	for off := int64(0); off < 4*mib; off += mib {
		pf.observe(off, mib, 256*mib)
	}
	if pf.window != 64*mib {
		t.Fatalf("window %d after four sequential reads of 1 MiB, want 64 MiB (16 times what the stream read)", pf.window)
	}
	for off := int64(4 * mib); off < 16*mib; off += mib {
		pf.observe(off, mib, 256*mib)
	}
	if pf.window != 256*mib {
		t.Fatalf("window %d after 16 sequential reads of 1 MiB, want the 256 MiB cap", pf.window)
	}
	// Parts are requested until the window is in flight, and no more.
	var parts []int64
	for {
		from, to, ok := pf.next(1 << 30)
		if !ok {
			break
		}
		if from != pf.issued && len(parts) > 0 {
			t.Fatalf("part [%d, %d) does not follow the last one, which ended at %d", from, to, pf.issued)
		}
		pf.requested(to, to-from)
		parts = append(parts, to-from)
	}
	if len(parts) != 32 || parts[0] != 8*mib {
		t.Fatalf("parts %v, want 32 of 8 MiB", parts)
	}
	// One arrives: one more may go.
	pf.arrived(16 * mib)
	if _, _, ok := pf.next(1 << 30); !ok {
		t.Error("no new part after one arrived")
	}
	// Nothing is requested beyond the object.
	pf2 := prefetcher{blockSize: 128 << 10, minWindow: 4 * mib, maxPart: 16 * mib}
	pf2.observe(0, mib, 256*mib)
	var covered, end int64
	for i := 0; ; i++ {
		from, to, ok := pf2.next(3 * mib)
		if !ok {
			break
		}
		if i > 10 || to > 3*mib {
			t.Fatalf("readahead [%d, %d) of a 3 MiB object", from, to)
		}
		pf2.requested(to, to-from)
		covered += to - from
		end = to
	}
	if covered != 2*mib || end != 3*mib {
		t.Errorf("readahead after the first MiB of a 3 MiB object covered %d bytes up to %d, want the other 2 MiB", covered, end)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{base: 100 * time.Millisecond, max: 2 * time.Second}
	for attempt, ceiling := range []time.Duration{100, 100, 200, 400, 800, 1600, 2000, 2000, 2000} {
		ceiling *= time.Millisecond
		for range 20 {
			d := b.delay(attempt)
			if d < ceiling/2 || d > ceiling {
				t.Fatalf("delay before attempt %d = %v, want within [%v, %v]", attempt, d, ceiling/2, ceiling)
			}
		}
	}
}

func TestBlockCacheSparesUnreadReadahead(t *testing.T) {
	const bs = 64 << 10
	c := NewBlockCache(4*bs, bs)
	key := func(i int64) blockKey { return blockKey{obj: "s3://b/o", etag: `"e"`, index: i} }
	reader := &Reader{}
	// arrive adds block i as a fetch completes it: readahead (a fetch
	// owned by a reader, nobody waiting yet) or a read's own.
	arrive := func(i int64, readahead bool) {
		f := &fetch{ctx: context.Background(), cancel: func() {}}
		if readahead {
			f.owner = reader
		}
		p := &pendingBlock{key: key(i), f: f, done: make(chan struct{})}
		f.blocks = []*pendingBlock{p}
		c.complete(p, c.newBlock(bs))
	}
	cached := func(i int64) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.lru.Contains(key(i))
	}
	read := func(i int64) {
		c.mu.Lock()
		b := c.getLocked(key(i))
		c.mu.Unlock()
		if b == nil {
			t.Fatalf("block %d not cached", i)
		}
		c.release(b)
	}
	// A stream: blocks 0 and 1 read, 2 and 3 fetched ahead and not yet
	// read, then block 0 read again. The least recently used are 2 and 3,
	// but they are what the stream reads next.
	arrive(0, false)
	arrive(1, true)
	arrive(2, true)
	arrive(3, true)
	read(1)
	read(0)
	arrive(4, true) // evicts 1, not 2
	arrive(5, true) // evicts 0, not 3
	for i, want := range []bool{false, false, true, true, true, true} {
		if got := cached(int64(i)); got != want {
			t.Errorf("block %d cached: %v, want %v", i, got, want)
		}
	}
	// Spared once: readahead never read goes in its turn.
	arrive(6, false) // spares 4, evicts 2
	arrive(7, false) // evicts 3
	arrive(8, false) // spares 5, evicts 6
	for i, want := range []bool{2: false, 3: false, 4: true, 5: true, 6: false, 7: true, 8: true} {
		if got := cached(int64(i)); i >= 2 && got != want {
			t.Errorf("after more arrivals, block %d cached: %v, want %v", i, got, want)
		}
	}
	if c.Bytes() != 4*bs {
		t.Errorf("cache holds %d bytes, want %d", c.Bytes(), 4*bs)
	}
	c.purge()
}

// A stream of many small reads (HDF5 reading the object headers at the
// start of a file) gets a window of a few times what it read, not the
// whole file.
func TestPrefetcherWindowFollowsBytesRead(t *testing.T) {
	const kib = 1 << 10
	pf := prefetcher{blockSize: 128 * kib, minWindow: 4 << 20, maxPart: 16 << 20}
	for off := int64(0); off < 512*kib; off += 4 * kib {
		pf.observe(off, 4*kib, 256<<20)
	}
	if pf.streak != 128 {
		t.Fatalf("streak %d after 128 reads in order, want 128", pf.streak)
	}
	if want := int64(streamFactor * 512 * kib); pf.window != want {
		t.Errorf("window %d after 512 KiB read in 4 KiB pieces, want %d (%d times the bytes read)", pf.window, want, streamFactor)
	}
}

// kernelStream returns the reads in which the kernel's read-ahead asks
// for a stream of n bytes at off that a program reads in order: small
// at first, then growing fourfold up to 1 MiB.
func kernelStream(off, n int64) [][2]int64 {
	var reads [][2]int64
	for size, at := int64(16<<10), off; at < off+n; size = min(4*size, 1<<20) {
		reads = append(reads, [2]int64{at, size})
		at += size
	}
	return reads
}

func TestPrefetcherStrided(t *testing.T) {
	const mib = 1 << 20
	// HDF5 reading one column of chunks: 2 MiB in every 12 MiB, each
	// chunk a few hundred bytes off the even spacing.
	column := func(i int64) int64 { return mib + 12*mib*i + (i%3)*640 }
	t.Run("column of chunks", func(t *testing.T) {
		pf := prefetcher{blockSize: 128 << 10, minWindow: 4 * mib, maxPart: 16 * mib}
		requested := map[int64]bool{} // blocks requested by readahead
		gap := 0                      // of them, blocks between chunks, once the pattern is known
		for i := range int64(20) {
			for _, r := range kernelStream(column(i), 2*mib) {
				pf.observe(r[0], r[1], 256*mib)
				for {
					from, to, ok := pf.next(1 << 30)
					if !ok {
						break
					}
					for b := from / pf.blockSize; b*pf.blockSize < to; b++ {
						requested[b] = true
						if off := b * pf.blockSize; i >= 3 && (off-mib)%(12*mib) >= 3*mib && (off-mib)%(12*mib) < 12*mib-256<<10 {
							gap++
						}
					}
					pf.requested(to, to-from)
					pf.arrived(to - from) // at once: only the pattern limits what is asked
				}
			}
			if i < 3 {
				continue
			}
			// From the fourth chunk on, the next ones are asked for whole,
			// before the reader gets to them, and the gaps are not.
			for j := i + 1; j <= i+8 && j < 20; j++ {
				for off := column(j); off < column(j)+2*mib; off += pf.blockSize {
					if !requested[off/pf.blockSize] {
						t.Fatalf("after chunk %d, byte %d of chunk %d is not requested", i, off-column(j), j)
					}
				}
			}
		}
		if gap > 0 {
			t.Errorf("%d blocks requested in the gaps between chunks, far from any chunk", gap)
		}
	})
	t.Run("uneven jumps make no pattern", func(t *testing.T) {
		pf := prefetcher{blockSize: 128 << 10, minWindow: 4 * mib, maxPart: 16 * mib}
		for _, off := range []int64{5 * mib, 40 * mib, 61 * mib, 200 * mib, 100 * mib, 130 * mib} {
			pf.observe(off, 256<<10, 256*mib)
			if _, _, ok := pf.next(1 << 30); ok || pf.stride != 0 {
				t.Fatalf("after a read at %d MiB: readahead wanted (stride %d)", off/mib, pf.stride)
			}
		}
	})
	t.Run("a pattern asks for no more once the reader leaves it", func(t *testing.T) {
		pf := prefetcher{blockSize: 128 << 10, minWindow: 4 * mib, maxPart: 16 * mib}
		for i := range int64(4) {
			pf.observe(column(i), 256<<10, 256*mib)
		}
		parts := 0
		for {
			from, to, ok := pf.next(1 << 30)
			if !ok {
				break
			}
			pf.requested(to, to-from)
			parts++
		}
		if parts == 0 || parts > stridedAhead+1 {
			t.Fatalf("%d streams of the pattern requested, want 1 to %d", parts, stridedAhead+1)
		}
		pf.arrived(pf.inflight)
		pf.observe(900*mib, 256<<10, 256*mib) // elsewhere
		if from, to, ok := pf.next(1 << 30); ok {
			t.Errorf("the pattern asked for [%d, %d) after the reader left it", from, to)
		}
	})
}
