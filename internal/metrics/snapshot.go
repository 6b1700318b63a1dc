package metrics

import (
	"os"

	dto "github.com/prometheus/client_model/go"
)

// Snapshot is the counters at one moment, as .aindfs/stats.json and
// `aindfs stats --json` show them. Counts are since the process started.
type Snapshot struct {
	PID           int     `json:"pid"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	Cache         struct {
		BudgetBytes int64 `json:"budget_bytes"`
		UsedBytes   int64 `json:"used_bytes"`
		Hits        int64 `json:"hits"`   // blocks found cached
		Misses      int64 `json:"misses"` // blocks waited for
	} `json:"cache"`
	Bytes struct {
		Read      int64 `json:"read"`       // handed to readers by the store
		FromCache int64 `json:"from_cache"` // of those, found in the cache
		Fetched   int64 `json:"fetched"`    // brought into the cache, from S3 or disk
		FromS3    int64 `json:"from_s3"`    // response bodies received from S3
	} `json:"bytes"`
	DiskCache struct {
		Hits   int64 `json:"hits"`   // blocks read back from disk
		Writes int64 `json:"writes"` // blocks written to disk
	} `json:"disk_cache"`
	// Requests and Errors are by service (s3, codeocean, docdb), then kind.
	Requests               map[string]map[string]int64 `json:"requests"`
	Errors                 map[string]map[string]int64 `json:"errors"`
	FUSEReads              int64                       `json:"fuse_reads"`
	FUSEReadErrors         int64                       `json:"fuse_read_errors"`
	OpenFiles              int64                       `json:"open_files"`
	ReadaheadInflightBytes int64                       `json:"readahead_inflight_bytes"`
	SessionsResolved       int64                       `json:"sessions_resolved"`
}

// Snapshot reads every counter now, from the same registry Prometheus
// is served from.
func (m *Metrics) Snapshot() (Snapshot, error) {
	g, err := m.gathered()
	if err != nil {
		return Snapshot{}, err
	}
	one := func(name string) int64 {
		ms := g[name]
		if len(ms) == 0 {
			return 0
		}
		return int64(value(ms[0]))
	}
	byLabels := func(name string) map[string]map[string]int64 {
		out := map[string]map[string]int64{}
		for _, mt := range g[name] {
			var service, kind string
			for _, l := range mt.GetLabel() {
				switch l.GetName() {
				case "service":
					service = l.GetValue()
				case "kind":
					kind = l.GetValue()
				}
			}
			if out[service] == nil {
				out[service] = map[string]int64{}
			}
			out[service][kind] = int64(value(mt))
		}
		return out
	}
	var s Snapshot
	s.PID = os.Getpid()
	if ms := g["aindfs_uptime_seconds"]; len(ms) > 0 {
		s.UptimeSeconds = value(ms[0])
	}
	s.Cache.BudgetBytes = one("aindfs_cache_budget_bytes")
	s.Cache.UsedBytes = one("aindfs_cache_used_bytes")
	s.Cache.Hits = one("aindfs_cache_hits_total")
	s.Cache.Misses = one("aindfs_cache_misses_total")
	s.Bytes.Read = one("aindfs_read_bytes_total")
	s.Bytes.FromCache = one("aindfs_cache_bytes_total")
	s.Bytes.Fetched = one("aindfs_fetched_bytes_total")
	s.DiskCache.Hits = one("aindfs_disk_cache_hits_total")
	s.DiskCache.Writes = one("aindfs_disk_cache_writes_total")
	s.Bytes.FromS3 = one("aindfs_s3_bytes_total")
	s.Requests = byLabels("aindfs_requests_total")
	s.Errors = byLabels("aindfs_request_errors_total")
	s.FUSEReads = one("aindfs_fuse_read_seconds")
	s.FUSEReadErrors = one("aindfs_fuse_read_errors_total")
	s.OpenFiles = one("aindfs_open_files")
	s.ReadaheadInflightBytes = one("aindfs_readahead_inflight_bytes")
	s.SessionsResolved = one("aindfs_sessions_resolved")
	return s, nil
}

// value is a counter's or gauge's value, or a histogram's count.
func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}
