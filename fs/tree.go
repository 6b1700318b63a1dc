// Package fs is the tree of sessions that aindfs serves: what lives at which
// path, defined once (Tree) and used both by the FUSE adapter and by the
// command line's ls and cat, so the two can never disagree.
//
//	sessions/<session-id>/{session.json,raw,metadata,sorted,assets/<name>}
//	sessions/<session-id>/metadata/docdb.json  the session's DocDB record
//	sessions/<any other name of a session>  -> <session-id>
//	subjects/<subject-id>/<session-id>      -> ../../sessions/<session-id>
//	assets/<asset-uuid>/                     any asset's files by catalog ID
//
// The tree asks a Resolver which assets a session has and where they live,
// and Objects for folder listings and bytes; it never speaks HTTP itself.
// A folder of objects shows its entries as the pages of its listing
// arrive, and keeps them: asset contents never change.
//
// tree.go holds the Tree and the kinds of node; sessions.go, subjects.go,
// assets.go and objects.go one part of the tree each; views.go the folders
// of a session folder; listing.go the streamed listing of a folder;
// inode.go the inode numbers, stable across runs. fuse.go and mount.go
// serve the tree with go-fuse (errors become errno there only), and
// passthrough.go hands local files to the kernel.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aind/aindfs/docdb"
	"github.com/aind/aindfs/internal/logonce"
	"github.com/aind/aindfs/resolve"
	"github.com/aind/aindfs/store"
)

// Resolver answers which assets a session has and where their files are.
// *resolve.Resolver is one; tests use fakes. Errors that mean "nothing
// behind this name" match io/fs.ErrNotExist, as resolve.ErrNotFound does.
type Resolver interface {
	Assets(ctx context.Context, s resolve.Session) ([]resolve.Asset, error)
	RawAsset(ctx context.Context, s resolve.Session) (resolve.Asset, error)
	RawDataDir(ctx context.Context, s resolve.Session) (store.URI, error)
	Location(ctx context.Context, a resolve.Asset) (store.URI, error)
	SortedAsset(ctx context.Context, s resolve.Session) (resolve.Asset, bool, error)
	MetadataFiles(ctx context.Context, s resolve.Session) ([]store.ObjectInfo, store.URI, error)
	Info(ctx context.Context, s resolve.Session) (resolve.Info, error)
	SubjectSessions(ctx context.Context, subj resolve.Subject) ([]resolve.Session, error)
	AssetByID(ctx context.Context, id string) (resolve.Asset, error)
	KnownSessions(ctx context.Context) []resolve.Session
	// Record is the session's DocDB record; ok is false when it has none.
	Record(ctx context.Context, s resolve.Session) (rec docdb.Record, ok bool, err error)
	// Sorters is, for each sorter, the newest of its sortings that did not fail.
	Sorters(ctx context.Context, s resolve.Session) ([]resolve.SortedAsset, error)
	// EcephysFolders are the raw folder's clipped and compressed data.
	EcephysFolders(ctx context.Context, s resolve.Session) ([]resolve.RawFolder, error)
}

var _ Resolver = (*resolve.Resolver)(nil)

// Objects lists folders and opens objects for reading.
type Objects interface {
	// List returns the immediate children of folder dir, sorted by name.
	List(ctx context.Context, dir store.URI) ([]store.ObjectInfo, error)
	// Open returns a reader of obj, pinned to the version info describes.
	Open(obj store.URI, info store.ObjectInfo) Reader
}

// StoreObjects is Objects over a store: the way the command line reads.
func StoreObjects(s *store.Store) Objects { return storeObjects{s} }

type storeObjects struct{ s *store.Store }

func (o storeObjects) List(ctx context.Context, dir store.URI) ([]store.ObjectInfo, error) {
	return o.s.List(ctx, dir)
}

// Objects that are also a store.PageLister show a folder's first entries
// while the rest are being fetched; others are listed whole.
var _ store.PageLister = storeObjects{}

func (o storeObjects) ListPages(ctx context.Context, dir store.URI, page func([]store.ObjectInfo) error) error {
	return o.s.ListPages(ctx, dir, page)
}

// Stat describes one object or folder; a local asset's folder shows its
// own owner and permissions with it.
func (o storeObjects) Stat(ctx context.Context, obj store.URI) (store.ObjectInfo, error) {
	return o.s.Stat(ctx, obj)
}

