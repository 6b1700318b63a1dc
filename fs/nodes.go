package fs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aind/aindfs/resolve"
	"github.com/aind/aindfs/store"
)

// Names of the fixed entries of the tree.
const (
	sessionsName = "sessions"
	subjectsName = "subjects"
	assetsName   = "assets"
	sessionJSON  = "session.json"
)

func dirAttr(path string, modTime time.Time, valid time.Duration, identity ...string) Attr {
	return Attr{Kind: KindDir, Mode: dirMode, ModTime: modTime, Ino: inode(path, identity...), Valid: valid}
}

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
	if err := checkName("", name); err != nil {
		return nil, err
	}
	switch name {
	case sessionsName:
		return &sessionsDir{t: d.t}, nil
	case subjectsName:
		return &subjectsDir{t: d.t}, nil
	case assetsName:
		return &assetsByID{t: d.t}, nil
	}
	return nil, notExist("", name, nil)
}

func (d *rootDir) ReadDir(ctx context.Context) ([]Node, error) {
	return []Node{&assetsByID{t: d.t}, &sessionsDir{t: d.t}, &subjectsDir{t: d.t}}, nil
}

// sessionsDir is sessions/: any valid session name can be looked up; the
// listing shows the sessions known so far.
type sessionsDir struct{ t *Tree }

func (d *sessionsDir) Name() string { return sessionsName }
func (d *sessionsDir) Path() string { return sessionsName }
func (d *sessionsDir) Attr() Attr   { return dirAttr(sessionsName, d.t.started, ValidListing) }

func (d *sessionsDir) ReadDir(ctx context.Context) ([]Node, error) {
	var nodes []Node
	for _, s := range d.t.r.KnownSessions(ctx) {
		nodes = append(nodes, &sessionDir{t: d.t, s: s})
	}
	return slices.CompactFunc(sortNodes(nodes), func(a, b Node) bool { return a.Name() == b.Name() }), nil
}

func (d *sessionsDir) Lookup(ctx context.Context, name string) (Node, error) {
	if err := checkName(sessionsName, name); err != nil {
		return nil, err
	}
	s, err := resolve.ParseSession(name)
	if err != nil {
		// Not a session name: refused here, before any request is made.
		d.t.log.Debug("not a session name", "name", name, "err", err)
		return nil, notExist(sessionsName, name, err)
	}
	if err := d.t.checkSession(ctx, s); err != nil {
		return nil, err
	}
	if name != s.ID() {
		return &link{path: join(sessionsName, name), target: s.ID(), modTime: s.DT(), valid: ValidSession}, nil
	}
	return &sessionDir{t: d.t, s: s}, nil
}

// checkSession succeeds when anything is behind session s: an asset, or a
// raw folder in a bucket. Otherwise the error (and the log) says what was
// looked for.
func (t *Tree) checkSession(ctx context.Context, s resolve.Session) error {
	path := join(sessionsName, s.ID())
	assets, err := t.r.Assets(ctx, s)
	if err == nil && len(assets) > 0 {
		return nil
	}
	if err != nil && !isNotFound(err) {
		t.log.Warn("cannot find the assets of a session", "session", s.ID(), "err", err)
		return &PathError{Path: path, Err: fmt.Errorf("finding the assets of %s: %w", s, err)}
	}
	assetsWhy := "no asset found"
	if err != nil {
		assetsWhy = err.Error()
	}
	_, err = t.r.RawDataDir(ctx, s)
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		t.log.Warn("cannot find the raw data of a session", "session", s.ID(), "err", err)
		return &PathError{Path: path, Err: fmt.Errorf("finding the raw data of %s: %w", s, err)}
	}
	why := fmt.Errorf("nothing found for session %s: %s; raw data: %w", s, assetsWhy, err)
	t.log.Warn("no such session", "session", s.ID(), "why", why)
	return &PathError{Path: path, Err: fmt.Errorf("%w: %w", ErrNotExist, why)}
}

// sessionDir is sessions/<id>/: session.json and the views.
type sessionDir struct {
	t *Tree
	s resolve.Session
}

func (d *sessionDir) Name() string { return d.s.ID() }
func (d *sessionDir) Path() string { return join(sessionsName, d.s.ID()) }
func (d *sessionDir) Attr() Attr   { return dirAttr(d.Path(), d.s.DT(), ValidSession) }

