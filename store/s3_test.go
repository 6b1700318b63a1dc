package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

func TestS3ListPaging(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	const n = 1234 // more than one page of 1000
	for i := range n {
		srv.PutObject("bucket", fmt.Sprintf("many/f%05d.json", i), []byte("{}"))
	}
	srv.PutObject("bucket", "many/sub/x.json", []byte("{}"))
	srv.ResetLog()

	got, err := srv.Backend(t).List(context.Background(), store.S3("bucket", "many"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n+1 {
		t.Fatalf("List returned %d entries, want %d", len(got), n+1)
	}
	for i := range n {
		if want := fmt.Sprintf("f%05d.json", i); got[i].Name != want || got[i].Size != 2 || got[i].Dir {
			t.Fatalf("entry %d = %+v, want file %s of 2 bytes", i, got[i], want)
		}
	}
	if last := got[n]; last.Name != "sub" || !last.Dir {
		t.Errorf("last entry = %+v, want folder sub", last)
	}
	if pages := srv.Count("ListObjectsV2"); pages < 2 {
		t.Errorf("%d ListObjectsV2 requests for %d keys, want one per page of 1000", pages, n+1)
	}
	if other := srv.Count("") - srv.Count("ListObjectsV2"); other != 0 {
		t.Errorf("%d requests other than ListObjectsV2: %+v", other, srv.Requests())
	}
}

func TestS3List(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	etag := srv.PutObject("bucket", "s/raw/data.bin", randomBytes(1000, 3))
	srv.PutObject("bucket", "s/raw/", nil) // a folder marker, as consoles make
	srv.PutObject("bucket", "s/raw/behavior/a.csv", []byte("a,b"))
	srv.PutObject("bucket", "s/raw/ecephys/b/c.dat", []byte("c"))
	srv.PutObject("bucket", "s/rawer.txt", []byte("not in raw/"))
	b := srv.Backend(t)
	ctx := context.Background()

	got, err := b.List(ctx, store.S3("bucket", "s/raw/"))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ObjectInfo{{Name: "behavior", Dir: true}, {Name: "data.bin", Size: 1000, ETag: etag}, {Name: "ecephys", Dir: true}}
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want %+v", got, want)
	}
	for i := range want {
		g := got[i]
		g.ModTime = time.Time{}
		if g != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, g, want[i])
		}
	}
	if got[1].ModTime.IsZero() {
		t.Error("object without modification time")
	}

	srv.PutObject("bucket", "s/empty/", nil)
	if got, err := b.List(ctx, store.S3("bucket", "s/empty")); err != nil || len(got) != 0 {
		t.Errorf("List of a folder holding only its marker = %+v, %v; want empty", got, err)
	}

	root, err := b.List(ctx, store.S3("bucket", ""))
	if err != nil || len(root) != 1 || root[0].Name != "s" || !root[0].Dir {
		t.Errorf("List of the bucket root = %+v, %v; want folder s", root, err)
	}
	for _, missing := range []store.URI{store.S3("bucket", "nope"), store.S3("nobucket", "s")} {
		if _, err := b.List(ctx, missing); !errors.Is(err, store.ErrNotExist) || !strings.Contains(err.Error(), missing.String()) {
			t.Errorf("List(%s) = %v, want ErrNotExist naming the location", missing, err)
		}
	}
}

func TestS3ExistsAndStat(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	etag := srv.PutObject("bucket", "session_1/raw/x.json", []byte(`{"a":1}`))
	b := srv.Backend(t)
	ctx := context.Background()
	for _, tt := range []struct {
		dir  store.URI
		want bool
	}{
		{store.S3("bucket", "session_1"), true},
		{store.S3("bucket", "session_1/raw/"), true},
		{store.S3("bucket", "session_2"), false},
		{store.S3("bucket", "session_1/raw/x"), false}, // a prefix of a name is not a folder
		{store.S3("nobucket", "session_1"), false},
	} {
		srv.ResetLog()
		got, err := b.Exists(ctx, tt.dir)
		if err != nil || got != tt.want {
			t.Errorf("Exists(%s) = %v, %v; want %v", tt.dir, got, err, tt.want)
		}
		if n := srv.Count(""); n != 1 {
			t.Errorf("Exists(%s) made %d requests, want 1", tt.dir, n)
		}
	}

	info, err := b.Stat(ctx, store.S3("bucket", "session_1/raw/x.json"))
	if err != nil || info.Name != "x.json" || info.Size != 7 || info.ETag != etag || info.ModTime.IsZero() {
		t.Errorf("Stat = %+v, %v; want x.json, 7 bytes, ETag %s", info, err, etag)
	}
	_, err = b.Stat(ctx, store.S3("bucket", "session_1/raw/y.json"))
	if !errors.Is(err, store.ErrNotExist) || !strings.Contains(err.Error(), "s3://bucket/session_1/raw/y.json") {
		t.Errorf("Stat of a missing object = %v, want ErrNotExist naming it", err)
	}
}

