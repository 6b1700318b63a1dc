package docdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aind/aindfs/docdb"
	"github.com/aind/aindfs/docdb/fake"
	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/internal/retry"
)

// fastRetry keeps retry tests quick: real waits, but of milliseconds.
var fastRetry = retry.Policy{
	MaxAttempts:   4,
	BaseDelay:     time.Millisecond,
	MaxDelay:      4 * time.Millisecond,
	MaxRetryAfter: 20 * time.Millisecond,
	MaxElapsed:    10 * time.Second,
}

func rec(id, name, created string, extra ...any) map[string]any {
	r := map[string]any{"_id": id, "name": name, "created": created}
	for i := 0; i+1 < len(extra); i += 2 {
		r[extra[i].(string)] = extra[i+1]
	}
	return r
}

func newClient(t *testing.T, srv *fake.Server, cfg docdb.Config) *docdb.Client {
	t.Helper()
	cfg.URL = srv.Start(t)
	if cfg.Retry == (retry.Policy{}) {
		cfg.Retry = fastRetry
	}
	c, err := docdb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func names(recs []docdb.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Name)
	}
	return out
}

func TestFindPagesPastShortPages(t *testing.T) {
	var all []any
	var want []string
	for i := range 25 {
		name := fmt.Sprintf("ecephys_676909_2023-12-%02d_10-00-00", i+1)
		all = append(all, rec(fmt.Sprint(i), name, fmt.Sprintf("2023-12-%02dT12:00:00Z", i+1), "subject", map[string]any{"subject_id": "676909"}))
		want = append(want, name)
	}
	slices.Reverse(all) // stored newest first: the sort must put them right
	srv := fake.New(fake.Options{PageCap: 7}, all...)
	c := newClient(t, srv, docdb.Config{})

	recs, err := c.SubjectRecords(context.Background(), "676909")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(recs); !slices.Equal(got, want) {
		t.Fatalf("records:\n got %v\nwant %v", got, want)
	}
	var skips []int
	for _, r := range srv.Requests() {
		skips = append(skips, r.Skip)
		if r.Limit != 0 || r.Sort != `{"created":1}` || r.Filter != `{"subject.subject_id":"676909"}` {
			t.Errorf("request %+v: want limit 0, sort by created, the subject filter", r)
		}
	}
	// Pages of 7, 7, 7 and 4 records, then the empty page that ends it.
	if want := []int{0, 7, 14, 21, 25}; !slices.Equal(skips, want) {
		t.Errorf("skips %v, want %v", skips, want)
	}
}

func TestRetriesOverloadAndServerErrors(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := fake.New(fake.Options{}, rec("1", "x", "2024-01-01T00:00:00Z"))
			srv.FailNext(2, fake.Fault{Status: status, RetryAfter: "0"})
			logs := &logtest.Buffer{}
			c := newClient(t, srv, docdb.Config{Logger: logtest.Logger(logs)})
			r, ok, err := c.SessionRecord(context.Background(), "x")
			if err != nil || !ok || r.ID != "1" {
				t.Fatalf("record %+v ok=%v err=%v", r, ok, err)
			}
			// Two failures, the page, the empty page.
			if n := srv.Count(); n != 4 {
				t.Errorf("%d requests, want 4", n)
			}
			if !strings.Contains(logs.String(), "docdb retry") {
				t.Errorf("no retry logged:\n%s", logs)
			}
		})
	}
}

func TestOtherErrorsAreNotRetried(t *testing.T) {
	srv := fake.New(fake.Options{})
	srv.FailNext(1, fake.Fault{Status: 403, Message: "go away"})
	c := newClient(t, srv, docdb.Config{})
	_, _, err := c.SessionRecord(context.Background(), "ecephys_676909_2023-12-13_13-43-40")
	var api *docdb.APIError
	if !errors.As(err, &api) || api.Status != 403 {
		t.Fatalf("err %v, want a 403 APIError", err)
	}
	if !strings.Contains(err.Error(), `"name":"ecephys_676909_2023-12-13_13-43-40"`) || !strings.Contains(err.Error(), "go away") {
		t.Errorf("error %q does not name the query and the server's message", err)
	}
	if n := srv.Count(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	// A Retry-After of an hour, beyond the call's budget: the client must
	// give up after the first answer rather than wait its own short backoff.
	srv := fake.New(fake.Options{}, rec("1", "x", "2024-01-01T00:00:00Z"))
	srv.FailNext(1, fake.Fault{Status: 429, RetryAfter: "3600"})
	p := fastRetry
	p.MaxRetryAfter = 2 * time.Hour
	c := newClient(t, srv, docdb.Config{Retry: p})
	_, _, err := c.SessionRecord(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), "1h0m0s") || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err %v, want a 429 giving up before a wait of 1h", err)
	}
	if n := srv.Count(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestPersistentFailureEndsInClearError(t *testing.T) {
	srv := fake.New(fake.Options{})
	srv.SetFaultHook(func(fake.Request) *fake.Fault { return &fake.Fault{Status: 503} })
	c := newClient(t, srv, docdb.Config{})
	_, err := c.SubjectRecords(context.Background(), "676909")
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "gave up after 4 attempts") ||
		!strings.Contains(err.Error(), `subject.subject_id`) {
		t.Fatalf("err %v", err)
	}
	if n := srv.Count(); n != fastRetry.MaxAttempts {
		t.Errorf("%d requests, want %d", n, fastRetry.MaxAttempts)
	}
}

