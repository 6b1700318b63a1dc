package resolve

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aind/aindfs/store"
)

// A pipeline log, as the sorting pipeline writes it, with a line appended.
func pipelineOutput(line string) string {
	return "N E X T F L O W  ~  version 22.10.6\n" +
		"[9c/3f4a5b] process > spikesorting_kilosort4 (1) [100%] 1 of 1\n" +
		"[1d/4a5b6c] process > postprocessing (1)      [100%] 1 of 1\n" +
		line + "\n"
}

func TestSortingVerdictMarkers(t *testing.T) {
	cases := []struct {
		name, output, marker string
	}{
		{"clean pipeline run", pipelineOutput("Succeeded   : 9"), ""},
		{"container exited", "Essential container in task exited\n", "Essential container in task exited"},
		{"out of memory", "job 3: Out of memory.\n", "Out of memory."},
		{"docker timeout", "Task failed to start - DockerTimeoutError: x\n", "Task failed to start - DockerTimeoutError"},
		{"CUDA outside the pipeline", "spike sorting\nThe CUDA error was: an illegal memory access\n", "The CUDA error was:"},
		{"CUDA in the pipeline's own output", pipelineOutput("The CUDA error was: an illegal memory access"), ""},
		{"CUDA in a log without nextflow", "sorting with kilosort\nThe CUDA error was: x\n", "The CUDA error was:"},
		{"traceback", "Traceback (most recent call last):\n  File x\n", "Traceback (most recent call last):"},
		{"command error", pipelineOutput("Command error:\n  exit 1"), "Command error:"},
		{"killed tasks", "WARN: Killing running tasks (3)\n", "WARN: Killing running tasks"},
		{"CUDA exemption leaves other markers", pipelineOutput("The CUDA error was: x\nCommand error:"), "Command error:"},
	}
	for _, c := range cases {
		if got := sortingFailure(c.output); got != c.marker {
			t.Errorf("%s: failure marker = %q, want %q", c.name, got, c.marker)
		}
	}
}

func TestProbeNames(t *testing.T) {
	cases := []struct{ entry, probe string }{
		{"experiment1_Record Node 104#Neuropix-PXI-100.ProbeF-AP_recording1", "ProbeF"},
		{"experiment1_Record Node 104#Neuropix-PXI-100.ProbeA_recording1", "ProbeA"},
		{"experiment2_Record Node 102#Neuropix-PXI-100.ProbeB-LFP_recording3", "ProbeB"},
		{"experiment1_Record Node 104#Neuropix-PXI-100.ProbeC-AP", "ProbeC"},
		{"experiment1_Record Node 104#Neuropix-PXI-100.ProbeD_recording1.zarr", "ProbeD"},
		{"ProbeE_recording1", "ProbeE"},
	}
	for _, c := range cases {
		if got := probeName(c.entry); got != c.probe {
			t.Errorf("probeName(%q) = %q, want %q", c.entry, got, c.probe)
		}
	}
}

func TestIsSorted(t *testing.T) {
	s := MustParseSession(sampleID)
	cases := []struct {
		name   string
		sorted bool
	}{
		{sampleID + "_sorted_2024-03-01_16-02-45", true},
		{sampleID + "_sorted-ks4_2024-04-02_09-15-00", true},
		{sampleID + "_sorted", true},                                            // the library's rule alone
		{sampleID + "_sorted_curated", true},                                    // the library's rule alone
		{"ecephys_676909_2023_12_13_13_43_40_sorted_2024-03-01_16-02-45", true}, // the suffix rule alone
		{sampleID, false},
		{sampleID + "_nwb_2024-03-02_10-00-00", false},
		{sampleID + "_processed_sorted_2024-03-02_10-00-00", false},
	}
	for _, c := range cases {
		if got := isSorted(Asset{Name: c.name}, s); got != c.sorted {
			t.Errorf("isSorted(%q) = %v, want %v", c.name, got, c.sorted)
		}
	}
}

