package store_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

func TestSmoke(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	data := make([]byte, 5<<20+123)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	srv.PutObject("b", "dir/obj", data)
	s := store.New(store.Options{S3: srv.Backend(t), CacheBytes: 64 << 20})
	ctx := context.Background()
	ents, err := s.List(ctx, store.S3("b", "dir"))
	t.Logf("%+v %v", ents, err)
	r := s.Open(store.S3("b", "dir/obj"), ents[0])
	buf := make([]byte, 1<<20)
	var got []byte
	for off := int64(0); ; off += int64(len(buf)) {
		n, err := r.ReadAt(ctx, buf, off)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Logf("end: %v", err)
			break
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("mismatch")
	}
	t.Logf("%+v", s.Stats())
	for _, rq := range srv.Requests() {
		t.Logf("%+v", rq)
	}
}
