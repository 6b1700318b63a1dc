package docdb

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// File is a set of records read from a JSON file (an array of records, as
// the find endpoint answers), answering what Client answers without a
// network: for offline use and demos.
type File struct {
	path string
	recs []Record // oldest first, as ByCreated orders them
}

// OpenFile reads the records of path.
func OpenFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("docdb records: %w", err)
	}
	var recs []Record
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("docdb records %s: not an array of records: %w", path, err)
	}
	slices.SortStableFunc(recs, func(a, b Record) int { return a.Created.Compare(b.Created) })
	return &File{path: path, recs: recs}, nil
}

// Path is the file the records came from.
func (f *File) Path() string { return f.path }

// SessionRecord is Client.SessionRecord over the file's records.
func (f *File) SessionRecord(_ context.Context, name string) (Record, bool, error) {
	var named []Record
	for _, r := range f.recs {
		if r.Name == name {
			named = append(named, r)
		}
	}
	rec, ok := Newest(named)
	return rec, ok, nil
}

// SubjectRecords is Client.SubjectRecords over the file's records, except
// that records come whole: fields only make answers smaller.
func (f *File) SubjectRecords(_ context.Context, subjectID string, _ ...string) ([]Record, error) {
	if strings.TrimSpace(subjectID) == "" {
		return nil, fmt.Errorf("docdb: empty subject ID")
	}
	var out []Record
	for _, r := range f.recs {
		if r.SubjectID == subjectID {
			out = append(out, r)
		}
	}
	return out, nil
}
