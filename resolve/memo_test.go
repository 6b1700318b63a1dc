package resolve

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoRemembersRequestTimeouts(t *testing.T) {
	m := newMemo[string, int](context.Background(), time.Minute, 30*time.Second, time.Now)
	var calls atomic.Int32
	// A request inside the lookup timed out: an ordinary failure, to be
	// remembered for the failure TTL rather than asked again at once.
	fn := func(context.Context) (int, error) {
		calls.Add(1)
		return 0, fmt.Errorf("search: %w", context.DeadlineExceeded)
	}
	for range 3 {
		if _, err := m.get(context.Background(), "k", fn); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("a timed-out lookup ran %d times within the failure TTL, want 1", n)
	}
}

func TestMemoFailureExpires(t *testing.T) {
	now := time.Unix(0, 0)
	m := newMemo[string, int](context.Background(), time.Minute, 30*time.Second, func() time.Time { return now })
	var calls atomic.Int32
	fn := func(context.Context) (int, error) { calls.Add(1); return 0, errors.New("boom") }
	m.get(context.Background(), "k", fn)
	now = now.Add(29 * time.Second)
	m.get(context.Background(), "k", fn)
	now = now.Add(2 * time.Second)
	m.get(context.Background(), "k", fn)
	if n := calls.Load(); n != 2 {
		t.Errorf("lookup ran %d times, want 2 (once, then again after 30 s)", n)
	}
}

func TestResolverCloseEndsLookups(t *testing.T) {
	o := newOnline(t)
	o.co.SetLatency(time.Hour)
	errc := make(chan error, 1)
	go func() {
		_, err := o.r.Assets(context.Background(), MustParseSession(sampleID))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	o.r.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("a lookup cut short by Close succeeded")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not end a lookup in flight")
	}
}
