package fs

import (
	fusefs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/aind/aindfs/resolve"
)

// forgetter is a folder that keeps its listing: forget drops it, so that
// the next listing asks again.
type forgetter interface{ forget() }

var _ forgetter = (*objectDir)(nil)

// forget drops the folder's listing, so that the next caller lists again;
// callers already waiting on it still get its entries. A folder whose
// entries were given to it (metadata/) keeps them: a change there makes a
// new folder.
func (d *objectDir) forget() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.current != nil && !d.fixed {
		d.current = nil
	}
}

// Refresh makes the mount look again at what may have changed for the
// session with canonical ID id, or for every session when id is "": the
// kernel drops its entries and cached listings under sessions/ and
// subjects/, and folders there drop their listings, so the next look asks
// the tree (and so the resolver) again. Files already open keep reading:
// their contents never change. Call it after the resolver has forgotten
// its answers (resolve.Resolver.Forget).
func (m *Mount) Refresh(id string) {
	// Folders the kernel has let go of are kept by the tree too.
	if id == "" {
		m.tree.listings.forgetUnder(sessionsName + "/")
	} else {
		m.tree.listings.forgetUnder(join(sessionsName, id) + "/")
	}
	root := m.root.EmbeddedInode()
	if sessions := root.GetChild(sessionsName); sessions != nil {
		sessions.NotifyContent(0, 0)
		for name, child := range sessions.Children() {
			if s, err := resolve.ParseSession(name); id == "" || err == nil && s.ID() == id {
				forgetBelow(child)
				sessions.NotifyEntry(name)
			}
		}
	}
	if subjects := root.GetChild(subjectsName); subjects != nil {
		subjects.NotifyContent(0, 0)
		for name, child := range subjects.Children() {
			forgetBelow(child)
			subjects.NotifyEntry(name)
		}
	}
}

// forgetBelow makes the folders at and below in drop their listings, and
// the kernel its entries and cached listings there.
func forgetBelow(in *fusefs.Inode) {
	d, ok := in.Operations().(*dirNode)
	if !ok {
		return
	}
	if f, ok := d.dir.(forgetter); ok {
		f.forget()
	}
	in.NotifyContent(0, 0)
	for name, child := range in.Children() {
		forgetBelow(child)
		in.NotifyEntry(name)
	}
}
