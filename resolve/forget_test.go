package resolve

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
)

// TestForget: an asset made after the first answer shows up once the
// session's answers are forgotten, not before; forgetting another session
// keeps this one's answers.
func TestForget(t *testing.T) {
	o := newOnline(t)
	ctx := context.Background()
	s := MustParseSession(sampleID)
	before, err := o.r.Assets(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	processed := sampleID + "_processed_2025-01-02_03-04-05"
	o.co.AddAssets(codeocean.DataAsset{
		ID: "0e9a7c9e-0000-4000-8000-000000000001", Name: processed, State: "ready", Type: "result",
		Created: codeocean.Time{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}, Tags: []string{"ecephys", "processed"},
	})
	if again, _ := o.r.Assets(ctx, s); len(again) != len(before) {
		t.Fatalf("the new asset shows before the answers are forgotten: %v", names(again))
	}

	searches := o.searches()
	if n := o.r.Forget(MustParseSession(secondID)); n == 0 {
		t.Error("forgetting another session dropped nothing, not even the searches")
	}
	if again, _ := o.r.Assets(ctx, s); len(again) != len(before) || o.searches() != searches {
		t.Errorf("forgetting another session dropped this one's answer: %d assets, %d new searches", len(again), o.searches()-searches)
	}

	if n := o.r.Forget(s); n == 0 {
		t.Error("Forget dropped nothing")
	}
	after, err := o.r.Assets(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(names(before), processed); !slices.Equal(names(after), want) {
		t.Errorf("after Forget: %v\nwant %v", names(after), want)
	}
	if o.searches() == searches {
		t.Error("after Forget the assets were not searched again")
	}
}
