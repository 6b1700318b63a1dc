package fake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/codeocean/fake"
)

const token = "cop_faketest"

func at(s string) codeocean.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return codeocean.Time{Time: t}
}

// sample is a small catalog shaped like the real one.
func sample() []codeocean.DataAsset {
	md := func(kv ...string) map[string]codeocean.String {
		m := map[string]codeocean.String{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = codeocean.String(kv[i+1])
		}
		return m
	}
	return []codeocean.DataAsset{
		{
			ID: "a-raw", Name: "ecephys_676909_2023-12-13_13-43-40", Type: "dataset", State: "ready",
			Created: at("2023-12-14T00:00:00Z"), Tags: []string{"ecephys", "raw"},
			Description:    "Neuropixels recording",
			CustomMetadata: md("subject id", "676909", "data level", "raw data", "experiment type", "ecephys"),
			SourceBucket:   &codeocean.SourceBucket{Origin: "aws", Bucket: "aind-open-data", Prefix: "ecephys_676909_2023-12-13_13-43-40", External: true},
		},
		{
			ID: "b-sorted", Name: "ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45", Type: "result", State: "ready",
			Created: at("2024-03-01T16:02:45Z"), Tags: []string{"ecephys", "sorted", "derived"},
			CustomMetadata: md("subject id", "676909", "data level", "derived data"),
			Provenance:     &codeocean.Provenance{RunScript: "code/run_capsule.py", Commit: "abc123def"},
			Size:           500,
		},
		{
			ID: "c-behavior", Name: "behavior_712345_2024-01-02_09-00-00", Type: "dataset", State: "ready",
			Created: at("2024-01-02T10:00:00Z"), Tags: []string{"behavior", "raw"},
			Description:    "dynamic foraging task",
			CustomMetadata: md("Subject ID", "712345", "data level", "raw data"),
			Size:           20,
		},
		{
			ID: "d-ophys", Name: "multiplane-ophys_721291_2024-05-08_08-05-54", Type: "dataset", State: "ready",
			Created: at("2024-05-08T09:00:00Z"), Tags: []string{"ophys"},
			Description:    "raw two-photon imaging data",
			CustomMetadata: md("subject id", "721291"),
			Size:           7000,
		},
		{
			ID: "e-other", Name: "ecephys_6769090_2023-12-14_10-00-00", Type: "dataset", State: "draft",
			Created: at("2023-12-15T00:00:00Z"), Tags: []string{"ecephys"},
			CustomMetadata: md("subject id", "6769090"),
		},
	}
}

