package fs

import (
	"context"
	iofs "io/fs"
	"slices"
	"sync"
	"time"

	"github.com/aind/aindfs/store"
)

// objectDir is a folder of objects at loc (an asset, or a folder in one).
// Its listing is fetched once and kept: asset contents never change. Its
// entries can be read while the listing's pages arrive (listing).
type objectDir struct {
	t       *Tree
	path    string
	loc     store.URI
	modTime time.Time
	valid   time.Duration
	ino     uint64
	// access is a local folder's own owner and permissions, from its
	// parent's listing, or asked once for the top folder of an asset.
	access     *store.Access
	accessOnce sync.Once

	// key is the path and location of a folder at the top of an asset, by
	// which the tree finds it again (topFolder); "" below the top.
	key string

	mu      sync.Mutex
	current *listing     // done or under way; nil before the first and after a failed one
	fixed   bool         // current was given (setEntries), not listed
	ahead   *folderAhead // the order files are opened in; nil until one is
}

func (d *objectDir) Name() string { return base(d.path) }
func (d *objectDir) Path() string { return d.path }
func (d *objectDir) Attr() Attr {
	a := dirAttr(d.path, d.modTime, d.valid)
	if d.ino != 0 {
		a.Ino = d.ino
	} else {
		a.Ino = inode(d.path, d.loc.String())
	}
	if acc := d.localAccess(); acc != nil {
		a.Mode, a.Owner = iofs.ModeDir|acc.Perm, acc
	}
	return a
}

// localAccess is the owner and permissions of a local folder, so that the
// mount lets nobody list what they could not list directly; nil for S3,
// and for objects that cannot say (test fakes).
func (d *objectDir) localAccess() *store.Access {
	d.accessOnce.Do(func() {
		if d.access != nil || d.loc.Scheme != "file" {
			return
		}
		if s, ok := d.t.objects.(interface {
			Stat(context.Context, store.URI) (store.ObjectInfo, error)
		}); ok {
			if info, err := s.Stat(context.Background(), d.loc); err == nil {
				d.access = info.Access
			}
		}
	})
	return d.access
}

// usable reports whether entry o can be shown: whether its name is one a
// path can reach. An entry that cannot is left out, and the log says so.
func (d *objectDir) usable(o store.ObjectInfo) bool {
	if err := checkName("", o.Name); err != nil {
		d.t.hidden.Warn("entry "+d.loc.String()+"\x00"+o.Name, "entry not shown: its name cannot be a file's",
			"folder", "/"+d.path, "location", d.loc.String(), "name", o.Name, "why", err)
		return false
	}
	return true
}

// setEntries makes list the folder's whole listing, and returns its usable
// entries sorted, one per name; where a folder and an object share a name
// (S3 allows it), the folder wins.
func (d *objectDir) setEntries(list []store.ObjectInfo) []store.ObjectInfo {
	entries := make([]store.ObjectInfo, 0, len(list))
	for _, o := range list {
		if d.usable(o) {
			entries = append(entries, o)
		}
	}
	slices.SortStableFunc(entries, store.ByName)
	entries = slices.CompactFunc(entries, func(a, b store.ObjectInfo) bool { return a.Name == b.Name })
	l := d.newListing(context.Background())
	l.add(entries)
	l.finish(nil)
	d.mu.Lock()
	d.current, d.fixed = l, true
	d.mu.Unlock()
	return entries
}

// topFolder returns the folder of objects at loc shown at path, at the top
// of an asset: the one made before while its listing is kept, else a new
// one. The kernel lets go of folders under memory pressure and looks them
// up again; asset contents never change, so the kept listing still holds
// and looking again asks nothing of S3.
func (t *Tree) topFolder(path string, loc store.URI, modTime time.Time, valid time.Duration) *objectDir {
	key := path + "\x00" + loc.String()
	if d := t.listings.folder(key); d != nil {
		return d
	}
	return &objectDir{t: t, path: path, loc: loc, modTime: modTime, valid: valid, key: key, ino: inode(path, loc.String())}
}

// listing returns the folder's listing, done or under way; when there is
// none, it starts one, which runs for as long as ctx lasts. However many
// callers come, one listing at a time asks for the folder's pages.
func (d *objectDir) listing(ctx context.Context) *listing {
	d.mu.Lock()
	l, kept := d.current, d.current != nil && !d.fixed
	if l == nil {
		l = d.newListing(ctx)
		d.current = l
		go d.fetch(l)
	}
	d.mu.Unlock()
	if kept {
		d.t.listings.touch(d)
	}
	return l
}

