package fs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

// pagedEntry is what ls shows of one entry of the paged folder.
type pagedEntry struct {
	dir  bool
	size int64
}

// pagedFolder puts a folder of 2,496 entries in the sample session's raw
// folder, three pages of ListObjectsV2 (1000 keys a page), and returns
// what a listing of it must show. An object "a" ends the first page and a
// folder "a/" starts the second; an object "c" and a folder "c/" share the
// second page with "c-d" between them. In both, the folder is the entry.
func pagedFolder(srv *s3test.Server) map[string]pagedEntry {
	want := map[string]pagedEntry{}
	put := func(name string, size int) {
		srv.PutObject(rawBucket, sample.SessionID+"/many/"+name, make([]byte, size))
		want[name] = pagedEntry{size: int64(size)}
	}
	folder := func(name, key string) {
		srv.PutObject(rawBucket, sample.SessionID+"/many/"+name+"/"+key, []byte("x"))
		want[name] = pagedEntry{dir: true}
	}
	for i := range 998 {
		put(fmt.Sprintf("%04d.bin", i), 1+i%5)
	}
	put("a", 7)
	put("a.b", 8) // the 1000th key: the end of the first page
	folder("a", "x.bin")
	for i := range 700 {
		put(fmt.Sprintf("b%04d.bin", i), 1+i%3)
	}
	put("c", 9)
	put("c-d", 10)
	folder("c", "y.bin")
	for i := range 790 {
		put(fmt.Sprintf("d%04d.bin", i), 2+i%3)
	}
	folder("sub1", "x.json")
	folder("sub2", "y/z.json")
	return want
}

// checkListing checks that entries (of folder dir, through the mount) are
// the wanted ones, each once, of the right kinds and sizes.
func checkListing(t *testing.T, dir string, entries []os.DirEntry, want map[string]pagedEntry) {
	t.Helper()
	seen := map[string]int{}
	for _, de := range entries {
		name := de.Name()
		if seen[name]++; seen[name] == 2 {
			t.Errorf("%s listed more than once", name)
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("%s listed, but is not in the folder", name)
			continue
		}
		if de.IsDir() != w.dir {
			t.Errorf("%s: listed as folder %v, want %v", name, de.IsDir(), w.dir)
		}
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("lstat %s: %v", name, err)
			continue
		}
		if fi.IsDir() != w.dir || !w.dir && fi.Size() != w.size {
			t.Errorf("%s: %v of %d bytes, want folder %v of %d bytes", name, fi.Mode(), fi.Size(), w.dir, w.size)
		}
	}
	for name := range want {
		if seen[name] == 0 {
			t.Errorf("%s missing from the listing", name)
		}
	}
}

// TestMountListsFolderOfPages: a folder of three pages lists every entry
// once, the folder winning over an object of its name (across a page
// boundary and within a page), with three ListObjectsV2 requests; listing
// it again and looking up every entry asks nothing more.
func TestMountListsFolderOfPages(t *testing.T) {
	var want map[string]pagedEntry
	rig := online{prepare: func(srv *s3test.Server) { want = pagedFolder(srv) }}.start(t)
	m, srv := rig.m, rig.srv
	dir := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw", "many")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("stat %s: %v, %v", dir, fi, err)
	}
	before, lists := srv.Count(""), srv.Count("ListObjectsV2")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Errorf("ls: %d entries, want %d", len(entries), len(want))
	}
	checkListing(t, dir, entries, want)
	if n := srv.Count("ListObjectsV2") - lists; n != 3 {
		t.Errorf("listing made %d ListObjectsV2 requests, want 3 (one per page)", n)
	}
	if n := srv.Count("") - before; n != 3 {
		t.Errorf("listing and looking up every entry made %d requests, want the 3 pages", n)
	}

	before = srv.Count("")
	again, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkListing(t, dir, again, want)
	if n := srv.Count("") - before; n != 0 {
		t.Errorf("second listing made %d requests, want none", n)
	}
}

