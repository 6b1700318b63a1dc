package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// s3Objects is an in-memory S3 server on 127.0.0.1 holding objects under
// one bucket, for tests inside the package (store/s3test imports the
// package, so it cannot be used here).
type s3Objects struct {
	t       *testing.T
	mem     *s3mem.Backend
	backend *S3Backend
	data    map[string][]byte
}

func newS3Objects(t *testing.T) *s3Objects {
	t.Helper()
	mem := s3mem.New()
	srv := httptest.NewUnstartedServer(gofakes3.New(mem, gofakes3.WithAutoBucket(true)).Server())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	if err := mem.CreateBucket("bucket"); err != nil {
		t.Fatal(err)
	}
	b, err := NewS3(context.Background(), S3Options{
		Region:      "us-west-2",
		Endpoint:    srv.URL,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test-secret", ""),
		// A plain client, so that AWS_CA_BUNDLE plays no part.
		HTTPClient: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 16,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &s3Objects{t: t, mem: mem, backend: b, data: make(map[string][]byte)}
}

// put stores size random bytes under key.
func (o *s3Objects) put(key string, size int) {
	o.t.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(o.data)), uint64(size)))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if _, err := o.mem.PutObject("bucket", key, map[string]string{}, bytes.NewReader(data), int64(size), nil); err != nil {
		o.t.Fatal(err)
	}
	o.data[key] = data
}

// readAll reads the objects named by keys whole through st, with a few
// readers at once, and checks their bytes.
func (o *s3Objects) readAll(st *Store, keys []string) {
	o.t.Helper()
	const readers = 4
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for w := range readers {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for i := w; i < len(keys); i += readers {
				if err := o.read(st, keys[i], buf); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		o.t.Fatal(err)
	}
}

func (o *s3Objects) read(st *Store, key string, buf []byte) error {
	want := o.data[key]
	obj, err := o.mem.HeadObject("bucket", key)
	if err != nil {
		return err
	}
	info := ObjectInfo{Size: int64(len(want)), ETag: `"` + hex.EncodeToString(obj.Hash) + `"`}
	r := st.Open(S3("bucket", key), info)
	defer r.Close()
	for off := 0; off < len(want); off += len(buf) {
		n, err := r.ReadAt(context.Background(), buf, int64(off))
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s at %d: %w", key, off, err)
		}
		if !bytes.Equal(buf[:n], want[off:min(off+len(buf), len(want))]) {
			return fmt.Errorf("read %s at %d: wrong bytes", key, off)
		}
	}
	return nil
}

func heapAlloc() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func TestSmallBlocksOffHeap(t *testing.T) {
	const (
		n    = 2000
		size = 8 << 10
	)
	objs := newS3Objects(t)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("session/meta/f%04d.json", i)
		objs.put(keys[i], size)
	}
	objs.put("session/warmup.json", size)
	st := New(Options{S3: objs.backend, CacheBytes: 4 * n * size})
	defer st.Close()
	// The first request sets up the client's connections and caches.
	objs.readAll(st, []string{"session/warmup.json"})

	before := heapAlloc()
	objs.readAll(st, keys)
	after := heapAlloc()
	cached := st.Stats().CachedBytes
	if cached < n*size {
		t.Fatalf("cache holds %d bytes after reading %d bytes of objects into a cache of %d", cached, n*size, 4*n*size)
	}
	if grown := after - before; grown > n*size/4 {
		t.Errorf("Go heap grew by %d KiB while %d KiB of small objects were cached, want under %d KiB: their blocks live on the heap",
			grown>>10, n*size>>10, n*size/4>>10)
	}

	requests := st.Stats().Requests
	objs.readAll(st, keys)
	if again := st.Stats().Requests - requests; again != 0 {
		t.Errorf("second pass over cached small objects made %d requests, want 0", again)
	}
	runtime.KeepAlive(objs)
}

// residentTotal is the resident bytes of all pools.
func residentTotal() int64 {
	var total int64
	pools.Range(func(_, p any) bool {
		total += p.(*bufferPool).resident()
		return true
	})
	return total
}

func TestBuffersDoNotStrandAcrossClasses(t *testing.T) {
	const (
		budget = 16 << 20
		small  = 16 << 10
	)
	objs := newS3Objects(t)
	keys := make([]string, budget/small+budget/small/8) // enough to fill the cache and evict
	for i := range keys {
		keys[i] = fmt.Sprintf("session/meta/f%04d.json", i)
		objs.put(keys[i], small)
	}
	objs.put("session/raw/data.bin", 2*budget)

	// Pools are shared by every Store in the process: start from pools
	// holding no spare resident memory, so that what earlier tests left
	// in them neither hides growth nor gets counted.
	releaseSpare(nil, math.MaxInt64)
	base := residentTotal()
	st := New(Options{S3: objs.backend, CacheBytes: budget})
	defer st.Close()

	// A couple of chunks per class used: 16 KiB and 128 KiB blocks.
	slack := 2*int64(chunkFor(small)) + 2*int64(chunkFor(DefaultBlockSize))
	for _, phase := range []struct {
		name string
		keys []string
	}{
		{"small objects", keys},
		{"a large object in whole blocks", []string{"session/raw/data.bin"}},
		{"small objects again", keys},
	} {
		objs.readAll(st, phase.keys)
		if got := residentTotal() - base; got > budget+slack {
			t.Errorf("after reading %s: %d KiB of buffers resident for a cache of %d KiB, want at most %d KiB",
				phase.name, got>>10, budget>>10, (budget+slack)>>10)
		}
	}
}

// TestBufferPoolsShareMemory has pools of two classes grow and shrink at
// once, so that each releases free buffers for the other: a buffer held
// by its taker must keep its bytes, and never be handed out twice.
func TestBufferPoolsShareMemory(t *testing.T) {
	// Sizes no block takes, so that no other test uses these pools.
	a, b := poolFor(12<<10), poolFor(20<<10)
	releaseSpare(nil, math.MaxInt64)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		p := []*bufferPool{a, b}[w%2]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var held [][]byte
			for round := range 200 {
				mark := byte(w<<6 | round%64)
				for range rng.IntN(3 * p.chunk / p.size) {
					buf := p.get()
					buf[0], buf[len(buf)/2], buf[len(buf)-1] = mark, mark, mark
					held = append(held, buf)
				}
				runtime.Gosched()
				for _, buf := range held {
					if buf[0] != mark || buf[len(buf)/2] != mark || buf[len(buf)-1] != mark {
						errs <- fmt.Errorf("a held %d-byte buffer changed while held", p.size)
						return
					}
					p.put(buf)
				}
				held = held[:0]
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
