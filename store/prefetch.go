package store

// growth is the factor by which each sequential read widens the window:
// each step takes a round trip, and from 4 MiB it takes three to reach the
// hundreds of MiB that fill a fast link, where doubling would take nine.
const growth = 8

// streamFactor caps the window at this many times the bytes the stream
// has read so far: programs that read a file's first few hundred KiB in
// many small pieces (HDF5 reading its object headers) make a stream of
// many reads but few bytes, and fetching the whole file for them would
// take the link and the cores from the reads they wait for. A reader of
// the whole file reaches the cap after 16 MiB.
const streamFactor = 16

// prefetcher decides, for one Reader, what to fetch ahead of the reads.
//
// It recognises a sequential stream even when the kernel sends its reads
// several at a time and slightly out of order: two reads that touch start
// a stream (as does a first read at offset 0), and a read that starts
// within the tolerance around the end of the stream so far continues it.
// Each read that continues it multiplies the readahead window by growth,
// up to a cap; any other read ends the stream and the window closes, so
// that random reads fetch only the blocks they touch.
//
// The window is the number of bytes of readahead kept in flight, in
// parts, each its own ranged GET: one S3 response streams at about
// 100 MB/s, and it takes a dozen or more of them to fill a fast link. A
// new part is requested as soon as enough of the others has arrived to
// make room for it, not when the reader gets to it, so that the link
// stays busy while the reader waits for the oldest part; what has arrived
// and is not yet read is bounded by twice the window.
type prefetcher struct {
	blockSize int64
	minWindow int64 // first window once a stream is seen
	maxPart   int64 // largest GET of readahead

	start    int64 // where the stream began
	end      int64 // end of the stream: the furthest byte read in it
	streak   int   // reads in the stream so far
	window   int64 // bytes of readahead to keep in flight
	issued   int64 // readahead has been requested up to here
	inflight int64 // bytes of readahead requested and not yet arrived

	recent [4]span // the last reads
	last   int     // number of reads recorded in recent

	// Strided reading: streams that begin at a fixed distance from one
	// another (HDF5 reading one column of chunks, numpy windows at a fixed
	// step). Once three in a row do, the next ones are fetched before the
	// reader gets to them.
	ended    [3]span // the last streams that ended, newest first
	stride   int64   // distance between their starts, or 0: no pattern
	segBase  int64   // where the current stream of the pattern began
	segLen   int64   // bytes fetched of each stream of the pattern
	segNext  int     // streams of the pattern requested, counted from segBase
	cap      int64   // the latest window cap given to observe
	strideUp bool    // next returned a stream of the pattern
}

type span struct{ off, end int64 }

// observe records a read of n bytes at off. maxWindow caps the window
// (the Store shares its cache among its readers).
func (pf *prefetcher) observe(off, n, maxWindow int64) {
	// Within a stream, the kernel may have several reads in flight,
	// answered in any order.
	tol := max(4*n, 2<<20)
	pf.follow(off)
	switch {
	case pf.streak >= 2 && off >= pf.end-tol && off <= pf.end+tol:
		pf.streak++
		pf.start = min(pf.start, off)
		pf.end = max(pf.end, off+n)
		pf.window = max(pf.minWindow, growth*pf.window)
	case pf.streak == 0 && off == 0:
		// A read from the start of the object is taken as the start of
		// a stream, as the kernel's own readahead does.
		pf.streak = 1
		pf.start, pf.end = 0, n
		pf.window = pf.minWindow
	default:
		// Otherwise it takes two reads that touch: this one and one of the
		// last few (the first of two concurrent reads may come second).
		if start, end, ok := pf.touches(off, n); ok {
			pf.streak = 2
			pf.start, pf.end = min(start, off), max(end, off+n)
			pf.window = max(pf.minWindow, growth*pf.window)
			break
		}
		pf.jumped(off)
		pf.streak = 1
		pf.start, pf.end = off, off+n
		pf.window = 0
		pf.issued = pf.end
	}
	pf.cap = maxWindow
	pf.window = min(pf.window, maxWindow, max(pf.minWindow, streamFactor*(pf.end-pf.start)))
	pf.recent[pf.last%len(pf.recent)] = span{off, off + n}
	pf.last++
}

// touches reports whether [off, off+n) touches one of the recent reads,
// and where that read starts and the furthest end of the two.
func (pf *prefetcher) touches(off, n int64) (start, end int64, ok bool) {
	for _, r := range pf.recent {
		if r.end > r.off && off <= r.end && off+n >= r.off {
			return r.off, max(r.end, off+n), true
		}
	}
	return 0, 0, false
}

// Strided prefetch reaches at most this many streams ahead: enough to
// keep several GETs in flight while the reader goes through one stream
// in a few milliseconds (a chunk's column of 2-byte reads), few enough that
// a pattern that stops soon has fetched little for nothing.
const stridedAhead = 16

// follow moves the strided pattern on when a read at off reaches one of
// the streams it foresaw, so that more of them are requested. Reads that
// come late for an earlier stream (the kernel's read-ahead arrives in any
// order) leave it where it is.
func (pf *prefetcher) follow(off int64) {
	if pf.stride == 0 {
		return
	}
	k := (off - pf.segBase) / pf.stride
	for _, k := range []int64{k, k + 1} {
		if k >= 1 && near(off, pf.segBase+k*pf.stride, strideTolerance) {
			pf.segBase = off
			pf.segNext = max(0, pf.segNext-int(k))
			return
		}
	}
}

