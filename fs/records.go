package fs

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/aind/aindfs/resolve"
)

// docdbJSON is the name of the session's DocDB record in metadata/.
const docdbJSON = "docdb.json"

// recordFile is metadata/docdb.json: the session's DocDB record, pretty
// printed. ok is false when there is none; a DocDB that cannot be asked is
// logged by the resolver and leaves the file out, never the folder.
func recordFile(ctx context.Context, r Resolver, s resolve.Session) (MadeFile, bool) {
	rec, ok, err := r.Record(ctx, s)
	if err != nil || !ok {
		return MadeFile{}, false
	}
	var b bytes.Buffer
	if err := json.Indent(&b, rec.Raw, "", "  "); err != nil {
		return MadeFile{}, false
	}
	b.WriteByte('\n')
	mod := rec.Modified
	if mod.IsZero() {
		mod = rec.Created
	}
	if mod.IsZero() {
		mod = s.DT()
	}
	return MadeFile{Name: docdbJSON, Data: b.Bytes(), ModTime: mod}, true
}

// madeDir is a folder of objects with files the tree makes among them.
// It is listed whole (it is no listedDir): such folders are small, and a
// streamed listing would not show the made files.
type madeDir struct {
	objects *objectDir
	made    []*generatedFile // sorted by name
}

func (d *madeDir) Name() string { return d.objects.Name() }
func (d *madeDir) Path() string { return d.objects.Path() }
func (d *madeDir) Attr() Attr   { return d.objects.Attr() }

// withMade adds files to d; its inode number changes with their contents.
func withMade(d *objectDir, files []MadeFile) *madeDir {
	m := &madeDir{objects: d}
	ids := []string{"made", d.loc.String()}
	for _, f := range files {
		p := join(d.path, f.Name)
		m.made = append(m.made, &generatedFile{path: p, data: f.Data, modTime: f.ModTime, valid: ValidSession,
			ino: inode(p, string(f.Data))})
		ids = append(ids, f.Name, string(f.Data))
	}
	slices.SortFunc(m.made, func(a, b *generatedFile) int { return strings.Compare(a.Name(), b.Name()) })
	d.ino = inode(d.path, append(ids, strconv.FormatUint(d.Attr().Ino, 10))...)
	return m
}

func (d *madeDir) ReadDir(ctx context.Context) ([]Node, error) {
	objects, err := d.objects.ReadDir(ctx)
	if err != nil {
		return nil, err
	}
	nodes := make([]Node, 0, len(objects)+len(d.made))
	for _, n := range objects {
		if d.find(n.Name()) == nil {
			nodes = append(nodes, n)
		}
	}
	for _, f := range d.made {
		nodes = append(nodes, f)
	}
	return sortNodes(nodes), nil
}

func (d *madeDir) Lookup(ctx context.Context, name string) (Node, error) {
	if f := d.find(name); f != nil {
		return f, nil
	}
	return d.objects.Lookup(ctx, name)
}

func (d *madeDir) find(name string) *generatedFile {
	for _, f := range d.made {
		if f.Name() == name {
			return f
		}
	}
	return nil
}
