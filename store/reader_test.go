package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

// fixture is a server holding one object and a Store reading from it.
type fixture struct {
	srv  *s3test.Server
	st   *store.Store
	obj  store.URI
	info store.ObjectInfo
	data []byte
}

func newFixture(t *testing.T, size int, opts store.Options, shape ...s3test.Options) *fixture {
	t.Helper()
	var so s3test.Options
	if len(shape) > 0 {
		so = shape[0]
	}
	srv := s3test.NewServer(t, so)
	data := randomBytes(size, byte(size))
	etag := srv.PutObject("bucket", "session/raw/data.bin", data)
	opts.S3 = srv.Backend(t)
	st := store.New(opts)
	t.Cleanup(func() { st.Close() })
	return &fixture{
		srv:  srv,
		st:   st,
		obj:  store.S3("bucket", "session/raw/data.bin"),
		info: store.ObjectInfo{Name: "data.bin", Size: int64(size), ETag: etag},
		data: data,
	}
}

// readSlowly reads [from, to) of the fixture's object through r in reads
// of n bytes, one at a time, pausing before each so that readahead runs
// ahead of the reader as far as it will, and checks the bytes.
func (f *fixture) readSlowly(t *testing.T, r *store.Reader, from, to int64, n int, pause time.Duration) {
	t.Helper()
	buf := make([]byte, n)
	for off := from; off < to; off += int64(n) {
		time.Sleep(pause)
		got, err := r.ReadAt(context.Background(), buf, off)
		if err != nil && err != io.EOF || !bytes.Equal(buf[:got], f.data[off:off+int64(got)]) {
			t.Fatalf("read at %d: %d bytes, %v, or wrong bytes", off, got, err)
		}
	}
}

// idle waits for the server to finish the requests in progress, so that
// its log is complete.
func (f *fixture) idle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.srv.Active() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("server still busy with %d requests", f.srv.Active())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRandomReadsByteExact(t *testing.T) {
	// Small blocks and a cache smaller than the object, so that reads
	// cross blocks, share fetches, miss and evict.
	f := newFixture(t, 3<<20+4321, store.Options{BlockSize: 32 << 10, CacheBytes: 3 << 20, PartSize: 256 << 10})
	r := f.st.Open(f.obj, f.info)
	defer r.Close()
	checkRandomReads(t, r, f.data, 10_000, 4)
	if st := f.st.Stats(); st.CachedBytes > 3<<20 || st.CacheHits == 0 || st.CacheMisses == 0 {
		t.Errorf("stats %+v: want hits, misses and at most 3 MiB cached", st)
	}
}

// readCase is a read of n bytes at off, and what it should give.
type readCase struct {
	off     int64
	n       int
	wantN   int
	wantErr error
}

func TestReadAtEdges(t *testing.T) {
	f := newFixture(t, 100_000, store.Options{BlockSize: 16 << 10})
	r := f.st.Open(f.obj, f.info)
	defer r.Close()
	ctx := context.Background()
	tests := []readCase{
		{0, 0, 0, nil},
		{0, 100_000, 100_000, nil},
		{99_990, 10, 10, nil},
		{99_990, 100, 10, io.EOF},
		{100_000, 10, 0, io.EOF},
		{200_000, 10, 0, io.EOF},
		{16 << 10, 16 << 10, 16 << 10, nil}, // exactly one block
	}
	for _, tt := range tests {
		buf := make([]byte, tt.n)
		n, err := r.ReadAt(ctx, buf, tt.off)
		if n != tt.wantN || err != tt.wantErr {
			t.Errorf("ReadAt(%d bytes at %d) = %d, %v; want %d, %v", tt.n, tt.off, n, err, tt.wantN, tt.wantErr)
			continue
		}
		if !bytes.Equal(buf[:n], f.data[min(tt.off, 100_000):min(tt.off, 100_000)+int64(n)]) {
			t.Errorf("ReadAt(%d bytes at %d): bytes differ", tt.n, tt.off)
		}
	}
	if _, err := r.ReadAt(ctx, make([]byte, 1), -1); err == nil {
		t.Error("ReadAt at a negative offset: no error")
	}
	r.Close()
	if _, err := r.ReadAt(ctx, make([]byte, 1), 0); !errors.Is(err, store.ErrClosed) {
		t.Errorf("ReadAt after Close: %v, want ErrClosed", err)
	}
}