// TestMountListsOnlyWhatOpens: through the mount, a folder made only of
// keys with an empty name ("odd//x") lists as empty, and an object beside
// keys under its name is the folder: everything listed can be opened.
func TestMountListsOnlyWhatOpens(t *testing.T) {
	rig := online{prepare: func(srv *s3test.Server) {
		for _, k := range []string{"odd//x.bin", "both", "both/y.bin"} {
			srv.PutObject(rawBucket, sample.SessionID+"/"+k, []byte("data"))
		}
	}}.start(t)
	raw := filepath.Join(rig.m.Dir, "sessions", sample.SessionID, "raw")
	entries, err := os.ReadDir(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		p := filepath.Join(raw, de.Name())
		if !de.IsDir() {
			if _, err := os.ReadFile(p); err != nil {
				t.Errorf("%s is listed but cannot be read: %v", de.Name(), err)
			}
			continue
		}
		if _, err := os.ReadDir(p); err != nil {
			t.Errorf("%s/ is listed but cannot be listed: %v", de.Name(), err)
		}
	}
	if got, err := os.ReadDir(filepath.Join(raw, "odd")); err != nil || len(got) != 0 {
		t.Errorf("odd/ = %d entries, %v; want an empty folder", len(got), err)
	}
	if got, err := os.ReadDir(filepath.Join(raw, "both")); err != nil || len(got) != 1 || got[0].Name() != "y.bin" {
		t.Errorf("both/ = %v, %v; want the folder holding y.bin", got, err)
	}
}

// pageGate holds back the ListObjectsV2 requests for the later pages of
// one folder (those that carry a continuation token) until released, and
// counts the requests listing that folder.
type pageGate struct {
	next     http.RoundTripper
	prefix   string
	lists    atomic.Int64 // requests listing the folder, sent or held
	waiting  atomic.Int64 // requests held now
	released chan struct{}
	once     sync.Once
}

func (g *pageGate) RoundTrip(r *http.Request) (*http.Response, error) {
	q := r.URL.Query()
	if q.Get("list-type") == "2" && q.Get("prefix") == g.prefix {
		g.lists.Add(1)
		if q.Has("continuation-token") {
			g.waiting.Add(1)
			select {
			case <-g.released:
			case <-r.Context().Done():
			}
			g.waiting.Add(-1)
		}
	}
	return g.next.RoundTrip(r)
}

func (g *pageGate) release() { g.once.Do(func() { close(g.released) }) }

// gatedMount is onlineMountWith over a client whose later pages of
// raw/many wait at the gate it returns.
func gatedMount(t *testing.T, prepare func(*s3test.Server)) (*Mount, *s3test.Server, *pageGate) {
	t.Helper()
	var gate *pageGate
	rig := online{prepare: prepare, wrap: func(next http.RoundTripper) http.RoundTripper {
		gate = &pageGate{next: next, prefix: sample.SessionID + "/many/", released: make(chan struct{})}
		t.Cleanup(gate.release)
		return gate
	}}.start(t)
	return rig.m, rig.srv, gate
}

// readDirWithin reads n entries of f in the background, failing the test
// if that takes more than a generous minute: a guard against hanging.
func readDirWithin(t *testing.T, f *os.File, n int) ([]os.DirEntry, error) {
	t.Helper()
	type result struct {
		entries []os.DirEntry
		err     error
	}
	done := make(chan result, 1)
	go func() {
		entries, err := f.ReadDir(n)
		done <- result{entries, err}
	}()
	select {
	case r := <-done:
		return r.entries, r.err
	case <-time.After(time.Minute):
		t.Fatalf("reading %s still hangs after a minute", f.Name())
		return nil, nil
	}
}

