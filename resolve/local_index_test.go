package resolve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLocalAssetsDoNotReparseTheDataFolder browses many sessions of a large
// data folder: each session's lookup must cost the same however many other
// sessions the folder holds (it once parsed every folder name per session,
// which made browsing N sessions cost N² name parses). The work is counted
// as heap allocations per lookup, with the data folder listed once.
func TestLocalAssetsDoNotReparseTheDataFolder(t *testing.T) {
	const folders = 2000
	dir := t.TempDir()
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	var sessions []Session
	for i := range folders {
		id := fmt.Sprintf("ecephys_%d_%s", 600000+i, start.Add(time.Duration(i)*time.Hour).Format("2006-01-02_15-04-05"))
		if err := os.Mkdir(filepath.Join(dir, id), 0o755); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, MustParseSession(id))
	}
	objs := newFakeObjects(t)
	r := New(Config{DataDir: dir, Objects: objs, Buckets: []string{}})
	t.Cleanup(r.Close)
	ctx := context.Background()

	// The first lookup lists and indexes the folder; the next are measured.
	if _, err := r.Assets(ctx, sessions[0]); err != nil {
		t.Fatal(err)
	}
	next := 1
	var lookupErr error
	allocs := testing.AllocsPerRun(200, func() {
		s := sessions[next]
		next++
		got, err := r.Assets(ctx, s)
		if err == nil && (len(got) != 1 || got[0].Name != s.ID()) {
			err = fmt.Errorf("assets of %s = %v, want its one folder", s, names(got))
		}
		if err != nil && lookupErr == nil {
			lookupErr = err
		}
	})
	if lookupErr != nil {
		t.Fatal(lookupErr)
	}
	if n := objs.Requests("List file"); n != 1 {
		t.Errorf("data folder listed %d times for %d sessions, want once", n, next)
	}
	// Parsing one name allocates several times, so a lookup that parsed the
	// whole folder would allocate many times the folder's size.
	if allocs > folders/10 {
		t.Errorf("one session's lookup made %.0f allocations in a data folder of %d sessions: it grows with the folder's size", allocs, folders)
	}
	t.Logf("%.0f allocations per session lookup among %d folders", allocs, folders)

	// The index is of one listing: a folder attached since shows up once
	// the answers are forgotten, as it did before.
	sorted := sessions[0].ID() + "_sorted_2024-03-01_16-02-45"
	if err := os.Mkdir(filepath.Join(dir, sorted), 0o755); err != nil {
		t.Fatal(err)
	}
	r.Forget()
	got, err := r.Assets(ctx, sessions[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{sessions[0].ID(), sorted}; fmt.Sprint(names(got)) != fmt.Sprint(want) {
		t.Errorf("after Forget, assets of %s = %v, want %v", sessions[0], names(got), want)
	}
	if n := objs.Requests("List file"); n != 2 {
		t.Errorf("data folder listed %d times after Forget, want twice in all", n)
	}
}