func (d *sessionDir) ReadDir(ctx context.Context) ([]Node, error) {
	var nodes []Node
	if f, err := d.t.sessionFile(ctx, d.s); err == nil {
		nodes = append(nodes, f)
	} else if ctx.Err() != nil {
		return nil, err
	} else {
		d.t.log.Warn("session.json left out of the listing", "session", d.s.ID(), "err", err)
	}
	for _, v := range d.t.views {
		n, err := d.t.viewNode(ctx, d.s, v)
		switch {
		case err == nil:
			nodes = append(nodes, n)
		case ctx.Err() != nil:
			return nil, err
		case !isNotFound(err):
			// One folder that cannot be resolved must not hide the others.
			d.t.log.Warn("folder left out of the listing", "session", d.s.ID(), "folder", v.Name, "err", err)
		}
	}
	return sortNodes(nodes), nil
}

func (d *sessionDir) Lookup(ctx context.Context, name string) (Node, error) {
	if err := checkName(d.Path(), name); err != nil {
		return nil, err
	}
	if name == sessionJSON {
		return d.t.sessionFile(ctx, d.s)
	}
	for _, v := range d.t.views {
		if v.Name == name {
			return d.t.viewNode(ctx, d.s, v)
		}
	}
	return nil, notExist(d.Path(), name, nil)
}

// viewNode is the folder view v shows for session s.
func (t *Tree) viewNode(ctx context.Context, s resolve.Session, v View) (Node, error) {
	path := join(join(sessionsName, s.ID()), v.Name)
	f, ok, err := v.Folder(ctx, t.r, s)
	if err != nil {
		if isNotFound(err) {
			return nil, &PathError{Path: path, Err: err}
		}
		return nil, &PathError{Path: path, Err: fmt.Errorf("resolving %s of %s: %w", v.Name, s, err)}
	}
	if !ok {
		return nil, &PathError{Path: path, Err: fmt.Errorf("%w: session %s has no %s folder", ErrNotExist, s, v.Name)}
	}
	if f.Assets != nil {
		return newAssetsDir(t, path, f.Assets, f.ModTime), nil
	}
	d := &objectDir{t: t, path: path, loc: f.Location, modTime: f.ModTime, valid: ValidSession}
	if f.Only != nil {
		ids := []string{"only", f.Location.String()}
		for _, o := range d.setEntries(f.Only) {
			ids = append(ids, o.Name, o.ETag)
		}
		d.ino = inode(path, ids...)
	} else {
		d.ino = inode(path, f.Location.String())
	}
	return d, nil
}

// sessionFile is session.json of s, generated from the resolver's answer.
func (t *Tree) sessionFile(ctx context.Context, s resolve.Session) (*generatedFile, error) {
	path := join(join(sessionsName, s.ID()), sessionJSON)
	info, err := t.r.Info(ctx, s)
	if err != nil {
		if isNotFound(err) {
			return nil, &PathError{Path: path, Err: err}
		}
		return nil, &PathError{Path: path, Err: fmt.Errorf("describing %s: %w", s, err)}
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, &PathError{Path: path, Err: err}
	}
	data = append(data, '\n')
	// The file changes when a new asset arrives: date it by the newest one.
	mod := s.DT()
	for _, r := range info.DataAssets {
		if c, err := time.Parse(time.RFC3339, r.Created); err == nil && c.After(mod) {
			mod = c
		}
	}
	return &generatedFile{path: path, data: data, modTime: mod, valid: ValidSession,
		ino: inode(path, string(data))}, nil
}

// generatedFile is a file whose bytes the tree makes (session.json).
type generatedFile struct {
	path    string
	data    []byte
	modTime time.Time
	valid   time.Duration
	ino     uint64 // from path and contents, hashed once: getattr is frequent
}

func (f *generatedFile) Name() string { return base(f.path) }
func (f *generatedFile) Path() string { return f.path }
func (f *generatedFile) Attr() Attr {
	return Attr{Kind: KindFile, Mode: fileMode, Size: int64(len(f.data)), ModTime: f.modTime,
		Ino: f.ino, Valid: f.valid}
}

func (f *generatedFile) Open(ctx context.Context) (Reader, error) {
	return bytesReader{bytes.NewReader(f.data)}, nil
}

