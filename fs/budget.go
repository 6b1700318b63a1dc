package fs

import (
	"math"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// DefaultListingEntries bounds the entries of folder listings a tree keeps:
// at about ListingEntryBytes each, 200,000 entries (say twenty folders of
// 10,000 objects) take some 200 MiB.
const DefaultListingEntries = 200_000

// ListingEntryBytes is about what one listed entry costs in memory: its
// node, name, version tag and index, and the inode the mount keeps for it
// while the kernel remembers it (measured: about 1 KB an entry after
// `ls -l` of 100,000 local files).
const ListingEntryBytes = 1 << 10

// listingBudget keeps the finished listings of folders within a number of
// entries, forgetting the least recently used folders' first; a folder
// forgotten lists again when next asked. The folder used last is kept
// whatever its size, so that a listing larger than the budget still
// serves the one who asked for it.
type listingBudget struct {
	max int

	mu      sync.Mutex
	entries int
	lru     *simplelru.LRU[*objectDir, int] // folder -> entries of its listing
	// tops are the kept folders at the top of an asset, by key (see
	// topFolder), so that a lookup finds them again.
	tops map[string]*objectDir
}

func newListingBudget(max int) *listingBudget {
	b := &listingBudget{max: max, tops: map[string]*objectDir{}}
	b.lru, _ = simplelru.NewLRU(math.MaxInt32, func(d *objectDir, n int) { // fails only for a size below 1
		b.entries -= n
		if d.key != "" && b.tops[d.key] == d {
			delete(b.tops, d.key)
		}
	})
	return b
}

// keep records d's finished listing of n entries, and forgets older
// listings while the budget is exceeded.
func (b *listingBudget) keep(d *objectDir, n int) {
	b.mu.Lock()
	if old, ok := b.lru.Peek(d); ok {
		b.entries -= old
	}
	b.lru.Add(d, n)
	b.entries += n
	if d.key != "" {
		b.tops[d.key] = d
	}
	var evicted []*objectDir
	for b.entries > b.max && b.lru.Len() > 1 {
		old, _, _ := b.lru.RemoveOldest()
		evicted = append(evicted, old)
	}
	b.mu.Unlock()
	// Outside the lock: forget takes the folder's own, which its holder may
	// keep while it calls touch.
	for _, d := range evicted {
		d.forget()
	}
}

// folder returns the kept folder at the top of an asset by key, nil when
// its listing is not kept, and marks the listing as used now.
func (b *listingBudget) folder(key string) *objectDir {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.tops[key]
	if d != nil {
		b.lru.Get(d)
	}
	return d
}

// forgetUnder forgets the kept listings of the folders at the top of an
// asset whose path starts with prefix, so that they are listed again when
// next asked (see Mount.Refresh).
func (b *listingBudget) forgetUnder(prefix string) {
	b.mu.Lock()
	var forgotten []*objectDir
	for key, d := range b.tops {
		if strings.HasPrefix(key, prefix) {
			b.lru.Remove(d) // and from tops
			forgotten = append(forgotten, d)
		}
	}
	b.mu.Unlock()
	for _, d := range forgotten {
		d.forget()
	}
}

// touch marks d's listing as used now.
func (b *listingBudget) touch(d *objectDir) {
	b.mu.Lock()
	b.lru.Get(d)
	b.mu.Unlock()
}

// kept returns the number of folders and of entries whose listings are kept.
func (b *listingBudget) kept() (folders, entries int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lru.Len(), b.entries
}
