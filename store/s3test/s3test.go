// Package s3test runs an in-process S3 server (gofakes3, in memory) over
// real HTTP on 127.0.0.1, behind a middleware that shapes and breaks its
// answers the way real S3 and real networks do: latency per request, a
// bandwidth cap per response, SlowDown errors, dropped connections, bodies
// cut short or stalled, objects replaced while being read. It keeps a log
// of the requests it served, so that tests can count them.
package s3test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/aind/aindfs/store"
)

// Options shapes every answer of the server.
type Options struct {
	// Latency is added before each request is answered (time to first byte).
	Latency time.Duration
	// BytesPerSecond caps the body of each response; 0 means no cap.
	BytesPerSecond int64
}

// FaultKind is what a Fault does to a request.
type FaultKind int

const (
	// Status answers with Fault.Status and an S3 error body (503 is SlowDown).
	Status FaultKind = iota + 1
	// Reset closes the connection without answering.
	Reset
	// Cut sends the headers and Fault.After bytes of the body, then closes
	// the connection.
	Cut
	// Stall sends the headers and Fault.After bytes of the body, then
	// nothing more until the client gives up.
	Stall
	// Replace replaces the object with Fault.Data once Fault.After bytes of
	// the body are sent; the answer goes on with the old bytes, as S3 does.
	Replace
	// IgnoreRange answers a ranged GET with 200 and the whole object, as a
	// server or proxy that does not support ranges does.
	IgnoreRange
	// ShiftRange answers a ranged GET with as many bytes starting
	// Fault.Shift bytes away (the Content-Range says so), as a server that
	// aligns ranges to blocks of its own might.
	ShiftRange
	// Silent sends nothing, not even headers, until the client gives up.
	Silent
)

func (k FaultKind) String() string {
	switch k {
	case Status:
		return "status"
	case Reset:
		return "reset"
	case Cut:
		return "cut"
	case Stall:
		return "stall"
	case Replace:
		return "replace"
	case IgnoreRange:
		return "ignore-range"
	case ShiftRange:
		return "shift-range"
	case Silent:
		return "silent"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault is a misbehaviour applied to the next matching requests. Several
// faults may apply to one request: body faults then happen in the order of
// their After.
type Fault struct {
	Kind FaultKind
	// Op limits the fault to one operation ("GetObject", "HeadObject",
	// "ListObjectsV2", ...); empty matches all.
	Op string
	// Key limits the fault to one object key; empty matches all.
	Key string
	// Times is how many matching requests the fault applies to: 0 means
	// one, a negative number means all of them from now on.
	Times  int
	Status int    // for Status
	After  int64  // body bytes sent before Cut, Stall or Replace
	Data   []byte // for Replace
	Shift  int64  // for ShiftRange
}

// Request is one request the server answered.
type Request struct {
	Op     string // GetObject, HeadObject, ListObjectsV2, ListObjects, PutObject, Other
	Method string
	Bucket string
	Key    string
	Prefix string // of a listing
	Range  string // the Range header
	Signed bool   // carried an Authorization header
	Status int
	Bytes  int64  // body bytes sent
	Fault  string // the fault applied, if any
	Start  time.Time
	End    time.Time
}

// Server is a running fake S3.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:port.
	URL string

	opts    Options
	mem     *s3mem.Backend
	fake    http.Handler
	http    *httptest.Server
	closing chan struct{}
	once    sync.Once
	active  atomic.Int64

	mu     sync.Mutex
	faults []*Fault
	log    []*Request // in order of arrival; each completed when answered
}

// NewServer starts a server that stops when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := Start(opts)
	t.Cleanup(s.Close)
	return s
}

// Start starts a server for use outside tests; Close stops it.
func Start(opts Options) *Server {
	mem := s3mem.New()
	s := &Server{
		opts:    opts,
		mem:     mem,
		fake:    gofakes3.New(mem, gofakes3.WithAutoBucket(true)).Server(),
		closing: make(chan struct{}),
	}
	s.http = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Broken and stalled answers make gofakes3 write to connections that
	// are gone; that is the point, not news.
	s.http.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.http.Start()
	s.URL = s.http.URL
	return s
}

// Close stops the server, ending stalled answers first.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.http.CloseClientConnections()
		s.http.Close()
	})
}

// PutObject stores data under bucket/key (creating the bucket) and returns
// its ETag.
func (s *Server) PutObject(bucket, key string, data []byte) string {
	if ok, _ := s.mem.BucketExists(bucket); !ok {
		s.mem.CreateBucket(bucket)
	}
	meta := map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}
	if _, err := s.mem.PutObject(bucket, key, meta, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		panic(fmt.Sprintf("s3test: put %s/%s: %v", bucket, key, err))
	}
	return s.ETag(bucket, key)
}

