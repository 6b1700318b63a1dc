package fs

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

// TestMountReadsLendCachedBlocks reads files through the mount, several
// readers at once, through a cache much smaller than what they read, so
// that blocks are evicted while the kernel is still being sent them. The
// bytes are right, and once the reads are over every block lent to a FUSE
// answer is back: buffers hold the cache and nothing else.
func TestMountReadsLendCachedBlocks(t *testing.T) {
	var files [][]byte
	rig := online{
		store: store.Options{CacheBytes: 2 << 20, BlockSize: 64 << 10, PartSize: 256 << 10},
		prepare: func(srv *s3test.Server) {
			for _, n := range []int{6<<20 + 12345, 5 << 20, 777} {
				data, _ := bigFile(srv, "lend"+string(rune('a'+len(files)))+".bin", n)
				files = append(files, data)
			}
		},
	}.start(t)
	m, st := rig.m, rig.st
	raw := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw")

	var wg sync.WaitGroup
	for i, want := range files {
		path := filepath.Join(raw, "lend"+string(rune('a'+i))+".bin")
		// A sequential reader, and one reading the file from its end
		// backwards in odd sizes.
		wg.Go(func() {
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("read %s: %d bytes, %v; want the %d bytes put", path, len(got), err, len(want))
			}
		})
		wg.Go(func() {
			f, err := os.Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			buf := make([]byte, 300_001)
			for end := int64(len(want)); end > 0; end -= int64(len(buf)) {
				off := max(0, end-int64(len(buf)))
				n, err := f.ReadAt(buf[:end-off], off)
				if err != nil && err != io.EOF || !bytes.Equal(buf[:n], want[off:end]) {
					t.Errorf("read %s at %d: %d bytes, %v, or wrong bytes", path, off, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, "the lent blocks to come back", func() bool {
		s := st.Stats()
		return s.BufferBytes == s.CachedBytes && s.InflightBytes == 0
	})
	if s := st.Stats(); s.BytesServed < int64(len(files[0])+len(files[1])) {
		t.Errorf("the store served %d bytes: the reads did not go through it", s.BytesServed)
	}
}
