// Package codeocean is a client for the Code Ocean REST API (the parts aindfs
// needs: finding data assets, and attaching them to capsules and to running
// computations). Each request asks for the lowest server version it needs;
// reads are retried, writes never; errors name the server and the request
// and never show the token in any form.
//
// It knows nothing of sessions: it finds, describes and attaches data assets.
package codeocean

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DataAsset is a Code Ocean data asset. Unknown fields are ignored; numbers
// may arrive as ints, floats or strings; null is the same as absent.
type DataAsset struct {
	ID                  string            `json:"id"`
	Created             Time              `json:"created"`
	Name                string            `json:"name"`
	Mount               string            `json:"mount"`
	State               string            `json:"state"` // draft, ready, failed
	Type                string            `json:"type"`  // dataset, result, combined, model
	LastUsed            Time              `json:"last_used"`
	Owner               string            `json:"owner"`
	OwnerEmail          string            `json:"owner_email,omitempty"`
	Description         string            `json:"description,omitempty"`
	Tags                []string          `json:"tags,omitempty"`
	Files               Int               `json:"files,omitempty"`
	Size                Int               `json:"size,omitempty"`
	CustomMetadata      map[string]String `json:"custom_metadata,omitempty"`
	SourceBucket        *SourceBucket     `json:"source_bucket,omitempty"`
	Provenance          *Provenance       `json:"provenance,omitempty"`
	FailureReason       string            `json:"failure_reason,omitempty"`
	ContainedDataAssets json.RawMessage   `json:"contained_data_assets,omitempty"`
}

// SourceBucket says where an asset's files live outside Code Ocean.
type SourceBucket struct {
	Origin   string `json:"origin"` // aws, local, gcp
	Bucket   string `json:"bucket"`
	Prefix   string `json:"prefix"`
	External bool   `json:"external"`
}

// Provenance says how a result asset was made.
type Provenance struct {
	Capsule     string `json:"capsule,omitempty"`
	Computation string `json:"computation,omitempty"`
	DataAssets  IDList `json:"data_assets,omitempty"`
	Commit      string `json:"commit,omitempty"`
	RunScript   string `json:"run_script,omitempty"`
	DockerImage string `json:"docker_image,omitempty"`
}

// IDList is a list of IDs sent as a JSON array or, by some servers, as one
// string (comma-separated when it holds several).
type IDList []string

// UnmarshalJSON accepts ["a","b"], "a", "a,b" and null.
func (l *IDList) UnmarshalJSON(b []byte) error {
	*l = nil
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		for _, id := range strings.Split(s, ",") {
			if id = strings.TrimSpace(id); id != "" {
				*l = append(*l, id)
			}
		}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

// Time is an instant sent as epoch seconds (int, float or numeric string).
// Zero epoch (the server's "never", e.g. last_used of an unused asset) is the
// zero Time, so IsZero means "unknown or never".
type Time struct{ time.Time }

// UnmarshalJSON accepts 1700000000, 1700000000.5, "1700000000", an RFC 3339
// string and null. Anything else decodes as the zero Time rather than failing:
// one odd field must not make a whole page of search results unreadable.
func (t *Time) UnmarshalJSON(b []byte) error {
	*t = Time{}
	f, ok := lenientNumber(b)
	if !ok {
		var s string
		if json.Unmarshal(b, &s) == nil {
			if v, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err == nil {
				*t = Time{v.UTC()}
			}
		}
		return nil
	}
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	sec, frac := math.Modf(f)
	*t = Time{time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()}
	return nil
}

// MarshalJSON writes epoch seconds (0 for the zero Time).
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("0"), nil
	}
	return []byte(strconv.FormatInt(t.Unix(), 10)), nil
}

// Int is an integer sent as a number or a numeric string.
type Int int64

// UnmarshalJSON accepts 12, 12.0, "12" and null. A value that is not a
// number decodes as 0 rather than failing, for the same reason as Time.
func (n *Int) UnmarshalJSON(b []byte) error {
	*n = 0
	s := unquoteNumber(b)
	// Parse integers exactly first: sizes beyond 2^53 would lose bytes as floats.
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = Int(i)
		return nil
	}
	if f, ok := lenientNumber(b); ok && !math.IsNaN(f) && math.Abs(f) < math.MaxInt64 {
		*n = Int(f)
	}
	return nil
}

// String is a custom-metadata value sent as a string or a number.
type String string

// UnmarshalJSON accepts "x", 12, 1.5, true and null. Numbers keep the
// digits the server sent ("676909", not "676909.0" or "6.76909e+05").
func (s *String) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = String(v)
		return nil
	}
	if string(b) == "null" {
		*s = ""
		return nil
	}
	*s = String(b)
	return nil
}

// unquoteNumber returns the text of a JSON number or of a string holding one.
func unquoteNumber(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	return string(b)
}

