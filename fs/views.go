package fs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aind/aindfs/resolve"
	"github.com/aind/aindfs/store"
)

// View is one folder of every session folder, such as raw/ or sorted/. A
// new kind of data (an ophys processed/ folder, say) is a new View, added
// with RegisterView, without touching the rest of the tree.
type View struct {
	Name string
	// Folder says what the view shows for session s; ok is false when the
	// session has no such folder (no sorted asset, say). An error is a
	// failure to find out: the folder is left out of listings, and looking
	// it up fails with that error.
	Folder func(ctx context.Context, r Resolver, s resolve.Session) (f Folder, ok bool, err error)
}

// Folder is what a view shows: the objects of one location, some of them,
// or one sub-folder per asset.
type Folder struct {
	// Location is the folder of objects shown.
	Location store.URI
	// Only, when not nil, restricts the folder to these top-level entries
	// of Location (their infos as listed there).
	Only []store.ObjectInfo
	// Assets, when not nil, makes a folder with one sub-folder per asset,
	// named by the asset's name, each showing the asset's location.
	Assets []resolve.Asset
	// ModTime is the folder's modification time (the asset's creation).
	ModTime time.Time
}

var (
	viewsMu sync.Mutex
	views   []View
)

// RegisterView adds v to the folders of every session folder of trees made
// afterwards. It panics if a view of that name exists: two packages would
// be fighting over one folder.
func RegisterView(v View) {
	viewsMu.Lock()
	defer viewsMu.Unlock()
	if v.Name == "" || v.Name == sessionJSON || checkName("", v.Name) != nil {
		panic(fmt.Sprintf("fs: view name %q is not a usable folder name", v.Name))
	}
	for _, w := range views {
		if w.Name == v.Name {
			panic(fmt.Sprintf("fs: view %q registered twice", v.Name))
		}
	}
	views = append(views, v)
}

// RegisteredViews returns the registered views, in registration order.
func RegisteredViews() []View {
	viewsMu.Lock()
	defer viewsMu.Unlock()
	return append([]View(nil), views...)
}

func init() {
	RegisterView(View{Name: "raw", Folder: rawFolder})
	RegisterView(View{Name: "metadata", Folder: metadataFolder})
	RegisterView(View{Name: "sorted", Folder: sortedFolder})
	RegisterView(View{Name: "assets", Folder: assetsFolder})
}

// rawFolder is the raw asset's files, or, without a raw asset, the raw
// folder found in a known bucket.
func rawFolder(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
	dir, err := r.RawDataDir(ctx, s)
	if err != nil {
		if isNotFound(err) {
			return Folder{}, false, nil
		}
		return Folder{}, false, err
	}
	f := Folder{Location: dir, ModTime: s.DT()}
	if a, err := r.RawAsset(ctx, s); err == nil && !a.Created.IsZero() {
		f.ModTime = a.Created
	}
	return f, true, nil
}

// metadataFolder is the top-level *.json files of the raw folder.
func metadataFolder(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
	files, dir, err := r.MetadataFiles(ctx, s)
	if err != nil {
		if isNotFound(err) {
			return Folder{}, false, nil
		}
		return Folder{}, false, err
	}
	if files == nil {
		files = []store.ObjectInfo{}
	}
	f := Folder{Location: dir, Only: files, ModTime: s.DT()}
	if a, err := r.RawAsset(ctx, s); err == nil && !a.Created.IsZero() {
		f.ModTime = a.Created
	}
	return f, true, nil
}

// sortedFolder is the newest sorted asset that did not fail; absent when
// there is none.
func sortedFolder(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
	a, ok, err := r.SortedAsset(ctx, s)
	if err != nil {
		if isNotFound(err) {
			return Folder{}, false, nil
		}
		return Folder{}, false, err
	}
	if !ok {
		return Folder{}, false, nil
	}
	loc, err := r.Location(ctx, a)
	if err != nil {
		return Folder{}, false, fmt.Errorf("sorted asset %s: %w", a.Name, err)
	}
	return Folder{Location: loc, ModTime: a.Created}, true, nil
}

// assetsFolder is every asset of the session, by name.
func assetsFolder(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
	assets, err := r.Assets(ctx, s)
	if err != nil {
		if isNotFound(err) {
			return Folder{Assets: []resolve.Asset{}, ModTime: s.DT()}, true, nil
		}
		return Folder{}, false, err
	}
	f := Folder{Assets: assets, ModTime: s.DT()}
	if f.Assets == nil {
		f.Assets = []resolve.Asset{}
	}
	for _, a := range assets {
		if a.Created.After(f.ModTime) {
			f.ModTime = a.Created
		}
	}
	return f, true, nil
}
