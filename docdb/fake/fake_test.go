package fake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aind/aindfs/docdb/fake"
)

// records are shaped like DocDB's: both external_links shapes, one without
// links, one without a subject.
var records = []any{
	json.RawMessage(`{"_id":"r1","name":"ecephys_676909_2023-12-13_13-43-40","created":"2023-12-14T00:00:00Z",
		"location":"s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40",
		"subject":{"subject_id":"676909"},"data_description":{"modality":[{"abbreviation":"ecephys"},{"abbreviation":"behavior"}]},
		"external_links":{"Code Ocean":["co-1","co-2"]}}`),
	json.RawMessage(`{"_id":"r2","name":"ecephys_676909_2023-12-12_10-00-00","created":"2023-12-12T11:00:00Z",
		"subject":{"subject_id":"676909"},"external_links":[{"Code Ocean":"co-3"},{"Code Ocean":"co-4"}]}`),
	json.RawMessage(`{"_id":"r3","name":"behavior_702131_2024-02-05_10-11-12","created":"2024-02-05T12:00:00Z",
		"subject":{"subject_id":"702131"},"data_description":{"modality":[{"abbreviation":"behavior"}]}}`),
	json.RawMessage(`{"_id":"r4","name":"Ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45","created":"2024-03-01T16:02:45Z",
		"subject":{"subject_id":676909}}`),
}

// find asks the fake with raw parameters and returns the status and the
// _id (or the whole record, when it has none) of each record answered.
func find(t *testing.T, base string, params map[string]string) (int, []string, string) {
	t.Helper()
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	resp, err := http.Get(base + fake.FindPath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, string(body)
	}
	var recs []map[string]any
	if err := json.Unmarshal(body, &recs); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	var out []string
	for _, r := range recs {
		if id, ok := r["_id"].(string); ok {
			out = append(out, id)
		} else {
			b, _ := json.Marshal(r)
			out = append(out, string(b))
		}
	}
	return resp.StatusCode, out, string(body)
}