func (o storeObjects) Open(obj store.URI, info store.ObjectInfo) Reader { return o.s.Open(obj, info) }

// Reader reads one object. ReadAt follows io.ReaderAt: n < len(p) only
// with an error, io.EOF at the end of the object.
type Reader interface {
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
	Close() error
}

// How long the kernel may remember an entry and its attributes. Asset
// contents never change, so their entries live long; what a session holds
// changes when a new asset is made, so session-level entries follow the
// resolver's answer cache (10 minutes) at a fraction of it; the lists of
// sessions and subjects grow as names are resolved.
const (
	ValidImmutable = time.Hour
	ValidSession   = time.Minute
	ValidListing   = 5 * time.Second
)

// Kind is what a node is.
type Kind int

// Kinds of node.
const (
	KindDir Kind = iota
	KindFile
	KindSymlink
)

// Attr describes a node as stat(2) shows it.
type Attr struct {
	Kind Kind
	Mode iofs.FileMode // type bits and permissions: 0555 folders, 0444 files, 0777 links
	// Owner is a local file's or folder's own owner, whose permission
	// bits (less write) Mode then holds; nil: the mounting user's.
	Owner   *store.Access
	Size    int64
	ModTime time.Time
	// Ino identifies the node: the same path and contents give the same
	// number in every run; a path whose contents change (a newer sorted
	// asset) gets a new one, so no stale cached page is ever served.
	Ino uint64
	// Valid is how long the kernel may cache the entry and these attributes.
	Valid time.Duration
}

// Node is one entry of the tree: a Dir, a File or a Symlink.
type Node interface {
	// Name is the entry's name in its folder ("" for the root).
	Name() string
	// Path is the slash-separated path from the root ("" for the root).
	Path() string
	Attr() Attr
}

// Dir is a folder.
type Dir interface {
	Node
	// Lookup returns the entry name of this folder. The name is one an
	// entry can have: callers from outside go through lookup.
	Lookup(ctx context.Context, name string) (Node, error)
	// ReadDir returns the entries of this folder, sorted by name.
	ReadDir(ctx context.Context) ([]Node, error)
}

// File is a regular file.
type File interface {
	Node
	Open(ctx context.Context) (Reader, error)
}

// Symlink is a symbolic link; its target is relative to its folder.
type Symlink interface {
	Node
	Target() string
}

// Config is what a Tree is built from.
type Config struct {
	Resolver Resolver
	Objects  Objects
	Logger   *slog.Logger // nil: discard
	// Views are the folders of each session folder; nil: raw, metadata,
	// sorted and assets. New panics if a name is unusable or two share one.
	Views []View
	// Now is the clock for the modification time of the top folders; nil: time.Now.
	Now func() time.Time
	// Stats, when set, is the contents of .aindfs/stats.json, a folder
	// that root listings do not show; nil: there is no such folder.
	Stats func() []byte
	// FolderAhead is how many bytes of a folder's next S3 files are
	// fetched while a program opens its files in order; 0:
	// DefaultFolderAhead (FolderAheadFor sizes it for a cache); negative:
	// none. Four folders' worth at most are fetched at once.
	FolderAhead int64
	// ListingEntries bounds the entries of the folder listings kept, least
	// recently used forgotten first; 0: DefaultListingEntries.
	ListingEntries int
}

// Tree is the tree of sessions. It is safe for concurrent use; folders
// keep their listings (asset contents are immutable) within
// Config.ListingEntries, and the top folder of an asset looked up again is
// the one whose listing is kept.
type Tree struct {
	r       Resolver
	objects Objects
	log     *slog.Logger
	hidden  *logonce.Logger // what listings leave out, and why
	views   []View
	started time.Time
	root    *rootDir
	stats   func() []byte
	ahead   *aheadBudget
	// listings keeps folders' listings within Config.ListingEntries.
	listings *listingBudget
}

// New returns the tree over cfg's resolver and objects.
func New(cfg Config) *Tree {
	t := &Tree{r: cfg.Resolver, objects: cfg.Objects, log: cfg.Logger, views: cfg.Views, stats: cfg.Stats,
		ahead: newAheadBudget(cfg.FolderAhead)}
	if cfg.ListingEntries <= 0 {
		cfg.ListingEntries = DefaultListingEntries
	}
	t.listings = newListingBudget(cfg.ListingEntries)
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.views == nil {
		t.views = defaultViews
	}
	checkViews(t.views)
	t.hidden = logonce.New(t.log)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	t.started = now().Truncate(time.Second)
	t.root = &rootDir{t: t}
	return t
}