type bytesReader struct{ r *bytes.Reader }

func (b bytesReader) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	return b.r.ReadAt(p, off)
}
func (b bytesReader) Close() error { return nil }

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

	mu      sync.Mutex
	current *listing // done or under way; nil before the first and after a failed one
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
	return a
}

// setEntries makes list the folder's whole listing, and returns its usable
// entries sorted, one per name; where a folder and an object share a name
// (S3 allows it), the folder wins.
func (d *objectDir) setEntries(list []store.ObjectInfo) []store.ObjectInfo {
	entries := make([]store.ObjectInfo, 0, len(list))
	for _, o := range list {
		if checkName("", o.Name) != nil {
			d.t.log.Debug("entry with an unusable name left out", "folder", d.loc.String(), "name", o.Name)
			continue
		}
		entries = append(entries, o)
	}
	slices.SortStableFunc(entries, store.ByName)
	entries = slices.CompactFunc(entries, func(a, b store.ObjectInfo) bool { return a.Name == b.Name })
	l := d.newListing(context.Background())
	l.add(entries)
	l.finish(nil)
	d.mu.Lock()
	d.current = l
	d.mu.Unlock()
	return entries
}

// listing returns the folder's listing, done or under way; when there is
// none, it starts one, which runs for as long as ctx lasts. However many
// callers come, one listing at a time asks for the folder's pages.
func (d *objectDir) listing(ctx context.Context) *listing {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.current == nil {
		d.current = d.newListing(ctx)
		go d.fetch(d.current)
	}
	return d.current
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
		if isNotFound(err) {
			err = &PathError{Path: d.path, Err: fmt.Errorf("%w: folder %s is gone", ErrNotExist, d.loc)}
		} else {
			err = &PathError{Path: d.path, Err: fmt.Errorf("listing %s: %w", d.loc, err)}
		}
		d.mu.Lock()
		if d.current == l {
			d.current = nil
		}
		d.mu.Unlock()
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
	if err := checkName(d.path, name); err != nil {
		return nil, err
	}
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

// listing is a folder's entries as the pages of its listing arrive.
// Entries are only ever added, in an order every reader sees the same,
// so a reader keeps its place by index.
type listing struct {
	dir *objectDir
	ctx context.Context // of the caller that started it

	mu      sync.Mutex
	changed chan struct{}      // closed when entries are added or the listing ends
	nodes   []Node             // in order of arrival, one per name
	byName  map[string]int     // index in nodes
	held    []store.ObjectInfo // objects not shown yet: a folder of their name may still come
	done    bool
	err     error
	sorted  []Node // nodes by name, made once done and asked for
	// seed is the hash of the folder's path and location, which each
	// entry's inode number continues.
	seed uint64
}

// add takes in one page of the listing. Pages come in key order (see
// store.PageLister), so an object "a" whose folder "a/" would sort after
// this page's last key is held back until the next page has had its
// chance to bring that folder: the folder wins, and no name is shown twice.
func (l *listing) add(page []store.ObjectInfo) {
	last := "" // the page's greatest key: later pages hold only greater ones
	for _, o := range page {
		k := o.Name
		if o.Dir {
			k += "/"
		}
		last = max(last, k)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Folders first, so that an object of the same name in this page is
	// known to lose, wherever it stands in the page.
	for _, o := range page {
		if !o.Dir || !l.usable(o) {
			continue
		}
		if _, ok := l.byName[o.Name]; ok {
			continue // listed again (some servers repeat a prefix on the next page)
		}
		l.held = slices.DeleteFunc(l.held, func(h store.ObjectInfo) bool { return h.Name == o.Name })
		l.show(o)
	}
	for _, o := range page {
		if o.Dir || !l.usable(o) {
			continue
		}
		if _, ok := l.byName[o.Name]; ok {
			continue
		}
		l.held = append(l.held, o)
	}
	kept := l.held[:0]
	for _, o := range l.held {
		if o.Name+"/" > last {
			kept = append(kept, o)
		} else {
			l.show(o)
		}
	}
	l.held = kept
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *listing) usable(o store.ObjectInfo) bool {
	if checkName("", o.Name) != nil {
		l.dir.t.log.Debug("entry with an unusable name left out", "folder", l.dir.loc.String(), "name", o.Name)
		return false
	}
	return true
}

// show adds the entry o, unless an entry of its name is shown already.
func (l *listing) show(o store.ObjectInfo) {
	if _, ok := l.byName[o.Name]; ok {
		return
	}
	l.byName[o.Name] = len(l.nodes)
	l.nodes = append(l.nodes, l.dir.child(o, l.seed))
}

// failed reports whether the listing ended with an error.
func (l *listing) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done && l.err != nil
}

// finish ends the listing: complete when err is nil, failed otherwise.
func (l *listing) finish(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		for _, o := range l.held {
			l.show(o)
		}
	}
	l.held = nil
	l.done, l.err = true, err
	close(l.changed)
}

