package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LocalBackend is a Backend over the local filesystem (file:// locations),
// such as a capsule's /data folder of attached assets.
type LocalBackend struct{}

// NewLocal returns the local-filesystem backend.
func NewLocal() *LocalBackend { return &LocalBackend{} }

// localPath checks that u names an absolute path with no "." or ".."
// element and no NUL byte, so that a name from a listing can never climb
// out of the folder it was found in.
func localPath(u URI) (string, error) {
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
	return u.Key, nil
}

// localETag names a version of a local file by its size and modification time.
func localETag(fi fs.FileInfo) string {
	return fmt.Sprintf("%x-%x", fi.Size(), fi.ModTime().UnixNano())
}

func localInfo(name string, fi fs.FileInfo) ObjectInfo {
	if fi.IsDir() {
		return ObjectInfo{Name: name, Dir: true, ModTime: fi.ModTime()}
	}
	return ObjectInfo{Name: name, Size: fi.Size(), ModTime: fi.ModTime(), ETag: localETag(fi)}
}

func localError(op string, u URI, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", op, u, ErrNotExist)
	}
	return fmt.Errorf("%s %s: %w", op, u, err)
}

// List implements Backend. Symbolic links are followed; broken links and
// special files (sockets, devices) are left out.
func (LocalBackend) List(ctx context.Context, dir URI) ([]ObjectInfo, error) {
	p, err := localPath(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, localError("list", dir, err)
	}
	out := make([]ObjectInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue // removed since ReadDir
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if fi, err = os.Stat(filepath.Join(p, e.Name())); err != nil {
				continue
			}
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, localInfo(e.Name(), fi))
	}
	return out, nil
}

// Exists implements Backend: the folder exists and holds at least one entry.
func (LocalBackend) Exists(ctx context.Context, dir URI) (bool, error) {
	p, err := localPath(dir)
	if err != nil {
		return false, err
	}
	f, err := os.Open(p)
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

// Stat implements Backend.
func (LocalBackend) Stat(ctx context.Context, obj URI) (ObjectInfo, error) {
	p, err := localPath(obj)
	if err != nil {
		return ObjectInfo{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return ObjectInfo{}, localError("stat", obj, err)
	}
	return localInfo(filepath.Base(p), fi), nil
}

// ReadRange implements Backend. The file's size and modification time are
// checked against etag when it is opened.
func (b LocalBackend) ReadRange(ctx context.Context, obj URI, etag string, off, length int64) (io.ReadCloser, error) {
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
func (LocalBackend) openFile(obj URI, etag string) (*localFile, error) {
	p, err := localPath(obj)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
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
