package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/aind/aindfs/internal/metrics"
	"github.com/aind/aindfs/internal/sample"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func statsOf(t *testing.T, dir string) metrics.Snapshot {
	t.Helper()
	code, out, errOut := runCLI(t, "stats", "--json", dir)
	if code != 0 {
		t.Fatalf("stats --json: exit %d: %s", code, errOut)
	}
	var st mountStats
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("stats --json is not JSON: %v\n%s", err, out)
	}
	if st.Mount != dir {
		t.Errorf("stats of mount %q, want %q", st.Mount, dir)
	}
	return st.Snapshot
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// TestStatsCountReads: reads through the mount show in .aindfs/stats.json
// (through aindfs stats) and in the Prometheus metrics, which agree.
func TestStatsCountReads(t *testing.T) {
	dir, _, _, logs, exited := onlineMount(t, "--metrics-addr", "127.0.0.1:0", "--cache-size", "64MiB")
	defer stopMount(t, logs, exited)

	before := statsOf(t, dir)
	// Reading stats.json is not counted in it.
	if again := statsOf(t, dir); again.FUSEReads != 0 || again.OpenFiles != 0 {
		t.Errorf("after reading stats.json twice: %d FUSE reads, %d open files; want 0, 0", again.FUSEReads, again.OpenFiles)
	}
	if before.Cache.BudgetBytes != 64<<20 || before.FUSEReads != 0 || before.OpenFiles != 0 || before.PID != os.Getpid() {
		t.Errorf("before any read: %+v", before)
	}

	video := filepath.Join("behavior_videos", "Behavior_20231213T134340.mp4")
	want, err := os.ReadFile(filepath.Join(sample.DataDir(), sample.SessionID, video))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "sessions", sample.SessionID, "raw", video))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	if err != nil || len(got) != len(want) {
		t.Fatalf("read %d bytes of %d: %v", len(got), len(want), err)
	}
	open := statsOf(t, dir)
	f.Close()
	if open.OpenFiles != 1 {
		t.Errorf("open files: %d with the file open, want 1", open.OpenFiles)
	}
	// The kernel releases a closed file after close returns.
	var after metrics.Snapshot
	waitFor(t, "the closed file to be released", func() bool {
		after = statsOf(t, dir)
		return after.OpenFiles == 0
	})
	if after.FUSEReads < 1 || after.FUSEReadErrors != 0 {
		t.Errorf("fuse reads %d (%d failed), want at least 1 and none failed", after.FUSEReads, after.FUSEReadErrors)
	}
	if after.Bytes.FromCache > after.Bytes.Read || after.Bytes.Read < int64(len(want)) || after.Bytes.FromS3 < int64(len(want)) || after.Cache.Misses < 1 || after.Cache.UsedBytes < int64(len(want)) {
		t.Errorf("after reading %d bytes: bytes %+v, cache %+v", len(want), after.Bytes, after.Cache)
	}
	if gets := after.Requests["s3"]["get_range"] + after.Requests["s3"]["get"]; gets < 1 {
		t.Errorf("no S3 GET counted: %v", after.Requests)
	}
	if after.Requests["codeocean"]["search"] < 1 || after.SessionsResolved < 1 {
		t.Errorf("requests %v, sessions %d: the session was resolved through Code Ocean", after.Requests, after.SessionsResolved)
	}
	if after.UptimeSeconds <= before.UptimeSeconds {
		t.Errorf("uptime went from %v to %v", before.UptimeSeconds, after.UptimeSeconds)
	}

	// The text form says the same.
	code, out, _ := runCLI(t, "stats", dir)
	for _, s := range []string{"mount:", dir, "cache:", "64.0 MiB", "requests:", "codeocean ", "search ", "s3 ", "open files:  0"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("stats does not say %q (exit %d):\n%s", s, code, out)
		}
	}

	// The folder is hidden from the root's listing, read-only, and shows
	// only stats.json.
	if names := readDirNames(t, dir); slices.Contains(names, ".aindfs") {
		t.Errorf("the root lists %q", names)
	}
	if names := readDirNames(t, filepath.Join(dir, ".aindfs")); !slices.Equal(names, []string{"stats.json"}) {
		t.Errorf(".aindfs holds %q", names)
	}
	if err := os.WriteFile(filepath.Join(dir, statsPath), []byte("{}"), 0o644); !os.IsPermission(err) && !isErrno(err, syscall.EROFS) {
		t.Errorf("writing stats.json: %v, want EROFS", err)
	}

	// Prometheus: scraped over HTTP, parsed by its own parser.
	addr := regexp.MustCompile(`msg="serving metrics" url=(\S+)`).FindStringSubmatch(logs.String())
	if addr == nil {
		t.Fatalf("the log does not say where metrics are served:\n%s", logs.String())
	}
	resp, err := http.Get(addr[1])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	now := statsOf(t, dir)
	count := func(name, service string) (n float64) {
		fam := families[name]
		if fam == nil {
			t.Fatalf("no %s in the metrics", name)
		}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "service" && l.GetValue() == service {
					n += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
				}
			}
			if service == "" {
				n += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			}
		}
		return n
	}
	// Nothing reads between the scrape and the snapshot but readahead
	// still landing: the counts may only have grown.
	if s3 := count("aindfs_requests_total", "s3"); s3 < float64(sum(after.Requests["s3"])) || s3 > float64(sum(now.Requests["s3"])) {
		t.Errorf("metrics count %v S3 requests, stats %d then %d", s3, sum(after.Requests["s3"]), sum(now.Requests["s3"]))
	}
	if co := count("aindfs_requests_total", "codeocean"); co != float64(sum(now.Requests["codeocean"])) {
		t.Errorf("metrics count %v Code Ocean requests, stats %d", co, sum(now.Requests["codeocean"]))
	}
	if reads := count("aindfs_fuse_read_seconds", ""); reads < float64(after.FUSEReads) {
		t.Errorf("FUSE read latency histogram holds %v reads, stats counted %d", reads, after.FUSEReads)
	}
	if s3 := count("aindfs_request_seconds", "s3"); s3 < float64(sum(after.Requests["s3"])) {
		t.Errorf("S3 latency histogram holds %v requests, stats counted %d", s3, sum(after.Requests["s3"]))
	}
	if budget := count("aindfs_cache_budget_bytes", ""); budget != 64<<20 {
		t.Errorf("cache budget in the metrics %v", budget)
	}

	// Beside the metrics, Go's profiles of the mount.
	base := strings.TrimSuffix(addr[1], "/metrics")
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/profile?seconds=1"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %s, %d bytes", path, resp.Status, len(body))
		}
	}
}

func isErrno(err error, e syscall.Errno) bool {
	var pe *os.PathError
	return err != nil && (errors.As(err, &pe) && pe.Err == e)
}

func TestStatsOfNoMount(t *testing.T) {
	code, _, errOut := runCLI(t, "stats", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "is not an aindfs mount") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
