package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aind/aindfs/internal/sample"
)

// TestMountConfinesData mounts a data folder holding files of several
// permissions and links out of it, with and without --allow-other, and
// reads it as root and as nobody: nobody reads through the mount only what
// they could read directly. Links that leave the data folder are shown as
// links, for the kernel to follow in the reader's rights, and so is an
// asset folder that is such a link, wherever the tree shows it.
func TestMountConfinesData(t *testing.T) {
	sample.RequireFUSE(t)
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("reading as nobody needs root, and CI=true requires this test to run")
		}
		t.Skip("reading as nobody needs root")
	}
	nobodyCan := func(args ...string) (string, error) {
		out, err := exec.Command("setpriv", append([]string{"--reuid=nobody", "--regid=nogroup", "--clear-groups"}, args...)...).CombinedOutput()
		return string(out), err
	}
	const otherID = "ecephys_676910_2024-01-02_10-00-00"
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	data := filepath.Join(base, "data")
	asset := filepath.Join(data, sampleID)
	for _, d := range []string{outside, filepath.Join(asset, "hidden"), filepath.Join(base, "open"), filepath.Join(base, "own")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{filepath.Dir(base), base} { // so that nobody reaches what is readable
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := []struct {
		path string
		perm os.FileMode
	}{
		{filepath.Join(outside, "secret"), 0o600},
		{filepath.Join(outside, "open.txt"), 0o644},
		{filepath.Join(asset, "public.txt"), 0o644},
		{filepath.Join(asset, "private.txt"), 0o600},
		{filepath.Join(asset, "hidden", "x.txt"), 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, []byte("bytes of "+filepath.Base(f.path)), f.perm); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(asset, "shadow"): filepath.Join(outside, "secret"),
		filepath.Join(asset, "rel"):    "../../outside/open.txt",
		filepath.Join(asset, "in"):     "public.txt",
		filepath.Join(data, otherID):   outside,
	}
	for p, target := range links {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(asset, "hidden"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := nobodyCan("cat", filepath.Join(outside, "secret")); err == nil {
		t.Fatal("nobody reads the secret directly: the test cannot tell anything")
	}

	for _, allowOther := range []bool{true, false} {
		mnt := filepath.Join(base, map[bool]string{true: "open", false: "own"}[allowOther])
		args := []string{"mount", "--background", "--offline", "--data", data, mnt}
		if allowOther {
			args = append(args, "--allow-other")
		}
		if code, _, errOut := runCLI(t, args...); code != 0 {
			t.Fatalf("mount: exit %d: %s", code, errOut)
		}
		t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
		raw := filepath.Join(mnt, "sessions", sampleID, "raw")

		// What root sees: the links out as links, their targets as absolute
		// paths; files with their own modes less write.
		for name, want := range map[string]string{"shadow": filepath.Join(outside, "secret"), "rel": filepath.Join(outside, "open.txt")} {
			fi, err := os.Lstat(filepath.Join(raw, name))
			if err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("%s: %v, %v; want a symlink", name, fi, err)
				continue
			}
			if got, err := os.Readlink(filepath.Join(raw, name)); got != want {
				t.Errorf("readlink %s = %q, %v; want %q", name, got, err, want)
			}
		}
		for name, perm := range map[string]os.FileMode{"public.txt": 0o444, "private.txt": 0o400, "in": 0o444, "hidden": os.ModeDir | 0o500, ".": os.ModeDir | 0o555} {
			fi, err := os.Lstat(filepath.Join(raw, name))
			if err != nil || fi.Mode() != perm {
				t.Errorf("%s: %v, %v; want mode %v", name, fi, err, perm)
			}
		}
		if got, err := os.ReadFile(filepath.Join(raw, "in")); string(got) != "bytes of public.txt" {
			t.Errorf("a link inside the folder through the mount: %q, %v", got, err)
		}
		// An asset folder linked out: a link wherever the asset is shown,
		// which the kernel follows to the files themselves, not to aindfs.
		other := filepath.Join(mnt, "sessions", otherID)
		for _, p := range []string{filepath.Join(other, "raw"), filepath.Join(other, "assets", otherID)} {
			if got, err := os.Readlink(p); got != outside {
				t.Errorf("readlink %s = %q, %v; want %q", p, got, err, outside)
			}
		}
		if got, err := os.ReadFile(filepath.Join(other, "raw", "secret")); string(got) != "bytes of secret" {
			t.Errorf("root reading through a linked asset folder: %q, %v", got, err)
		}
		var direct, through syscall.Stat_t
		if err := errors.Join(syscall.Stat(filepath.Join(outside, "secret"), &direct), syscall.Stat(filepath.Join(other, "raw", "secret"), &through)); err != nil || through.Dev != direct.Dev || through.Ino != direct.Ino {
			t.Errorf("a file through a linked asset folder is not the file itself (dev %d ino %d, want %d %d): %v", through.Dev, through.Ino, direct.Dev, direct.Ino, err)
		}

		// What nobody reads: with --allow-other, what they could read
		// directly; without, nothing.
		for _, tt := range []struct {
			name, want string // want "": refused
		}{
			{"public.txt", "bytes of public.txt"},
			{"in", "bytes of public.txt"},
			{"rel", "bytes of open.txt"},
			{"private.txt", ""},
			{"shadow", ""},
			{"hidden/x.txt", ""},
			{"../../" + otherID + "/raw/open.txt", "bytes of open.txt"},
			{"../../" + otherID + "/raw/secret", ""},
		} {
			if !allowOther {
				tt.want = ""
			}
			got, err := nobodyCan("cat", filepath.Join(raw, tt.name))
			switch {
			case tt.want == "" && (err == nil || strings.Contains(got, "bytes of")):
				t.Errorf("allow-other %v: nobody read %s through the mount: %q", allowOther, tt.name, got)
			case tt.want != "" && (err != nil || got != tt.want):
				t.Errorf("allow-other %v: nobody reading %s through the mount: %q, %v; want %q", allowOther, tt.name, got, err, tt.want)
			}
		}
		if got, err := nobodyCan("ls", filepath.Join(mnt, "sessions")); allowOther != (err == nil) || allowOther && !strings.Contains(got, otherID) {
			t.Errorf("allow-other %v: nobody listing sessions: %q, %v", allowOther, got, err)
		}
	}
}
