package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/codeocean/fake"
	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/store"
)

// IDs of testdata/codeocean/catalog.json.
const (
	oldRawName  = "ecephys_686740_2023_10_26_12_29_08"
	bucketOnlyS = "ecephys_700000_2024-01-10_09-00-00"
)

const testToken = "cop_test-token-0123456789"

type online struct {
	r    *Resolver
	co   *fake.Server
	objs *fakeObjects
	logs *logtest.Buffer
}

// newOnline serves the test catalog from the fake Code Ocean over HTTP, in
// pages of 100 so the subject's noise spans several pages, and the S3 layout
// of testdata/s3.json from memory. Options change the resolver's Config.
func newOnline(t *testing.T, opts ...func(*Config)) *online {
	t.Helper()
	co := fake.New(nil, fake.Options{Token: testToken})
	if err := co.LoadCatalog("../testdata/codeocean/catalog.json"); err != nil {
		t.Fatal(err)
	}
	url := co.Start(t)
	client, err := codeocean.New(codeocean.Config{Domain: url, Token: testToken, Retry: codeocean.Retry{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	objs := newFakeObjects(t)
	cfg := Config{
		Catalog:        client,
		Objects:        objs,
		SearchPageSize: 100,
		Logger:         logtest.Logger(logs),
	}
	for _, o := range opts {
		o(&cfg)
	}
	r := New(cfg)
	t.Cleanup(r.Close)
	return &online{r: r, co: co, objs: objs, logs: logs}
}

func (o *online) searches() int { return o.co.Count("POST", "data_assets/search") }

func TestOnlineSession(t *testing.T) {
	o := newOnline(t)
	ctx := context.Background()
	s := MustParseSession(sampleID)

	assets, err := o.r.Assets(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{sampleID, sampleID, sampleSorted, sampleID + "_nwb_2024-03-02_10-00-00", sampleFailed}
	if !slices.Equal(names(assets), want) {
		t.Fatalf("assets = %v\nwant %v", names(assets), want)
	}
	// Three searches: the name prefix (20 characters) and the subject twice
	// (as a metadata filter and as free text); the subject's 240 noise assets
	// make the subject searches 3 pages of 100 and the name search 2.
	queries := o.co.Searches()
	slices.Sort(queries)
	queries = slices.Compact(queries)
	if wantQ := []string{"676909", "name:ecephys_676909_2023-", "subject id=676909"}; !slices.Equal(queries, wantQ) {
		t.Errorf("queries = %q, want %q", queries, wantQ)
	}
	cold := o.searches()
	if cold != 8 {
		t.Errorf("cold lookup made %d search requests, want 8 (2+3+3 pages)", cold)
	}

	raw, err := o.r.RawAsset(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Catalog.Description != "re-upload with fixed metadata" {
		t.Errorf("raw asset = %s (%s), want the newer of the two uploads", raw.ID, raw.Catalog.Description)
	}
	if !strings.Contains(o.logs.String(), "several raw assets; using the newest") {
		t.Error("choosing among two raw assets was not logged")
	}
	dir, err := o.r.RawDataDir(ctx, s)
	if want := store.S3("aind-private-data-prod-o5171v", sampleID); err != nil || dir != want {
		t.Errorf("raw data dir = %v, %v; want %v", dir, err, want)
	}

	best, ok, err := o.r.SortedAsset(ctx, s)
	if err != nil || !ok || best.Name != sampleSorted {
		t.Fatalf("sorted = %v, %v, %v; want %s", best.Name, ok, err, sampleSorted)
	}
	// An internal result asset lives under its ID in the Code Ocean bucket.
	loc, err := o.r.Location(ctx, best)
	if want := store.S3("codeocean-s3datasetsbucket-1u41qdg42ur9", best.ID); err != nil || loc != want {
		t.Errorf("location of sorted asset = %v, %v; want %v", loc, err, want)
	}
	mods, err := o.r.Modalities(ctx, s)
	if want := []string{"behavior", "behavior_videos", "ecephys"}; err != nil || !slices.Equal(mods, want) {
		t.Errorf("modalities = %v, %v", mods, err)
	}

	info, err := o.r.Info(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if info.RawDataAsset == nil || info.RawDataAsset.ID != raw.ID || info.SortedDataAsset == nil || info.SortedDataAsset.ID != best.ID ||
		info.RawDataDir != "s3://aind-private-data-prod-o5171v/"+sampleID || len(info.DataAssets) != 5 {
		b, _ := json.Marshal(info)
		t.Errorf("session.json = %s", b)
	}

	// Warm: the same questions again ask nothing of Code Ocean or S3.
	s3Before := o.objs.S3Requests()
	reqBefore := len(o.co.Requests())
	if _, err := o.r.Info(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.r.MetadataFiles(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n := len(o.co.Requests()) - reqBefore; n != 0 {
		t.Errorf("warm lookup made %d Code Ocean requests, want 0", n)
	}
	if n := o.objs.S3Requests() - s3Before; n != 0 {
		t.Errorf("warm lookup made %d S3 requests, want 0", n)
	}
}

func TestOnlineOldNameFoundBySubject(t *testing.T) {
	o := newOnline(t)
	s := MustParseSession("ecephys_686740_2023-10-26_12-29-08")
	raw, err := o.r.RawAsset(context.Background(), s)
	if err != nil || raw.Name != oldRawName {
		t.Fatalf("raw asset = %q, %v; want %q", raw.Name, err, oldRawName)
	}
	dir, err := o.r.RawDataDir(context.Background(), s)
	if want := store.S3("aind-ephys-data", oldRawName); err != nil || dir != want {
		t.Errorf("raw data dir = %v, %v; want %v", dir, err, want)
	}
	// The derived "_to_dlc_side" asset is of the same session but is not sorted.
	if _, ok, err := o.r.SortedAsset(context.Background(), s); ok || err != nil {
		t.Errorf("sorted asset found for a session with none (err %v)", err)
	}
}

func TestOnlineRawOnlyInBucket(t *testing.T) {
	o := newOnline(t)
	ctx := context.Background()
	s := MustParseSession(bucketOnlyS)
	_, err := o.r.RawAsset(ctx, s)
	var noRaw *NoRawAssetError
	if !errors.As(err, &noRaw) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("RawAsset = %v, want a NoRawAssetError", err)
	}
	want := "no raw asset for " + bucketOnlyS + ": raw data exists at s3://aind-private-data-prod-o5171v/" + bucketOnlyS + " but no asset was made for it"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	info, err := o.r.Info(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if info.RawDataAsset != nil || info.RawDataDir != "s3://aind-private-data-prod-o5171v/"+bucketOnlyS || !slices.Equal(info.Modalities, []string{"behavior", "ecephys"}) {
		t.Errorf("info = %+v", info)
	}
}

func TestOnlineNothingUploaded(t *testing.T) {
	o := newOnline(t)
	s := MustParseSession("ecephys_111111_2024-01-01_00-00-00")
	_, err := o.r.Info(context.Background(), s)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Info = %v, want ErrNotFound", err)
	}
	for _, want := range []string{"nothing was uploaded", `catalog query "name:ecephys_111111_2024-"`, `catalog query "subject id:111111"`, "buckets codeocean-s3datasetsbucket-1u41qdg42ur9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Every known bucket was probed once for the session folder.
	if n := o.objs.Requests("Exists s3"); n != len(DefaultBuckets) {
		t.Errorf("probed %d times, want %d", n, len(DefaultBuckets))
	}
}

func TestOnlineRejectionsLogged(t *testing.T) {
	o := newOnline(t)
	if _, err := o.r.Assets(context.Background(), MustParseSession(sampleID)); err != nil {
		t.Fatal(err)
	}
	logs := o.logs.String()
	for _, want := range []string{
		"asset rejected: another session",
		"asset rejected: its name is not a session name",
		`msg="assets of session"`,
		"kept=5",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log does not say %q", want)
		}
	}
	if strings.Contains(logs, testToken) {
		t.Error("the token appears in the log")
	}
}

func TestOnlineConcurrentLookupsShareRequests(t *testing.T) {
	o := newOnline(t)
	s := MustParseSession(sampleID)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := o.r.Info(context.Background(), s); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := o.searches(); n != 8 {
		t.Errorf("16 concurrent lookups made %d search requests, want the 8 of one", n)
	}
}

func TestOnlineFailureCachedBriefly(t *testing.T) {
	o := newOnline(t)
	o.co.FailNext(100, fake.Fault{Status: 503, Message: "maintenance"})
	s := MustParseSession(sampleID)
	_, err := o.r.Assets(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "maintenance") {
		t.Fatalf("Assets during an outage = %v, want the 503 and its message", err)
	}
	n := len(o.co.Requests())
	if _, err2 := o.r.Assets(context.Background(), s); err2 == nil {
		t.Fatal("second lookup succeeded during the outage")
	}
	if m := len(o.co.Requests()); m != n {
		t.Errorf("a failure was not remembered: the second lookup made %d requests", m-n)
	}
}

func TestOnlineSubjectSessions(t *testing.T) {
	o := newOnline(t)
	subj, _ := ParseSubject("686740")
	got, err := o.r.SubjectSessions(context.Background(), subj)
	if err != nil || len(got) != 1 || got[0].ID() != "ecephys_686740_2023-10-26_12-29-08" {
		t.Errorf("sessions of 686740 = %v, %v", got, err)
	}
	subj, _ = ParseSubject("676909")
	got, err = o.r.SubjectSessions(context.Background(), subj)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(got, func(s Session) bool { return s.ID() == sampleID }) || len(got) < 100 {
		t.Errorf("sessions of 676909: %d, including %s? got %v", len(got), sampleID, got[:min(3, len(got))])
	}
}

func TestOnlineAssetByID(t *testing.T) {
	o := newOnline(t)
	ctx := context.Background()
	assets, err := o.r.Assets(ctx, MustParseSession(sampleID))
	if err != nil {
		t.Fatal(err)
	}
	a, err := o.r.AssetByID(ctx, assets[2].ID)
	if err != nil || a.Name != sampleSorted {
		t.Errorf("AssetByID = %v, %v", a.Name, err)
	}
	_, err = o.r.AssetByID(ctx, "00000000-0000-0000-0000-000000000000")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("AssetByID of an unknown ID = %v, want ErrNotFound", err)
	}
}

func TestOnlineWithAttachedData(t *testing.T) {
	o := newOnline(t)
	r := New(Config{Catalog: o.r.catalog, Objects: o.objs, DataDir: sampleDataDir(t), SearchPageSize: 100})
	ctx := context.Background()
	s := MustParseSession(sampleID)
	assets, err := r.Assets(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(assets) != 5 {
		t.Fatalf("assets = %v, want the 5 of the catalog (local folders matched by name)", names(assets))
	}
	raw, err := r.RawAsset(ctx, s)
	if err != nil || raw.ID == "" || raw.Local.IsZero() {
		t.Fatalf("raw asset = %+v, %v; want the catalog asset served from the data folder", raw, err)
	}
	sorted, ok, err := r.SortedAsset(ctx, s)
	if err != nil || !ok || sorted.Name != sampleSorted || sorted.Local.IsZero() {
		t.Fatalf("sorted asset = %+v, %v, %v", sorted, ok, err)
	}
	if info, err := r.Info(ctx, s); err != nil || !strings.HasPrefix(info.RawDataDir, "file://") {
		t.Errorf("raw data dir = %q, %v; want the attached folder", info.RawDataDir, err)
	}
	// Everything attached is read from disk: S3 is never asked.
	if n := o.objs.S3Requests(); n != 0 {
		t.Errorf("made %d S3 requests for attached assets", n)
	}
}

func TestOnlineProbeFailureIsNotNothingUploaded(t *testing.T) {
	o := newOnline(t)
	o.objs.existsErr = errors.New("dial tcp: connection refused")
	_, err := o.r.RawAsset(context.Background(), MustParseSession("ecephys_111111_2024-01-01_00-00-00"))
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("RawAsset with unreachable buckets = %v; want an error that is not ErrNotFound", err)
	}
	for _, want := range []string{"none in the catalog", "every bucket failed", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestOnlineUnreadableSortedAssetIsSkipped(t *testing.T) {
	o := newOnline(t)
	// The newer (failed) sorting's folder is gone from S3: its verdict cannot
	// be read, which must not hide the session or its good sorted asset.
	o.objs.mu.Lock()
	for k := range o.objs.objects {
		if strings.HasPrefix(k, "codeocean-s3datasetsbucket-1u41qdg42ur9/cc7809c0") {
			delete(o.objs.objects, k)
		}
	}
	o.objs.mu.Unlock()
	s := MustParseSession(sampleID)
	info, err := o.r.Info(context.Background(), s)
	if err != nil {
		t.Fatalf("Info = %v", err)
	}
	if info.SortedDataAsset == nil || info.SortedDataAsset.Name != sampleSorted {
		t.Errorf("sorted asset = %+v, want %s", info.SortedDataAsset, sampleSorted)
	}
	sorted, err := o.r.SortedAssets(context.Background(), s)
	if err != nil || len(sorted) != 2 || !sorted[1].Unknown || sorted[0].Failed || sorted[0].Unknown {
		t.Errorf("sorted assets = %+v, %v; want the good one, then one unknown", sorted, err)
	}
	if !strings.Contains(o.logs.String(), "sorted asset skipped: its output could not be read") {
		t.Error("the unreadable sorted asset was not logged")
	}
}

func TestOnlineBucketOnlySessionIsKnown(t *testing.T) {
	o := newOnline(t)
	s := MustParseSession(bucketOnlyS)
	if _, err := o.r.RawDataDir(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(o.r.KnownSessions(context.Background()), s) {
		t.Errorf("a session found in a bucket alone is not among the known sessions")
	}
}
