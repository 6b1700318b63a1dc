package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

// TestURL: url names the S3 object behind raw, sorted, metadata and assets/
// paths, with the size and ETag S3 has for it.
func TestURL(t *testing.T) {
	withFakeCodeOcean(t)
	srv := s3test.NewServer(t, s3test.Options{})
	if _, err := sample.LoadS3(srv); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	const (
		rawBucket = "aind-private-data-prod-o5171v"
		coBucket  = "codeocean-s3datasetsbucket-1u41qdg42ur9"
		sortedID  = "a5ee3722-fb3b-560f-844e-da1c7631744f"
		failedID  = "cc7809c0-fe51-5e52-8438-33feeaac8ec9"
	)
	tests := []struct {
		path, bucket, key, source string
	}{
		{"sessions/" + sample.SessionID + "/raw/subject.json", rawBucket, sample.SessionID + "/subject.json", "data/" + sample.SessionID + "/subject.json"},
		{"sessions/" + sample.SessionID + "/metadata/rig.json", rawBucket, sample.SessionID + "/rig.json", "data/" + sample.SessionID + "/rig.json"},
		{"sessions/" + sample.SessionID + "/sorted/output", coBucket, sortedID + "/output", "data/" + sample.SortedName + "/output"},
		// Another name of the session, followed as a link.
		{"sessions/" + sample.SortedName + "/sorted/processing.json", coBucket, sortedID + "/processing.json", "data/" + sample.SortedName + "/processing.json"},
		{"sessions/" + sample.SessionID + "/assets/" + sample.FailedName + "/output", coBucket, failedID + "/output", "data/" + sample.FailedName + "/output"},
		{"assets/" + failedID + "/output", coBucket, failedID + "/output", "data/" + sample.FailedName + "/output"},
		{"sessions/" + sample.OldSessionID + "/raw/subject.json", "aind-ephys-data", sample.OldRawName + "/subject.json", "s3/aind-ephys-data/" + sample.OldRawName + "/subject.json"},
	}
	for _, tt := range tests {
		want := "s3://" + tt.bucket + "/" + tt.key
		code, out, errOut := runCLI(t, "url", "--data", "", tt.path)
		if code != 0 || out != want+"\n" {
			t.Errorf("url %s: exit %d, %q, want %q; %s", tt.path, code, out, want, errOut)
			continue
		}
		code, out, errOut = runCLI(t, "url", "--json", "--data", "", tt.path)
		var got objectURL
		if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
			t.Errorf("url --json %s: exit %d, %v: %q %s", tt.path, code, err, out, errOut)
			continue
		}
		fi, err := os.Stat(filepath.Join(sample.Dir(), tt.source))
		if err != nil {
			t.Fatal(err)
		}
		if got.URL != want || got.Size != fi.Size() || got.ETag != srv.ETag(tt.bucket, tt.key) || got.Path != tt.path {
			t.Errorf("url --json %s = %+v, want %s, %d bytes, ETag %s", tt.path, got, want, fi.Size(), srv.ETag(tt.bucket, tt.key))
		}
	}
}

func TestURLRefusesWhatIsNotStored(t *testing.T) {
	data := sampleData(t)
	tests := []struct{ path, errHas string }{
		{"sessions/" + sampleID + "/session.json", "is made by aindfs"},
		{"sessions/" + sampleID + "/raw", "is a folder"},
		{"sessions/" + sampleID + "/nope", "file does not exist"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, "url", "--offline", "--data", data, tt.path)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.errHas) {
			t.Errorf("url %s: exit %d, stdout %q, stderr %q; want exit 2 saying %q", tt.path, code, out, errOut, tt.errHas)
		}
	}
	// A file of --data is named by its path.
	code, out, errOut := runCLI(t, "url", "--offline", "--data", data, "sessions/"+sampleID+"/sorted/output")
	if want := "file://" + filepath.Join(data, sampleSorted, "output") + "\n"; code != 0 || out != want {
		t.Errorf("url of a local file: exit %d, %q, want %q; %s", code, out, want, errOut)
	}
}
