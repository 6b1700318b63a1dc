package fs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/sample"
)

// helperMountVar, when set in the environment of the test binary, makes it
// mount the sample at that folder and wait to be killed: a crashed mount.
const helperMountVar = "AINDFS_TEST_HELPER_MOUNT"

// helperMmapVar names a file the test binary maps and hashes, in place of
// running the tests.
const helperMmapVar = "AINDFS_TEST_HELPER_MMAP"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperMountVar); dir != "" {
		os.Exit(helperMount(dir))
	}
	if file := os.Getenv(helperMmapVar); file != "" {
		os.Exit(helperMmap(file))
	}
	if dir := os.Getenv(helperReaddirVar); dir != "" {
		os.Exit(helperReaddir(dir))
	}
	os.Exit(m.Run())
}

func helperMount(dir string) int {
	tree, _, _, _ := sampleTree(&helperTB{})
	if _, err := tree.Mount(dir, MountOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("mounted")
	select {}
}

// helperTB is the testing.TB the helper process hands to the fixtures.
type helperTB struct{ testing.TB }

func (helperTB) Helper()                   {}
func (helperTB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (helperTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// mountTree mounts tree at a new folder for the length of the test.
func mountTree(t testing.TB, tree *Tree) *Mount {
	t.Helper()
	return mountTreeWith(t, tree, MountOptions{})
}

// mountTreeWith is mountTree with options.
func mountTreeWith(t testing.TB, tree *Tree, opts MountOptions) *Mount {
	t.Helper()
	sample.RequireFUSE(t)
	m, err := tree.Mount(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return m
}

func sha(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

// TestMountMatchesSource walks session folders through the mount and
// compares them with the sample on disk: names, kinds, modes, sizes, bytes.
func TestMountMatchesSource(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	m := mountTree(t, tree)
	data := sample.DataDir()
	for _, tt := range sampleFolders {
		files := sameTree(t, filepath.Join(m.Dir, tt.path), filepath.Join(data, tt.source))
		if files == 0 {
			t.Errorf("%s: no file compared", tt.path)
		}
	}

	got := dirNames(t, filepath.Join(m.Dir, "sessions", sample.SessionID))
	if want := []string{"assets", "metadata", "raw", "session.json", "sorted"}; !slices.Equal(got, want) {
		t.Errorf("ls sessions/%s = %q, want %q", sample.SessionID, got, want)
	}
	js, err := os.ReadFile(filepath.Join(m.Dir, "sessions", sample.SessionID, "session.json"))
	if err != nil || !bytes.Contains(js, []byte(`"sorted_data_asset": {`)) || !bytes.Contains(js, []byte(sample.SortedName)) {
		t.Errorf("session.json: %v\n%s", err, js)
	}
}

func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Errorf("ls %s: %v", dir, err)
		return nil
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func TestMountLinks(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	m := mountTree(t, tree)
	tests := []struct{ path, target string }{
		{"sessions/ecephys_676909_2023_12_13_13_43_40_foo", sample.SessionID},
		{"sessions/" + sample.SortedName, sample.SessionID},
		{"subjects/676909/" + sample.SessionID, "../../sessions/" + sample.SessionID},
	}
	for _, tt := range tests {
		p := filepath.Join(m.Dir, tt.path)
		target, err := os.Readlink(p)
		if err != nil || target != tt.target {
			t.Errorf("readlink %s = %q, %v; want %q", tt.path, target, err, tt.target)
			continue
		}
		fi, err := os.Stat(filepath.Join(p, "raw", "rig.json"))
		if err != nil || fi.Size() == 0 {
			t.Errorf("through %s: %v", tt.path, err)
		}
	}
	if got := dirNames(t, filepath.Join(m.Dir, "subjects", "676909")); !slices.Equal(got, []string{sample.SessionID}) {
		t.Errorf("ls subjects/676909 = %q", got)
	}
}

func TestMountRefusesBadNames(t *testing.T) {
	tree, r, _, _ := sampleTree(t)
	m := mountTree(t, tree)
	tests := []struct {
		path string
		want syscall.Errno
	}{
		{"sessions/not-a-session", syscall.ENOENT},
		{"sessions/ecephys_676909_20231213_134340", syscall.ENOENT},
		{"sessions/ecephys_676909_2023-12-13_13-43", syscall.ENOENT},
		{"sessions/" + sample.SessionID + "_" + strings.Repeat("x", 300), syscall.ENAMETOOLONG},
		{"sessions/" + sample.SessionID + "_\xff", syscall.ENOENT},
		{"subjects/12345", syscall.ENOENT},
		{"assets/not-an-id", syscall.ENOENT},
		{"assets/\xff", syscall.ENOENT},
		{"sessions/" + sample.SessionID + "/nope", syscall.ENOENT},
		{"sessions/" + sample.SessionID + "/\xff", syscall.ENOENT},
		{"sessions/" + sample.SecondID + "/sorted", syscall.ENOENT},
	}
	before := r.totalCalls()
	for _, tt := range tests[:8] {
		_, err := os.Lstat(filepath.Join(m.Dir, tt.path))
		if !errors.Is(err, tt.want) {
			t.Errorf("stat %q: %v, want %v", tt.path, err, tt.want)
		}
	}
	if n := r.totalCalls() - before; n != 0 {
		t.Errorf("malformed names made %d resolver calls: %v", n, r.calls)
	}
	for _, tt := range tests[8:] {
		_, err := os.Lstat(filepath.Join(m.Dir, tt.path))
		if !errors.Is(err, tt.want) {
			t.Errorf("stat %q: %v, want %v", tt.path, err, tt.want)
		}
	}
}

func TestMountFailureIsEIO(t *testing.T) {
	tree, r, _, logs := sampleTree(t)
	m := mountTree(t, tree)
	r.setFail(errors.New("connection reset by peer"))
	_, err := os.Stat(filepath.Join(m.Dir, "sessions", sample.SessionID))
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("stat with the catalog failing: %v, want EIO", err)
	}
	if !strings.Contains(logs.String(), "connection reset by peer") {
		t.Errorf("the log does not give the cause:\n%s", logs.String())
	}
}

func TestMountIsReadOnly(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	m := mountTree(t, tree)
	raw := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw")
	file := filepath.Join(raw, "rig.json")
	tests := []struct {
		op string
		do func() error
	}{
		{"open for writing", func() error {
			f, err := os.OpenFile(file, os.O_WRONLY, 0)
			if err == nil {
				f.Close()
			}
			return err
		}},
		{"open read-write", func() error {
			f, err := os.OpenFile(file, os.O_RDWR, 0)
			if err == nil {
				f.Close()
			}
			return err
		}},
		{"create", func() error {
			f, err := os.Create(filepath.Join(raw, "new.txt"))
			if err == nil {
				f.Close()
			}
			return err
		}},
		{"mkdir", func() error { return os.Mkdir(filepath.Join(raw, "new"), 0o755) }},
		{"mkdir in sessions", func() error { return os.Mkdir(filepath.Join(m.Dir, "sessions", "x"), 0o755) }},
		{"unlink", func() error { return os.Remove(file) }},
		{"rmdir", func() error { return os.Remove(filepath.Join(raw, "behavior")) }},
		{"rename", func() error { return os.Rename(file, file+".bak") }},
		{"touch", func() error { return os.Chtimes(file, time.Now(), time.Now()) }},
		{"chmod", func() error { return os.Chmod(file, 0o644) }},
		{"truncate", func() error { return os.Truncate(file, 0) }},
		{"symlink", func() error { return os.Symlink("rig.json", filepath.Join(raw, "l")) }},
	}
	for _, tt := range tests {
		if err := tt.do(); !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", tt.op, err)
		}
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode() != 0o444 {
		t.Errorf("after the attempts: %v %v", fi, err)
	}
}

// TestMountMmap maps a file of the mount in another process and compares
// the bytes. Another process: a page fault on a mapping served by this very
// process can stall the garbage collector, which waits for the faulting
// goroutine while the fault waits for the server.
func TestMountMmap(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	m := mountTree(t, tree)
	rel := filepath.Join("ecephys", "ecephys_clipped", "Record Node 104", "experiment1", "recording1", "continuous", "Neuropix-PXI-100.ProbeA", "continuous.dat")
	want, err := os.ReadFile(filepath.Join(sample.DataDir(), sample.SessionID, rel))
	if err != nil {
		t.Fatal(err)
	}
	checkMapped(t, filepath.Join(m.Dir, "sessions", sample.SessionID, "raw", rel), want)
}

// startHelper runs the test binary with env=value, which makes it one of
// the helpers of TestMain, and returns it with its standard output.
func startHelper(t *testing.T, env, value string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), env+"="+value)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// checkMapped maps path shared and read-only in a child process (see
// TestMountMmap) and compares the bytes with want.
func checkMapped(t *testing.T, path string, want []byte) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperMmapVar+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mmap of %s in a child process: %v", path, err)
	}
	if got := strings.TrimSpace(string(out)); got != sha(want) {
		t.Errorf("%s mapped has sha256 %s, the file's %s (%d bytes)", path, got, sha(want), len(want))
	}
}

// helperMmap maps file and prints the sha256 of its bytes.
func helperMmap(file string) int {
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		fmt.Fprintln(os.Stderr, "stat:", err, fi)
		return 1
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mmap:", err)
		return 1
	}
	defer syscall.Munmap(mem)
	fmt.Println(sha(mem))
	return 0
}

