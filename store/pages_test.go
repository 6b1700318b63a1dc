package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

// key is an entry's S3 key relative to its folder: a folder's ends in "/".
func key(o store.ObjectInfo) string {
	if o.Dir {
		return o.Name + "/"
	}
	return o.Name
}

// TestS3ListPages: each answer is handed over before the next is asked
// for, in key order across and within pages (a folder "a" after an object
// "a.b"), with every entry of the folder once, and the folder's marker
// left out. An object "a" beside keys under "a/" is not an entry: it ends
// the first page and is held back until the second brings the folder.
func TestS3ListPages(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	var want []string
	add := func(name string) {
		srv.PutObject("bucket", "many/"+name, []byte("1"))
		want = append(want, name)
	}
	srv.PutObject("bucket", "many/", nil) // the folder's marker, the first key
	for i := range 997 {
		add(fmt.Sprintf("0%04d.json", i))
	}
	srv.PutObject("bucket", "many/a", []byte("shadowed")) // the 999th key
	add("a.b")                                            // the 1000th: the first page ends
	srv.PutObject("bucket", "many/a/x", []byte("1"))
	want = append(want, "a/")
	for i := range 1100 {
		add(fmt.Sprintf("f%05d.json", i))
	}
	srv.PutObject("bucket", "many/g/y/z", []byte("1"))
	want = append(want, "g/")
	srv.ResetLog()

	var got []string
	var sizes []int
	err := srv.Backend(t).ListPages(context.Background(), store.S3("bucket", "many"), func(page []store.ObjectInfo) error {
		sizes = append(sizes, len(page))
		if n := srv.Count("ListObjectsV2"); n != len(sizes) {
			t.Errorf("page %d handed over after %d requests: not as it arrived", len(sizes), n)
		}
		for _, o := range page {
			got = append(got, key(o))
			if o.Name == "a.b" && (o.Size != 1 || o.ETag == "" || o.ModTime.IsZero()) {
				t.Errorf("a.b = %+v, want an object of 1 byte with ETag and time", o)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The first page's 1000 keys less the marker, a (shadowed) and a.b
	// (held with it); the second starts with a.b.
	if !slices.Equal(sizes, []int{997, 1000, 103}) || srv.Count("ListObjectsV2") != 3 {
		t.Errorf("pages of %v entries in %d requests, want 997, 1000 and 103 in 3", sizes, srv.Count("ListObjectsV2"))
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries in the order handed over differ from the keys in order: %d entries, want %d", len(got), len(want))
	}
}

// TestListPagesEnds: an error from the caller stops the listing at once;
// a missing folder is ErrNotExist; one holding only its marker has no page.
func TestListPagesEnds(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	for i := range 1500 {
		srv.PutObject("bucket", fmt.Sprintf("many/f%05d", i), []byte("x"))
	}
	srv.PutObject("bucket", "empty/", nil)
	b := srv.Backend(t)
	ctx := context.Background()

	srv.ResetLog()
	stop := errors.New("seen enough")
	err := b.ListPages(ctx, store.S3("bucket", "many"), func([]store.ObjectInfo) error { return stop })
	if err != stop {
		t.Errorf("ListPages stopped by its caller = %v, want the caller's error", err)
	}
	if n := srv.Count(""); n != 1 {
		t.Errorf("%d requests after the caller stopped at the first page, want 1", n)
	}

	called := false
	page := func([]store.ObjectInfo) error { called = true; return nil }
	if err := b.ListPages(ctx, store.S3("bucket", "nope"), page); !errors.Is(err, store.ErrNotExist) || !strings.Contains(err.Error(), "s3://bucket/nope") {
		t.Errorf("ListPages of a missing folder = %v, want ErrNotExist naming it", err)
	}
	if err := b.ListPages(ctx, store.S3("bucket", "empty"), page); err != nil {
		t.Errorf("ListPages of a folder holding only its marker = %v, want no error", err)
	}
	if called {
		t.Error("a page was handed over for a missing or empty folder")
	}
}

// TestStoreListPages: the Store pages S3 folders and gives a local folder,
// which its backend lists whole, as one page.
func TestStoreListPages(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	for i := range 1001 {
		srv.PutObject("bucket", fmt.Sprintf("many/f%05d", i), []byte("x"))
	}
	dir := t.TempDir()
	for _, name := range []string{"b.bin", "a.bin"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("abc"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	st := store.New(store.Options{S3: srv.Backend(t), Local: newLocal(t, dir)})
	defer st.Close()
	ctx := context.Background()
	for _, tt := range []struct {
		dir   store.URI
		pages []int // entries in each page
	}{
		// The first page's last object waits for the next: a folder of
		// its name could start it.
		{store.S3("bucket", "many"), []int{999, 2}},
		{store.Local(dir), []int{3}},
	} {
		var pages []int
		var names []string
		err := st.ListPages(ctx, tt.dir, func(page []store.ObjectInfo) error {
			pages = append(pages, len(page))
			for _, o := range page {
				names = append(names, key(o))
			}
			return nil
		})
		if err != nil || !slices.Equal(pages, tt.pages) {
			t.Errorf("ListPages(%s): pages of %v entries, %v; want %v", tt.dir, pages, err, tt.pages)
		}
		if tt.dir.Scheme == "file" && !slices.Equal(names, []string{"a.bin", "b.bin", "sub/"}) {
			t.Errorf("ListPages(%s) = %q", tt.dir, names)
		}
	}
	if err := st.ListPages(ctx, store.Local(filepath.Join(dir, "nope")), func([]store.ObjectInfo) error { return nil }); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("ListPages of a missing local folder = %v, want ErrNotExist", err)
	}
}

// TestS3ListingSaysWhatItHides: a folder is listed as it can be opened.
// Keys "a//x" make a folder "a" that lists as empty (its keys have an
// empty name); an object "b" beside keys under "b/" gives way to the
// folder. Each is said once in the log, naming what is left out.
func TestS3ListingSaysWhatItHides(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	for _, k := range []string{"odd/a//x", "odd/b", "odd/b/y", "odd/c"} {
		srv.PutObject("bucket", k, []byte("1"))
	}
	var logs logtest.Buffer
	opts := srv.S3Options()
	opts.Logger = logtest.Logger(&logs)
	b, err := store.NewS3(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		list, err := b.List(ctx, store.S3("bucket", "odd"))
		var got []string
		for _, o := range list {
			got = append(got, key(o))
		}
		if err != nil || !slices.Equal(got, []string{"a/", "b/", "c"}) {
			t.Errorf("List(odd) = %q, %v; want a/ b/ c", got, err)
		}
		if list, err := b.List(ctx, store.S3("bucket", "odd/a")); err != nil || len(list) != 0 {
			t.Errorf("List(odd/a) = %v, %v; want an empty folder, as it is listed in odd", list, err)
		}
	}
	var warnings []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") {
			warnings = append(warnings, l)
		}
	}
	if len(warnings) != 2 {
		t.Fatalf("%d warnings for two folders listed twice, want 2 (one for each thing left out):\n%s", len(warnings), logs.String())
	}
	for _, want := range []string{"s3://bucket/odd/a", "odd/a//", "s3://bucket/odd", "names=[b]"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not name %s:\n%s", want, logs.String())
		}
	}
}
