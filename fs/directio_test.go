package fs

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

// TestMountDirectIO: a file of at least MountOptions.DirectIO bytes is read
// around the kernel's page cache (none of it is cached after a whole read),
// byte for byte; a re-read comes from the block cache without a request,
// and the file can still be mapped shared. A smaller file keeps the page
// cache.
func TestMountDirectIO(t *testing.T) {
	var big, small []byte
	rig := online{mount: MountOptions{DirectIO: 2 << 20}, prepare: func(srv *s3test.Server) {
		big, _ = bigFile(srv, "direct.bin", 3<<20+5)
		small, _ = bigFile(srv, "cached.bin", 1<<20)
	}}.start(t)
	m, srv := rig.m, rig.srv
	direct := m.DirectIO() > 0
	if !direct {
		t.Logf("this kernel cannot map files opened for direct I/O: every file should keep the page cache")
	}
	raw := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw")
	bigPath, smallPath := filepath.Join(raw, "direct.bin"), filepath.Join(raw, "cached.bin")
	for _, c := range []struct {
		path   string
		want   []byte
		cached bool
	}{{bigPath, big, !direct}, {smallPath, small, true}} {
		got, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, c.want) {
			t.Fatalf("%s: read %d bytes that differ from the %d stored", filepath.Base(c.path), len(got), len(c.want))
		}
		pages := cachedPages(t, c.path)
		switch {
		case c.cached && pages == 0:
			t.Errorf("%s (%d bytes): no page in the kernel's page cache after reading it all", filepath.Base(c.path), len(c.want))
		case !c.cached && pages > 0:
			t.Errorf("%s (%d bytes): %d pages in the kernel's page cache, want none with direct I/O", filepath.Base(c.path), len(c.want), pages)
		}
	}

	// Reads of any length at any offset, some across the end of the file.
	f, err := os.Open(bigPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	for range 200 {
		off := rng.Int64N(int64(len(big)) + 10)
		buf := make([]byte, 1+rng.IntN(3<<20))
		n, err := f.ReadAt(buf, off)
		want := big[min(off, int64(len(big))):min(off+int64(len(buf)), int64(len(big)))]
		if n != len(want) || !bytes.Equal(buf[:n], want) || (n < len(buf)) != (err == io.EOF) {
			t.Fatalf("pread of %d bytes at %d: %d bytes, %v; want the %d stored there", len(buf), off, n, err, len(want))
		}
	}

	srv.WaitIdle()
	before := srv.Count("GetObject")
	got, err := os.ReadFile(bigPath)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("re-read: %d bytes, %v; want the %d stored", len(got), err, len(big))
	}
	if n := srv.Count("GetObject") - before; n != 0 {
		t.Errorf("re-read made %d GETs, want 0 (the block cache holds the file)", n)
	}

	checkMapped(t, bigPath, big)
}

// cachedPages returns how many pages of the file the kernel's page cache
// holds.
func cachedPages(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &st, 0); err != nil {
		t.Fatalf("cachestat %s (Linux 6.5 and later): %v", path, err)
	}
	return st.Cache
}

// TestMountSmallReadsKeepPageCache: a file read through direct I/O in small
// pieces is opened with the page cache from then on, where such reads
// cost no round trip; a file read in large pieces keeps direct I/O.
func TestMountSmallReadsKeepPageCache(t *testing.T) {
	var small, large []byte
	rig := online{mount: MountOptions{DirectIO: 2 << 20}, prepare: func(srv *s3test.Server) {
		small, _ = bigFile(srv, "small-reads.bin", 3<<20)
		large, _ = bigFile(srv, "large-reads.bin", 3<<20+1)
	}}.start(t)
	m := rig.m
	if m.DirectIO() == 0 {
		t.Fatal("this kernel cannot map files opened for direct I/O: nothing to test (TestMountDirectIO checks the fallback)")
	}
	raw := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw")
	readIn := func(name string, want []byte, piece int) {
		f, err := os.Open(filepath.Join(raw, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, piece)
		for off := 0; off < len(want); off += piece {
			n, err := f.ReadAt(buf, int64(off))
			if (err != nil && err != io.EOF) || !bytes.Equal(buf[:n], want[off:min(off+piece, len(want))]) {
				t.Fatalf("%s: read of %d bytes at %d: %d bytes, %v", name, piece, off, n, err)
			}
		}
	}
	readIn("small-reads.bin", small, 4<<10) // 768 reads of 4 KiB
	readIn("large-reads.bin", large, 1<<20)

	// The kernel tells aindfs of the close a moment later.
	waitFor(t, "the small-read file to be opened with the page cache", func() bool {
		readIn("small-reads.bin", small, 1<<20)
		return cachedPages(t, filepath.Join(raw, "small-reads.bin")) > 0
	})
	readIn("large-reads.bin", large, 1<<20)
	if n := cachedPages(t, filepath.Join(raw, "large-reads.bin")); n != 0 {
		t.Errorf("large-reads.bin, read in 1 MiB pieces: %d pages in the page cache, want none (direct I/O)", n)
	}
}

// TestMountDirectIOWithTools: the usual ways of copying a file (cp's
// copy_file_range, cat into a file, dd in 4 KiB blocks, tar) copy a
// direct-I/O file byte for byte.
func TestMountDirectIOWithTools(t *testing.T) {
	var big []byte
	rig := online{mount: MountOptions{DirectIO: 1 << 20}, prepare: func(srv *s3test.Server) {
		big, _ = bigFile(srv, "tools.bin", 3<<20+7)
	}}.start(t)
	m := rig.m
	src := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw", "tools.bin")
	dir := t.TempDir()
	for _, c := range [][]string{
		{"cp", src, filepath.Join(dir, "cp.bin")},
		{"sh", "-c", `cat "$1" > "$2"`, "sh", src, filepath.Join(dir, "cat.bin")},
		{"dd", "if=" + src, "of=" + filepath.Join(dir, "dd.bin"), "bs=4k", "status=none"},
		{"tar", "cf", filepath.Join(dir, "tools.tar"), "-C", filepath.Dir(src), "tools.bin"},
		{"tar", "xf", filepath.Join(dir, "tools.tar"), "-C", dir},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", c, err, out)
		}
	}
	for _, name := range []string{"cp.bin", "cat.bin", "dd.bin", "tools.bin"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, big) {
			t.Errorf("%s: %d bytes (%v) that differ from the %d stored", name, len(got), err, len(big))
		}
	}
}