// waitUntil waits, with l.mu held, until ready reports true or ctx ends.
func (l *listing) waitUntil(ctx context.Context, ready func() bool) error {
	for !ready() {
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			l.mu.Lock()
			return &PathError{Path: l.dir.path, Err: fmt.Errorf("listing %s: %w", l.dir.loc, ctx.Err())}
		}
		l.mu.Lock()
	}
	return nil
}

// again reports whether a caller who got err from l should ask again: l
// was cut short because the caller that started it went away, and this
// one is still waiting.
func (l *listing) again(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && l.ctx.Err() != nil
}

// lookup returns the entry name once it has arrived; nil, without error,
// when the listing is complete without it.
func (l *listing) lookup(ctx context.Context, name string) (Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, found := 0, false
	if err := l.waitUntil(ctx, func() bool {
		i, found = l.byName[name]
		return found || l.done
	}); err != nil {
		return nil, err
	}
	if found {
		return l.nodes[i], nil
	}
	return nil, l.err
}

// all returns every entry, sorted by name, once the listing is complete.
func (l *listing) all(ctx context.Context) ([]Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.waitUntil(ctx, func() bool { return l.done }); err != nil {
		return nil, err
	}
	if l.err != nil {
		return nil, l.err
	}
	if l.sorted == nil {
		l.sorted = sortNodes(slices.Clone(l.nodes))
	}
	return slices.Clone(l.sorted), nil
}

