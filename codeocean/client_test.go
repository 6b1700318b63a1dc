package codeocean_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/codeocean/fake"
	"github.com/aind/aindfs/internal/logtest"
)

const token = "cop_TESTtoken0123456789abcdef"

// fastRetry keeps retry tests quick: real waits, but of milliseconds.
var fastRetry = codeocean.Retry{
	MaxAttempts:   4,
	BaseDelay:     time.Millisecond,
	MaxDelay:      4 * time.Millisecond,
	MaxRetryAfter: 20 * time.Millisecond,
	MaxElapsed:    10 * time.Second,
}

// catalog returns n assets of one subject, created a minute apart.
func catalog(n int) []codeocean.DataAsset {
	var as []codeocean.DataAsset
	for i := range n {
		name := fmt.Sprintf("ecephys_676909_2023-12-13_13-%02d-00", i%60)
		as = append(as, codeocean.DataAsset{
			ID:             fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			Name:           name,
			Mount:          name,
			Created:        codeocean.Time{Time: time.Unix(1702475000+int64(i)*60, 0).UTC()},
			State:          "ready",
			Type:           "dataset",
			Owner:          "someone",
			Tags:           []string{"ecephys", "raw"},
			CustomMetadata: map[string]codeocean.String{"subject id": "676909", "data level": "raw data"},
		})
	}
	return as
}

type setup struct {
	srv    *fake.Server
	client *codeocean.Client
	logs   *logtest.Buffer
}

// start serves a fake holding assets and returns a client of it that logs at
// debug level into a buffer.
func start(t *testing.T, assets []codeocean.DataAsset, opts fake.Options, edit ...func(*codeocean.Config)) setup {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	srv := fake.New(assets, opts)
	logs := &logtest.Buffer{}
	cfg := codeocean.Config{
		Domain: srv.Start(t),
		Token:  token,
		Retry:  fastRetry,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := codeocean.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), token) {
			t.Errorf("the token appears in the logs:\n%s", logs)
		}
	})
	return setup{srv: srv, client: c, logs: logs}
}

func ids(as []codeocean.DataAsset) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	slices.Sort(out)
	return out
}

func TestSearchReturnsEveryPage(t *testing.T) {
	want := ids(catalog(25))
	for _, offsetOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("offsetOnly=%v", offsetOnly), func(t *testing.T) {
			s := start(t, catalog(25), fake.Options{OffsetPagingOnly: offsetOnly})
			got, err := s.client.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "subject id:676909", Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), want) {
				t.Errorf("got %d assets %v, want all %d", len(got), ids(got), len(want))
			}
			reqs := s.srv.Requests()
			if len(reqs) != 4 {
				t.Fatalf("%d requests for 25 assets by 7, want 4", len(reqs))
			}
			for i, r := range reqs {
				var body struct {
					Query     string `json:"query"`
					Offset    int    `json:"offset"`
					NextToken string `json:"next_token"`
				}
				if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
					t.Fatal(err)
				}
				if body.Query != "subject id:676909" {
					t.Errorf("page %d asked %q", i+1, body.Query)
				}
				switch {
				case offsetOnly && (body.Offset != 7*i || body.NextToken != ""):
					t.Errorf("offset-only page %d sent offset %d, next_token %q; want offset %d", i+1, body.Offset, body.NextToken, 7*i)
				case !offsetOnly && (i > 0) != (body.NextToken != ""):
					t.Errorf("page %d sent next_token %q", i+1, body.NextToken)
				case !offsetOnly && body.Offset != 0:
					t.Errorf("page %d sent offset %d with a token", i+1, body.Offset)
				}
			}
		})
	}
}

func TestSearchDefaultsToLargestPages(t *testing.T) {
	s := start(t, catalog(150), fake.Options{})
	got, err := s.client.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "676909"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 150 || s.srv.Count("POST", "data_assets/search") != 1 {
		t.Errorf("got %d assets in %d requests, want 150 in 1", len(got), s.srv.Count("POST", "data_assets/search"))
	}
	// A limit above the server's maximum would be refused: it is lowered.
	got, err = s.client.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "676909", Limit: 5000})
	if err != nil || len(got) != 150 {
		t.Errorf("limit 5000: %d assets, %v", len(got), err)
	}
}

