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
// Blocks are kept in segment files, each holding a run of consecutive
// blocks of one version of an object (8 MiB of them) at fixed places
// after a header page: one file per 8 MiB costs the filesystem a fraction
// of what a file per block did (creating, linking and filling 128 KiB
// files took 2 to 3 CPU seconds a GiB, segments 0.4), and a block is found
// without an index. A segment is named by a hash of its object's
// location, ETag and size, the block size and its index, so an object
// whose ETag or size changed is never served from old blocks. The header
// holds that key, and per block its length and a CRC-32C of its bytes,
// checked on every read: a torn or corrupted block (power loss, a disk
// that lies) is dropped and fetched again, never served. The header
// itself carries a CRC; one that fails it drops the whole file.
//
// Several processes may share one folder. A segment is created whole, with
// an empty header, under a temporary name and published with link(2), so
// its header is always there. A writer adds blocks to it holding an
// exclusive flock(2) on it: it writes their bytes first, then the header
// that names them, so a reader that takes no lock sees a block only once
// its bytes are in place; and since a block's bytes never change, a
// reader that races a writer reads them whole. What looks damaged is
// checked again under the lock before anything is dropped. Eviction
// removes whole segments, least recently used first (a hit touches the
// file's mtime), skipping any a writer holds; a removed file stays
// readable to whoever has it open.
//
// The folder's size is the shared state: it is kept in the lock file and
// changed under flock(2) on it, and a block is counted by the writer that
// adds it to a header, under the segment's lock, so that every process
// counts each block once and the bound holds for them all, headers and
// the filesystem's map of each file included.
//
// Blocks wait in memory to be written, up to diskBacklog bytes; beyond
// that only their keys wait, and the writers take the bytes from the
// memory cache when they get to them, so that a disk slower than the
// network costs the reader nothing, and blocks are lost only when memory
// lets them go first. Close writes what waits.
//
// When the disk fails (full, read-only, the folder deleted under a running
// process) the failure is logged once and the cache stops writing; reads
// go on from memory and S3.
type DiskCache struct {
	root  string // <dir>/aindfs
	limit int64
	log   *slog.Logger
	// cache is the memory cache above: its block size, and where blocks
	// waiting by key are found. Nil for a folder opened only to be
	// looked at (cache stats, clear).
	cache *BlockCache

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
	// victims are the segment files seen at the last scan, oldest first:
	// the candidates for eviction, taken from the front.
	victims []diskFile

	// credit is bytes counted in the folder's size and not yet taken by a
	// block: reserved a slice at a time, so that writing seldom takes the
	// lock. Given back by Close.
	creditMu sync.Mutex
	credit   int64

	failed   atomic.Bool // writing stopped after a failure
	failOnce sync.Once

	// known holds, by segment file, the records last read from its
	// header. A block's record never changes (its bytes are those of one
	// version of an object), so a read of a block known to be there skips
	// the header; what a check then finds wrong is checked again against
	// the header itself.
	knownMu sync.Mutex
	known   map[string][]slotRecord

	// The write-behind backlog, oldest first. work is signalled when
	// writes arrive or the cache closes, room when held bytes are written.
	pendMu    sync.Mutex
	work      sync.Cond
	room      sync.Cond
	pending   []diskWrite
	heldBytes int64 // of the pending blocks held in memory
	pendBytes int64 // of all pending blocks, held or by key
	closed    bool
	// waitAbove, when set, makes put wait while the backlog holds as many
	// bytes, rather than let it grow past what the memory cache surely
	// still has when the writers get there.
	waitAbove int64
	writers   sync.WaitGroup

	hits, written, dropped, corrupt atomic.Int64
}

// diskFile is a segment file seen by a scan.
type diskFile struct {
	name  string
	mtime time.Time
}

// diskWrite is a block waiting to be written: its bytes (blk, referenced),
// or when the backlog was full only its key, to be found in memory.
type diskWrite struct {
	k    blockKey
	size int64 // the object's
	blk  *block
	cost int64 // of the block's buffer
}

