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

// LoadS3 puts the sample's S3 layout into srv and returns the number of
// objects stored.
func LoadS3(srv *s3test.Server) (int, error) {
	layout, err := Layout()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range layout {
		u, err := store.ParseURI(p.URI)
		if err != nil {
			return n, err
		}
		if p.File != "" {
			data, err := os.ReadFile(filepath.Join(Dir(), p.File))
			if err != nil {
				return n, err
			}
			srv.PutObject(u.Bucket, u.Key, data)
			n++
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
			srv.PutObject(u.Bucket, u.Key+"/"+filepath.ToSlash(rel), data)
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
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