func TestSearchStopsAtPageCap(t *testing.T) {
	s := start(t, catalog(25), fake.Options{}, func(c *codeocean.Config) { c.MaxSearchPages = 2 })
	_, err := s.client.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "name:ecephys", Limit: 5})
	if err == nil || !strings.Contains(err.Error(), "after 2 pages") || !strings.Contains(err.Error(), `"name:ecephys"`) {
		t.Fatalf("err = %v, want one saying the search still had more after 2 pages", err)
	}
	if n := s.srv.Count("POST", "data_assets/search"); n != 2 {
		t.Errorf("%d search requests, want 2", n)
	}
}

// A broken server that pages in circles must not keep the client busy forever.
func TestSearchRefusesEndlessPaging(t *testing.T) {
	tests := []struct {
		name, answer, wantErr string
	}{
		{"same token again", `{"has_more": true, "results": [{"id": "a"}], "next_token": "t1"}`, "repeats an earlier next_token"},
		{"empty page says more", `{"has_more": true, "results": []}`, "empty but says has_more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls int
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				calls++
				mu.Unlock()
				fmt.Fprint(w, tt.answer)
			}))
			defer srv.Close()
			c, err := codeocean.New(codeocean.Config{Domain: srv.URL, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "x"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if calls > 2 {
				t.Errorf("%d requests before giving up", calls)
			}
		})
	}
}

func TestClientDecodesOddAnswers(t *testing.T) {
	odd := `[{
		"id": "4a1b2c3d-0000-4000-8000-000000000001",
		"created": "1702475020", "last_used": null,
		"name": "ecephys_676909_2023-12-13_13-43-40", "mount": "ecephys_676909_2023-12-13_13-43-40",
		"state": "ready", "type": "dataset", "owner": null,
		"description": null, "tags": null, "files": 12.0, "size": "987654321",
		"custom_metadata": {"subject id": 676909, "data level": "raw data", "note": null},
		"source_bucket": {"origin": "aws", "bucket": "aind-open-data", "prefix": "ecephys_676909_2023-12-13_13-43-40", "external": null},
		"provenance": null, "app_parameters": null,
		"a_field_from_the_future": {"x": [1, "two", null]}
	}, {
		"id": "4a1b2c3d-0000-4000-8000-000000000002",
		"created": 1702475080.75, "last_used": 0,
		"name": "ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45", "mount": "sorted",
		"state": "ready", "type": "result", "owner": "x", "size": 5,
		"custom_metadata": {"subject id": "676909", "data level": "derived data"},
		"tags": ["ecephys", "sorted"]
	}]`
	path := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(path, []byte(odd), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, nil, fake.Options{})
	if err := s.srv.LoadCatalog(path); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	a, err := s.client.GetDataAsset(ctx, "4a1b2c3d-0000-4000-8000-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	if a.Created.Unix() != 1702475020 || !a.LastUsed.IsZero() || a.Size != 987654321 || a.Files != 12 ||
		a.Metadata("subject id") != "676909" || a.SourceBucket.Bucket != "aind-open-data" || a.Provenance != nil {
		t.Errorf("decoded %+v", a)
	}

	found, err := s.client.SearchDataAssets(ctx, codeocean.SearchParams{Query: "subject id:676909", SortField: "created", SortOrder: "asc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[1].Created.UnixMilli() != 1702475080750 || found[1].Type != "result" {
		t.Errorf("search decoded %+v", found)
	}
}

func TestRetriesOverloadAndServerErrors(t *testing.T) {
	tests := []struct {
		name  string
		fault fake.Fault
		fails int
	}{
		{"429 with Retry-After seconds", fake.Fault{Status: 429, RetryAfter: "0"}, 2},
		{"429 with Retry-After date", fake.Fault{Status: 429, RetryAfter: time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat)}, 1},
		{"429 without Retry-After", fake.Fault{Status: 429}, 3},
		{"500", fake.Fault{Status: 500}, 1},
		{"502", fake.Fault{Status: 502}, 2},
		{"503", fake.Fault{Status: 503, RetryAfter: "0"}, 1},
		{"504", fake.Fault{Status: 504}, 3},
		{"connection dropped", fake.Fault{Hangup: true}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, catalog(3), fake.Options{})
			ctx := context.Background()

			s.srv.FailNext(tt.fails, tt.fault)
			got, err := s.client.SearchDataAssets(ctx, codeocean.SearchParams{Query: "tag:raw"})
			if err != nil {
				t.Fatalf("search: %v", err)
			}
			if len(got) != 3 {
				t.Errorf("search found %d assets, want 3", len(got))
			}
			if n := s.srv.Count("POST", "data_assets/search"); n != tt.fails+1 {
				t.Errorf("search: %d requests, want %d", n, tt.fails+1)
			}

			s.srv.FailNext(tt.fails, tt.fault)
			a, err := s.client.GetDataAsset(ctx, got[0].ID)
			if err != nil || a.ID != got[0].ID {
				t.Fatalf("get: %v, %v", a.ID, err)
			}
			if !strings.Contains(s.logs.String(), "code ocean retry") {
				t.Errorf("no retry logged:\n%s", s.logs)
			}
		})
	}
}