func TestOpenWithoutETag(t *testing.T) {
	f := newFixture(t, 50_000, store.Options{})
	r := f.st.Open(f.obj, store.ObjectInfo{Name: "data.bin"})
	defer r.Close()
	buf := make([]byte, 50_000)
	if n, err := r.ReadAt(context.Background(), buf, 0); n != 50_000 || err != nil || !bytes.Equal(buf, f.data) {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if n := f.srv.Count("HeadObject"); n != 1 {
		t.Errorf("%d HEAD requests, want 1 to learn the ETag", n)
	}
}

// sequential reads the whole object with reads of n bytes, inflight of
// them at a time, handed out in shuffled groups as the kernel's concurrent
// requests arrive.
func sequential(t *testing.T, r *store.Reader, want []byte, n, inflight int) {
	t.Helper()
	size := int64(len(want))
	var offs []int64
	for off := int64(0); off < size; off += int64(n) {
		offs = append(offs, off)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(offs); i += inflight {
		g := offs[i:min(i+inflight, len(offs))]
		rng.Shuffle(len(g), func(a, b int) { g[a], g[b] = g[b], g[a] })
	}
	work := make(chan int64)
	errs := make(chan error, inflight)
	for range inflight {
		go func() {
			buf := make([]byte, n)
			for off := range work {
				got, err := r.ReadAt(context.Background(), buf, off)
				if err != nil && err != io.EOF || !bytes.Equal(buf[:got], want[off:off+int64(got)]) {
					errs <- fmt.Errorf("read at %d: %d bytes, %v, or wrong bytes", off, got, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for _, off := range offs {
		work <- off
	}
	close(work)
	for range inflight {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestSequentialReadRequests(t *testing.T) {
	tests := []struct {
		name     string
		readSize int
		inflight int
	}{
		{"one read at a time", 128 << 10, 1},
		{"kernel-like, four reads in flight out of order", 128 << 10, 4},
		{"large reads", 1 << 20, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const size = 12<<20 + 5
			f := newFixture(t, size, store.Options{BlockSize: 64 << 10, PartSize: 1 << 20})
			r := f.st.Open(f.obj, f.info)
			sequential(t, r, f.data, tt.readSize, tt.inflight)
			r.Close()
			f.idle(t)

			// Every byte fetched once, by readahead in large GETs.
			gets := f.srv.Count("GetObject")
			if sent := f.srv.BytesSent("GetObject"); sent != size {
				t.Errorf("server sent %d bytes for a %d-byte object", sent, size)
			}
			reads := (size + tt.readSize - 1) / tt.readSize
			if gets > size/(256<<10) {
				t.Errorf("%d GETs for %d reads of %d bytes: readahead should make few, large GETs", gets, reads, tt.readSize)
			}
			if st := f.st.Stats(); st.PrefetchBytes < size/2 {
				t.Errorf("only %d bytes of readahead", st.PrefetchBytes)
			}

			// Reading again is served from the cache: not one request.
			f.srv.ResetLog()
			r = f.st.Open(f.obj, f.info)
			sequential(t, r, f.data, tt.readSize, tt.inflight)
			r.Close()
			f.idle(t)
			if n := f.srv.Count(""); n != 0 {
				t.Errorf("re-read made %d requests, want 0", n)
			}
		})
	}
}

func TestRandomReadsFetchLittle(t *testing.T) {
	const size = 128 << 20
	f := newFixture(t, size, store.Options{})
	r := f.st.Open(f.obj, f.info)
	defer r.Close()
	// 256 KiB reads at random offsets, each in its own 4 MiB slot so that
	// no two share a block or look like a sequential stream (as in a file
	// much larger than the test's).
	rng := rand.New(rand.NewPCG(3, 4))
	var offs []int64
	for _, slot := range rng.Perm(size >> 22)[:24] {
		offs = append(offs, int64(slot)<<22+rng.Int64N(1<<20))
	}
	read := func() {
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				buf := make([]byte, 256<<10)
				for j := i; j < len(offs); j += 4 {
					off := offs[j]
					if _, err := r.ReadAt(context.Background(), buf, off); err != nil || !bytes.Equal(buf, f.data[off:off+256<<10]) {
						t.Errorf("read at %d: %v or wrong bytes", off, err)
					}
				}
			})
		}
		wg.Wait()
	}
	read()
	st := f.st.Stats()
	if ratio := float64(st.BytesFetched) / float64(st.BytesServed); ratio > 1.5 {
		t.Errorf("fetched %d bytes to serve %d (%.2fx); random reads should fetch only the blocks they touch",
			st.BytesFetched, st.BytesServed, ratio)
	}
	f.idle(t)
	f.srv.ResetLog()
	read()
	f.idle(t)
	if n := f.srv.Count(""); n != 0 {
		t.Errorf("second pass over the same offsets made %d requests, want 0", n)
	}
}

func TestConcurrentReadsShareFetches(t *testing.T) {
	// Slow answers, so that all readers ask while the first GET is on its way.
	f := newFixture(t, 1<<20, store.Options{BlockSize: 64 << 10}, s3test.Options{Latency: 100 * time.Millisecond})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			r := f.st.Open(f.obj, f.info)
			defer r.Close()
			buf := make([]byte, 100_000)
			off := int64(300_000 + i*1000)
			if _, err := r.ReadAt(context.Background(), buf, off); err != nil || !bytes.Equal(buf, f.data[off:off+100_000]) {
				t.Errorf("reader %d: %v or wrong bytes", i, err)
			}
		})
	}
	wg.Wait()
	f.idle(t)
	// Eight readers of overlapping ranges in blocks 4 to 6: each block is
	// fetched once.
	if sent := f.srv.BytesSent("GetObject"); sent != 3*64<<10 {
		t.Errorf("server sent %d bytes for 8 readers of the same three blocks (%d bytes)", sent, 3*64<<10)
	}
}

func TestConcurrentReadersBoundedMemory(t *testing.T) {
	const (
		readers   = 16
		size      = 4 << 20
		cache     = 4 << 20
		inflight  = 2 << 20
		readSize  = 128 << 10
		blockSize = 64 << 10
	)
	srv := s3test.NewServer(t, s3test.Options{})
	var objs [][]byte
	var etags []string
	for i := range readers {
		objs = append(objs, randomBytes(size, byte(100+i)))
		etags = append(etags, srv.PutObject("bucket", fmt.Sprintf("o%d", i), objs[i]))
	}
	st := store.New(store.Options{S3: srv.Backend(t), CacheBytes: cache, MaxInflightBytes: inflight, BlockSize: blockSize, PartSize: 512 << 10})
	defer st.Close()
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			r := st.Open(store.S3("bucket", fmt.Sprintf("o%d", i)), store.ObjectInfo{Size: size, ETag: etags[i]})
			defer r.Close()
			sequential(t, r, objs[i], readSize, 2)
		})
	}
	wg.Wait()
	stats := st.Stats()
	// 64 MiB read through a 4 MiB cache: memory holds the cache, the
	// blocks being filled and those being copied out, nothing more.
	bound := int64(cache + inflight + readers*2*readSize)
	if stats.PeakBufferBytes > bound {
		t.Errorf("peak buffer memory %d bytes, want at most %d (cache %d + in flight %d + copies)",
			stats.PeakBufferBytes, bound, cache, inflight)
	}
	if stats.CachedBytes > cache {
		t.Errorf("cache holds %d bytes, budget %d", stats.CachedBytes, cache)
	}
	if stats.InflightBytes != 0 {
		t.Errorf("%d bytes still counted in flight after all reads", stats.InflightBytes)
	}
	st.Close()
	if stats := st.Stats(); stats.BufferBytes != 0 {
		t.Errorf("%d bytes of buffers held after Close", stats.BufferBytes)
	}
}

