package fs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Defaults of a mount.
const (
	// DefaultReadAhead is how far ahead the kernel reads a file being read
	// in order: 1 MiB requests keep the per-request overhead of FUSE small
	// next to S3's bandwidth.
	DefaultReadAhead = 1 << 20
	// maxRequest is the largest read the kernel sends in one FUSE request.
	maxRequest = 1 << 20
	// DefaultMaxBackground is how many read-ahead requests the kernel may
	// have in flight at once, a little above the kernel's 12. More buys
	// nothing here (the store reads ahead on its own) and costs memory:
	// each request in flight holds a 1 MiB buffer.
	DefaultMaxBackground = 16
	// negativeValid is how long the kernel remembers that a name is absent.
	// Short: a session uploaded a minute ago must show up.
	negativeValid = 5 * time.Second
	// unmountWait bounds all of Unmount, under the 5 s a service manager
	// or a user at Ctrl-C commonly grants.
	unmountWait = 4 * time.Second
	// unmountTry is how long Unmount gives a clean unmount before
	// detaching, and an aborted connection before giving up.
	unmountTry = time.Second
)

// MountOptions are the choices of a mount.
type MountOptions struct {
	// AllowOther lets users other than the one mounting see the files.
	AllowOther bool
	// ReadAhead is the kernel's read-ahead in bytes; 0: DefaultReadAhead.
	ReadAhead int
	// MaxBackground bounds the kernel's asynchronous requests; 0: DefaultMaxBackground.
	MaxBackground int
	// DirectIO is the size from which S3 files are read with direct I/O,
	// bypassing the kernel's page cache; 0 or negative: never, the
	// default, since programs that read a few bytes at a time (HDF5)
	// would pay a round trip to aindfs for each. Kernels older than 6.6
	// cannot mmap such files, so there every file keeps the page cache.
	DirectIO int64
	// Debug logs every FUSE request (at debug level).
	Debug bool
	// AllowNonEmpty mounts over a folder that holds files, hiding them
	// until unmounted; otherwise such a folder is refused (ErrNotEmpty).
	AllowNonEmpty bool
	// Reads, when set, is told how long each read request took to answer,
	// and its error (nil for a read that reached the end of the file).
	Reads func(took time.Duration, err error)
}

// ErrNotEmpty is returned (wrapped) by Mount for a mount point that holds
// files, which the mount would hide.
var ErrNotEmpty = errors.New("not empty")

// Mount is a tree served at a folder.
type Mount struct {
	Dir     string       // absolute path of the mount point
	server  *fuse.Server // go-fuse's, which answers the kernel
	state   *mountState  // what the mount's nodes share
	log     *slog.Logger
	stop    context.CancelFunc // cancels every request in flight
	stopped chan struct{}      // closed when the server has stopped serving
	dev     uint64             // device number of the mount, for the FUSE control files
	root    *dirNode           // the top folder, for Refresh
	tree    *Tree              // for Refresh

	unmountOnce sync.Once // the first Unmount unmounts; later ones wait for it
	unmountErr  error     // its result
}

// OpenFiles is the number of files open through the mount.
func (m *Mount) OpenFiles() int64 { return m.state.open.Load() }