// DeleteObject removes bucket/key.
func (s *Server) DeleteObject(bucket, key string) {
	s.mem.DeleteObject(bucket, key)
}

// ETag returns the current ETag of bucket/key, or "" when it does not exist.
func (s *Server) ETag(bucket, key string) string {
	obj, err := s.mem.HeadObject(bucket, key)
	if err != nil {
		return ""
	}
	return `"` + hex.EncodeToString(obj.Hash) + `"`
}

// Inject arms a fault for the next matching requests.
func (s *Server) Inject(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// SlowDown makes the next n requests fail with 503 SlowDown.
func (s *Server) SlowDown(n int) {
	s.Inject(Fault{Kind: Status, Status: http.StatusServiceUnavailable, Times: n})
}

// ClearFaults disarms all faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Requests returns the requests received so far, in order of arrival. A
// request still being answered has no Status, Bytes or End yet.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.log))
	for i, r := range s.log {
		out[i] = *r
	}
	return out
}

// Count returns how many requests of operation op (all when empty) were received.
func (s *Server) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if op == "" || r.Op == op {
			n++
		}
	}
	return n
}

// BytesSent returns the body bytes sent in answers to operation op (all
// when empty); answers still streaming count once they end.
func (s *Server) BytesSent(op string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, r := range s.log {
		if op == "" || r.Op == op {
			n += r.Bytes
		}
	}
	return n
}

// ResetLog forgets the requests answered so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	s.log = nil
	s.mu.Unlock()
}

// Active returns how many requests are being answered now.
func (s *Server) Active() int { return int(s.active.Load()) }

// S3Options returns options for store.NewS3 that reach this server:
// path-style, static dummy credentials, a plain HTTP client (so that
// AWS_CA_BUNDLE or proxies in the environment play no part), and short
// retry delays.
func (s *Server) S3Options() store.S3Options { return ClientOptions(s.URL) }

// ClientOptions returns the options S3Options returns for a server at url, for
// a program that has only the URL (a child process in a benchmark).
func ClientOptions(url string) store.S3Options {
	return store.S3Options{
		Region:      "us-west-2",
		Endpoint:    url,
		Credentials: credentials.NewStaticCredentialsProvider("s3test", "s3test-secret", ""),
		HTTPClient: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     30 * time.Second,
		}},
		BaseDelay:    2 * time.Millisecond,
		MaxBackoff:   50 * time.Millisecond,
		StallTimeout: 2 * time.Second,
		RetryTimeout: 10 * time.Second,
	}
}

// Backend returns a store backend talking to this server.
func (s *Server) Backend(t testing.TB) *store.S3Backend {
	t.Helper()
	b, err := store.NewS3(context.Background(), s.S3Options())
	if err != nil {
		t.Fatalf("s3test: backend: %v", err)
	}
	return b
}

// Client returns an SDK client talking to this server, configured like Backend's.
func (s *Server) Client(t testing.TB) *s3.Client {
	t.Helper()
	return s.Backend(t).Client()
}

// classify names the S3 operation of a path-style request.
func classify(r *http.Request) (op, bucket, key string) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ = strings.Cut(p, "/")
	q := r.URL.Query()
	switch {
	case key != "" && r.Method == http.MethodGet:
		op = "GetObject"
	case key != "" && r.Method == http.MethodHead:
		op = "HeadObject"
	case key != "" && r.Method == http.MethodPut:
		op = "PutObject"
	case key == "" && bucket != "" && r.Method == http.MethodGet && q.Get("list-type") == "2":
		op = "ListObjectsV2"
	case key == "" && bucket != "" && r.Method == http.MethodGet && (len(q) == 0 || q.Has("prefix") || q.Has("delimiter")):
		op = "ListObjects"
	default:
		op = "Other"
	}
	return op, bucket, key
}