// Defaults and limits of the disk tier.
const (
	// DefaultDiskBytes bounds --cache-dir when no size is given.
	DefaultDiskBytes = 10 << 30
	// diskSegment is the most bytes of blocks one file holds: large
	// enough that creating files costs little next to writing them, small
	// enough that evicting one frees little that is still wanted.
	diskSegment = 8 << 20
	// diskMaxSlots bounds the blocks of a segment, so that their records
	// and the key fit in the header page.
	diskMaxSlots = 256
	// diskBacklog is the most bytes of blocks held in memory for the
	// writers; beyond it only keys wait (diskBacklogKeys at most, at
	// 128 KiB a block 8 GiB, tens of bytes each).
	diskBacklog     = 32 << 20
	diskBacklogKeys = 1 << 16
	// diskWriters write segments in parallel: one keeps up with a cold read
	// on this kind of machine; two cover a slower filesystem.
	diskWriters = 2
	// diskBatch is the most blocks a writer takes at once: those of one
	// segment are written under one lock, with one header.
	diskBatch = 64
	// diskAhead is how often, in blocks, a read of a segment asks the
	// system to read the next 2*diskAhead blocks of it ahead.
	diskAhead = 8
	// diskCredit is the most a process reserves of the folder's size at
	// once (a sixteenth of a small folder).
	diskCredit = 8 << 20
	// diskUnit is what a file costs at least, and the unit its cost is
	// rounded up to: the allocation unit of common filesystems. It is also
	// the header's size, so that blocks are written page-aligned.
	diskUnit = 4096
	// segmentOverhead is what a segment costs besides its blocks: its
	// header, and a page for the filesystem's map of a file with holes.
	segmentOverhead = 2 * diskUnit
	// staleTemp is the age after which a temporary file is taken for the
	// leftover of a process that died while writing it.
	staleTemp = 10 * time.Minute
	// diskKnown bounds the segments whose records are kept in memory
	// (1 KiB each for 128 KiB blocks).
	diskKnown = 1024
	// touchAge is how old a file's mtime must be for a hit to touch it:
	// eviction needs no finer order, and touching costs a write.
	touchAge = time.Second
)

// diskMagic starts every segment file; a new layout gets a new magic.
var diskMagic = [8]byte{'a', 'i', 'n', 'd', 's', 'e', 'g', '1'}

// The header page: magic, CRC-32C of the rest of the page, number of
// slots, key length, then a record per slot (length, CRC-32C of the
// block's bytes; length 0 when the slot is empty), then the key.
const (
	hdrCRC   = 8
	hdrSlots = 12
	hdrKey   = 14
	hdrRecs  = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// slotRecord describes one block of a segment.
type slotRecord struct{ len, sum uint32 }

// segment names one file: slots consecutive blocks of one version of an
// object, from block index*slots.
type segment struct {
	key, name string
	slots     int64
}

// OpenDiskCache opens (creating it if needed) the disk cache in dir,
// bounded to limit bytes: segment files, their headers and the lock file,
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
	d.work.L, d.room.L = &d.pendMu, &d.pendMu
	// Alone with the folder: recount it, since a process that died may
	// have counted blocks it never wrote. Then stay, shared, until Close.
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
	for range diskWriters {
		d.writers.Go(d.writeBehind)
	}
	return d, nil
}

// Close writes the blocks still waiting and releases the folder.
func (d *DiskCache) Close() error {
	d.pendMu.Lock()
	if d.closed {
		d.pendMu.Unlock()
		return nil
	}
	d.closed = true
	d.work.Broadcast()
	d.room.Broadcast()
	d.pendMu.Unlock()
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
	Blocks       int   // blocks held
}