func TestHangEndsInTimeoutNamingTheQuery(t *testing.T) {
	srv := fake.New(fake.Options{})
	srv.SetFaultHook(func(fake.Request) *fake.Fault { return &fake.Fault{Hang: true} })
	p := fastRetry
	p.MaxAttempts = 2
	c := newClient(t, srv, docdb.Config{Timeout: 50 * time.Millisecond, Retry: p})
	_, _, err := c.AssetRecord(context.Background(), "1e3a2c5d-0000-4000-8000-000000000001")
	if err == nil {
		t.Fatal("no error from a server that never answers")
	}
	for _, want := range []string{`"external_links.Code Ocean":"1e3a2c5d-0000-4000-8000-000000000001"`, "no answer within 50ms", "gave up after 2 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := srv.Count(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestCancelEndsAHangingRequest(t *testing.T) {
	srv := fake.New(fake.Options{})
	srv.FailNext(1, fake.Fault{Hang: true})
	c := newClient(t, srv, docdb.Config{Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for srv.Count() == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, _, err := c.SessionRecord(ctx, "x")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestUnknownOperatorIsABadRequest(t *testing.T) {
	srv := fake.New(fake.Options{}, rec("1", "x", "2024-01-01T00:00:00Z"))
	c := newClient(t, srv, docdb.Config{})
	_, err := c.Find(context.Background(), docdb.Query{Filter: map[string]any{"name": map[string]any{"$in": []string{"x"}}}})
	var api *docdb.APIError
	if !errors.As(err, &api) || api.Status != http.StatusBadRequest {
		t.Fatalf("err %v, want a 400 APIError", err)
	}
	if !strings.Contains(err.Error(), "$in") || !strings.Contains(err.Error(), `filter {"name":{"$in":["x"]}}`) {
		t.Errorf("error %q does not name the operator and the query", err)
	}
	if n := srv.Count(); n != 1 {
		t.Errorf("%d requests, want 1: a bad query is not retried", n)
	}
}

func TestSubjectAssetIDsFromBothLinkShapes(t *testing.T) {
	subj := map[string]any{"subject_id": "676909"}
	srv := fake.New(fake.Options{},
		rec("r1", "a", "2023-01-01T00:00:00Z", "subject", subj,
			"external_links", map[string]any{"Code Ocean": []string{"co-1", "co-2"}}),
		rec("r2", "b", "2023-02-01T00:00:00Z", "subject", subj,
			"external_links", []any{map[string]any{"Code Ocean": "co-3"}, map[string]any{"Code Ocean": "co-1"}}),
		rec("r3", "c", "2023-03-01T00:00:00Z", "subject", subj), // no links
		rec("r4", "d", "2023-04-01T00:00:00Z", "subject", map[string]any{"subject_id": "999999"},
			"external_links", map[string]any{"Code Ocean": []string{"co-9"}}),
	)
	c := newClient(t, srv, docdb.Config{})
	ids, err := c.SubjectAssetIDs(context.Background(), "676909")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"co-1", "co-2", "co-3"}; !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	reqs := srv.Requests()
	if len(reqs) == 0 || reqs[0].Projection != `{"_id":0,"external_links.Code Ocean":1}` {
		t.Fatalf("requests %+v: want the projection to the links", reqs)
	}

	recs, err := c.SubjectRecords(context.Background(), "676909", "external_links.Code Ocean")
	if err != nil {
		t.Fatal(err)
	}
	var raws []string
	for _, r := range recs {
		raws = append(raws, string(r.Raw))
	}
	want := []string{
		`{"external_links":{"Code Ocean":["co-1","co-2"]}}`,
		`{"external_links":[{"Code Ocean":"co-3"},{"Code Ocean":"co-1"}]}`,
		`{}`,
	}
	if !slices.Equal(raws, want) {
		t.Errorf("projected records:\n got %v\nwant %v", raws, want)
	}
}

func TestAssetRecordMatchesEitherLinkShape(t *testing.T) {
	srv := fake.New(fake.Options{},
		rec("new-shape", "a", "2024-01-01T00:00:00Z", "external_links", map[string]any{"Code Ocean": []string{"co-1", "co-2"}}),
		rec("old-shape", "b", "2023-01-01T00:00:00Z", "external_links", []any{map[string]any{"Code Ocean": "co-3"}}),
		rec("none", "c", "2023-01-01T00:00:00Z"),
	)
	c := newClient(t, srv, docdb.Config{})
	for id, want := range map[string]string{"co-2": "new-shape", "co-3": "old-shape", "co-4": ""} {
		r, ok, err := c.AssetRecord(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != want || ok != (want != "") {
			t.Errorf("asset %s: record %q ok=%v, want %q", id, r.ID, ok, want)
		}
	}
}

func TestSessionRecordIsTheNewestByTime(t *testing.T) {
	const name = "ecephys_676909_2023-12-13_13-43-40"
	tests := []struct {
		title   string
		records []any
		want    string
	}{
		{"one record", []any{rec("a", name, "2024-01-01T00:00:00Z")}, "a"},
		{"newest wins", []any{rec("b", name, "2024-02-01T00:00:00Z"), rec("a", name, "2024-01-01T00:00:00Z")}, "b"},
		// As strings 10:00+02:00 sorts after 09:00Z; as times it is earlier.
		{"created compared as time", []any{rec("zoned", name, "2024-01-01T10:00:00+02:00"), rec("utc", name, "2024-01-01T09:00:00Z")}, "utc"},
		{"fractions and no zone", []any{rec("a", name, "2024-01-01T09:00:00.5"), rec("b", name, "2024-01-01T09:00:00.25Z")}, "a"},
		{"equal created: modified last", []any{
			rec("a", name, "2024-01-01T00:00:00Z", "last_modified", "2024-05-01T00:00:00Z"),
			rec("b", name, "2024-01-01T00:00:00Z", "last_modified", "2024-03-01T00:00:00Z"),
		}, "a"},
		{"equal created and modified: the server's last", []any{
			rec("a", name, "2024-01-01T00:00:00Z"),
			rec("b", name, "2024-01-01T00:00:00Z"),
		}, "b"},
		{"other names ignored", []any{rec("a", name, "2024-01-01T00:00:00Z"), rec("x", name+"_sorted_2024-03-01_16-02-45", "2025-01-01T00:00:00Z")}, "a"},
		{"none", []any{rec("x", "other", "2024-01-01T00:00:00Z")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			srv := fake.New(fake.Options{}, tt.records...)
			c := newClient(t, srv, docdb.Config{})
			r, ok, err := c.SessionRecord(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != tt.want || ok != (tt.want != "") {
				t.Errorf("record %q ok=%v, want %q", r.ID, ok, tt.want)
			}
		})
	}
}

func TestEndlessPagingIsAnError(t *testing.T) {
	// A server that ignores skip answers the same record forever.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"_id":"1","name":"x"}]`)
	}))
	defer srv.Close()
	c, err := docdb.New(docdb.Config{URL: srv.URL, MaxPages: 3, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SubjectRecords(context.Background(), "676909")
	if err == nil || !strings.Contains(err.Error(), "after 3 pages") || !strings.Contains(err.Error(), "676909") {
		t.Fatalf("err %v", err)
	}
}

func TestAnswerThatIsNotRecords(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<html>maintenance</html>`)
	}))
	defer srv.Close()
	c, err := docdb.New(docdb.Config{URL: srv.URL, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.SessionRecord(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), "not an array of records") || !strings.Contains(err.Error(), "maintenance") {
		t.Fatalf("err %v", err)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"", "https://api.allenneuraldynamics.org", ""},
		{"api.example.org", "https://api.example.org", ""},
		{"https://api.example.org/docdb/", "https://api.example.org/docdb", ""},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"http://localhost:8080", "http://localhost:8080", ""},
		{"http://api.example.org", "", "plain http is only for a server on this machine"},
		{"ftp://api.example.org", "", "scheme must be https"},
		{"https://user:secret@api.example.org", "", "must not hold credentials"},
		{"https://", "", "no host"},
	}
	for _, tt := range tests {
		c, err := docdb.New(docdb.Config{URL: tt.in})
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%q: error shows the password: %v", tt.in, err)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case c.URL() != tt.want:
			t.Errorf("%q: URL %q, want %q", tt.in, c.URL(), tt.want)
		}
	}
}

func TestRequestsGoUnderTheBasePath(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path + "?" + r.URL.RawQuery
		fmt.Fprint(w, `[]`)
	}))
	defer srv.Close()
	c, err := docdb.New(docdb.Config{URL: srv.URL + "/prefix/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.SessionRecord(context.Background(), "a b&c"); err != nil {
		t.Fatal(err)
	}
	want := "/prefix/v1/metadata_index/data_assets/find?filter=%7B%22name%22%3A%22a+b%26c%22%7D&limit=0&skip=0&sort=%7B%22created%22%3A1%7D"
	if got != want {
		t.Errorf("request\n got %s\nwant %s", got, want)
	}
}

func TestURLFromEnv(t *testing.T) {
	tests := []struct {
		value, url string
		on         bool
	}{
		{"", docdb.DefaultURL, true},
		{"off", "", false},
		{" OFF ", "", false},
		{"http://127.0.0.1:9", "http://127.0.0.1:9", true},
	}
	for _, tt := range tests {
		u, on := docdb.URLFromEnv(func(k string) string {
			if k == docdb.URLVar {
				return tt.value
			}
			return ""
		})
		if u != tt.url || on != tt.on {
			t.Errorf("%q: %q %v, want %q %v", tt.value, u, on, tt.url, tt.on)
		}
	}
}

func TestRecordDecoding(t *testing.T) {
	tests := []struct {
		title, json string
		links       []string
		created     string
		subject     string
	}{
		{"current links", `{"external_links":{"Code Ocean":["a","b"]},"created":"2024-01-02T03:04:05Z"}`, []string{"a", "b"}, "2024-01-02T03:04:05Z", ""},
		{"older links", `{"external_links":[{"Code Ocean":"a"},{"Code Ocean":"b"},{"Code Ocean":"a"}]}`, []string{"a", "b"}, "", ""},
		{"one link as a string", `{"external_links":{"Code Ocean":"a"}}`, []string{"a"}, "", ""},
		{"no links", `{"name":"x"}`, nil, "", ""},
		{"null links", `{"external_links":null}`, nil, "", ""},
		{"empty links", `{"external_links":{}}`, nil, "", ""},
		{"odd links", `{"external_links":42}`, nil, "", ""},
		{"created with offset", `{"created":"2024-01-02T05:04:05.123456+02:00"}`, nil, "2024-01-02T03:04:05.123456Z", ""},
		{"created without zone", `{"created":"2024-01-02T03:04:05"}`, nil, "2024-01-02T03:04:05Z", ""},
		{"created not a time", `{"created":"yesterday"}`, nil, "", ""},
		{"subject id as a number", `{"subject":{"subject_id":676909}}`, nil, "", "676909"},
		{"subject as a string", `{"subject":"676909","name":"x"}`, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			var r docdb.Record
			if err := json.Unmarshal([]byte(tt.json), &r); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.CodeOcean(), tt.links) {
				t.Errorf("links %v, want %v", r.CodeOcean(), tt.links)
			}
			var want time.Time
			if tt.created != "" {
				want, _ = time.Parse(time.RFC3339Nano, tt.created)
			}
			if !r.Created.Equal(want) {
				t.Errorf("created %v, want %v", r.Created, want)
			}
			if r.SubjectID != tt.subject {
				t.Errorf("subject %q, want %q", r.SubjectID, tt.subject)
			}
			if string(r.Raw) != tt.json {
				t.Errorf("raw %s, want the record as given", r.Raw)
			}
		})
	}
	var r docdb.Record
	if err := json.Unmarshal([]byte(`["not","a","record"]`), &r); err == nil {
		t.Error("an array decoded as a record")
	}
}

func TestRedirectToPlainHTTPIsRefused(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Redirect(w, r, "http://api.example.org/v1/metadata_index/data_assets/find", http.StatusFound)
	}))
	defer srv.Close()
	c, err := docdb.New(docdb.Config{URL: srv.URL, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.SessionRecord(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), "refused redirect to http://api.example.org") {
		t.Fatalf("err %v, want the redirect refused", err)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("%d requests, want 1: a refused redirect is not retried", n)
	}
}
