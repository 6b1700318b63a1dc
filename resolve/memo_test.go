package resolve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
)

func TestMemoRemembersRequestTimeouts(t *testing.T) {
	m := newMemo[string, int](memoSettings{base: context.Background(), okTTL: time.Minute, failTTL: 30 * time.Second, timeout: time.Minute, now: time.Now})
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
	m := newMemo[string, int](memoSettings{base: context.Background(), okTTL: time.Minute, failTTL: 30 * time.Second, timeout: time.Minute, now: func() time.Time { return now }})
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

// countingCatalog counts the searches the resolver starts, as the fake
// server logs a request only once it ends.
type countingCatalog struct {
	Catalog
	searches atomic.Int32
}

func (c *countingCatalog) SearchDataAssets(ctx context.Context, p codeocean.SearchParams) ([]codeocean.DataAsset, error) {
	c.searches.Add(1)
	return c.Catalog.SearchDataAssets(ctx, p)
}

// A catalog that never answers fails each lookup after the lookup timeout;
// that failure is remembered like any other, so the next reader gets it at
// once instead of waiting the whole timeout again.
func TestStalledCatalogIsRememberedAsAFailure(t *testing.T) {
	var counted *countingCatalog
	o := newOnline(t, func(c *Config) {
		c.LookupTimeout = 200 * time.Millisecond
		counted = &countingCatalog{Catalog: c.Catalog}
		c.Catalog = counted
	})
	o.co.SetLatency(time.Hour)
	s := MustParseSession(sampleID)
	_, err := o.r.Assets(context.Background(), s)
	if err == nil {
		t.Fatal("Assets succeeded against a catalog that never answers")
	}
	if !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("error %q does not say the lookup's time limit", err)
	}
	asked := counted.searches.Load()
	if asked == 0 {
		t.Fatal("no search was sent to the catalog")
	}
	// Let the searches themselves end too, so the second lookup cannot
	// simply join them in flight.
	for deadline := time.Now().Add(10 * time.Second); o.r.searches.inFlight() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("searches still running 10 s after their lookup timeout")
		}
	}
	_, err2 := o.r.Assets(context.Background(), s)
	if err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second lookup = %v\nwant the remembered failure %v", err2, err)
	}
	t.Logf("remembered: %v", err)
	if n := counted.searches.Load(); n != asked {
		t.Errorf("the second lookup sent %d more searches to a catalog known to be stalled", n-asked)
	}
}

// Answers past their time are dropped by the resolver's sweep, without any
// further lookup to trigger it.
func TestExpiredAnswersAreSwept(t *testing.T) {
	var clock atomic.Int64 // seconds
	r := New(Config{
		DataDir:       sampleDataDir(t),
		Objects:       newFakeObjects(t),
		Buckets:       []string{},
		SweepInterval: 10 * time.Millisecond,
		Now:           func() time.Time { return time.Unix(clock.Load(), 0) },
	})
	t.Cleanup(r.Close)
	if _, err := r.Info(context.Background(), MustParseSession(sampleID)); err != nil {
		t.Fatal(err)
	}
	if r.assets.len() != 1 || r.listings.len() == 0 {
		t.Fatalf("after one lookup: %d sessions' assets, %d listings remembered", r.assets.len(), r.listings.len())
	}
	clock.Add(int64((DefaultAnswerTTL + time.Second) / time.Second))
	deadline := time.Now().Add(10 * time.Second)
	for r.assets.len()+r.listings.len()+r.raws.len()+r.local.len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("expired answers still held: %d assets, %d listings, %d raw, %d local",
				r.assets.len(), r.listings.len(), r.raws.len(), r.local.len())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The set of sessions listed under sessions/ keeps only the most recently
// resolved, up to Config.KnownSessions.
func TestKnownSessionsAreBounded(t *testing.T) {
	o := newOnline(t, func(c *Config) { c.KnownSessions = 2 })
	ids := []string{"ecephys_676909_2023-12-15_09-01-30", "ecephys_676909_2023-12-19_13-05-30", "ecephys_676909_2023-12-23_17-09-30"}
	for _, id := range ids {
		if a, err := o.r.Assets(context.Background(), MustParseSession(id)); err != nil || len(a) == 0 {
			t.Fatalf("assets of %s = %d, %v", id, len(a), err)
		}
	}
	var got []string
	for _, s := range o.r.KnownSessions(context.Background()) {
		got = append(got, s.ID())
	}
	if want := ids[1:]; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("known sessions = %v, want the two most recent %v", got, want)
	}
}

// A memo of what never expires (where assets live, their sortings) keeps
// at most its bound; what it forgot is looked up again when asked.
func TestMemoOfFactsIsBounded(t *testing.T) {
	m := newMemo[int, int](memoSettings{base: context.Background(), failTTL: time.Second, timeout: time.Minute, max: 10, now: time.Now})
	var calls atomic.Int32
	square := func(k int) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { calls.Add(1); return k * k, nil }
	}
	for k := range 100 {
		if v, err := m.get(context.Background(), k, square(k)); err != nil || v != k*k {
			t.Fatalf("get(%d) = %d, %v", k, v, err)
		}
	}
	if n := m.len(); n > 10 {
		t.Errorf("memo bounded at 10 holds %d entries", n)
	}
	forgotten := -1
	m.mu.Lock()
	for k := range 100 {
		if _, ok := m.entries[k]; !ok {
			forgotten = k
			break
		}
	}
	m.mu.Unlock()
	before := calls.Load()
	if v, err := m.get(context.Background(), forgotten, square(forgotten)); err != nil || v != forgotten*forgotten || calls.Load() != before+1 {
		t.Errorf("forgotten key %d: %d, %v, after %d lookups (want it looked up again)", forgotten, v, err, calls.Load()-before)
	}
}
