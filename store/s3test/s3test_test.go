package s3test_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aind/aindfs/store/s3test"
)

func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestRequestLogAndFaults(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	etag := srv.PutObject("b", "dir/k", []byte("hello, world"))
	opts := srv.S3Options()
	opts.MaxAttempts = 1 // see each fault as the client's error
	c := srv.Client(t)
	ctx := context.Background()
	get := func(in *s3.GetObjectInput) (string, error) {
		out, err := c.GetObject(ctx, in, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		if err != nil {
			return "", err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		return string(b), err
	}
	in := &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("dir/k")}

	if got, err := get(in); got != "hello, world" || err != nil {
		t.Fatalf("GET = %q, %v", got, err)
	}
	// Two SlowDowns, for GETs of this key only.
	srv.Inject(s3test.Fault{Kind: s3test.Status, Status: http.StatusServiceUnavailable, Op: "GetObject", Key: "dir/k", Times: 2})
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("dir/k")}); err != nil {
		t.Errorf("HEAD hit by a GET fault: %v", err)
	}
	for range 2 {
		if _, err := get(in); status(err) != http.StatusServiceUnavailable {
			t.Errorf("GET during SlowDown: %v, want 503", err)
		}
	}
	if _, err := get(in); err != nil {
		t.Errorf("GET after the faults ran out: %v", err)
	}
	// A body cut short.
	srv.Inject(s3test.Fault{Kind: s3test.Cut, After: 5})
	if got, err := get(in); err == nil || got != "hello" {
		t.Errorf("cut GET = %q, %v; want the first 5 bytes and an error", got, err)
	}
	// If-Match, which gofakes3 ignores on reads, is honoured.
	in.IfMatch = aws.String(`"0123"`)
	if _, err := get(in); status(err) != http.StatusPreconditionFailed {
		t.Errorf("GET with a wrong If-Match: %v, want 412", err)
	}
	in.IfMatch = aws.String(etag)
	if _, err := get(in); err != nil {
		t.Errorf("GET with the right If-Match: %v", err)
	}

	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("b"), Prefix: aws.String("dir/")}); err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string]int{"GetObject": 7, "HeadObject": 1, "ListObjectsV2": 1, "": 9} {
		if got := srv.Count(op); got != want {
			t.Errorf("Count(%q) = %d, want %d", op, got, want)
		}
	}
	var faulted int
	for _, r := range srv.Requests() {
		if r.Fault != "" {
			faulted++
		}
		if !r.Signed || r.Bucket != "b" {
			t.Errorf("request %+v: want signed, path-style, bucket b", r)
		}
	}
	if faulted != 3 {
		t.Errorf("%d requests marked with a fault, want 3", faulted)
	}
}
