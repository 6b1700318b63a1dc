package resolve

import (
	"context"
	"sync"
	"time"
)

// memo remembers answers for a while and failures for less, and makes
// concurrent callers asking the same key share one lookup.
type memo[K comparable, V any] struct {
	base    context.Context // lookups end when it does (the resolver closes)
	okTTL   time.Duration   // 0: answers are kept forever
	failTTL time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[K]*memoEntry[V]
}

type memoEntry[V any] struct {
	done    chan struct{} // closed when val and err are set
	val     V
	err     error
	expires time.Time // zero: never
}

func newMemo[K comparable, V any](base context.Context, okTTL, failTTL time.Duration, now func() time.Time) *memo[K, V] {
	return &memo[K, V]{base: base, okTTL: okTTL, failTTL: failTTL, now: now, entries: map[K]*memoEntry[V]{}}
}

// lookupTimeout bounds a shared lookup, which runs detached from any one
// caller's context so that one caller giving up does not fail the others:
// a reader sees an answer or an error within it.
const lookupTimeout = 30 * time.Second

// get returns the remembered answer for key, or runs fn once for all callers
// asking at the same time. A caller whose ctx ends stops waiting at once.
func (m *memo[K, V]) get(ctx context.Context, key K, fn func(context.Context) (V, error)) (V, error) {
	m.mu.Lock()
	e, ok := m.entries[key]
	if ok {
		select {
		case <-e.done:
			if !e.expires.IsZero() && m.now().After(e.expires) {
				ok = false
			}
		default: // in flight: wait for it below
		}
	}
	if !ok {
		e = &memoEntry[V]{done: make(chan struct{})}
		m.entries[key] = e
		m.pruneLocked()
		go m.fill(key, e, fn)
	}
	m.mu.Unlock()

	select {
	case <-e.done:
		return e.val, e.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

func (m *memo[K, V]) fill(key K, e *memoEntry[V], fn func(context.Context) (V, error)) {
	lctx, cancel := context.WithTimeout(m.base, lookupTimeout)
	defer cancel()
	val, err := fn(lctx)
	expired := lctx.Err() != nil
	m.mu.Lock()
	defer m.mu.Unlock()
	e.val, e.err = val, err
	switch {
	case err == nil && m.okTTL > 0:
		e.expires = m.now().Add(m.okTTL)
	case err != nil && expired:
		// The lookup itself was cut short (by its timeout or by the
		// resolver closing): let the next caller try again. Timeouts of
		// the requests inside it are ordinary failures, remembered below.
		if m.entries[key] == e {
			delete(m.entries, key)
		}
	case err != nil:
		e.expires = m.now().Add(m.failTTL)
	}
	close(e.done)
}

// pruneLocked drops expired entries now and then, so a mount left up for
// weeks does not keep every answer it ever gave.
func (m *memo[K, V]) pruneLocked() {
	if len(m.entries)%256 != 0 {
		return
	}
	now := m.now()
	for k, e := range m.entries {
		select {
		case <-e.done:
			if !e.expires.IsZero() && now.After(e.expires) {
				delete(m.entries, k)
			}
		default:
		}
	}
}
