package docdb_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aind/aindfs/docdb"
)

func TestFileAnswersLikeTheClient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records.json")
	err := os.WriteFile(path, []byte(`[
		{"_id":"b","name":"ecephys_676909_2023-12-13_13-43-40","created":"2024-02-01T00:00:00Z","subject":{"subject_id":"676909"},
		 "external_links":[{"Code Ocean":"co-2"}]},
		{"_id":"a","name":"ecephys_676909_2023-12-13_13-43-40","created":"2024-01-01T00:00:00Z","subject":{"subject_id":"676909"},
		 "external_links":{"Code Ocean":["co-1"]}},
		{"_id":"c","name":"behavior_702131_2024-02-05_10-11-12","created":"2024-02-05T00:00:00Z","subject":{"subject_id":"702131"}}
	]`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f, err := docdb.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, ok, err := f.SessionRecord(ctx, "ecephys_676909_2023-12-13_13-43-40")
	if err != nil || !ok || r.ID != "b" || !slices.Equal(r.CodeOcean(), []string{"co-2"}) {
		t.Errorf("session record %+v %v %v", r, ok, err)
	}
	if _, ok, _ := f.SessionRecord(ctx, "ecephys_676909_2023-12-13_13-43-41"); ok {
		t.Error("a record for a name the file does not hold")
	}
	recs, err := f.SubjectRecords(ctx, "676909", "name")
	if err != nil || len(recs) != 2 || recs[0].ID != "a" || recs[1].ID != "b" {
		t.Errorf("subject records %v %v, want a then b (oldest first)", recs, err)
	}

	if err := os.WriteFile(path, []byte(`{"name":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := docdb.OpenFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a file that is not an array: err %v, want one naming the file", err)
	}
}

func TestSampleRecordsFile(t *testing.T) {
	f, err := docdb.OpenFile("../testdata/docdb/records.json")
	if err != nil {
		t.Fatal(err)
	}
	r, ok, _ := f.SessionRecord(context.Background(), "ecephys_676909_2023-12-13_13-43-40")
	if !ok || len(r.CodeOcean()) != 2 || r.Location == "" || r.Created.IsZero() {
		t.Errorf("sample record %+v", r)
	}
	r, ok, _ = f.SessionRecord(context.Background(), "behavior_702131_2024-02-05_10-11-12")
	if !ok || len(r.CodeOcean()) != 1 {
		t.Errorf("sample record in the older link shape %+v", r)
	}
}
