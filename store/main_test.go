package store_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

// rssChildEnv makes the test binary, started by the memory benchmark, run
// readers in a process of its own and report its peak RSS, instead of
// running tests: the benchmark's process also holds the server's objects.
const rssChildEnv = "AINDFS_STORE_RSS_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(rssChildEnv); spec != "" {
		if err := rssChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "rss child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// rssJob is what the child is asked to do.
type rssJob struct {
	URL, Bucket, Key, ETag string
	Size, Cache            int64
	Readers                int
}

func (j rssJob) String() string {
	return strings.Join([]string{j.URL, j.Bucket, j.Key, j.ETag,
		strconv.FormatInt(j.Size, 10), strconv.FormatInt(j.Cache, 10), strconv.Itoa(j.Readers)}, "|")
}

// rssChild reads job.Readers disjoint regions of the object at once, each
// sequentially, through a Store with a cache of job.Cache bytes, and
// prints its peak RSS.
func rssChild(spec string) error {
	f := strings.Split(spec, "|")
	if len(f) != 7 {
		return fmt.Errorf("bad job %q", spec)
	}
	size, _ := strconv.ParseInt(f[4], 10, 64)
	cache, _ := strconv.ParseInt(f[5], 10, 64)
	readers, _ := strconv.Atoi(f[6])
	b, err := store.NewS3(context.Background(), s3test.ClientOptions(f[0]))
	if err != nil {
		return err
	}
	st := store.New(store.Options{S3: b, CacheBytes: cache})
	defer st.Close()
	info := store.ObjectInfo{Size: size, ETag: f[3]}
	region := size / int64(readers)
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for i := range readers {
		wg.Go(func() {
			r := st.Open(store.S3(f[1], f[2]), info)
			defer r.Close()
			buf := make([]byte, 1<<20)
			for off := int64(i) * region; off < int64(i+1)*region; off += int64(len(buf)) {
				if _, err := r.ReadAt(context.Background(), buf, off); err != nil && err != io.EOF {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	stats := st.Stats()
	fmt.Printf("PeakBufferBytes %d\n", stats.PeakBufferBytes)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("GoSys %d\n", ms.Sys)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmHWM:") {
			fmt.Println(sc.Text())
		}
	}
	return nil
}

// childMemory is what the child reports, in bytes.
type childMemory struct {
	RSS     int64 // peak resident set
	Buffers int64 // peak of the Store's block buffers
	GoSys   int64 // memory the Go runtime holds (heap, stacks, ...)
}

// peakRSS runs job in a child process, with env added to its environment.
func peakRSS(job rssJob, env ...string) (m childMemory, err error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), rssChildEnv+"="+job.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return m, fmt.Errorf("child: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) == 3 && fields[0] == "VmHWM:":
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			m.RSS = kb << 10
		case len(fields) == 2 && fields[0] == "PeakBufferBytes":
			m.Buffers, _ = strconv.ParseInt(fields[1], 10, 64)
		case len(fields) == 2 && fields[0] == "GoSys":
			m.GoSys, _ = strconv.ParseInt(fields[1], 10, 64)
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("child reported no RSS: %q", out)
	}
	return m, nil
}
