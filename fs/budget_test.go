package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/sample"
)

// budgetTree is a tree over one session whose raw asset holds, for each
// folder in sizes, that many one-byte files, with a listing budget of
// entries; its objects count the listings asked of them.
func budgetTree(t *testing.T, sizes map[string]int, entries int) (*Tree, *localObjects) {
	t.Helper()
	data := t.TempDir()
	for sub, n := range sizes {
		dir := filepath.Join(data, sample.SessionID, sub)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := newFakeResolver()
	r.setRaw(r.addAsset(t, data, sample.SessionID, sample.SessionAssetID, time.Date(2023, 12, 13, 20, 0, 0, 0, time.UTC)))
	objects := &localObjects{}
	return New(Config{Resolver: r, Objects: objects, ListingEntries: entries}), objects
}

// TestListingBudget: kept listings stay within the budget of entries, the
// least recently used folder forgotten first (it lists again when next
// asked), and the folder used last is kept even when it alone is over.
func TestListingBudget(t *testing.T) {
	sizes := map[string]int{"a": 3, "b": 3, "c": 9}
	tree, objects := budgetTree(t, sizes, 8)
	ctx := context.Background()
	// Folders are held, as the mount's inodes hold them.
	raw, err := tree.Walk(ctx, "sessions/"+sample.SessionID+"/raw", true)
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]Dir{"": raw.(Dir)}
	for sub := range sizes {
		n, err := raw.(Dir).Lookup(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		dirs[sub] = n.(Dir)
	}
	objects.lists.Store(0)
	list := func(rel string) {
		t.Helper()
		if _, err := dirs[rel].ReadDir(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		list     string
		requests int64 // listings asked of the objects by this step
		folders  int   // kept after it
		entries  int
	}{
		{"", 0, 1, 3},  // raw: a, b, c
		{"a", 1, 2, 6}, // raw, a
		{"", 0, 2, 6},  // raw kept, and now used after a
		{"b", 1, 2, 6}, // a (least recently used) forgotten
		{"", 0, 2, 6},  // raw still kept
		{"a", 1, 2, 6}, // a lists again; b forgotten
		{"c", 1, 1, 9}, // over the budget alone: kept, every other forgotten
		{"c", 0, 1, 9},
		{"a", 1, 1, 3},
	} {
		before := objects.lists.Load()
		list(step.list)
		if got := objects.lists.Load() - before; got != step.requests {
			t.Errorf("listing raw/%s: %d requests, want %d", step.list, got, step.requests)
		}
		if folders, entries := tree.listings.kept(); folders != step.folders || entries != step.entries {
			t.Errorf("after listing raw/%s: %d folders and %d entries kept, want %d and %d", step.list, folders, entries, step.folders, step.entries)
		}
	}
}

// TestKeptTopFolders: a folder at the top of an asset looked up again (as
// the mount does once the kernel has let go of it) is the one kept, its
// listing with it, until the budget forgets that listing or a refresh of
// its session does; then it lists again.
func TestKeptTopFolders(t *testing.T) {
	tree, objects := budgetTree(t, map[string]int{"a": 3, "b": 6}, 7)
	ctx := context.Background()
	raw := "sessions/" + sample.SessionID + "/raw"
	for _, step := range []struct {
		list     string // walked to afresh, then listed
		forget   string // then forgotten as a refresh does
		requests int64
	}{
		{list: raw, requests: 1},
		{list: raw, requests: 0},        // kept
		{list: raw + "/a", requests: 1}, // raw (2 entries) and a (3)
		{list: raw, requests: 0},        // still kept
		{list: raw + "/b", requests: 1}, // 11 entries: a, then raw forgotten
		{list: raw, requests: 1},        // forgotten: listed again
		{list: raw, forget: "sessions/", requests: 0},
		{list: raw, requests: 1}, // forgotten by the refresh
		{list: raw, forget: "sessions/other/", requests: 0},
		{list: raw, requests: 0}, // another session's refresh
	} {
		before := objects.lists.Load()
		n, err := tree.Walk(ctx, step.list, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.(Dir).ReadDir(ctx); err != nil {
			t.Fatal(err)
		}
		if got := objects.lists.Load() - before; got != step.requests {
			t.Errorf("looking up and listing %s: %d requests, want %d", step.list, got, step.requests)
		}
		if step.forget != "" {
			tree.listings.forgetUnder(step.forget)
		}
		if folders, _ := tree.listings.kept(); len(tree.listings.tops) > folders {
			t.Errorf("%d top folders found again, more than the %d listings kept", len(tree.listings.tops), folders)
		}
	}
}