// Mount serves the tree at dir until Unmount. A mount left stale at dir by
// a crashed process ("transport endpoint is not connected") is cleared
// first. As root the kernel is asked directly; otherwise fusermount3 does it.
func (t *Tree) Mount(dir string, opts MountOptions) (*Mount, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mount point %s: %w", dir, err)
	}
	if err := clearStale(dir, t.log); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("mount point: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("mount point %s: not a folder", dir)
	}
	if name, ok := firstEntry(dir); ok && !opts.AllowNonEmpty {
		return nil, fmt.Errorf("mount point %s is %w (it holds %s): the mount would hide its files", dir, ErrNotEmpty, name)
	}
	if opts.ReadAhead <= 0 {
		opts.ReadAhead = DefaultReadAhead
	}
	if opts.MaxBackground <= 0 {
		opts.MaxBackground = DefaultMaxBackground
	}

	life, stop := context.WithCancel(context.Background())
	state := &mountState{log: t.log, life: life, uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), reads: opts.Reads}
	root := &dirNode{mnt: state, dir: t.Root()}
	negative := negativeValid
	direct := os.Geteuid() == 0
	fopts := &fusefs.Options{
		NegativeTimeout: &negative,
		UID:             state.uid,
		GID:             state.gid,
		Logger:          slog.NewLogLogger(t.log.Handler(), slog.LevelWarn),
		MountOptions: fuse.MountOptions{
			AllowOther:    opts.AllowOther,
			FsName:        "aindfs",
			Name:          "aindfs",
			Options:       []string{"ro", "default_permissions"},
			MaxWrite:      maxRequest,
			MaxReadAhead:  min(opts.ReadAhead, maxRequest),
			MaxBackground: opts.MaxBackground,
			// No extended attributes: without this, `ls -l` asks for ACLs
			// and security labels of every entry.
			DisableXAttrs:        true,
			IgnoreSecurityLabels: true,
			DirectMount:          direct,
			// Lets files opened for direct I/O be mapped shared (numpy.memmap,
			// h5py): the kernel maps them through the page cache.
			ExtraCapabilities: fuse.CAP_DIRECT_IO_ALLOW_MMAP,
			Debug:             opts.Debug,
			Logger:            slog.NewLogLogger(t.log.Handler(), slog.LevelDebug),
		},
	}
	server, err := fuse.NewServer(fusefs.NewNodeFS(root, fopts), dir, &fopts.MountOptions)
	if err != nil {
		stop()
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	m := &Mount{Dir: dir, server: server, state: state, log: t.log, stop: stop, stopped: make(chan struct{}), root: root, tree: t}
	go func() {
		defer close(m.stopped)
		server.Serve()
	}()
	if err := server.WaitMount(); err != nil {
		m.Unmount()
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	kernel := server.KernelSettings().Flags64() // what the kernel offers
	if kernel&fuse.CAP_PASSTHROUGH != 0 && os.Geteuid() == 0 {
		state.pass.Store(newPassthrough(server, t.log))
	}
	if opts.DirectIO > 0 {
		if kernel&fuse.CAP_DIRECT_IO_ALLOW_MMAP != 0 {
			state.directFrom.Store(opts.DirectIO)
		} else {
			t.log.Info("every file goes through the kernel's page cache: this kernel cannot mmap files opened for direct I/O (it needs Linux 6.6)")
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err == nil {
		m.dev = st.Dev
		m.setReadAhead(opts.ReadAhead)
	}
	return m, nil
}

// setReadAhead raises the kernel's read-ahead for the mount: the FUSE
// handshake cannot set it above 128 KiB, the device's sysfs file can (as root).
func (m *Mount) setReadAhead(bytes int) {
	f := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unixMajor(m.dev), unixMinor(m.dev))
	if err := os.WriteFile(f, []byte(strconv.Itoa(bytes/1024)), 0); err != nil {
		m.log.Debug("read-ahead left at the kernel's default", "file", f, "err", err)
	}
}

func unixMajor(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^0xfff }
func unixMinor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^0xff }

// DirectIO returns the size from which files are opened for direct I/O,
// or 0 when none are (turned off, or the kernel cannot map such files).
func (m *Mount) DirectIO() int64 { return m.state.directFrom.Load() }

// Wait blocks until the mount has stopped serving (after Unmount, or when
// someone else unmounted it).
func (m *Mount) Wait() { <-m.stopped }

// Unmount stops serving: requests in flight are cancelled (their callers
// get EIO), then the folder is unmounted; if a process still holds a file
// open there, it is detached lazily instead and its connection aborted.
// Every step waits on one deadline, so it returns within unmountWait
// whatever the callers do.
func (m *Mount) Unmount() error {
	m.unmountOnce.Do(func() { m.unmountErr = m.unmount() })
	return m.unmountErr
}

func (m *Mount) unmount() error {
	m.stop()
	m.tree.ahead.end() // no file is fetched ahead for a mount that is gone
	ctx, cancel := context.WithTimeout(context.Background(), unmountWait)
	defer cancel()
	deadline, _ := ctx.Deadline()

	done := make(chan error, 1)
	go func() { done <- m.server.Unmount() }()
	slow := time.NewTimer(unmountTry)
	defer slow.Stop()
	select {
	case err := <-done:
		if err == nil {
			select {
			case <-m.stopped:
			case <-ctx.Done():
			}
			m.log.Info("unmounted", "dir", m.Dir)
			return nil
		}
		m.log.Warn("unmount failed; detaching the mount lazily", "dir", m.Dir, "err", err)
	case <-slow.C:
		m.log.Warn("unmount is slow; detaching the mount lazily", "dir", m.Dir)
	}
	if err := lazyUnmount(ctx, m.Dir); err != nil {
		return fmt.Errorf("unmount %s: %w", m.Dir, err)
	}
	// Files still open keep the connection alive after a lazy unmount;
	// wait for them a little, then cut it, leaving the abort time to work.
	wait := time.NewTimer(time.Until(deadline.Add(-unmountTry)))
	defer wait.Stop()
	select {
	case <-m.stopped:
	case <-wait.C:
		if err := m.abort(); err != nil {
			m.log.Warn("could not abort the FUSE connection; it ends when the last open file is closed",
				"dir", m.Dir, "err", err)
		}
		select {
		case <-m.stopped:
		case <-ctx.Done():
			return fmt.Errorf("unmount %s: detached, but files are still open there", m.Dir)
		}
	}
	m.log.Info("unmounted (detached)", "dir", m.Dir)
	return nil
}

// abort cuts the FUSE connection through the kernel's control files.
func (m *Mount) abort() error {
	f := fmt.Sprintf("/sys/fs/fuse/connections/%d/abort", unixMinor(m.dev))
	return os.WriteFile(f, []byte("1"), 0)
}

// clearStale lazily unmounts a dead FUSE mount at dir, which fails every
// access with ENOTCONN until it is removed. A live FUSE mount at dir (a
// second `aindfs mount` of the same folder, most likely) is an error:
// mounting over it would hide it, and both would look healthy.
func clearStale(dir string, log *slog.Logger) error {
	// statfs always reaches the filesystem; stat may be answered from the
	// kernel's cache of the dead mount's root.
	var st syscall.Statfs_t
	err := syscall.Statfs(dir, &st)
	if err == nil && st.Type == fuseMagic && isMountPoint(dir) {
		return fmt.Errorf("mount point %s is already a live FUSE mount (another aindfs mount?): unmount it first (fusermount3 -u %s)", dir, dir)
	}
	if !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED) {
		return nil
	}
	log.Info("clearing a stale mount left by a process that died", "dir", dir)
	ctx, cancel := context.WithTimeout(context.Background(), unmountWait)
	defer cancel()
	if err := lazyUnmount(ctx, dir); err != nil {
		return fmt.Errorf("mount point %s holds a stale mount that cannot be cleared: %w", dir, err)
	}
	return nil
}