func newClient(t *testing.T, opts fake.Options) (*fake.Server, *codeocean.Client) {
	t.Helper()
	opts.Token = token
	srv := fake.New(sample(), opts)
	c, err := codeocean.New(codeocean.Config{Domain: srv.Start(t), Token: token, Retry: codeocean.Retry{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func idsOf(as []codeocean.DataAsset) string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return strings.Join(ids, " ")
}

func TestQuerySyntax(t *testing.T) {
	tests := []struct {
		query string
		want  string // sorted IDs
	}{
		{"", "a-raw b-sorted c-behavior d-ophys e-other"},
		// name: prefix of the name or of a word of it, any case
		{"name:ecephys_676909", "a-raw b-sorted e-other"},
		{"name:ECEPHYS_676909_2023-12-13", "a-raw b-sorted"},
		{"name:beh", "c-behavior"},
		{"name:sorted", "b-sorted"},
		{"name:721291", "d-ophys"},
		{`name:"676909_2023"`, "a-raw b-sorted"},
		{`name:"ecephys_67690"`, ""}, // quoted: whole words only
		// tag: whole tags or words of them, no wildcards
		{"tag:raw", "a-raw c-behavior"},
		{"tag:RAW", "a-raw c-behavior"},
		{"tag:ra", ""},
		// the same field repeated is OR, different fields AND
		{"tag:raw tag:sorted", "a-raw b-sorted c-behavior"},
		{"tag:ecephys tag:raw", "a-raw b-sorted c-behavior e-other"},
		{"tag:raw subject id:676909", "a-raw"},
		{"name:ecephys tag:sorted", "b-sorted"},
		// custom metadata keys with spaces, any case, quoted or not
		{"subject id:676909", "a-raw b-sorted"},
		{"Subject ID:712345", "c-behavior"},
		{`"subject id":676909`, "a-raw b-sorted"},
		{"subject id:676909 subject id:712345", "a-raw b-sorted c-behavior"},
		{"subject id: 721291", "d-ophys"},
		{`data level:"raw data"`, "a-raw c-behavior"},
		{"data level:derived", "b-sorted"},
		{"experiment type:ecephys", "a-raw"},
		{"subject id:67690", ""}, // metadata values match whole words
		// free text: name, tags, description, metadata values; every word must match
		{"676909", "a-raw b-sorted"},
		{"foraging", "c-behavior"},
		{"NEUROPIXELS", "a-raw"},
		{`"raw data"`, "a-raw c-behavior"},
		{"raw data", "a-raw c-behavior d-ophys"},
		{"raw 676909", "a-raw"},
		{"676909 tag:sorted", "b-sorted"},
		// provenance fields
		{"run_script:code/run_capsule.py", "b-sorted"},
		{"commit_id:abc123def", "b-sorted"},
		// unknown fields match nothing
		{"nosuchfield:1", ""},
	}
	_, c := newClient(t, fake.Options{})
	for _, tt := range tests {
		got, err := c.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: tt.query})
		if err != nil {
			t.Errorf("query %q: %v", tt.query, err)
			continue
		}
		if idsOf(got) != tt.want {
			t.Errorf("query %q found [%s], want [%s]", tt.query, idsOf(got), tt.want)
		}
	}
}

func TestLongNameQueriesCanBeMadeUnreliable(t *testing.T) {
	_, c := newClient(t, fake.Options{NameQueryMaxLen: 20})
	for q, want := range map[string]string{
		"name:ecephys_676909_2023-12-13_13-43-40": "",
		"name:ecephys_676909_2023-1":              "",
		"name:ecephys_676909_2023":                "a-raw b-sorted",
	} {
		got, err := c.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: q})
		if err != nil {
			t.Fatal(err)
		}
		if idsOf(got) != want {
			t.Errorf("query %q found [%s], want [%s]", q, idsOf(got), want)
		}
	}
}