// A Retry-After the client cannot honour within its time budget ends the
// call at once, saying so, instead of sleeping past the budget.
func TestRetryAfterBeyondBudgetGivesUp(t *testing.T) {
	s := start(t, catalog(1), fake.Options{}, func(c *codeocean.Config) {
		c.Retry.MaxRetryAfter = time.Hour
		c.Retry.MaxElapsed = time.Minute
	})
	s.srv.FailNext(1, fake.Fault{Status: 429, RetryAfter: "3600", Message: "slow down"})
	_, err := s.client.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "x"})
	var apiErr *codeocean.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 429 {
		t.Fatalf("err = %v, want a 429 APIError", err)
	}
	for _, want := range []string{"429", "slow down", "1h0m0s", "budget"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := s.srv.Count("", ""); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestPersistentFailureEndsInClearError(t *testing.T) {
	s := start(t, catalog(1), fake.Options{})
	s.srv.FailNext(100, fake.Fault{Status: 503, Message: "maintenance"})
	_, err := s.client.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "subject id:676909"})
	var apiErr *codeocean.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("err = %v, want a 503 APIError", err)
	}
	for _, want := range []string{"POST data_assets/search", `"subject id:676909"`, "503", "maintenance", "gave up after 4 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := s.srv.Count("", ""); n != fastRetry.MaxAttempts {
		t.Errorf("%d requests, want %d", n, fastRetry.MaxAttempts)
	}
}

func TestPersistentConnectionFailure(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	domain := srv.URL
	srv.Close() // nothing listens there any more
	c, err := codeocean.New(codeocean.Config{Domain: domain, Token: token, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDataAsset(context.Background(), "abc")
	if err == nil || !strings.Contains(err.Error(), "GET data_assets/abc") || !strings.Contains(err.Error(), "gave up after 4 attempts") {
		t.Fatalf("err = %v, want the request and the attempts named", err)
	}
}

func TestWritesAreNotRetried(t *testing.T) {
	s := start(t, catalog(2), fake.Options{})
	s.srv.FailNext(1, fake.Fault{Status: 503})
	_, err := s.client.AttachBatch(context.Background(), codeocean.Target{Capsule: "capsule-1"}, []codeocean.Attachment{{ID: catalog(2)[0].ID}})
	var apiErr *codeocean.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("err = %v, want the 503", err)
	}
	if n := s.srv.Count("", ""); n != 1 {
		t.Errorf("attach sent %d times, want once", n)
	}
	if got := s.srv.Attached("capsule-1"); len(got) != 0 {
		t.Errorf("attached %v after a failure", got)
	}
}

func TestAuthAndScopeErrors(t *testing.T) {
	const readOnly, scopeless = "cop_readonly000", "cop_noscope000"
	asset := catalog(1)[0]
	tests := []struct {
		name   string
		token  string
		call   func(*codeocean.Client) error
		status int
		is     error
		says   []string
	}{
		{"wrong token", "cop_wrong", func(c *codeocean.Client) error {
			_, err := c.GetDataAsset(context.Background(), asset.ID)
			return err
		}, 401, codeocean.ErrUnauthorized, []string{"401", "CODE_OCEAN_API_TOKEN", "missing or wrong", "GET data_assets/" + asset.ID}},
		{"no read scope", scopeless, func(c *codeocean.Client) error {
			_, err := c.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "tag:raw"})
			return err
		}, 403, codeocean.ErrForbidden, []string{"403", `"Datasets: Read"`, `query "tag:raw"`}},
		{"no capsule write", readOnly, func(c *codeocean.Client) error {
			_, err := c.AttachBatch(context.Background(), codeocean.Target{Capsule: "cap-9"}, []codeocean.Attachment{{ID: asset.ID}})
			return err
		}, 403, codeocean.ErrForbidden, []string{"403", "Capsules read & write", "Data Assets read & write", "capsules/cap-9/data_assets", asset.ID}},
		{"unknown asset", token, func(c *codeocean.Client) error {
			_, err := c.GetDataAsset(context.Background(), "no-such-asset")
			return err
		}, 404, codeocean.ErrNotFound, []string{"404", "no-such-asset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, catalog(1), fake.Options{ReadOnlyToken: readOnly, ScopelessToken: scopeless},
				func(c *codeocean.Config) { c.Token = tt.token })
			err := tt.call(s.client)
			var apiErr *codeocean.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tt.status {
				t.Fatalf("err = %v, want status %d", err, tt.status)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) is false", err, tt.is)
			}
			for _, want := range tt.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q shows the token", err)
			}
			if n := s.srv.Count("", ""); n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
		})
	}
}

