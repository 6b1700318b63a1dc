package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// LocalBackend is a Backend over one local folder and what lies beneath
// it (file:// locations), such as a capsule's /data folder of attached
// assets. It never reads outside that folder: a symbolic link whose target
// leaves it (an absolute link, or one that climbs out with "..") is listed
// as a link (ObjectInfo.Link) and never followed, so that whoever follows
// it does so in their own rights, not aindfs's. Links that stay inside
// are followed.
type LocalBackend struct {
	dir  string   // the folder, absolute and clean
	root *os.Root // opened on dir: every path is resolved beneath it
}

// NewLocal returns the backend of the local folder dir (an absolute path).
func NewLocal(dir string) (*LocalBackend, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("local folder %q: path must be absolute", dir)
	}
	dir = filepath.Clean(dir)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("local folder %s: %w", dir, err)
	}
	return &LocalBackend{dir: dir, root: root}, nil
}

// Close releases the folder.
func (b *LocalBackend) Close() error { return b.root.Close() }

// localPath checks that u names an absolute path in b's folder with no "."
// or ".." element and no NUL byte, so that a name from a listing can never
// climb out of the folder it was found in, and returns it relative to b's
// folder ("." for the folder itself).
func (b *LocalBackend) localPath(u URI) (string, error) {
	if u.Scheme != "file" {
		return "", fmt.Errorf("%q is not a file:// location", u.String())
	}
	if !strings.HasPrefix(u.Key, "/") {
		return "", fmt.Errorf("location %q: path must be absolute", u.Key)
	}
	if strings.IndexByte(u.Key, 0) >= 0 {
		return "", fmt.Errorf("location %q: path holds a NUL byte", u.Key)
	}
	for _, el := range strings.Split(u.Key[1:], "/") {
		if el == ".." || el == "." {
			return "", fmt.Errorf("location %q: refused path with %q", u.Key, el)
		}
	}
	if u.Key == b.dir {
		return ".", nil
	}
	prefix := b.dir + "/"
	if b.dir == "/" {
		prefix = "/"
	}
	if rel, ok := strings.CutPrefix(u.Key, prefix); ok {
		return rel, nil
	}
	return "", fmt.Errorf("location %q: outside the local folder %s", u.Key, b.dir)
}

// localETag names a version of a local file by its size and modification time.
func localETag(fi fs.FileInfo) string { return versionTag(fi.Size(), fi.ModTime()) }

// versionTag is localETag of a file of size bytes modified at mtime.
func versionTag(size int64, mtime time.Time) string {
	var buf [40]byte
	b := strconv.AppendInt(buf[:0], size, 16)
	b = append(b, '-')
	return string(strconv.AppendInt(b, mtime.UnixNano(), 16))
}

// localInfo describes a file or folder: its owner and permission bits
// less write go with it, so that the mount lets nobody read what they could
// not read directly.
func localInfo(name string, fi fs.FileInfo) ObjectInfo {
	info := ObjectInfo{Name: name, ModTime: fi.ModTime(), Access: localAccess(fi)}
	if fi.IsDir() {
		info.Dir = true
	} else {
		info.Size, info.ETag = fi.Size(), localETag(fi)
	}
	return info
}

func localAccess(fi fs.FileInfo) *Access {
	a := &Access{Perm: fi.Mode().Perm() &^ 0o222}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		a.UID, a.GID = st.Uid, st.Gid
	}
	return a
}

func localError(op string, u URI, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", op, u, ErrNotExist)
	}
	return fmt.Errorf("%s %s: %w", op, u, err)
}

// List implements Backend. Links are followed when their target is in the
// folder, and listed as links when it is outside; broken links and special
// files (sockets, devices) are left out.
//
// Each entry costs one fstatat into the same buffer, and entries of one
// owner and mode share one Access: a folder of 200,000 files makes little
// more garbage than its names, and the collector, which scans the whole
// heap each time it runs, runs seldom while the listing is taken in.
func (b *LocalBackend) List(ctx context.Context, dir URI) ([]ObjectInfo, error) {
	rel, err := b.localPath(dir)
	if err != nil {
		return nil, err
	}
	f, err := b.root.Open(rel)
	if err != nil {
		return nil, localError("list", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, localError("list", dir, err)
	}
	slices.Sort(names) // each name once: sorted names are sorted entries
	conn, err := f.SyscallConn()
	if err != nil {
		return nil, localError("list", dir, err)
	}
	out := make([]ObjectInfo, 0, len(names))
	owners := map[Access]*Access{}
	var links []string
	err = conn.Control(func(fd uintptr) {
		var st unix.Stat_t
		for _, name := range names {
			if unix.Fstatat(int(fd), name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				continue // removed since it was listed
			}
			info := ObjectInfo{Name: name, ModTime: time.Unix(st.Mtim.Unix())}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				info.Dir = true
			case unix.S_IFREG:
				info.Size = st.Size
				info.ETag = versionTag(st.Size, info.ModTime)
			case unix.S_IFLNK:
				links = append(links, name)
				continue
			default:
				continue
			}
			key := Access{Perm: fs.FileMode(st.Mode).Perm() &^ 0o222, UID: st.Uid, GID: st.Gid}
			if info.Access = owners[key]; info.Access == nil {
				shared := key
				info.Access, owners[key] = &shared, &shared
			}
			out = append(out, info)
		}
	})
	if err != nil {
		return nil, localError("list", dir, err)
	}
	for _, name := range links {
		lrel := path.Join(rel, name)
		fi, err := b.root.Lstat(lrel)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue // changed since it was listed
		}
		if info, ok := b.follow(dir, lrel, fi); ok {
			out = append(out, info)
		}
	}
	if len(links) > 0 {
		slices.SortFunc(out, ByName)
	}
	return out, nil
}

