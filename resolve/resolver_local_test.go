package resolve

import (
	"context"
	"encoding/json"
	"errors"
	iofs "io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aind/aindfs/store"
)

const (
	sampleID     = "ecephys_676909_2023-12-13_13-43-40"
	sampleSorted = sampleID + "_sorted_2024-03-01_16-02-45"
	sampleFailed = sampleID + "_sorted-ks4_2024-04-02_09-15-00"
	secondID     = "behavior_702131_2024-02-05_10-11-12"
)

func sampleDataDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../testdata/data")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// newLocalResolver resolves from the bundled capsule data folder only: no
// catalog, no bucket probing.
func newLocalResolver(t *testing.T) (*Resolver, *fakeObjects) {
	objs := newFakeObjects(t)
	return New(Config{DataDir: sampleDataDir(t), Objects: objs, Buckets: []string{}}), objs
}

func names(assets []Asset) []string {
	var out []string
	for _, a := range assets {
		out = append(out, a.Name)
	}
	return out
}

func TestLocalSession(t *testing.T) {
	r, objs := newLocalResolver(t)
	ctx := context.Background()
	s := MustParseSession(sampleID)

	assets, err := r.Assets(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{sampleID, sampleSorted, sampleFailed}; !slices.Equal(names(assets), want) {
		t.Errorf("assets = %v, want %v (ordered by creation)", names(assets), want)
	}

	raw, err := r.RawAsset(ctx, s)
	if err != nil || raw.Name != sampleID {
		t.Fatalf("raw asset = %v, %v; want %s", raw.Name, err, sampleID)
	}
	dir, err := r.RawDataDir(ctx, s)
	if want := store.Local(filepath.Join(sampleDataDir(t), sampleID)); err != nil || dir != want {
		t.Errorf("raw data dir = %v, %v; want %v", dir, err, want)
	}

	sorted, err := r.SortedAssets(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(sorted) != 2 || sorted[0].Name != sampleSorted || sorted[0].Failed || sorted[1].Name != sampleFailed || !sorted[1].Failed {
		t.Fatalf("sorted assets = %+v; want %s ok, then %s failed", sorted, sampleSorted, sampleFailed)
	}
	if sorted[1].Reason != "Out of memory." {
		t.Errorf("failure marker = %q, want %q", sorted[1].Reason, "Out of memory.")
	}
	best, ok, err := r.SortedAsset(ctx, s)
	if err != nil || !ok || best.Name != sampleSorted {
		t.Errorf("sorted asset = %v, %v, %v; want %s (the newer one failed)", best.Name, ok, err, sampleSorted)
	}

	mods, err := r.Modalities(ctx, s)
	if want := []string{"behavior", "behavior_videos", "ecephys"}; err != nil || !slices.Equal(mods, want) {
		t.Errorf("modalities = %v, %v; want %v", mods, err, want)
	}
	meta, mdir, err := r.MetadataFiles(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var metaNames []string
	for _, m := range meta {
		metaNames = append(metaNames, m.Name)
	}
	wantMeta := []string{"data_description.json", "metadata.nd.json", "procedures.json", "processing.json", "rig.json", "session.json", "subject.json"}
	if !slices.Equal(metaNames, wantMeta) || mdir != dir {
		t.Errorf("metadata = %v in %v; want %v in %v", metaNames, mdir, wantMeta, dir)
	}

	// Everything above is cached: asking again reads nothing.
	before := objs.Requests("List file") + objs.Requests("Stat file") + objs.Requests("ReadRange file")
	if _, err := r.Info(ctx, s); err != nil {
		t.Fatal(err)
	}
	after := objs.Requests("List file") + objs.Requests("Stat file") + objs.Requests("ReadRange file")
	if after != before {
		t.Errorf("a warm Info made %d requests, want 0", after-before)
	}
	if objs.S3Requests() != 0 {
		t.Errorf("offline resolution made %d S3 requests", objs.S3Requests())
	}
}

func TestLocalInfoJSON(t *testing.T) {
	r, _ := newLocalResolver(t)
	info, err := r.Info(context.Background(), MustParseSession(sampleID))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "platform", "subject_id", "date", "time", "dt", "raw_data_asset", "raw_data_dir", "modalities", "sorted_data_asset", "data_assets"} {
		if _, ok := got[k]; !ok {
			t.Errorf("session.json has no %q: %s", k, b)
		}
	}
	if got["raw_data_asset"].(map[string]any)["name"] != sampleID {
		t.Errorf("raw_data_asset = %v", got["raw_data_asset"])
	}
	if got["sorted_data_asset"].(map[string]any)["name"] != sampleSorted {
		t.Errorf("sorted_data_asset = %v", got["sorted_data_asset"])
	}
	if !strings.HasPrefix(got["raw_data_dir"].(string), "file:///") {
		t.Errorf("raw_data_dir = %v", got["raw_data_dir"])
	}
	if n := len(got["data_assets"].([]any)); n != 3 {
		t.Errorf("data_assets has %d entries, want 3", n)
	}

	// The second session has no sorted asset: null, not absent.
	info2, err := r.Info(context.Background(), MustParseSession(secondID))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(info2)
	if !strings.Contains(string(b), `"sorted_data_asset":null`) || !strings.Contains(string(b), `"modalities":["behavior"]`) {
		t.Errorf("session.json of %s = %s", secondID, b)
	}
}

func TestLocalNotFound(t *testing.T) {
	r, objs := newLocalResolver(t)
	s := MustParseSession("ecephys_111111_2024-01-01_00-00-00")
	_, err := r.Info(context.Background(), s)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Info of an unknown session = %v, want ErrNotFound", err)
	}
	if !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("Info of an unknown session = %v, which io/fs.ErrNotExist does not match", err)
	}
	for _, want := range []string{s.ID(), "nothing was uploaded", "data folder", "no catalog"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if objs.S3Requests() != 0 {
		t.Errorf("made %d S3 requests with probing off", objs.S3Requests())
	}
}

func TestLocalSubjectsAndKnown(t *testing.T) {
	r, _ := newLocalResolver(t)
	ctx := context.Background()
	subj, _ := ParseSubject("0676909")
	got, err := r.SubjectSessions(ctx, subj)
	if err != nil || len(got) != 1 || got[0].ID() != sampleID {
		t.Errorf("sessions of 676909 = %v, %v", got, err)
	}
	known := r.KnownSessions(ctx)
	var ids []string
	for _, s := range known {
		ids = append(ids, s.ID())
	}
	if want := []string{secondID, sampleID}; !slices.Equal(ids, want) {
		t.Errorf("known sessions = %v, want %v", ids, want)
	}
}

func TestDerivedParts(t *testing.T) {
	tests := []struct {
		name, label, created string
		ok                   bool
	}{
		{sampleID, "", "", true},
		{sampleSorted, "sorted", "2024-03-01 16:02:45", true},
		{sampleFailed, "sorted-ks4", "2024-04-02 09:15:00", true},
		{sampleID + ".123_nwb_2024-03-02_10-00-00", "nwb", "2024-03-02 10:00:00", true},
		{"ecephys_686740_2023_10_26_12_29_08", "", "", true},
		{"ecephys_686740_2023_10_26_12_29_08_to_dlc_side", "", "", false},
		{"not a session", "", "", false},
	}
	for _, tt := range tests {
		_, label, created, ok := derivedParts(tt.name)
		if ok != tt.ok || label != tt.label {
			t.Errorf("derivedParts(%q) = %q, %v; want %q, %v", tt.name, label, ok, tt.label, tt.ok)
		}
		if tt.created != "" && created.Format("2006-01-02 15:04:05") != tt.created {
			t.Errorf("derivedParts(%q) created %v, want %s", tt.name, created, tt.created)
		}
	}
}

func TestLocalAssetTypes(t *testing.T) {
	r, _ := newLocalResolver(t)
	assets, err := r.Assets(context.Background(), MustParseSession(sampleID))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range assets {
		want := "result"
		if a.Name == sampleID {
			want = "dataset"
		}
		if a.Type != want {
			t.Errorf("%s: type %q, want %q", a.Name, a.Type, want)
		}
	}
}