// writeFiles makes a folder of files (path -> contents) and returns it.
func writeFiles(t *testing.T, files map[string]string) store.URI {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return store.Local(dir)
}

func TestSorterNameSources(t *testing.T) {
	sorting := `{"name": "Spike sorting", "parameters": {"sorter_name": "kilosort4"}}`
	preprocessing := `{"name": "Ephys preprocessing", "parameters": {"sorter_name": "not-a-sorter"}}`
	si := `{"annotations": {"__sorting_info__": {"params": {"sorter_name": "spykingcircus2"}}}}`
	params := `{"spikesorting": {"sorter_name": "kilosort2_5"}}`
	cases := []struct {
		name   string
		files  map[string]string
		sorter string
	}{
		{"processing_pipeline.data_processes", map[string]string{
			"processing.json": `{"processing_pipeline": {"data_processes": [` + preprocessing + `,` + sorting + `]}}`,
			"params.json":     params,
		}, "kilosort4"},
		{"top-level data_processes", map[string]string{
			"processing.json": `{"data_processes": [` + sorting + `]}`,
		}, "kilosort4"},
		{"nested process lists", map[string]string{
			"processing.json": `{"processing_pipeline": {"data_processes": [[` + preprocessing + `], [[` + sorting + `]]]}}`,
		}, "kilosort4"},
		{"code.parameters", map[string]string{
			"processing.json": `{"data_processes": [{"name": "Spike sorting (kilosort)", "code": {"parameters": {"sorter_name": "kilosort2"}}}]}`,
		}, "kilosort2"},
		{"spikesorted si_folder.json", map[string]string{
			"processing.json": `{"processing_pipeline": {"data_processes": []}}`,
			"spikesorted/experiment1_ProbeA_recording1/si_folder.json": si,
			"params.json": params,
		}, "spykingcircus2"},
		{"postprocessed sorting.json", map[string]string{
			"postprocessed/experiment1_ProbeA_recording1/sorting.json": si,
			"params.json": params,
		}, "spykingcircus2"},
		{"si_folder.json before sorting.json", map[string]string{
			"spikesorted/a/si_folder.json": si,
			"postprocessed/a/sorting.json": `{"annotations": {"__sorting_info__": {"params": {"sorter_name": "other"}}}}`,
		}, "spykingcircus2"},
		{"params.json", map[string]string{
			"processing.json": `{"processing_pipeline": {"data_processes": [` + preprocessing + `]}}`,
			"params.json":     params,
		}, "kilosort2_5"},
		{"no source", map[string]string{
			"processing.json": `not json`,
			"output":          "x",
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := newLocalResolver(t)
			got, err := r.sorterName(context.Background(), writeFiles(t, c.files))
			if err != nil || got != c.sorter {
				t.Errorf("sorter = %q, %v; want %q", got, err, c.sorter)
			}
		})
	}
}

// A large file is never read to learn a sorter: processing.json over the
// limit is passed over for the next source.
func TestSorterNameSkipsLargeFiles(t *testing.T) {
	big := `{"data_processes": [{"name": "Spike sorting", "parameters": {"sorter_name": "kilosort4"}}], "pad": "` +
		strings.Repeat("x", maxJSONBytes) + `"}`
	loc := writeFiles(t, map[string]string{"processing.json": big, "params.json": `{"spikesorting": {"sorter_name": "kilosort2_5"}}`})
	r, objs := newLocalResolver(t)
	got, err := r.sorterName(context.Background(), loc)
	if err != nil || got != "kilosort2_5" {
		t.Errorf("sorter = %q, %v; want kilosort2_5 from params.json", got, err)
	}
	if n := objs.bytesRead(); n > 1<<20 {
		t.Errorf("read %d bytes to learn a sorter", n)
	}
}

