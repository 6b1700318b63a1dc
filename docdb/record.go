package docdb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CodeOceanLinks is the external_links key of Code Ocean asset IDs.
const CodeOceanLinks = "Code Ocean"

// Record is one DocDB record: the fields aindfs reads, and the record itself
// as the server sent it. A projected record holds only what was asked.
type Record struct {
	ID        string // _id
	Name      string // the asset's name, such as a session ID
	Created   time.Time
	Modified  time.Time // last_modified
	Location  string    // where the asset's files are, such as s3://bucket/name
	SubjectID string    // subject.subject_id
	// Links are the external_links, by system ("Code Ocean"), in one form
	// whichever of the two shapes the record was written in.
	Links map[string][]string
	// Raw is the record exactly as served.
	Raw json.RawMessage
}

// CodeOcean returns the Code Ocean asset IDs the record links.
func (r Record) CodeOcean() []string { return r.Links[CodeOceanLinks] }

// UnmarshalJSON reads a record leniently: one odd field (a created time
// that is not a time, links of an unknown shape) leaves that field empty
// rather than making the whole answer unreadable. Only a record that is not
// a JSON object is an error.
func (r *Record) UnmarshalJSON(b []byte) error {
	var f struct {
		ID       json.RawMessage `json:"_id"`
		Name     json.RawMessage `json:"name"`
		Created  json.RawMessage `json:"created"`
		Modified json.RawMessage `json:"last_modified"`
		Location json.RawMessage `json:"location"`
		Subject  struct {
			SubjectID json.RawMessage `json:"subject_id"`
		} `json:"subject"`
		Links json.RawMessage `json:"external_links"`
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("a record is a JSON object, not %q", start(b))
	}
	if err := json.Unmarshal(b, &f); err != nil {
		// A field of an unexpected type (subject as a string): read what can be.
		var loose map[string]json.RawMessage
		if err2 := json.Unmarshal(b, &loose); err2 != nil {
			return err
		}
		f.ID, f.Name, f.Created, f.Modified = loose["_id"], loose["name"], loose["created"], loose["last_modified"]
		f.Location, f.Links = loose["location"], loose["external_links"]
	}
	*r = Record{
		ID:        text(f.ID),
		Name:      text(f.Name),
		Created:   ParseTime(text(f.Created)),
		Modified:  ParseTime(text(f.Modified)),
		Location:  text(f.Location),
		SubjectID: text(f.Subject.SubjectID),
		Links:     links(f.Links),
		Raw:       append(json.RawMessage(nil), b...),
	}
	return nil
}

// MarshalJSON writes the record as it was served.
func (r Record) MarshalJSON() ([]byte, error) {
	if len(r.Raw) == 0 {
		return []byte("{}"), nil
	}
	return r.Raw, nil
}

// text is a JSON string, or the digits of a number (subject IDs are
// sometimes numbers); anything else is "".
func text(b json.RawMessage) string {
	var s string
	if json.Unmarshal(b, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(b, &n) == nil {
		return n.String()
	}
	return ""
}

// links reads external_links in either shape: {"Code Ocean": ["id", …]}
// (current) or [{"Code Ocean": "id"}, …] (older records). A single string
// where a list is expected counts as a list of one.
func links(b json.RawMessage) map[string][]string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	out := map[string][]string{}
	add := func(m map[string]json.RawMessage) {
		for k, v := range m {
			for _, id := range ids(v) {
				if !slices.Contains(out[k], id) {
					out[k] = append(out[k], id)
				}
			}
		}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) == nil {
		add(obj)
	} else {
		var list []map[string]json.RawMessage
		if json.Unmarshal(b, &list) == nil {
			for _, m := range list {
				add(m)
			}
		} else {
			var mixed []json.RawMessage
			_ = json.Unmarshal(b, &mixed)
			for _, e := range mixed {
				if json.Unmarshal(e, &obj) == nil {
					add(obj)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func ids(b json.RawMessage) []string {
	if s := text(b); s != "" {
		return []string{s}
	}
	var list []json.RawMessage
	if json.Unmarshal(b, &list) != nil {
		return nil
	}
	var out []string
	for _, e := range list {
		if s := text(e); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// timeLayouts are the forms created times take: ISO 8601 with or without a
// zone (without one, UTC), with a T or a space.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// ParseTime reads an ISO 8601 time as records hold it; one it cannot read
// is the zero time (older than any other).
func ParseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// Newest returns the record created last, comparing created as times (the
// server sorts the strings, which disagree when zones or precision differ).
// Equal created times go to the one modified last, then to the one the
// server listed last, as the reference library takes the last of its sorted
// list. ok is false for no records.
func Newest(recs []Record) (Record, bool) {
	if len(recs) == 0 {
		return Record{}, false
	}
	best := 0
	for i := 1; i < len(recs); i++ {
		a, b := recs[i], recs[best]
		if c := a.Created.Compare(b.Created); c > 0 || c == 0 && !a.Modified.Before(b.Modified) {
			best = i
		}
	}
	return recs[best], true
}
