package metrics

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRequestsAndErrorsByKind: requests sent through the counting clients
// are counted by what they do, failures by why, and S3 body bytes as read.
func TestRequestsAndErrorsByKind(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodHead:
			w.WriteHeader(http.StatusNotFound)
		case r.URL.Query().Has("list-type"):
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.Header.Get("Range") != "":
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte(strings.Repeat("x", 100)))
		default:
			w.Write([]byte("{}"))
		}
	}))
	defer srv.Close()
	m := New()
	s3 := m.S3Client(http.DefaultClient)
	send := func(c interface {
		Do(*http.Request) (*http.Response, error)
	}, method, url string, header ...string) {
		req, _ := http.NewRequest(method, url, nil)
		if len(header) == 2 {
			req.Header.Set(header[0], header[1])
		}
		resp, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	send(s3, "GET", srv.URL+"/bucket/key", "Range", "bytes=0-99")
	send(s3, "HEAD", srv.URL+"/bucket/key")
	send(s3, "GET", srv.URL+"/bucket?list-type=2&prefix=a/")
	send(s3, "GET", srv.URL+"/bucket/whole")
	send(s3, "GET", "http://127.0.0.1:1/bucket/key") // nothing listens
	co := m.Client(CodeOcean, CodeOceanKind)
	send(co, "POST", srv.URL+"/api/v1/data_assets/search")
	send(co, "GET", srv.URL+"/api/v1/data_assets/0e9a7c9e-0000-4000-8000-000000000001")
	send(co, "POST", srv.URL+"/api/v1/capsules/cap-1/data_assets")

	snap, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int64{
		S3:        {"get_range": 1, "head": 1, "list": 1, "get": 2},
		CodeOcean: {"search": 1, "data_asset": 1, "attach": 1},
	}
	for service, kinds := range want {
		if !maps.Equal(snap.Requests[service], kinds) {
			t.Errorf("requests to %s = %v, want %v", service, snap.Requests[service], kinds)
		}
	}
	if wantErr := map[string]int64{"http_404": 1, "http_503": 1, "connection": 1}; !maps.Equal(snap.Errors[S3], wantErr) {
		t.Errorf("S3 errors = %v, want %v", snap.Errors[S3], wantErr)
	}
	if len(snap.Errors[CodeOcean]) != 0 {
		t.Errorf("Code Ocean errors = %v, want none", snap.Errors[CodeOcean])
	}
	if snap.Bytes.FromS3 != 102 { // 100 of the range and "{}"
		t.Errorf("bytes from S3 = %d, want 102", snap.Bytes.FromS3)
	}
}
