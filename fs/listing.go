package fs

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/aind/aindfs/store"
)

// listing is a folder's entries as the pages of its listing arrive.
// Entries are only ever added, in an order every reader sees the same,
// so a reader keeps its place by index.
type listing struct {
	dir *objectDir
	ctx context.Context // of the caller that started it

	mu      sync.Mutex
	changed chan struct{}  // closed when entries are added or the listing ends
	nodes   []Node         // in order of arrival, one per name
	byName  map[string]int // index in nodes
	done    bool
	err     error
	sorted  []Node // nodes by name, made once done and asked for
	// seed is the hash of the folder's path and location, which each
	// entry's inode number continues.
	seed uint64
}

// add takes in one page of the listing. Pages come with each name once
// (see store.PageLister); a name already shown is not shown again.
func (l *listing) add(page []store.ObjectInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range page {
		if l.dir.usable(o) {
			l.show(o)
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// show adds the entry o, unless an entry of its name is shown already.
func (l *listing) show(o store.ObjectInfo) {
	if _, ok := l.byName[o.Name]; ok {
		return
	}
	l.byName[o.Name] = len(l.nodes)
	l.nodes = append(l.nodes, l.dir.child(o, l.seed))
}

// len returns the number of entries arrived so far.
func (l *listing) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.nodes)
}

// failed reports whether the listing ended with an error.
func (l *listing) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done && l.err != nil
}

// finish ends the listing: complete when err is nil, failed otherwise.
func (l *listing) finish(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done, l.err = true, err
	close(l.changed)
}

// waitUntil waits, with l.mu held, until ready reports true or ctx ends.
func (l *listing) waitUntil(ctx context.Context, ready func() bool) error {
	for !ready() {
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			l.mu.Lock()
			return &PathError{Path: l.dir.path, Err: fmt.Errorf("listing %s: %w", l.dir.loc, ctx.Err())}
		}
		l.mu.Lock()
	}
	return nil
}

// again reports whether a caller who got err from l should ask again: l
// was cut short because the caller that started it went away, and this
// one is still waiting.
func (l *listing) again(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && l.ctx.Err() != nil
}

// lookup returns the entry name once it has arrived; nil, without error,
// when the listing is complete without it.
func (l *listing) lookup(ctx context.Context, name string) (Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, found := 0, false
	if err := l.waitUntil(ctx, func() bool {
		i, found = l.byName[name]
		return found || l.done
	}); err != nil {
		return nil, err
	}
	if found {
		return l.nodes[i], nil
	}
	return nil, l.err
}

// all returns every entry, sorted by name, once the listing is complete.
func (l *listing) all(ctx context.Context) ([]Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.waitUntil(ctx, func() bool { return l.done }); err != nil {
		return nil, err
	}
	if l.err != nil {
		return nil, l.err
	}
	if l.sorted == nil {
		l.sorted = sortNodes(slices.Clone(l.nodes))
	}
	return slices.Clone(l.sorted), nil
}

// arrived returns the entries from index from on, in order of arrival,
// waiting until there is at least one; none once the listing is complete,
// and its error if it failed.
func (l *listing) arrived(ctx context.Context, from int) ([]Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.waitUntil(ctx, func() bool { return from < len(l.nodes) || l.done }); err != nil {
		return nil, err
	}
	if from < len(l.nodes) {
		// Capped: the entries past them may still be written.
		return l.nodes[from:len(l.nodes):len(l.nodes)], nil
	}
	return nil, l.err
}
