package fs

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aind/aindfs/docdb"
	dbfake "github.com/aind/aindfs/docdb/fake"
	"github.com/aind/aindfs/internal/sample"
)

// sampleRecord is the sample's DocDB record of session id, pretty-printed
// as metadata/docdb.json must show it.
func sampleRecord(t *testing.T, id string) []byte {
	t.Helper()
	data, err := os.ReadFile(sample.DocDBRecords())
	if err != nil {
		t.Fatal(err)
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	for _, raw := range recs {
		var r struct{ Name string }
		if json.Unmarshal(raw, &r) == nil && r.Name == id {
			// The fake serves what it stored, re-encoded: compact the
			// file's record the same way before indenting it.
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			compact, _ := json.Marshal(v)
			var b bytes.Buffer
			if err := json.Indent(&b, compact, "", "  "); err != nil {
				t.Fatal(err)
			}
			return append(b.Bytes(), '\n')
		}
	}
	t.Fatalf("no sample record named %s", id)
	return nil
}

// TestMountShowsDocDBRecord mounts the sample over the fake Code Ocean, S3
// and DocDB: metadata/ holds the raw folder's JSON files and docdb.json, the
// session's record; a session without a record has no docdb.json.
func TestMountShowsDocDBRecord(t *testing.T) {
	db, err := sample.DocDB(dbfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	client, err := docdb.New(docdb.Config{URL: db.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	rig := online{records: client}.start(t)
	meta := filepath.Join(rig.m.Dir, "sessions", sample.SessionID, "metadata")

	want := sourceNames(t, filepath.Join(sample.DataDir(), sample.SessionID), func(e os.DirEntry) bool {
		return !e.IsDir() && filepath.Ext(e.Name()) == ".json"
	})
	want = append(want, "docdb.json")
	slices.Sort(want)
	if got := dirNames(t, meta); !slices.Equal(got, want) {
		t.Errorf("ls metadata = %q, want %q", got, want)
	}
	got, err := os.ReadFile(filepath.Join(meta, "docdb.json"))
	if err != nil {
		t.Fatal(err)
	}
	if wantRec := sampleRecord(t, sample.SessionID); !bytes.Equal(got, wantRec) {
		t.Errorf("docdb.json:\n%s\nwant:\n%s", got, wantRec)
	}
	fi, err := os.Stat(filepath.Join(meta, "docdb.json"))
	if err != nil || fi.Mode() != 0o444 || fi.Size() != int64(len(got)) {
		t.Errorf("stat docdb.json: %v %v", fi, err)
	}
	// The other files are the raw folder's, byte for byte.
	for _, name := range want {
		if name == "docdb.json" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(meta, name))
		src, _ := os.ReadFile(filepath.Join(sample.DataDir(), sample.SessionID, name))
		if err != nil || !bytes.Equal(b, src) {
			t.Errorf("metadata/%s: %v, or bytes differ from the source", name, err)
		}
	}
	// The subject's records (a page, then the empty page) decided the raw
	// asset; the whole record is one more query by name.
	if n := db.Count(); n != 4 {
		t.Errorf("%d DocDB requests, want 4", n)
	}

	// No record: no docdb.json, the folder as before.
	old := filepath.Join(rig.m.Dir, "sessions", sample.OldSessionID, "metadata")
	if names := dirNames(t, old); slices.Contains(names, "docdb.json") {
		t.Errorf("ls %s = %q: a docdb.json without a record", old, names)
	}
	if _, err := os.Stat(filepath.Join(old, "docdb.json")); !os.IsNotExist(err) {
		t.Errorf("stat docdb.json of a session without a record: %v, want not exist", err)
	}

	// Read again: nothing asked of DocDB.
	before := db.Count()
	if _, err := os.ReadFile(filepath.Join(meta, "docdb.json")); err != nil {
		t.Fatal(err)
	}
	if n := db.Count() - before; n != 0 {
		t.Errorf("reading docdb.json again made %d DocDB requests", n)
	}
}