func TestReaderObjectReplaced(t *testing.T) {
	f := newFixture(t, 1<<20, store.Options{BlockSize: 64 << 10})
	next := randomBytes(1<<20, 9)
	r := f.st.Open(f.obj, f.info)
	defer r.Close()
	ctx := context.Background()
	buf := make([]byte, 200_000)

	// The object is replaced while an answer streams, and the connection
	// then breaks: the resumed GET, pinned to the old ETag, is refused.
	f.srv.Inject(s3test.Fault{Kind: s3test.Replace, After: 10_000, Data: next})
	f.srv.Inject(s3test.Fault{Kind: s3test.Cut, After: 150_000})
	n, err := r.ReadAt(ctx, buf, 500_000)
	if !errors.Is(err, store.ErrChanged) {
		t.Fatalf("read across the replacement: %d, %v; want ErrChanged", n, err)
	}
	if !bytes.Equal(buf[:n], f.data[500_000:500_000+n]) {
		t.Fatal("read returned bytes of the new version")
	}
	// The reader stays failed, even where it has old blocks cached.
	for _, off := range []int64{0, 500_000} {
		if _, err := r.ReadAt(ctx, buf, off); !errors.Is(err, store.ErrChanged) {
			t.Errorf("read at %d after ErrChanged: %v, want ErrChanged again", off, err)
		}
	}

	// Another reader of the old version finds out on its first GET.
	r2 := f.st.Open(f.obj, f.info)
	defer r2.Close()
	if _, err := r2.ReadAt(ctx, buf, 800_000); !errors.Is(err, store.ErrChanged) {
		t.Errorf("new reader of the old version: %v, want ErrChanged", err)
	}

	// A reader of the new version reads it.
	info, err := f.st.Stat(ctx, f.obj)
	if err != nil {
		t.Fatal(err)
	}
	r3 := f.st.Open(f.obj, info)
	defer r3.Close()
	if _, err := r3.ReadAt(ctx, buf, 500_000); err != nil || !bytes.Equal(buf, next[500_000:700_000]) {
		t.Errorf("read of the new version: %v or wrong bytes", err)
	}
}