func TestTypeOriginFiltersAndSort(t *testing.T) {
	_, c := newClient(t, fake.Options{})
	yes := true
	tests := []struct {
		name string
		p    codeocean.SearchParams
		want string // IDs in answer order
	}{
		{"newest first by default", codeocean.SearchParams{}, "d-ophys b-sorted c-behavior e-other a-raw"},
		{"created ascending", codeocean.SearchParams{SortField: "created", SortOrder: "asc"}, "a-raw e-other c-behavior b-sorted d-ophys"},
		{"name", codeocean.SearchParams{SortField: "name", SortOrder: "asc"}, "c-behavior e-other a-raw b-sorted d-ophys"},
		{"size descending", codeocean.SearchParams{SortField: "size", SortOrder: "desc", Query: "tag:raw tag:sorted tag:ophys"}, "d-ophys b-sorted c-behavior a-raw"},
		{"type", codeocean.SearchParams{Type: "result"}, "b-sorted"},
		{"external origin", codeocean.SearchParams{Origin: "external"}, "a-raw"},
		{"internal origin", codeocean.SearchParams{Origin: "internal", SortField: "name", SortOrder: "asc"}, "c-behavior e-other b-sorted d-ophys"},
		{"favorite and archived are ignored", codeocean.SearchParams{Query: "tag:sorted", Favorite: &yes, Archived: &yes}, "b-sorted"},
		{"filter value", codeocean.SearchParams{Filters: []codeocean.Filter{{Key: "data level", Value: "raw data"}}, SortField: "name", SortOrder: "asc"}, "c-behavior a-raw"},
		{"filter values, excluded", codeocean.SearchParams{Filters: []codeocean.Filter{{Key: "tags", Values: []any{"ecephys", "ophys"}, Exclude: true}}}, "c-behavior"},
		{"filter range", codeocean.SearchParams{Filters: []codeocean.Filter{{Key: "size", Range: &codeocean.Range{Min: ptr(100.0), Max: ptr(1000.0)}}}}, "b-sorted"},
	}
	for _, tt := range tests {
		r, err := c.SearchPage(context.Background(), tt.p)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got []string
		for _, a := range r.Results {
			got = append(got, a.ID)
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%s: got [%s], want [%s]", tt.name, strings.Join(got, " "), tt.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// post sends a raw request, as a client other than ours would.
func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(token, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %s", resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func TestSearchTreatsNullAsAbsent(t *testing.T) {
	srv := fake.New(sample(), fake.Options{Token: token})
	url := srv.Start(t) + "/api/v1/data_assets/search"
	// What the official SDK sends for a search with only a query set.
	body := `{"query": "tag:raw", "offset": null, "limit": null, "next_token": null, "sort_field": null,
		"sort_order": null, "type": null, "ownership": null, "origin": null, "favorite": null,
		"archived": null, "filters": null, "some_future_field": null}`
	status, m := post(t, url, body)
	if status != 200 {
		t.Fatalf("status %d: %v", status, m)
	}
	if n := len(m["results"].([]any)); n != 2 || m["has_more"] != false {
		t.Errorf("answer %v, want the 2 raw assets and has_more false", m)
	}
	if _, ok := m["next_token"]; ok {
		t.Errorf("next_token sent without more results: %v", m)
	}
	status, m = post(t, url, `{"query": null}`)
	if status != 200 || len(m["results"].([]any)) != 5 {
		t.Errorf("null query: status %d, %v", status, m)
	}
}

func TestSearchRejectsBadParameters(t *testing.T) {
	srv := fake.New(sample(), fake.Options{Token: token})
	url := srv.Start(t) + "/api/v1/data_assets/search"
	tests := []struct{ body, says string }{
		{`{"limit": 1001}`, "limit"},
		{`{"limit": -1}`, "limit"},
		{`{"offset": -5}`, "offset"},
		{`{"sort_field": "owner"}`, "sort_field"},
		{`{"sort_order": "up"}`, "sort_order"},
		{`{"type": "folder"}`, "type"},
		{`{"origin": "moon"}`, "origin"},
		{`{"next_token": "garbage!"}`, "next_token"},
		{`{"query": 12}`, "invalid search parameters"},
		{`{"filters": [{"value": 1}]}`, "filter"},
	}
	for _, tt := range tests {
		status, m := post(t, url, tt.body)
		msg, _ := m["message"].(string)
		if status != 400 || !strings.Contains(msg, tt.says) {
			t.Errorf("%s: status %d message %q, want 400 mentioning %q", tt.body, status, msg, tt.says)
		}
	}
}

func TestNextTokenBelongsToItsSearch(t *testing.T) {
	srv := fake.New(sample(), fake.Options{Token: token})
	url := srv.Start(t) + "/api/v1/data_assets/search"
	_, m := post(t, url, `{"query": "tag:ecephys", "limit": 2}`)
	tok, _ := m["next_token"].(string)
	if tok == "" || m["has_more"] != true {
		t.Fatalf("first page %v, want more with a token", m)
	}
	status, m := post(t, url, fmt.Sprintf(`{"query": "tag:ecephys", "limit": 2, "next_token": %q, "offset": 999}`, tok))
	if status != 200 || len(m["results"].([]any)) != 1 || m["has_more"] != false {
		t.Errorf("second page: %d %v, want the last asset (the token wins over offset)", status, m)
	}
	status, _ = post(t, url, fmt.Sprintf(`{"query": "tag:raw", "limit": 2, "next_token": %q}`, tok))
	if status != 400 {
		t.Errorf("token of another search: status %d, want 400", status)
	}
}

func TestAuth(t *testing.T) {
	srv := fake.New(sample(), fake.Options{Token: token})
	base := srv.Start(t) + "/api/v1/data_assets/a-raw"
	tests := []struct {
		name   string
		set    func(*http.Request)
		status int
	}{
		{"token", func(r *http.Request) { r.SetBasicAuth(token, "") }, 200},
		{"no auth", func(*http.Request) {}, 401},
		{"wrong token", func(r *http.Request) { r.SetBasicAuth("cop_wrong", "") }, 401},
		{"token as password", func(r *http.Request) { r.SetBasicAuth("", token) }, 401},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, 401},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, base, nil)
		tt.set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		if tt.status == 401 && m["message"] == nil {
			t.Errorf("%s: no message in %v", tt.name, m)
		}
	}
}

func TestLoadCatalogForms(t *testing.T) {
	dir := t.TempDir()
	array := filepath.Join(dir, "array.json")
	object := filepath.Join(dir, "object.json")
	os.WriteFile(array, []byte(`[{"id": "x1", "name": "ecephys_676909_2023-12-13_13-43-40", "created": "1702475020", "size": "12", "extra": null}]`), 0o644)
	os.WriteFile(object, []byte(`{
		"data_assets": [{"id": "x2", "name": "behavior_712345_2024-01-02_09-00-00", "created": 1704186000}]
	}`), 0o644)
	srv := fake.New(nil, fake.Options{Token: token})
	for _, f := range []string{array, object} {
		if err := srv.LoadCatalog(f); err != nil {
			t.Fatal(err)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"name": "no id"}]`), 0o644)
	if err := srv.LoadCatalog(bad); err == nil || !strings.Contains(err.Error(), "no id") {
		t.Errorf("catalog without ids: %v", err)
	}

	c, err := codeocean.New(codeocean.Config{Domain: srv.Start(t), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := c.GetDataAsset(ctx, "x1")
	if err != nil || a.Size != 12 || a.Created.Unix() != 1702475020 {
		t.Errorf("x1 = %+v, %v", a, err)
	}
	got, err := c.SearchDataAssets(ctx, codeocean.SearchParams{Query: "name:behavior"})
	if err != nil || idsOf(got) != "x2" {
		t.Errorf("search in loaded catalog: [%s], %v", idsOf(got), err)
	}
}

func TestFaultsAndLog(t *testing.T) {
	srv, c := newClient(t, fake.Options{})
	ctx := context.Background()
	srv.SetFaultHook(func(r fake.Request) *fake.Fault {
		if r.Path == "data_assets/search" && strings.Contains(r.Body, "tag:sorted") {
			return &fake.Fault{Status: 502, Message: "bad gateway today"}
		}
		return nil
	})
	if _, err := c.SearchDataAssets(ctx, codeocean.SearchParams{Query: "tag:sorted"}); err == nil || !strings.Contains(err.Error(), "bad gateway today") {
		t.Errorf("hooked fault: %v", err)
	}
	if _, err := c.SearchDataAssets(ctx, codeocean.SearchParams{Query: "tag:raw"}); err != nil {
		t.Errorf("unhooked search: %v", err)
	}
	srv.SetFaultHook(nil)
	srv.FailNext(1, fake.Fault{Status: 429, RetryAfter: "7"})
	_, err := c.GetDataAsset(ctx, "b-sorted")
	var apiErr *codeocean.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 429 {
		t.Errorf("FailNext: %v", err)
	}
	if _, err := c.GetDataAsset(ctx, "b-sorted"); err != nil {
		t.Errorf("after the fault: %v", err)
	}

	reqs := srv.Requests()
	var statuses []int
	for _, r := range reqs {
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []int{502, 200, 429, 200}) {
		t.Errorf("logged statuses %v", statuses)
	}
	if srv.Count("POST", "data_assets/search") != 2 || srv.Count("GET", "data_assets/b-sorted") != 2 || srv.Count("", "") != 4 {
		t.Errorf("counts: search %d, get %d, all %d", srv.Count("POST", "data_assets/search"), srv.Count("GET", "data_assets/b-sorted"), srv.Count("", ""))
	}
	if got := srv.Searches(); !slices.Equal(got, []string{"tag:sorted", "tag:raw"}) {
		t.Errorf("Searches() = %q", got)
	}
	srv.ResetLog()
	if srv.Count("", "") != 0 {
		t.Error("log not reset")
	}
}

func TestMinServerVersionIsEnforced(t *testing.T) {
	srv := fake.New(sample(), fake.Options{Token: token, ServerVersion: "4.2.1"})
	url := srv.Start(t) + "/api/v1/data_assets/a-raw"
	tests := []struct {
		header string
		status int
	}{
		{"", 200}, {"3.0.0", 200}, {"4.2.1", 200}, {"4.2", 200},
		{"4.3.0", 400}, {"5", 400}, {"4.x", 400}, {"v4.2.0", 400}, {"4.2.0.1", 400}, {"-1.0.0", 400},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.SetBasicAuth(token, "")
		if tt.header != "" {
			req.Header.Set("Min-Server-Version", tt.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("Min-Server-Version %q: status %d, want %d (%v)", tt.header, resp.StatusCode, tt.status, m)
		}
		if tt.status == 400 && !strings.Contains(fmt.Sprint(m["message"]), tt.header) {
			t.Errorf("Min-Server-Version %q: message %v does not name it", tt.header, m["message"])
		}
	}
}
