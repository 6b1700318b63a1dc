package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aind/aindfs/codeocean/fake"
)

// lsEntry is one line of `aindfs ls -l`.
type lsEntry struct {
	mode, name, target string
	size               int64
}

func parseLs(t *testing.T, out string) []lsEntry {
	t.Helper()
	var entries []lsEntry
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		// mode size date time name [-> target]; names may hold spaces.
		f := strings.SplitN(line, " ", 2)
		if len(f) != 2 {
			t.Fatalf("line %q is not mode size date time name", line)
		}
		rest := strings.TrimLeft(f[1], " ")
		g := strings.SplitN(rest, " ", 4)
		if len(g) != 4 {
			t.Fatalf("line %q is not mode size date time name", line)
		}
		size, err := strconv.ParseInt(g[0], 10, 64)
		if err != nil {
			t.Fatalf("line %q: size: %v", line, err)
		}
		e := lsEntry{mode: f[0], size: size, name: g[3]}
		if name, target, ok := strings.Cut(e.name, " -> "); ok && e.mode[0] == 'l' {
			e.name, e.target = name, target
		}
		entries = append(entries, e)
	}
	return entries
}

func TestLsLongMatchesSource(t *testing.T) {
	data := sampleData(t)
	tests := []struct{ path, source string }{
		{"sessions/" + sampleID + "/raw", sampleID},
		{"sessions/" + sampleID + "/raw/behavior_videos", sampleID + "/behavior_videos"},
		{"sessions/" + sampleID + "/sorted", sampleSorted},
		{"sessions/" + sampleID + "/assets/" + sampleSorted + "/curated", sampleSorted + "/curated"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, "ls", "-l", "--offline", "--data", data, tt.path)
		if code != 0 {
			t.Errorf("ls -l %s: exit %d: %s", tt.path, code, errOut)
			continue
		}
		des, err := os.ReadDir(filepath.Join(data, tt.source))
		if err != nil {
			t.Fatal(err)
		}
		got := parseLs(t, out)
		if len(got) != len(des) {
			t.Errorf("ls -l %s: %d entries, source has %d:\n%s", tt.path, len(got), len(des), out)
			continue
		}
		for i, de := range des {
			fi, _ := de.Info()
			want := lsEntry{mode: "-r--r--r--", name: de.Name(), size: fi.Size()}
			if de.IsDir() {
				want = lsEntry{mode: "dr-xr-xr-x", name: de.Name()}
			}
			if got[i] != want {
				t.Errorf("ls -l %s: line %d is %+v, want %+v", tt.path, i, got[i], want)
			}
		}
	}
}

func TestLsTree(t *testing.T) {
	data := sampleData(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"sessions"}, []string{secondID, sampleID}},
		{[]string{"sessions/" + sampleID}, []string{"assets", "clipped", "compressed", "metadata", "raw", "session.json", "sorted", "sorters"}},
		{[]string{"sessions/" + sampleID + "/sorters"}, []string{"kilosort2_5"}},
		{[]string{"sessions/" + secondID}, []string{"assets", "metadata", "raw", "session.json"}},
		// Another name of a session lists the session, as ls follows links to folders.
		{[]string{"sessions/" + sampleSorted}, []string{"assets", "clipped", "compressed", "metadata", "raw", "session.json", "sorted", "sorters"}},
		{[]string{"/subjects/676909/"}, []string{sampleID}},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, append([]string{"ls", "--offline", "--data", data}, tt.args...)...)
		if code != 0 {
			t.Errorf("ls %v: exit %d: %s", tt.args, code, errOut)
			continue
		}
		if got := strings.Fields(out); !slices.Equal(got, tt.want) {
			t.Errorf("ls %v = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestLsLongShowsLinks(t *testing.T) {
	code, out, errOut := runCLI(t, "ls", "-l", "--offline", "--data", sampleData(t), "sessions/"+sampleSorted, "subjects/676909")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"lrwxrwxrwx 34 2023-12-13 13:43 " + sampleSorted + " -> " + sampleID + "\n",
		" " + sampleID + " -> ../../sessions/" + sampleID + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ls -l does not show %q:\n%s", want, out)
		}
	}
}

func TestLsBadPathsExit2(t *testing.T) {
	data := sampleData(t)
	tests := []struct {
		path, errHas string
	}{
		{"sessions/not-a-session", `"not-a-session": no platform`},
		{"sessions/ecephys_676909_20231213_134340", "no date"},
		{"sessions/ecephys_111111_2024-01-02_03-04-05", "nothing found for session ecephys_111111_2024-01-02_03-04-05"},
		{"sessions/" + sampleID + "/nope", "sessions/" + sampleID + "/nope: file does not exist"},
		{"sessions/" + sampleID + "/session.json/x", "not a folder"},
		{"subjects/12345", "not a subject ID"},
		{"nope", "nope: file does not exist"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, "ls", "--offline", "--data", data, tt.path)
		if code != exitUsage {
			t.Errorf("ls %s: exit %d, want %d", tt.path, code, exitUsage)
		}
		if !strings.Contains(errOut, tt.errHas) {
			t.Errorf("ls %s: stderr %q does not say %q", tt.path, errOut, tt.errHas)
		}
		if out != "" {
			t.Errorf("ls %s: printed %q", tt.path, out)
		}
	}
	if code, _, _ := runCLI(t, "ls"); code != exitUsage {
		t.Errorf("ls without a path: exit %d, want %d", code, exitUsage)
	}
}

// A catalog that refuses to answer is a failure (exit 1), not a wrong path.
func TestLsCatalogFailureExit1(t *testing.T) {
	co := withFakeCodeOcean(t)
	co.SetFaultHook(func(fake.Request) *fake.Fault { return &fake.Fault{Status: 403, Message: "no access to datasets"} })
	code, _, errOut := runCLI(t, "ls", "--data", "", "sessions/"+sampleID)
	if code != exitFailure {
		t.Errorf("exit %d, want %d; stderr %s", code, exitFailure, errOut)
	}
	if !strings.Contains(errOut, "403") && !strings.Contains(errOut, "no access to datasets") {
		t.Errorf("stderr does not give the cause: %s", errOut)
	}
}

func TestLsJSON(t *testing.T) {
	data := sampleData(t)
	path := "sessions/" + sampleID + "/raw/behavior_videos"
	code, out, errOut := runCLI(t, "ls", "--json", "--offline", "--data", data, path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	des, err := os.ReadDir(filepath.Join(data, sampleID, "behavior_videos"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(des) {
		t.Fatalf("%d lines for %d entries:\n%s", len(lines), len(des), out)
	}
	for i, de := range des {
		var got listEntry
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("line %q: %v", lines[i], err)
		}
		fi, _ := de.Info()
		want := listEntry{Path: path + "/" + de.Name(), Name: de.Name(), Type: "file", Size: fi.Size(), Mode: "0444", ModTime: got.ModTime}
		if de.IsDir() {
			want.Type, want.Size, want.Mode = "dir", 0, "0555"
		}
		if got != want || got.ModTime.IsZero() {
			t.Errorf("line %d = %+v, want %+v", i, got, want)
		}
	}

	// Links carry their targets.
	code, out, _ = runCLI(t, "ls", "--json", "--offline", "--data", data, "subjects/676909")
	var link listEntry
	if err := json.Unmarshal([]byte(out), &link); code != 0 || err != nil || link.Type != "symlink" || link.Target != "../../sessions/"+sampleID || link.Name != sampleID {
		t.Errorf("exit %d, %v: %s", code, err, out)
	}
}