func (d *objectDir) newListing(ctx context.Context) *listing {
	return &listing{
		dir:     d,
		ctx:     ctx,
		changed: make(chan struct{}),
		byName:  map[string]int{},
		seed:    hashByte(hashString(hashByte(hashString(fnvOffset, d.path), 0), d.loc.String()), 0),
	}
}

// fetch lists the folder into l, page by page when the objects can. A
// failed listing is forgotten, so that a later call tries again.
func (d *objectDir) fetch(l *listing) {
	var err error
	if p, ok := d.t.objects.(store.PageLister); ok {
		err = p.ListPages(l.ctx, d.loc, func(page []store.ObjectInfo) error {
			l.add(page)
			return nil
		})
	} else {
		var list []store.ObjectInfo
		if list, err = d.t.objects.List(l.ctx, d.loc); err == nil {
			l.add(list)
		}
	}
	if err != nil {
		err = pathError(d.path, err, "listing %s", d.loc)
		d.mu.Lock()
		if d.current == l {
			d.current = nil
		}
		d.mu.Unlock()
	}
	// Counted before it is seen to end, so that whoever saw it end finds
	// the budget already holding it.
	if err == nil {
		d.t.listings.keep(d, l.len())
	}
	l.finish(err)
}

// arriving implements listedDir.
func (d *objectDir) arriving(ctx context.Context) (*listing, error) { return d.listing(ctx), nil }

func (d *objectDir) ReadDir(ctx context.Context) ([]Node, error) {
	for {
		l := d.listing(ctx)
		nodes, err := l.all(ctx)
		if l.again(ctx, err) {
			continue
		}
		return nodes, err
	}
}

// Lookup answers from the entries arrived so far, else once the listing
// has ended: never with a request of its own.
func (d *objectDir) Lookup(ctx context.Context, name string) (Node, error) {
	for {
		l := d.listing(ctx)
		n, err := l.lookup(ctx, name)
		if l.again(ctx, err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == nil {
			return nil, notExist(d.path, name, nil)
		}
		return n, nil
	}
}

// child makes the node of entry o. Its inode number continues the hash of
// the folder's path and location with the entry's name and version, so a
// listing of thousands of entries hashes each name once and builds no
// strings.
func (d *objectDir) child(o store.ObjectInfo, seed uint64) Node {
	mod := o.ModTime
	if mod.IsZero() {
		mod = d.modTime // S3 folders (common prefixes) have no time of their own
	}
	h := hashByte(hashString(seed, o.Name), 0)
	if o.Link != "" {
		// A local link whose target leaves the data folder: the kernel
		// follows it, in the rights of whoever reads it.
		return &link{path: join(d.path, o.Name), target: o.Link, modTime: mod, valid: ValidImmutable}
	}
	if o.Dir {
		return &objectDir{t: d.t, path: join(d.path, o.Name), loc: d.loc.Join(o.Name), modTime: mod,
			valid: ValidImmutable, ino: inodeOf(hashByte(h, 'd')), access: o.Access}
	}
	o.ModTime = mod
	return &objectFile{dir: d, info: o, ino: inodeOf(hashInt(hashString(h, o.ETag), o.Size))}
}

// objectFile is one object of a folder. Its path and location are made
// from its folder's when asked (rarely: to open it, or in an error).
type objectFile struct {
	dir  *objectDir
	info store.ObjectInfo
	ino  uint64
}

func (f *objectFile) Name() string { return f.info.Name }
func (f *objectFile) Path() string { return join(f.dir.path, f.info.Name) }
func (f *objectFile) Attr() Attr {
	a := Attr{Kind: KindFile, Mode: fileMode, Size: f.info.Size, ModTime: f.info.ModTime, Ino: f.ino, Valid: ValidImmutable}
	if acc := f.info.Access; acc != nil {
		a.Mode, a.Owner = acc.Perm, acc
	}
	return a
}

// Object is a File whose bytes are one object of storage (S3 or a local
// file), so that programs that read S3 themselves can be told where it is.
type Object interface {
	File
	// Object returns the object's location and the version the tree serves.
	Object() (store.URI, store.ObjectInfo)
}

var _ Object = (*objectFile)(nil)

func (f *objectFile) Object() (store.URI, store.ObjectInfo) {
	return f.dir.loc.Join(f.info.Name), f.info
}

func (f *objectFile) Open(ctx context.Context) (Reader, error) {
	f.dir.opened(f)
	return f.dir.t.objects.Open(f.dir.loc.Join(f.info.Name), f.info), nil
}