func TestQueries(t *testing.T) {
	base := fake.New(fake.Options{}, records...).Start(t)
	tests := []struct {
		title  string
		params map[string]string
		status int
		want   []string
		errHas string
	}{
		{title: "no filter: every record, as stored", params: nil, status: 200, want: []string{"r1", "r2", "r3", "r4"}},
		{title: "exact name", params: map[string]string{"filter": `{"name":"ecephys_676909_2023-12-13_13-43-40"}`}, status: 200, want: []string{"r1"}},
		{title: "dotted path", params: map[string]string{"filter": `{"subject.subject_id":"676909"}`}, status: 200, want: []string{"r1", "r2"}},
		{title: "a number is not a string", params: map[string]string{"filter": `{"subject.subject_id":676909}`}, status: 200, want: []string{"r4"}},
		{title: "link in the current shape", params: map[string]string{"filter": `{"external_links.Code Ocean":"co-2"}`}, status: 200, want: []string{"r1"}},
		{title: "link in the older shape", params: map[string]string{"filter": `{"external_links.Code Ocean":"co-4"}`}, status: 200, want: []string{"r2"}},
		{title: "path through an array of objects", params: map[string]string{"filter": `{"data_description.modality.abbreviation":"behavior"}`}, status: 200, want: []string{"r1", "r3"}},
		{title: "two fields", params: map[string]string{"filter": `{"subject.subject_id":"676909","location":"s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40"}`}, status: 200, want: []string{"r1"}},
		{title: "null matches a missing field", params: map[string]string{"filter": `{"location":null}`}, status: 200, want: []string{"r2", "r3", "r4"}},
		{title: "regex is unanchored", params: map[string]string{"filter": `{"name":{"$regex":"676909_2023-12-13"}}`}, status: 200, want: []string{"r1", "r4"}},
		{title: "regex with options", params: map[string]string{"filter": `{"name":{"$regex":"^ecephys_676909","$options":"i"}}`}, status: 200, want: []string{"r1", "r2", "r4"}},
		{title: "sort by created", params: map[string]string{"sort": `{"created":1}`}, status: 200, want: []string{"r2", "r1", "r3", "r4"}},
		{title: "sort by created, descending", params: map[string]string{"sort": `{"created":-1}`}, status: 200, want: []string{"r4", "r3", "r1", "r2"}},
		{title: "skip and limit", params: map[string]string{"sort": `{"created":1}`, "skip": "1", "limit": "2"}, status: 200, want: []string{"r1", "r3"}},
		{title: "skip past the end", params: map[string]string{"skip": "9"}, status: 200, want: nil},
		{title: "projection of links, both shapes and none", params: map[string]string{
			"filter": `{"subject.subject_id":{"$regex":"^[0-9]+$"}}`, "projection": `{"external_links.Code Ocean":1,"_id":0}`}, status: 200,
			want: []string{`{"external_links":{"Code Ocean":["co-1","co-2"]}}`, `{"external_links":[{"Code Ocean":"co-3"},{"Code Ocean":"co-4"}]}`, `{}`}},
		{title: "projection keeps _id unless told", params: map[string]string{"filter": `{"name":"behavior_702131_2024-02-05_10-11-12"}`, "projection": `{"location":1}`}, status: 200, want: []string{"r3"}},
		{title: "unknown operator", params: map[string]string{"filter": `{"name":{"$in":["a"]}}`}, status: 400, errHas: "unknown operator: $in"},
		{title: "unknown top-level operator", params: map[string]string{"filter": `{"$or":[{"name":"a"}]}`}, status: 400, errHas: "$or"},
		{title: "exclusion projection", params: map[string]string{"projection": `{"subject":0}`}, status: 400, errHas: "inclusion"},
		{title: "bad regex", params: map[string]string{"filter": `{"name":{"$regex":"("}}`}, status: 400, errHas: "$regex"},
		{title: "filter not JSON", params: map[string]string{"filter": `{name:1}`}, status: 400, errHas: "not JSON"},
		{title: "sort order not 1 or -1", params: map[string]string{"sort": `{"created":2}`}, status: 400, errHas: "1 or -1"},
		{title: "limit not decimal", params: map[string]string{"limit": "ten"}, status: 400, errHas: "limit"},
		{title: "negative skip", params: map[string]string{"skip": "-1"}, status: 400, errHas: "skip"},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			status, got, body := find(t, base, tt.params)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if tt.status != 200 {
				if !strings.Contains(body, tt.errHas) {
					t.Errorf("answer %s lacks %q", body, tt.errHas)
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("records\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestProjectionOfPresentAndMissingFields(t *testing.T) {
	base := fake.New(fake.Options{}, records...).Start(t)
	_, _, body := find(t, base, map[string]string{
		"filter": `{"subject.subject_id":"676909"}`, "projection": `{"location":1,"data_description.modality.abbreviation":1}`})
	want := `[{"_id":"r1","data_description":{"modality":[{"abbreviation":"ecephys"},{"abbreviation":"behavior"}]},` +
		`"location":"s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40"},{"_id":"r2"}]`
	if body != want {
		t.Errorf("answer\n got %s\nwant %s", body, want)
	}
}

func TestPageCapCutsPagesShort(t *testing.T) {
	srv := fake.New(fake.Options{PageCap: 3}, records...)
	base := srv.Start(t)
	_, got, _ := find(t, base, map[string]string{"limit": "0"})
	if !slices.Equal(got, []string{"r1", "r2", "r3"}) {
		t.Errorf("first page %v, want three records", got)
	}
	_, got, _ = find(t, base, map[string]string{"skip": "3"})
	if !slices.Equal(got, []string{"r4"}) {
		t.Errorf("second page %v", got)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Records != 3 || reqs[1].Skip != 3 || reqs[1].Records != 1 || reqs[1].Status != 200 {
		t.Errorf("log %+v", reqs)
	}
}

func TestFaults(t *testing.T) {
	srv := fake.New(fake.Options{}, records...)
	base := srv.Start(t)
	srv.FailNext(1, fake.Fault{Status: 429, RetryAfter: "2"})
	resp, err := http.Get(base + fake.FindPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	srv.SetFaultHook(func(r fake.Request) *fake.Fault {
		if strings.Contains(r.Filter, "down") {
			return &fake.Fault{Status: 502}
		}
		return nil
	})
	if status, _, _ := find(t, base, map[string]string{"filter": `{"name":"down"}`}); status != 502 {
		t.Errorf("hooked fault: status %d", status)
	}
	if status, _, _ := find(t, base, map[string]string{"filter": `{"name":"up"}`}); status != 200 {
		t.Errorf("unhooked request: status %d", status)
	}
	if n := srv.Count(); n != 3 {
		t.Errorf("%d requests logged, want 3", n)
	}
	srv.ResetLog()
	if n := srv.Count(); n != 0 {
		t.Errorf("%d requests after ResetLog", n)
	}
}

func TestHangEndsWhenTheClientGivesUp(t *testing.T) {
	srv := fake.New(fake.Options{}, records...)
	base := srv.Start(t)
	srv.FailNext(1, fake.Fault{Hang: true})
	c := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := c.Get(base + fake.FindPath); err == nil {
		t.Fatal("a hung request answered")
	}
	if status, got, _ := find(t, base, nil); status != 200 || len(got) != 4 {
		t.Errorf("after the hang: status %d, %d records", status, len(got))
	}
}

func TestWrongEndpointAndMethod(t *testing.T) {
	base := fake.New(fake.Options{}, records...).Start(t)
	resp, err := http.Get(base + "/v1/metadata_index/data_assets")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	resp, err = http.Post(base+fake.FindPath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}