// lenientNumber reads a JSON number or numeric string; ok is false for null,
// empty strings and anything that is not a number.
func lenientNumber(b []byte) (float64, bool) {
	s := unquoteNumber(b)
	if s == "" || s == "null" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// Metadata returns the custom-metadata value of key, case-insensitively.
// An exact match wins; otherwise the first matching key in sorted order, so
// the answer does not depend on map iteration.
func (a DataAsset) Metadata(key string) string {
	if v, ok := a.CustomMetadata[key]; ok {
		return string(v)
	}
	keys := make([]string, 0, len(a.CustomMetadata))
	for k := range a.CustomMetadata {
		if strings.EqualFold(k, key) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	return string(a.CustomMetadata[keys[0]])
}

// SearchParams are the fields of POST data_assets/search. Zero values are
// omitted; the server treats absent and null alike.
type SearchParams struct {
	Query     string    `json:"query,omitempty"`
	Offset    int       `json:"offset,omitempty"`
	Limit     int       `json:"limit,omitempty"`
	NextToken PageToken `json:"next_token,omitzero"`
	SortField string    `json:"sort_field,omitempty"` // created, type, name, size
	SortOrder string    `json:"sort_order,omitempty"` // asc, desc
	Type      string    `json:"type,omitempty"`
	Ownership string    `json:"ownership,omitempty"`
	Origin    string    `json:"origin,omitempty"`
	Favorite  *bool     `json:"favorite,omitempty"`
	Archived  *bool     `json:"archived,omitempty"`
	Filters   []Filter  `json:"filters,omitempty"`

	// Fallback is the same question for servers too old for this one's
	// fields (filters need 3.1): SearchDataAssets asks it instead when the
	// server refuses. It is never sent.
	Fallback *SearchParams `json:"-"`
}

// MetadataSearch asks for the assets whose custom metadata key has value: an
// exact filter where the server has filters, else the query form key:value,
// which older servers take as a field term.
func MetadataSearch(key, value string) SearchParams {
	return SearchParams{
		Filters:  []Filter{{Key: key, Value: value}},
		Fallback: &SearchParams{Query: key + ":" + value},
	}
}

// Filter narrows a search by a field's value, values or range.
type Filter struct {
	Key     string `json:"key"`
	Value   any    `json:"value,omitempty"`
	Values  []any  `json:"values,omitempty"`
	Range   *Range `json:"range,omitempty"`
	Exclude bool   `json:"exclude,omitempty"`
}

// Range bounds a numeric filter.
type Range struct {
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
}

// SearchResults is one page of a search.
type SearchResults struct {
	HasMore   bool        `json:"has_more"`
	Results   []DataAsset `json:"results"`
	NextToken PageToken   `json:"next_token,omitzero"`
}

// PageToken is a search's next_token as the server sent it: a string in the
// official SDK's model, a number in one version of the published docs. It
// goes back to the server in the form it came in.
type PageToken struct {
	Value  string // the token's text (a number's digits as sent)
	Number bool   // it came as a JSON number
}

// IsZero reports that there is no token.
func (t PageToken) IsZero() bool { return t.Value == "" }

func (t PageToken) String() string { return t.Value }

// MarshalJSON writes the token as it came: a string or a number.
func (t PageToken) MarshalJSON() ([]byte, error) {
	if t.Number {
		return []byte(t.Value), nil
	}
	return json.Marshal(t.Value)
}

// UnmarshalJSON accepts a string, a number and null.
func (t *PageToken) UnmarshalJSON(b []byte) error {
	*t = PageToken{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &t.Value)
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("next_token %s: neither a string nor a number", b)
	}
	*t = PageToken{Value: n.String(), Number: true}
	return nil
}

// Computation is a run of a capsule; a cloud workstation is one that runs
// while someone works in it. Unknown fields are ignored.
type Computation struct {
	ID               string          `json:"id"`
	Created          Time            `json:"created"`
	Name             string          `json:"name"`
	RunTime          Int             `json:"run_time"`
	State            string          `json:"state"` // initializing, running, finalizing, completed, failed
	CloudWorkstation bool            `json:"cloud_workstation"`
	EndStatus        string          `json:"end_status,omitempty"` // succeeded, failed, stopped
	HasResults       bool            `json:"has_results"`
	DataAssets       []AttachedAsset `json:"data_assets"`
}

// AttachedAsset is a data asset attached to a computation, at /data/<Mount>.
type AttachedAsset struct {
	ID    string `json:"id"`
	Mount string `json:"mount"`
}

// Attachment asks for one data asset to be attached to a capsule or a
// running computation.
type Attachment struct {
	ID    string `json:"id"`
	Mount string `json:"mount,omitempty"`
}

// AttachResult is the server's answer for one attached asset.
type AttachResult struct {
	ID         string `json:"id"`
	Mount      string `json:"mount"`
	MountState string `json:"mount_state"`
	JobID      string `json:"job_id"`
	External   bool   `json:"external"`
	Ready      bool   `json:"ready"`
}