// Stats reads the folder's size and counts the blocks its segments hold.
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
	for _, e := range entries {
		if recs, ok := d.readRecords(e.Name()); ok {
			for _, r := range recs {
				if r.len > 0 {
					st.Blocks++
				}
			}
		}
	}
	return st, err
}

// Clear removes every segment file. Processes reading from the folder go
// on: they fetch again what they no longer find.
func (d *DiskCache) Clear() error {
	return d.locked(func(size int64) (int64, error) {
		entries, err := os.ReadDir(filepath.Join(d.root, "blocks"))
		if err != nil {
			return size, err
		}
		for _, e := range entries {
			if freed, ok := d.removeSegment(e.Name(), true); ok {
				size -= freed
			}
		}
		d.victims = nil
		return size, nil
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
	if newSize == size {
		return err
	}
	// Always as wide, so that it overwrites the last one whole.
	if _, werr := d.lockFile.WriteAt(fmt.Appendf(nil, "%20d\n", newSize), 0); err == nil {
		err = werr
	}
	return err
}

// recount returns the size of the folder from its files, removing the
// temporary files of processes that died and segments whose header is
// damaged. Called with the lock held, by a process alone with the folder.
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
		recs, ok := d.readRecords(f.name)
		if !ok {
			d.corrupt.Add(1)
			d.log.Warn("cache folder: dropped a damaged segment; its blocks are fetched again", "file", d.path(f.name))
			os.Remove(d.path(f.name))
			continue
		}
		size += segmentCost(recs)
	}
	return size, err
}

// scan lists the segment files, oldest first.
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
		files = append(files, diskFile{name: e.Name(), mtime: fi.ModTime()})
	}
	slices.SortFunc(files, func(a, b diskFile) int { return a.mtime.Compare(b.mtime) })
	return files, nil
}

// diskCost is what a file of n bytes takes on disk.
func diskCost(n int64) int64 {
	return max(diskUnit, (n+diskUnit-1)/diskUnit*diskUnit)
}

// segmentCost is what a segment holding the blocks of recs is counted as.
func segmentCost(recs []slotRecord) int64 {
	cost := int64(segmentOverhead)
	for _, r := range recs {
		if r.len > 0 {
			cost += diskCost(int64(r.len))
		}
	}
	return cost
}

// segmentOf returns the segment holding block k of an object of size
// bytes, and the block's slot in it.
func (d *DiskCache) segmentOf(k blockKey, size int64) (segment, int64) {
	bs := d.cache.blockSize
	slots := min(diskMaxSlots, max(1, diskSegment/bs))
	index := k.index / slots
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%d\x00%d", k.obj, k.etag, size, bs, index)
	sum := sha256.Sum256([]byte(key))
	return segment{key: key, name: hex.EncodeToString(sum[:16]), slots: slots}, k.index % slots
}

// slotOffset is where the bytes of a segment's slot i start.
func (d *DiskCache) slotOffset(i int64) int64 { return diskUnit + i*d.cache.blockSize }

func (d *DiskCache) path(name string) string { return filepath.Join(d.root, "blocks", name) }

// encodeHeader returns the header page of a segment.
func encodeHeader(key string, recs []slotRecord) []byte {
	h := make([]byte, diskUnit)
	copy(h, diskMagic[:])
	binary.LittleEndian.PutUint16(h[hdrSlots:], uint16(len(recs)))
	binary.LittleEndian.PutUint16(h[hdrKey:], uint16(len(key)))
	for i, r := range recs {
		binary.LittleEndian.PutUint32(h[hdrRecs+8*i:], r.len)
		binary.LittleEndian.PutUint32(h[hdrRecs+8*i+4:], r.sum)
	}
	copy(h[hdrRecs+8*len(recs):], key)
	binary.LittleEndian.PutUint32(h[hdrCRC:], crc32.Checksum(h[hdrSlots:], castagnoli))
	return h
}

// fitsHeader reports whether a segment's records and key fit its header.
func fitsHeader(seg segment) bool {
	return hdrRecs+8*int(seg.slots)+len(seg.key) <= diskUnit
}

