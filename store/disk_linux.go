//go:build linux

package store

import (
	"os"
	"syscall"
)

// punchHole gives the disk space of [off, off+n) of f back, keeping its size.
func punchHole(f *os.File, off, n int64) {
	const punch = 0x2 | 0x1 // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
	syscall.Fallocate(int(f.Fd()), punch, off, n)
}

// willNeed starts reading [off, off+n) of f into the page cache: each
// block is read through a file opened for it alone, which the kernel's
// own readahead never sees as sequential.
func willNeed(f *os.File, off, n int64) {
	const adviceWillNeed = 3 // POSIX_FADV_WILLNEED
	syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), uintptr(off), uintptr(n), adviceWillNeed, 0, 0)
}
