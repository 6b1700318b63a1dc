package fs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aind/aindfs/resolve"
)

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
		if err := checkName("", a.Name); err != nil {
			t.hidden.Warn("asset "+a.ID, "asset not shown in a session's assets/: its name cannot be a folder's; its files are under assets/ by ID",
				"folder", "/"+path, "name", a.Name, "why", err, "path", "/"+join(assetsName, a.ID))
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
		nodes[i] = d.t.assetNode(join(d.path, a.Name), a)
	}
	return nodes, nil
}

func (d *assetsDir) Lookup(ctx context.Context, name string) (Node, error) {
	i, ok := slices.BinarySearchFunc(d.assets, name, func(a resolve.Asset, name string) int {
		return strings.Compare(a.Name, name)
	})
	if !ok {
		return nil, notExist(d.path, name, nil)
	}
	return d.t.assetNode(join(d.path, name), d.assets[i]), nil
}

// assetNode is the folder of asset a shown at path; a link, to be followed
// by the kernel in the reader's rights, when the asset's local folder is a
// link out of the data folder.
func (t *Tree) assetNode(path string, a resolve.Asset) Node {
	if a.Link != "" {
		return &link{path: path, target: a.Link, modTime: a.Created, valid: ValidImmutable}
	}
	return &assetDir{t: t, path: path, asset: a}
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
		return nil, pathError(d.path, err, "locating asset %s", d.asset.Name)
	}
	d.dir = d.t.topFolder(d.path, loc, d.asset.Created, ValidImmutable)
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
	return d.t.assetNode(join(assetsName, name), a), nil
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