// arrived returns the entries from index from on, in order of arrival,
// waiting until there is at least one; none once the listing is complete,
// and its error if it failed.
func (l *listing) arrived(ctx context.Context, from int) ([]Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.waitUntil(ctx, func() bool { return from < len(l.nodes) || l.done }); err != nil {
		return nil, err
	}
	if from < len(l.nodes) {
		// Capped: the entries past them may still be written.
		return l.nodes[from:len(l.nodes):len(l.nodes)], nil
	}
	return nil, l.err
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
	if o.Dir {
		return &objectDir{t: d.t, path: join(d.path, o.Name), loc: d.loc.Join(o.Name), modTime: mod,
			valid: ValidImmutable, ino: inodeOf(hashByte(h, 'd'))}
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
	return Attr{Kind: KindFile, Mode: fileMode, Size: f.info.Size, ModTime: f.info.ModTime, Ino: f.ino, Valid: ValidImmutable}
}

func (f *objectFile) Open(ctx context.Context) (Reader, error) {
	return f.dir.t.objects.Open(f.dir.loc.Join(f.info.Name), f.info), nil
}

// assetsDir is a session's assets/: one folder per asset, by name.
type assetsDir struct {
	t       *Tree
	path    string
	assets  []resolve.Asset // one per name, sorted by name
	modTime time.Time
}

func newAssetsDir(t *Tree, path string, assets []resolve.Asset, modTime time.Time) *assetsDir {
	byName := map[string]resolve.Asset{}
	for _, a := range assets {
		if checkName("", a.Name) != nil {
			continue
		}
		// Two assets with one name: the newer one is shown.
		if old, ok := byName[a.Name]; !ok || a.Created.After(old.Created) {
			byName[a.Name] = a
		}
	}
	d := &assetsDir{t: t, path: path, modTime: modTime}
	for _, a := range byName {
		d.assets = append(d.assets, a)
	}
	slices.SortFunc(d.assets, func(a, b resolve.Asset) int { return strings.Compare(a.Name, b.Name) })
	return d
}

func (d *assetsDir) Name() string { return base(d.path) }
func (d *assetsDir) Path() string { return d.path }
func (d *assetsDir) Attr() Attr {
	ids := []string{"assets"}
	for _, a := range d.assets {
		ids = append(ids, a.ID, a.Name)
	}
	return dirAttr(d.path, d.modTime, ValidSession, ids...)
}

func (d *assetsDir) ReadDir(ctx context.Context) ([]Node, error) {
	nodes := make([]Node, len(d.assets))
	for i, a := range d.assets {
		nodes[i] = &assetDir{t: d.t, path: join(d.path, a.Name), asset: a}
	}
	return nodes, nil
}

func (d *assetsDir) Lookup(ctx context.Context, name string) (Node, error) {
	if err := checkName(d.path, name); err != nil {
		return nil, err
	}
	i, ok := slices.BinarySearchFunc(d.assets, name, func(a resolve.Asset, name string) int {
		return strings.Compare(a.Name, name)
	})
	if !ok {
		return nil, notExist(d.path, name, nil)
	}
	return &assetDir{t: d.t, path: join(d.path, name), asset: d.assets[i]}, nil
}

// assetDir is the files of one asset; where they live is asked only when
// the folder is first opened.
type assetDir struct {
	t     *Tree
	path  string
	asset resolve.Asset

	mu  sync.Mutex
	dir *objectDir
}

func (d *assetDir) Name() string { return base(d.path) }
func (d *assetDir) Path() string { return d.path }
func (d *assetDir) Attr() Attr {
	a := d.asset
	return dirAttr(d.path, a.Created, ValidImmutable, "asset", a.ID, a.Name, a.Created.String())
}

func (d *assetDir) folder(ctx context.Context) (*objectDir, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dir != nil {
		return d.dir, nil
	}
	loc, err := d.t.r.Location(ctx, d.asset)
	if err != nil {
		if isNotFound(err) {
			return nil, &PathError{Path: d.path, Err: err}
		}
		return nil, &PathError{Path: d.path, Err: fmt.Errorf("locating asset %s: %w", d.asset.Name, err)}
	}
	d.dir = &objectDir{t: d.t, path: d.path, loc: loc, modTime: d.asset.Created, valid: ValidImmutable}
	return d.dir, nil
}

// arriving implements listedDir.
func (d *assetDir) arriving(ctx context.Context) (*listing, error) {
	f, err := d.folder(ctx)
	if err != nil {
		return nil, err
	}
	return f.listing(ctx), nil
}

func (d *assetDir) ReadDir(ctx context.Context) ([]Node, error) {
	f, err := d.folder(ctx)
	if err != nil {
		return nil, err
	}
	return f.ReadDir(ctx)
}

func (d *assetDir) Lookup(ctx context.Context, name string) (Node, error) {
	if err := checkName(d.path, name); err != nil {
		return nil, err
	}
	f, err := d.folder(ctx)
	if err != nil {
		return nil, err
	}
	return f.Lookup(ctx, name)
}

// assetsByID is the top assets/: any asset by its catalog ID. It lists
// nothing: IDs are looked up, not browsed.
type assetsByID struct{ t *Tree }

func (d *assetsByID) Name() string { return assetsName }
func (d *assetsByID) Path() string { return assetsName }
func (d *assetsByID) Attr() Attr   { return dirAttr(assetsName, d.t.started, ValidListing) }

func (d *assetsByID) ReadDir(ctx context.Context) ([]Node, error) { return nil, nil }

func (d *assetsByID) Lookup(ctx context.Context, name string) (Node, error) {
	if err := checkName(assetsName, name); err != nil {
		return nil, err
	}
	if !isUUID(name) {
		return nil, notExist(assetsName, name, fmt.Errorf("%q is not an asset ID (a UUID such as 0a1b2c3d-…)", name))
	}
	a, err := d.t.r.AssetByID(ctx, name)
	if err != nil {
		if isNotFound(err) {
			d.t.log.Warn("no such asset", "id", name, "why", err)
			return nil, notExist(assetsName, name, err)
		}
		return nil, &PathError{Path: join(assetsName, name), Err: fmt.Errorf("finding asset %s: %w", name, err)}
	}
	return &assetDir{t: d.t, path: join(assetsName, name), asset: a}, nil
}

// isUUID reports whether s has the shape of a catalog ID:
// 8-4-4-4-12 hexadecimal digits.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range []byte(s) {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// subjectsDir is subjects/: a folder per subject, by subject ID.
type subjectsDir struct{ t *Tree }

func (d *subjectsDir) Name() string { return subjectsName }
func (d *subjectsDir) Path() string { return subjectsName }
func (d *subjectsDir) Attr() Attr   { return dirAttr(subjectsName, d.t.started, ValidListing) }

func (d *subjectsDir) ReadDir(ctx context.Context) ([]Node, error) {
	var nodes []Node
	seen := map[string]bool{}
	for _, s := range d.t.r.KnownSessions(ctx) {
		subj := s.Subject()
		if !seen[subj.ID()] {
			seen[subj.ID()] = true
			nodes = append(nodes, &subjectDir{t: d.t, subj: subj})
		}
	}
	return sortNodes(nodes), nil
}

func (d *subjectsDir) Lookup(ctx context.Context, name string) (Node, error) {
	if err := checkName(subjectsName, name); err != nil {
		return nil, err
	}
	if len(name) < 6 || len(name) > 7 || strings.Trim(name, "0123456789") != "" {
		return nil, notExist(subjectsName, name, fmt.Errorf("%q is not a subject ID of 6-7 digits", name))
	}
	subj, err := resolve.ParseSubject(name)
	if err != nil {
		return nil, notExist(subjectsName, name, err)
	}
	if subj.ID() != name { // leading zeros: a link to the ID as the catalog writes it
		return &link{path: join(subjectsName, name), target: subj.ID(), modTime: d.t.started, valid: ValidSession}, nil
	}
	sessions, err := d.t.r.SubjectSessions(ctx, subj)
	if err != nil && !isNotFound(err) {
		return nil, &PathError{Path: join(subjectsName, name), Err: fmt.Errorf("finding the sessions of subject %s: %w", subj, err)}
	}
	if len(sessions) == 0 {
		why := err
		if why == nil {
			why = fmt.Errorf("no session of subject %s found", subj)
		}
		d.t.log.Warn("no such subject", "subject", name, "why", why)
		return nil, notExist(subjectsName, name, why)
	}
	return &subjectDir{t: d.t, subj: subj}, nil
}

// subjectDir is subjects/<id>/: a link per session of the subject.
type subjectDir struct {
	t    *Tree
	subj resolve.Subject
}

func (d *subjectDir) Name() string { return d.subj.ID() }
func (d *subjectDir) Path() string { return join(subjectsName, d.subj.ID()) }
func (d *subjectDir) Attr() Attr   { return dirAttr(d.Path(), d.t.started, ValidSession) }

func (d *subjectDir) sessions(ctx context.Context) ([]resolve.Session, error) {
	sessions, err := d.t.r.SubjectSessions(ctx, d.subj)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, &PathError{Path: d.Path(), Err: fmt.Errorf("finding the sessions of subject %s: %w", d.subj, err)}
	}
	return sessions, nil
}

