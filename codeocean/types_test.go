package codeocean

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestTimeDecodesLeniently(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time // zero: unknown or never
	}{
		{`1700000000`, time.Unix(1700000000, 0)},
		{`1700000000.5`, time.Unix(1700000000, 5e8)},
		{`"1700000000"`, time.Unix(1700000000, 0)},
		{`" 1700000000 "`, time.Unix(1700000000, 0)},
		{`1.7e9`, time.Unix(1700000000, 0)},
		{`"2023-12-13T13:43:40Z"`, time.Date(2023, 12, 13, 13, 43, 40, 0, time.UTC)},
		{`0`, time.Time{}},
		{`null`, time.Time{}},
		{`""`, time.Time{}},
		{`"yesterday"`, time.Time{}},
		{`true`, time.Time{}},
		{`{}`, time.Time{}},
	}
	for _, tt := range tests {
		var got Time
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
			t.Errorf("Time from %s: %v", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("Time from %s = %v, want %v", tt.in, got.Time, tt.want)
		}
		if got.IsZero() != tt.want.IsZero() {
			t.Errorf("Time from %s: IsZero = %v", tt.in, got.IsZero())
		}
	}
}

func TestTimeRoundTrips(t *testing.T) {
	for _, in := range []Time{{}, {time.Unix(1700000000, 0).UTC()}} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Time
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if !out.Equal(in.Time) {
			t.Errorf("%v → %s → %v", in.Time, b, out.Time)
		}
	}
}

func TestIntDecodesLeniently(t *testing.T) {
	tests := []struct {
		in   string
		want Int
	}{
		{`12`, 12},
		{`12.0`, 12},
		{`"12"`, 12},
		{`"12.7"`, 12},
		{`-3`, -3},
		{`9007199254740993`, 9007199254740993}, // 2^53+1: exact, not rounded through float64
		{`"9007199254740993"`, 9007199254740993},
		{`null`, 0},
		{`""`, 0},
		{`"12 GB"`, 0},
		{`1e30`, 0},
		{`[1]`, 0},
	}
	for _, tt := range tests {
		var got Int
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
			t.Errorf("Int from %s: %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Int from %s = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestStringKeepsWhatTheServerSent(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"raw data"`, "raw data"},
		{`676909`, "676909"},
		{`1.5`, "1.5"},
		{`true`, "true"},
		{`null`, ""},
		{`"caf\u00e9"`, "café"},
	}
	for _, tt := range tests {
		var got String
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
			t.Errorf("String from %s: %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("String from %s = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIDListAcceptsArrayOrString(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`["a","b"]`, []string{"a", "b"}},
		{`"a"`, []string{"a"}},
		{`"a, b"`, []string{"a", "b"}},
		{`""`, nil},
		{`null`, nil},
	}
	for _, tt := range tests {
		var got IDList
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
			t.Errorf("IDList from %s: %v", tt.in, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("IDList from %s = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A data asset as an older or newer server might send it: numbers as strings
// and floats, nulls everywhere, fields this client has never heard of.
const oddAsset = `{
	"id": "4a1b2c3d-0000-4000-8000-000000000001",
	"created": "1702475020",
	"name": "ecephys_676909_2023-12-13_13-43-40",
	"mount": "ecephys_676909_2023-12-13_13-43-40",
	"state": "ready",
	"type": "dataset",
	"last_used": null,
	"owner": null,
	"description": null,
	"tags": null,
	"files": 3.0,
	"size": "123456789012",
	"custom_metadata": {"subject id": 676909, "data level": "raw data", "weight": 21.5, "note": null},
	"source_bucket": {"origin": "aws", "bucket": "aind-open-data", "prefix": "ecephys_676909_2023-12-13_13-43-40", "external": null},
	"provenance": {"capsule": null, "data_assets": "id-1", "run_script": "code/run"},
	"app_parameters": [{"name": "x", "value": "1"}],
	"nextflow_profile": null,
	"something_new": {"nested": [1, 2, 3]}
}`

func TestDataAssetDecodesOddAnswer(t *testing.T) {
	var a DataAsset
	if err := json.Unmarshal([]byte(oddAsset), &a); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"id", a.ID, "4a1b2c3d-0000-4000-8000-000000000001"},
		{"created", a.Created.Unix(), int64(1702475020)},
		{"last_used is never", a.LastUsed.IsZero(), true},
		{"files", a.Files, Int(3)},
		{"size", a.Size, Int(123456789012)},
		{"tags", len(a.Tags), 0},
		{"subject id", a.Metadata("subject id"), "676909"},
		{"Subject ID", a.Metadata("Subject ID"), "676909"},
		{"data level", a.Metadata("data level"), "raw data"},
		{"weight", a.Metadata("weight"), "21.5"},
		{"note", a.Metadata("note"), ""},
		{"missing key", a.Metadata("nope"), ""},
		{"bucket", a.SourceBucket.Bucket, "aind-open-data"},
		{"external", a.SourceBucket.External, false},
		{"provenance assets", len(a.Provenance.DataAssets), 1},
		{"run script", a.Provenance.RunScript, "code/run"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestMetadataPrefersExactKeyThenSortedOrder(t *testing.T) {
	a := DataAsset{CustomMetadata: map[string]String{"Subject ID": "1", "subject id": "2", "SUBJECT ID": "3"}}
	if got := a.Metadata("subject id"); got != "2" {
		t.Errorf("exact key: got %q, want 2", got)
	}
	// "SUBJECT ID" sorts before "Subject ID" and "subject id".
	for range 20 {
		if got := a.Metadata("Subject id"); got != "3" {
			t.Fatalf("case-insensitive key: got %q, want 3", got)
		}
	}
}

func TestSearchParamsOmitUnsetFields(t *testing.T) {
	b, err := json.Marshal(SearchParams{Query: "name:ecephys", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"query":"name:ecephys","limit":10}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestPageTokenKeepsItsForm(t *testing.T) {
	tests := []struct {
		in, value, back string
	}{
		{`"eyJvIjoxMDB9"`, "eyJvIjoxMDB9", `"eyJvIjoxMDB9"`},
		{`100`, "100", `100`},
		{`12345678901234567890`, "12345678901234567890", `12345678901234567890`},
		{`null`, "", `""`},
	}
	for _, tt := range tests {
		var r SearchResults
		if err := json.Unmarshal([]byte(`{"has_more": true, "results": [], "next_token": `+tt.in+`}`), &r); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if r.NextToken.Value != tt.value {
			t.Errorf("%s: token %q, want %q", tt.in, r.NextToken.Value, tt.value)
		}
		b, _ := json.Marshal(SearchParams{NextToken: r.NextToken})
		want := `{"next_token":` + tt.back + `}`
		if tt.value == "" {
			want = `{}`
		}
		if string(b) != want {
			t.Errorf("%s: sent back as %s, want %s", tt.in, b, want)
		}
	}
	var r SearchResults
	if err := json.Unmarshal([]byte(`{"next_token": {"x": 1}}`), &r); err == nil {
		t.Error("an object taken for a next_token")
	}
}
