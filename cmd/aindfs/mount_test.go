package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aind/aindfs/fs"
	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/internal/sample"
)

// TestMountServesUntilSIGTERM runs `aindfs mount` on the sample, reads
// through it, then sends SIGTERM: the command unmounts and exits 0.
func TestMountServesUntilSIGTERM(t *testing.T) {
	sample.RequireFUSE(t)
	data := sampleData(t)
	dir := t.TempDir()
	var out, errOut logtest.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run([]string{"--log-level", "info", "mount", "--offline", "--data", data, dir}, &out, &errOut)
	}()

	// Once the ready line is out, the mount serves.
	waitServing(t, &errOut, exited, dir)
	sessions := filepath.Join(dir, "sessions")
	got, err := os.ReadFile(filepath.Join(sessions, sampleID, "sorted", "output"))
	want, _ := os.ReadFile(filepath.Join(data, sampleSorted, "output"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("read through the mount: %v", err)
	}
	des, err := os.ReadDir(sessions)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	if !slices.Equal(names, []string{secondID, sampleID}) {
		t.Errorf("ls sessions = %q", names)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit %d after SIGTERM: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("mount still running 10 s after SIGTERM: %s", errOut.String())
	}
	if des, err := os.ReadDir(dir); err != nil || len(des) != 0 {
		t.Errorf("after exit the mount point holds %d entries (%v): still mounted", len(des), err)
	}
	logs := errOut.String()
	for _, s := range []string{"msg=mounted", "dir=" + dir, "data=" + data, "msg=unmounted"} {
		if !strings.Contains(logs, s) {
			t.Errorf("the log does not say %q:\n%s", s, logs)
		}
	}
}

// waitServing waits for the ready line of a mount at dir on stderr, failing
// the test if the command exits first or says nothing for 20 s.
func waitServing(t *testing.T, stderr *logtest.Buffer, exited <-chan int, dir string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr.String(), "aindfs: serving "+dir+"\n"); {
		select {
		case code := <-exited:
			t.Fatalf("mount exited %d before serving: %s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready line after 20 s: %s", stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions", sampleID)); err != nil {
		t.Fatalf("ready line printed, but the mount does not serve: %v", err)
	}
}

func TestMountUsageErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		args   []string
		errHas string
	}{
		{[]string{"mount"}, "accepts 1 arg"},
		{[]string{"mount", "--offline", filepath.Join(t.TempDir(), "absent")}, "does not exist"},
		{[]string{"mount", "--offline", file}, "is not a folder"},
		{[]string{"mount", "--offline", "--read-ahead", "lots", t.TempDir()}, `--read-ahead "lots"`},
		{[]string{"mount", "--offline", "--cache-size", "big", t.TempDir()}, "--cache-size"},
		{[]string{"mount", "--offline", "--direct-io", "never", t.TempDir()}, `--direct-io "never"`},
		{[]string{"mount", "--offline", "--direct-io", "0", t.TempDir()}, `--direct-io "0"`},
		{[]string{"mount", "--offline", "--metadata-ttl", "-1m", t.TempDir()}, "--metadata-ttl -1m0s"},
		{[]string{"mount", "--offline", "--negative-ttl", "soon", t.TempDir()}, `invalid argument "soon" for "--negative-ttl"`},
	}
	for _, tt := range tests {
		code, _, errOut := runCLI(t, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.errHas) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d saying %q", tt.args, code, errOut, exitUsage, tt.errHas)
		}
	}
}

// TestMountNonEmpty: a mount point that holds files is refused, naming one
// of them and the flag, since the mount would hide them; with
// --allow-non-empty it is mounted over, and its files are back once
// unmounted.
func TestMountNonEmpty(t *testing.T) {
	sample.RequireFUSE(t)
	data := sampleData(t)
	dir := t.TempDir()
	mine := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	// In the background, so that a mount made by mistake cannot hang the test.
	code, _, errOut := runCLI(t, "mount", "--background", "--offline", "--data", data, dir)
	if code == 0 {
		syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	if code != exitUsage || !strings.Contains(errOut, "mount point "+dir+" is not empty (it holds notes.txt)") || !strings.Contains(errOut, "--allow-non-empty") {
		t.Errorf("mount over a folder with a file: exit %d, stderr %q; want exit %d naming the file and --allow-non-empty", code, errOut, exitUsage)
	}
	if got, err := os.ReadFile(mine); err != nil || string(got) != "mine" {
		t.Fatalf("after the refused mount: %q, %v", got, err)
	}

	var out, stderr logtest.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run([]string{"mount", "--offline", "--allow-non-empty", "--data", data, dir}, &out, &stderr)
	}()
	waitServing(t, &stderr, exited, dir)
	if _, err := os.Stat(mine); err == nil {
		t.Error("the folder's own file is seen through the mount")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit %d after SIGTERM: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("mount still running 10 s after SIGTERM: %s", stderr.String())
	}
	if got, err := os.ReadFile(mine); err != nil || string(got) != "mine" {
		t.Errorf("after unmounting: %q, %v; want the folder's own file back", got, err)
	}
}

// TestGoHeapLimit: the Go soft memory limit of a mount leaves the
// collector room for the listings it keeps (twice their budget) and more,
// and GOMEMLIMIT wins over it.
func TestGoHeapLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	g := &globals{log: slog.New(slog.DiscardHandler)}
	for _, entries := range []int{1000, fs.DefaultListingEntries, 1_000_000} {
		t.Setenv("GOMEMLIMIT", "")
		os.Unsetenv("GOMEMLIMIT")
		limitGoHeap(g, entries)
		listings := int64(entries) * fs.ListingEntryBytes
		if got := debug.SetMemoryLimit(-1); got < 2*listings+32<<20 || got > 2*listings+256<<20 {
			t.Errorf("%d listing entries: Go heap limit %d MiB, want twice the listings' %d MiB and some tens of MiB", entries, got>>20, listings>>20)
		}
		debug.SetMemoryLimit(before)
		t.Setenv("GOMEMLIMIT", "1GiB")
		limitGoHeap(g, entries)
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("with GOMEMLIMIT set, limitGoHeap changed the limit to %d", got)
		}
	}
}
