package store

import (
	"sync"
)

// bufferPool hands out fixed-size block buffers and takes them back for
// reuse. Buffers live outside the Go heap where the platform allows (see
// mapChunk), so that a full cache does not double the garbage collector's
// heap target: with a 1 GiB cache in the heap, the runtime would let
// garbage grow to another gigabyte before collecting it.
type bufferPool struct {
	size int // bytes per buffer

	mu     sync.Mutex
	free   [][]byte
	mapped int64 // bytes obtained from the system, free or not
}

// pools holds one bufferPool per buffer size, shared by all stores, so
// that a Store that is closed leaves its buffers to the next one.
var pools sync.Map // int -> *bufferPool

func poolFor(size int) *bufferPool {
	if p, ok := pools.Load(size); ok {
		return p.(*bufferPool)
	}
	p, _ := pools.LoadOrStore(size, &bufferPool{size: size})
	return p.(*bufferPool)
}

// chunkBytes is how much is mapped at once: big enough that mapping is
// rare, small enough that a small cache does not overshoot by much.
const chunkBytes = 4 << 20

func (p *bufferPool) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	per := max(1, chunkBytes/p.size)
	chunk := mapChunk(per * p.size)
	p.mapped += int64(len(chunk))
	for i := 1; i < per; i++ {
		p.free = append(p.free, chunk[i*p.size:(i+1)*p.size:(i+1)*p.size])
	}
	return chunk[:p.size:p.size]
}

func (p *bufferPool) put(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b[:p.size:p.size])
	p.mu.Unlock()
}