// take returns the faults that apply to the request, using them up.
func (s *Server) take(op, key string) []*Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Fault
	kept := s.faults[:0]
	for _, f := range s.faults {
		if f.Op != "" && f.Op != op || f.Key != "" && f.Key != key {
			kept = append(kept, f)
			continue
		}
		g := *f
		out = append(out, &g)
		if f.Times > 0 {
			f.Times--
		}
		if f.Times != 0 {
			kept = append(kept, f)
		}
	}
	s.faults = kept
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer s.active.Add(-1)
	op, bucket, key := classify(r)
	rec := Request{
		Op: op, Method: r.Method, Bucket: bucket, Key: key,
		Prefix: r.URL.Query().Get("prefix"),
		Range:  r.Header.Get("Range"),
		Signed: r.Header.Get("Authorization") != "",
		Start:  time.Now(),
	}
	entry := rec
	s.mu.Lock()
	s.log = append(s.log, &entry)
	s.mu.Unlock()
	sw := &shapedWriter{ResponseWriter: w, s: s, r: r, rec: &rec, rate: s.opts.BytesPerSecond}
	defer func() {
		rec.End = time.Now()
		s.mu.Lock()
		entry = rec
		s.mu.Unlock()
	}()

	if !s.wait(r, s.opts.Latency) {
		return
	}
	faults := s.take(op, key)
	var names []string
	for _, f := range faults {
		names = append(names, f.Kind.String())
	}
	rec.Fault = strings.Join(names, "+")
	for _, f := range faults {
		switch f.Kind {
		case Status:
			rec.Status = f.Status
			writeError(w, r, f.Status)
			return
		case Reset:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					if tc, ok := conn.(*net.TCPConn); ok {
						tc.SetLinger(0)
					}
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case Silent:
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
			panic(http.ErrAbortHandler)
		case IgnoreRange:
			r.Header.Del("Range")
		case ShiftRange:
			var first, last int64
			if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &first, &last); err == nil {
				r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", max(0, first+f.Shift), max(0, last+f.Shift)))
			}
		default:
			sw.faults = append(sw.faults, f)
		}
	}
	slices.SortStableFunc(sw.faults, func(a, b *Fault) int { return cmp.Compare(a.After, b.After) })
	sw.bucket, sw.key = bucket, key
	// gofakes3 ignores If-Match on reads; real S3 answers 412.
	if m := r.Header.Get("If-Match"); m != "" && (op == "GetObject" || op == "HeadObject") {
		if cur := s.ETag(bucket, key); cur != "" && strings.Trim(cur, `"`) != strings.Trim(m, `"`) {
			rec.Status = http.StatusPreconditionFailed
			writeError(w, r, http.StatusPreconditionFailed)
			return
		}
	}
	s.fake.ServeHTTP(sw, r)
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
}

// wait sleeps for d unless the client or the server goes away first.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closing:
		return false
	}
}

var errorCodes = map[int]string{
	http.StatusServiceUnavailable:  "SlowDown",
	http.StatusInternalServerError: "InternalError",
	http.StatusPreconditionFailed:  "PreconditionFailed",
	http.StatusNotFound:            "NoSuchKey",
	http.StatusForbidden:           "AccessDenied",
}

func writeError(w http.ResponseWriter, r *http.Request, status int) {
	code := errorCodes[status]
	if code == "" {
		code = http.StatusText(status)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by s3test</Message><RequestId>s3test</RequestId></Error>`, code)
	}
}

// shapedWriter paces a response body and applies body faults.
type shapedWriter struct {
	http.ResponseWriter
	s           *Server
	r           *http.Request
	rec         *Request
	rate        int64
	faults      []*Fault // body faults still to come, by After
	bucket, key string
	start       time.Time
}

// pace is the largest write between two pauses of the bandwidth cap.
const pace = 64 << 10

func (w *shapedWriter) WriteHeader(status int) {
	w.rec.Status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *shapedWriter) Write(p []byte) (int, error) {
	if w.start.IsZero() {
		w.start = time.Now()
	}
	body := w.rec.Status == 0 || w.rec.Status/100 == 2
	written := 0
	for len(p) > 0 {
		chunk := p
		if w.rate > 0 && len(chunk) > pace {
			chunk = chunk[:pace]
		}
		for body && len(w.faults) > 0 && w.rec.Bytes >= w.faults[0].After {
			w.trigger()
		}
		if body && len(w.faults) > 0 {
			if left := w.faults[0].After - w.rec.Bytes; int64(len(chunk)) > left {
				chunk = chunk[:left]
			}
		}
		if w.rate > 0 {
			due := w.start.Add(time.Duration(float64(w.rec.Bytes+int64(len(chunk))) / float64(w.rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 && !w.s.wait(w.r, d) {
				return written, http.ErrAbortHandler
			}
		}
		n, err := w.ResponseWriter.Write(chunk)
		w.rec.Bytes += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// trigger applies the body fault once its byte count is reached.
func (w *shapedWriter) trigger() {
	f := w.faults[0]
	w.faults = w.faults[1:]
	if fl, ok := w.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
	switch f.Kind {
	case Cut:
		panic(http.ErrAbortHandler)
	case Stall:
		select {
		case <-w.r.Context().Done():
		case <-w.s.closing:
		}
		panic(http.ErrAbortHandler)
	case Replace:
		w.s.PutObject(w.bucket, w.key, f.Data)
	}
}

// Flush lets the fault triggers flush through the wrapper.
func (w *shapedWriter) Flush() {
	if fl, ok := w.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}
