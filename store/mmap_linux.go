//go:build linux

package store

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on x86-64 and on arm64
// with 4 KiB pages.
const hugePage = 2 << 20

// mapChunk returns n bytes of anonymous memory from the kernel, outside
// the Go heap. Pages count towards RSS only once written. The memory is
// never unmapped: buffers are recycled through the pool instead, and
// their pages given back with releasePages.
//
// Chunks of whole huge pages are aligned to them and marked for them, so
// that filling fresh buffers faults once per 2 MiB instead of once per
// 4 KiB page: the faults of a cold read through a mount otherwise take
// about a third of its CPU.
func mapChunk(n int) []byte {
	if n%hugePage != 0 {
		if p := mmap(n); p != nil {
			return unsafe.Slice((*byte)(p), n)
		}
		return make([]byte, n)
	}
	p := mmap(n + hugePage)
	if p == nil {
		return make([]byte, n)
	}
	// Give back the unaligned head and tail.
	skip := (hugePage - uintptr(p)%hugePage) % hugePage
	if skip > 0 {
		unix.MunmapPtr(p, skip)
	}
	if tail := hugePage - skip; tail > 0 {
		unix.MunmapPtr(unsafe.Add(p, skip+uintptr(n)), tail)
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, skip)), n)
	unix.Madvise(b, unix.MADV_HUGEPAGE)
	return b
}

// mmap maps n bytes of anonymous memory, or returns nil. It goes around
// unix.Mmap, whose bookkeeping refuses to unmap part of a mapping.
func mmap(n int) unsafe.Pointer {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return p
}

// releasePages gives the pages of b back to the kernel, which reads as
// zeros on next touch, and reports whether it did. b must be whole pages.
// On memory from the heap fallback of mapChunk this is harmless too: such
// a chunk is a pointer-free allocation of its own.
func releasePages(b []byte) bool {
	return unix.Madvise(b, unix.MADV_DONTNEED) == nil
}
