package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/codeocean/fake"
)

const secondRawID = "f48d7245-75f2-5cc4-a471-4d2d68c2aa02"

// insideCapsule points the command line at a fake Code Ocean where capsule
// cap-1 runs as computation comp-1, whose /data is the returned folder, as
// Code Ocean's environment variables say inside a cloud workstation.
func insideCapsule(t *testing.T, opts fake.Options) (*fake.Server, string) {
	t.Helper()
	data := t.TempDir()
	opts.Token, opts.DataDir = testToken, data
	co := fake.New(nil, opts)
	if err := co.LoadCatalog("../../testdata/codeocean/catalog.json"); err != nil {
		t.Fatal(err)
	}
	co.AddComputation("cap-1", codeocean.Computation{ID: "comp-1"})
	t.Setenv("CODE_OCEAN_DOMAIN", co.Start(t))
	t.Setenv("CODE_OCEAN_API_TOKEN", testToken)
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("CO_COMPUTATION_ID", "comp-1")
	t.Setenv("CO_CAPSULE_ID", "cap-1")
	return co, data
}

func attachRequests(co *fake.Server) []fake.Request {
	var out []fake.Request
	for _, r := range co.Requests() {
		if strings.HasSuffix(r.Path, "/data_assets") || strings.HasPrefix(r.Path, "computations/") {
			out = append(out, r)
		}
	}
	return out
}

// Inside a running capsule attach goes to the running computation, not the
// capsule, waits until each folder is in /data and says when each arrived;
// run again, it finds them there and asks nothing.
func TestAttachInsideRunningCapsule(t *testing.T) {
	co, data := insideCapsule(t, fake.Options{MountDelay: 300 * time.Millisecond})
	code, out, errOut := runCLI(t, "attach", secondID, sampleID, "--data", data)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	reqs := attachRequests(co)
	if len(reqs) != 2 || reqs[0].Path != "computations/comp-1" || reqs[1].Path != "computations/comp-1/data_assets" {
		t.Fatalf("requests %+v, want the computation read and one attach to it", reqs)
	}
	var body []codeocean.Attachment
	if err := json.Unmarshal([]byte(reqs[1].Body), &body); err != nil || len(body) != 2 || body[0].ID != secondRawID || body[1].Mount != sampleID {
		t.Errorf("attach body %s", reqs[1].Body)
	}
	if got := co.Attached("cap-1"); len(got) != 0 {
		t.Errorf("attached to the capsule: %v", got)
	}
	for _, want := range []string{
		"attached " + secondRawID + " at /data/" + secondID + " (mounting)",
		"waiting up to 10m0s for 2 folder(s) in " + data,
		"ready " + secondRawID + " at " + filepath.Join(data, secondID),
		" at " + filepath.Join(data, sampleID) + " (after ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, name := range []string{secondID, sampleID} {
		if fi, err := os.Stat(filepath.Join(data, name)); err != nil || !fi.IsDir() {
			t.Errorf("attach returned before %s was in the data folder", name)
		}
	}

	co.ResetLog()
	code, out, errOut = runCLI(t, "attach", secondID, "--data", data)
	if code != 0 || !strings.Contains(out, secondID+": already attached") || len(attachRequests(co)) != 0 {
		t.Errorf("second run: exit %d, requests %+v\n%s%s", code, attachRequests(co), out, errOut)
	}
}

// An asset the computation lists but whose folder has not appeared is
// already attached, not attached again; the wait for it ends at its limit
// with an error naming the folder.
func TestAttachAlreadyAttachedNotMounted(t *testing.T) {
	co, data := insideCapsule(t, fake.Options{})
	co.AddComputation("cap-1", codeocean.Computation{ID: "comp-1", DataAssets: []codeocean.AttachedAsset{{ID: secondRawID, Mount: secondID}}})
	code, out, errOut := runCLI(t, "attach", secondID, "--data", data, "--wait-timeout", "600ms")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1: %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "already attached "+secondRawID+" at /data/"+secondID) {
		t.Errorf("output does not say it was attached already:\n%s", out)
	}
	if !strings.Contains(errOut, "after 600ms these attached assets are not in "+data+" yet: "+filepath.Join(data, secondID)) {
		t.Errorf("stderr does not name the folder that never came:\n%s", errOut)
	}
	if n := co.Count("POST", "computations/comp-1/data_assets"); n != 0 {
		t.Errorf("%d attach requests for an asset attached already", n)
	}

	// attached lists it as attached to the computation, not mounted yet.
	code, out, errOut = runCLI(t, "attached", data)
	if code != 0 || !strings.Contains(out, "attached to computation comp-1, not in "+data+" yet:\n  "+secondID+" ("+secondRawID+")") {
		t.Errorf("attached: exit %d\n%s%s", code, out, errOut)
	}
}

