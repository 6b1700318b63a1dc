package resolve

import (
	"context"
	"slices"
	"testing"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

// TestRealS3AndCodeOcean resolves with nothing faked below the HTTP line: the
// fake Code Ocean and an in-process S3 server, both over real HTTP, read
// through the store.
func TestRealS3AndCodeOcean(t *testing.T) {
	co, err := sample.CodeOcean(testToken)
	if err != nil {
		t.Fatal(err)
	}
	client, err := codeocean.New(codeocean.Config{Domain: co.Start(t), Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := s3test.NewServer(t, s3test.Options{})
	if _, err := sample.LoadS3(srv); err != nil {
		t.Fatal(err)
	}
	st := store.New(store.Options{S3: srv.Backend(t)})
	r := New(Config{Catalog: client, Objects: st})
	ctx := context.Background()

	info, err := r.Info(ctx, MustParseSession(sample.SessionID))
	if err != nil {
		t.Fatal(err)
	}
	if info.RawDataDir != "s3://aind-private-data-prod-o5171v/"+sample.SessionID ||
		info.SortedDataAsset == nil || info.SortedDataAsset.Name != sample.SortedName ||
		!slices.Equal(info.Modalities, []string{"behavior", "behavior_videos", "ecephys"}) {
		t.Errorf("info = %+v", info)
	}
	meta, _, err := r.MetadataFiles(ctx, MustParseSession(sample.SessionID))
	if err != nil || len(meta) != 7 {
		t.Errorf("metadata files = %v, %v; want the 7 JSON files", meta, err)
	}

	info, err = r.Info(ctx, MustParseSession(sample.BucketOnlyID))
	if err != nil || info.RawDataAsset != nil || info.RawDataDir != "s3://aind-private-data-prod-o5171v/"+sample.BucketOnlyID {
		t.Errorf("bucket-only session: %+v, %v", info, err)
	}

	// Warm: no request to either server.
	s3Before, coBefore := srv.Count(""), len(co.Requests())
	if _, err := r.Info(ctx, MustParseSession(sample.SessionID)); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("") - s3Before; n != 0 {
		t.Errorf("warm lookup made %d S3 requests", n)
	}
	if n := len(co.Requests()) - coBefore; n != 0 {
		t.Errorf("warm lookup made %d Code Ocean requests", n)
	}
}
