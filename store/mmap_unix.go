//go:build unix && !linux

package store

import "syscall"

// mapChunk returns n bytes of anonymous memory from the kernel, outside
// the Go heap. Pages count towards RSS only once written. The memory is
// never unmapped: buffers are recycled through the pool instead.
func mapChunk(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	return b
}
