package resolve

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memo remembers answers for a while and failures for less, and makes
// concurrent callers asking the same key share one lookup. Expired entries
// stay until sweep drops them: a mount left up for weeks must not keep every
// answer it ever gave.
type memo[K comparable, V any] struct {
	memoSettings

	mu      sync.Mutex
	entries map[K]*memoEntry[V]
}

// memoSettings are what the memos of one Resolver share.
type memoSettings struct {
	base    context.Context // lookups end when it does (the resolver closes)
	okTTL   time.Duration   // 0: answers are kept forever
	failTTL time.Duration
	timeout time.Duration // bounds one lookup
	max     int           // the most entries kept; 0: no bound
	now     func() time.Time
}

type memoEntry[V any] struct {
	done    chan struct{} // closed when val and err are set
	val     V
	err     error
	expires time.Time // zero: never
}

func newMemo[K comparable, V any](s memoSettings) *memo[K, V] {
	return &memo[K, V]{memoSettings: s, entries: map[K]*memoEntry[V]{}}
}

// get returns the remembered answer for key, or runs fn once for all callers
// asking at the same time. A caller whose ctx ends stops waiting at once.
// The lookup runs detached from any one caller's context so that one caller
// giving up does not fail the others, and within m.timeout, so a reader sees
// an answer or an error in that time.
func (m *memo[K, V]) get(ctx context.Context, key K, fn func(context.Context) (V, error)) (V, error) {
	m.mu.Lock()
	e, ok := m.entries[key]
	if ok && e.expired(m.now()) {
		ok = false
	}
	if !ok {
		e = &memoEntry[V]{done: make(chan struct{})}
		m.entries[key] = e
		if m.max > 0 && len(m.entries) > m.max {
			m.shrinkLocked()
		}
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
	lctx, cancel := context.WithTimeout(m.base, m.timeout)
	defer cancel()
	val, err := fn(lctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	e.val, e.err = val, err
	switch {
	case err == nil && m.okTTL > 0:
		e.expires = m.now().Add(m.okTTL)
	case err != nil && m.base.Err() != nil:
		// Cut short by the resolver closing: nobody is left to ask again.
		if m.entries[key] == e {
			delete(m.entries, key)
		}
	case err != nil:
		// A source that does not answer in time is down like any other:
		// remembered for the failure TTL, so the next reader does not wait
		// the whole timeout again.
		if lctx.Err() == context.DeadlineExceeded {
			e.err = fmt.Errorf("%w (no answer within %s)", err, m.timeout)
		}
		e.expires = m.now().Add(m.failTTL)
	}
	close(e.done)
}

// expired tells whether e is finished and past its time; call with m.mu held.
func (e *memoEntry[V]) expired(now time.Time) bool {
	return e.finished() && !e.expires.IsZero() && now.After(e.expires)
}

// finished tells whether e's lookup has ended.
func (e *memoEntry[V]) finished() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// shrinkLocked makes room in a memo over its bound: expired entries go
// first, then finished ones in no particular order (asked again, they are
// looked up again), down to nine tenths of the bound so that a full memo is
// not shrunk at every insert. Lookups in flight stay.
func (m *memo[K, V]) shrinkLocked() {
	target, now := m.max-m.max/10, m.now()
	for _, drop := range []func(*memoEntry[V]) bool{
		func(e *memoEntry[V]) bool { return e.expired(now) },
		(*memoEntry[V]).finished,
	} {
		for k, e := range m.entries {
			if len(m.entries) <= target {
				return
			}
			if drop(e) {
				delete(m.entries, k)
			}
		}
	}
}

// sweep drops the expired entries.
func (m *memo[K, V]) sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, e := range m.entries {
		if e.expired(now) {
			delete(m.entries, k)
		}
	}
}

// known returns the remembered answer for key without looking it up; ok is
// false when there is none (not asked, failed, expired or in flight).
func (m *memo[K, V]) known(key K) (v V, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, found := m.entries[key]
	if !found || !e.finished() || e.err != nil || e.expired(m.now()) {
		return v, false
	}
	return e.val, true
}

// inFlight is the number of lookups running.
func (m *memo[K, V]) inFlight() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, e := range m.entries {
		if !e.finished() {
			n++
		}
	}
	return n
}

// len is the number of entries held, expired or not.
func (m *memo[K, V]) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// forget drops the finished answers and failures whose key match accepts,
// so that the next caller asks again; lookups in flight finish as they are.
func (m *memo[K, V]) forget(match func(K) bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, e := range m.entries {
		if e.finished() && match(k) {
			delete(m.entries, k)
			n++
		}
	}
	return n
}
