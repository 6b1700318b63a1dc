package fs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/aind/aindfs/store"
)

// This file adapts the Tree to go-fuse: one node type per kind of node
// (folder, file, link), each embedding fusefs.Inode. Errors become errno
// here and nowhere else.

// mountState is what all nodes of one mount share.
type mountState struct {
	log *slog.Logger
	// life ends when the mount is being taken down: every request still
	// running is cancelled, so unmounting never waits on the network.
	life context.Context
	uid  uint32
	gid  uint32
	// directFrom is the size from which files are opened for direct I/O
	// (0: none). It is set once the kernel has said what it supports.
	directFrom atomic.Int64
	// pass decides which local files the kernel reads itself; nil until
	// the mount is up, or where the kernel cannot.
	pass atomic.Pointer[passthrough]
	// reads is told of every read (MountOptions.Reads); nil: nobody is.
	reads func(took time.Duration, err error)
	// open counts the file handles the kernel holds.
	open atomic.Int64
}

// context returns ctx (the kernel's request, cancelled when the caller is
// interrupted) also cancelled when the mount goes away.
func (s *mountState) context(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.life, cancel)
	return c, func() { stop(); cancel() }
}

// errno turns a tree error into the errno the caller sees, and logs what a
// user would want to know.
func (s *mountState) errno(op, path string, ctx context.Context, err error) syscall.Errno {
	var e syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrNameTooLong):
		e = syscall.ENAMETOOLONG
	case errors.Is(err, ErrInvalidName):
		e = syscall.EINVAL
	case isNotFound(err):
		e = syscall.ENOENT
	case errors.Is(err, ErrNotDir):
		e = syscall.ENOTDIR
	case errors.Is(err, ErrIsDir):
		e = syscall.EISDIR
	case s.life.Err() != nil:
		e = syscall.EIO // the mount is going away
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		e = syscall.EINTR // the caller was interrupted (Ctrl-C)
	default:
		e = syscall.EIO
	}
	switch e {
	case syscall.ENOENT, syscall.EINTR, syscall.EINVAL, syscall.ENAMETOOLONG:
		s.log.Debug(op+" failed", "path", "/"+path, "errno", e.Error(), "err", err)
	default:
		s.log.Warn(op+" failed", "path", "/"+path, "errno", e.Error(), "err", err)
	}
	return e
}

// newNode makes the go-fuse node for n.
func (s *mountState) newNode(n Node) (fusefs.InodeEmbedder, fusefs.StableAttr) {
	a := n.Attr()
	id := fusefs.StableAttr{Mode: typeBits(a.Kind), Ino: a.Ino}
	switch n := n.(type) {
	case Dir:
		return &dirNode{mnt: s, dir: n}, id
	case File:
		return &fileNode{mnt: s, file: n}, id
	case Symlink:
		return &linkNode{mnt: s, link: n}, id
	}
	panic("fs: node of unknown kind at " + n.Path())
}

