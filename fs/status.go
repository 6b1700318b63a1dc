package fs

import (
	"bytes"
	"context"
	"time"
)

// The mount's own state lives in a folder of the root that listings do not
// show and that no session can be named: .aindfs/stats.json.
const (
	statusName = ".aindfs"
	statsJSON  = "stats.json"
)

// changing is a File whose contents change from one open to the next: it
// is opened for direct I/O, so that every read asks again and the size the
// kernel last saw does not cut it short.
type changing interface {
	File
	changes()
}

// statusDir is .aindfs/.
type statusDir struct{ t *Tree }

func (d *statusDir) Name() string { return statusName }
func (d *statusDir) Path() string { return statusName }
func (d *statusDir) Attr() Attr   { return dirAttr(statusName, d.t.started, 0) }

func (d *statusDir) Lookup(ctx context.Context, name string) (Node, error) {
	if name == statsJSON {
		return &statsFile{t: d.t}, nil
	}
	return nil, notExist(statusName, name, nil)
}

func (d *statusDir) ReadDir(ctx context.Context) ([]Node, error) {
	return []Node{&statsFile{t: d.t}}, nil
}

// statsFile is .aindfs/stats.json: Config.Stats, asked anew at each open.
type statsFile struct{ t *Tree }

var _ changing = (*statsFile)(nil)

func (f *statsFile) changes()     {}
func (f *statsFile) Name() string { return statsJSON }
func (f *statsFile) Path() string { return statusName + "/" + statsJSON }
func (f *statsFile) Attr() Attr {
	return Attr{Kind: KindFile, Mode: fileMode, Size: int64(len(f.t.stats())), ModTime: time.Now(),
		Ino: inode(f.Path()), Valid: 0}
}

func (f *statsFile) Open(ctx context.Context) (Reader, error) {
	return bytesReader{bytes.NewReader(f.t.stats())}, nil
}