// decodeHeader returns the key and records of a header page, or why it
// is not one.
func decodeHeader(h []byte) (key string, recs []slotRecord, why string) {
	switch {
	case len(h) < diskUnit:
		return "", nil, "short header"
	case !bytes.Equal(h[:8], diskMagic[:]):
		return "", nil, "not a segment file"
	case binary.LittleEndian.Uint32(h[hdrCRC:]) != crc32.Checksum(h[hdrSlots:diskUnit], castagnoli):
		return "", nil, "header checksum mismatch"
	}
	slots := int(binary.LittleEndian.Uint16(h[hdrSlots:]))
	keyLen := int(binary.LittleEndian.Uint16(h[hdrKey:]))
	if hdrRecs+8*slots+keyLen > diskUnit {
		return "", nil, "header out of bounds"
	}
	recs = make([]slotRecord, slots)
	for i := range recs {
		recs[i] = slotRecord{binary.LittleEndian.Uint32(h[hdrRecs+8*i:]), binary.LittleEndian.Uint32(h[hdrRecs+8*i+4:])}
	}
	return string(h[hdrRecs+8*slots : hdrRecs+8*slots+keyLen]), recs, ""
}

// readHeader reads the records of seg from f, or says why it cannot.
func readHeader(f *os.File, seg segment) ([]slotRecord, string) {
	h := make([]byte, diskUnit)
	if n, err := f.ReadAt(h, 0); n < diskUnit {
		return nil, fmt.Sprintf("short header: %v", err)
	}
	key, recs, why := decodeHeader(h)
	switch {
	case why != "":
		return nil, why
	case key != seg.key || int64(len(recs)) != seg.slots:
		return nil, "another segment's file" // a hash collision, in theory
	}
	return recs, ""
}

// readRecords returns the records of the segment file name, without
// knowing its key.
func (d *DiskCache) readRecords(name string) ([]slotRecord, bool) {
	f, err := os.Open(d.path(name))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	h := make([]byte, diskUnit)
	if n, _ := f.ReadAt(h, 0); n < diskUnit {
		return nil, false
	}
	_, recs, why := decodeHeader(h)
	return recs, why == ""
}

// has reports whether the folder holds block k of an object of size bytes
// (without checking its bytes).
func (d *DiskCache) has(k blockKey, size int64) bool {
	seg, slot := d.segmentOf(k, size)
	f, err := os.Open(d.path(seg.name))
	if err != nil {
		return false
	}
	defer f.Close()
	recs, why := readHeader(f, seg)
	return why == "" && recs[slot].len > 0
}

// get fills p with block k of an object of size bytes if the folder holds
// it, whole and unchanged. A block that fails its checks is dropped.
func (d *DiskCache) get(k blockKey, size int64, p []byte) bool {
	seg, slot := d.segmentOf(k, size)
	path := d.path(seg.name)
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	found, why := d.readSlot(f, seg, slot, p, false)
	if why != "" {
		// A writer may have been changing the header as it was read:
		// look again with writers kept out before dropping anything.
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			return false
		}
		defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		if found, why = d.readSlot(f, seg, slot, p, true); why != "" {
			d.corrupt.Add(1)
			d.log.Warn("cache folder: dropped a damaged block; it is fetched again", "file", path, "block", k.index, "cause", why)
			d.drop(f, seg, slot)
			return false
		}
	}
	if !found {
		return false
	}
	d.hits.Add(1)
	// Recently used: eviction goes by mtime.
	if fi, err := f.Stat(); err == nil && time.Since(fi.ModTime()) > touchAge {
		now := time.Now()
		os.Chtimes(path, now, now)
	}
	return true
}

