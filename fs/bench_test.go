package fs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

// The shape of S3 seen from a nearby machine: 20 ms to the first byte of
// each answer, about 100 MB/s per answer.
const (
	benchLatency   = 20 * time.Millisecond
	benchBandwidth = 100_000_000
	benchBucket    = "bench"
	benchSession   = "ecephys_123456_2024-01-01_00-00-00"
	benchSize      = 1 << 30
	benchRandSize  = 256 << 10 // an HDF5 chunk
	benchRandReads = 1000
	benchRandConc  = 16
	benchEntries   = 10_000
	benchCache     = "1GiB"    // the default; holds a whole file, so a warm re-read can come from it
	benchRSSCache  = 256 << 20 // smaller than what is read: the memory leg evicts
	benchReaders   = 16
)

// BenchmarkMount measures `aindfs mount` (the real binary, in a process of
// its own, reading S3-only from a local S3 server shaped like the real
// one) against the SDK reading the same objects directly, in one run:
//
//	go test ./fs -run '^$' -bench Mount -benchtime 1x
//
// It prints a table and reports the ratios as metrics. The peers that
// AINDFS_BENCH_PEERS names (see BenchmarkClients) are measured in the cold
// cp leg.
func BenchmarkMount(b *testing.B) {
	sample.RequireFUSE(b)
	bin := buildBinary(b)
	srv := s3test.NewServer(b, s3test.Options{Latency: benchLatency, BytesPerSecond: benchBandwidth})
	peers := benchPeers(b, srv.URL)
	seqData, rndData := randomBytes(benchSize, 1), randomBytes(benchSize, 2)
	prefix := benchSession + "/ecephys/"
	srv.PutObject(benchBucket, prefix+"sequential.bin", seqData)
	srv.PutObject(benchBucket, prefix+"second.bin", seqData)
	srv.PutObject(benchBucket, prefix+"random.bin", rndData)
	for i := range benchEntries {
		srv.PutObject(benchBucket, fmt.Sprintf("%s/many/chunk_%05d.json", benchSession, i), []byte(`{"i":`+strconv.Itoa(i)+"}\n"))
	}
	client := srv.Client(b)
	ctx := context.Background()
	report := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }

	for range b.N {
		m := startMount(b, bin, srv.URL, benchCache)
		raw := filepath.Join(m.dir, "sessions", benchSession, "raw")
		if _, err := os.Stat(filepath.Join(raw, "many")); err != nil { // resolve the session, untimed
			m.stop(b)
			b.Fatal(err)
		}

		// Direct download: parallel ranged GETs into memory, the best of a
		// few shapes.
		dst := make([]byte, benchSize)
		copy(dst, seqData) // fault the destination in
		var best float64
		var bestShape string
		var bestConc, bestPart int
		for _, shape := range []struct{ conc, part int }{{16, 8 << 20}, {32, 8 << 20}, {16, 16 << 20}, {32, 16 << 20}, {64, 16 << 20}} {
			d := directDownload(b, client, prefix+"sequential.bin", dst, shape.conc, shape.part)
			rate := benchSize / d.Seconds()
			report("direct download, %2d GETs of %2d MiB:      %6.0f MB/s", shape.conc, shape.part>>20, rate/1e6)
			if rate > best {
				best, bestShape = rate, fmt.Sprintf("%d x %d MiB", shape.conc, shape.part>>20)
				bestConc, bestPart = shape.conc, shape.part
			}
		}
		// What the best one costs in CPU: this process is both the S3
		// server and the SDK client.
		cpu0, start0 := cpuSeconds(b, os.Getpid()), time.Now()
		d := directDownload(b, client, prefix+"sequential.bin", dst, bestConc, bestPart)
		best = max(best, benchSize/d.Seconds())
		directCPU, directWall := cpuSeconds(b, os.Getpid())-cpu0, time.Since(start0).Seconds()
		if !bytes.Equal(dst, seqData) {
			b.Fatal("direct download: bytes differ")
		}
		dst = nil
		// Return the destination to the system now, not while the mount
		// is timed: the runtime would otherwise do it in the background,
		// on one of the two cores the mount needs.
		debug.FreeOSMemory()

		// Cold sequential read through the mount, as cat or cp does it: in
		// a fresh mount, whose block buffers are all new memory, and then of
		// another file, in a mount whose buffers are in use (the steady state).
		seqPath := filepath.Join(raw, "ecephys", "sequential.bin")
		srv.WaitIdle()
		before, bytesBefore := srv.Count(""), srv.BytesSent("GetObject")
		stopWatch := srv.WatchActive()
		freshCPU0 := cpuSeconds(b, m.cmd.Process.Pid)
		cold := readSequential(b, seqPath, seqData)
		freshCPU := cpuSeconds(b, m.cmd.Process.Pid) - freshCPU0
		mountConc, mountPart := stopWatch()
		report("mount cold sequential read, fresh mount:  %6.0f MB/s, %d requests, %.2f x the bytes; ratio to best direct (%s) %.2f; mount CPU %.2f s",
			cold/1e6, srv.Count("")-before, float64(srv.BytesSent("GetObject")-bytesBefore)/benchSize, bestShape, cold/best, freshCPU)
		b.ReportMetric(cold/best, "cold/direct")

		// The same download at the mount's own concurrency: as many GETs
		// in flight as the mount usually had, of the size it used most.
		// For scale only: the target is against the best direct download.
		dst = make([]byte, benchSize)
		copy(dst, seqData)
		srv.WaitIdle()
		same := benchSize / directDownload(b, client, prefix+"sequential.bin", dst, mountConc, mountPart).Seconds()
		dst = nil
		debug.FreeOSMemory()
		report("direct download at the mount's concurrency (%d GETs of %d MiB): %6.0f MB/s; mount cold / that %.2f",
			mountConc, mountPart>>20, same/1e6, cold/same)
		b.ReportMetric(cold/same, "cold/direct-same-conc")

		// Warm re-reads, then again with the kernel's pages of the file
		// dropped; no request either way. (A file read with direct I/O
		// has no pages in the kernel: both come from the block cache.)
		srv.WaitIdle()
		before = srv.Count("")
		warm := readSequential(b, seqPath, seqData)
		pageRequests := srv.Count("") - before
		report("mount warm re-read:                       %6.0f MB/s, %d requests, %.1f x cold", warm/1e6, pageRequests, warm/cold)
		dropPages(b, seqPath)
		before = srv.Count("")
		warmBlocks := readSequential(b, seqPath, seqData)
		blockRequests := srv.Count("") - before
		report("mount warm re-read, kernel pages dropped: %6.0f MB/s, %d requests, %.1f x cold", warmBlocks/1e6, blockRequests, warmBlocks/cold)
		b.ReportMetric(warm/cold, "warm/cold")
		b.ReportMetric(warmBlocks/cold, "warm-blocks/cold")
		b.ReportMetric(float64(pageRequests+blockRequests), "warm-requests")
		verifyFile(b, seqPath, seqData)

		srv.WaitIdle()
		before = srv.Count("")
		mountCPU0, benchCPU0, start0 := cpuSeconds(b, m.cmd.Process.Pid), cpuSeconds(b, os.Getpid()), time.Now()
		steady := readSequential(b, filepath.Join(raw, "ecephys", "second.bin"), seqData)
		mountCPU, benchCPU, steadyWall := cpuSeconds(b, m.cmd.Process.Pid)-mountCPU0, cpuSeconds(b, os.Getpid())-benchCPU0, time.Since(start0).Seconds()
		report("mount cold sequential read, mount in use: %6.0f MB/s, %d requests; ratio to best direct %.2f",
			steady/1e6, srv.Count("")-before, steady/best)
		b.ReportMetric(steady/best, "cold-steady/direct")
		// Where the cores go: a mount adds its own work (FUSE requests, the
		// copy to the reader) to what a direct download costs, on the same
		// two cores that also run the S3 server.
		report("CPU for 1 GiB: direct download %.2f s (S3 server and SDK; %.1f cores busy); mount in use %.2f s (mount %.2f, S3 server and reader %.2f; %.1f cores busy)",
			directCPU, directCPU/directWall, mountCPU+benchCPU, mountCPU, benchCPU, (mountCPU+benchCPU)/steadyWall)
		b.ReportMetric((mountCPU+benchCPU)/directCPU, "cpu-mount/direct")
		// A fresh mount writes every block into memory it has never used:
		// the kernel zeroes each page on first touch, which some virtual
		// machines make many times dearer than a copy (the direct download
		// above writes into memory touched beforehand).
		report("mount CPU for 1 GiB: fresh mount %.2f s, mount in use %.2f s; %.1f x", freshCPU, mountCPU, freshCPU/mountCPU)
		b.ReportMetric(freshCPU/mountCPU, "cpu-fresh/in-use")
		verifyFile(b, filepath.Join(raw, "ecephys", "second.bin"), seqData)

		// Random 256 KiB reads, 16 at a time, each in its own 1 MiB slot of
		// a file not read before, against direct ranged GETs of the same
		// bytes at the same concurrency.
		rng := rand.New(rand.NewPCG(7, 7))
		offs := make([]int64, benchRandReads)
		for i, slot := range rng.Perm(benchSize >> 20)[:benchRandReads] {
			offs[i] = int64(slot)<<20 + rng.Int64N(1<<20-benchRandSize)
		}
		d, err := s3test.DirectRanges(ctx, client, benchBucket, prefix+"random.bin", offs, benchRandSize, benchRandConc)
		if err != nil {
			b.Fatal(err)
		}
		directIOPS := benchRandReads / d.Seconds()

		rndPath := filepath.Join(raw, "ecephys", "random.bin")
		f, err := os.Open(rndPath)
		if err != nil {
			b.Fatal(err)
		}
		srv.WaitIdle()
		bytesBefore = srv.BytesSent("GetObject")
		var bad atomic.Int64
		readAll := func() float64 {
			start := time.Now()
			s3test.Parallel(benchRandConc, benchRandSize, offs, func(buf []byte, off int64) {
				if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, rndData[off:off+benchRandSize]) {
					bad.Add(1)
				}
			})
			return benchRandReads / time.Since(start).Seconds()
		}
		mountIOPS := readAll()
		srv.WaitIdle()
		amp := float64(srv.BytesSent("GetObject")-bytesBefore) / (benchRandReads * benchRandSize)
		report("random 256 KiB reads x%d: direct %5.0f IOPS, mount %5.0f IOPS, ratio %.2f; fetched/read %.2f",
			benchRandConc, directIOPS, mountIOPS, mountIOPS/directIOPS, amp)
		before = srv.Count("")
		secondIOPS := readAll()
		report("random second pass:                       %5.0f IOPS, %d requests, %d wrong reads", secondIOPS, srv.Count("")-before, bad.Load())
		f.Close()
		b.ReportMetric(mountIOPS/directIOPS, "random/direct")
		b.ReportMetric(amp, "fetched/read")

		// ls -l of a folder of 10,000 objects against paginated
		// ListObjectsV2 of it.
		start := time.Now()
		var keys int
		pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{
			Bucket: aws.String(benchBucket), Prefix: aws.String(benchSession + "/many/"), Delimiter: aws.String("/"),
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			keys += len(page.Contents)
		}
		direct := time.Since(start)
		srv.WaitIdle()
		before = srv.Count("")
		lsTime, lines := lsLong(b, filepath.Join(raw, "many"))
		lsRequests := srv.Count("") - before
		before = srv.Count("")
		lsAgain, _ := lsLong(b, filepath.Join(raw, "many"))
		report("ls -l of %d entries: ListObjectsV2 %v (%d keys), mount %v (%d lines, %d requests), ratio %.2f; again %v, %d requests",
			benchEntries, direct.Round(time.Millisecond), keys, lsTime.Round(time.Millisecond), lines, lsRequests,
			lsTime.Seconds()/direct.Seconds(), lsAgain.Round(time.Millisecond), srv.Count("")-before)
		b.ReportMetric(lsTime.Seconds()/direct.Seconds(), "ls/list")
		m.stop(b)

		// cp of the file, cold in fresh mounts: with the page cache (the
		// default) and with the --direct-io opt-in, then through the peers;
		// and the opt-in read in 1 MiB pieces, as the cold leg above.
		cpCold := coldCopy(b, srv, aindfsFS(bin, srv.URL), seqData)
		cpDirect := coldCopy(b, srv, aindfsFS(bin, srv.URL, "--direct-io", "16MiB"), seqData)
		var cpPeers []copyResult
		for _, p := range peers {
			cpPeers = append(cpPeers, coldCopy(b, srv, p, seqData))
		}
		m = startMount(b, bin, srv.URL, benchCache, "--direct-io", "16MiB")
		seqPath = filepath.Join(m.dir, "sessions", benchSession, "raw", "ecephys", "sequential.bin")
		if _, err := os.Stat(seqPath); err != nil {
			b.Fatal(err)
		}
		coldDirect := readSequential(b, seqPath, seqData)
		m.stop(b)
		for _, c := range append([]copyResult{cpCold, cpDirect}, cpPeers...) {
			report("cp to /dev/null, cold, fresh mount, %-26s %6.0f MB/s = %.2f x best direct; %4d GETs (%d at a time, mostly %d MiB), %.2f x the bytes",
				c.name+":", c.rate/1e6, c.rate/best, c.gets, c.conc, c.part>>20, float64(c.sent)/benchSize)
		}
		report("mount cold sequential read, fresh mount, --direct-io 16MiB: %6.0f MB/s = %.2f x best direct, %.2f x the default",
			coldDirect/1e6, coldDirect/best, coldDirect/cold)
		b.ReportMetric(cpCold.rate/best, "cp/direct")
		b.ReportMetric(cpDirect.rate/best, "cp-direct-io/direct")
		for _, c := range cpPeers {
			b.ReportMetric(c.rate/best, "cp-"+c.name+"/direct")
		}
		b.ReportMetric(coldDirect/best, "cold-direct-io/direct")

		// Memory: 16 readers at once, each reading its own 64 MiB of the
		// file, through a fresh mount (nothing in the page cache) whose
		// cache is smaller than what they read.
		m = startMount(b, bin, srv.URL, strconv.Itoa(benchRSSCache))
		seqPath = filepath.Join(m.dir, "sessions", benchSession, "raw", "ecephys", "sequential.bin")
		var wg sync.WaitGroup
		region := int64(benchSize / benchReaders)
		start = time.Now()
		for i := range benchReaders {
			wg.Go(func() {
				f, err := os.Open(seqPath)
				if err != nil {
					b.Error(err)
					return
				}
				defer f.Close()
				buf := make([]byte, 1<<20)
				for off := int64(i) * region; off < int64(i+1)*region; off += int64(len(buf)) {
					if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		rate := benchSize / time.Since(start).Seconds()
		peak := rss(b, m.cmd.Process.Pid, "VmHWM")
		report("%d concurrent readers, %d MiB cache: %6.0f MB/s, mount's peak RSS %d MiB (cache + %d MiB)",
			benchReaders, benchRSSCache>>20, rate/1e6, peak>>20, (peak-benchRSSCache)>>20)
		b.ReportMetric(float64(peak-benchRSSCache)/(1<<20), "rss-over-cache-MiB")
		m.stop(b)
	}
}

// copyResult is a cold cp of the file through one filesystem.
type copyResult struct {
	name       string
	rate       float64 // bytes per second
	gets       int     // GETs the S3 server answered meanwhile
	sent       int64   // and their bytes
	conc, part int     // GETs usually in flight, and their usual size (s3test.WatchActive)
}

// coldCopy mounts fsys afresh, drops the kernel's caches and times
// `cp sequential.bin /dev/null` there, then checks every byte, untimed.
func coldCopy(b *testing.B, srv *s3test.Server, fsys benchFS, want []byte) copyResult {
	m, ecephys := fsys.mount(b)
	defer m.stop(b)
	path := filepath.Join(ecephys, "sequential.bin")
	if _, err := os.Stat(path); err != nil {
		b.Fatal(err)
	}
	dropCaches(b)
	gets := getCounter(srv)
	watch := srv.WatchActive()
	start := time.Now()
	if out, err := exec.Command("cp", path, "/dev/null").CombinedOutput(); err != nil {
		b.Fatalf("cp %s: %v\n%s", path, err, out)
	}
	c := copyResult{name: fsys.name, rate: float64(len(want)) / time.Since(start).Seconds()}
	c.conc, c.part = watch()
	c.gets, c.sent = gets()
	if c.gets == 0 {
		b.Fatalf("cp through %s sent no GET to the S3 server", fsys.name)
	}
	verifyFile(b, path, want)
	return c
}

// buildBinary builds cmd/aindfs for the benchmark.
func buildBinary(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "aindfs")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/aindfs").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// mountProcess is a FUSE filesystem served by a process of its own:
// `aindfs mount`, or a peer it is compared with (s3fs, rclone mount).
type mountProcess struct {
	name string // for messages
	cmd  *exec.Cmd
	dir  string
	done chan error
	out  *bytes.Buffer // what the process printed, shown when it fails; read only once it has exited
	// byUnmount stops the process by unmounting its folder, as s3fs's and
	// rclone's manuals say (rclone ends with status 143 on SIGTERM);
	// aindfs is sent SIGTERM, its own documented way.
	byUnmount bool
}

// startMount mounts with the S3-only sources of the S3 server at url,
// with the mount flags given after the cache size.
func startMount(b *testing.B, bin, url, cache string, flags ...string) *mountProcess {
	b.Helper()
	home, dir := b.TempDir(), b.TempDir()
	args := append([]string{"--log-level", "warn", "mount", "--data", "", "--cache-size", cache}, flags...)
	cmd := exec.Command(bin, append(args, dir)...)
	cmd.Dir = home // no .env of ours on the way
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_ENDPOINT_URL_S3=" + url, "AWS_REGION=us-west-2",
		"AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench-secret", "AWS_EC2_METADATA_DISABLED=true",
		"AINDFS_BUCKETS=" + benchBucket, "AINDFS_DOCDB_URL=off", // no network beyond the S3 server
	}
	return startProcess(b, "aindfs mount", cmd, dir, filepath.Join(dir, "sessions"), false)
}

// startProcess starts cmd, which mounts a filesystem at dir, and waits
// until ready, a path in the mount, is there.
func startProcess(b *testing.B, name string, cmd *exec.Cmd, dir, ready string, byUnmount bool) *mountProcess {
	b.Helper()
	m := &mountProcess{name: name, cmd: cmd, dir: dir, done: make(chan error, 1), out: new(bytes.Buffer), byUnmount: byUnmount}
	cmd.Stdout, cmd.Stderr = m.out, m.out
	if err := cmd.Start(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	go func() { m.done <- cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			return m
		}
		select {
		case err := <-m.done:
			b.Fatalf("%s exited before serving: %v\n%s", name, err, m.out)
		default:
		}
		if time.Now().After(deadline) {
			m.kill()
			b.Fatalf("%s did not serve %s within 30 s\n%s", name, ready, m.out)
		}
	}
}

// stop tells the process to stop (see byUnmount) and waits for a clean
// exit.
func (m *mountProcess) stop(b *testing.B) {
	b.Helper()
	if m.byUnmount {
		if out, err := exec.Command("fusermount3", "-u", m.dir).CombinedOutput(); err != nil {
			b.Errorf("fusermount3 -u %s: %v\n%s", m.dir, err, out)
		}
	} else {
		m.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case err := <-m.done:
		if err != nil {
			b.Errorf("%s: %v\n%s", m.name, err, m.out)
		}
	case <-time.After(10 * time.Second):
		m.kill()
		b.Errorf("%s still running 10 s after it was told to stop\n%s", m.name, m.out)
	}
}

// kill ends the process and detaches its mount.
func (m *mountProcess) kill() {
	m.cmd.Process.Kill()
	<-m.done
	lazyUnmount(context.Background(), m.dir)
}

func randomBytes(n int, seed byte) []byte {
	data := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(data)
	return data
}

// readSequential reads the file from start to end with 1 MiB reads, as
// cat does, and returns the rate in bytes per second. Timed reads check a
// sample of every 128 KiB (a misplaced block shows), so that comparing
// does not slow the reader; verifyFile checks every byte, untimed.
func readSequential(b *testing.B, path string, want []byte) float64 {
	var off int64
	start := time.Now()
	readFile(b, path, func(buf []byte) {
		for i := 0; i < len(buf); i += 128 << 10 {
			j := min(i+64, len(buf))
			if !bytes.Equal(buf[i:j], want[off+int64(i):off+int64(j)]) {
				b.Fatalf("%s: bytes differ at %d", path, off+int64(i))
			}
		}
		off += int64(len(buf))
	})
	rate := float64(off) / time.Since(start).Seconds()
	if off != int64(len(want)) {
		b.Fatalf("%s: read %d bytes, want %d", path, off, len(want))
	}
	return rate
}

// verifyFile reads the file and compares every byte with want.
func verifyFile(b *testing.B, path string, want []byte) {
	var off int64
	readFile(b, path, func(buf []byte) {
		if !bytes.Equal(buf, want[off:off+int64(len(buf))]) {
			b.Fatalf("%s: bytes differ in %d-%d", path, off, off+int64(len(buf)))
		}
		off += int64(len(buf))
	})
	if off != int64(len(want)) {
		b.Fatalf("%s: read %d bytes, want %d", path, off, len(want))
	}
}

// readFile reads path from start to end with 1 MiB reads, handing each
// chunk read to got.
func readFile(b *testing.B, path string, got func([]byte)) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			got(buf[:n])
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// cpuSeconds returns the CPU time process pid has used so far, user and
// system, from /proc/pid/stat (in clock ticks of 1/100 s).
func cpuSeconds(b *testing.B, pid int) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is the first, utime the 12th, stime the 13th.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	return (utime + stime) / 100
}

// dropPages asks the kernel to forget its cached pages of the file.
func dropPages(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const fadvDontNeed = 4 // POSIX_FADV_DONTNEED
	if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); e != 0 {
		b.Fatalf("fadvise: %v", e)
	}
}

// lsLong runs `ls -l` on dir and returns how long it took and how many
// lines it printed.
func lsLong(b *testing.B, dir string) (time.Duration, int) {
	cmd := exec.Command("ls", "-l", "--color=never", dir)
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("ls -l %s: %v", dir, err)
	}
	return time.Since(start), bytes.Count(out.Bytes(), []byte("\n"))
}

// directDownload fetches key with conc ranged GETs of part bytes into dst.
func directDownload(b *testing.B, client *s3.Client, key string, dst []byte, conc, part int) time.Duration {
	d, err := s3test.DirectDownload(context.Background(), client, benchBucket, key, dst, conc, part)
	if err != nil {
		b.Fatal(err)
	}
	return d
}
