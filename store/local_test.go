package store_test

import (
	"bytes"
	"context"
	"errors"
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

func TestLocalList(t *testing.T) {
	dir := localTree(t)
	got, err := store.NewLocal().List(context.Background(), store.Local(dir))
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

	_, err = store.NewLocal().List(context.Background(), store.Local(filepath.Join(dir, "nope")))
	if !errors.Is(err, store.ErrNotExist) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("List of a missing folder: %v, want ErrNotExist naming it", err)
	}
}

func TestLocalExistsAndStat(t *testing.T) {
	dir := localTree(t)
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := store.NewLocal()
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
	l := store.NewLocal()
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
	s := store.New(store.Options{})
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
	s := store.New(store.Options{})
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