// readSlot reads the block in slot of seg from f into p. It reports
// whether the slot holds it, or why it is damaged. Unless fresh is set,
// a record read before stands for the header.
func (d *DiskCache) readSlot(f *os.File, seg segment, slot int64, p []byte, fresh bool) (bool, string) {
	var r slotRecord
	if !fresh {
		r = d.knownRecord(seg.name, slot)
	}
	if r.len == 0 {
		recs, why := readHeader(f, seg)
		if why != "" {
			d.remember(seg.name, nil)
			return false, why
		}
		d.remember(seg.name, recs)
		r = recs[slot]
	}
	switch {
	case r.len == 0:
		return false, ""
	case int(r.len) != len(p):
		return false, fmt.Sprintf("block of %d bytes, want %d", r.len, len(p))
	}
	if slot%diskAhead == 0 {
		willNeed(f, d.slotOffset(slot), min(2*diskAhead, seg.slots-slot)*d.cache.blockSize)
	}
	if n, err := f.ReadAt(p, d.slotOffset(slot)); n < len(p) {
		return false, fmt.Sprintf("block cut short at %d bytes: %v", n, err)
	}
	if crc32.Checksum(p, castagnoli) != r.sum {
		return false, "checksum mismatch"
	}
	return true, ""
}

// knownRecord returns the record of slot of the segment file name read
// before, or an empty one.
func (d *DiskCache) knownRecord(name string, slot int64) slotRecord {
	d.knownMu.Lock()
	defer d.knownMu.Unlock()
	if recs := d.known[name]; slot < int64(len(recs)) {
		return recs[slot]
	}
	return slotRecord{}
}

// remember keeps recs as the records of the segment file name (none:
// forgets them).
func (d *DiskCache) remember(name string, recs []slotRecord) {
	d.knownMu.Lock()
	defer d.knownMu.Unlock()
	if recs == nil {
		delete(d.known, name)
		return
	}
	if d.known == nil || len(d.known) >= diskKnown {
		d.known = make(map[string][]slotRecord)
	}
	d.known[name] = recs
}