func TestCancelStopsGet(t *testing.T) {
	// 100 KB/s: the 1 MiB GET would take ten seconds.
	srv := s3test.NewServer(t, s3test.Options{BytesPerSecond: 100_000})
	data := randomBytes(1<<20, 10)
	etag := srv.PutObject("bucket", "obj", data)
	st := store.New(store.Options{S3: srv.Backend(t), BlockSize: 16 << 10})
	defer st.Close()
	info := store.ObjectInfo{Size: 1 << 20, ETag: etag}
	waitActive := func() {
		for srv.Active() == 0 {
			time.Sleep(time.Millisecond)
		}
	}

	// A lone reader that gives up: its GET stops.
	r := st.Open(store.S3("bucket", "obj"), info)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { waitActive(); cancel() }()
	_, err := r.ReadAt(ctx, make([]byte, 1<<20), 0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v, want context.Canceled", err)
	}
	r.Close()
	for srv.Active() > 0 {
		time.Sleep(time.Millisecond)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Bytes >= 1<<20 {
		t.Fatalf("requests %+v: want one GET stopped before its end", reqs)
	}

	// Two readers waiting for the same block: when one gives up, the GET
	// goes on for the other.
	srv.ResetLog()
	misses := st.Stats().CacheMisses
	a, b := st.Open(store.S3("bucket", "obj"), info), st.Open(store.S3("bucket", "obj"), info)
	defer a.Close()
	defer b.Close()
	actx, acancel := context.WithCancel(context.Background())
	aerr := make(chan error)
	go func() {
		_, err := a.ReadAt(actx, make([]byte, 1000), 500_000)
		aerr <- err
	}()
	waitActive()
	berr := make(chan error)
	buf := make([]byte, 1000)
	go func() {
		_, err := b.ReadAt(context.Background(), buf, 500_000)
		berr <- err
	}()
	// Let b join the fetch before a leaves it: b's wait counts as a miss.
	for st.Stats().CacheMisses < misses+2 {
		time.Sleep(time.Millisecond)
	}
	acancel()
	if err := <-aerr; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled reader: %v", err)
	}
	if err := <-berr; err != nil || !bytes.Equal(buf, data[500_000:501_000]) {
		t.Errorf("other reader: %v or wrong bytes", err)
	}
	if n := srv.Count("GetObject"); n != 1 {
		t.Errorf("%d GETs, want the one both readers waited for", n)
	}
}