func typeBits(k Kind) uint32 {
	switch k {
	case KindDir:
		return syscall.S_IFDIR
	case KindSymlink:
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}

func (s *mountState) fillAttr(out *fuse.Attr, a Attr) {
	out.Ino = a.Ino
	out.Mode = typeBits(a.Kind) | uint32(a.Mode.Perm())
	out.Size = uint64(a.Size)
	out.Nlink = 1
	if a.Kind == KindDir {
		out.Nlink = 2
	}
	t := a.ModTime
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	out.SetTimes(&t, &t, &t)
	out.Owner = fuse.Owner{Uid: s.uid, Gid: s.gid}
	if a.Owner != nil {
		out.Owner = fuse.Owner{Uid: a.Owner.UID, Gid: a.Owner.GID}
	}
	out.Blksize = 1 << 20 // tools size their reads by it; small reads are slow here
	out.Blocks = (uint64(a.Size) + 511) / 512
}

// attrOut answers a getattr with a, valid for as long as a says.
func (s *mountState) attrOut(out *fuse.AttrOut, a Attr) {
	s.fillAttr(&out.Attr, a)
	out.SetTimeout(a.Valid)
}

// dirNode is a folder.
type dirNode struct {
	fusefs.Inode
	readOnly
	mnt *mountState
	dir Dir
}

var _ = (fusefs.NodeLookuper)((*dirNode)(nil))

// Lookup answers from the tree. It runs under the mount's context, not the
// request's: most lookups are answered from memory, and watching the
// request for interrupts would cost a goroutine each (ls -l of a large
// folder makes one per entry). An interrupted caller is not left waiting:
// the kernel gives up on its behalf.
func (n *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	child, err := lookup(n.mnt.life, n.dir, name)
	if err != nil {
		return nil, n.mnt.errno("lookup", join(n.dir.Path(), name), n.mnt.life, err)
	}
	a := child.Attr()
	n.mnt.fillAttr(&out.Attr, a)
	out.SetEntryTimeout(a.Valid)
	out.SetAttrTimeout(a.Valid)
	// Looked up before (ls -l after ls): the node go-fuse has is the one.
	if known := n.GetChild(name); known != nil && known.StableAttr().Ino == a.Ino {
		return known, 0
	}
	ops, id := n.mnt.newNode(child)
	return n.NewInode(ctx, ops, id), 0
}

var _ = (fusefs.NodeOpendirHandler)((*dirNode)(nil))

// OpendirHandle lists the folder (under the mount's context, as Lookup).
// The kernel then asks for each entry's attributes (READDIRPLUS); Lookup
// answers those from the listing, which the folder keeps, so `ls -l`
// makes no request per entry. A folder of objects is given to the kernel
// as its listing arrives: the kernel's work on the first page overlaps
// the fetching of the next ones.
func (n *dirNode) OpendirHandle(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if d, ok := n.dir.(listedDir); ok {
		l, err := d.arriving(n.mnt.life)
		if err != nil {
			return nil, 0, n.mnt.errno("readdir", n.dir.Path(), n.mnt.life, err)
		}
		// The entries of a folder of objects never change: the kernel may
		// keep them and answer the next readers of the folder itself.
		return &dirStream{mnt: n.mnt, dir: d, l: l}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
	}
	nodes, err := n.dir.ReadDir(n.mnt.life)
	if err != nil {
		return nil, 0, n.mnt.errno("readdir", n.dir.Path(), n.mnt.life, err)
	}
	return &dirList{nodes: nodes}, 0, 0
}

// dirList gives the kernel the entries of a folder listed whole.
type dirList struct {
	nodes []Node
	next  int
}

var (
	_ = (fusefs.FileReaddirenter)((*dirList)(nil))
	_ = (fusefs.FileSeekdirer)((*dirList)(nil))
)

func (d *dirList) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if d.next >= len(d.nodes) {
		return nil, 0
	}
	d.next++
	return dirEntry(d.nodes[d.next-1], d.next), 0
}

// Seekdir goes to the entry after the off-th (0: the first).
func (d *dirList) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	d.next = int(min(off, uint64(len(d.nodes))))
	return 0
}

// dirEntry is child's entry, the given-th of its folder. Offsets count
// entries in the order they are given, the same for every reader of the
// folder, so Seekdir can find its place again.
func dirEntry(child Node, given int) *fuse.DirEntry {
	a := child.Attr()
	return &fuse.DirEntry{Name: child.Name(), Mode: typeBits(a.Kind), Ino: a.Ino, Off: uint64(given)}
}

// listedDir is a Dir whose entries can be read while its listing arrives.
type listedDir interface {
	Dir
	// arriving returns the folder's listing, done or under way.
	arriving(ctx context.Context) (*listing, error)
}

// dirStream gives the kernel a folder's entries as its listing arrives.
// When all the entries arrived so far are given, Readdirent waits for
// more, for the end of the listing, for the caller to be interrupted
// (Ctrl-C: EINTR) or for the mount to go away. A listing that fails ends
// the stream with its error.
type dirStream struct {
	mnt   *mountState
	dir   listedDir
	l     *listing
	given int    // entries given so far: the index of the next one
	batch []Node // arrived, not given yet
	end   bool
}

var (
	_ = (fusefs.FileReaddirenter)((*dirStream)(nil))
	_ = (fusefs.FileSeekdirer)((*dirStream)(nil))
)

func (s *dirStream) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if len(s.batch) == 0 && !s.end {
		c, done := s.mnt.context(ctx)
		nodes, err := s.l.arrived(c, s.given)
		done()
		if err != nil {
			return nil, s.mnt.errno("readdir", s.dir.Path(), c, err)
		}
		s.batch, s.end = nodes, len(nodes) == 0
	}
	if s.end {
		return nil, 0
	}
	child := s.batch[0]
	s.batch = s.batch[1:]
	s.given++
	return dirEntry(child, s.given), 0
}

// Seekdir goes back (rewinddir, or a batch the kernel asks for again) or
// forward to the entry after the off-th.
func (s *dirStream) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	s.given, s.batch, s.end = int(off), nil, false
	if s.l.failed() {
		// A listing that failed is not kept: rewinding lists again.
		l, err := s.dir.arriving(s.mnt.life)
		if err != nil {
			return s.mnt.errno("readdir", s.dir.Path(), s.mnt.life, err)
		}
		s.l = l
	}
	return 0
}

