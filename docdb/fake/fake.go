// Package fake is an in-process DocDB for tests and demos, faithful to the
// read endpoint aindfs uses: GET /v1/metadata_index/data_assets/find with a
// filter (dotted paths through objects and arrays, equality and unanchored
// $regex), an inclusion projection, a sort, skip and limit, answered as a
// bare JSON array. Like the real gateway it can cut a page short; it can
// also answer 429 or 5xx, hang, and it logs every request so tests can count
// what a lookup cost. What it does not model (other operators, exclusion
// projections) it refuses with 400, so an untested query fails loudly.
package fake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// FindPath is the endpoint served.
const FindPath = "/v1/metadata_index/data_assets/find"

// Options configure a Server.
type Options struct {
	// PageCap, when positive, is the most records one answer holds,
	// whatever limit asked: the real gateway cuts answers that are too
	// large, and a client must not take such a page for the last.
	PageCap int
	// Latency is added to every request.
	Latency time.Duration
}

// Fault is an injected failure.
type Fault struct {
	Status     int    // answered with {"message": Message}
	Message    string // default: the status text
	RetryAfter string // Retry-After header value; empty sends none
	// Hang answers nothing until the client gives up (or the server closes).
	Hang bool
}

// Request is one logged request.
type Request struct {
	Filter     string // the parameters as sent (JSON text)
	Projection string
	Sort       string
	Skip       int
	Limit      int
	Records    int // records answered
	Status     int // status answered; 0 when the client gave up first
}

// Server is a fake DocDB. It implements http.Handler; use New.
type Server struct {
	opts Options

	mu      sync.Mutex
	records []map[string]any
	faults  []Fault
	hook    func(Request) *Fault
	log     []Request
	base    int           // requests forgotten by ResetLog
	done    chan struct{} // closed by Close: hung requests end
	closed  bool
}

// New returns a server holding records: anything that encodes as a JSON
// object (a map, a struct, json.RawMessage). It panics on one that does not,
// as a test's own mistake.
func New(opts Options, records ...any) *Server {
	s := &Server{opts: opts, done: make(chan struct{})}
	s.Add(records...)
	return s
}

// Add adds records, after those already held.
func (s *Server) Add(records ...any) {
	parsed := make([]map[string]any, len(records))
	for i, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			panic(fmt.Sprintf("docdb fake: record %d: %v", i, err))
		}
		v, err := decode(b)
		m, ok := v.(map[string]any)
		if err != nil || !ok {
			panic(fmt.Sprintf("docdb fake: record %d is not a JSON object", i))
		}
		parsed[i] = m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, parsed...)
}

// Start serves s on 127.0.0.1 until the test ends and returns its base URL.
func (s *Server) Start(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	return srv.URL
}

// Close ends requests that hang, so the server can shut down.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// FailNext makes the next n requests fail with f.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// SetFaultHook calls hook for each request that FailNext does not fail; a
// non-nil answer is the request's fault (a server that is down answers
// every request so). nil removes the hook.
func (s *Server) SetFaultHook(hook func(Request) *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = hook
}

// Requests returns the log of requests so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Count returns how many requests were logged.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

// ResetLog forgets the requests logged so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base += len(s.log)
	s.log = nil
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := Request{Filter: q.Get("filter"), Projection: q.Get("projection"), Sort: q.Get("sort")}
	var limitErr, skipErr error
	req.Limit, limitErr = decimal(q, "limit")
	req.Skip, skipErr = decimal(q, "skip")
	paramErr := errors.Join(limitErr, skipErr)
	rec := &recorder{ResponseWriter: w}
	// Logged on arrival, so a test sees a request that hangs; the status and
	// the records answered are filled in when it ends.
	s.mu.Lock()
	n := s.base + len(s.log)
	s.log = append(s.log, req)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if i := n - s.base; i >= 0 {
			s.log[i].Status, s.log[i].Records = rec.status, req.Records
		}
		s.mu.Unlock()
	}()

	if r.URL.Path != FindPath {
		writeError(rec, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet {
		writeError(rec, http.StatusMethodNotAllowed, "reads are GET")
		return
	}
	if paramErr != nil {
		writeError(rec, http.StatusBadRequest, paramErr.Error())
		return
	}

	s.mu.Lock()
	latency, hook, done := s.opts.Latency, s.hook, s.done
	var fault *Fault
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		fault, hook = &f, nil
	}
	s.mu.Unlock()
	if hook != nil {
		fault = hook(req)
	}
	if !wait(r, done, latency) {
		return
	}
	if fault != nil {
		if fault.Hang {
			wait(r, done, -1)
			return
		}
		if fault.RetryAfter != "" {
			rec.Header().Set("Retry-After", fault.RetryAfter)
		}
		msg := fault.Message
		if msg == "" {
			msg = http.StatusText(fault.Status)
		}
		writeError(rec, fault.Status, msg)
		return
	}

	page, err := s.find(req)
	var bq *badQuery
	if errors.As(err, &bq) {
		writeError(rec, http.StatusBadRequest, bq.msg)
		return
	}
	if err != nil {
		writeError(rec, http.StatusInternalServerError, err.Error())
		return
	}
	req.Records = len(page)
	writeJSON(rec, http.StatusOK, page)
}

// find runs a query: filter, sort, skip, limit, the gateway's cut, projection.
func (s *Server) find(req Request) ([]map[string]any, error) {
	conds, err := parseFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	paths, withID, err := parseProjection(req.Projection)
	if err != nil {
		return nil, err
	}
	keys, err := parseSort(req.Sort)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	var hits []map[string]any
	for _, d := range s.records {
		if matches(d, conds) {
			hits = append(hits, d)
		}
	}
	s.mu.Unlock()
	slices.SortStableFunc(hits, func(a, b map[string]any) int {
		for _, k := range keys {
			if c := compare(field(a, k.path), field(b, k.path)); c != 0 {
				return c * k.order
			}
		}
		return 0
	})
	hits = hits[min(req.Skip, len(hits)):]
	if req.Limit > 0 && len(hits) > req.Limit {
		hits = hits[:req.Limit]
	}
	if s.opts.PageCap > 0 && len(hits) > s.opts.PageCap {
		hits = hits[:s.opts.PageCap]
	}
	out := make([]map[string]any, len(hits))
	for i, d := range hits {
		if paths == nil && withID {
			out[i] = d
		} else {
			out[i] = project(d, paths, withID)
		}
	}
	return out, nil
}

// decimal reads a non-negative decimal parameter; absent is 0.
func decimal(q url.Values, name string) (int, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative decimal, not %q", name, v)
	}
	return n, nil
}

// wait stalls for d (forever when negative) or until the client gives up or
// the server closes; it reports whether the request should still be answered.
func wait(r *http.Request, done <-chan struct{}, d time.Duration) bool {
	if d == 0 {
		return true
	}
	var tc <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-r.Context().Done():
		return false
	case <-done:
		return false
	case <-tc:
		return true
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"fake: cannot encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// recorder remembers the status a handler answered.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
