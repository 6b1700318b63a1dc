package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aind/aindfs/store"
)

// BenchmarkDiskCache measures the disk tier against its targets, as ratios
// within one run, on the shaped local S3 of BenchmarkStore:
//
//   - a cold read with the disk tier over one without (write-behind should
//     cost at most 10%);
//   - a re-read by a new Store on the same folder (a remount) over the
//     cold read: no GET, and at least 5 times faster;
//   - a prefetch (a read that waits for every block to reach the disk,
//     the writes included) over the best direct download (at least 0.8).
//
// Run it with
//
//	go test ./store -run '^$' -bench DiskCache -benchtime 1x
//
// The re-read comes from files just written, so mostly from the kernel's
// page cache: on a machine where they were evicted it is bound by the disk.
func BenchmarkDiskCache(b *testing.B) {
	srv, data, obj, info := benchObject(b, 2)
	client := srv.Client(b)
	ctx := context.Background()
	report := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	newStore := func(dir string, wait bool) *store.Store {
		return store.New(store.Options{S3: srv.Backend(b), CacheBytes: benchSize + benchSize/2,
			DiskDir: dir, DiskBytes: 2 * benchSize, DiskWait: wait})
	}
	// read reads the object through a new Store and closes it (which
	// writes what waits for the disk), returning bytes per second of both
	// and the GETs made.
	read := func(dir string, wait bool) (rate float64, gets int, st store.Stats) {
		s := newStore(dir, wait)
		srv.WaitIdle()
		before := srv.Count("GetObject")
		start := time.Now()
		sequentialRead(b, ctx, s.Open(obj, info), nil, 4)
		s.Close()
		return benchSize / time.Since(start).Seconds(), srv.Count("GetObject") - before, s.Stats()
	}

	for range b.N {
		dst := make([]byte, benchSize)
		copy(dst, data)
		warm := newStore("", false)
		sequentialRead(b, ctx, warm.Open(obj, info), nil, 4)
		warm.Close()

		var direct float64
		for _, sh := range []struct{ conc, part int }{{16, 8 << 20}, {32, 8 << 20}, {32, 16 << 20}} {
			srv.WaitIdle()
			direct = max(direct, benchSize/directDownload(b, client, dst, sh.conc, sh.part).Seconds())
		}

		// Interleaved, best of each, so that a change of load on the
		// machine falls on both.
		var memOnly, withDisk, prefetch float64
		var dir string
		var written, skipped int64
		for range 2 {
			r, _, _ := read("", false)
			memOnly = max(memOnly, r)
			dir = b.TempDir()
			r, _, st := read(dir, false)
			if r > withDisk {
				withDisk, written, skipped = r, st.DiskWrites, st.DiskSkipped
			}
			r, _, _ = read(b.TempDir(), true)
			prefetch = max(prefetch, r)
		}
		remount, gets, st := read(dir, false)
		report("best direct download: %6.0f MB/s", direct/1e6)
		report("cold read, memory only: %6.0f MB/s; with the disk tier: %6.0f MB/s (%d blocks written, %d skipped), ratio %.2f",
			memOnly/1e6, withDisk/1e6, written, skipped, withDisk/memOnly)
		report("re-read by a new Store on the same folder: %6.0f MB/s, %d GETs, %d blocks from disk, %.1f x the cold read",
			remount/1e6, gets, st.DiskHits, remount/withDisk)
		report("prefetch (every block on disk before it ends): %6.0f MB/s, %.2f x the best direct download", prefetch/1e6, prefetch/direct)
		b.ReportMetric(withDisk/memOnly, "disk-cold/memory-cold")
		b.ReportMetric(remount/withDisk, "remount/cold")
		b.ReportMetric(float64(gets), "remount-gets")
		b.ReportMetric(prefetch/direct, "prefetch/direct")
	}
}
