package fs

import (
	"log/slog"
	"os"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Statfs types of filesystems that stack on others: the kernel refuses
// their files as passthrough backing files (they would stack too deep).
const (
	overlayMagic = 0x794c7630
	fuseMagic    = 0x65735546
)

// passthrough decides which local files are handed to the kernel to read
// directly (FUSE passthrough), once per filesystem they live on.
//
// Only files of read-only filesystems qualify: the kernel reads a
// passthrough file without asking aindfs, so a file rewritten under an
// open handle would give that handle bytes of another version, where
// aindfs itself fails the read (see store.LocalBackend). A capsule's
// /data is read-only.
//
// Each filesystem is first tried with a registration of aindfs's own.
// go-fuse turns passthrough off for the whole mount at the first file the
// kernel refuses, and a file already open with passthrough can then not
// be opened again without it (the kernel refuses to mix the two ways on
// one inode): so go-fuse is only ever offered files the kernel takes.
type passthrough struct {
	server *fuse.Server
	log    *slog.Logger

	mu      sync.Mutex
	verdict map[uint64]bool // by device
}

func newPassthrough(server *fuse.Server, log *slog.Logger) *passthrough {
	return &passthrough{server: server, log: log, verdict: map[uint64]bool{}}
}

// allows reports whether f may be handed to the kernel.
func (p *passthrough) allows(f *os.File) bool {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ok, known := p.verdict[st.Dev]
	if !known {
		var why string
		ok, why = p.try(f)
		p.verdict[st.Dev] = ok
		if ok {
			p.log.Info("local files of this filesystem are read by the kernel directly (passthrough)", "example", f.Name())
		} else {
			p.log.Info("local files of this filesystem are read through aindfs", "example", f.Name(), "why", why)
		}
	}
	return ok
}

// try finds out whether the kernel takes f as a passthrough file, and why
// not.
func (p *passthrough) try(f *os.File) (bool, string) {
	var fs syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &fs); err != nil {
		return false, err.Error()
	}
	switch {
	case fs.Flags&stRdonly == 0:
		return false, "the filesystem is writable: a file changed under an open handle would go unnoticed"
	case fs.Type == overlayMagic || fs.Type == fuseMagic:
		return false, "the filesystem is stacked on another"
	}
	id, errno := p.server.RegisterBackingFd(&fuse.BackingMap{Fd: int32(f.Fd())})
	if errno != 0 {
		return false, "the kernel refuses it: " + errno.Error()
	}
	if errno := p.server.UnregisterBackingFd(id); errno != 0 {
		p.log.Debug("unregistering a trial passthrough file", "errno", errno.Error())
	}
	return true, ""
}

// stRdonly is ST_RDONLY in statfs flags: the filesystem is mounted read-only.
const stRdonly = 0x1
