package store

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"time"
)

// URI names a folder or an object: "s3://bucket/key/prefix" or "file:///abs/dir".
// Folder URIs may or may not end in "/"; both mean the same folder.
type URI struct {
	Scheme string // "s3" or "file"
	Bucket string // S3 bucket; empty for file
	Key    string // S3 key or absolute local path, without a trailing "/"
}

// ParseURI parses "s3://bucket/prefix" or "file:///path" (a bare absolute
// path is taken as a file URI).
func ParseURI(s string) (URI, error) {
	if strings.HasPrefix(s, "/") {
		return URI{Scheme: "file", Key: path.Clean(s)}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return URI{}, fmt.Errorf("location %q: %w", s, err)
	}
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return URI{}, fmt.Errorf("location %q: no bucket", s)
		}
		return URI{Scheme: "s3", Bucket: u.Host, Key: strings.Trim(u.Path, "/")}, nil
	case "file":
		if !strings.HasPrefix(u.Path, "/") {
			return URI{}, fmt.Errorf("location %q: file path must be absolute", s)
		}
		return URI{Scheme: "file", Key: path.Clean(u.Path)}, nil
	}
	return URI{}, fmt.Errorf("location %q: scheme must be s3:// or file://", s)
}

// S3 returns the URI of key in bucket.
func S3(bucket, key string) URI {
	return URI{Scheme: "s3", Bucket: bucket, Key: strings.Trim(key, "/")}
}

// Local returns the URI of an absolute local path.
func Local(dir string) URI { return URI{Scheme: "file", Key: path.Clean(dir)} }

// String formats the URI as s3://bucket/key or file:///path.
func (u URI) String() string {
	switch u.Scheme {
	case "s3":
		if u.Key == "" {
			return "s3://" + u.Bucket
		}
		return "s3://" + u.Bucket + "/" + u.Key
	case "file":
		return "file://" + u.Key
	}
	return ""
}

// IsZero reports whether u is the zero URI.
func (u URI) IsZero() bool { return u.Scheme == "" }

// Join returns the URI of a path below u ("a/b" joins two levels).
func (u URI) Join(rel string) URI {
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return u
	}
	if u.Key == "" {
		u.Key = rel
	} else {
		u.Key = u.Key + "/" + rel
	}
	// A ".." is kept as written rather than cleaned away, so that the
	// backend refuses the location instead of reading outside the folder.
	if u.Scheme == "file" && !hasDotDot(rel) {
		u.Key = path.Clean(u.Key)
	}
	return u
}

func hasDotDot(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

// Base returns the last element of the URI's path.
func (u URI) Base() string { return path.Base(u.Key) }

// ObjectInfo describes one entry of a folder: an object, or a sub-folder
// (an S3 common prefix or a local directory).
type ObjectInfo struct {
	Name    string    // base name, no "/"
	Dir     bool      // a sub-folder
	Size    int64     // bytes; 0 for folders
	ModTime time.Time // last modified; zero for S3 common prefixes
	ETag    string    // version tag of the bytes; for local files size+mtime
	// Link is set for a local symbolic link that is not followed because
	// its target leaves the local folder: the absolute path it points to.
	Link string
	// Access is who may read a local file or folder; nil for S3 objects,
	// which anyone who reaches them may read.
	Access *Access
}

// Access is the owner and permission bits of a local file or folder, less
// the write bits (everything is read-only).
type Access struct {
	Perm     fs.FileMode
	UID, GID uint32
}

// Backend is one kind of object storage. Implementations are safe for
// concurrent use.
type Backend interface {
	// List returns the immediate children of folder dir, sorted by name.
	// A folder that does not exist (no object under it) gives ErrNotExist.
	List(ctx context.Context, dir URI) ([]ObjectInfo, error)
	// Exists reports whether folder dir holds anything, with one cheap request.
	Exists(ctx context.Context, dir URI) (bool, error)
	// Stat describes the object obj; ErrNotExist when absent.
	Stat(ctx context.Context, obj URI) (ObjectInfo, error)
	// ReadRange returns length bytes of obj from off. When etag is not empty
	// and the object's ETag differs, it fails with ErrChanged.
	ReadRange(ctx context.Context, obj URI, etag string, off, length int64) (io.ReadCloser, error)
}

// PageLister can hand over a folder's listing page by page, as its
// answers arrive, so that a caller can show the first entries while the
// rest are being fetched. S3Backend and Store are ones.
type PageLister interface {
	// ListPages calls page with each page of the immediate children of
	// folder dir. Pages come in the order S3 lists keys: all of a page's
	// entries come after the previous page's, a folder's key being its
	// name followed by "/" (so a folder "a" sorts after an object "a.b").
	// Each name comes once: where an object and a folder share a name (S3
	// allows both), only the folder is listed. A page is never empty. A
	// folder that does not exist gives ErrNotExist; an error from page ends
	// the listing and is returned as it is.
	ListPages(ctx context.Context, dir URI, page func([]ObjectInfo) error) error
}

// ByName orders the entries of a listing by name, and a folder before an
// object of the same name (S3 allows both), for slices.SortFunc.
func ByName(a, b ObjectInfo) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	switch {
	case a.Dir && !b.Dir:
		return -1
	case b.Dir && !a.Dir:
		return 1
	}
	return 0
}
