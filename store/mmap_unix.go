//go:build unix && !linux

package store

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// mapChunk returns n bytes of anonymous memory from the kernel, outside
// the Go heap. Pages count towards RSS only once written. The memory is
// never unmapped: buffers are recycled through the pool instead, and
// their pages given back with releasePages.
func mapChunk(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	return b
}

// releasePages gives the pages of b back to the kernel and reports
// whether it did. b must be whole pages. Some kernels take them lazily,
// when memory runs short.
func releasePages(b []byte) bool {
	return unix.Madvise(b, unix.MADV_DONTNEED) == nil
}
