package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/internal/sample"
)

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after 10 s", what)
		}
	}
}

// TestMountBackground: mount --background returns once the mount serves,
// and with the reason when the mount cannot be made.
func TestMountBackground(t *testing.T) {
	sample.RequireFUSE(t)
	data := sampleData(t)
	dir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "aindfs.log")
	code, _, errOut := runCLI(t, "--log-level", "info", "--log-file", logFile, "mount", "--background", "--offline", "--data", data, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	if errOut != "aindfs: serving "+dir+"\n" {
		t.Errorf("stderr %q, want only the ready line", errOut)
	}
	// Returned means serving: the first read needs no wait.
	got, err := os.ReadFile(filepath.Join(dir, "sessions", sampleID, "sorted", "output"))
	want, _ := os.ReadFile(filepath.Join(data, sampleSorted, "output"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read right after --background returned: %v", err)
	}

	// The mount point is taken now: the second mount fails in its own
	// process and the reason comes back.
	code, _, errOut = runCLI(t, "mount", "--background", "--offline", "--data", data, dir)
	if code != exitFailure || !strings.Contains(errOut, "is already a live FUSE mount") {
		t.Errorf("second mount: exit %d, stderr %q", code, errOut)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for _, bad := range []struct{ dir, says string }{
		{filepath.Join(t.TempDir(), "absent"), "does not exist"},
		{file, "is not a folder"},
	} {
		code, _, errOut = runCLI(t, "mount", "--background", "--offline", "--data", data, bad.dir)
		if code != exitUsage || !strings.Contains(errOut, "mount point "+bad.dir+" "+bad.says) || strings.Contains(errOut, "serving") {
			t.Errorf("mount --background %s: exit %d, stderr %q", bad.dir, code, errOut)
		}
	}

	// The background mount logs to --log-file, and ends when unmounted.
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	mounted = false
	waitFor(t, "the background mount to log its end", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "msg=\"unmounted from outside\"")
	})
	b, _ := os.ReadFile(logFile)
	if !strings.Contains(string(b), "msg=mounted") || !strings.Contains(string(b), "dir="+dir) {
		t.Errorf("the log file does not say what was mounted:\n%s", b)
	}
}

// TestMountLogsJSONAndSteps: --log-format json --log-file writes one JSON
// object a line; SIGUSR2 raises the level, and the change is logged.
func TestMountLogsJSONAndSteps(t *testing.T) {
	sample.RequireFUSE(t)
	dir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "log", "aindfs.json")
	var out, errOut logtest.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run([]string{"--log-level", "info", "--log-format", "json", "--log-file", logFile,
			"mount", "--offline", "--data", sampleData(t), dir}, &out, &errOut)
	}()
	waitServing(t, &errOut, exited, dir)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the level change in the log", func() bool {
		b, _ := os.ReadFile(logFile)
		return bytes.Contains(b, []byte("log level changed"))
	})
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	if code := <-exited; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		msgs = append(msgs, rec["msg"].(string))
		if rec["msg"] == "log level changed" && (rec["level"] != "WARN" || rec["level_now"] != "warn") {
			t.Errorf("level change logged as %v", rec)
		}
		if rec["msg"] == "mounted" && rec["dir"] != dir {
			t.Errorf("mounted %v, want dir %s", rec, dir)
		}
	}
	// From info to warn: "mounted" (info) is logged, "unmounting" (info,
	// after the change) is not.
	all := strings.Join(msgs, "|")
	if !strings.Contains(all, "mounted|") || !strings.Contains(all, "log level changed") || strings.Contains(all, "unmounting") {
		t.Errorf("messages in the log: %q", msgs)
	}
	if strings.Contains(errOut.String(), "level=") || !strings.Contains(errOut.String(), "aindfs: serving "+dir) {
		t.Errorf("stderr holds more than the ready line: %q", errOut.String())
	}
}

// TestMountNotifiesSystemd: under systemd (NOTIFY_SOCKET) the mount says
// READY once it serves and STOPPING when it unmounts.
func TestMountNotifiesSystemd(t *testing.T) {
	sample.RequireFUSE(t)
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	dir := t.TempDir()
	var out, errOut logtest.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run([]string{"mount", "--offline", "--data", sampleData(t), dir}, &out, &errOut)
	}()
	read := func() string {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 256)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no message to systemd: %v; stderr %s", err, errOut.String())
		}
		return string(buf[:n])
	}
	if msg := read(); msg != "READY=1" {
		t.Fatalf("first message %q, want READY=1", msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions", sampleID)); err != nil {
		t.Errorf("READY before the mount serves: %v", err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	if msg := read(); msg != "STOPPING=1" {
		t.Errorf("message after SIGTERM %q, want STOPPING=1", msg)
	}
	if code := <-exited; code != 0 {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
}

func TestMountHelperCommandLine(t *testing.T) {
	tests := []struct {
		argv []string
		want []string
	}{
		{[]string{"/usr/local/bin/aindfs", "ls", "sessions"}, []string{"ls", "sessions"}},
		{[]string{"aindfs"}, []string{}},
		{[]string{"/sbin/mount.aindfs", "aindfs", "/mnt/s", "-o", "rw,_netdev,cache_size=4GiB,data=/data,allow_other,x-systemd.automount"},
			[]string{"mount", "--background", "--cache-size=4GiB", "--data=/data", "--allow-other", "/mnt/s"}},
		{[]string{"mount.aindfs", "aindfs", "/mnt/s", "-n", "-v", "-t", "aindfs"}, []string{"mount", "--background", "/mnt/s"}},
		{[]string{"mount.aindfs", "aindfs"}, []string{"mount", "--background"}},
	}
	for _, tt := range tests {
		if got := commandLine(tt.argv); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("commandLine(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
	// A misspelt option is refused, named.
	code, _, errOut := runCLI(t, commandLine([]string{"mount.aindfs", "aindfs", t.TempDir(), "-o", "cache_sise=1GiB"})...)
	if code != exitUsage || !strings.Contains(errOut, "cache-sise") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCLI(t, commandLine([]string{"mount.aindfs", "aindfs"})...); code != exitUsage {
		t.Errorf("mount.aindfs without a folder: exit %d, want %d", code, exitUsage)
	}
}

// TestMountHelperMounts: what mount(8) runs for an /etc/fstab line of type
// aindfs mounts in the background and returns once the mount serves.
func TestMountHelperMounts(t *testing.T) {
	sample.RequireFUSE(t)
	data := sampleData(t)
	dir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "aindfs.log")
	argv := []string{"/sbin/mount.aindfs", "aindfs", dir, "-o", "ro,_netdev,offline,data=" + data + ",log_file=" + logFile + ",log_level=info"}
	code, _, errOut := runCLI(t, commandLine(argv)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	got, err := os.ReadFile(filepath.Join(dir, "sessions", sampleID, "metadata", "subject.json"))
	want, _ := os.ReadFile(filepath.Join(data, sampleID, "subject.json"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read through the mount: %v", err)
	}
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mount to log its end", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "unmounted from outside")
	})
}
