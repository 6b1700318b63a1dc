package fs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

// TestMountColumnReadsServedByKernel reads one column of a chunked
// dataset the way HDF5 does when a chunk is larger than its chunk cache:
// an element of two bytes at a time, at the stride of a row within each
// chunk, chunk after chunk through the file. With the default mount the
// kernel's page cache answers those reads: aindfs gets a few requests per
// chunk, not one per element. The bytes are those stored, and the file
// can be mapped.
func TestMountColumnReadsServedByKernel(t *testing.T) {
	const (
		chunk   = 1 << 20 // bytes of a chunk
		columns = 3       // chunks side by side in a row of chunks
		rows    = 16      // rows of chunks in the file
		element = 2       // int16
		stride  = 64      // bytes of a row within a chunk: 32 channels
	)
	var data []byte
	rig := online{prepare: func(srv *s3test.Server) {
		data, _ = bigFile(srv, "traces.h5", rows*columns*chunk)
	}}.start(t)
	if n := rig.m.DirectIO(); n != 0 {
		t.Fatalf("the default mount opens files of %d bytes and more for direct I/O, want none", n)
	}
	path := filepath.Join(rig.m.Dir, "sessions", sample.SessionID, "raw", "traces.h5")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	before := rig.st.Stats()
	buf := make([]byte, element)
	reads := 0
	for row := range rows {
		start := int64(row*columns+1) * chunk // the second chunk of each row
		for off := start; off < start+chunk; off += stride {
			if n, err := f.ReadAt(buf, off); n != element || err != nil || !bytes.Equal(buf, data[off:off+element]) {
				t.Fatalf("pread of %d bytes at %d: %d bytes %x, %v; want %x", element, off, n, buf[:n], err, data[off:off+element])
			}
			reads++
		}
	}
	// Every read that reaches aindfs looks up at least one block.
	after := rig.st.Stats()
	lookups := after.CacheHits + after.CacheMisses - before.CacheHits - before.CacheMisses
	if lookups > int64(reads/64) {
		t.Errorf("%d preads of %d bytes made aindfs look up %d blocks: want the kernel to answer them, with at most %d reads reaching aindfs",
			reads, element, lookups, reads/64)
	}
	if lookups == 0 {
		t.Errorf("%d preads made aindfs look up no block: the reads did not go through the mount's store", reads)
	}
	checkMapped(t, path, data)
}