func TestNoTokenSendsNothing(t *testing.T) {
	s := start(t, catalog(1), fake.Options{}, func(c *codeocean.Config) { c.Token = "" })
	_, err := s.client.GetDataAsset(context.Background(), catalog(1)[0].ID)
	if !errors.Is(err, codeocean.ErrNoToken) || !errors.Is(err, codeocean.ErrUnauthorized) || !strings.Contains(err.Error(), "CODE_OCEAN_API_TOKEN") {
		t.Errorf("err = %v, want ErrNoToken naming CODE_OCEAN_API_TOKEN", err)
	}
	if n := s.srv.Count("", ""); n != 0 {
		t.Errorf("%d requests without a token", n)
	}
}

func TestCancelDuringBackoffReturnsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel as soon as the client says it is going to wait: the wait is the
	// hour the server asked for, so only cancellation can end it.
	logger := slog.New(&onMessage{msg: "code ocean retry", do: cancel})
	s := start(t, catalog(1), fake.Options{}, func(c *codeocean.Config) {
		c.Logger = logger
		c.Retry.MaxRetryAfter = 2 * time.Hour
		c.Retry.MaxElapsed = 3 * time.Hour
	})
	s.srv.FailNext(1, fake.Fault{Status: 429, RetryAfter: "3600"})

	done := make(chan error, 1)
	go func() {
		_, err := s.client.SearchDataAssets(ctx, codeocean.SearchParams{Query: "tag:raw"})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if err != nil && !strings.Contains(err.Error(), "429") {
			t.Errorf("err = %v, want it to say what it was waiting after", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("search still waiting a minute after cancellation")
	}
	if n := s.srv.Count("", ""); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestCancelDuringSlowRequest(t *testing.T) {
	s := start(t, catalog(1), fake.Options{Latency: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	_, err := s.client.GetDataAsset(ctx, catalog(1)[0].ID)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	s := start(t, catalog(1), fake.Options{}, func(c *codeocean.Config) { c.Timeout = 50 * time.Millisecond })
	s.srv.FailNext(1, fake.Fault{Delay: time.Hour}) // a server that stalls once
	a, err := s.client.GetDataAsset(context.Background(), catalog(1)[0].ID)
	if err != nil || a.ID != catalog(1)[0].ID {
		t.Fatalf("get after a stalled attempt: %v", err)
	}
	if n := s.srv.Count("", ""); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestTokenNeverShown(t *testing.T) {
	s := start(t, catalog(2), fake.Options{})
	ctx := context.Background()
	var errs []error
	// A server that echoes the token back in its message.
	s.srv.FailNext(1, fake.Fault{Status: 400, Message: "bad request from " + token})
	_, err := s.client.SearchDataAssets(ctx, codeocean.SearchParams{Query: "x"})
	errs = append(errs, err)
	s.srv.FailNext(10, fake.Fault{Status: 500, Message: "boom " + token})
	_, err = s.client.GetDataAsset(ctx, catalog(1)[0].ID)
	errs = append(errs, err)
	_, err = s.client.GetDataAsset(ctx, "missing")
	errs = append(errs, err)
	_, err = s.client.SearchDataAssets(ctx, codeocean.SearchParams{Query: "tag:raw"})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("a failing call succeeded")
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("error shows the token: %v", err)
		}
	}
	if !strings.Contains(errs[0].Error(), "<token>") {
		t.Errorf("echoed token not masked: %v", errs[0])
	}
	logs := s.logs.String()
	for _, want := range []string{`"msg":"code ocean request"`, `"status":500`, `"status":200`, `"msg":"code ocean retry"`, `"wait"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	// start's cleanup checks the logs for the token.
}

func TestRequestHeaders(t *testing.T) {
	f := fake.New(catalog(1), fake.Options{Token: token})
	var mu sync.Mutex
	var seen []http.Header
	var users, passwords []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		users, passwords = append(users, u), append(passwords, p)
		mu.Unlock()
		f.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := codeocean.New(codeocean.Config{Domain: srv.URL + "/", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "tag:raw"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Fatalf("%d requests", len(seen))
	}
	h := seen[0]
	if h.Get("Content-Type") != "application/json" || h.Get("Min-Server-Version") != "3.0.0" {
		t.Errorf("headers %v", h)
	}
	if users[0] != token || passwords[0] != "" {
		t.Errorf("basic auth user %q password %q, want the token and empty", users[0], passwords[0])
	}
	if c.Domain() != srv.URL {
		t.Errorf("Domain() = %q, want %q", c.Domain(), srv.URL)
	}
}

func TestAttach(t *testing.T) {
	as := catalog(3)
	s := start(t, as, fake.Options{})
	ctx := context.Background()
	res, err := s.client.AttachBatch(ctx, codeocean.Target{Capsule: "cap-1"}, []codeocean.Attachment{{ID: as[0].ID}, {ID: as[1].ID, Mount: "sorted"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].ID != as[0].ID || res[0].Mount != as[0].Mount || res[1].Mount != "sorted" || !res[0].Ready {
		t.Errorf("attach answered %+v", res)
	}
	if got := s.srv.Attached("cap-1"); len(got) != 2 || got[1].Mount != "sorted" {
		t.Errorf("capsule holds %+v", got)
	}
	_, err = s.client.AttachBatch(ctx, codeocean.Target{Capsule: "cap-1"}, []codeocean.Attachment{{ID: "nope"}})
	if !errors.Is(err, codeocean.ErrNotFound) {
		t.Errorf("attaching an unknown asset: %v", err)
	}
}

func TestBadIDsNeverReachTheServer(t *testing.T) {
	s := start(t, catalog(1), fake.Options{})
	ctx := context.Background()
	for _, id := range []string{"", " ", "search", "a/b", "..", "x?y"} {
		_, err := s.client.GetDataAsset(ctx, id)
		if id == "search" {
			// "search" is a valid-looking ID; the server answers 404 for GET.
			if !errors.Is(err, codeocean.ErrNotFound) {
				t.Errorf("GetDataAsset(%q): %v", id, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("GetDataAsset(%q) succeeded", id)
		}
	}
	if n := s.srv.Count("", ""); n != 1 {
		t.Errorf("%d requests, want only the one for %q", n, "search")
	}
}

// onMessage is a slog handler that runs do when a record with msg is logged.
type onMessage struct {
	msg string
	do  func()
}

func (h *onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h *onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.do()
	}
	return nil
}
func (h *onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *onMessage) WithGroup(string) slog.Handler      { return h }

// TestStalledServerEndsWithinBudget: a server that never answers costs at
// most the call's budget, even when one attempt alone may last longer.
func TestStalledServerEndsWithinBudget(t *testing.T) {
	s := start(t, catalog(1), fake.Options{}, func(c *codeocean.Config) {
		c.Timeout = time.Hour
		c.Retry.MaxElapsed = 200 * time.Millisecond
	})
	s.srv.FailNext(100, fake.Fault{Delay: time.Hour})
	done := make(chan error, 1)
	go func() {
		_, err := s.client.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "x"})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "gave up") {
			t.Errorf("search on a stalled server = %v, want an error saying it gave up", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("search on a stalled server hung past its 200 ms budget with an hour-long attempt timeout")
	}
}
