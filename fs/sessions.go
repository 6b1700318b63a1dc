package fs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/aind/aindfs/resolve"
)

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
		return nil, pathError(path, err, "resolving %s of %s", v.Name, s)
	}
	if !ok {
		return nil, &PathError{Path: path, Err: fmt.Errorf("%w: session %s has no %s folder", ErrNotExist, s, v.Name)}
	}
	switch {
	case f.Assets != nil:
		return newAssetsDir(t, path, f.Assets, f.ModTime), nil
	case f.Target != "":
		return &link{path: path, target: f.Target, modTime: f.ModTime, valid: ValidSession}, nil
	case f.Links != nil:
		return newLinkDir(path, f.Links, f.ModTime), nil
	}
	var d *objectDir
	if f.Only != nil {
		d = &objectDir{t: t, path: path, loc: f.Location, modTime: f.ModTime, valid: ValidSession}
		ids := []string{"only", f.Location.String()}
		for _, o := range d.setEntries(f.Only) {
			ids = append(ids, o.Name, o.ETag)
		}
		d.ino = inode(path, ids...)
	} else {
		d = t.topFolder(path, f.Location, f.ModTime, ValidSession)
	}
	if len(f.Made) > 0 {
		return withMade(d, f.Made), nil
	}
	return d, nil
}

// sessionFile is session.json of s, generated from the resolver's answer.
func (t *Tree) sessionFile(ctx context.Context, s resolve.Session) (*generatedFile, error) {
	path := join(join(sessionsName, s.ID()), sessionJSON)
	info, err := t.r.Info(ctx, s)
	if err != nil {
		return nil, pathError(path, err, "describing %s", s)
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
