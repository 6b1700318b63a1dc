package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCatBytesEqualFiles(t *testing.T) {
	data := sampleData(t)
	zarr := "ecephys/ecephys_compressed/experiment1_Record Node 104#Neuropix-PXI-100.ProbeA.zarr/0/0.0"
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(data, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		paths []string
		want  []byte
	}{
		{[]string{"sessions/" + sampleID + "/raw/" + zarr}, read(sampleID + "/" + zarr)},
		{[]string{"sessions/" + sampleID + "/metadata/subject.json"}, read(sampleID + "/subject.json")},
		// Through links: another name of the session, and a subject's link.
		{[]string{"sessions/" + sampleSorted + "/sorted/output"}, read(sampleSorted + "/output")},
		{[]string{"subjects/702131/" + secondID + "/raw/subject.json", "sessions/" + sampleID + "/raw/rig.json"},
			append(read(secondID+"/subject.json"), read(sampleID+"/rig.json")...)},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, append([]string{"cat", "--offline", "--data", data}, tt.paths...)...)
		if code != 0 {
			t.Errorf("cat %v: exit %d: %s", tt.paths, code, errOut)
			continue
		}
		if !bytes.Equal([]byte(out), tt.want) {
			t.Errorf("cat %v: %d bytes differ from the files' %d", tt.paths, len(out), len(tt.want))
		}
	}
}

func TestCatSessionJSON(t *testing.T) {
	data := sampleData(t)
	code, out, errOut := runCLI(t, "cat", "--offline", "--data", data, "sessions/"+sampleID+"/session.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, want, _ := runCLI(t, "session", "--offline", "--data", data, "--json", sampleID)
	if code != 0 || out != want {
		t.Errorf("session.json differs from `aindfs session --json`:\n%s\nwant\n%s", out, want)
	}
}

func TestCatBadPathsExit2(t *testing.T) {
	data := sampleData(t)
	tests := []struct{ path, errHas string }{
		{"sessions/" + sampleID + "/raw", "is a folder"},
		{"sessions/" + sampleID + "/raw/nope.json", "raw/nope.json: file does not exist"},
		{"sessions/" + secondID + "/sorted/output", "has no sorted folder"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, "cat", "--offline", "--data", data, tt.path)
		if code != exitUsage || !strings.Contains(errOut, tt.errHas) || out != "" {
			t.Errorf("cat %s: exit %d, stderr %q, stdout %q; want exit %d saying %q", tt.path, code, errOut, out, exitUsage, tt.errHas)
		}
	}
}
