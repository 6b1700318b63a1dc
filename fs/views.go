package fs

import (
	"context"
	"fmt"
	"time"

	"github.com/aind/aindfs/resolve"
	"github.com/aind/aindfs/store"
)

// View is one folder of every session folder, such as raw/ or sorted/. A
// new kind of data (an ophys processed/ folder, say) is a new View in
// Config.Views, without touching the rest of the tree.
type View struct {
	Name string
	// Folder says what the view shows for session s; ok is false when the
	// session has no such folder (no sorted asset, say), and so is an
	// error that wraps io/fs.ErrNotExist. Another error is a failure to
	// find out: the folder is left out of listings, and looking it up
	// fails with that error.
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
	// Made are files the tree makes, shown among the objects (such as
	// metadata/docdb.json); one hides an object of its name.
	Made []MadeFile
	// Links, when not nil, makes a folder of symbolic links (sorters/).
	Links []Link
	// Target, when set, makes the view a symbolic link instead of a
	// folder, to this path relative to the session folder (clipped), or to
	// the absolute target of an asset folder that links out of the data
	// folder (Asset.Link).
	Target string
}

// Link is a symbolic link the tree makes; Target is relative to the folder
// holding it, so the tree works under any mount point.
type Link struct {
	Name, Target string
	ModTime      time.Time
}

// MadeFile is a file whose bytes the tree makes.
type MadeFile struct {
	Name    string
	Data    []byte
	ModTime time.Time
}

// defaultViews are the folders of every session folder, unless
// Config.Views says otherwise.
var defaultViews = []View{
	{Name: "raw", Folder: rawFolder},
	{Name: "metadata", Folder: metadataFolder},
	{Name: "sorted", Folder: sortedFolder},
	{Name: "assets", Folder: assetsFolder},
	{Name: "sorters", Folder: sortersFolder},
	{Name: "clipped", Folder: ecephysLink("clipped")},
	{Name: "compressed", Folder: ecephysLink("compressed")},
}

// checkViews panics unless every view has a name a folder can have, other
// than session.json, and no two share one: two views fighting over one
// folder is a mistake in the program, not in its input.
func checkViews(views []View) {
	seen := map[string]bool{}
	for _, v := range views {
		if v.Name == sessionJSON || checkName("", v.Name) != nil {
			panic(fmt.Sprintf("fs: view name %q is not a usable folder name", v.Name))
		}
		if seen[v.Name] {
			panic(fmt.Sprintf("fs: two views named %q", v.Name))
		}
		seen[v.Name] = true
	}
}

// rawFolder is the raw asset's files, or, without a raw asset, the raw
// folder found in a known bucket.
func rawFolder(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
	if a, err := r.RawAsset(ctx, s); err == nil && a.Link != "" {
		return Folder{Target: a.Link, ModTime: a.Created}, true, nil
	}
	dir, err := r.RawDataDir(ctx, s)
	if err != nil {
		return Folder{}, false, err
	}
	return Folder{Location: dir, ModTime: rawTime(ctx, r, s)}, true, nil
}

// metadataFolder is the top-level *.json files of the raw folder, and the
// session's DocDB record as docdb.json when it has one.
func metadataFolder(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
	files, dir, err := r.MetadataFiles(ctx, s)
	if err != nil && !isNotFound(err) {
		return Folder{}, false, err
	}
	record, hasRecord := recordFile(ctx, r, s)
	if err != nil && !hasRecord {
		return Folder{}, false, nil
	}
	if files == nil {
		files = []store.ObjectInfo{}
	}
	f := Folder{Location: dir, Only: files, ModTime: rawTime(ctx, r, s)}
	if hasRecord {
		f.Made = append(f.Made, record)
	}
	return f, true, nil
}

// rawTime is when the raw asset of s was made; the session's time when
// that is not known.
func rawTime(ctx context.Context, r Resolver, s resolve.Session) time.Time {
	if a, err := r.RawAsset(ctx, s); err == nil && !a.Created.IsZero() {
		return a.Created
	}
	return s.DT()
}

// sortedFolder is the newest sorted asset that did not fail; absent when
// there is none.
func sortedFolder(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
	a, ok, err := r.SortedAsset(ctx, s)
	if err != nil || !ok {
		return Folder{}, false, err
	}
	if a.Link != "" {
		return Folder{Target: a.Link, ModTime: a.Created}, true, nil
	}
	loc, err := r.Location(ctx, a)
	if err != nil {
		return Folder{}, false, fmt.Errorf("sorted asset %s: %w", a.Name, err)
	}
	return Folder{Location: loc, ModTime: a.Created}, true, nil
}

// assetsFolder is every asset of the session, by name; empty when there
// is none.
func assetsFolder(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
	assets, err := r.Assets(ctx, s)
	if err != nil && !isNotFound(err) {
		return Folder{}, false, err
	}
	f := Folder{Assets: append([]resolve.Asset{}, assets...), ModTime: s.DT()}
	for _, a := range assets {
		if a.Created.After(f.ModTime) {
			f.ModTime = a.Created
		}
	}
	return f, true, nil
}

// sortersFolder links each sorter's newest sorting that did not fail to its
// folder in assets/; absent when no sorting names its sorter.
func sortersFolder(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
	sorters, err := r.Sorters(ctx, s)
	if err != nil {
		return Folder{}, false, err
	}
	f := Folder{Links: []Link{}, ModTime: s.DT()}
	for _, v := range sorters {
		if checkName("", v.Sorter) != nil || checkName("", v.Name) != nil {
			continue // a name no folder can have; session.json still lists it
		}
		f.Links = append(f.Links, Link{Name: v.Sorter, Target: "../assets/" + v.Name, ModTime: v.Created})
		if v.Created.After(f.ModTime) {
			f.ModTime = v.Created
		}
	}
	return f, len(f.Links) > 0, nil
}

// ecephysLink is a link to the raw folder's ecephys data of one kind
// (clipped, compressed) wherever the upload put it; absent when it has none.
func ecephysLink(kind string) func(context.Context, Resolver, resolve.Session) (Folder, bool, error) {
	return func(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
		folders, err := r.EcephysFolders(ctx, s)
		if err != nil {
			return Folder{}, false, err
		}
		for _, f := range folders {
			if f.Name == kind {
				return Folder{Target: "raw/" + f.Path, ModTime: s.DT()}, true, nil
			}
		}
		return Folder{}, false, nil
	}
}
