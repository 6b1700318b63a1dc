package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aind/aindfs/fs"
	"github.com/aind/aindfs/store"
)

// runCLI runs the command line in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSessionJSONOffline(t *testing.T) {
	// Offline and with no data folder nothing can be found: the identity is
	// still printed, and the reason, with exit status 1.
	code, out, errOut := runCLI(t, "session", "ecephys_686740_2023_10_26_12_29_08_to_dlc_side", "--json", "--offline", "--data", "")
	if code != exitFailure || !strings.Contains(errOut, "no raw asset for ecephys_686740_2023-10-26_12-29-08") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	want := map[string]any{
		"id": "ecephys_686740_2023-10-26_12-29-08", "platform": "ecephys", "subject_id": "686740",
		"date": "2023-10-26", "time": "12:29:08", "dt": "2023-10-26T12:29:08",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		args   []string
		errHas string
	}{
		{[]string{"session", "ecephys_676909_20231213_134340"}, `"ecephys_676909_20231213_134340": no date`},
		{[]string{"session", "676909_2023-12-13_13-43-40"}, "no subject of 6-7 digits"},
		{[]string{"session"}, "accepts 1 arg"},
		{[]string{"session", "--bogus", "x"}, "unknown flag"},
		{[]string{"nonsense"}, `unknown command "nonsense"`},
		{[]string{"version", "extra"}, "unknown command"},
		{[]string{"ls"}, "requires at least 1 arg"},
		{[]string{"attached", "a", "b"}, "accepts at most 1 arg"},
		{[]string{"mount", "--max-background", "many", "x"}, `invalid argument "many"`},
		{[]string{"mount", "--read-ahead"}, "flag needs an argument"},
		{[]string{"completion", "bash", "extra"}, `unknown command "extra"`},
		{[]string{"--log-level", "loud", "version"}, `--log-level "loud"`},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, tt.args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", tt.args, code, exitUsage)
		}
		if !strings.Contains(errOut, tt.errHas) {
			t.Errorf("%v: stderr %q does not say %q", tt.args, errOut, tt.errHas)
		}
		if out != "" {
			t.Errorf("%v: printed %q on stdout", tt.args, out)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "aindfs ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("version: exit %d, %q", code, out)
	}
	// The flag prints the same line.
	code, flagOut, _ := runCLI(t, "--version")
	if code != 0 || flagOut != out {
		t.Errorf("--version: exit %d, %q; version printed %q", code, flagOut, out)
	}
}

// Every command's help ends with what its exit statuses mean.
func TestHelpNamesExitStatus(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"mount", "--help"}, {"ls", "--help"}, {"help", "session"}} {
		code, out, _ := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "Exit status: 0 done; 1 failed") || !strings.Contains(out, "2 bad input") {
			t.Errorf("%v: exit %d, help without exit statuses:\n%s", args, code, out)
		}
	}
	// Without a command, aindfs shows its help and succeeds.
	if code, out, _ := runCLI(t); code != 0 || !strings.Contains(out, "Available Commands:") {
		t.Errorf("aindfs alone: exit %d\n%s", code, out)
	}
}

// Flag defaults are the packages' own defaults, written as sizes.
func TestFlagDefaultsFollowPackages(t *testing.T) {
	tests := []struct {
		cmd, flag string
		want      int64
	}{
		{"mount", "read-ahead", fs.DefaultReadAhead},
		{"mount", "cache-size", store.DefaultCacheBytes},
		{"ls", "cache-size", store.DefaultCacheBytes},
	}
	root := newRootCmd(&globals{stdout: io.Discard, stderr: io.Discard})
	for _, tt := range tests {
		c, _, err := root.Find([]string{tt.cmd})
		if err != nil {
			t.Fatal(err)
		}
		f := c.Flags().Lookup(tt.flag)
		if f == nil {
			t.Fatalf("%s has no --%s", tt.cmd, tt.flag)
		}
		if got, err := parseSize(f.DefValue); err != nil || got != tt.want {
			t.Errorf("%s --%s default %q = %d (%v), want %d", tt.cmd, tt.flag, f.DefValue, got, err, tt.want)
		}
	}
	for _, n := range []int64{1, 4096, 1 << 20, 16 << 20, 1 << 30, 3 << 29, 1500} {
		if got, err := parseSize(formatSize(n)); err != nil || got != n {
			t.Errorf("parseSize(formatSize(%d) = %q) = %d, %v", n, formatSize(n), got, err)
		}
	}
	if got := formatSize(16 << 20); got != "16MiB" {
		t.Errorf("formatSize(16 MiB) = %q", got)
	}
}
