package resolve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store"
)

// fakeObjects is an in-memory object store laid out from testdata/s3.json,
// plus the local disk for file:// URIs. It counts requests by kind so tests
// can assert how many a lookup made.
type fakeObjects struct {
	mu       sync.Mutex
	objects  map[string][]byte // "bucket/key" -> bytes
	requests map[string]int    // "List s3", "Exists s3", ...
	// existsErr, when set, is what every bucket probe fails with.
	existsErr error
	read      int64 // bytes handed out by ReadRange
}

func newFakeObjects(t *testing.T) *fakeObjects {
	t.Helper()
	objects, err := sample.S3Objects()
	if err != nil {
		t.Fatal(err)
	}
	return &fakeObjects{objects: objects, requests: map[string]int{}}
}

func (o *fakeObjects) count(op string, u store.URI) {
	o.mu.Lock()
	o.requests[op+" "+u.Scheme]++
	o.mu.Unlock()
}

// Requests returns how many requests of a kind ("List s3") were made.
func (o *fakeObjects) Requests(kind string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[kind]
}

// bytesRead is the number of bytes read from objects so far.
func (o *fakeObjects) bytesRead() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.read
}

// S3Requests is the number of requests made to S3, of any kind.
func (o *fakeObjects) S3Requests() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for k, v := range o.requests {
		if strings.HasSuffix(k, " s3") {
			n += v
		}
	}
	return n
}

func (o *fakeObjects) List(ctx context.Context, dir store.URI) ([]store.ObjectInfo, error) {
	o.count("List", dir)
	if dir.Scheme == "file" {
		entries, err := os.ReadDir(dir.Key)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, store.ErrNotExist)
		}
		var out []store.ObjectInfo
		for _, e := range entries {
			fi, _ := e.Info()
			out = append(out, store.ObjectInfo{Name: e.Name(), Dir: e.IsDir(), Size: fi.Size(), ModTime: fi.ModTime()})
		}
		return out, nil
	}
	prefix := dir.Bucket + "/" + dir.Key + "/"
	seen := map[string]store.ObjectInfo{}
	o.mu.Lock()
	for k, v := range o.objects {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			name, _, sub := strings.Cut(rest, "/")
			seen[name] = store.ObjectInfo{Name: name, Dir: sub, Size: int64(len(v)) * b2i(!sub)}
		}
	}
	o.mu.Unlock()
	if len(seen) == 0 {
		return nil, fmt.Errorf("list %s: %w", dir, store.ErrNotExist)
	}
	var out []store.ObjectInfo
	for _, e := range seen {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b store.ObjectInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (o *fakeObjects) Exists(ctx context.Context, dir store.URI) (bool, error) {
	o.count("Exists", dir)
	if o.existsErr != nil {
		return false, o.existsErr
	}
	prefix := dir.Bucket + "/" + dir.Key + "/"
	o.mu.Lock()
	defer o.mu.Unlock()
	for k := range o.objects {
		if strings.HasPrefix(k, prefix) {
			return true, nil
		}
	}
	return false, nil
}

func (o *fakeObjects) Stat(ctx context.Context, obj store.URI) (store.ObjectInfo, error) {
	o.count("Stat", obj)
	data, err := o.get(obj)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	return store.ObjectInfo{Name: obj.Base(), Size: int64(len(data)), ModTime: time.Unix(0, 0)}, nil
}

func (o *fakeObjects) ReadRange(ctx context.Context, obj store.URI, etag string, off, length int64) (io.ReadCloser, error) {
	o.count("ReadRange", obj)
	data, err := o.get(obj)
	if err != nil {
		return nil, err
	}
	end := min(off+length, int64(len(data)))
	o.mu.Lock()
	o.read += end - off
	o.mu.Unlock()
	return io.NopCloser(bytes.NewReader(data[off:end])), nil
}

func (o *fakeObjects) get(obj store.URI) ([]byte, error) {
	if obj.Scheme == "file" {
		data, err := os.ReadFile(obj.Key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", obj, store.ErrNotExist)
		}
		return data, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	data, ok := o.objects[obj.Bucket+"/"+obj.Key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", obj, store.ErrNotExist)
	}
	return data, nil
}
