package store

import (
	"os"
	"slices"
	"sync"
	"unsafe"
)

// minClass is the smallest buffer a block takes: one page.
const minClass = 4 << 10

// bufferPool hands out buffers of one size class and takes them back for
// reuse. Buffers live outside the Go heap where the platform allows (see
// mapChunk), so that a full cache does not grow the garbage collector's
// heap target: with a 1 GiB cache in the heap, the runtime would let
// garbage grow to another gigabyte before collecting it, and a process
// that caps its heap (GOMEMLIMIT) would collect back to back.
//
// Pools never unmap, so memory a class no longer needs would stay with
// it while another class grows: a cache full of small files, then of a
// large object, would hold both. Before a pool grows, it asks the others
// to give the pages of their free buffers back to the kernel (see
// releaseSpare); resident memory then grows only when no pool has a free
// buffer to give.
type bufferPool struct {
	size  int // bytes per buffer
	chunk int // bytes mapped at once, a multiple of size

	mu sync.Mutex
	// free buffers are resident (or mapped and never touched), oldest
	// first; released ones had their pages given back, so touching one
	// costs page faults, and they are reused only when free is empty.
	free, released [][]byte
	mapped         int64 // bytes obtained from the system, in any state
	// credit is what other pools released for this one to grow by, so
	// that it asks them once per chunk rather than once per buffer.
	credit int64
}

// pools holds one bufferPool per buffer size, shared by all stores, so
// that a Store that is closed leaves its buffers to the next one, and
// stores of different block sizes share their common classes.
var pools sync.Map // int -> *bufferPool

func poolFor(size int) *bufferPool {
	if p, ok := pools.Load(size); ok {
		return p.(*bufferPool)
	}
	p, _ := pools.LoadOrStore(size, &bufferPool{size: size, chunk: chunkFor(size)})
	return p.(*bufferPool)
}

// classesFor returns the pools for blocks of up to blockSize bytes, from
// the smallest: powers of two from minClass, then blockSize itself,
// rounded up to whole pages so that every buffer can be released alone.
func classesFor(blockSize int) []*bufferPool {
	top := (blockSize + minClass - 1) / minClass * minClass
	var ps []*bufferPool
	for s := minClass; s < top; s *= 2 {
		ps = append(ps, poolFor(s))
	}
	return append(ps, poolFor(top))
}

// Chunk sizes: big enough that mapping is rare, small enough that a small
// cache does not overshoot by much. Classes of 64 KiB and more hold the
// blocks of streamed objects, which fill memory fast: their chunks are
// two huge pages (see mapChunk). Smaller classes hold small files and the
// ends of objects, of which a cache may hold only a few.
const (
	smallChunk = 1 << 20
	largeChunk = 4 << 20
)

func chunkFor(size int) int {
	target := smallChunk
	if size >= 64<<10 {
		target = largeChunk
	}
	return max(1, target/size) * size
}

// pageSize is the unit the kernel gives back; a pool whose buffers are
// not whole pages keeps them (releasing one would zero its neighbour).
var pageSize = os.Getpagesize()

// get returns a buffer of p.size bytes: a free one if there is one, else
// a released one, else one of a new chunk. Before it grows p's resident
// memory (by touching a released buffer or mapping a chunk) it has the
// other pools release as much, a chunk's worth at a time.
func (p *bufferPool) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.popFreeLocked(); b != nil {
		return b
	}
	growth := int64(p.chunk)
	if len(p.released) > 0 {
		growth = int64(p.size)
	}
	if p.credit < growth {
		// Never hold one pool's lock while taking another's: two pools
		// growing at once would each wait for the other.
		want := int64(p.chunk) - p.credit
		p.mu.Unlock()
		got := releaseSpare(p, want)
		p.mu.Lock()
		p.credit = min(p.credit+got, int64(p.chunk))
		// A buffer may have come back meanwhile.
		if b := p.popFreeLocked(); b != nil {
			return b
		}
	}
	if n := len(p.released); n > 0 {
		b := p.released[n-1]
		p.released[n-1] = nil
		p.released = p.released[:n-1]
		p.credit = max(0, p.credit-int64(p.size))
		return b
	}
	chunk := mapChunk(p.chunk)
	p.mapped += int64(len(chunk))
	p.credit = max(0, p.credit-int64(len(chunk)))
	for i := p.size; i < len(chunk); i += p.size {
		p.free = append(p.free, chunk[i:i+p.size:i+p.size])
	}
	return chunk[:p.size:p.size]
}

// popFreeLocked takes the most recently returned free buffer, or nil.
func (p *bufferPool) popFreeLocked() []byte {
	n := len(p.free)
	if n == 0 {
		return nil
	}
	b := p.free[n-1]
	p.free[n-1] = nil
	p.free = p.free[:n-1]
	return b
}

// put takes back a buffer get returned.
func (p *bufferPool) put(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b[:p.size:p.size])
	p.mu.Unlock()
}

// resident returns the bytes of p's buffers that may hold pages: those
// held by blocks and the free ones, not the released ones.
func (p *bufferPool) resident() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mapped - int64(len(p.released))*int64(p.size)
}

// release gives the pages of p's oldest free buffers back to the kernel,
// at least want bytes of them if it has that many, and returns how many
// bytes it released.
func (p *bufferPool) release(want int64) int64 {
	if want <= 0 || p.size%pageSize != 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := int(min(int64(len(p.free)), (want-1)/int64(p.size)+1))
	if k == 0 {
		return 0
	}
	bufs := slices.Clone(p.free[:k])
	clear(p.free[:k])
	p.free = p.free[k:]
	// Neighbours in memory go back in one call: the free buffers of a
	// chunk mostly sit side by side.
	slices.SortFunc(bufs, func(a, b []byte) int {
		return compareAddr(unsafe.SliceData(a), unsafe.SliceData(b))
	})
	var got int64
	for i := 0; i < len(bufs); {
		j := i + 1
		for j < len(bufs) && unsafe.Pointer(unsafe.SliceData(bufs[j])) == unsafe.Add(unsafe.Pointer(unsafe.SliceData(bufs[j-1])), p.size) {
			j++
		}
		run := unsafe.Slice(unsafe.SliceData(bufs[i]), (j-i)*p.size)
		if releasePages(run) {
			p.released = append(p.released, bufs[i:j]...)
			got += int64(j-i) * int64(p.size)
		} else {
			p.free = append(p.free, bufs[i:j]...)
		}
		i = j
	}
	return got
}

func compareAddr(a, b *byte) int {
	switch x, y := uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(b)); {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// releaseSpare asks the pools other than except to release free buffers
// until want bytes are released or none is left, and returns the bytes
// released. It holds one pool's lock at a time.
func releaseSpare(except *bufferPool, want int64) int64 {
	var got int64
	pools.Range(func(_, v any) bool {
		if q := v.(*bufferPool); q != except {
			got += q.release(want - got)
		}
		return got < want
	})
	return got
}
