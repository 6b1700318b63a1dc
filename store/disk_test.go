package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

const diskBS = 64 << 10

// diskStore returns a Store reading srv's objects with a disk cache of
// limit bytes in dir, and a small memory cache, so that reads go to disk.
func diskStore(t *testing.T, srv *s3test.Server, dir string, limit int64, log *logtest.Buffer) *store.Store {
	t.Helper()
	opts := store.Options{S3: srv.Backend(t), BlockSize: diskBS, CacheBytes: 1 << 20, DiskDir: dir, DiskBytes: limit}
	if log != nil {
		opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	st := store.New(opts)
	t.Cleanup(func() { st.Close() })
	return st
}

// readAll reads obj through st from start to end and checks its bytes.
func readAll(t *testing.T, st *store.Store, obj store.URI, info store.ObjectInfo, want []byte) {
	t.Helper()
	r := st.Open(obj, info)
	defer r.Close()
	got := make([]byte, info.Size)
	if n, err := r.ReadAt(context.Background(), got, 0); err != nil || n != len(want) || !bytes.Equal(got, want) {
		t.Fatalf("read %s: %d bytes, %v, or bytes differing from the object's", obj, n, err)
	}
}

// blockFiles returns the paths of the block files in a cache folder.
func blockFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "aindfs", "blocks", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// diskUsage returns the bytes the files under dir take on disk, as du
// counts them.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		total += fi.Sys().(*syscall.Stat_t).Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// TestDiskCacheSurvivesRestart: blocks read by one Store are read by the
// next one on the same folder from disk, with no GET.
func TestDiskCacheSurvivesRestart(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	data := randomBytes(3<<20+123, 31)
	etag := srv.PutObject("bucket", "raw/data.bin", data)
	obj, info := store.S3("bucket", "raw/data.bin"), store.ObjectInfo{Size: int64(len(data)), ETag: etag}
	dir := t.TempDir()

	first := diskStore(t, srv, dir, 64<<20, nil)
	readAll(t, first, obj, info, data)
	first.Close() // writes what is still queued
	blocks := (len(data) + diskBS - 1) / diskBS
	if st := first.Stats(); st.DiskWrites != int64(blocks) || st.DiskSkipped != 0 {
		t.Fatalf("first Store wrote %d blocks to disk and skipped %d, want all %d", st.DiskWrites, st.DiskSkipped, blocks)
	}

	second := rereadFromDisk(t, srv, dir, 64<<20, obj, info, data)
	if st := second.Stats(); st.DiskHits != int64(blocks) {
		t.Errorf("second Store read %d blocks from disk, want %d", st.DiskHits, blocks)
	}
}

// TestDiskCacheBacklog: a disk that falls behind a cold read (here its
// folder is locked by another process until the read ends) loses no block:
// those that do not fit the backlog wait by key and are written from
// memory when the disk is back, and a new Store reads them all from disk.
func TestDiskCacheBacklog(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	data := randomBytes(64<<20, 39)
	etag := srv.PutObject("bucket", "raw/data.bin", data)
	obj, info := store.S3("bucket", "raw/data.bin"), store.ObjectInfo{Size: int64(len(data)), ETag: etag}
	dir := t.TempDir()
	first := store.New(store.Options{S3: srv.Backend(t), BlockSize: diskBS, CacheBytes: 128 << 20, DiskDir: dir, DiskBytes: 256 << 20})
	defer first.Close()
	lock, err := os.Open(filepath.Join(dir, "aindfs", "size"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	readAll(t, first, obj, info, data)
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	first.Close()
	blocks := int64(len(data) / diskBS)
	if st := first.Stats(); st.DiskWrites != blocks || st.DiskSkipped != 0 {
		t.Fatalf("%d blocks written to disk and %d skipped, want all %d written", st.DiskWrites, st.DiskSkipped, blocks)
	}
	rereadFromDisk(t, srv, dir, 256<<20, obj, info, data)
}

// rereadFromDisk reads obj whole through a new Store on the disk folder
// dir, which should hold all of it: the bytes are checked and no GET may
// reach srv. It returns the Store, for its counts.
func rereadFromDisk(t *testing.T, srv *s3test.Server, dir string, limit int64, obj store.URI, info store.ObjectInfo, data []byte) *store.Store {
	t.Helper()
	srv.ResetLog()
	st := diskStore(t, srv, dir, limit, nil)
	readAll(t, st, obj, info, data)
	if gets := srv.Count("GetObject"); gets != 0 {
		t.Errorf("a new Store made %d GETs for an object written whole to disk, want 0", gets)
	}
	return st
}

// TestDiskCacheDamagedBlock: a block whose bytes changed on disk, or that
// was cut short as by a crash while writing, is never served: it is
// fetched again and replaced. A damaged header drops its whole segment.
func TestDiskCacheDamagedBlock(t *testing.T) {
	const header = 4096 // blocks start after the segment's header page
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, file string)
		// GETs of the second read, blocks found damaged (or segments,
		// for a header) and blocks read from disk
		gets, damaged, hits int
	}{
		{"a flipped byte in block 3 and block 15 cut short", func(t *testing.T, file string) {
			flip(t, file, header+3*diskBS+1000)
			if err := os.Truncate(file, header+15*diskBS+5000); err != nil {
				t.Fatal(err)
			}
		}, 2, 2, 14},
		{"a flipped byte in the header", func(t *testing.T, file string) {
			flip(t, file, 100)
		}, 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := s3test.NewServer(t, s3test.Options{})
			data := randomBytes(1<<20, 32)
			etag := srv.PutObject("bucket", "raw/data.bin", data)
			obj, info := store.S3("bucket", "raw/data.bin"), store.ObjectInfo{Size: int64(len(data)), ETag: etag}
			dir := t.TempDir()
			first := diskStore(t, srv, dir, 64<<20, nil)
			readAll(t, first, obj, info, data)
			first.Close()

			files := blockFiles(t, dir)
			if len(files) != 1 {
				t.Fatalf("%d segment files for 1 MiB, want 1", len(files))
			}
			tc.damage(t, files[0])

			srv.ResetLog()
			log := &logtest.Buffer{}
			second := diskStore(t, srv, dir, 64<<20, log)
			readAll(t, second, obj, info, data)
			if gets := srv.Count("GetObject"); gets != tc.gets {
				t.Errorf("%d GETs after the damage, want %d", gets, tc.gets)
			}
			if st := second.Stats(); st.DiskDamaged != int64(tc.damaged) || st.DiskHits != int64(tc.hits) {
				t.Errorf("%d found damaged and %d blocks read from disk, want %d and %d", st.DiskDamaged, st.DiskHits, tc.damaged, tc.hits)
			}
			if !strings.Contains(log.String(), "dropped a damaged") {
				t.Errorf("the log does not mention the damage:\n%s", log)
			}
			second.Close()

			srv.ResetLog()
			third := diskStore(t, srv, dir, 64<<20, nil)
			readAll(t, third, obj, info, data)
			if gets := srv.Count("GetObject"); gets != 0 {
				t.Errorf("%d GETs after the damaged blocks were fetched again, want 0: they were not replaced on disk", gets)
			}
		})
	}
}