// jumped is told that a read at off begins a new stream. When the last
// four starts (three streams that ended and this one) are evenly spaced,
// each stream shorter than the space between them, they make a strided
// pattern, which replaces the one before; three would be met by chance
// among random reads too often. A stream that starts where the pattern
// said (see follow) teaches it how long its streams are.
func (pf *prefetcher) jumped(off int64) {
	copy(pf.ended[1:], pf.ended[:])
	pf.ended[0] = span{pf.start, pf.end}
	if pf.last == 0 {
		return
	}
	var seen int64 // the longest of the streams that ended
	for _, e := range pf.ended {
		seen = max(seen, e.end-e.off)
	}
	if pf.stride != 0 && off == pf.segBase {
		pf.segLen = max(pf.segLen, min(seen, abs(pf.stride)))
		return
	}
	stride := off - pf.ended[0].off
	if pf.ended[2].end == 0 || seen >= abs(stride) || abs(stride) < 2*pf.blockSize {
		return // streams that touch are one stream; tiny steps are the kernel's own
	}
	for i := range len(pf.ended) - 1 {
		if !near(pf.ended[i].off-pf.ended[i+1].off, stride, strideTolerance) {
			return
		}
	}
	// The mean spacing: chunks a few bytes off would otherwise make the
	// streams foreseen far ahead drift from where they are.
	stride = (off - pf.ended[len(pf.ended)-1].off) / int64(len(pf.ended))
	pf.stride, pf.segBase, pf.segLen, pf.segNext = stride, off, seen, 0
}

// strideTolerance is how far a stream may start from where the pattern
// says: HDF5 places chunks a few bytes off the even spacing, and the
// kernel's read-ahead starts at a page.
const strideTolerance = 64 << 10

func near(a, b, tol int64) bool { return abs(a-b) <= tol }

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// nextStrided returns the next stream of the strided pattern to request,
// from the current one on, within stridedAhead streams and the window cap.
func (pf *prefetcher) nextStrided(size int64) (from, to int64, ok bool) {
	if pf.stride == 0 || pf.segNext > stridedAhead {
		return 0, 0, false
	}
	if pf.inflight > 0 && pf.inflight+pf.segLen > max(pf.cap, pf.segLen) {
		return 0, 0, false
	}
	start := pf.segBase + int64(pf.segNext)*pf.stride
	from = max(0, start-start%pf.blockSize)
	to = min(size, start+pf.segLen+pf.blockSize)
	if from >= to {
		return 0, 0, false
	}
	return from, to, true
}

// next returns the next part [from, to) of an object of size bytes to
// request, or ok false when enough is requested for now.
func (pf *prefetcher) next(size int64) (from, to int64, ok bool) {
	if from, to, ok := pf.nextStrided(size); ok {
		pf.strideUp = true
		return from, to, true
	}
	pf.strideUp = false
	if pf.window <= 0 || pf.inflight >= pf.window {
		return 0, 0, false
	}
	part := pf.part()
	if pf.inflight > 0 && pf.inflight+part > pf.window {
		// Wait until a whole part fits: parts arrive a block at a time,
		// and a GET for each block's worth of room would be mostly latency.
		return 0, 0, false
	}
	from = max(pf.issued, pf.end)
	limit, to := min(pf.end+2*pf.window, size), size
	if seg := pf.segBase + pf.segLen + pf.blockSize; pf.stride != 0 && pf.end <= seg {
		// A stream of a strided pattern is fetched whole by nextStrided;
		// reading ahead past its end would fetch the gap.
		limit, to = min(limit, seg), min(size, seg)
	}
	if from >= limit {
		return 0, 0, false
	}
	from -= from % pf.blockSize
	return from, min(from+part, to), true
}

// part returns the length of the next readahead GET. A wide window is
// cut into 32 parts: a single S3 answer streams at about 100 MB/s, so the
// link fills only with many GETs at once. A narrow one (a stream just
// starting, or one of many) is cut into parts of at least the first
// window, so that a stream that stops early has only a few GETs to cancel.
func (pf *prefetcher) part() int64 {
	part := min(pf.maxPart, max(pf.window/32, pf.minWindow))
	return max(pf.blockSize, part-part%pf.blockSize)
}

// requested records that readahead of [from, to) was asked for, need
// bytes of it from the backend (the rest was cached or on its way).
func (pf *prefetcher) requested(to, need int64) {
	if pf.strideUp {
		pf.segNext++
	} else {
		pf.issued = max(pf.issued, to)
	}
	pf.inflight += need
}

// missed records that a read ending at end found blocks neither cached
// nor on their way. Readahead already requested past it may have been
// evicted unread (or cancelled), so it is requested again from end; what
// is still cached or on its way is skipped then.
func (pf *prefetcher) missed(end int64) {
	pf.issued = min(pf.issued, end)
}

// arrived records that need bytes of readahead arrived (or failed). It
// is told block by block, so that the window refills while parts are
// still streaming in, and the number of GETs in flight stays even instead
// of rising and falling in waves as parts end together.
func (pf *prefetcher) arrived(need int64) {
	pf.inflight -= need
}
