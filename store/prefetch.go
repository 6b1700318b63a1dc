package store

// prefetcher decides, for one Reader, how far ahead of the reads to fetch.
//
// It recognises a sequential stream even when the kernel sends its reads
// several at a time and slightly out of order: a read that starts within
// the tolerance around the end of the stream so far continues the stream.
// Each read that continues it doubles the readahead window, up to a cap;
// any other read ends the stream and the window closes, so that random
// reads fetch only the blocks they touch.
//
// The window is fetched in parts, each its own ranged GET, so that a full
// window keeps several GETs in flight: one S3 response streams at about
// 100 MB/s, and it takes a dozen of them to fill a fast link.
type prefetcher struct {
	blockSize int64
	minWindow int64 // first window once a stream is seen
	maxPart   int64 // largest GET of readahead

	end    int64 // end of the stream: the furthest byte read in it
	streak int   // reads in the stream so far
	window int64 // bytes to keep requested beyond end
	issued int64 // readahead has been requested up to here
}

// observe records a read of n bytes at off in an object of size bytes and
// returns the byte range [from, to) to request now, cut in parts of part
// bytes; from == to when there is nothing to request. maxWindow caps the
// window (the Store shares its cache among its readers).
func (pf *prefetcher) observe(off, n, size, maxWindow int64) (from, to, part int64) {
	tol := max(pf.window, n)
	if pf.streak > 0 && off >= pf.end-tol && off <= pf.end+tol || pf.streak == 0 && off == 0 {
		pf.streak++
		pf.end = max(pf.end, off+n)
		if pf.streak >= 2 {
			pf.window = max(pf.minWindow, 2*pf.window)
		}
	} else {
		pf.streak = 1
		pf.end = off + n
		pf.window = 0
		pf.issued = pf.end
	}
	pf.window = min(pf.window, maxWindow)
	if pf.window <= 0 {
		return 0, 0, 0
	}
	part = min(pf.maxPart, max(pf.window/4, pf.blockSize))
	part -= part % pf.blockSize
	from = max(pf.issued, pf.end)
	from -= from % pf.blockSize
	to = min(pf.end+pf.window, size)
	// Wait for a whole part's worth, unless the object ends first: many
	// small GETs would each pay the request latency.
	if to-from < part && to < size || from >= to {
		return 0, 0, 0
	}
	return from, to, part
}

// requested records that readahead has been requested up to off.
func (pf *prefetcher) requested(off int64) {
	pf.issued = max(pf.issued, off)
}
