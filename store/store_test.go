package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		in      string
		want    store.URI
		str     string
		wantErr string
	}{
		{in: "s3://bucket/a/b", want: store.URI{Scheme: "s3", Bucket: "bucket", Key: "a/b"}, str: "s3://bucket/a/b"},
		{in: "s3://bucket/a/b/", want: store.URI{Scheme: "s3", Bucket: "bucket", Key: "a/b"}, str: "s3://bucket/a/b"},
		{in: "s3://bucket", want: store.URI{Scheme: "s3", Bucket: "bucket"}, str: "s3://bucket"},
		{in: "s3://bucket/", want: store.URI{Scheme: "s3", Bucket: "bucket"}, str: "s3://bucket"},
		{in: "file:///data/x/", want: store.URI{Scheme: "file", Key: "/data/x"}, str: "file:///data/x"},
		{in: "file:///data/../etc", want: store.URI{Scheme: "file", Key: "/etc"}, str: "file:///etc"},
		{in: "/data/session", want: store.URI{Scheme: "file", Key: "/data/session"}, str: "file:///data/session"},
		{in: "s3:///key", wantErr: "no bucket"},
		{in: "http://host/x", wantErr: "scheme must be"},
		{in: "data/relative", wantErr: "scheme must be"},
		{in: "file://relative", wantErr: "must be absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := store.ParseURI(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURI(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseURI(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		base store.URI
		rel  string
		want string
	}{
		{store.S3("b", "raw"), "ecephys/x.dat", "s3://b/raw/ecephys/x.dat"},
		{store.S3("b", ""), "raw/", "s3://b/raw"},
		{store.Local("/data"), "asset/./a.json", "file:///data/asset/a.json"},
		{store.Local("/data"), "", "file:///data"},
		// ".." is kept, for the backend to refuse, rather than cleaned
		// into a path outside /data.
		{store.Local("/data"), "../etc/passwd", "file:///data/../etc/passwd"},
	}
	for _, tt := range tests {
		if got := tt.base.Join(tt.rel).String(); got != tt.want {
			t.Errorf("%s.Join(%q) = %q, want %q", tt.base, tt.rel, got, tt.want)
		}
	}
}

func TestStoreRouting(t *testing.T) {
	s := store.New(store.Options{}) // no S3 backend
	defer s.Close()
	ctx := context.Background()
	_, err := s.List(ctx, store.S3("bucket", "raw"))
	if err == nil || !strings.Contains(err.Error(), "no S3 access") {
		t.Errorf("List of an s3 location without S3 backend: %v", err)
	}
	r := s.Open(store.S3("bucket", "raw/x"), store.ObjectInfo{Size: 10, ETag: `"e"`})
	if _, err := r.ReadAt(ctx, make([]byte, 4), 0); err == nil || !strings.Contains(err.Error(), "no S3 access") {
		t.Errorf("ReadAt of an s3 object without S3 backend: %v", err)
	}
	if _, err := s.Stat(ctx, store.URI{Scheme: "gs", Bucket: "b", Key: "k"}); err == nil {
		t.Error("Stat of a gs:// location: no error")
	}
}

// TestNotExist: a missing object or folder, on S3 or local disk, is
// store.ErrNotExist and io/fs.ErrNotExist (as os.ErrNotExist is), and the
// message names the location.
func TestNotExist(t *testing.T) {
	srv := s3test.NewServer(t, s3test.Options{})
	srv.PutObject("bucket", "raw/x.bin", []byte("x"))
	dir := t.TempDir()
	s := store.New(store.Options{S3: srv.Backend(t), Local: newLocal(t, dir)})
	defer s.Close()
	ctx := context.Background()
	for _, u := range []store.URI{store.S3("bucket", "raw/nope.bin"), store.Local(dir).Join("nope.bin")} {
		_, err := s.Stat(ctx, u)
		if !errors.Is(err, iofs.ErrNotExist) || !errors.Is(err, store.ErrNotExist) {
			t.Errorf("Stat(%s) = %v, want an error that is io/fs.ErrNotExist and store.ErrNotExist", u, err)
		}
		if err == nil || !strings.Contains(err.Error(), u.String()+": does not exist") {
			t.Errorf("Stat(%s) = %v, want it to say that %s does not exist", u, err, u)
		}
	}
	for _, u := range []store.URI{store.S3("bucket", "nope"), store.Local(dir).Join("nope")} {
		if _, err := s.List(ctx, u); !errors.Is(err, iofs.ErrNotExist) || !strings.Contains(err.Error(), u.String()) {
			t.Errorf("List(%s) = %v, want io/fs.ErrNotExist naming the folder", u, err)
		}
	}
}

// randomBytes returns n reproducible random bytes.
func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// checkRandomReads reads r at random offsets and lengths, some running
// past the end, from several goroutines, and compares with want.
func checkRandomReads(t *testing.T, r *store.Reader, want []byte, reads, workers int) {
	t.Helper()
	ctx := context.Background()
	size := int64(len(want))
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			buf := make([]byte, 300<<10)
			for range reads / workers {
				off := rng.Int64N(size + 1000)
				n := rng.IntN(len(buf) + 1)
				if rng.IntN(4) == 0 {
					n = rng.IntN(100) // small reads too
				}
				got, err := r.ReadAt(ctx, buf[:n], off)
				wantN := int(max(0, min(int64(n), size-off)))
				switch {
				case got != wantN:
					errs <- fmt.Errorf("ReadAt(%d bytes at %d) = %d, %v; want %d bytes", n, off, got, err, wantN)
					return
				case wantN < n && !errors.Is(err, io.EOF):
					errs <- fmt.Errorf("ReadAt(%d bytes at %d) past the end: err %v, want io.EOF", n, off, err)
					return
				case wantN == n && err != nil:
					errs <- fmt.Errorf("ReadAt(%d bytes at %d): %v", n, off, err)
					return
				case !bytes.Equal(buf[:got], want[min(off, size):min(off, size)+int64(got)]):
					errs <- fmt.Errorf("ReadAt(%d bytes at %d): bytes differ", n, off)
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