// TestMountShowsFirstPageFirst: the first entries of a folder are read
// through the mount while the request for its second page is held back;
// once let go, the rest arrive, each name once.
func TestMountShowsFirstPageFirst(t *testing.T) {
	var want map[string]pagedEntry
	m, _, gate := gatedMount(t, func(srv *s3test.Server) { want = pagedFolder(srv) })
	dir := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw", "many")
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	first, err := readDirWithin(t, f, 100)
	if err != nil || len(first) != 100 {
		t.Fatalf("first 100 entries: got %d, %v", len(first), err)
	}
	// Nothing has let the second page through: the entries came from the
	// first, while the listing waits for the second.
	waitFor(t, "the request for the second page", func() bool { return gate.waiting.Load() == 1 })
	if n := gate.lists.Load(); n != 2 {
		t.Errorf("%d requests listing the folder, want 2 (the first page, the second held)", n)
	}
	gate.release()
	rest, err := readDirWithin(t, f, -1)
	if err != nil {
		t.Fatal(err)
	}
	checkListing(t, dir, append(first, rest...), want)
	if n := gate.lists.Load(); n != 3 {
		t.Errorf("%d requests listing the folder, want 3", n)
	}
}

// TestMountListingFailsMidway: when the second page keeps failing, a
// reader of the folder gets the first entries, then EIO, without hanging;
// once S3 answers again, the folder lists whole.
func TestMountListingFailsMidway(t *testing.T) {
	var want map[string]pagedEntry
	m, srv, gate := gatedMount(t, func(srv *s3test.Server) { want = pagedFolder(srv) })
	dir := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw", "many")
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if first, err := readDirWithin(t, f, 100); err != nil || len(first) != 100 {
		t.Fatalf("first 100 entries: got %d, %v", len(first), err)
	}
	waitFor(t, "the request for the second page", func() bool { return gate.waiting.Load() == 1 })
	srv.Inject(s3test.Fault{Kind: s3test.Status, Status: http.StatusServiceUnavailable, Op: "ListObjectsV2", Times: -1})
	gate.release()
	_, err = readDirWithin(t, f, -1)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("reading on while the second page fails = %v, want EIO", err)
	}
	if n := gate.lists.Load(); n < 3 {
		t.Errorf("only %d requests listing the folder: the second page was not retried", n)
	}

	srv.ClearFaults()
	// The handle whose listing failed lists again once rewound.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	again, err := readDirWithin(t, f, -1)
	if err != nil {
		t.Fatalf("rewound handle after S3 recovered: %v", err)
	}
	checkListing(t, dir, again, want)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("listing after S3 recovered: %v", err)
	}
	checkListing(t, dir, entries, want)
}

// pagedObjects is Objects that lists in the pages it is given. With later
// set, the pages after the first wait for it to be closed; with failLater
// set, the first listing fails there instead.
type pagedObjects struct {
	localObjects
	pages     [][]store.ObjectInfo
	later     chan struct{}
	failLater error
}

