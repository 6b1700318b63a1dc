package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aind/aindfs/docdb"
	"github.com/aind/aindfs/internal/sample"
)

// Tests never ask the public DocDB: those that want records set
// AINDFS_DOCDB_URL themselves. Set only when unset, so that a process a test
// starts keeps the test's value.
func init() {
	if _, ok := os.LookupEnv(docdb.URLVar); !ok {
		os.Setenv(docdb.URLVar, "off")
	}
}

func TestDocDBRecordsFileOffline(t *testing.T) {
	t.Setenv(docdb.URLVar, "file://"+sample.DocDBRecords())
	data := sampleData(t)
	code, out, errOut := runCLI(t, "ls", "--offline", "--data", data, "sessions/"+sampleID+"/metadata")
	if code != 0 || !strings.Contains(out, "docdb.json\n") || !strings.Contains(out, "subject.json\n") {
		t.Fatalf("ls metadata: exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "cat", "--offline", "--data", data, "sessions/"+sampleID+"/metadata/docdb.json")
	if code != 0 {
		t.Fatalf("cat docdb.json: exit %d: %s", code, errOut)
	}
	f, err := docdb.OpenFile(sample.DocDBRecords())
	if err != nil {
		t.Fatal(err)
	}
	rec, ok, _ := f.SessionRecord(t.Context(), sampleID)
	if !ok {
		t.Fatal("the sample has no record of its session")
	}
	var want bytes.Buffer
	if err := json.Indent(&want, rec.Raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	want.WriteByte('\n')
	if out != want.String() {
		t.Errorf("docdb.json:\n%s\nwant:\n%s", out, want.String())
	}

	// Off: no record, no docdb.json.
	t.Setenv(docdb.URLVar, "off")
	code, out, _ = runCLI(t, "ls", "--offline", "--data", data, "sessions/"+sampleID+"/metadata")
	if code != 0 || strings.Contains(out, "docdb.json") {
		t.Errorf("ls metadata with DocDB off: exit %d:\n%s", code, out)
	}
}

func TestDocDBURLIsChecked(t *testing.T) {
	tests := []struct{ url, errHas string }{
		{"http://api.example.org", "plain http is only for a server on this machine"},
		{"file://" + filepath.Join(t.TempDir(), "missing.json"), "missing.json"},
	}
	for _, tt := range tests {
		t.Setenv(docdb.URLVar, tt.url)
		code, _, errOut := runCLI(t, "session", sampleID, "--data", sampleData(t))
		if code == 0 || !strings.Contains(errOut, docdb.URLVar) || !strings.Contains(errOut, tt.errHas) {
			t.Errorf("%s: exit %d, stderr %s", tt.url, code, errOut)
		}
	}
}
