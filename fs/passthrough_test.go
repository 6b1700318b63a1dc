package fs

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/store"
)

// overlayMagic is the statfs type of overlayfs, on which the kernel
// refuses passthrough files (a FUSE mount may stack on one filesystem).
const overlayMagic = 0x794c7630

// TestMountPassesLocalFilesThrough: files on local disk read right, and,
// where the kernel can read them itself (root, FUSE passthrough, a
// backing filesystem that is not stacked), no byte of them is served by
// aindfs; elsewhere aindfs serves them.
func TestMountPassesLocalFilesThrough(t *testing.T) {
	st := store.New(store.Options{})
	t.Cleanup(func() { st.Close() })
	logs := &logtest.Buffer{}
	tree := New(Config{Resolver: sampleResolver(t), Objects: StoreObjects(st), Logger: logtest.Logger(logs)})
	m := mountTree(t, tree)
	src := filepath.Join(sampleDir(t), ephysID)
	var fsStat syscall.Statfs_t
	if err := syscall.Statfs(src, &fsStat); err != nil {
		t.Fatal(err)
	}
	kernel := m.server.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH != 0
	passthrough := os.Geteuid() == 0 && kernel && fsStat.Type != overlayMagic
	t.Logf("passthrough expected: %v (root %v, kernel offers it %v, overlayfs %v)", passthrough, os.Geteuid() == 0, kernel, fsStat.Type == overlayMagic)

	raw := filepath.Join(m.Dir, "sessions", ephysID, "raw")
	if n := sameTree(t, raw, src); n == 0 {
		t.Fatal("no file compared")
	}
	rel := filepath.Join("ecephys", "ecephys_clipped", "Record Node 104", "experiment1", "recording1", "continuous", "Neuropix-PXI-100.ProbeA", "continuous.dat")
	want, err := os.ReadFile(filepath.Join(src, rel))
	if err != nil {
		t.Fatal(err)
	}
	checkMapped(t, filepath.Join(raw, rel), want)

	served := st.Stats().BytesServed
	switch {
	case passthrough && served != 0:
		t.Errorf("aindfs served %d bytes of local files the kernel could read itself", served)
	case !passthrough && served == 0:
		t.Errorf("aindfs served no byte of local files, yet the kernel cannot read them itself here")
	}
}
