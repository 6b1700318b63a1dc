package codeocean_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/codeocean/fake"
)

// attachedIDs reads the IDs of an attach request's body.
func attachedIDs(t *testing.T, body string) []string {
	t.Helper()
	var as []codeocean.Attachment
	if err := json.Unmarshal([]byte(body), &as); err != nil {
		t.Fatalf("attach body %q: %v", body, err)
	}
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

func attachments(as []codeocean.DataAsset) []codeocean.Attachment {
	var out []codeocean.Attachment
	for _, a := range as {
		out = append(out, codeocean.Attachment{ID: a.ID, Mount: a.Name})
	}
	return out
}

// Inside a running capsule: what the computation lists is attached already
// (not asked again); the rest goes to the computation in one request, whose
// answer says the assets are still mounting, and their folders appear later.
func TestAttachToRunningComputation(t *testing.T) {
	as := catalog(3)
	data := t.TempDir()
	s := start(t, as, fake.Options{MountDelay: 100 * time.Millisecond, DataDir: data})
	s.srv.AddComputation("cap-1", codeocean.Computation{ID: "comp-1", DataAssets: []codeocean.AttachedAsset{{ID: as[0].ID, Mount: "first"}}})

	out, err := s.client.Attach(context.Background(), codeocean.Target{Computation: "comp-1"}, attachments(as))
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Already || out[0].Result != nil || out[0].Mount != "first" {
		t.Errorf("asset listed by the computation: %+v, want already attached at first", out[0])
	}
	for _, o := range out[1:] {
		if o.Err != nil || o.Already || o.Result == nil || o.Result.Ready || o.Result.MountState != "mounting" || o.Mount != o.Attachment.Mount {
			t.Errorf("new asset: %+v (result %+v), want attached, not ready yet", o, o.Result)
		}
	}
	reqs := s.srv.Requests()
	if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[0].Path != "computations/comp-1" || reqs[1].Path != "computations/comp-1/data_assets" {
		t.Fatalf("requests %+v, want the computation read, then one attach", reqs)
	}
	if got := attachedIDs(t, reqs[1].Body); !slices.Equal(got, []string{as[1].ID, as[2].ID}) {
		t.Errorf("attach asked for %v, want the two not attached", got)
	}
	if got := s.srv.Attached("cap-1"); len(got) != 0 {
		t.Errorf("the capsule got %v: attaching went to the capsule, not its running computation", got)
	}
	comp, _ := s.srv.Computation("comp-1")
	if len(comp.DataAssets) != 3 {
		t.Errorf("computation lists %v", comp.DataAssets)
	}
	// The folders appear once mounted.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err1 := os.Stat(filepath.Join(data, as[1].Name))
		_, err2 := os.Stat(filepath.Join(data, as[2].Name))
		if err1 == nil && err2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the attached assets' folders never appeared")
		}
	}
}

// One refused asset fails its whole batch: the batch is tried again asset
// by asset, and each asset gets its own outcome.
func TestRefusedBatchIsTriedOneByOne(t *testing.T) {
	as := catalog(3)
	s := start(t, as, fake.Options{})
	ctx := context.Background()
	target := codeocean.Target{Capsule: "cap-1"}
	if _, err := s.client.AttachBatch(ctx, target, attachments(as[:1])); err != nil {
		t.Fatal(err)
	}
	s.srv.ResetLog()

	want := append(attachments(as[:2]), codeocean.Attachment{ID: "no-such-asset", Mount: "x"})
	out, err := s.client.Attach(ctx, target, want)
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Already || out[0].Err != nil {
		t.Errorf("asset attached before: %+v, want already attached", out[0])
	}
	if out[1].Result == nil || out[1].Err != nil || out[1].Already {
		t.Errorf("new asset: %+v, want attached", out[1])
	}
	if !errors.Is(out[2].Err, codeocean.ErrNotFound) || !strings.Contains(out[2].Err.Error(), "no-such-asset") {
		t.Errorf("unknown asset: %+v, want not found, named", out[2])
	}
	reqs := s.srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want the batch and one per asset", len(reqs))
	}
	if got := attachedIDs(t, reqs[0].Body); len(got) != 3 || reqs[0].Status != 400 {
		t.Errorf("first request asked %v, answered %d; want all three refused", got, reqs[0].Status)
	}
	for i, r := range reqs[1:] {
		if got := attachedIDs(t, r.Body); !slices.Equal(got, []string{want[i].ID}) {
			t.Errorf("retry %d asked %v, want %s alone", i+1, got, want[i].ID)
		}
	}
	if got := s.srv.Attached("cap-1"); len(got) != 2 || got[1].ID != as[1].ID {
		t.Errorf("capsule holds %+v", got)
	}
}

func TestAttachSendsBatchesOfAtMost100(t *testing.T) {
	as := catalog(250)
	s := start(t, as, fake.Options{})
	out, err := s.client.Attach(context.Background(), codeocean.Target{Capsule: "cap-1"}, attachments(as))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Result == nil || o.Err != nil {
			t.Fatalf("outcome %+v", o)
		}
	}
	var sizes []int
	for _, r := range s.srv.Requests() {
		sizes = append(sizes, len(attachedIDs(t, r.Body)))
	}
	if !slices.Equal(sizes, []int{100, 100, 50}) {
		t.Errorf("batch sizes %v, want 100, 100, 50", sizes)
	}
}

