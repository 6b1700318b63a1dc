package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aind/aindfs/store"
)

// localTree makes a folder with files, a sub-folder, a link to a file, a
// broken link and a FIFO.
func localTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "b.json"), []byte(`{"x":1}`), 0o644))
	must(os.WriteFile(filepath.Join(dir, "a.dat"), randomBytes(5000, 1), 0o644))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "sub", "c.txt"), []byte("c"), 0o644))
	must(os.Symlink("a.dat", filepath.Join(dir, "link.dat")))
	must(os.Symlink("missing", filepath.Join(dir, "broken")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	return dir
}

// newLocal returns the backend of folder dir, closed when the test ends.
func newLocal(t testing.TB, dir string) *store.LocalBackend {
	t.Helper()
	l, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLocalList(t *testing.T) {
	dir := localTree(t)
	l := newLocal(t, dir)
	got, err := l.List(context.Background(), store.Local(dir))
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		name string
		dir  bool
		size int64
	}
	want := []entry{{"a.dat", false, 5000}, {"b.json", false, 7}, {"link.dat", false, 5000}, {"sub", true, 0}}
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want %v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Dir != w.dir || g.Size != w.size {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
		if !g.Dir && (g.ETag == "" || g.ModTime.IsZero()) {
			t.Errorf("entry %s has no ETag or time: %+v", g.Name, g)
		}
	}

	_, err = l.List(context.Background(), store.Local(filepath.Join(dir, "nope")))
	if !errors.Is(err, store.ErrNotExist) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("List of a missing folder: %v, want ErrNotExist naming it", err)
	}
}