func TestPersistentFailureThroughStore(t *testing.T) {
	f := newFixture(t, 200_000, store.Options{})
	opts := f.srv.S3Options()
	opts.RetryTimeout = 300 * time.Millisecond
	b, err := store.NewS3(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(store.Options{S3: b})
	defer st.Close()
	f.srv.Inject(s3test.Fault{Kind: s3test.Status, Status: 500, Times: -1})
	r := st.Open(f.obj, f.info)
	defer r.Close()
	_, err = r.ReadAt(context.Background(), make([]byte, 1000), 0)
	if err == nil || !strings.Contains(err.Error(), "InternalError") {
		t.Fatalf("read while S3 fails: %v, want the cause", err)
	}
}

// TestSlowSequentialReaderSmallCache reads an object much larger than the
// cache, one read at a time and more slowly than the network delivers, as
// a program reading through the mount does. Readahead must not evict its
// own blocks before they are read: every byte is fetched once, in large
// GETs, to the end of the object.
func TestSlowSequentialReaderSmallCache(t *testing.T) {
	const (
		size     = 48 << 20
		cache    = 8 << 20
		readSize = 1 << 20
	)
	f := newFixture(t, size, store.Options{BlockSize: 64 << 10, PartSize: 1 << 20, CacheBytes: cache})
	r := f.st.Open(f.obj, f.info)
	f.readSlowly(t, r, 0, size, readSize, 3*time.Millisecond)
	r.Close()
	f.idle(t)
	if sent := f.srv.BytesSent("GetObject"); sent != size {
		t.Errorf("server sent %d bytes (%.2fx) for a %d-byte object read once: readahead evicted before it was read",
			sent, float64(sent)/size, size)
	}
	if gets := f.srv.Count("GetObject"); gets > size/(256<<10) {
		t.Errorf("%d GETs for %d reads of %d bytes: reads past the first went without readahead", gets, size/readSize, readSize)
	}
}

// TestSequentialReaderResumesAfterEviction has another reader sweep the
// cache in the middle of a stream, evicting the stream's readahead. The
// stream's next read fetches what it needs itself, and readahead resumes
// right behind it instead of leaving each following read to its own GET.
func TestSequentialReaderResumesAfterEviction(t *testing.T) {
	const (
		size     = 24 << 20
		cache    = 8 << 20
		readSize = 512 << 10
	)
	f := newFixture(t, size, store.Options{BlockSize: 32 << 10, PartSize: 1 << 20, CacheBytes: cache})
	other := randomBytes(2*cache, 77)
	otherETag := f.srv.PutObject("bucket", "session/raw/other.bin", other)
	r := f.st.Open(f.obj, f.info)
	defer r.Close()
	read := func(from, to int64) {
		t.Helper()
		f.readSlowly(t, r, from, to, readSize, 4*time.Millisecond)
	}
	read(0, size/2)
	time.Sleep(20 * time.Millisecond)
	f.idle(t)

	sweep := f.st.Open(store.S3("bucket", "session/raw/other.bin"), store.ObjectInfo{Size: int64(len(other)), ETag: otherETag})
	big := make([]byte, len(other))
	if n, err := sweep.ReadAt(context.Background(), big, 0); err != nil || !bytes.Equal(big[:n], other) {
		t.Fatalf("reading the other object: %d bytes, %v, or wrong bytes", n, err)
	}
	sweep.Close()
	f.idle(t)

	f.srv.ResetLog()
	read(size/2, size)
	r.Close()
	f.idle(t)
	// Readahead asks for parts of its own size (but for the last, cut at
	// the end of the object); a read that finds nothing cached or on its
	// way fetches its whole extent.
	var onDemand []string
	for _, q := range f.srv.Requests() {
		var from, to int64
		if q.Op == "GetObject" && strings.HasSuffix(q.Key, "data.bin") {
			if _, err := fmt.Sscanf(q.Range, "bytes=%d-%d", &from, &to); err == nil && to+1-from == readSize && to+1 < size {
				onDemand = append(onDemand, q.Range)
			}
		}
	}
	if len(onDemand) > 1 {
		t.Errorf("after the sweep, %d reads fetched their own bytes (%v); readahead should resume after the first",
			len(onDemand), onDemand)
	}
}

func TestLend(t *testing.T) {
	const size, bs = 100_000, 16 << 10
	f := newFixture(t, size, store.Options{BlockSize: bs, CacheBytes: 4 * bs})
	r := f.st.Open(f.obj, f.info)
	defer r.Close()
	ctx := context.Background()
	joined := func(l *store.Lent) []byte {
		var out []byte
		for _, part := range l.Parts() {
			out = append(out, part...)
		}
		return out
	}
	tests := []readCase{
		{0, 100, 100, nil},
		{bs - 10, 3 * bs, 3 * bs, nil}, // across four blocks
		{2 * bs, bs, bs, nil},          // exactly one block
		{size - 10, 100, 10, io.EOF},
		{size, 10, 0, io.EOF},
	}
	for _, tt := range tests {
		l, err := r.Lend(ctx, make([]byte, tt.n), tt.off)
		if l == nil || l.Len() != tt.wantN || err != tt.wantErr {
			t.Errorf("Lend(%d bytes at %d) = %v, %v; want %d bytes, %v", tt.n, tt.off, l, err, tt.wantN, tt.wantErr)
			continue
		}
		if got := joined(l); !bytes.Equal(got, f.data[tt.off:tt.off+int64(tt.wantN)]) {
			t.Errorf("Lend(%d bytes at %d): %d bytes, differing from the object's", tt.n, tt.off, len(got))
		}
		l.Release()
		l.Release()
	}
	if st := f.st.Stats(); st.BufferBytes != st.CachedBytes {
		t.Errorf("after every Release, %d bytes of buffers held for %d cached", st.BufferBytes, st.CachedBytes)
	}

	// Lent bytes stay put while the rest of the object goes through the
	// cache, evicting their blocks.
	l, err := r.Lend(ctx, make([]byte, 2*bs), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(ctx, make([]byte, size-2*bs), 2*bs); err != nil {
		t.Fatal(err)
	}
	f.idle(t)
	if st := f.st.Stats(); st.BufferBytes <= st.CachedBytes {
		t.Errorf("%d bytes of buffers for %d cached: the lent blocks should be evicted and still held", st.BufferBytes, st.CachedBytes)
	}
	if got := joined(l); !bytes.Equal(got, f.data[:2*bs]) {
		t.Error("lent bytes changed when their blocks were evicted")
	}
	l.Release()
	if st := f.st.Stats(); st.BufferBytes != st.CachedBytes {
		t.Errorf("after Release, %d bytes of buffers held for %d cached", st.BufferBytes, st.CachedBytes)
	}
	if _, err := r.Lend(ctx, make([]byte, 1), -1); err == nil {
		t.Error("Lend at a negative offset: no error")
	}
}

func TestLendLocal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.bin")
	data := randomBytes(50_000, 5)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := store.New(store.Options{Local: newLocal(t, dir)})
	defer s.Close()
	info, err := s.Stat(context.Background(), store.Local(path))
	if err != nil {
		t.Fatal(err)
	}
	r := s.Open(store.Local(path), info)
	defer r.Close()
	buf := make([]byte, 1000)
	l, err := r.Lend(context.Background(), buf, 49_500)
	if err != io.EOF || l.Len() != 500 || len(l.Parts()) != 1 || !bytes.Equal(l.Parts()[0], data[49_500:]) {
		t.Fatalf("Lend of a local file's last 500 bytes: %v, %d bytes", err, l.Len())
	}
	if &l.Parts()[0][0] != &buf[0] {
		t.Error("a local read lends something other than the buffer it was given")
	}
	l.Release()
}

// TestStridedReadsFetchedAhead reads one column of chunks the way the
// kernel asks for it when HDF5 reads a column element by element: a
// short stream of reads at the start of each chunk, chunks evenly spaced
// through the object. Once the pattern shows, each chunk ahead is fetched
// whole by one GET before the reader gets there, and nothing between them.
func TestStridedReadsFetchedAhead(t *testing.T) {
	const (
		chunk  = 512 << 10
		stride = 8 << 20
		chunks = 20
		first  = 1 << 20
		size   = first + chunks*stride
	)
	f := newFixture(t, size, store.Options{})
	r := f.st.Open(f.obj, f.info)
	defer r.Close()
	start := func(i int) int64 { return first + int64(i)*stride + int64(i%3)*512 }
	var before int64
	for i := range chunks {
		if i == 4 {
			before = f.st.Stats().Unforeseen
		}
		at := start(i)
		for size := int64(16 << 10); at < start(i)+chunk; size = min(4*size, 1<<20) {
			buf := make([]byte, size)
			n, err := r.ReadAt(context.Background(), buf, at)
			if err != nil || !bytes.Equal(buf[:n], f.data[at:at+int64(n)]) {
				t.Fatalf("read of chunk %d at %d: %v or wrong bytes", i, at, err)
			}
			at += size
		}
	}
	if n := f.st.Stats().Unforeseen - before; n != 0 {
		t.Errorf("reads of chunks 4 to %d fetched %d blocks themselves: want every one asked for ahead", chunks-1, n)
	}
	f.idle(t)
	// The first chunks are read as streams of their own, whose readahead
	// reaches a few chunks past them; from the pattern on, the gaps are
	// left alone.
	if fetched := f.srv.BytesSent("GetObject"); fetched > size/2 {
		t.Errorf("fetched %d bytes of %d to read %d chunks of %d: the gaps between them were fetched too", fetched, size, chunks, chunk)
	}
}