var _ = (fusefs.NodeGetattrer)((*dirNode)(nil))

func (n *dirNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mnt.attrOut(out, n.dir.Attr())
	return 0
}

// fileNode is a regular file.
type fileNode struct {
	fusefs.Inode
	readOnly
	mnt  *mountState
	file File
	// smallReads is set when a direct-I/O handle of the file was read
	// mostly in small pieces: from then on the file is opened with the
	// page cache, where such reads cost no round trip.
	smallReads atomic.Bool
}

// Direct I/O pays a round trip to aindfs for every read, so a handle that
// makes at least smallReadsMin reads, three quarters of them shorter than
// smallRead, turns its file over to the page cache for later opens.
const (
	smallRead     = 64 << 10
	smallReadsMin = 32
)

var _ = (fusefs.NodeGetattrer)((*fileNode)(nil))

func (n *fileNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mnt.attrOut(out, n.file.Attr())
	return 0
}

var _ = (fusefs.NodeOpener)((*fileNode)(nil))

// Open refuses writing. Contents never change for a given inode (a changed
// object gets a new one), so the kernel may keep cached pages across opens.
//
// Files on local disk are handed to the kernel where it can read them
// itself (passthrough). Others keep the page cache: programs that read a
// few bytes at a time (HDF5 reading a column of a chunk) are answered by
// the kernel, which asks aindfs only for its read-ahead. With
// MountOptions.DirectIO, large S3 files are opened for direct I/O
// instead: each read goes to the block cache, and the kernel copies the
// answer straight into the reader's buffer, one copy fewer for programs
// that read in large pieces, but a round trip for every read; a file
// read mostly in small pieces keeps the page cache from its next open on
// (smallReads). mmap works on all: the kernel maps direct-I/O files
// through the page cache (see Mount).
func (n *fileNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EROFS
	}
	c, done := n.mnt.context(ctx)
	defer done()
	r, err := n.file.Open(c)
	if err != nil {
		return nil, 0, n.mnt.errno("open", n.file.Path(), c, err)
	}
	h := &fileHandle{mnt: n.mnt, path: n.file.Path(), r: r}
	if _, ok := n.file.(changing); ok {
		h.own = true
		return h, fuse.FOPEN_DIRECT_IO, 0
	}
	if lf, ok := r.(localFiler); ok {
		f, local, err := lf.LocalFile(c)
		if err != nil {
			r.Close()
			return nil, 0, n.mnt.errno("open", n.file.Path(), c, err)
		}
		if local {
			// A file on local disk is handed to the kernel, which then
			// reads it (and maps it) directly, never asking this process,
			// where it can (see passthrough). Else it is read here
			// through the page cache.
			if p := n.mnt.pass.Load(); p != nil && p.allows(f) {
				h.fd = int(f.Fd())
			}
			n.mnt.open.Add(1)
			return h, fuse.FOPEN_KEEP_CACHE, 0
		}
	}
	open := uint32(fuse.FOPEN_KEEP_CACHE)
	if from := n.mnt.directFrom.Load(); from > 0 && n.file.Attr().Size >= from && !n.smallReads.Load() {
		open |= fuse.FOPEN_DIRECT_IO
		h.node = n
	}
	n.mnt.open.Add(1)
	return h, open, 0
}

// localFiler is a Reader that may read a file on local disk, which it can
// hand over.
type localFiler interface {
	LocalFile(ctx context.Context) (f *os.File, ok bool, err error)
}

// fileHandle is one open file.
type fileHandle struct {
	mnt  *mountState
	path string
	r    Reader
	fd   int // of the local file r reads, or 0
	// node is the file's node when the handle is open for direct I/O;
	// reads and small count the reads it gets, and the short ones.
	node         *fileNode
	reads, small atomic.Int64
	// own is set for the mount's own files (stats.json), which are left
	// out of the counts of open files and reads.
	own bool
}

var _ = (fusefs.FilePassthroughFder)((*fileHandle)(nil))

// PassthroughFd offers the kernel the local file the handle reads (see
// fileNode.Open). go-fuse asks once, at open; the file stays open until
// Release.
func (h *fileHandle) PassthroughFd() (int, bool) { return h.fd, h.fd > 0 }

var _ = (fusefs.FileReader)((*fileHandle)(nil))

