package fs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store"
)

// TestMountPassesReadOnlyFilesThrough: local files read right either way.
// Those of a read-only filesystem (a capsule's /data; here a read-only
// bind mount of the sample) are read by the kernel directly where it can
// (root, FUSE passthrough, a filesystem not stacked on another): aindfs
// serves no byte of them. Those of a writable one are served by aindfs,
// which notices a file changed under an open handle.
func TestMountPassesReadOnlyFilesThrough(t *testing.T) {
	for _, readOnly := range []bool{false, true} {
		name := map[bool]string{false: "writable", true: "read-only"}[readOnly]
		t.Run(name, func(t *testing.T) {
			dir := sample.DataDir()
			if readOnly {
				dir = readOnlyBind(t, dir)
			}
			st := localStore(t, dir)
			logs := &logtest.Buffer{}
			tree := New(Config{Resolver: sampleResolverAt(t, dir), Objects: StoreObjects(st), Logger: logtest.Logger(logs)})
			m := mountTree(t, tree)
			var fsStat syscall.Statfs_t
			if err := syscall.Statfs(dir, &fsStat); err != nil {
				t.Fatal(err)
			}
			kernel := m.server.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH != 0
			stacked := fsStat.Type == overlayMagic || fsStat.Type == fuseMagic
			passthrough := readOnly && kernel && !stacked
			t.Logf("passthrough expected: %v (read-only %v, kernel offers it %v, stacked filesystem %v)", passthrough, readOnly, kernel, stacked)

			raw := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw")
			if n := sameTree(t, raw, filepath.Join(dir, sample.SessionID)); n == 0 {
				t.Fatal("no file compared")
			}
			rel := filepath.Join("ecephys", "ecephys_clipped", "Record Node 104", "experiment1", "recording1", "continuous", "Neuropix-PXI-100.ProbeA", "continuous.dat")
			want, err := os.ReadFile(filepath.Join(dir, sample.SessionID, rel))
			if err != nil {
				t.Fatal(err)
			}
			checkMapped(t, filepath.Join(raw, rel), want)

			served := st.Stats().BytesServed
			switch {
			case passthrough && served != 0:
				t.Errorf("aindfs served %d bytes of read-only local files the kernel could read itself\n%s", served, logs)
			case !passthrough && served == 0:
				t.Errorf("aindfs served no byte of local files the kernel cannot read itself here")
			}
			if !readOnly && !strings.Contains(logs.String(), "the filesystem is writable") {
				t.Errorf("the log does not say why writable files are not passed through:\n%s", logs)
			}
		})
	}
}

// readOnlyBind makes dir visible read-only at a new folder, for the length
// of the test (a bind mount: it needs root).
// localStore is a store of the files in folder dir, closed when the test ends.
func localStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	local, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(store.Options{Local: local})
	t.Cleanup(func() {
		st.Close()
		local.Close()
	})
	return st
}

func readOnlyBind(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("a read-only bind mount needs root, and CI=true requires this test to run")
		}
		t.Skip("a read-only bind mount needs root")
	}
	ro := t.TempDir()
	if err := syscall.Mount(dir, ro, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(ro, syscall.MNT_DETACH) })
	if err := syscall.Mount("", ro, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	return ro
}

// TestMountPassthroughAmongRefusedFiles: a file the kernel cannot take as
// a passthrough file (here one on overlayfs, mounted in the data folder and
// reached by a symlink in an asset) is read through aindfs, and does not
// stop files that were passed through from being opened again while open.
func TestMountPassthroughAmongRefusedFiles(t *testing.T) {
	base := t.TempDir()
	// An asset with a.bin and a link to o.bin, beside the folder where the
	// overlay goes, seen read-only.
	data := filepath.Join(base, "data")
	asset := filepath.Join(data, sample.SessionID)
	if err := os.MkdirAll(asset, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(data, "overlay"), 0o755); err != nil {
		t.Fatal(err)
	}
	mine := []byte(strings.Repeat("on the asset's own disk\n", 5000))
	if err := os.WriteFile(filepath.Join(asset, "a.bin"), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../overlay/o.bin", filepath.Join(asset, "o.bin")); err != nil {
		t.Fatal(err)
	}
	ro := readOnlyBind(t, data)
	// A read-only overlay holding o.bin.
	layers := []string{filepath.Join(base, "l1"), filepath.Join(base, "l2")}
	for _, d := range layers {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	other := []byte(strings.Repeat("on overlayfs\n", 5000))
	if err := os.WriteFile(filepath.Join(layers[0], "o.bin"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(ro, "overlay")
	if err := syscall.Mount("overlay", overlay, "overlay", syscall.MS_RDONLY, "lowerdir="+layers[0]+":"+layers[1]); err != nil {
		t.Fatalf("mount overlayfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(overlay, syscall.MNT_DETACH) })
	r := newFakeResolver()
	r.setRaw(r.addAsset(t, ro, sample.SessionID, sample.SessionAssetID, time.Date(2023, 12, 13, 20, 0, 0, 0, time.UTC)))
	st := localStore(t, ro)
	logs := &logtest.Buffer{}
	m := mountTree(t, New(Config{Resolver: r, Objects: StoreObjects(st), Logger: logtest.Logger(logs)}))
	raw := filepath.Join(m.Dir, "sessions", sample.SessionID, "raw")

	first, err := os.Open(filepath.Join(raw, "a.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if got, err := os.ReadFile(filepath.Join(raw, "o.bin")); err != nil || string(got) != string(other) {
		t.Fatalf("o.bin through the mount: %d bytes, %v\n%s", len(got), err, logs)
	}
	if got, err := os.ReadFile(filepath.Join(raw, "a.bin")); err != nil || string(got) != string(mine) {
		t.Fatalf("a.bin opened again while open: %d bytes, %v\n%s", len(got), err, logs)
	}
	buf := make([]byte, len(mine))
	if n, err := first.ReadAt(buf, 0); n != len(mine) || string(buf) != string(mine) {
		t.Errorf("a.bin through its first handle: %d bytes, %v", n, err)
	}
}
