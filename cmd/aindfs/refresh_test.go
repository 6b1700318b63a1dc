package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

// onlineMount mounts the sample as served by the fake Code Ocean and the
// in-process S3 server, in this process, at --log-level info.
func onlineMount(t *testing.T, extra ...string) (dir string, co interface {
	AddAssets(...codeocean.DataAsset)
}, srv *s3test.Server, logs *logtest.Buffer, exited chan int) {
	t.Helper()
	sample.RequireFUSE(t)
	fakeCO := withFakeCodeOcean(t)
	srv = s3test.NewServer(t, s3test.Options{})
	if _, err := sample.LoadS3(srv); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	dir = t.TempDir()
	logs = &logtest.Buffer{}
	exited = make(chan int, 1)
	args := append([]string{"--log-level", "info", "mount", "--data", ""}, extra...)
	go func() { exited <- run(append(args, dir), io.Discard, logs) }()
	waitServing(t, logs, exited, dir)
	return dir, fakeCO, srv, logs, exited
}

// stopMount ends a mount made by onlineMount with SIGTERM.
func stopMount(t *testing.T, logs *logtest.Buffer, exited chan int) {
	t.Helper()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit %d: %s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("mount still running 10 s after SIGTERM")
	}
}

func readDirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// TestSIGHUPShowsNewAsset: an asset made while the mount runs shows up
// after SIGHUP, not before, and a file open across the refresh reads on.
func TestSIGHUPShowsNewAsset(t *testing.T) {
	dir, co, srv, logs, exited := onlineMount(t)
	session := filepath.Join(dir, "sessions", sample.SessionID)
	before := readDirNames(t, filepath.Join(session, "assets"))

	video := filepath.Join("behavior_videos", "Behavior_20231213T134340.mp4")
	want, err := os.ReadFile(filepath.Join(sample.DataDir(), sample.SessionID, video))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(session, "raw", video))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	half := len(want) / 2
	got := make([]byte, len(want))
	if _, err := io.ReadFull(f, got[:half]); err != nil {
		t.Fatal(err)
	}

	processed := sample.SessionID + "_processed_2025-01-02_03-04-05"
	co.AddAssets(codeocean.DataAsset{
		ID: "0e9a7c9e-0000-4000-8000-000000000002", Name: processed, State: "ready", Type: "result",
		Created:      codeocean.Time{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
		SourceBucket: &codeocean.SourceBucket{Origin: "aws", Bucket: "aind-open-data", Prefix: processed},
	})
	const rawBucket = "aind-private-data-prod-o5171v"
	srv.PutObject(rawBucket, sample.SessionID+"/notes.txt", []byte("late upload\n"))
	if names := readDirNames(t, filepath.Join(session, "raw")); slices.Contains(names, "notes.txt") {
		t.Fatalf("the new raw file shows before SIGHUP: %q", names)
	}
	results := []byte("units: 42\n")
	srv.PutObject("aind-open-data", processed+"/results.txt", results)
	if names := readDirNames(t, filepath.Join(session, "assets")); slices.Contains(names, processed) {
		t.Fatalf("the new asset shows before SIGHUP: %q", names)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refresh in the log", func() bool { return strings.Contains(logs.String(), "refreshed") })
	after := readDirNames(t, filepath.Join(session, "assets"))
	if len(after) != len(before)+1 || !slices.Contains(after, processed) {
		t.Errorf("assets after SIGHUP = %q, want %q and %s", after, before, processed)
	}
	if b, err := os.ReadFile(filepath.Join(session, "assets", processed, "results.txt")); err != nil || !bytes.Equal(b, results) {
		t.Errorf("the new asset's file: %q, %v", b, err)
	}

	if names := readDirNames(t, filepath.Join(session, "raw")); !slices.Contains(names, "notes.txt") {
		t.Errorf("raw/ after SIGHUP = %q, without notes.txt", names)
	}

	// The file opened before the refresh reads on, byte for byte.
	if _, err := io.ReadFull(f, got[half:]); err != nil || !bytes.Equal(got, want) {
		t.Errorf("reading on after SIGHUP: %v (bytes equal: %v)", err, bytes.Equal(got, want))
	}
	f.Close()
	stopMount(t, logs, exited)
}

// TestRefreshCommand: aindfs refresh MOUNTPOINT SESSION shows a new asset of
// that session; refreshing another session does not.
func TestRefreshCommand(t *testing.T) {
	dir, co, srv, logs, exited := onlineMount(t)
	defer stopMount(t, logs, exited)
	assets := filepath.Join(dir, "sessions", sample.SessionID, "assets")
	before := readDirNames(t, assets)

	processed := sample.SessionID + "_processed_2025-02-03_04-05-06"
	co.AddAssets(codeocean.DataAsset{
		ID: "0e9a7c9e-0000-4000-8000-000000000003", Name: processed, State: "ready", Type: "result",
		Created:      codeocean.Time{Time: time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)},
		SourceBucket: &codeocean.SourceBucket{Origin: "aws", Bucket: "aind-open-data", Prefix: processed},
	})
	srv.PutObject("aind-open-data", processed+"/results.txt", []byte("units: 7\n"))

	code, out, errOut := runCLI(t, "refresh", dir, sample.SecondID)
	if code != 0 || !strings.HasPrefix(out, "refreshed "+sample.SecondID+": ") {
		t.Fatalf("refresh of another session: exit %d, %q %s", code, out, errOut)
	}
	if names := readDirNames(t, assets); slices.Contains(names, processed) {
		t.Errorf("refreshing %s showed a new asset of %s", sample.SecondID, sample.SessionID)
	}

	// Any name of the session will do.
	code, out, errOut = runCLI(t, "refresh", dir, sample.SortedName)
	if code != 0 || !strings.HasPrefix(out, "refreshed "+sample.SessionID+": ") {
		t.Fatalf("refresh: exit %d, %q %s", code, out, errOut)
	}
	if after := readDirNames(t, assets); len(after) != len(before)+1 || !slices.Contains(after, processed) {
		t.Errorf("assets after refresh = %q, want %q and %s", after, before, processed)
	}
	if code, out, _ := runCLI(t, "refresh", dir); code != 0 || !strings.HasPrefix(out, "refreshed every session: ") {
		t.Errorf("refresh of every session: exit %d, %q", code, out)
	}

	for _, tt := range []struct {
		args   []string
		errHas string
	}{
		{[]string{"refresh", dir, "not-a-session"}, `"not-a-session"`},
		{[]string{"refresh", t.TempDir()}, "is not an aindfs mount"},
	} {
		if code, _, errOut := runCLI(t, tt.args...); code != exitUsage || !strings.Contains(errOut, tt.errHas) {
			t.Errorf("%v: exit %d, %s", tt.args, code, errOut)
		}
	}
}
