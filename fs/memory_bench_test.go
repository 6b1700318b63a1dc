package fs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/sample"
)

// The shape of the memory benchmark: one asset with a folder of 200,000
// files and one of 100,000, and 10,000 sessions of a few files each.
const (
	memBigFolder   = 200_000
	memHalfFolder  = 100_000
	memSessions    = 10_000
	memBrowseLoops = 2
	memListings    = DefaultListingEntries // --listing-cache
	memCache       = 256 << 20
	memEntryBytes  = ListingEntryBytes
	memHeadroom    = 64 << 20 // as cmd/aindfs's goHeapHeadroom
)

// BenchmarkListingMemory measures a local mount (`aindfs mount --offline
// --data`, the real binary in a process of its own) browsed the way a
// long-lived mount is: `ls -l` of folders of 100,000 and 200,000 files,
// the large one listed twice, then every one of 10,000 sessions' folders
// opened and listed, in a loop. It reports the mount's CPU for each
// listing, the ratio of 200,000 entries to 100,000 (linear is 2), and its
// resident memory against the documented budget: --cache-size +
// 2 × --listing-cache × ListingEntryBytes + 64 MiB.
//
//	go test ./fs -run '^$' -bench ListingMemory -benchtime 1x
func BenchmarkListingMemory(b *testing.B) {
	sample.RequireFUSE(b)
	bin := buildBinary(b)
	data := b.TempDir()
	const big = "ecephys_123456_2024-01-01_00-00-00"
	for _, f := range []struct {
		name string
		n    int
	}{{"big", memBigFolder}, {"half", memHalfFolder}} {
		dir := filepath.Join(data, big, f.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for i := range f.n {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("chunk_%06d.json", i)), nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	sessions := make([]string, memSessions)
	for i := range sessions {
		sessions[i] = fmt.Sprintf("ecephys_%06d_2024-02-03_04-05-06", 200_000+i)
		dir := filepath.Join(data, sessions[i], "ecephys")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"../subject.json", "../session.json", "probe.dat"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(`{}`), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	budget := int64(memCache + 2*memListings*memEntryBytes + memHeadroom)
	report := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }

	for range b.N {
		mnt := b.TempDir()
		cmd := exec.Command(bin, "--log-level", "warn", "mount", "--offline", "--data", data,
			"--cache-size", strconv.Itoa(memCache), "--listing-cache", strconv.Itoa(memListings), mnt)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir()}
		if v := os.Getenv("GOMEMLIMIT"); v != "" { // to compare with another limit
			cmd.Env = append(cmd.Env, "GOMEMLIMIT="+v)
		}
		raw := filepath.Join(mnt, "sessions", big, "raw")
		m := startProcess(b, "aindfs mount", cmd, mnt, raw, false)
		pid := cmd.Process.Pid
		timed := func(what string, run func() int) float64 {
			cpu0, t0 := cpuSeconds(b, pid), time.Now()
			n := run()
			wall, cpu := time.Since(t0), cpuSeconds(b, pid)-cpu0
			report("%-44s %8d entries %8.2f s %6.2f s CPU of the mount  RSS %4d MiB", what, n, wall.Seconds(), cpu, rss(b, pid, "VmRSS")>>20)
			return cpu
		}
		ls := func(flag, dir string) func() int {
			return func() int {
				out, err := exec.Command("ls", flag, "--color=never", dir).Output()
				if err != nil {
					b.Fatalf("ls %s %s: %v", flag, dir, err)
				}
				return bytes.Count(out, []byte("\n"))
			}
		}
		cpuHalf := timed("ls -l, 100,000 entries", ls("-l", filepath.Join(raw, "half")))
		cpuBig := timed("ls -l, 200,000 entries", ls("-l", filepath.Join(raw, "big")))
		timed("ls -f, 200,000 entries again", ls("-f", filepath.Join(raw, "big")))
		timed("ls -l, 200,000 entries again", ls("-l", filepath.Join(raw, "big")))
		afterBig := rss(b, pid, "VmRSS")
		var browse []int64
		for loop := range memBrowseLoops {
			timed(fmt.Sprintf("browse %d sessions (loop %d)", memSessions, loop+1), func() int {
				n := 0
				for _, s := range sessions {
					for _, sub := range []string{"", "/raw", "/raw/ecephys"} {
						des, err := os.ReadDir(filepath.Join(mnt, "sessions", s) + sub)
						if err != nil {
							b.Fatal(err)
						}
						n += len(des)
					}
				}
				return n
			})
			browse = append(browse, rss(b, pid, "VmRSS"))
		}
		peak := rss(b, pid, "VmHWM")
		m.stop(b)
		report("RSS after the large listings %d MiB; after each browsing loop %v MiB; peak %d MiB; budget %d MiB (cache %d + 2 × %d listing entries × %d B + %d MiB)",
			afterBig>>20, mib(browse), peak>>20, budget>>20, memCache>>20, memListings, memEntryBytes, memHeadroom>>20)
		report("CPU of ls -l: 200,000 entries / 100,000 = %.2f (linear: 2)", cpuBig/cpuHalf)
		b.ReportMetric(cpuBig/cpuHalf, "cpu200k/cpu100k")
		b.ReportMetric(float64(peak)/float64(budget), "peakRSS/budget")
	}
}

// rss returns a field of the process's /proc status in bytes (VmRSS: now,
// VmHWM: peak).
func rss(b *testing.B, pid int, field string) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == field+":" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func mib(v []int64) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = x >> 20
	}
	return out
}
