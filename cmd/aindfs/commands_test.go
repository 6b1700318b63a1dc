package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aind/aindfs/codeocean/fake"
	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

const (
	sampleID     = "ecephys_676909_2023-12-13_13-43-40"
	sampleSorted = sampleID + "_sorted_2024-03-01_16-02-45"
	secondID     = "behavior_702131_2024-02-05_10-11-12"
	testToken    = "cop_cmd-test-token"
)

func sampleData(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../testdata/data")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// withFakeCodeOcean points the command line at a fake Code Ocean serving the
// test catalog, and S3 at an address where nothing listens.
func withFakeCodeOcean(t *testing.T) *fake.Server {
	t.Helper()
	co := fake.New(nil, fake.Options{Token: testToken})
	if err := co.LoadCatalog("../../testdata/codeocean/catalog.json"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CODE_OCEAN_DOMAIN", co.Start(t))
	t.Setenv("CODE_OCEAN_API_TOKEN", testToken)
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	return co
}

func TestSessionFromLocalData(t *testing.T) {
	code, out, errOut := runCLI(t, "session", sampleID, "--offline", "--data", sampleData(t), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var info struct {
		ID           string   `json:"id"`
		Modalities   []string `json:"modalities"`
		RawDataDir   string   `json:"raw_data_dir"`
		RawDataAsset struct {
			Name string `json:"name"`
		} `json:"raw_data_asset"`
		SortedDataAsset struct {
			Name string `json:"name"`
		} `json:"sorted_data_asset"`
		DataAssets []any `json:"data_assets"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if info.ID != sampleID || info.RawDataAsset.Name != sampleID || info.SortedDataAsset.Name != sampleSorted ||
		info.RawDataDir != "file://"+filepath.Join(sampleData(t), sampleID) || len(info.DataAssets) != 3 ||
		!slices.Equal(info.Modalities, []string{"behavior", "behavior_videos", "ecephys"}) {
		t.Errorf("session.json = %s", out)
	}

	// The text form names the same choices.
	code, out, _ = runCLI(t, "session", sampleID, "--offline", "--data", sampleData(t))
	if code != 0 || !strings.Contains(out, "sorted asset:  "+sampleSorted) || !strings.Contains(out, "modalities:    behavior, behavior_videos, ecephys") {
		t.Errorf("exit %d, text output:\n%s", code, out)
	}
	// The sortings, oldest first: sorter, created, probes, verdict.
	_, table, ok := strings.Cut(out, "sortings:      2\n")
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		rows = append(rows, strings.Fields(line))
	}
	want := [][]string{
		{"SORTER", "CREATED", "PROBES", "VERDICT"},
		{"kilosort2_5", "2024-03-01", "16:02", "ProbeA", "good"},
		{"kilosort4", "2024-04-02", "09:15", "none", "failed:", "Out", "of", "memory."},
	}
	if !ok || !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("sortings table = %q, want %q; output:\n%s", rows, want, out)
	}
}

func TestSessionNotFound(t *testing.T) {
	code, out, errOut := runCLI(t, "session", "ecephys_111111_2024-01-01_00-00-00", "--offline", "--data", sampleData(t), "--json")
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(out, `"id": "ecephys_111111_2024-01-01_00-00-00"`) || !strings.Contains(out, `"raw_data_asset": null`) {
		t.Errorf("stdout does not show what the name says:\n%s", out)
	}
	if !strings.Contains(errOut, "nothing was uploaded") {
		t.Errorf("stderr does not say why: %s", errOut)
	}
}

func TestAttachedOffline(t *testing.T) {
	code, out, errOut := runCLI(t, "attached", sampleData(t), "--offline")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := strings.Fields(out); !slices.Equal(got, []string{secondID, sampleID}) {
		t.Errorf("attached = %q, want the two sessions of the sample", got)
	}
	code, _, errOut = runCLI(t, "attached", t.TempDir(), "--offline")
	if code != exitFailure || !strings.Contains(errOut, "no asset folders of sessions in") {
		t.Errorf("empty folder: exit %d, %s", code, errOut)
	}
}

func TestAttachedOnline(t *testing.T) {
	withFakeCodeOcean(t)
	code, out, errOut := runCLI(t, "attached", sampleData(t))
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("output:\n%s", out)
	}
	if f := strings.Fields(lines[1]); f[0] != secondID || f[1] != "attached" || f[2] != "none" {
		t.Errorf("line for %s: %q", secondID, lines[1])
	}
	if f := strings.Fields(lines[2]); f[0] != sampleID || f[1] != "attached" || f[2] != "attached" {
		t.Errorf("line for %s: %q", sampleID, lines[2])
	}
	if strings.Contains(out+errOut, testToken) {
		t.Error("the token was printed")
	}
}

func TestAttachedJSON(t *testing.T) {
	code, out, errOut := runCLI(t, "attached", sampleData(t), "--offline", "--json")
	if code != 0 || out != `{"session":"`+secondID+`"}`+"\n"+`{"session":"`+sampleID+`"}`+"\n" {
		t.Errorf("offline: exit %d, %q %s", code, out, errOut)
	}

	withFakeCodeOcean(t)
	code, out, errOut = runCLI(t, "attached", sampleData(t), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	type line struct {
		Session     string
		Raw, Sorted attachment
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, v)
	}
	want := []line{
		{secondID, attachment{State: "attached", Name: secondID, ID: got[0].Raw.ID}, attachment{State: "none"}},
		{sampleID, attachment{State: "attached", Name: sampleID, ID: got[1].Raw.ID}, attachment{State: "attached", Name: sampleSorted, ID: got[1].Sorted.ID}},
	}
	if !slices.Equal(got, want) || got[0].Raw.ID == "" || got[1].Sorted.ID == "" {
		t.Errorf("attached --json = %+v, want %+v", got, want)
	}

	// An empty capsule: every asset is missing, named.
	empty := t.TempDir()
	os.Mkdir(filepath.Join(empty, sampleSorted), 0o755)
	code, out, errOut = runCLI(t, "attached", empty, "--json")
	var l line
	if err := json.Unmarshal([]byte(out), &l); code != 0 || err != nil || l.Raw.State != "missing" || l.Raw.Name != sampleID || l.Raw.ID == "" || l.Sorted.State != "attached" {
		t.Errorf("exit %d, %v: %s %s", code, err, out, errOut)
	}
}

func TestAttach(t *testing.T) {
	co := withFakeCodeOcean(t)
	empty := t.TempDir()
	code, out, errOut := runCLI(t, "attach", secondID, "ecephys_686740_2023_10_26_12_29_08", "--capsule", "cap-1", "--data", empty)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	var mounts []string
	for _, a := range co.Attached("cap-1") {
		mounts = append(mounts, a.Mount)
	}
	if want := []string{secondID, "ecephys_686740_2023_10_26_12_29_08"}; !slices.Equal(mounts, want) {
		t.Errorf("attached %v, want %v", mounts, want)
	}
	if !strings.Contains(out, "attached ") {
		t.Errorf("output does not report the attachments:\n%s", out)
	}

	// Already attached: nothing is asked of the capsule.
	code, out, _ = runCLI(t, "attach", secondID, "--capsule", "cap-2", "--data", sampleData(t))
	if code != 0 || len(co.Attached("cap-2")) != 0 || !strings.Contains(out, secondID+": already attached") {
		t.Errorf("exit %d, attached %v, output %s", code, co.Attached("cap-2"), out)
	}
}

func TestAttachNeedsCapsuleAndToken(t *testing.T) {
	t.Setenv("CO_CAPSULE_ID", "")
	t.Setenv("CO_COMPUTATION_ID", "")
	code, _, errOut := runCLI(t, "attach", sampleID)
	if code != exitUsage || !strings.Contains(errOut, "nothing to attach to: give --computation ID or --capsule ID") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	t.Setenv("CODE_OCEAN_API_TOKEN", "")
	code, _, errOut = runCLI(t, "attach", sampleID, "--capsule", "c")
	if code != exitFailure || !strings.Contains(errOut, "CODE_OCEAN_API_TOKEN") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1073741824", 1 << 30, true}, {"1GiB", 1 << 30, true}, {"512MiB", 512 << 20, true},
		{"2G", 2 << 30, true}, {"100MB", 100e6, true}, {"1.5GiB", 3 << 29, true}, {"64k", 64 << 10, true},
		{"", 0, false}, {"lots", 0, false}, {"-1GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestSessionOnline(t *testing.T) {
	withFakeCodeOcean(t)
	srv := s3test.NewServer(t, s3test.Options{})
	if _, err := sample.LoadS3(srv); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	tests := []struct{ name, want string }{
		{sample.SessionID, `"raw_data_dir": "s3://aind-private-data-prod-o5171v/` + sample.SessionID + `"`},
		{sample.SessionID, `"name": "` + sample.SortedName + `"`},
		{sample.OldRawName + "_to_dlc_side", `"raw_data_dir": "s3://aind-ephys-data/` + sample.OldRawName + `"`},
		{sample.BucketOnlyID, `"raw_data_asset": null`},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, "session", tt.name, "--json", "--data", "")
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("session %s: exit %d, stdout lacks %s:\n%s\n%s", tt.name, code, tt.want, out, errOut)
		}
	}
}

func TestMissingDataFolder(t *testing.T) {
	code, _, errOut := runCLI(t, "session", sampleID, "--offline", "--data", "/nonexistent/data")
	if code != exitUsage || !strings.Contains(errOut, "--data /nonexistent/data: no such folder") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