// A second pass over the same folders and files (ls -l, cat) asks the
// objects nothing.
func TestMountSecondPassMakesNoRequest(t *testing.T) {
	tree, _, objects, _ := sampleTree(t)
	m := mountTree(t, tree)
	root := filepath.Join(m.Dir, "sessions", sample.SessionID)
	pass := func() {
		err := filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if _, err := os.Lstat(p); err != nil {
				return err
			}
			if de.Type().IsRegular() {
				_, err = os.ReadFile(p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pass()
	lists, reads := objects.lists.Load(), objects.reads.Load()
	if lists == 0 || reads == 0 {
		t.Fatalf("first pass made %d listings and %d reads: the fakes were not used", lists, reads)
	}
	pass()
	if l, r := objects.lists.Load()-lists, objects.reads.Load()-reads; l != 0 || r != 0 {
		t.Errorf("second pass made %d listings and %d reads, want none", l, r)
	}
}

// goroutines waits for the goroutine count to fall to at most n, and
// returns the count (with all stacks when it stays above).
func goroutines(n int) (int, string) {
	var got int
	for range 100 {
		if got = runtime.NumGoroutine(); got <= n {
			return got, ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	return got, string(buf[:runtime.Stack(buf, true)])
}

// Unmounting with a read blocked on a slow network cancels the read,
// unmounts, and leaves no goroutine behind.
func TestUnmountWithReadInFlight(t *testing.T) {
	sample.RequireFUSE(t)
	// Settle goroutines of earlier tests first.
	base, _ := goroutines(runtime.NumGoroutine())
	tree, _, objects, _ := sampleTree(t)
	objects.block = true
	objects.readStarted = make(chan struct{}, 1)
	m, err := tree.Mount(t.TempDir(), MountOptions{})
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	readErr := make(chan error, 1)
	go func() {
		f, err := os.Open(filepath.Join(m.Dir, "sessions", sample.SessionID, "raw", "rig.json"))
		if err != nil {
			readErr <- err
			return
		}
		defer f.Close()
		_, err = f.Read(make([]byte, 100))
		readErr <- err
	}()
	select {
	case <-objects.readStarted:
	case err := <-readErr:
		t.Fatalf("read finished before the unmount: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the read never reached the objects")
	}

	unmounted := make(chan error, 1)
	go func() { unmounted <- m.Unmount() }()
	// The bound is a hang detector for the promise of SPEC §7 (within 5 s).
	select {
	case err := <-unmounted:
		if err != nil {
			t.Errorf("unmount: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("unmount with a read in flight did not finish within 5 s")
	}
	if err := <-readErr; !errors.Is(err, syscall.EIO) {
		t.Errorf("the interrupted read: %v, want EIO", err)
	}
	if n, stacks := goroutines(base); n > base {
		t.Errorf("%d goroutines after unmount, %d before mount:\n%s", n, base, stacks)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "sessions")); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("the mount point still serves after unmount: %v", err)
	}
}

// Mounting a folder that is already served refuses, naming the cause, and
// leaves the first mount serving.
func TestMountOverLiveMountRefused(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	m := mountTree(t, tree)
	other, _, _, _ := sampleTree(t)
	if m2, err := other.Mount(m.Dir, MountOptions{}); err == nil {
		m2.Unmount()
		t.Fatal("a second mount of a served folder succeeded")
	} else if !strings.Contains(err.Error(), "already a live FUSE mount") {
		t.Errorf("second mount: %v, want it to say the folder is already mounted", err)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "sessions", sample.SecondID, "raw", "subject.json")); err != nil {
		t.Errorf("the first mount after the refused second one: %v", err)
	}
}

// A mount whose process died leaves "transport endpoint is not connected";
// mounting there again clears it.
func TestMountOverStaleMount(t *testing.T) {
	sample.RequireFUSE(t)
	dir := t.TempDir()
	cmd, out := startHelper(t, helperMountVar, dir)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "mounted\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper did not mount: %q %v", line, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("after the crash: %v, want a stale mount (ENOTCONN)", err)
	}

	tree, _, _, logs := sampleTree(t)
	m, err := tree.Mount(dir, MountOptions{})
	if err != nil {
		t.Fatalf("mount over the stale mount: %v", err)
	}
	defer m.Unmount()
	got, err := os.ReadFile(filepath.Join(dir, "sessions", sample.SecondID, "raw", "subject.json"))
	want, _ := os.ReadFile(filepath.Join(sample.DataDir(), sample.SecondID, "subject.json"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("read after remount: %v", err)
	}
	if !strings.Contains(logs.String(), "stale mount") {
		t.Errorf("the log does not mention the stale mount:\n%s", logs.String())
	}
}