// follow describes the link at rel (in folder dir): what it points to when
// that is in the folder, else the link itself. ok is false for a broken
// link or one to a special file.
func (b *LocalBackend) follow(dir URI, rel string, link fs.FileInfo) (info ObjectInfo, ok bool) {
	fi, err := b.root.Stat(rel)
	if err == nil {
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return ObjectInfo{}, false
		}
		return localInfo(link.Name(), fi), true
	}
	if errors.Is(err, fs.ErrNotExist) {
		return ObjectInfo{}, false
	}
	target, err := b.root.Readlink(rel)
	if err != nil {
		return ObjectInfo{}, false
	}
	if !filepath.IsAbs(target) {
		// A relative target means nothing at the link's place in the mount:
		// name what it points to from the root instead.
		target = filepath.Join(dir.Key, target)
	}
	return ObjectInfo{Name: link.Name(), Size: int64(len(target)), ModTime: link.ModTime(), Link: target}, true
}

// Exists implements Backend: the folder exists and holds at least one entry.
func (b *LocalBackend) Exists(ctx context.Context, dir URI) (bool, error) {
	rel, err := b.localPath(dir)
	if err != nil {
		return false, err
	}
	f, err := b.root.Open(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, localError("probe", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, localError("probe", dir, err)
	}
	return len(names) > 0, nil
}

// Stat implements Backend. A link that leaves the folder is described as
// a link.
func (b *LocalBackend) Stat(ctx context.Context, obj URI) (ObjectInfo, error) {
	rel, err := b.localPath(obj)
	if err != nil {
		return ObjectInfo{}, err
	}
	fi, err := b.root.Lstat(rel)
	if err != nil {
		return ObjectInfo{}, localError("stat", obj, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		dir := URI{Scheme: "file", Key: path.Dir(obj.Key)}
		if info, ok := b.follow(dir, rel, fi); ok {
			return info, nil
		}
		return ObjectInfo{}, fmt.Errorf("stat %s: %w (a broken link)", obj, ErrNotExist)
	}
	return localInfo(path.Base(obj.Key), fi), nil
}

// ReadRange implements Backend. The file's size and modification time are
// checked against etag when it is opened.
func (b *LocalBackend) ReadRange(ctx context.Context, obj URI, etag string, off, length int64) (io.ReadCloser, error) {
	if off < 0 || length < 0 {
		return nil, fmt.Errorf("read %s: invalid range %d+%d", obj, off, length)
	}
	lf, err := b.openFile(obj, etag)
	if err != nil {
		return nil, err
	}
	f := lf.f
	if off+length > lf.size {
		f.Close()
		return nil, fmt.Errorf("read %s: range %d+%d beyond its %d bytes", obj, off, length, lf.size)
	}
	return &localBody{f: f, r: io.NewSectionReader(f, off, length), left: length}, nil
}

// localBody reads a range of an open file and reports a file that shrank
// underneath it instead of a silent short read.
type localBody struct {
	f    *os.File
	r    *io.SectionReader
	left int64
}

func (b *localBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		return n, fmt.Errorf("read %s: file ended %d bytes early: %w", b.f.Name(), b.left, io.ErrUnexpectedEOF)
	}
	return n, err
}

func (b *localBody) Close() error { return b.f.Close() }

// localFile is a local file held open by a Reader for all its reads, pinned
// to the version (size and modification time) it was opened at.
type localFile struct {
	f     *os.File
	obj   URI
	size  int64
	mtime time.Time
}

// openFile opens obj once for a Reader, checking that it is the version
// etag names (any version when etag is empty).
func (b *LocalBackend) openFile(obj URI, etag string) (*localFile, error) {
	rel, err := b.localPath(obj)
	if err != nil {
		return nil, err
	}
	// Non-blocking, so that a FIFO put in place of a file cannot hang the open.
	f, err := b.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, localError("read", obj, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, localError("read", obj, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("read %s: is a folder", obj)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("read %s: not a regular file (%s)", obj, fi.Mode().Type())
	}
	if etag != "" && localETag(fi) != etag {
		f.Close()
		return nil, fmt.Errorf("read %s: %w (size and time %s, was %s)", obj, ErrChanged, localETag(fi), etag)
	}
	return &localFile{f: f, obj: obj, size: fi.Size(), mtime: fi.ModTime()}, nil
}

// ReadAt fills p from off. The held file is checked against its version
// first (one fstat, no open), since a file rewritten in place keeps its
// descriptor valid and would otherwise hand out bytes of the new version.
func (l *localFile) ReadAt(p []byte, off int64) (int, error) {
	fi, err := l.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", l.obj, err)
	}
	if fi.Size() != l.size || !fi.ModTime().Equal(l.mtime) {
		return 0, fmt.Errorf("read %s: %w (size and time %s, was %x-%x)", l.obj, ErrChanged,
			localETag(fi), l.size, l.mtime.UnixNano())
	}
	n, err := l.f.ReadAt(p, off)
	if err == io.EOF && n < len(p) {
		return n, fmt.Errorf("read %s: file ended %d bytes early: %w", l.obj, len(p)-n, ErrChanged)
	}
	if err != nil {
		return n, fmt.Errorf("read %s at %d: %w", l.obj, off, err)
	}
	return n, nil
}

func (l *localFile) Close() error { return l.f.Close() }