// flip inverts one bit of the byte at off in file.
func flip(t *testing.T, file string, off int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x01
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDiskCacheChangedETag: an object replaced on S3 (same key and size,
// new ETag) is read anew, not from the old version's blocks on disk.
func TestDiskCacheChangedETag(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	old := randomBytes(512<<10, 33)
	obj := store.S3("bucket", "raw/data.bin")
	etag := srv.PutObject("bucket", "raw/data.bin", old)
	dir := t.TempDir()
	first := diskStore(t, srv, dir, 64<<20, nil)
	readAll(t, first, obj, store.ObjectInfo{Size: int64(len(old)), ETag: etag}, old)
	first.Close()

	replaced := randomBytes(len(old), 34)
	newETag := srv.PutObject("bucket", "raw/data.bin", replaced)
	srv.ResetLog()
	second := diskStore(t, srv, dir, 64<<20, nil)
	readAll(t, second, obj, store.ObjectInfo{Size: int64(len(replaced)), ETag: newETag}, replaced)
	if st := second.Stats(); st.DiskHits != 0 {
		t.Errorf("%d blocks of the replaced object read from disk, want 0", st.DiskHits)
	}
	if gets := srv.Count("GetObject"); gets == 0 {
		t.Error("no GET for the replaced object")
	}
}

// TestDiskCacheShared: two Stores (as two mounts) share a folder too small
// for what they read, so that each evicts blocks the other reads; every
// read gets the right bytes, and the folder stays within its bound, its
// size counted once.
func TestDiskCacheShared(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	type object struct {
		obj  store.URI
		info store.ObjectInfo
		data []byte
	}
	var objects []object
	for i := range 12 {
		data := randomBytes(300<<10+i*1000, byte(40+i))
		key := fmt.Sprintf("raw/%d.bin", i)
		etag := srv.PutObject("bucket", key, data)
		objects = append(objects, object{store.S3("bucket", key), store.ObjectInfo{Size: int64(len(data)), ETag: etag}, data})
	}
	dir := t.TempDir()
	const limit = 1 << 20
	stores := []*store.Store{diskStore(t, srv, dir, limit, nil), diskStore(t, srv, dir, limit, nil)}
	var wg sync.WaitGroup
	for w, st := range stores {
		wg.Go(func() {
			for round := range 4 {
				for i := range objects {
					o := objects[(i*(w+1)+round)%len(objects)]
					// Memory holds 1 MiB: reading the others in between
					// makes this read go to disk for what it finds there.
					readAll(t, st, o.obj, o.info, o.data)
				}
			}
		})
	}
	wg.Wait()
	// Opened while the Stores have the folder: it takes their count as it
	// is, where one alone would count the files again.
	d, err := store.OpenDiskCache(dir, limit, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, st := range stores {
		st.Close()
	}
	if used := diskUsage(t, dir); used > limit {
		t.Errorf("the folder takes %d bytes, over its bound of %d", used, limit)
	}
	var hits int64
	for _, st := range stores {
		hits += st.Stats().DiskHits
	}
	if hits == 0 {
		t.Error("no block was read from disk: the test does not test sharing")
	}
	stats, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// Every block counted once: no more than what the files take, plus
	// the page each segment is counted for its map of holes, which the
	// filesystem may not have needed.
	used, segments := diskUsage(t, dir), int64(len(blockFiles(t, dir)))
	if stats.Bytes < used || stats.Bytes > used+4096*segments {
		t.Errorf("the folder's size is counted as %d, its files take %d (%d segments)", stats.Bytes, used, segments)
	}
}

// TestDiskCacheFull: a disk that fills up (a tmpfs smaller than the
// bound) is logged once, and reads go on from memory and S3.
func TestDiskCacheFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mount a small tmpfs at %s (needs root): %v", dir, err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	srv := s3test.NewServer(t, s3test.Options{})
	data := randomBytes(2<<20, 35)
	etag := srv.PutObject("bucket", "raw/data.bin", data)
	obj, info := store.S3("bucket", "raw/data.bin"), store.ObjectInfo{Size: int64(len(data)), ETag: etag}
	log := &logtest.Buffer{}
	st := diskStore(t, srv, dir, 64<<20, log)
	for range 3 {
		readAll(t, st, obj, info, data)
	}
	st.Close()
	if n := strings.Count(log.String(), "cache folder unusable"); n != 1 {
		t.Errorf("the full disk is logged %d times, want once:\n%s", n, log)
	}
	if !strings.Contains(log.String(), "no space left on device") {
		t.Errorf("the log does not give the cause:\n%s", log)
	}
}

// TestDiskCacheFolderDeleted: a cache folder deleted under a running
// Store is logged once, and reads go on.
func TestDiskCacheFolderDeleted(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	data := randomBytes(1<<20, 36)
	etag := srv.PutObject("bucket", "raw/a.bin", data)
	other := randomBytes(1<<20, 37)
	otherETag := srv.PutObject("bucket", "raw/b.bin", other)
	dir := t.TempDir()
	log := &logtest.Buffer{}
	st := diskStore(t, srv, dir, 64<<20, log)
	readAll(t, st, store.S3("bucket", "raw/a.bin"), store.ObjectInfo{Size: int64(len(data)), ETag: etag}, data)
	// As rm -r does it: a file the Store writes meanwhile may make a pass
	// fail with "directory not empty".
	for err := os.RemoveAll(dir); err != nil; err = os.RemoveAll(dir) {
		if !errors.Is(err, syscall.ENOTEMPTY) {
			t.Fatal(err)
		}
	}
	for range 2 {
		readAll(t, st, store.S3("bucket", "raw/b.bin"), store.ObjectInfo{Size: int64(len(other)), ETag: otherETag}, other)
		readAll(t, st, store.S3("bucket", "raw/a.bin"), store.ObjectInfo{Size: int64(len(data)), ETag: etag}, data)
	}
	st.Close()
	if n := strings.Count(log.String(), "cache folder unusable"); n != 1 {
		t.Errorf("the deleted folder is logged %d times, want once:\n%s", n, log)
	}
}

// TestDiskCacheSkipsLocalFiles: files of the local folder (--data) are
// never copied to the disk cache.
func TestDiskCacheSkipsLocalFiles(t *testing.T) {
	data := t.TempDir()
	want := randomBytes(1<<20, 38)
	if err := os.WriteFile(filepath.Join(data, "x.bin"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st := store.New(store.Options{Local: newLocal(t, data), DiskDir: dir, BlockSize: diskBS})
	obj := store.Local(data).Join("x.bin")
	info, err := st.Stat(context.Background(), obj)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, st, obj, info, want)
	st.Close()
	if files := blockFiles(t, dir); len(files) != 0 {
		t.Errorf("%d block files after reading a local file, want none", len(files))
	}
}
