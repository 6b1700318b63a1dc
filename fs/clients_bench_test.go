package fs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

// The real-client benchmark: the programs scientists point at session
// paths (h5py on NWB, zarr, numpy.memmap), reading files made by
// bench/clients.py, cold through the mount and from a download.
const (
	clientsPython = "/usr/bin/python3" // Debian's, with python3-h5py, python3-zarr, python3-numpy
	clientsScript = "../bench/clients.py"
	clientsSeed   = "1"
	clientsRuns   = 3  // each leg, of which the median is reported
	clientsConc   = 32 // ranged GETs at once for download-then-read
	clientsPart   = 8 << 20
)

// clientsWorkloads are the workloads of bench/clients.py, in the order
// they are reported.
var clientsWorkloads = []string{
	"h5-walk", "h5-windows", "h5-channel", "h5-spikes", "zarr-all", "zarr-windows", "memmap-windows",
}

// BenchmarkClients times each workload of bench/clients.py cold through
// a fresh mount (kernel caches dropped) against download-then-read: the
// objects it needs fetched with parallel ranged GETs to local disk, then
// read there, the download included in the time. Medians of clientsRuns,
// reported as ratios to download-then-read (lower is better):
//
//	go test ./fs -run '^$' -bench Clients -benchtime 1x
//
// AINDFS_BENCH_FLAGS adds mounts to compare in the same run: sets of
// mount flags separated by ";", such as "--direct-io 16MiB".
// AINDFS_BENCH_PEERS adds other FUSE filesystems over S3, mounted and read
// the same way: "s3fs,rclone" (make bench's default) or either one. Each
// leg's GETs are counted, and what it read is compared with the download.
func BenchmarkClients(b *testing.B) {
	sample.RequireFUSE(b)
	requireClients(b)
	bin := buildBinary(b)
	srv := s3test.NewServer(b, s3test.Options{Latency: benchLatency, BytesPerSecond: benchBandwidth})
	legs := []benchFS{aindfsFS(bin, srv.URL)}
	for _, set := range strings.Split(os.Getenv("AINDFS_BENCH_FLAGS"), ";") {
		if f := strings.Fields(set); len(f) > 0 {
			legs = append(legs, aindfsFS(bin, srv.URL, f...))
		}
	}
	legs = append(legs, benchPeers(b, srv.URL)...)
	data := b.TempDir()
	if out, err := exec.Command(clientsPython, clientsScript, "generate", "--seed", clientsSeed, "--out", data).CombinedOutput(); err != nil {
		b.Fatalf("generate: %v\n%s", err, out)
	}
	var needs map[string][]string
	if out, err := exec.Command(clientsPython, clientsScript, "list").Output(); err != nil || json.Unmarshal(out, &needs) != nil {
		b.Fatalf("clients.py list: %v %s", err, out)
	}

	prefix := benchSession + "/ecephys/clients/"
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(path)
		if err == nil {
			rel, _ := filepath.Rel(data, path)
			srv.PutObject(benchBucket, prefix+filepath.ToSlash(rel), body)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	client := srv.Client(b)

	for range b.N {
		fmt.Printf("%-15s %9s", "workload", "download")
		for _, leg := range legs {
			fmt.Printf(" | %-34s", leg.name)
		}
		fmt.Println()
		for _, w := range clientsWorkloads {
			var local []float64
			type coldRun struct {
				seconds float64
				gets    int
				bytes   int64
			}
			cold := make([][]coldRun, len(legs))
			var digest string
			for range clientsRuns {
				dir := b.TempDir()
				dropCaches(b)
				start := time.Now()
				for _, name := range needs[w] {
					downloadTree(b, client, prefix+name, filepath.Join(dir, name))
				}
				fetched := time.Since(start).Seconds()
				res := runClient(b, w, dir)
				local = append(local, fetched+res.Seconds)
				digest = res.Digest
				os.RemoveAll(dir)

				for i, leg := range legs {
					m, ecephys := leg.mount(b)
					at := filepath.Join(ecephys, "clients")
					if _, err := os.Stat(filepath.Join(at, needs[w][0])); err != nil { // resolve the session, untimed
						m.stop(b)
						b.Fatal(err)
					}
					dropCaches(b)
					gets := getCounter(srv)
					res := runClient(b, w, at)
					n, sent := gets()
					m.stop(b)
					if res.Digest != digest {
						b.Fatalf("%s through %s read %s, the download %s", w, leg.name, res.Digest, digest)
					}
					if n == 0 {
						b.Fatalf("%s through %s sent no GET to the S3 server", w, leg.name)
					}
					cold[i] = append(cold[i], coldRun{res.Seconds, n, sent})
				}
			}
			base := median(local)
			fmt.Printf("%-15s %8.2fs", w, base)
			for i, leg := range legs {
				// The median run by time, with its GETs.
				runs := slices.SortedFunc(slices.Values(cold[i]), func(x, y coldRun) int { return cmp.Compare(x.seconds, y.seconds) })
				r := runs[len(runs)/2]
				fmt.Printf(" | %6.2fs = %5.2f x, %4d GETs %4.0f MB", r.seconds, r.seconds/base, r.gets, float64(r.bytes)/1e6)
				b.ReportMetric(r.seconds/base, w+"/download"+leg.metric)
			}
			fmt.Println()
		}
	}
}

// requireClients fails the benchmark when Debian's Python lacks the
// clients (make bench installs them).
func requireClients(b *testing.B) {
	if out, err := exec.Command(clientsPython, "-c", "import h5py, zarr, numpy").CombinedOutput(); err != nil {
		b.Fatalf("%s cannot import h5py, zarr and numpy (apt-get install python3-h5py python3-zarr python3-numpy, as make bench does): %v\n%s",
			clientsPython, err, out)
	}
}

type clientResult struct {
	Seconds float64 // the workload's own time, after Python's imports
	Digest  string  // a fingerprint of what it read
}

// runClient runs workload on the files in dir.
func runClient(b *testing.B, workload, dir string) clientResult {
	cmd := exec.Command(clientsPython, clientsScript, "run", workload, dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res clientResult
	if err != nil || json.Unmarshal(out, &res) != nil {
		b.Fatalf("%s on %s: %v\n%s%s", workload, dir, err, out, stderr.Bytes())
	}
	return res
}

// dropCaches empties the kernel's page cache, dentries and inodes, so
// that what is read next comes from the store or the disk.
func dropCaches(b *testing.B) {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		b.Fatalf("cold reads need the kernel's caches dropped (as root): %v", err)
	}
}

// downloadTree fetches key, or every object under key/ when key is a
// folder, to local disk at path, with clientsConc ranged GETs of at most
// clientsPart bytes at a time: the best a program that downloads first
// can do.
func downloadTree(b *testing.B, client *s3.Client, key, path string) {
	ctx := context.Background()
	type part struct {
		key, path string
		off, end  int64
	}
	var parts []part
	add := func(key string, size int64, path string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		for off := int64(0); off < size; off += clientsPart {
			parts = append(parts, part{key, path, off, min(off+clientsPart, size)})
		}
	}
	if head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(key)}); err == nil {
		add(key, aws.ToInt64(head.ContentLength), path)
	} else {
		pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(benchBucket), Prefix: aws.String(key + "/")})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for _, o := range page.Contents {
				rel := strings.TrimPrefix(aws.ToString(o.Key), key+"/")
				add(aws.ToString(o.Key), aws.ToInt64(o.Size), filepath.Join(path, filepath.FromSlash(rel)))
			}
		}
	}
	offs := make([]int64, len(parts))
	for i := range offs {
		offs[i] = int64(i)
	}
	var mu sync.Mutex
	var firstErr error
	s3test.Parallel(clientsConc, 0, offs, func(_ []byte, i int64) {
		p := parts[i]
		err := func() error {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{
				Bucket: aws.String(benchBucket), Key: aws.String(p.key),
				Range: aws.String(fmt.Sprintf("bytes=%d-%d", p.off, p.end-1)),
			})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			f, err := os.OpenFile(p.path, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			if _, err := io.Copy(io.NewOffsetWriter(f, p.off), out.Body); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}()
		if err != nil {
			mu.Lock()
			firstErr = cmp.Or(firstErr, err)
			mu.Unlock()
		}
	})
	if firstErr != nil {
		b.Fatalf("download %s: %v", key, firstErr)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