// A capsule whose cloud workstation runs refuses attaching to the capsule;
// each asset says why.
func TestCapsuleAttachRefusedWhileItsComputationRuns(t *testing.T) {
	as := catalog(2)
	s := start(t, as, fake.Options{})
	s.srv.AddComputation("cap-1", codeocean.Computation{ID: "comp-1"})
	out, err := s.client.Attach(context.Background(), codeocean.Target{Capsule: "cap-1"}, attachments(as))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Err == nil || !strings.Contains(o.Err.Error(), "running cloud workstation") || o.Already {
			t.Errorf("outcome %+v, want refused for the running workstation", o)
		}
	}
	if got := s.srv.Attached("cap-1"); len(got) != 0 {
		t.Errorf("capsule holds %+v", got)
	}
}

// Without write scopes, one refused request ends the attach, with a hint
// naming both scopes; nothing is retried asset by asset.
func TestAttachWithoutWriteScopes(t *testing.T) {
	const readOnly = "cop_readonly000"
	as := catalog(3)
	s := start(t, as, fake.Options{ReadOnlyToken: readOnly}, func(c *codeocean.Config) { c.Token = readOnly })
	s.srv.AddComputation("cap-1", codeocean.Computation{ID: "comp-1"})
	out, err := s.client.Attach(context.Background(), codeocean.Target{Computation: "comp-1"}, attachments(as))
	if !errors.Is(err, codeocean.ErrForbidden) {
		t.Fatalf("err = %v, want forbidden", err)
	}
	for _, want := range []string{"Capsules read & write", "Data Assets read & write", "computation comp-1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	for _, o := range out {
		if !errors.Is(o.Err, codeocean.ErrForbidden) {
			t.Errorf("outcome %+v, want forbidden", o)
		}
	}
	if n := s.srv.Count("POST", ""); n != 1 {
		t.Errorf("%d attach requests, want 1", n)
	}
}