// TestLocalListAllocations: listing a folder of many files allocates about
// what it hands back (a name and a version tag a file, and the name given
// to fstatat), not a file description and an owner each: the garbage of a 200,000-file listing is
// what makes the collector run while the mount takes it in.
func TestLocalListAllocations(t *testing.T) {
	const files = 2000
	dir := t.TempDir()
	for i := range files {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("chunk_%05d.json", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := newLocal(t, dir)
	var list []store.ObjectInfo
	allocs := testing.AllocsPerRun(3, func() {
		var err error
		if list, err = l.List(context.Background(), store.Local(dir)); err != nil {
			t.Fatal(err)
		}
	})
	if len(list) != files || list[0].Access == nil || list[0].Access.Perm != 0o444 {
		t.Fatalf("List: %d entries, the first %+v; want %d, mode 0444", len(list), list[0], files)
	}
	if perFile := allocs / files; perFile > 3.2 {
		t.Errorf("List of %d files: %.0f allocations, %.1f a file; want at most 3.2", files, allocs, perFile)
	}
}

func TestLocalExistsAndStat(t *testing.T) {
	dir := localTree(t)
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := newLocal(t, dir)
	for _, tt := range []struct {
		rel  string
		want bool
	}{{"sub", true}, {"empty", false}, {"nope", false}} {
		got, err := l.Exists(ctx, store.Local(dir).Join(tt.rel))
		if err != nil || got != tt.want {
			t.Errorf("Exists(%s) = %v, %v; want %v", tt.rel, got, err, tt.want)
		}
	}
	info, err := l.Stat(ctx, store.Local(dir).Join("a.dat"))
	if err != nil || info.Name != "a.dat" || info.Size != 5000 || info.ETag == "" {
		t.Errorf("Stat(a.dat) = %+v, %v", info, err)
	}
	if _, err := l.Stat(ctx, store.Local(dir).Join("nope")); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("Stat(nope) = %v, want ErrNotExist", err)
	}
}

func TestLocalRefusesEscapes(t *testing.T) {
	dir := localTree(t)
	l := newLocal(t, dir)
	ctx := context.Background()
	for _, u := range []store.URI{
		store.Local(dir).Join("../" + filepath.Base(dir) + "/a.dat"),
		store.Local(dir).Join("sub/../../x"),
		{Scheme: "file", Key: dir + "/./a.dat"},
		{Scheme: "file", Key: "relative/a.dat"},
		{Scheme: "file", Key: dir + "/a\x00.dat"},
		store.S3("bucket", "key"),
	} {
		if _, err := l.Stat(ctx, u); err == nil {
			t.Errorf("Stat(%q) succeeded", u.Key)
		}
		if _, err := l.List(ctx, u); err == nil {
			t.Errorf("List(%q) succeeded", u.Key)
		}
		if _, err := l.ReadRange(ctx, u, "", 0, 1); err == nil {
			t.Errorf("ReadRange(%q) succeeded", u.Key)
		}
	}
}

func TestLocalReader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.bin")
	data := randomBytes(1<<20+17, 2)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := store.New(store.Options{Local: newLocal(t, dir)})
	defer s.Close()
	ctx := context.Background()
	obj := store.Local(path)
	info, err := s.Stat(ctx, obj)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Open(obj, info)
	checkRandomReads(t, r, data, 2000, 4)

	// Rewriting the file changes its size and time: the reader refuses to
	// mix versions, and keeps refusing.
	if err := os.WriteFile(path, data[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, time.Now(), time.Now().Add(time.Hour))
	buf := make([]byte, 100)
	if _, err := r.ReadAt(ctx, buf, 0); !errors.Is(err, store.ErrChanged) {
		t.Fatalf("read after the file changed: %v, want ErrChanged", err)
	}
	if _, err := r.ReadAt(ctx, buf, 0); !errors.Is(err, store.ErrChanged) {
		t.Fatalf("second read after the file changed: %v, want ErrChanged", err)
	}
	// A reader opened on the new version reads it.
	info, _ = s.Stat(ctx, obj)
	r2 := s.Open(obj, info)
	defer r2.Close()
	n, err := r2.ReadAt(ctx, make([]byte, 2000), 0)
	if n != 1000 || err == nil {
		t.Errorf("read of the new version: %d, %v; want 1000 bytes and EOF", n, err)
	}
	if st := s.Stats(); st.CachedBytes != 0 {
		t.Errorf("local reads went through the cache: %d bytes cached", st.CachedBytes)
	}
}

// TestLocalReaderOpensOnce checks that a Reader holds its local file open
// across reads: once read, the file can be unlinked and the Reader still
// reads it, with no further request to the backend.
func TestLocalReaderOpensOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.bin")
	data := randomBytes(64<<10, 3)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := store.New(store.Options{Local: newLocal(t, dir)})
	defer s.Close()
	ctx := context.Background()
	info, err := s.Stat(ctx, store.Local(path))
	if err != nil {
		t.Fatal(err)
	}
	r := s.Open(store.Local(path), info)
	buf := make([]byte, 1000)
	if _, err := r.ReadAt(ctx, buf, 0); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Requests
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{5000, 0, int64(len(data)) - 1000} {
		n, err := r.ReadAt(ctx, buf, off)
		if err != nil || !bytes.Equal(buf[:n], data[off:off+1000]) {
			t.Fatalf("read at %d after unlink: %d bytes, %v", off, n, err)
		}
	}
	if got := s.Stats().Requests - before; got != 0 {
		t.Errorf("%d backend requests for reads of an open file, want 0", got)
	}
	r.Close()
	if _, err := r.ReadAt(ctx, buf, 0); !errors.Is(err, store.ErrClosed) {
		t.Errorf("read after Close: %v, want ErrClosed", err)
	}
}

