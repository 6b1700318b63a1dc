// Package sample serves the bundled sample of testdata/ to tests and
// benchmarks: its capsule data folder, its S3 layout (testdata/s3.json) loaded
// into an in-process S3 server, its catalog in a fake Code Ocean and its
// records in a fake DocDB.
package sample

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aind/aindfs/codeocean/fake"
	dbfake "github.com/aind/aindfs/docdb/fake"
	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

// Names in the sample.
const (
	SessionID    = "ecephys_676909_2023-12-13_13-43-40"
	SortedName   = SessionID + "_sorted_2024-03-01_16-02-45"
	FailedName   = SessionID + "_sorted-ks4_2024-04-02_09-15-00"
	SecondID     = "behavior_702131_2024-02-05_10-11-12"
	OldRawName   = "ecephys_686740_2023_10_26_12_29_08"
	OldSessionID = "ecephys_686740_2023-10-26_12-29-08"
	BucketOnlyID = "ecephys_700000_2024-01-10_09-00-00"
)

// Catalog IDs of the sample's assets (testdata/codeocean/catalog.json).
const (
	SessionAssetID = "1142f772-6bf8-5639-8182-bf5e77b9abb5" // SessionID's raw data
	SortedAssetID  = "a5ee3722-fb3b-560f-844e-da1c7631744f" // SortedName
	FailedAssetID  = "cc7809c0-fe51-5e52-8438-33feeaac8ec9" // FailedName
	SecondAssetID  = "f48d7245-75f2-5cc4-a471-4d2d68c2aa02" // SecondID's raw data
)

// Dir is the absolute path of testdata/.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

// DataDir is the sample's capsule data folder, testdata/data.
func DataDir() string { return filepath.Join(Dir(), "data") }

// Placement is one entry of testdata/s3.json: a folder (or one file) of the
// sample and the S3 location it is served at.
type Placement struct {
	URI  string `json:"uri"`
	Dir  string `json:"dir,omitempty"`
	File string `json:"file,omitempty"`
}

// Layout reads testdata/s3.json.
func Layout() ([]Placement, error) {
	b, err := os.ReadFile(filepath.Join(Dir(), "s3.json"))
	if err != nil {
		return nil, err
	}
	var out []Placement
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("testdata/s3.json: %w", err)
	}
	return out, nil
}

// S3Objects returns the objects of the sample's S3 layout, by
// "bucket/key".
func S3Objects() (map[string][]byte, error) {
	layout, err := Layout()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, p := range layout {
		u, err := store.ParseURI(p.URI)
		if err != nil {
			return nil, err
		}
		if p.File != "" {
			data, err := os.ReadFile(filepath.Join(Dir(), p.File))
			if err != nil {
				return nil, err
			}
			out[u.Bucket+"/"+u.Key] = data
			continue
		}
		root := filepath.Join(Dir(), p.Dir)
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			out[u.Bucket+"/"+u.Key+"/"+filepath.ToSlash(rel)] = data
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LoadS3 puts the sample's S3 layout into srv and returns the number of
// objects stored.
func LoadS3(srv *s3test.Server) (int, error) {
	objects, err := S3Objects()
	if err != nil {
		return 0, err
	}
	for k, data := range objects {
		bucket, key, _ := strings.Cut(k, "/")
		srv.PutObject(bucket, key, data)
	}
	return len(objects), nil
}

// CodeOcean returns a fake Code Ocean holding the sample's catalog
// (testdata/codeocean/catalog.json) that accepts token.
func CodeOcean(token string) (*fake.Server, error) {
	co := fake.New(nil, fake.Options{Token: token})
	if err := co.LoadCatalog(filepath.Join(Dir(), "codeocean", "catalog.json")); err != nil {
		return nil, err
	}
	return co, nil
}

// DocDBRecords is the sample's DocDB records file, testdata/docdb/records.json.
func DocDBRecords() string { return filepath.Join(Dir(), "docdb", "records.json") }

// DocDB returns a fake DocDB holding the sample's records.
func DocDB(opts dbfake.Options) (*dbfake.Server, error) {
	data, err := os.ReadFile(DocDBRecords())
	if err != nil {
		return nil, err
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("%s: %w", DocDBRecords(), err)
	}
	srv := dbfake.New(opts)
	for _, r := range recs {
		srv.Add(r)
	}
	return srv, nil
}

// RequireFUSE stops a test that cannot mount: a failure under CI (CI=true),
// which must run the FUSE tests, a skip elsewhere when /dev/fuse is missing
// (or, when not root, fusermount3).
func RequireFUSE(t testing.TB) {
	t.Helper()
	var why string
	if _, err := os.Stat("/dev/fuse"); err != nil {
		why = err.Error()
	} else if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			why = "not root and no fusermount3 (package fuse3)"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot mount, and CI=true requires the FUSE tests to run: %s", why)
	}
	t.Skipf("cannot mount: %s", why)
}