// Each request asks for the lowest server version it needs; a server older
// than that refuses it, and the client says so.
func TestMinServerVersionPerRequest(t *testing.T) {
	as := catalog(5)
	s := start(t, as, fake.Options{})
	s.srv.AddComputation("cap-1", codeocean.Computation{ID: "comp-1"})
	ctx := context.Background()
	if _, err := s.client.GetDataAsset(ctx, as[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.SearchDataAssets(ctx, codeocean.SearchParams{Query: "tag:raw", Limit: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.SearchDataAssets(ctx, codeocean.MetadataSearch("subject id", "676909")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.GetComputation(ctx, "comp-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.AttachBatch(ctx, codeocean.Target{Computation: "comp-1"}, attachments(as[:1])); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.AttachBatch(ctx, codeocean.Target{Capsule: "cap-2"}, attachments(as[:1])); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range s.srv.Requests() {
		got = append(got, r.Method+" "+r.Path+" "+r.MinServerVersion)
	}
	want := []string{
		"GET data_assets/" + as[0].ID + " 3.0.0",
		"POST data_assets/search 3.0.0", // first page: offset paging is enough
		"POST data_assets/search 3.1.0", // next_token
		"POST data_assets/search 3.1.0", // filters
		"GET computations/comp-1 3.0.0",
		"POST computations/comp-1/data_assets 4.2.0",
		"POST capsules/cap-2/data_assets 3.0.0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	old := start(t, as, fake.Options{ServerVersion: "4.1.0"})
	old.srv.AddComputation("cap-1", codeocean.Computation{ID: "comp-1"})
	_, err := old.client.AttachBatch(ctx, codeocean.Target{Computation: "comp-1"}, attachments(as[:1]))
	var apiErr *codeocean.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(err.Error(), "4.1.0") || !strings.Contains(err.Error(), "4.2.0") {
		t.Errorf("attach to a computation on a 4.1 server: %v, want a 400 naming both versions", err)
	}
	if comp, _ := old.srv.Computation("comp-1"); len(comp.DataAssets) != 0 {
		t.Errorf("the old server attached %v", comp.DataAssets)
	}
}

// A server older than filters (3.1) refuses the metadata filter: the search
// is asked in query form, and later ones go straight to it. It pages by
// offset.
func TestMetadataSearchFallsBackToQueryForm(t *testing.T) {
	as := catalog(5)
	for _, version := range []string{"3.0.0", fake.DefaultServerVersion} {
		t.Run(version, func(t *testing.T) {
			s := start(t, as, fake.Options{ServerVersion: version})
			ctx := context.Background()
			for range 2 {
				p := codeocean.MetadataSearch("subject id", "676909")
				p.Limit = 2
				got, err := s.client.SearchDataAssets(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), ids(as)) {
					t.Errorf("found %v, want all 5", ids(got))
				}
			}
			var bodies []string
			for _, r := range s.srv.Requests() {
				bodies = append(bodies, fmt.Sprintf("%d %s", r.Status, r.Body))
			}
			filtered := `"filters":[{"key":"subject id","value":"676909"}]`
			switch version {
			case "3.0.0":
				// refused once, then 3 offset pages, twice
				if len(bodies) != 7 || !strings.HasPrefix(bodies[0], "400 ") || !strings.Contains(bodies[0], filtered) {
					t.Fatalf("requests:\n%s", strings.Join(bodies, "\n"))
				}
				for _, b := range bodies[1:] {
					if !strings.HasPrefix(b, "200 ") || !strings.Contains(b, `"query":"subject id:676909"`) || strings.Contains(b, "filters") || strings.Contains(b, "next_token") {
						t.Errorf("fallback request %s, want the query form paged by offset", b)
					}
				}
			default:
				if len(bodies) != 6 {
					t.Fatalf("requests:\n%s", strings.Join(bodies, "\n"))
				}
				for _, b := range bodies {
					if !strings.HasPrefix(b, "200 ") || !strings.Contains(b, filtered) || strings.Contains(b, "query") {
						t.Errorf("request %s, want the filter alone", b)
					}
				}
			}
		})
	}
}

// next_token may come as a number; it goes back as one.
func TestNumericNextToken(t *testing.T) {
	s := start(t, catalog(25), fake.Options{NumericNextToken: true})
	got, err := s.client.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "subject id:676909", Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 25 {
		t.Errorf("found %d, want 25", len(got))
	}
	reqs := s.srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	for i, r := range reqs[1:] {
		if want := fmt.Sprintf(`"next_token":%d`, 7*(i+1)); !strings.Contains(r.Body, want) {
			t.Errorf("page %d sent %s, want %s", i+2, r.Body, want)
		}
	}
}

// Each page of a search has its own time budget: a search whose pages are
// each slow but within budget succeeds, however long it takes in all.
func TestSearchPagesHaveTheirOwnBudget(t *testing.T) {
	s := start(t, catalog(20), fake.Options{Latency: 120 * time.Millisecond}, func(c *codeocean.Config) {
		c.Retry.MaxElapsed = 300 * time.Millisecond
		c.Retry.MaxAttempts = 1
	})
	got, err := s.client.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "tag:raw", Limit: 5})
	if err != nil || len(got) != 20 {
		t.Fatalf("found %d, %v; want 20 in 4 slow pages", len(got), err)
	}
	if n := s.srv.Count("POST", "data_assets/search"); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

// Error answers that are not the API's JSON object read cleanly.
func TestErrorBodiesReadCleanly(t *testing.T) {
	as := catalog(2)
	t.Run("proxy HTML page", func(t *testing.T) {
		s := start(t, as, fake.Options{HTMLErrors: true})
		s.srv.FailNext(10, fake.Fault{Status: 502, Message: "upstream timed out"})
		_, err := s.client.GetDataAsset(context.Background(), as[0].ID)
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error()
		for _, want := range []string{"502", "an HTML page, not an API answer", "502 Bad Gateway", "upstream timed out"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not say %q", msg, want)
			}
		}
		for _, junk := range []string{"<", ">", "font-family", "DOCTYPE"} {
			if strings.Contains(msg, junk) {
				t.Errorf("error %q shows the page's markup (%q)", msg, junk)
			}
		}
	})
	t.Run("JSON array of refusals", func(t *testing.T) {
		s := start(t, as, fake.Options{})
		ctx := context.Background()
		target := codeocean.Target{Capsule: "cap-1"}
		if _, err := s.client.AttachBatch(ctx, target, attachments(as[:1])); err != nil {
			t.Fatal(err)
		}
		_, err := s.client.AttachBatch(ctx, target, attachments(as))
		var apiErr *codeocean.APIError
		if !errors.As(err, &apiErr) || len(apiErr.Items) != 1 || apiErr.Items[0].ID != as[0].ID {
			t.Fatalf("err = %v (%+v), want one refused item", err, apiErr)
		}
		if want := as[0].ID + ": data asset is already attached"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
		if strings.ContainsAny(apiErr.Message, "[{\"") {
			t.Errorf("message %q is raw JSON", apiErr.Message)
		}
	})
}

// A server that says "already attached" in a plain message, without the
// array of items, is understood too.
func TestAlreadyAttachedInAPlainMessage(t *testing.T) {
	as := catalog(1)
	s := start(t, as, fake.Options{})
	s.srv.FailNext(1, fake.Fault{Status: 400, Message: "Data asset " + as[0].ID + " is already attached to this capsule"})
	out, err := s.client.Attach(context.Background(), codeocean.Target{Capsule: "cap-1"}, attachments(as))
	if err != nil || !out[0].Already || out[0].Err != nil {
		t.Errorf("outcome %+v, %v; want already attached", out[0], err)
	}
	s.srv.FailNext(1, fake.Fault{Status: 400, Message: "mount name is not valid"})
	out, _ = s.client.Attach(context.Background(), codeocean.Target{Capsule: "cap-1"}, attachments(as))
	if out[0].Already || out[0].Err == nil || !strings.Contains(out[0].Err.Error(), "mount name is not valid") {
		t.Errorf("outcome %+v; want the refusal", out[0])
	}
}
