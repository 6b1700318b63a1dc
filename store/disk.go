package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DiskCache is the second tier of the block cache: blocks of S3 objects
// kept in a folder on local disk, so that they outlive the process. Reads
// look in memory, then on disk, then ask S3; every block that arrives from
// S3 is written to disk behind the reader's back (write-behind), never in
// its path.
//
// A block is a file named by a hash of its object's location, ETag and
// size, the block size and its index: an object whose ETag or size
// changed is never served from old blocks. The file carries its key and a
// CRC-32C of key and bytes, checked on every read, so that a torn or
// corrupted file (power loss, kill -9 during a write, a disk that lies) is
// removed and the block fetched again, never served.
//
// Several processes may share one folder. Block files need no lock: each
// is written under a temporary name and published with link(2), which is
// atomic and never replaces a file, so a reader sees a whole file or none;
// the files never change once published, and one removed by another
// process's eviction stays readable to whoever has it open. Only the
// folder's size is shared state: it is kept in the lock file and changed
// under flock(2) on it, so that every process counts each file once and
// the bound holds for them all. Eviction happens under the same lock,
// least recently used first (a hit touches the file's mtime).
//
// When the disk fails (full, read-only, the folder deleted under a running
// process) the failure is logged once and the cache stops writing; reads
// go on from memory and S3.
type DiskCache struct {
	root  string // <dir>/aindfs
	limit int64
	log   *slog.Logger

	// lockFile holds the folder's size in bytes; flock'd while it is read
	// or changed, and while files are evicted.
	lockFile *os.File
	// users is flock'd shared by every process that has the folder open,
	// so that one that finds itself alone may recount the folder.
	users *os.File
	// mu serializes this process's goroutines around the flock (flock
	// locks belong to the open file, not to the goroutine) and guards
	// victims.
	mu sync.Mutex
	// victims are the block files seen at the last scan, oldest first:
	// the candidates for eviction, taken from the front.
	victims []diskFile

	// credit is bytes counted in the folder's size and not yet taken by a
	// file: reserved a slice at a time, so that writing a block seldom
	// takes the lock. Given back by Close.
	creditMu sync.Mutex
	credit   int64

	failed   atomic.Bool // writing stopped after a failure
	failOnce sync.Once

	queueMu sync.RWMutex // guards closed against queue's close
	closed  bool
	wait    bool // a full queue makes put wait rather than skip the block
	queue   chan diskWrite
	writers sync.WaitGroup

	hits, written, dropped, corrupt atomic.Int64
}

// diskFile is a block file seen by a scan.
type diskFile struct {
	name  string
	cost  int64
	mtime time.Time
}

// diskWrite is a block waiting to be written; done lets go of its bytes.
type diskWrite struct {
	name, key string
	data      []byte
	done      func()
}

// Defaults and limits of the disk tier.
const (
	// DefaultDiskBytes bounds --cache-dir when no size is given.
	DefaultDiskBytes = 10 << 30
	// diskQueue is the most blocks waiting to be written: at 128 KiB a
	// block, 32 MiB of memory. A disk slower than the network drops blocks
	// rather than slowing the reader down or holding more memory.
	diskQueue   = 256
	diskWriters = 4
	// diskCredit is the most a process reserves of the folder's size at
	// once (a sixteenth of a small folder).
	diskCredit = 8 << 20
	// diskUnit is what a file costs at least, and the unit its cost is
	// rounded up to: the allocation unit of common filesystems.
	diskUnit = 4096
	// staleTemp is the age after which a temporary file is taken for the
	// leftover of a process that died while writing it.
	staleTemp = 10 * time.Minute
)

// diskMagic starts every block file; a new layout gets a new magic.
var diskMagic = [8]byte{'a', 'i', 'n', 'd', 'b', 'l', 'k', '1'}