func (h *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	c, done := h.mnt.context(ctx)
	defer done()
	if h.node != nil {
		h.reads.Add(1)
		if len(dest) < smallRead {
			h.small.Add(1)
		}
	}
	start := time.Now()
	res, err := h.read(c, dest, off)
	if h.mnt.reads != nil && !h.own {
		if errors.Is(err, io.EOF) {
			h.mnt.reads(time.Since(start), nil)
		} else {
			h.mnt.reads(time.Since(start), err)
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		// No partial answer: the kernel takes a short read for the end of
		// the file and would shrink it.
		return nil, h.mnt.errno("read", h.path, c, err)
	}
	return res, 0
}

// read answers a read with bytes lent out of the block cache when the
// Reader can lend them, else with dest filled. The answer comes with
// io.EOF at the end of the file; on another error there is none.
func (h *fileHandle) read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, error) {
	l, ok := h.r.(lender)
	if !ok {
		n, err := h.r.ReadAt(ctx, dest, off)
		return fuse.ReadResultData(dest[:n]), err
	}
	lent, err := l.Lend(ctx, dest, off)
	switch {
	case lent == nil:
		return nil, err
	case lent.Len() == 0:
		// go-fuse sends an empty answer without calling Done.
		lent.Release()
		return fuse.ReadResultData(nil), err
	}
	return lentResult{lent}, err
}

// lender is a Reader that can lend the bytes it reads out of its cache
// instead of copying them into the request's buffer.
type lender interface {
	Lend(ctx context.Context, p []byte, off int64) (*store.Lent, error)
}

// lentResult answers a read with lent bytes: go-fuse writes them to the
// kernel straight from the cache's blocks, in one writev, and calls Done
// once they are written.
type lentResult struct{ l *store.Lent }

func (r lentResult) Size() int { return r.l.Len() }

// Slices is what go-fuse looks for to write the answer from several
// buffers without joining them first.
func (r lentResult) Slices() ([][]byte, fuse.Status) { return r.l.Parts(), fuse.OK }

// Bytes joins the parts, for a server that cannot write them as they are.
func (r lentResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	buf = buf[:0]
	for _, p := range r.l.Parts() {
		buf = append(buf, p...)
	}
	return buf, fuse.OK
}

func (r lentResult) Done() { r.l.Release() }

var _ = (fusefs.FileReleaser)((*fileHandle)(nil))

func (h *fileHandle) Release(ctx context.Context) syscall.Errno {
	if !h.own {
		h.mnt.open.Add(-1)
	}
	if reads, small := h.reads.Load(), h.small.Load(); h.node != nil && reads >= smallReadsMin && 4*small >= 3*reads {
		if !h.node.smallReads.Swap(true) {
			h.mnt.log.Info("file read in small pieces: it keeps the page cache from its next open on",
				"path", "/"+h.path, "reads", reads, "small", small)
		}
	}
	if err := h.r.Close(); err != nil {
		h.mnt.log.Debug("close failed", "path", "/"+h.path, "err", err)
	}
	return 0
}

// linkNode is a symbolic link.
type linkNode struct {
	fusefs.Inode
	readOnly
	mnt  *mountState
	link Symlink
}

var _ = (fusefs.NodeReadlinker)((*linkNode)(nil))

func (n *linkNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	return []byte(n.link.Target()), 0
}

var _ = (fusefs.NodeGetattrer)((*linkNode)(nil))

func (n *linkNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mnt.attrOut(out, n.link.Attr())
	return 0
}

// readOnly refuses every change; every node embeds it. The mount is
// read-only, so the kernel refuses writes first: this makes sure nothing
// changes even if a request gets through.
type readOnly struct{}

var (
	_ = (fusefs.NodeCreater)((*readOnly)(nil))
	_ = (fusefs.NodeMkdirer)((*readOnly)(nil))
	_ = (fusefs.NodeMknoder)((*readOnly)(nil))
	_ = (fusefs.NodeSymlinker)((*readOnly)(nil))
	_ = (fusefs.NodeLinker)((*readOnly)(nil))
	_ = (fusefs.NodeUnlinker)((*readOnly)(nil))
	_ = (fusefs.NodeRmdirer)((*readOnly)(nil))
	_ = (fusefs.NodeRenamer)((*readOnly)(nil))
	_ = (fusefs.NodeSetattrer)((*readOnly)(nil))
)

func (readOnly) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

func (readOnly) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (readOnly) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (readOnly) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (readOnly) Link(ctx context.Context, target fusefs.InodeEmbedder, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (readOnly) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

func (readOnly) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

func (readOnly) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}

func (readOnly) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}
