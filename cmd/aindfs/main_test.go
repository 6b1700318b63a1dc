package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
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
		{[]string{"nonsense"}, "unknown command"},
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
	if code != 0 || !strings.HasPrefix(out, "aindfs ") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}