func TestSortedAssetsOfSample(t *testing.T) {
	r, _ := newLocalResolver(t)
	sorted, err := r.SortedAssets(context.Background(), MustParseSession(sampleID))
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ name, sorter, probes, verdict, analyzer string }
	var got []row
	for _, v := range sorted {
		got = append(got, row{v.Name, v.Sorter, strings.Join(v.Probes, ","), v.Verdict(), v.SortingAnalyzer})
	}
	want := []row{
		{sampleSorted, "kilosort2_5", "ProbeA", "good", "postprocessed/experiment1_Record Node 104#Neuropix-PXI-100.ProbeA_recording1.zarr"},
		{sampleFailed, "kilosort4", "", "failed: Out of memory.", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("sorted assets =\n%v\nwant\n%v", got, want)
	}
	sorters, err := r.Sorters(context.Background(), MustParseSession(sampleID))
	if err != nil || len(sorters) != 1 || sorters[0].Name != sampleSorted {
		t.Errorf("sorters = %v, %v; want kilosort2_5 -> %s (kilosort4 failed)", sorters, err, sampleSorted)
	}
}

// A sorted asset without an output file has no verdict ("unknown"), yet
// nothing says it failed: it may still be the session's sorted/ folder.
func TestSortingWithoutOutputIsUnknown(t *testing.T) {
	dir := t.TempDir()
	for name, files := range map[string]map[string]string{
		sampleID:                                 {"subject.json": "{}"},
		sampleID + "_sorted_2024-03-01_16-02-45": {"curated/experiment1.ProbeB-AP_recording1/x": "1"},
	} {
		for f, data := range files {
			p := filepath.Join(dir, name, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := New(Config{DataDir: dir, Objects: newFakeObjects(t), Buckets: []string{}})
	t.Cleanup(r.Close)
	s := MustParseSession(sampleID)
	sorted, err := r.SortedAssets(context.Background(), s)
	if err != nil || len(sorted) != 1 {
		t.Fatalf("sorted assets = %v, %v", sorted, err)
	}
	if v := sorted[0]; v.Verdict() != "unknown: no output file" || v.Failed || !slices.Equal(v.Probes, []string{"ProbeB"}) {
		t.Errorf("verdict %q, failed %v, probes %v", v.Verdict(), v.Failed, v.Probes)
	}
	if a, ok, err := r.SortedAsset(context.Background(), s); err != nil || !ok || a.Name != sorted[0].Name {
		t.Errorf("sorted asset = %v, %v, %v", a.Name, ok, err)
	}
}

func TestSessionJSONSortings(t *testing.T) {
	r, _ := newLocalResolver(t)
	info, err := r.Info(context.Background(), MustParseSession(sampleID))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(info)
	var got struct {
		Sorted []map[string]any `json:"sorted_data_assets"`
		Sorter []string         `json:"sorters"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Sorted) != 2 || got.Sorted[0]["name"] != sampleSorted || got.Sorted[1]["name"] != sampleFailed {
		t.Fatalf("sorted_data_assets = %v", got.Sorted)
	}
	for _, k := range []string{"id", "name", "created", "sorter", "probes", "failed", "reason", "sorting_analyzer"} {
		if _, ok := got.Sorted[0][k]; !ok {
			t.Errorf("sorted_data_assets[0] has no %q: %v", k, got.Sorted[0])
		}
	}
	if got.Sorted[1]["failed"] != true || got.Sorted[1]["reason"] != "Out of memory." || got.Sorted[0]["reason"] != nil {
		t.Errorf("verdicts = %v / %v", got.Sorted[0], got.Sorted[1])
	}
	if !slices.Equal(got.Sorter, []string{"kilosort2_5"}) {
		t.Errorf("sorters = %v", got.Sorter)
	}
}

func TestEcephysFolders(t *testing.T) {
	o := newOnline(t)
	cases := []struct {
		session string
		want    []RawFolder
	}{
		// The raw asset holds ecephys/ecephys_clipped and _compressed.
		{sampleID, []RawFolder{{"clipped", "ecephys/ecephys_clipped"}, {"compressed", "ecephys/ecephys_compressed"}}},
		// An older upload: ecephys_compressed at the top, nothing clipped.
		{bucketOnlyS, []RawFolder{{"compressed", "ecephys_compressed"}}},
	}
	for _, c := range cases {
		got, err := o.r.EcephysFolders(context.Background(), MustParseSession(c.session))
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: ecephys folders = %v, %v; want %v", c.session, got, err, c.want)
		}
	}
}

// The sortings of a session are read from S3 once: a second question, and
// session.json after it, ask S3 nothing more.
func TestSortingsAreReadOnce(t *testing.T) {
	o := newOnline(t)
	ctx := context.Background()
	s := MustParseSession(sampleID)
	if _, err := o.r.Assets(ctx, s); err != nil {
		t.Fatal(err)
	}
	before := o.objs.S3Requests()
	sorted, err := o.r.SortedAssets(ctx, s)
	if err != nil || len(sorted) != 2 || sorted[0].Sorter != "kilosort2_5" || sorted[1].Sorter != "kilosort4" {
		t.Fatalf("sorted assets = %+v, %v", sorted, err)
	}
	first := o.objs.S3Requests() - before
	t.Logf("two sortings read with %d S3 requests (%d lists, %d stats, %d reads, %d probes)", first,
		o.objs.Requests("List s3"), o.objs.Requests("Stat s3"), o.objs.Requests("ReadRange s3"), o.objs.Requests("Exists s3"))
	if _, err := o.r.SortedAssets(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := o.r.Sorters(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n := o.objs.S3Requests() - before - first; n != 0 {
		t.Errorf("asking again made %d S3 requests, want none", n)
	}
}

// Assets in session.json carry what the catalog says of them and where
// their files are on S3: the catalog's source bucket, or the bucket the
// sorted assets were found in.
func TestSessionJSONAssetFields(t *testing.T) {
	o := newOnline(t)
	ctx := context.Background()
	info, err := o.r.Info(ctx, MustParseSession(sampleID))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(info)
	var got struct {
		Assets []struct {
			ID             string            `json:"id"`
			Tags           []string          `json:"tags"`
			CustomMetadata map[string]string `json:"custom_metadata"`
			State          string            `json:"state"`
			Location       string            `json:"location"`
		} `json:"data_assets"`
		Sorted []struct {
			ID       string `json:"id"`
			Location string `json:"location"`
		} `json:"sorted_data_assets"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	for i, a := range got.Assets {
		byID[a.ID] = i
	}
	raw := got.Assets[byID["51c6aad4-7ce0-541d-89e1-61b9f7cc6ffd"]]
	if !slices.Equal(raw.Tags, []string{"ecephys", "raw", "676909"}) || raw.CustomMetadata["data level"] != "raw data" ||
		raw.State != "ready" || raw.Location != "s3://aind-private-data-prod-o5171v/"+sampleID {
		t.Errorf("raw asset in session.json = %+v", raw)
	}
	const coBucket = "s3://codeocean-s3datasetsbucket-1u41qdg42ur9/"
	sorted := got.Assets[byID["a5ee3722-fb3b-560f-844e-da1c7631744f"]]
	if sorted.Location != coBucket+"a5ee3722-fb3b-560f-844e-da1c7631744f" {
		t.Errorf("sorted asset's location = %q, want the bucket it was found in", sorted.Location)
	}
	for _, v := range got.Sorted {
		if v.Location != coBucket+v.ID {
			t.Errorf("sorted_data_assets %s: location %q", v.ID, v.Location)
		}
	}
	if nwb := got.Assets[byID["26f853a9-cd0f-59fd-ba5d-bd4be0bf7299"]]; nwb.Location != "" {
		t.Errorf("nwb asset (in no bucket) has location %q", nwb.Location)
	}
}
