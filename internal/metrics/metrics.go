// Package metrics counts what a mount does: requests to S3 and Code Ocean
// by kind, their errors and latency, FUSE reads, and the store's and
// resolver's own counters. The same counters are served to Prometheus
// (Handler) and written as JSON (Snapshot) for .aindfs/stats.json and
// `aindfs stats`.
package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/aind/aindfs/store"
)

// Services that requests are counted for.
const (
	S3        = "s3"
	CodeOcean = "codeocean"
	DocDB     = "docdb"
)

// Metrics holds the counters of one process. Its zero value is not usable:
// call New.
type Metrics struct {
	reg       *prometheus.Registry
	started   time.Time
	requests  *prometheus.CounterVec
	errs      *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	s3Bytes   prometheus.Counter
	fuseReads prometheus.Histogram
	readErrs  prometheus.Counter
	watched   atomic.Bool
}

// New returns the counters, all zero, started now.
func New() *Metrics {
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		started: time.Now(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aindfs_requests_total", Help: "HTTP requests sent, by service and kind, retries included.",
		}, []string{"service", "kind"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aindfs_request_errors_total", Help: "HTTP requests that failed, by service and kind of failure (http_503, timeout, connection, canceled).",
		}, []string{"service", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "aindfs_request_seconds", Help: "Time to the response's headers of HTTP requests, by service.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"service"}),
		s3Bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aindfs_s3_bytes_total", Help: "Bytes of response bodies received from S3.",
		}),
		fuseReads: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "aindfs_fuse_read_seconds", Help: "Time to answer the kernel's read requests.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
		readErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aindfs_fuse_read_errors_total", Help: "Read requests answered with an error (EIO, EINTR).",
		}),
	}
	m.reg.MustRegister(m.requests, m.errs, m.latency, m.s3Bytes, m.fuseReads, m.readErrs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aindfs_uptime_seconds", Help: "Seconds since the process started."},
			func() float64 { return time.Since(m.started).Seconds() }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Sources are what the mount's gauges and counters are read from when
// asked for.
type Sources struct {
	Store       *store.Store
	CacheBudget int64
	// OpenFiles and Sessions count the files open through the mount and
	// the sessions resolved so far; nil counts nothing.
	OpenFiles func() int64
	Sessions  func() int
}

// Watch adds the counters of src. Call it once, when the pieces exist.
func (m *Metrics) Watch(src Sources) {
	if m.watched.Swap(true) {
		panic("metrics: Watch called twice")
	}
	stat := func(f func(store.Stats) int64) func() float64 {
		return func() float64 { return float64(f(src.Store.Stats())) }
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(
		gauge("aindfs_cache_budget_bytes", "Memory the block cache may use.", func() float64 { return float64(src.CacheBudget) }),
		gauge("aindfs_cache_used_bytes", "Bytes of blocks in the cache now.", stat(func(s store.Stats) int64 { return s.CachedBytes })),
		counter("aindfs_cache_hits_total", "Blocks a read found in the cache.", stat(func(s store.Stats) int64 { return s.CacheHits })),
		counter("aindfs_cache_misses_total", "Blocks a read had to wait for.", stat(func(s store.Stats) int64 { return s.CacheMisses })),
		counter("aindfs_cache_unforeseen_total", "Blocks a read had to fetch itself: no readahead had asked for them.", stat(func(s store.Stats) int64 { return s.Unforeseen })),
		counter("aindfs_read_bytes_total", "Bytes handed to readers by the store.", stat(func(s store.Stats) int64 { return s.BytesServed })),
		counter("aindfs_cache_bytes_total", "Bytes handed to readers from blocks already in the cache.", stat(func(s store.Stats) int64 { return s.BytesFromCache })),
		counter("aindfs_disk_cache_hits_total", "Blocks read back from the disk cache.", stat(func(s store.Stats) int64 { return s.DiskHits })),
		counter("aindfs_disk_cache_writes_total", "Blocks written to the disk cache.", stat(func(s store.Stats) int64 { return s.DiskWrites })),
		counter("aindfs_fetched_bytes_total", "Bytes the store fetched from S3 and local disk into the cache.", stat(func(s store.Stats) int64 { return s.BytesFetched })),
		gauge("aindfs_readahead_inflight_bytes", "Bytes requested from S3 by reads and readahead and not yet received.", stat(func(s store.Stats) int64 { return s.InflightBytes })),
		gauge("aindfs_open_files", "Files open through the mount.", func() float64 {
			if src.OpenFiles == nil {
				return 0
			}
			return float64(src.OpenFiles())
		}),
		gauge("aindfs_sessions_resolved", "Sessions known to the mount: local ones and those looked up.", func() float64 {
			if src.Sessions == nil {
				return 0
			}
			return float64(src.Sessions())
		}),
	)
}

// Handler serves the counters in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveRead counts one read request of the kernel.
func (m *Metrics) ObserveRead(took time.Duration, err error) {
	m.fuseReads.Observe(took.Seconds())
	if err != nil {
		m.readErrs.Inc()
	}
}

// S3Client counts the requests of an S3 client sent through c.
func (m *Metrics) S3Client(c aws.HTTPClient) aws.HTTPClient {
	return doFunc(func(req *http.Request) (*http.Response, error) {
		return m.observe(S3, s3Kind(req), req, c.Do)
	})
}

// Client returns an HTTP client that counts the requests it sends to
// service, by kind (kindOf), through the default transport.
func (m *Metrics) Client(service string, kindOf func(*http.Request) string) *http.Client {
	base := http.DefaultTransport
	return &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return m.observe(service, kindOf(req), req, base.RoundTrip)
	})}
}