// TestNewS3FromEnvironment checks the configuration chain: the endpoint
// from AWS_ENDPOINT_URL_S3 (path-style), credentials from the
// environment, or unsigned requests when there are none.
func TestNewS3FromEnvironment(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	srv.PutObject("bucket", "d/x", []byte("x"))
	for _, tt := range []struct {
		name       string
		env        map[string]string
		wantSigned bool
	}{
		{"credentials", map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}, true},
		{"anonymous", map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range map[string]string{
				"AWS_ENDPOINT_URL_S3":                    srv.URL,
				"AWS_ENDPOINT_URL":                       "",
				"AWS_REGION":                             "",
				"AWS_DEFAULT_REGION":                     "",
				"AWS_PROFILE":                            "",
				"AWS_SESSION_TOKEN":                      "",
				"AWS_CONFIG_FILE":                        "/nonexistent/config",
				"AWS_SHARED_CREDENTIALS_FILE":            "/nonexistent/credentials",
				"AWS_EC2_METADATA_DISABLED":              "true",
				"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
				"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
				"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
			} {
				t.Setenv(k, v)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			b, err := store.NewS3(context.Background(), store.S3Options{})
			if err != nil {
				t.Fatal(err)
			}
			srv.ResetLog()
			if ok, err := b.Exists(context.Background(), store.S3("bucket", "d")); !ok || err != nil {
				t.Fatalf("Exists = %v, %v", ok, err)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 || reqs[0].Bucket != "bucket" || reqs[0].Signed != tt.wantSigned {
				t.Errorf("requests = %+v, want one path-style request, signed %v", reqs, tt.wantSigned)
			}
		})
	}
}