func (o *pagedObjects) ListPages(ctx context.Context, dir store.URI, page func([]store.ObjectInfo) error) error {
	first := o.lists.Add(1) == 1
	for i, p := range o.pages {
		if i == 1 && o.later != nil {
			select {
			case <-o.later:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if i == 1 && first && o.failLater != nil {
			return o.failLater
		}
		if err := page(p); err != nil {
			return err
		}
	}
	return nil
}

// TestListingPages: a folder shows the entries of every page, each name
// once and none with an unusable name, and every entry, once arrived,
// keeps its place. (Which of an object and a folder of one name is
// listed is the store's choice: see store.PageLister.)
func TestListingPages(t *testing.T) {
	obj := func(name string) store.ObjectInfo { return store.ObjectInfo{Name: name, Size: 1, ETag: name} }
	dir := func(name string) store.ObjectInfo { return store.ObjectInfo{Name: name, Dir: true} }
	tests := []struct {
		name  string
		pages [][]store.ObjectInfo
		want  []string // sorted by name; a trailing "/" marks a folder
	}{
		{"pages",
			[][]store.ObjectInfo{{obj("0"), obj("a.b")}, {dir("a"), obj("b")}},
			[]string{"0", "a/", "a.b", "b"}},
		{"unusable names",
			[][]store.ObjectInfo{{obj("bad\xff"), obj("ok")}, {dir("x\x00y"), obj("z")}},
			[]string{"ok", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objects := &pagedObjects{pages: tt.pages}
			tree := New(Config{Resolver: sampleResolver(t), Objects: objects})
			d := &objectDir{t: tree, path: "x", loc: store.S3("b", "p")}
			ctx := context.Background()
			// What a stream sees: entries in order of arrival, each once.
			l := d.listing(ctx)
			var streamed []string
			for {
				nodes, err := l.arrived(ctx, len(streamed))
				if err != nil {
					t.Fatal(err)
				}
				if len(nodes) == 0 {
					break
				}
				for _, n := range nodes {
					streamed = append(streamed, kindName(n))
				}
			}
			if got := slices.Sorted(slices.Values(streamed)); !slices.Equal(got, slices.Sorted(slices.Values(tt.want))) {
				t.Errorf("streamed %q, want %q", streamed, tt.want)
			}
			nodes, err := d.ReadDir(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range nodes {
				got = append(got, kindName(n))
				if found, err := d.Lookup(ctx, n.Name()); err != nil || found != n {
					t.Errorf("lookup %s = %v, %v; want the listed entry", n.Name(), found, err)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ReadDir = %q, want %q", got, tt.want)
			}
			if _, err := d.Lookup(ctx, "nope"); !errors.Is(err, ErrNotExist) {
				t.Errorf("lookup of a missing name = %v, want not-exist", err)
			}
			if n := objects.lists.Load(); n != 1 {
				t.Errorf("%d listings, want 1", n)
			}
		})
	}
}

// kindName is a node's name, with "/" after a folder's.
func kindName(n Node) string {
	if _, ok := n.(Dir); ok {
		return n.Name() + "/"
	}
	return n.Name()
}

// TestListingSharedByCallers: callers that come while a folder is being
// listed share its one listing; a name of the first page is found before
// the second arrives, one of the second once it has.
func TestListingSharedByCallers(t *testing.T) {
	objects := &pagedObjects{
		pages: [][]store.ObjectInfo{{{Name: "a", Size: 1}, {Name: "b", Size: 2}}, {{Name: "c", Size: 3}, {Name: "d", Dir: true}}},
		later: make(chan struct{}),
	}
	tree := New(Config{Resolver: sampleResolver(t), Objects: objects})
	d := &objectDir{t: tree, path: "x", loc: store.S3("b", "p")}
	// A guard against hanging: a caller left waiting fails instead.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	type answer struct {
		names []string
		err   error
	}
	answers := make(chan answer, 8)
	for range 4 {
		go func() {
			nodes, err := d.ReadDir(ctx)
			answers <- answer{names(nodes), err}
		}()
		go func() {
			n, err := d.Lookup(ctx, "d")
			if err != nil {
				answers <- answer{nil, err}
				return
			}
			answers <- answer{[]string{kindName(n)}, nil}
		}()
	}
	if n, err := d.Lookup(ctx, "a"); err != nil || n.Attr().Size != 1 {
		t.Fatalf("lookup of a, of the first page, while the second is held: %v, %v", n, err)
	}
	close(objects.later)
	for range 8 {
		a := <-answers
		switch {
		case a.err != nil:
			t.Errorf("a caller got %v", a.err)
		case len(a.names) == 1 && a.names[0] != "d/":
			t.Errorf("lookup of d = %q, want the folder", a.names)
		case len(a.names) > 1 && !slices.Equal(a.names, []string{"a", "b", "c", "d"}):
			t.Errorf("ReadDir = %q, want a b c d", a.names)
		}
	}
	if n := objects.lists.Load(); n != 1 {
		t.Errorf("%d listings for callers that came together, want 1", n)
	}
}

// TestListingFailureIsRetried: a listing that fails after its first page
// gives its callers the cause; the next call lists again, and whole.
func TestListingFailureIsRetried(t *testing.T) {
	objects := &pagedObjects{
		pages:     [][]store.ObjectInfo{{{Name: "a", Size: 1}}, {{Name: "b", Size: 2}}},
		failLater: errors.New("connection reset by peer"),
	}
	tree := New(Config{Resolver: sampleResolver(t), Objects: objects})
	d := &objectDir{t: tree, path: "x", loc: store.S3("b", "p")}
	ctx := context.Background()
	_, err := d.ReadDir(ctx)
	if err == nil || errors.Is(err, ErrNotExist) || !strings.Contains(err.Error(), "connection reset by peer") {
		t.Fatalf("ReadDir of a listing that fails = %v, want the cause", err)
	}
	nodes, err := d.ReadDir(ctx)
	if err != nil || !slices.Equal(names(nodes), []string{"a", "b"}) {
		t.Errorf("ReadDir after the failure = %q, %v; want a, b", names(nodes), err)
	}
	if n := objects.lists.Load(); n != 2 {
		t.Errorf("%d listings, want 2: the failed one was kept", n)
	}
}

// helperReaddirVar names a folder the test binary reads, in place of
// running the tests, as a program that catches Ctrl-C does (Python's
// KeyboardInterrupt): one getdents at a time, reporting each result.
const helperReaddirVar = "AINDFS_TEST_HELPER_READDIR"

func helperReaddir(dir string) int {
	// Caught, so not fatal: the kernel asks aindfs to give up, and waits
	// for its answer. Signals go to the thread that reads, which says
	// which it is (a Go process has several).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGINT)
	runtime.LockOSThread()
	fmt.Println(syscall.Gettid())
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Getdents(fd, buf)
		switch {
		case err != nil:
			fmt.Println("error", err)
			return 0
		case n == 0:
			fmt.Println("end")
			return 0
		}
		fmt.Println("entries")
	}
}

// TestMountInterruptedReaddir: a program that catches Ctrl-C, waiting for
// a page of a folder's listing that does not come, gets EINTR at once
// instead of waiting for the listing.
func TestMountInterruptedReaddir(t *testing.T) {
	m, _, gate := gatedMount(t, func(srv *s3test.Server) { pagedFolder(srv) })
	dir := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw", "many")
	cmd, out := startHelper(t, helperReaddirVar, dir)
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := bufio.NewScanner(out)
	var tid int
	if !lines.Scan() {
		t.Fatalf("helper printed nothing: %v", lines.Err())
	}
	if _, err := fmt.Sscan(lines.Text(), &tid); err != nil {
		t.Fatalf("helper printed %q, want its thread id", lines.Text())
	}
	if !lines.Scan() || lines.Text() != "entries" {
		t.Fatalf("helper printed %q, want entries of the first page", lines.Text())
	}
	waitFor(t, "the request for the second page", func() bool { return gate.waiting.Load() == 1 })
	// The reader has had the first page (4 KiB at a time: it is still
	// reading it, or already waiting for the second). Ctrl-C its reading
	// thread until it reports, while the second page is held back.
	got := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if l := lines.Text(); l != "entries" {
				got <- l
				return
			}
		}
		got <- "no result: " + fmt.Sprint(lines.Err())
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l := <-got:
			if l != "error interrupted system call" {
				t.Fatalf("helper reading on while interrupted: %q, want EINTR", l)
			}
			if gate.waiting.Load() != 1 {
				t.Errorf("the second page was answered before the interrupt was")
			}
			return
		case <-tick.C:
			syscall.Tgkill(cmd.Process.Pid, tid, syscall.SIGINT)
		case <-deadline:
			t.Fatal("the interrupted reader still waits for the held-back page after 20 s")
		}
	}
}
