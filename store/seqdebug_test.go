package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

func BenchmarkSeqDebug(b *testing.B) {
	srv := s3test.NewServer(b, s3test.Options{Latency: benchLatency, BytesPerSecond: benchBandwidth})
	const size = 1 << 30
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	etag := srv.PutObject("bench", "big.bin", data)
	info := store.ObjectInfo{Name: "big.bin", Size: size, ETag: etag}
	for _, inflight := range []int{4, 1, 4, 1} {
		st := store.New(store.Options{S3: srv.Backend(b), CacheBytes: 3 << 29})
		srv.ResetLog()
		t0 := time.Now()
		sequentialRead(b, context.Background(), st.Open(store.S3("bench", "big.bin"), info), nil, inflight)
		d := time.Since(t0)
		fmt.Fprintf(os.Stderr, "inflight %d: %.0f MB/s %d GETs\n", inflight, size/d.Seconds()/1e6, st.Stats().Requests)
		reqs := srv.Requests()
		for ms := 0; ms < int(d.Milliseconds()); ms += 20 {
			at := t0.Add(time.Duration(ms) * time.Millisecond)
			n := 0
			var bytes int64
			for _, r := range reqs {
				if !r.Start.After(at) && r.End.After(at) {
					n++
				}
				if r.End.Before(at) {
					bytes += r.Bytes
				}
			}
			fmt.Fprintf(os.Stderr, "%d:%d/%d ", ms, n, bytes>>20)
		}
		fmt.Fprintln(os.Stderr)
		st.Close()
	}
}