func (d *subjectDir) sessionLink(s resolve.Session) *link {
	return &link{path: join(d.Path(), s.ID()), target: "../../" + sessionsName + "/" + s.ID(), modTime: s.DT(), valid: ValidSession}
}

func (d *subjectDir) ReadDir(ctx context.Context) ([]Node, error) {
	sessions, err := d.sessions(ctx)
	if err != nil {
		return nil, err
	}
	var nodes []Node
	for _, s := range sessions {
		nodes = append(nodes, d.sessionLink(s))
	}
	return slices.CompactFunc(sortNodes(nodes), func(a, b Node) bool { return a.Name() == b.Name() }), nil
}

func (d *subjectDir) Lookup(ctx context.Context, name string) (Node, error) {
	if err := checkName(d.Path(), name); err != nil {
		return nil, err
	}
	s, err := resolve.ParseSession(name)
	if err != nil {
		return nil, notExist(d.Path(), name, err)
	}
	if s.ID() != name || s.Subject() != d.subj {
		return nil, notExist(d.Path(), name, fmt.Errorf("not the ID of a session of subject %s", d.subj))
	}
	sessions, err := d.sessions(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(sessions, func(t resolve.Session) bool { return t.ID() == name }) {
		return nil, notExist(d.Path(), name, fmt.Errorf("no such session of subject %s found", d.subj))
	}
	return d.sessionLink(s), nil
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