// drop removes a damaged block from f, locked by the caller: the slot's
// record, its bytes and its count, or the whole file when its header is
// what is damaged (counted as it was: its records are not to be trusted).
func (d *DiskCache) drop(f *os.File, seg segment, slot int64) {
	fi, err := f.Stat()
	if err != nil || fi.Sys().(*syscall.Stat_t).Nlink == 0 {
		return // removed meanwhile, and counted by whoever removed it
	}
	recs, why := readHeader(f, seg)
	if why != "" {
		os.Remove(d.path(seg.name))
		return
	}
	// f was opened for reading; the same file, for writing.
	w, err := os.OpenFile(d.path(seg.name), os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer w.Close()
	if wi, err := w.Stat(); err != nil || !os.SameFile(fi, wi) {
		return
	}
	f = w
	r := recs[slot]
	recs[slot] = slotRecord{}
	d.remember(seg.name, nil)
	if _, err := f.WriteAt(encodeHeader(seg.key, recs), 0); err != nil {
		return
	}
	// Best effort: a filesystem without holes keeps the bytes until the
	// file goes, counted then as the records say.
	punchHole(f, d.slotOffset(slot), diskCost(int64(r.len)))
	d.locked(func(size int64) (int64, error) { return size - diskCost(int64(r.len)), nil })
}

// removeSegment removes the segment file name and returns what it was
// counted as. A file a writer holds is left alone unless force is set (it
// is then counted as its header says before the writer's blocks; the
// next recount corrects that). Called with the folder locked.
func (d *DiskCache) removeSegment(name string, force bool) (int64, bool) {
	f, err := os.Open(d.path(name))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil && !force {
		return 0, false
	}
	fi, err := f.Stat()
	if err != nil || fi.Sys().(*syscall.Stat_t).Nlink == 0 {
		return 0, false
	}
	h := make([]byte, diskUnit)
	f.ReadAt(h, 0)
	_, recs, why := decodeHeader(h)
	if os.Remove(d.path(name)) != nil {
		return 0, false
	}
	d.remember(name, nil)
	if why != "" {
		return 0, true // its count is unknown: kept until a recount
	}
	return segmentCost(recs), true
}

// put queues block k of an object of size bytes for writing, taking a
// reference on blk while it waits. When the backlog holds diskBacklog
// bytes already, only the key waits (see waitAbove); when writing has
// stopped, the block is not written.
func (d *DiskCache) put(k blockKey, size int64, blk *block) {
	d.pendMu.Lock()
	defer d.pendMu.Unlock()
	for d.waitAbove > 0 && d.pendBytes >= d.waitAbove && !d.closed && !d.failed.Load() {
		d.room.Wait()
	}
	if d.closed || d.failed.Load() || len(d.pending) >= diskBacklogKeys {
		d.dropped.Add(1)
		return
	}
	w := diskWrite{k: k, size: size, cost: blk.cost}
	if d.heldBytes < diskBacklog {
		blk.refs.Add(1)
		w.blk = blk
		d.heldBytes += blk.cost
	}
	d.pendBytes += w.cost
	d.pending = append(d.pending, w)
	d.work.Signal()
}

// writeBehind writes batches of the backlog until the cache is closed and
// the backlog empty.
func (d *DiskCache) writeBehind() {
	var batch []diskWrite
	for {
		d.pendMu.Lock()
		for len(d.pending) == 0 && !d.closed {
			d.work.Wait()
		}
		if len(d.pending) == 0 {
			d.pendMu.Unlock()
			return
		}
		n := min(len(d.pending), diskBatch)
		batch = append(batch[:0], d.pending[:n]...)
		clear(d.pending[:n])
		d.pending = d.pending[n:]
		d.pendMu.Unlock()

		var held, taken int64
		for i := range batch {
			w := &batch[i]
			taken += w.cost
			if w.blk != nil {
				held += w.blk.cost
			} else if w.blk = d.cache.peek(w.k); w.blk == nil {
				d.dropped.Add(1) // gone from memory before its turn
			}
		}
		if !d.failed.Load() {
			if err := d.writeBatch(batch); err != nil {
				d.fail(err)
			}
		} else {
			for _, w := range batch {
				if w.blk != nil {
					d.dropped.Add(1)
				}
			}
		}
		for i := range batch {
			if batch[i].blk != nil {
				d.cache.release(batch[i].blk)
			}
			batch[i] = diskWrite{}
		}
		d.pendMu.Lock()
		d.heldBytes -= held
		d.pendBytes -= taken
		d.room.Broadcast()
		d.pendMu.Unlock()
	}
}

// writeBatch writes the blocks of batch that it holds, segment by segment.
func (d *DiskCache) writeBatch(batch []diskWrite) error {
	type group struct {
		seg    segment
		slots  []int64
		blocks []*block
	}
	var groups []*group
	byName := map[string]*group{}
	for _, w := range batch {
		if w.blk == nil {
			continue
		}
		seg, slot := d.segmentOf(w.k, w.size)
		g := byName[seg.name]
		if g == nil {
			g = &group{seg: seg}
			byName[seg.name] = g
			groups = append(groups, g)
		}
		g.slots = append(g.slots, slot)
		g.blocks = append(g.blocks, w.blk)
	}
	for i, g := range groups {
		if err := d.writeSegment(g.seg, g.slots, g.blocks); err != nil {
			for _, g := range groups[i:] {
				d.dropped.Add(int64(len(g.blocks)))
			}
			return err
		}
	}
	return nil
}

// fail stops writing after err, saying so once.
func (d *DiskCache) fail(err error) {
	d.failed.Store(true)
	d.failOnce.Do(func() {
		d.log.Warn("cache folder unusable; going on with the memory cache only", "dir", filepath.Dir(d.root), "cause", err)
	})
	d.pendMu.Lock()
	d.room.Broadcast()
	d.pendMu.Unlock()
}

// writeSegment adds blocks to their slots of seg: counted in the folder's
// size first (evicting others to make room), their bytes written, then
// the header naming them, all under the segment's lock.
func (d *DiskCache) writeSegment(seg segment, slots []int64, blocks []*block) error {
	if !fitsHeader(seg) {
		d.dropped.Add(int64(len(blocks)))
		return nil
	}
	f, recs, err := d.openSegment(seg)
	if err != nil || f == nil {
		d.dropped.Add(int64(len(blocks)))
		return err
	}
	defer f.Close() // and with it the lock
	var need int64
	var todo []int
	for i, slot := range slots {
		if recs[slot].len > 0 {
			continue // written by another process, or twice in the batch
		}
		recs[slot].len = uint32(len(blocks[i].data))
		need += diskCost(int64(len(blocks[i].data)))
		todo = append(todo, i)
	}
	if need == 0 {
		return nil
	}
	if room, err := d.reserve(need); err != nil || !room {
		d.dropped.Add(int64(len(todo)))
		return err
	}
	for _, i := range todo {
		data := blocks[i].data
		if _, err := f.WriteAt(data, d.slotOffset(slots[i])); err != nil {
			d.unreserve(need)
			return err
		}
		recs[slots[i]].sum = crc32.Checksum(data, castagnoli)
	}
	if _, err := f.WriteAt(encodeHeader(seg.key, recs), 0); err != nil {
		d.unreserve(need)
		return err
	}
	d.written.Add(int64(len(todo)))
	return nil
}

// openSegment opens the file of seg, creating it if need be, locked
// against other writers, and reads its records. It returns a nil file
// when there is no room for a new one.
func (d *DiskCache) openSegment(seg segment) (*os.File, []slotRecord, error) {
	path := d.path(seg.name)
	for range 4 {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			if created, err := d.create(seg); err != nil || !created {
				return nil, nil, err
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		if fi.Sys().(*syscall.Stat_t).Nlink == 0 {
			f.Close() // evicted between open and lock
			continue
		}
		recs, why := readHeader(f, seg)
		if why == "" {
			return f, recs, nil
		}
		d.corrupt.Add(1)
		d.log.Warn("cache folder: dropped a damaged segment; its blocks are fetched again", "file", path, "cause", why)
		os.Remove(path)
		f.Close()
	}
	return nil, nil, nil
}

// create publishes an empty segment file for seg, counted in the folder's
// size, unless another process did first. It reports false when there is
// no room for it.
func (d *DiskCache) create(seg segment) (bool, error) {
	if room, err := d.reserve(segmentOverhead); err != nil || !room {
		return false, err
	}
	f, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "segment-")
	if err != nil {
		d.unreserve(segmentOverhead)
		return false, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(encodeHeader(seg.key, make([]slotRecord, seg.slots)))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, d.path(seg.name))
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		// Another process created it meanwhile: it counted it.
		d.unreserve(segmentOverhead)
		return true, nil
	}
	d.unreserve(segmentOverhead)
	return false, err
}

// unreserve gives back to this process's credit bytes reserved and not used.
func (d *DiskCache) unreserve(cost int64) {
	d.creditMu.Lock()
	d.credit += cost
	d.creditMu.Unlock()
}

// reserve takes cost bytes of the folder's size, from this process's
// credit, or else by counting a new slice of credit in the folder's size,
// evicting segments to make room. It reports false when no room can be
// made.
func (d *DiskCache) reserve(cost int64) (bool, error) {
	d.creditMu.Lock()
	defer d.creditMu.Unlock()
	if d.credit < cost {
		// A slice if it fits, else just this.
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

// evict removes the least recently used segment files until cost more
// bytes fit in the bound, and returns the new size and whether they fit.
// Called with the lock held.
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
		if freed, ok := d.removeSegment(v.name, false); ok {
			size -= freed
		}
	}
	return size, true
}