// TestLocalConfinement checks that nothing outside the local folder is
// read: links that leave it, absolute or climbing out with "..", are listed
// as links to the absolute path they name and never followed; locations
// outside it are refused. Links inside it are followed, and files and
// folders keep their own permission bits less write.
func TestLocalConfinement(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	data := filepath.Join(base, "data")
	asset := filepath.Join(data, "asset")
	for _, d := range []string{outside, asset, filepath.Join(asset, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := []byte("outside the data folder")
	files := map[string][]byte{
		filepath.Join(outside, "secret"):  secret,
		filepath.Join(asset, "mine.dat"):  []byte("in the asset"),
		filepath.Join(asset, "private"):   []byte("owner only"),
		filepath.Join(asset, "sub", "in"): []byte("in a sub-folder"),
	}
	for p, b := range files {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(asset, "private"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(asset, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		filepath.Join(asset, "abs"):    filepath.Join(outside, "secret"),
		filepath.Join(asset, "rel"):    "../../outside/secret",
		filepath.Join(asset, "absdir"): outside,
		filepath.Join(asset, "inside"): "sub/in",
		filepath.Join(asset, "up"):     "../asset/mine.dat",
		filepath.Join(data, "linked"):  outside,
	}
	for p, target := range links {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	l := newLocal(t, data)
	st := store.New(store.Options{Local: l})
	defer st.Close()

	list, err := l.List(ctx, store.Local(asset))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.ObjectInfo{}
	for _, e := range list {
		got[e.Name] = e
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	for _, tt := range []struct {
		name string
		link string        // the link shown, when not followed
		size int64         // of what is followed
		perm iofs.FileMode // of what is followed
	}{
		{name: "abs", link: filepath.Join(outside, "secret")},
		{name: "rel", link: filepath.Join(outside, "secret")},
		{name: "absdir", link: outside},
		{name: "inside", size: 15, perm: 0o444},
		{name: "up", size: 12, perm: 0o444},
		{name: "mine.dat", size: 12, perm: 0o444},
		{name: "private", size: 10, perm: 0o400},
		{name: "sub", perm: 0o550},
	} {
		e, ok := got[tt.name]
		switch {
		case !ok:
			t.Errorf("%s: not listed", tt.name)
		case e.Link != tt.link:
			t.Errorf("%s: link %q, want %q", tt.name, e.Link, tt.link)
		case tt.link != "" && (e.Dir || e.Access != nil || e.ETag != ""):
			t.Errorf("%s: a link out of the folder is described by its target: %+v", tt.name, e)
		case tt.link == "" && (e.Access == nil || e.Access.Perm != tt.perm || e.Access.UID != uid || e.Access.GID != gid):
			t.Errorf("%s: access %+v, want %v owned by %d:%d", tt.name, e.Access, tt.perm, uid, gid)
		case tt.link == "" && !e.Dir && e.Size != tt.size:
			t.Errorf("%s: %d bytes, want %d", tt.name, e.Size, tt.size)
		}
	}

	// The asset folder that is a link out of the data folder is a link too.
	top, err := l.List(ctx, store.Local(data))
	if err != nil || len(top) != 2 || top[1].Name != "linked" || top[1].Link != outside || top[1].Dir {
		t.Errorf("data folder listing: %+v, %v; want asset and linked -> %s", top, err, outside)
	}

	// Nothing reads the secret through a link, a linked folder or its own path.
	for _, u := range []store.URI{
		store.Local(asset).Join("abs"),
		store.Local(asset).Join("rel"),
		store.Local(asset).Join("absdir/secret"),
		store.Local(data).Join("linked/secret"),
		store.Local(filepath.Join(outside, "secret")),
	} {
		if info, err := l.Stat(ctx, u); err == nil && info.Link == "" {
			t.Errorf("Stat(%s) followed the link: %+v", u, info)
		}
		r := st.Open(u, store.ObjectInfo{})
		buf := make([]byte, 100)
		n, err := r.ReadAt(ctx, buf, 0)
		if err == nil || bytes.Contains(buf[:n], secret) {
			t.Errorf("read of %s: %q, %v; want an error", u, buf[:n], err)
		}
		if f, ok, err := r.LocalFile(ctx); ok && err == nil {
			t.Errorf("LocalFile of %s opened %s", u, f.Name())
		}
		r.Close()
		if rc, err := l.ReadRange(ctx, u, "", 0, 5); err == nil {
			rc.Close()
			t.Errorf("ReadRange(%s) succeeded", u)
		}
	}
	for _, u := range []store.URI{store.Local(asset).Join("absdir"), store.Local(data).Join("linked"), store.Local(outside)} {
		if list, err := l.List(ctx, u); err == nil {
			t.Errorf("List(%s) = %+v, want an error", u, list)
		}
		if ok, err := l.Exists(ctx, u); ok || err == nil {
			t.Errorf("Exists(%s) = %v, %v; want an error", u, ok, err)
		}
	}
	// Links that stay inside are read.
	r := st.Open(store.Local(asset).Join("inside"), store.ObjectInfo{})
	defer r.Close()
	buf := make([]byte, 15)
	if n, err := r.ReadAt(ctx, buf, 0); string(buf[:n]) != "in a sub-folder" {
		t.Errorf("read through a link inside the folder: %q, %v", buf[:n], err)
	}
}