func TestS3ReadRangeFaults(t *testing.T) {
	data := randomBytes(300_000, 4)
	const key = "obj.bin"
	tests := []struct {
		name     string
		faults   []s3test.Fault
		wantGets int
		// wantRanges are the Range headers of the GETs, in order
		wantRanges []string
	}{
		{name: "clean", wantGets: 1, wantRanges: []string{"bytes=1000-250999"}},
		{name: "503 SlowDown then success",
			faults:   []s3test.Fault{{Kind: s3test.Status, Status: http.StatusServiceUnavailable, Times: 3}},
			wantGets: 4},
		{name: "500 then success",
			faults:   []s3test.Fault{{Kind: s3test.Status, Status: http.StatusInternalServerError, Times: 2}},
			wantGets: 3},
		{name: "connection reset then success",
			faults:   []s3test.Fault{{Kind: s3test.Reset, Times: 2}},
			wantGets: 3},
		{name: "body cut off, resumed from the last byte",
			faults:     []s3test.Fault{{Kind: s3test.Cut, After: 100_000}},
			wantGets:   2,
			wantRanges: []string{"bytes=1000-250999", "bytes=101000-250999"}},
		{name: "body cut off twice",
			faults:     []s3test.Fault{{Kind: s3test.Cut, After: 70_000, Times: 2}},
			wantGets:   3,
			wantRanges: []string{"bytes=1000-250999", "bytes=71000-250999", "bytes=141000-250999"}},
		{name: "cut before the first byte",
			faults:     []s3test.Fault{{Kind: s3test.Cut, After: 0}},
			wantGets:   2,
			wantRanges: []string{"bytes=1000-250999", "bytes=1000-250999"}},
		{name: "stalled body cancelled and resumed",
			faults:     []s3test.Fault{{Kind: s3test.Stall, After: 64 << 10}},
			wantGets:   2,
			wantRanges: []string{"bytes=1000-250999", fmt.Sprintf("bytes=%d-250999", 1000+64<<10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := s3test.NewServer(t, s3test.Options{})
			etag := srv.PutObject("bucket", key, data)
			opts := srv.S3Options()
			opts.StallTimeout = 200 * time.Millisecond
			b, err := store.NewS3(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tt.faults {
				srv.Inject(f)
			}
			body, err := b.ReadRange(context.Background(), store.S3("bucket", key), etag, 1000, 250_000)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data[1000:251_000]) {
				t.Fatalf("read %d bytes, not the %d asked for", len(got), 250_000)
			}
			var gets []string
			for _, r := range srv.Requests() {
				if r.Op == "GetObject" {
					gets = append(gets, r.Range)
				}
			}
			if len(gets) != tt.wantGets {
				t.Errorf("%d GETs (%v), want %d; requests %+v", len(gets), gets, tt.wantGets, srv.Requests())
			}
			if tt.wantRanges != nil && strings.Join(gets, " ") != strings.Join(tt.wantRanges, " ") {
				t.Errorf("GET ranges %v, want %v", gets, tt.wantRanges)
			}
		})
	}
}

func TestS3ReplacedMidRead(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	old, next := randomBytes(200_000, 5), randomBytes(200_000, 6)
	etag := srv.PutObject("bucket", "obj", old)
	b := srv.Backend(t)
	// The object is replaced while the answer is streaming, then the
	// connection breaks: the resumed GET must not splice new bytes onto
	// old ones.
	srv.Inject(s3test.Fault{Kind: s3test.Replace, After: 50_000, Data: next})
	srv.Inject(s3test.Fault{Kind: s3test.Cut, After: 80_000})
	body, err := b.ReadRange(context.Background(), store.S3("bucket", "obj"), etag, 0, 200_000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	if !errors.Is(err, store.ErrChanged) {
		t.Fatalf("read of a replaced object: %d bytes, %v; want ErrChanged", len(got), err)
	}
	if !bytes.Equal(got, old[:len(got)]) {
		t.Error("bytes before the error are not all from the old version")
	}

	// Opened without an ETag, the first answer pins the version.
	srv.Inject(s3test.Fault{Kind: s3test.Replace, After: 10, Data: old})
	srv.Inject(s3test.Fault{Kind: s3test.Cut, After: 1000})
	body, err = b.ReadRange(context.Background(), store.S3("bucket", "obj"), "", 0, 200_000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(body); !errors.Is(err, store.ErrChanged) {
		t.Fatalf("read without ETag of a replaced object: %v, want ErrChanged", err)
	}

	// A pinned ETag that no longer matches fails at once.
	srv.PutObject("bucket", "obj", randomBytes(1000, 8))
	if _, err := b.ReadRange(context.Background(), store.S3("bucket", "obj"), etag, 0, 10); !errors.Is(err, store.ErrChanged) {
		t.Fatalf("read with a stale ETag: %v, want ErrChanged", err)
	}
}

// TestS3PersistentFailure: a read that keeps failing gives up with an error
// naming the object and the cause, and the attempts it counts are the GETs
// sent. A server that throttles and then stops answering is reported by
// both: no answer, and the SlowDown before it.
func TestS3PersistentFailure(t *testing.T) {
	tests := []struct {
		name      string
		faults    []s3test.Fault
		wantCause []string
	}{
		{"503 SlowDown", []s3test.Fault{{Kind: s3test.Status, Status: 503, Times: -1}}, []string{"SlowDown"}},
		{"connection reset", []s3test.Fault{{Kind: s3test.Reset, Times: -1}}, []string{"connection"}},
		{"stalled body", []s3test.Fault{{Kind: s3test.Stall, After: 1000, Times: -1}}, []string{"no data for"}},
		{"body cut off", []s3test.Fault{{Kind: s3test.Cut, After: 0, Times: -1}}, []string{"ended early"}},
		{"503 SlowDown, then no answer",
			[]s3test.Fault{{Kind: s3test.Status, Status: 503, Times: 2}, {Kind: s3test.Silent, Times: -1}},
			[]string{"no answer within 250ms", "the last answer before that", "SlowDown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := s3test.NewServer(t, s3test.Options{})
			etag := srv.PutObject("bucket", "obj", randomBytes(100_000, 7))
			opts := srv.S3Options()
			// A loaded machine can leave a request unanswered for tens of
			// milliseconds: the stalls here are the faults' own.
			opts.StallTimeout = 250 * time.Millisecond
			opts.RetryTimeout = time.Second
			b, err := store.NewS3(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			s := store.New(store.Options{S3: b})
			defer s.Close()
			for _, f := range tt.faults {
				srv.Inject(f)
			}
			// No deadline here: the Store must give up on its own.
			r := s.Open(store.S3("bucket", "obj"), store.ObjectInfo{Size: 100_000, ETag: etag})
			_, err = r.ReadAt(context.Background(), make([]byte, 50_000), 0)
			if err == nil || !strings.Contains(err.Error(), "s3://bucket/obj") {
				t.Fatalf("read under a persistent fault: %v; want an error naming the object", err)
			}
			for _, want := range tt.wantCause {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("read under a persistent fault: %v; want the cause, %q", err, want)
				}
			}
			n := srv.Count("GetObject")
			if n < 2 {
				t.Errorf("%d GETs, want retries", n)
			}
			// An attempt is one GET: the count in the error is at least the
			// GETs the server saw (one cancelled before reaching it is not
			// seen there).
			var attempts int
			if _, after, ok := strings.Cut(err.Error(), " over "); !ok {
				t.Errorf("error %q gives no count of attempts", err)
			} else if _, serr := fmt.Sscanf(after, "%d attempts", &attempts); serr != nil || attempts < n {
				t.Errorf("error %q after %d GETs: want at least %d attempts counted", err, n, n)
			}
			// The fault gone, the same reader works again.
			srv.ClearFaults()
			if _, err := r.ReadAt(context.Background(), make([]byte, 50_000), 0); err != nil {
				t.Errorf("read after the fault cleared: %v", err)
			}
		})
	}
}

// TestS3RetriesSurviveOutage checks that a long outage does not use up a
// retry budget: the SDK's default token bucket would refuse retries after
// a few dozen failures, and the client would fail at the first error
// even once S3 is back.
func TestS3RetriesSurviveOutage(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	srv.PutObject("bucket", "obj", []byte("x"))
	opts := srv.S3Options()
	opts.MaxAttempts = 3
	opts.BaseDelay, opts.MaxBackoff = time.Millisecond, 2*time.Millisecond
	b, err := store.NewS3(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.Inject(s3test.Fault{Kind: s3test.Status, Status: http.StatusInternalServerError, Times: -1})
	for range 40 { // 80 retries: more than the default bucket's 500 tokens at 14 a retry
		if _, err := b.Stat(ctx, store.S3("bucket", "obj")); err == nil {
			t.Fatal("Stat succeeded during the outage")
		}
	}
	srv.ClearFaults()
	srv.Inject(s3test.Fault{Kind: s3test.Status, Status: http.StatusInternalServerError, Times: 2})
	srv.ResetLog()
	if _, err := b.Stat(ctx, store.S3("bucket", "obj")); err != nil {
		t.Fatalf("Stat after the outage, with two failures left: %v", err)
	}
	if n := srv.Count("HeadObject"); n != 3 {
		t.Errorf("%d HEAD requests, want 3 (two retries)", n)
	}
}

// TestS3WrongRangeAnswers: an answer that does not hold the bytes asked for
// (a server that ignores Range and sends the whole object, or sends a range
// other than the one asked) is never read: the range is asked again, and a
// server that keeps answering so gives an error naming the cause.
func TestS3WrongRangeAnswers(t *testing.T) {
	data := randomBytes(300_000, 9)
	for _, tt := range []struct {
		name      string
		fault     s3test.Fault
		off       int64
		wantCause string
	}{
		{"whole object for a range at 0", s3test.Fault{Kind: s3test.IgnoreRange}, 0, "answer has 300000 bytes (Content-Length), asked for 50000"},
		{"whole object for a range further on", s3test.Fault{Kind: s3test.IgnoreRange}, 100_000, "no Content-Range (the server ignored the Range header), asked for bytes 100000-149999"},
		{"a range further on", s3test.Fault{Kind: s3test.ShiftRange, Shift: 4096}, 0, `answer is for "bytes 4096-54095/300000", asked for bytes 0-49999`},
		{"a range further back", s3test.Fault{Kind: s3test.ShiftRange, Shift: -4096}, 100_000, `answer is for "bytes 95904-145903/300000", asked for bytes 100000-149999`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := s3test.NewServer(t, s3test.Options{})
			etag := srv.PutObject("bucket", "obj", data)
			opts := srv.S3Options()
			opts.RetryTimeout = 300 * time.Millisecond
			b, err := store.NewS3(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			want := data[tt.off : tt.off+50_000]

			// Once: the range is asked again and read right.
			tt.fault.Times = 1
			srv.Inject(tt.fault)
			body, err := b.ReadRange(ctx, store.S3("bucket", "obj"), etag, tt.off, 50_000)
			if err != nil {
				t.Fatalf("read after one wrong answer: %v", err)
			}
			got, err := io.ReadAll(body)
			body.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read after one wrong answer: %d bytes, %v; equal to the object's: %v", len(got), err, bytes.Equal(got, want))
			}
			if n := srv.Count("GetObject"); n != 2 {
				t.Errorf("%d GETs, want 2 (the wrong answer, then the right one)", n)
			}

			// Always: an error naming the object and the cause, and no byte.
			tt.fault.Times = -1
			srv.Inject(tt.fault)
			body, err = b.ReadRange(ctx, store.S3("bucket", "obj"), etag, tt.off, 50_000)
			if err == nil {
				got, err = io.ReadAll(body)
				body.Close()
				t.Fatalf("read under a server that always answers wrong: %d bytes (equal to the object's: %v), %v", len(got), bytes.Equal(got, want), err)
			}
			if !strings.Contains(err.Error(), tt.wantCause) || !strings.Contains(err.Error(), "s3://bucket/obj") {
				t.Errorf("error %q, want it to name s3://bucket/obj and %q", err, tt.wantCause)
			}
		})
	}
}
