package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/store/s3test"
)

// TestMountDiskCacheSurvivesRemount: a file read through a mount with
// --cache-dir is read through the next mount of the same folder with no
// GET of it, and the same bytes: its blocks outlived the first mount.
func TestMountDiskCacheSurvivesRemount(t *testing.T) {
	srv := onlineS3(t, s3test.Options{})
	// Beside the sample's raw files, big enough for several segments and
	// for readahead.
	const bucket, key = "aind-private-data-prod-o5171v", sampleID + "/ecephys/big.bin"
	data := make([]byte, 40<<20+12345)
	rand.NewChaCha8([32]byte{'r', 'e', 'm', 'o', 'u', 'n', 't'}).Read(data)
	srv.PutObject(bucket, key, data)
	cache := t.TempDir()

	for pass, what := range []string{"first mount", "second mount"} {
		dir := t.TempDir()
		srv.ResetLog()
		var out, errOut logtest.Buffer
		exited := make(chan int, 1)
		go func() {
			exited <- run([]string{"mount", "--data", "", "--cache-dir", cache, dir}, &out, &errOut)
		}()
		waitServing(t, &errOut, exited, dir)
		got, err := os.ReadFile(filepath.Join(dir, "sessions", sampleID, "raw", "ecephys", "big.bin"))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: read %d bytes (%v), want the object's %d", what, len(got), err, len(data))
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case code := <-exited:
			if code != 0 {
				t.Fatalf("%s: exit %d after SIGTERM: %s", what, code, errOut.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: still running 20 s after SIGTERM: %s", what, errOut.String())
		}
		var gets int
		for _, r := range srv.Requests() {
			if r.Op == "GetObject" && r.Bucket == bucket && r.Key == key {
				gets++
			}
		}
		switch {
		case pass == 0 && gets == 0:
			t.Fatalf("%s: no GET of %s: the test reads nothing from S3", what, key)
		case pass == 1 && gets != 0:
			t.Errorf("%s: %d GETs of %s, want 0: its blocks are in the cache folder", what, gets, key)
		}
	}
}
