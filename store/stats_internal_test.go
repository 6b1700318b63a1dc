package store

import "testing"

// TestBytesFromCache: a second read of an object held in the cache is
// counted as bytes from the cache, all of it; the first read none of it.
func TestBytesFromCache(t *testing.T) {
	const size = 3*DefaultBlockSize + 1000 // a short last block
	objs := newS3Objects(t)
	objs.put("session/a.bin", size)
	st := New(Options{S3: objs.backend, CacheBytes: 64 << 20})
	defer st.Close()
	buf := make([]byte, 1<<20)

	if err := objs.read(st, "session/a.bin", buf); err != nil {
		t.Fatal(err)
	}
	first := st.Stats()
	if first.BytesServed != size || first.BytesFromCache != 0 {
		t.Fatalf("first read: %d bytes served, %d from the cache; want %d and 0", first.BytesServed, first.BytesFromCache, size)
	}
	if err := objs.read(st, "session/a.bin", buf); err != nil {
		t.Fatal(err)
	}
	second := st.Stats()
	if served, cached := second.BytesServed-first.BytesServed, second.BytesFromCache-first.BytesFromCache; served != size || cached != size {
		t.Errorf("second read: %d bytes served, %d from the cache; want %d of each", served, cached, size)
	}
}
