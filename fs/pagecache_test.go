package fs

import (
	"bytes"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

// TestMountColumnReadsServedByKernel reads one column of a chunked
// dataset the way HDF5 does when a chunk is larger than its chunk cache:
// an element of two bytes at a time, at the stride of a row within each
// chunk, chunk after chunk through the file. With the default mount the
// kernel's page cache answers those reads: aindfs gets a few requests per
// chunk, not one per element (counted as the requests aindfs answers). The bytes are those stored, and the file
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
	var requests atomic.Int64 // read requests aindfs answered
	rig := online{mount: MountOptions{Reads: func(time.Duration, error) { requests.Add(1) }}, prepare: func(srv *s3test.Server) {
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

	before := requests.Load()
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
	if n := requests.Load() - before; n > int64(reads/64) {
		t.Errorf("%d preads of %d bytes reached aindfs as %d read requests: want the kernel to answer them, with at most %d requests",
			reads, element, n, reads/64)
	} else if n == 0 {
		t.Errorf("%d preads made no read request to aindfs: the file did not come through the mount", reads)
	}
	checkMapped(t, path, data)
}