// Root returns the root folder.
func (t *Tree) Root() Dir { return t.root }

// Names of the fixed entries of the tree.
const (
	sessionsName = "sessions"
	subjectsName = "subjects"
	assetsName   = "assets"
	sessionJSON  = "session.json"
)

func sortNodes(nodes []Node) []Node {
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.Name(), b.Name()) })
	return nodes
}

// rootDir is the top of the tree: sessions/, subjects/ and assets/.
type rootDir struct{ t *Tree }

func (d *rootDir) Name() string { return "" }
func (d *rootDir) Path() string { return "" }
func (d *rootDir) Attr() Attr {
	a := dirAttr("", d.t.started, ValidImmutable)
	a.Ino = 1
	return a
}

func (d *rootDir) Lookup(ctx context.Context, name string) (Node, error) {
	switch name {
	case sessionsName:
		return &sessionsDir{t: d.t}, nil
	case subjectsName:
		return &subjectsDir{t: d.t}, nil
	case assetsName:
		return &assetsByID{t: d.t}, nil
	case statusName:
		if d.t.stats != nil {
			return &statusDir{t: d.t}, nil
		}
	}
	return nil, notExist("", name, nil)
}

func (d *rootDir) ReadDir(ctx context.Context) ([]Node, error) {
	return []Node{&assetsByID{t: d.t}, &sessionsDir{t: d.t}, &subjectsDir{t: d.t}}, nil
}

// Walk returns the node at path p (slash separated, relative to the root;
// "" or "/" is the root). Symbolic links on the way are followed; the last
// element is followed only when follow is true.
func (t *Tree) Walk(ctx context.Context, p string, follow bool) (Node, error) {
	const maxLinks = 40 // as Linux's MAXSYMLINKS
	todo := splitPath(p)
	var stack []Dir // folders from the root down to the current one
	cur := Dir(t.root)
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case ".":
			continue
		case "..":
			if len(stack) > 0 {
				cur = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
			continue
		}
		n, err := lookup(ctx, cur, name)
		if err != nil {
			return nil, err
		}
		last := len(todo) == 0
		if l, ok := n.(Symlink); ok && (!last || follow) {
			if links++; links > maxLinks {
				return nil, &PathError{Path: n.Path(), Err: ErrLoop}
			}
			target := l.Target()
			if strings.HasPrefix(target, "/") {
				// Absolute targets point outside the tree; the tree makes none.
				return nil, &PathError{Path: n.Path(), Err: fmt.Errorf("%w: link to %s leaves the tree", ErrNotExist, target)}
			}
			todo = append(splitPath(target), todo...)
			continue
		}
		if last {
			return n, nil
		}
		d, ok := n.(Dir)
		if !ok {
			return nil, &PathError{Path: n.Path(), Err: ErrNotDir}
		}
		stack = append(stack, cur)
		cur = d
	}
	return cur, nil
}

func splitPath(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// Modes of the three kinds of node: everything is read-only.
const (
	dirMode  = iofs.ModeDir | 0o555
	fileMode = iofs.FileMode(0o444)
	linkMode = iofs.ModeSymlink | 0o777
)

// link is a symbolic link node.
type link struct {
	path, target string
	modTime      time.Time
	valid        time.Duration
}

func (l *link) Name() string   { return base(l.path) }
func (l *link) Path() string   { return l.path }
func (l *link) Target() string { return l.target }
func (l *link) Attr() Attr {
	return Attr{Kind: KindSymlink, Mode: linkMode, Size: int64(len(l.target)), ModTime: l.modTime,
		Ino: inode(l.path, "->", l.target), Valid: l.valid}
}

func base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// ReadAll reads a whole file of the tree (for `aindfs cat` and tests).
func ReadAll(ctx context.Context, f File, w io.Writer) (int64, error) {
	r, err := f.Open(ctx)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	var off int64
	for {
		n, err := r.ReadAt(ctx, buf, off)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return off, werr
			}
			off += int64(n)
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return off, nil
		}
		if err != nil {
			return off, &PathError{Path: f.Path(), Err: err}
		}
	}
}
