package s3test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Helpers shared by the benchmarks that compare aindfs with direct SDK
// downloads from this server.

// WaitIdle waits until the server has no request in progress, so that
// counts taken next are not those of readahead still arriving.
func (s *Server) WaitIdle() {
	for s.Active() > 0 {
		time.Sleep(time.Millisecond)
	}
}

// WatchActive samples, every millisecond, how many requests the server is
// answering, until the returned function is called. That returns the median
// of the samples taken while any was (the usual concurrency; the peak is a
// moment of readahead growing) and the most common length of the GETs that
// arrived meanwhile, rounded to MiB.
func (s *Server) WatchActive() func() (conc, part int) {
	from := len(s.Requests())
	stop := make(chan struct{})
	done := make(chan []int)
	go func() {
		var seen []int
		for {
			if n := s.Active(); n > 0 {
				seen = append(seen, n)
			}
			select {
			case <-stop:
				done <- seen
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() (int, int) {
		close(stop)
		seen := <-done
		conc := 1
		if len(seen) > 0 {
			slices.Sort(seen)
			conc = seen[len(seen)/2]
		}
		lengths := map[int]int{}
		for _, q := range s.Requests()[from:] {
			var first, last int
			if _, err := fmt.Sscanf(q.Range, "bytes=%d-%d", &first, &last); err == nil {
				lengths[(last+1-first+(1<<19))>>20<<20]++
			}
		}
		part, most := 1<<20, 0
		for l, n := range lengths {
			if n > most || n == most && l > part {
				part, most = max(l, 1<<20), n
			}
		}
		return conc, part
	}
}

// DirectDownload fetches bucket/key into dst (its size) with conc workers
// taking ranged GETs of part bytes in order: the SDK-only baseline the
// benchmarks compare with. It returns how long that took.
func DirectDownload(ctx context.Context, client *s3.Client, bucket, key string, dst []byte, conc, part int) (time.Duration, error) {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				off := next.Add(int64(part)) - int64(part)
				if off >= int64(len(dst)) {
					return
				}
				end := min(off+int64(part), int64(len(dst)))
				out, err := client.GetObject(ctx, &s3.GetObjectInput{
					Bucket: aws.String(bucket), Key: aws.String(key),
					Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end-1)),
				})
				if err != nil {
					fail(err)
					return
				}
				if _, err := io.ReadFull(out.Body, dst[off:end]); err != nil {
					fail(err)
				}
				out.Body.Close()
			}
		})
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// DirectRanges reads size bytes of bucket/key at each offset with ranged
// GETs, conc at a time: the SDK-only baseline of random reads. It returns
// how long that took.
func DirectRanges(ctx context.Context, client *s3.Client, bucket, key string, offs []int64, size, conc int) (time.Duration, error) {
	var (
		mu       sync.Mutex
		firstErr error
	)
	start := time.Now()
	Parallel(conc, size, offs, func(buf []byte, off int64) {
		out, err := client.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(size)-1)),
		})
		if err == nil {
			_, err = io.ReadFull(out.Body, buf)
			out.Body.Close()
		}
		if err != nil {
			mu.Lock()
			firstErr = cmp.Or(firstErr, err)
			mu.Unlock()
		}
	})
	return time.Since(start), firstErr
}

// Parallel calls read for each offset, conc at a time, each worker with a
// buffer of bufSize bytes of its own.
func Parallel(conc, bufSize int, offs []int64, read func(buf []byte, off int64)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			buf := make([]byte, bufSize)
			for {
				i := next.Add(1) - 1
				if i >= int64(len(offs)) {
					return
				}
				read(buf, offs[i])
			}
		})
	}
	wg.Wait()
}