// With a session folder present, attached says which of its assets the
// computation is still mounting.
func TestAttachedShowsMounting(t *testing.T) {
	co, data := insideCapsule(t, fake.Options{})
	os.Mkdir(filepath.Join(data, sampleSorted), 0o755)
	code, out, errOut := runCLI(t, "attach", sampleID, "--data", data, "--wait=false")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	os.RemoveAll(filepath.Join(data, sampleID)) // as if still mounting
	code, out, errOut = runCLI(t, "attached", data, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var pending struct {
		Computation string                    `json:"computation"`
		NotMounted  []codeocean.AttachedAsset `json:"not_mounted"`
	}
	var sess struct {
		Session string
		Raw     attachment
	}
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &pending) != nil || json.Unmarshal([]byte(lines[1]), &sess) != nil {
		t.Fatalf("output:\n%s", out)
	}
	if pending.Computation != "comp-1" || len(pending.NotMounted) != 1 || pending.NotMounted[0].Mount != sampleID {
		t.Errorf("not mounted: %+v", pending)
	}
	if sess.Session != sampleID || sess.Raw.State != "mounting" || sess.Raw.Name != sampleID {
		t.Errorf("session line %+v, want its raw asset mounting", sess)
	}
	if comp, _ := co.Computation("comp-1"); len(comp.DataAssets) != 1 {
		t.Errorf("computation holds %+v", comp.DataAssets)
	}
}

// --dry-run says where the assets would go and asks nothing of the server
// beyond finding them.
func TestAttachDryRunInsideCapsule(t *testing.T) {
	co, data := insideCapsule(t, fake.Options{})
	code, out, errOut := runCLI(t, "attach", secondID, "--data", data, "--dry-run")
	if code != 0 || !strings.Contains(out, "would attach "+secondRawID+" at /data/"+secondID+" to computation comp-1") {
		t.Fatalf("exit %d: %s\n%s", code, out, errOut)
	}
	if reqs := attachRequests(co); len(reqs) != 0 {
		t.Errorf("dry run sent %+v", reqs)
	}
	code, out, _ = runCLI(t, "attach", secondID, "--data", data, "--dry-run", "--capsule", "cap-9")
	if code != 0 || !strings.Contains(out, "to capsule cap-9") {
		t.Errorf("--capsule beside $CO_COMPUTATION_ID: exit %d, %s", code, out)
	}
}

// A capsule whose workstation runs refuses attaching to the capsule: the
// reason reaches the user, and nothing is attached.
func TestAttachToRunningCapsuleRefused(t *testing.T) {
	co, data := insideCapsule(t, fake.Options{})
	code, out, errOut := runCLI(t, "attach", secondID, "--data", data, "--capsule", "cap-1")
	if code != exitFailure || !strings.Contains(out+errOut, "running cloud workstation") {
		t.Errorf("exit %d: %s\n%s", code, out, errOut)
	}
	if got := co.Attached("cap-1"); len(got) != 0 {
		t.Errorf("attached %v", got)
	}
}

func TestAttachHelpExplainsComputationAndCapsule(t *testing.T) {
	code, out, _ := runCLI(t, "attach", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"CO_COMPUTATION_ID", "running computation", "--capsule", "CO_CAPSULE_ID", "next run", "--wait", "--dry-run", "at most 100"} {
		if !strings.Contains(out, want) {
			t.Errorf("attach --help does not mention %q", want)
		}
	}
}

// A computation that cannot be read does not stop attached from listing the
// sessions in the folder; the log says why the mounting list is missing.
func TestAttachedWithoutTheComputation(t *testing.T) {
	insideCapsule(t, fake.Options{})
	t.Setenv("CO_COMPUTATION_ID", "comp-gone")
	code, out, errOut := runCLI(t, "attached", sampleData(t))
	if code != 0 || !strings.Contains(out, sampleID) || !strings.Contains(errOut, "cannot say what is still mounting") || !strings.Contains(errOut, "comp-gone") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}
