package fs

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/aind/aindfs/store"
)

// Programs read the files of a folder one after another: zarr's chunk
// files (0.0, 0.1, 1.0, ...), a folder of .npy or .json files. Each open
// of a file not yet cached waits a round trip to S3. Once a program has
// opened two files of a folder in order, the next ones are fetched into
// the block cache before it opens them, within a window of bytes ahead
// of the file it opened last.

// Defaults of the folder readahead.
const (
	// DefaultFolderAhead is how many bytes of a folder's next files are
	// fetched ahead of a program that opens them in order: a dozen zarr
	// chunks of a few MiB, enough for a dozen GETs at once.
	DefaultFolderAhead = 32 << 20
	// folderAheadFiles bounds the files fetched ahead in one folder, so
	// that a folder of tiny files does not start hundreds of GETs.
	folderAheadFiles = 16
	// aheadPiece is the read a fetch ahead makes at a time.
	aheadPiece = 1 << 20
)

// aheadBudget bounds the bytes being fetched ahead across all folders.
type aheadBudget struct {
	window   int64 // bytes ahead in one folder
	total    int64 // bytes being fetched ahead in all folders at once
	inflight atomic.Int64
	started  atomic.Int64 // files fetched ahead so far
	// life ends the fetches under way, and stops new ones, when the mount
	// that serves the tree unmounts (end).
	life context.Context
	end  context.CancelFunc
}

// newAheadBudget returns the budget of a window of bytes per folder
// (0: DefaultFolderAhead; negative: none) and four windows in all.
func newAheadBudget(window int64) *aheadBudget {
	if window == 0 {
		window = DefaultFolderAhead
	}
	life, end := context.WithCancel(context.Background())
	return &aheadBudget{window: window, total: 4 * max(window, 0), life: life, end: end}
}

// FolderAheadFor returns the folder readahead for a block cache of
// cacheBytes: DefaultFolderAhead, or less for a small cache, so that the
// four windows fetched at once take at most an eighth of it and do not
// push out what programs are reading.
func FolderAheadFor(cacheBytes int64) int64 {
	return max(1, min(DefaultFolderAhead, cacheBytes/32))
}

// take reserves n bytes of the budget, or reports false.
func (b *aheadBudget) take(n int64) bool {
	if b.inflight.Add(n) > b.total {
		b.inflight.Add(-n)
		return false
	}
	return true
}

// folderAhead follows the order in which a folder's files are opened.
type folderAhead struct {
	mu     sync.Mutex
	from   *listing        // the listing order was made from
	order  []*objectFile   // the folder's files in natural order (file 2 before file 10)
	index  map[string]int  // position in order
	last   int             // position of the file opened last; -1: none
	streak int             // files opened one after another so far
	next   int             // files from here on have not been fetched ahead
	busy   map[string]bool // files being fetched ahead
	done   map[string]bool // files fetched ahead (or failed), not yet opened
}

// opened is told that f, a file of folder d, is being opened, and starts
// fetching the files that follow it when the last files were opened in
// order.
func (d *objectDir) opened(f *objectFile) {
	budget := d.t.ahead
	if budget.window <= 0 || f.dir.loc.Scheme != "s3" || budget.life.Err() != nil {
		return // local files are read by the kernel at disk speed
	}
	d.mu.Lock()
	l := d.current
	if d.ahead == nil {
		d.ahead = &folderAhead{last: -1}
	}
	a := d.ahead
	d.mu.Unlock()
	if l == nil {
		return
	}
	l.mu.Lock()
	done, nodes := l.done && l.err == nil, l.nodes
	l.mu.Unlock()
	if !done {
		return // the order is not known yet
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.from != l {
		a.from, a.order, a.index, a.last, a.streak, a.next = l, nil, map[string]int{}, -1, 0, 0
		for _, n := range nodes {
			if of, ok := n.(*objectFile); ok {
				a.order = append(a.order, of)
			}
		}
		slices.SortFunc(a.order, func(x, y *objectFile) int { return naturalCompare(x.info.Name, y.info.Name) })
		for i, of := range a.order {
			a.index[of.info.Name] = i
		}
		a.busy, a.done = map[string]bool{}, map[string]bool{}
	}
	pos, ok := a.index[f.info.Name]
	if !ok {
		return
	}
	delete(a.done, f.info.Name)
	switch pos {
	case a.last:
	case a.last + 1:
		a.streak++
	default:
		a.streak = 1
		a.next = pos + 1
	}
	a.last = pos
	if a.streak < 2 {
		return
	}
	// The window: the files after pos whose bytes fit in budget.window,
	// counting those fetched already.
	var ahead int64
	from := max(a.next, pos+1)
	for i := pos + 1; i < len(a.order) && i-pos <= folderAheadFiles; i++ {
		next := a.order[i]
		ahead += next.info.Size
		if ahead > budget.window {
			break
		}
		if i < from || a.busy[next.info.Name] || a.done[next.info.Name] {
			continue
		}
		if !budget.take(next.info.Size) {
			break
		}
		a.busy[next.info.Name] = true
		a.next = i + 1
		budget.started.Add(1)
		go d.fetchAhead(a, next)
	}
}

// fetchAhead reads f whole through the block cache, so that its blocks
// are there when a program opens it.
func (d *objectDir) fetchAhead(a *folderAhead, f *objectFile) {
	defer func() {
		d.t.ahead.inflight.Add(-f.info.Size)
		a.mu.Lock()
		delete(a.busy, f.info.Name)
		a.done[f.info.Name] = true
		a.mu.Unlock()
	}()
	r := d.t.objects.Open(f.dir.loc.Join(f.info.Name), f.info)
	defer r.Close()
	ctx := d.t.ahead.life
	buf := make([]byte, min(f.info.Size, aheadPiece))
	for off := int64(0); off < f.info.Size; off += int64(len(buf)) {
		var err error
		if l, ok := r.(lender); ok {
			var lent *store.Lent
			if lent, err = l.Lend(ctx, buf, off); lent != nil {
				lent.Release()
			}
		} else {
			_, err = r.ReadAt(ctx, buf, off)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			d.t.log.Debug("fetching ahead failed; the file is read when opened", "path", f.Path(), "err", err)
			return
		}
	}
}

// naturalCompare orders names as people number files: runs of digits
// compare by their value, so "2.0" comes before "10.0".
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			x, y := trimZeros(a[:da]), trimZeros(b[:db])
			if c := cmp.Or(cmp.Compare(len(x), len(y)), cmp.Compare(x, y)); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
