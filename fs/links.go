package fs

import (
	"context"
	"time"
)

// linkDir is a folder of symbolic links the tree makes, such as
// sessions/<id>/sorters/.
type linkDir struct {
	path    string
	links   []Node
	modTime time.Time
}

func newLinkDir(path string, links []Link, modTime time.Time) *linkDir {
	d := &linkDir{path: path, modTime: modTime}
	for _, l := range links {
		d.links = append(d.links, &link{path: join(path, l.Name), target: l.Target, modTime: l.ModTime, valid: ValidSession})
	}
	d.links = sortNodes(d.links)
	return d
}

func (d *linkDir) Name() string { return base(d.path) }
func (d *linkDir) Path() string { return d.path }
func (d *linkDir) Attr() Attr   { return dirAttr(d.path, d.modTime, ValidSession) }

var _ Dir = (*linkDir)(nil)

func (d *linkDir) ReadDir(ctx context.Context) ([]Node, error) { return d.links, nil }

func (d *linkDir) Lookup(ctx context.Context, name string) (Node, error) {
	for _, n := range d.links {
		if n.Name() == name {
			return n, nil
		}
	}
	return nil, notExist(d.path, name, nil)
}