func (m *Metrics) observe(service, kind string, req *http.Request, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	m.requests.WithLabelValues(service, kind).Inc()
	start := time.Now()
	resp, err := send(req)
	m.latency.WithLabelValues(service).Observe(time.Since(start).Seconds())
	switch {
	case err != nil:
		m.errs.WithLabelValues(service, errorKind(err)).Inc()
	case resp.StatusCode >= 400:
		m.errs.WithLabelValues(service, "http_"+strconv.Itoa(resp.StatusCode)).Inc()
	}
	if err == nil && service == S3 && resp.Body != nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: m.s3Bytes}
	}
	return resp, err
}

// s3Kind names an S3 request by what it does.
func s3Kind(req *http.Request) string {
	switch {
	case req.Method == http.MethodHead:
		return "head"
	case req.Method == http.MethodGet && req.URL.Query().Has("list-type"):
		return "list"
	case req.Method == http.MethodGet && req.Header.Get("Range") != "":
		return "get_range"
	}
	return strings.ToLower(req.Method)
}

// CodeOceanKind names a request to Code Ocean's API by its route.
func CodeOceanKind(req *http.Request) string {
	p := strings.Trim(strings.TrimPrefix(req.URL.Path, "/api/v1"), "/")
	parts := strings.Split(p, "/")
	switch {
	case len(parts) == 2 && parts[0] == "data_assets" && parts[1] == "search":
		return "search"
	case len(parts) == 2 && parts[0] == "data_assets":
		return "data_asset"
	case len(parts) == 3 && parts[0] == "capsules" && parts[2] == "data_assets":
		return "attach"
	}
	return parts[0]
}

func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "connection"
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(req *http.Request) (*http.Response, error) { return f(req) }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// countingBody adds the bytes read from a response body to n.
type countingBody struct {
	io.ReadCloser
	n prometheus.Counter
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(float64(n))
	return n, err
}

// gathered returns the current value of every counter and gauge, by name
// and labels.
func (m *Metrics) gathered() (map[string][]*dto.Metric, error) {
	families, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string][]*dto.Metric{}
	for _, f := range families {
		out[f.GetName()] = f.GetMetric()
	}
	return out, nil
}

// LastPathKind names a request by the last element of its path (DocDB's
// find, aggregate, ...).
func LastPathKind(req *http.Request) string {
	p := strings.TrimRight(req.URL.Path, "/")
	return p[strings.LastIndex(p, "/")+1:]
}
