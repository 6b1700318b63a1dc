package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

// onlineS3 starts the Code Ocean fake and an S3 server holding the sample,
// shaped by opts, for commands run in this process.
func onlineS3(t *testing.T, opts s3test.Options) *s3test.Server {
	t.Helper()
	withFakeCodeOcean(t)
	srv := s3test.NewServer(t, opts)
	if _, err := sample.LoadS3(srv); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	return srv
}

// sampleRawFiles returns the paths, in the tree, of the files of the
// sample session's raw asset.
func sampleRawFiles(t *testing.T) []string {
	t.Helper()
	root := filepath.Join(sample.DataDir(), sample.SessionID)
	var paths []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			paths = append(paths, "sessions/"+sample.SessionID+"/raw/"+rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// TestPrefetchFillsDiskCache: prefetch prints a line per file when not on
// a terminal, and afterwards cat with the same --cache-dir reads the files
// with no GET.
func TestPrefetchFillsDiskCache(t *testing.T) {
	srv := onlineS3(t, s3test.Options{})
	dir := t.TempDir()
	raw := "sessions/" + sample.SessionID + "/raw"
	files := sampleRawFiles(t)

	code, out, errOut := runCLI(t, "prefetch", "--data", "", "--cache-dir", dir, "--dry-run", raw)
	if code != 0 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("prefetch --dry-run: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(files)+1 || !strings.HasPrefix(lines[len(lines)-1], strconv.Itoa(len(files))+" files, ") {
		t.Errorf("prefetch --dry-run printed %d lines ending %q, want one per file (%d) and the total", len(lines), lines[len(lines)-1], len(files))
	}
	if gets := srv.Count("GetObject"); gets != 0 {
		t.Errorf("prefetch --dry-run made %d GETs, want 0", gets)
	}

	code, out, errOut = runCLI(t, "prefetch", "--data", "", "--cache-dir", dir, raw)
	if code != 0 {
		t.Fatalf("prefetch: exit %d: %s", code, errOut)
	}
	for _, f := range files {
		if !strings.Contains(out, "\t"+f+"\t") {
			t.Errorf("prefetch output has no line for %s:\n%s", f, out)
		}
	}

	srv.ResetLog()
	for _, f := range files {
		code, got, errOut := runCLI(t, "cat", "--data", "", "--cache-dir", dir, f)
		want, err := os.ReadFile(filepath.Join(sample.DataDir(), sample.SessionID, strings.TrimPrefix(f, "sessions/"+sample.SessionID+"/raw/")))
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 || got != string(want) {
			t.Errorf("cat %s after prefetch: exit %d, %d bytes, want %d; %s", f, code, len(got), len(want), errOut)
		}
	}
	if gets := srv.Count("GetObject"); gets != 0 {
		t.Errorf("cat of prefetched files made %d GETs, want 0", gets)
	}

	code, out, errOut = runCLI(t, "cache", "stats", "--cache-dir", dir)
	if code != 0 || !strings.Contains(out, " blocks, ") || strings.Contains(out, ": 0 blocks") {
		t.Errorf("cache stats after prefetch: exit %d, %q; %s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "cache", "clear", "--cache-dir", dir)
	if code != 0 || !strings.Contains(out, ": 0 blocks, ") {
		t.Errorf("cache clear: exit %d, %q; %s", code, out, errOut)
	}
}

// TestPrefetchInterrupted: Ctrl-C during a prefetch ends it promptly with
// a message saying how far it got, and exit status 1.
func TestPrefetchInterrupted(t *testing.T) {
	onlineS3(t, s3test.Options{Latency: 300 * time.Millisecond})
	// The test's own catch: a signal arriving after the command stopped
	// listening must not end the test binary.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, os.Interrupt)
	defer signal.Stop(guard)

	var out, errOut logtest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"prefetch", "--data", "", "--cache-dir", t.TempDir(), "--jobs", "1", "sessions/" + sample.SessionID + "/raw"}, &out, &errOut)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no file fetched after 60 s: %s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case code := <-done:
		if code != exitFailure || !strings.Contains(errOut.String(), "prefetch interrupted: ") {
			t.Errorf("after Ctrl-C: exit %d, stderr %q; want 1 and the interruption", code, errOut.String())
		}
		if n := strings.Count(out.String(), "\n"); n >= len(sampleRawFiles(t)) {
			t.Errorf("all %d files fetched: the interruption came too late to test", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("prefetch still ran 10 s after Ctrl-C")
	}
}