// diskHeader is magic, key length, data length, CRC-32C of key and data.
const diskHeader = 8 + 4 + 4 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OpenDiskCache opens (creating it if needed) the disk cache in dir,
// bounded to limit bytes: block files, their headers and the lock file,
// each rounded up to the 4 KiB the filesystem allocates.
func OpenDiskCache(dir string, limit int64, log *slog.Logger) (*DiskCache, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if limit < 16*diskUnit {
		return nil, fmt.Errorf("cache folder %s: size %d is too small", dir, limit)
	}
	root := filepath.Join(dir, "aindfs")
	for _, d := range []string{root, filepath.Join(root, "blocks"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("cache folder %s: %w", dir, err)
		}
	}
	lf, err := os.OpenFile(filepath.Join(root, "size"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cache folder %s: %w", dir, err)
	}
	users, err := os.OpenFile(filepath.Join(root, "users"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("cache folder %s: %w", dir, err)
	}
	d := &DiskCache{root: root, limit: limit, log: log, lockFile: lf, users: users}
	// Alone with the folder: recount it, since a process that died may
	// have counted files it never wrote. Then stay, shared, until Close.
	if syscall.Flock(int(users.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		err = d.locked(func(int64) (int64, error) { return d.recount() })
	}
	if err == nil {
		err = syscall.Flock(int(users.Fd()), syscall.LOCK_SH)
	}
	if err != nil {
		lf.Close()
		users.Close()
		return nil, fmt.Errorf("cache folder %s: %w", dir, err)
	}
	d.queue = make(chan diskWrite, diskQueue)
	for range diskWriters {
		d.writers.Go(d.writeBehind)
	}
	return d, nil
}

// Close writes the blocks still waiting and releases the folder.
func (d *DiskCache) Close() error {
	d.queueMu.Lock()
	if d.closed {
		d.queueMu.Unlock()
		return nil
	}
	d.closed = true
	close(d.queue)
	d.queueMu.Unlock()
	d.writers.Wait()
	d.creditMu.Lock()
	credit := d.credit
	d.credit = 0
	d.creditMu.Unlock()
	err := d.locked(func(size int64) (int64, error) { return size - credit, nil })
	d.users.Close()
	if cerr := d.lockFile.Close(); err == nil {
		err = cerr
	}
	return err
}

// DiskStats describes a disk cache folder.
type DiskStats struct {
	Dir          string
	Bytes, Limit int64 // counted size of the folder, and this process's bound
	Blocks       int   // block files
}

// Stats counts the folder's block files and reads its size.
func (d *DiskCache) Stats() (DiskStats, error) {
	st := DiskStats{Dir: filepath.Dir(d.root), Limit: d.limit}
	err := d.locked(func(size int64) (int64, error) {
		st.Bytes = size
		return size, nil
	})
	if err != nil {
		return st, err
	}
	entries, err := os.ReadDir(filepath.Join(d.root, "blocks"))
	st.Blocks = len(entries)
	return st, err
}

// Clear removes every block file. Processes reading from the folder go on:
// they fetch again what they no longer find.
func (d *DiskCache) Clear() error {
	return d.locked(func(int64) (int64, error) {
		entries, err := os.ReadDir(filepath.Join(d.root, "blocks"))
		if err != nil {
			return 0, err
		}
		for _, e := range entries {
			if err := os.Remove(filepath.Join(d.root, "blocks", e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return 0, err
			}
		}
		d.victims = nil
		return d.recount()
	})
}

// locked runs f with the folder locked against every process, giving it
// the folder's size and storing the size it returns.
func (d *DiskCache) locked(f func(size int64) (int64, error)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	fd := int(d.lockFile.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	var buf [32]byte
	n, err := d.lockFile.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return err
	}
	size, _ := strconv.ParseInt(string(bytes.TrimSpace(buf[:n])), 10, 64)
	newSize, err := f(size)
	if err != nil || newSize == size {
		return err
	}
	// Always as wide, so that it overwrites the last one whole.
	_, err = d.lockFile.WriteAt(fmt.Appendf(nil, "%20d\n", newSize), 0)
	return err
}

// recount returns the size of the folder from its files, removing the
// temporary files of processes that died. Called with the lock held.
func (d *DiskCache) recount() (int64, error) {
	tmp := filepath.Join(d.root, "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return 0, err
	}
	size := int64(diskUnit) // the size file
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if time.Since(fi.ModTime()) > staleTemp {
			os.Remove(filepath.Join(tmp, e.Name()))
			continue
		}
		size += diskCost(fi.Size())
	}
	files, err := d.scan()
	for _, f := range files {
		size += f.cost
	}
	return size, err
}

// scan lists the block files, oldest first.
func (d *DiskCache) scan() ([]diskFile, error) {
	dir := filepath.Join(d.root, "blocks")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := make([]diskFile, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		files = append(files, diskFile{name: e.Name(), cost: diskCost(fi.Size()), mtime: fi.ModTime()})
	}
	slices.SortFunc(files, func(a, b diskFile) int { return a.mtime.Compare(b.mtime) })
	return files, nil
}

// diskCost is what a file of n bytes takes on disk.
func diskCost(n int64) int64 {
	return max(diskUnit, (n+diskUnit-1)/diskUnit*diskUnit)
}

// diskKey names one block of one version of an object: the text stored in
// its file, and the file's name.
func diskKey(k blockKey, size, blockSize int64) (key, name string) {
	key = fmt.Sprintf("%s\x00%s\x00%d\x00%d\x00%d", k.obj, k.etag, size, blockSize, k.index)
	sum := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(sum[:16])
}

func (d *DiskCache) path(name string) string { return filepath.Join(d.root, "blocks", name) }

// has reports whether the block file name exists.
func (d *DiskCache) has(name string) bool {
	_, err := os.Lstat(d.path(name))
	return err == nil
}

// get fills p with the block key (named name) if the folder holds it,
// whole and unchanged. A file that fails its checks is removed.
func (d *DiskCache) get(key, name string, p []byte) bool {
	path := d.path(name)
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var hdr [diskHeader]byte
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	bad := func(why string) bool {
		d.corrupt.Add(1)
		d.log.Warn("cache folder: dropped a damaged block; it is fetched again", "file", path, "cause", why)
		d.remove(name, fi)
		return false
	}
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return bad("short header")
	}
	keyLen := int64(binary.LittleEndian.Uint32(hdr[8:]))
	dataLen := int64(binary.LittleEndian.Uint32(hdr[12:]))
	switch {
	case !bytes.Equal(hdr[:8], diskMagic[:]):
		return bad("not a block file")
	case fi.Size() != diskHeader+keyLen+dataLen:
		return bad(fmt.Sprintf("%d bytes, want %d", fi.Size(), diskHeader+keyLen+dataLen))
	case keyLen != int64(len(key)) || dataLen != int64(len(p)):
		return bad("another block's file") // a hash collision, in theory
	}
	stored := make([]byte, keyLen)
	if _, err := f.ReadAt(stored, diskHeader); err != nil {
		return bad(err.Error())
	}
	if string(stored) != key {
		return bad("another block's file")
	}
	if _, err := f.ReadAt(p, diskHeader+keyLen); err != nil {
		return bad(err.Error())
	}
	sum := crc32.Update(crc32.Checksum(stored, castagnoli), castagnoli, p)
	if sum != binary.LittleEndian.Uint32(hdr[16:]) {
		return bad("checksum mismatch")
	}
	d.hits.Add(1)
	// Recently used: eviction goes by mtime.
	now := time.Now()
	os.Chtimes(path, now, now)
	return true
}

// remove removes a block file described by fi and takes it off the
// folder's size, unless another process removed it first.
func (d *DiskCache) remove(name string, fi fs.FileInfo) {
	d.locked(func(size int64) (int64, error) {
		cur, err := os.Lstat(d.path(name))
		if err != nil || !os.SameFile(cur, fi) {
			return size, nil
		}
		if os.Remove(d.path(name)) != nil {
			return size, nil
		}
		return size - diskCost(cur.Size()), nil
	})
}

// put queues the block key for writing; done is called when its bytes are
// no longer needed. When the queue is full, or writing has stopped, the
// block is not written.
func (d *DiskCache) put(key, name string, data []byte, done func()) {
	d.queueMu.RLock()
	defer d.queueMu.RUnlock()
	if d.closed || d.failed.Load() {
		d.dropped.Add(1)
		done()
		return
	}
	w := diskWrite{name: name, key: key, data: data, done: done}
	if d.wait {
		// Close waits for the read lock; the writers drain the queue
		// without it, so this send ends.
		d.queue <- w
		return
	}
	select {
	case d.queue <- w:
	default:
		d.dropped.Add(1)
		done()
	}
}

func (d *DiskCache) writeBehind() {
	for w := range d.queue {
		if !d.failed.Load() {
			if err := d.write(w); err != nil {
				d.fail(err)
			}
		}
		w.done()
	}
}

// fail stops writing after err, saying so once.
func (d *DiskCache) fail(err error) {
	d.failed.Store(true)
	d.failOnce.Do(func() {
		d.log.Warn("cache folder unusable; going on with the memory cache only", "dir", filepath.Dir(d.root), "cause", err)
	})
}

// write writes one block file: counted in the folder's size first
// (evicting others to make room), then written under a temporary name and
// published whole.
func (d *DiskCache) write(w diskWrite) error {
	if d.has(w.name) {
		return nil
	}
	n := int64(diskHeader + len(w.key) + len(w.data))
	cost := diskCost(n)
	if room, err := d.reserve(cost); err != nil || !room {
		return err
	}
	unreserve := func() {
		d.creditMu.Lock()
		d.credit += cost
		d.creditMu.Unlock()
	}
	f, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "block-")
	if err != nil {
		unreserve()
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	// The header and key, then the block's bytes where they are: no copy.
	head := make([]byte, diskHeader+len(w.key))
	copy(head, diskMagic[:])
	binary.LittleEndian.PutUint32(head[8:], uint32(len(w.key)))
	binary.LittleEndian.PutUint32(head[12:], uint32(len(w.data)))
	copy(head[diskHeader:], w.key)
	sum := crc32.Update(crc32.Checksum(head[diskHeader:], castagnoli), castagnoli, w.data)
	binary.LittleEndian.PutUint32(head[16:], sum)
	if _, err = f.Write(head); err == nil {
		_, err = f.Write(w.data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, d.path(w.name))
	}
	switch {
	case err == nil:
		d.written.Add(1)
		return nil
	case errors.Is(err, fs.ErrExist):
		// Another process wrote it meanwhile: it counted it.
		unreserve()
		return nil
	}
	unreserve()
	return err
}

// reserve takes cost bytes of the folder's size for a file, from this
// process's credit, or else by counting a new slice of credit in the
// folder's size, evicting files to make room. It reports false when no
// room can be made.
func (d *DiskCache) reserve(cost int64) (bool, error) {
	d.creditMu.Lock()
	defer d.creditMu.Unlock()
	if d.credit < cost {
		// A slice if it fits, else just this file.
		for _, want := range []int64{max(cost, min(diskCredit, d.limit/16)) - d.credit, cost - d.credit} {
			room := false
			err := d.locked(func(size int64) (int64, error) {
				if size, room = d.evict(size, want); !room {
					return size, nil
				}
				return size + want, nil
			})
			if err != nil {
				return false, err
			}
			if room {
				d.credit += want
				break
			}
		}
		if d.credit < cost {
			return false, nil
		}
	}
	d.credit -= cost
	return true, nil
}

// evict removes the least recently used block files until cost more bytes
// fit in the bound, and returns the new size and whether they fit. Called
// with the lock held.
func (d *DiskCache) evict(size, cost int64) (int64, bool) {
	rescanned := false
	for size+cost > d.limit {
		if len(d.victims) == 0 {
			if rescanned {
				return size, false
			}
			rescanned = true
			var err error
			if d.victims, err = d.scan(); err != nil {
				return size, false
			}
			continue
		}
		v := d.victims[0]
		d.victims = d.victims[1:]
		fi, err := os.Lstat(d.path(v.name))
		if err != nil || fi.ModTime().After(v.mtime) {
			continue // gone (counted by whoever removed it), or used since the scan
		}
		if os.Remove(d.path(v.name)) == nil {
			size -= diskCost(fi.Size())
		}
	}
	return size, true
}