// firstEntry returns the name of an entry of folder dir, if it has one.
func firstEntry(dir string) (string, bool) {
	f, err := os.Open(dir)
	if err != nil {
		return "", false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	if len(names) == 0 {
		return "", false
	}
	return names[0], true
}

// isMountPoint reports whether dir is the root of a mount: it lies on
// another device than its parent folder.
func isMountPoint(dir string) bool {
	var st, parent syscall.Stat_t
	if syscall.Stat(dir, &st) != nil || syscall.Stat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// lazyUnmount detaches the mount at dir now; the kernel finishes once the
// last open file there is closed. The helper programs it runs are killed
// when ctx ends.
func lazyUnmount(ctx context.Context, dir string) error {
	var errs []error
	if os.Geteuid() == 0 {
		err := syscall.Unmount(dir, syscall.MNT_DETACH)
		if err == nil || errors.Is(err, syscall.EINVAL) { // EINVAL: not mounted any more
			return nil
		}
		errs = append(errs, fmt.Errorf("umount2: %w", err))
	}
	for _, cmd := range [][]string{{"fusermount3", "-u", "-z", dir}, {"fusermount", "-u", "-z", dir}, {"umount", "-l", dir}} {
		bin, err := exec.LookPath(cmd[0])
		if err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, bin, cmd[1:]...).CombinedOutput()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w: %s", cmd[0], err, out))
	}
	if len(errs) == 0 {
		return errors.New("lazy unmount needs root or fusermount3 (package fuse3)")
	}
	return errors.Join(errs...)
}
