// Package docdb reads AIND's metadata database (DocDB): the records that
// describe each data asset (its subject, procedures, where its files are and
// which Code Ocean assets hold them). Reads are public and need no
// credentials; this package only reads.
//
// It knows nothing of sessions: it finds records by the fields it is given.
package docdb

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aind/aindfs/internal/httpsonly"
	"github.com/aind/aindfs/internal/retry"
)

// DefaultURL is AIND's public metadata API.
const DefaultURL = "https://api.allenneuraldynamics.org"

// findPath is the read endpoint under the base URL.
const findPath = "/v1/metadata_index/data_assets/find"

// DefaultTimeout bounds one attempt (request and whole answer). The gateway
// cuts pages at a few MB, so an answer taking longer than this is a stalled
// server, not a large page.
const DefaultTimeout = 15 * time.Second

// DefaultMaxPages bounds Find: a subject has at most a few thousand records,
// and the gateway cuts pages at a few MB, so more pages than this means the
// server ignores skip and would page forever.
const DefaultMaxPages = 1000

// DefaultRetry retries overload and server errors as the reference client
// does (five attempts, doubling waits), with jitter, within a budget that
// keeps a lookup under the resolver's half minute.
var DefaultRetry = retry.Policy{
	MaxAttempts:   5,
	BaseDelay:     500 * time.Millisecond,
	MaxDelay:      8 * time.Second,
	MaxRetryAfter: 10 * time.Second,
	MaxElapsed:    25 * time.Second,
}

// Config says where DocDB is and how to talk to it. The zero value asks
// DefaultURL with the defaults.
type Config struct {
	// URL is the API's base address, such as DefaultURL (the default). It
	// must be https, except for a server on this machine (loopback).
	URL string
	// HTTPClient carries the requests; nil means a client of its own.
	HTTPClient *http.Client
	// Logger receives one debug line per request, answer and retry; nil
	// discards them.
	Logger *slog.Logger
	// Retry says how requests are retried; zero fields take DefaultRetry's.
	Retry retry.Policy
	// Timeout bounds one attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxPages bounds Find; 0 means DefaultMaxPages.
	MaxPages int
}

// Client reads DocDB records. It is safe for concurrent use.
type Client struct {
	find     *url.URL
	http     *http.Client
	log      *slog.Logger
	retry    retry.Policy
	timeout  time.Duration
	maxPages int
}

// New returns a client for cfg, or an error naming a URL it will not use.
func New(cfg Config) (*Client, error) {
	u, err := findURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		find:     u,
		http:     httpsOnly.Client(cfg.HTTPClient),
		log:      cfg.Logger,
		retry:    cfg.Retry.Or(DefaultRetry),
		timeout:  cfg.Timeout,
		maxPages: cfg.MaxPages,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxPages <= 0 {
		c.maxPages = DefaultMaxPages
	}
	return c, nil
}

// findURL turns a base address into the find endpoint's URL. Plain http is
// refused unless the host is this machine: answers decide which files are
// served, so they must come from the server the user named.
func findURL(base string) (*url.URL, error) {
	base = strings.TrimSpace(base)
	if base == "" {
		base = DefaultURL
	}
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("docdb URL %q: %w", base, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("docdb URL %q: no host", base)
	}
	if u.User != nil {
		return nil, fmt.Errorf("docdb URL %q: must not hold credentials (reads need none)", u.Redacted())
	}
	if err := httpsOnly.Check(u); err != nil {
		return nil, fmt.Errorf("docdb URL %q: %w", base, err)
	}
	u.RawQuery, u.Fragment, u.RawPath = "", "", ""
	u.Path = strings.TrimSuffix(u.Path, "/") + findPath
	return u, nil
}

// httpsOnly: answers decide which files are served, so neither the base URL
// nor a redirect may lead to a server the network could stand in for.
var httpsOnly = httpsonly.Rule{PlainHTTP: func(host string) string {
	return fmt.Sprintf("plain http is only for a server on this machine (%s is not); use https", host)
}}

// URL returns the base address the client asks.
func (c *Client) URL() string {
	u := *c.find
	u.Path = strings.TrimSuffix(u.Path, findPath)
	return strings.TrimSuffix(u.String(), "/")
}

// SortKey is one field of a sort, ascending (Order 1) or descending (-1).
type SortKey struct {
	Field string
	Order int
}

// Query is what Find asks: a filter in the database's query language, an
// optional projection and an ordered sort. Filter and Projection are
// encoded as JSON; nil means none.
type Query struct {
	Filter     any
	Projection any
	Sort       []SortKey
	// Limit is the most records per page; 0 lets the server decide, as the
	// reference client does (the gateway then cuts pages by size).
	Limit int
}

// ByCreated is the order every query of the reference library uses: oldest
// record first, so the newest is last.
var ByCreated = []SortKey{{Field: "created", Order: 1}}

// encoded holds a query's JSON parameters, made once per Find.
type encoded struct {
	filter, projection, sort string
	limit                    int
}

func (q Query) encode() (encoded, error) {
	e := encoded{limit: q.Limit}
	if q.Limit < 0 {
		return e, fmt.Errorf("docdb query: negative limit %d", q.Limit)
	}
	var err error
	if e.filter, err = encodeJSON("filter", q.Filter); err != nil {
		return e, err
	}
	if e.projection, err = encodeJSON("projection", q.Projection); err != nil {
		return e, err
	}
	if len(q.Sort) > 0 {
		// Keys in the order given: a map would sort them by name.
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range q.Sort {
			if k.Order != 1 && k.Order != -1 {
				return e, fmt.Errorf("docdb query: sort order of %q is %d, not 1 or -1", k.Field, k.Order)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			name, _ := json.Marshal(k.Field)
			fmt.Fprintf(&b, "%s:%d", name, k.Order)
		}
		b.WriteByte('}')
		e.sort = b.String()
	}
	return e, nil
}

func encodeJSON(what string, v any) (string, error) {
	if v == nil {
		return "", nil
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // names hold & and <>; keep them readable in logs
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("docdb query: encode %s: %w", what, err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// String says what a query asks, for logs and errors.
func (e encoded) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+" "+v)
		}
	}
	add("filter", e.filter)
	add("projection", e.projection)
	add("sort", e.sort)
	if e.limit > 0 {
		add("limit", fmt.Sprint(e.limit))
	}
	if len(parts) == 0 {
		return "every record"
	}
	return strings.Join(parts, ", ")
}

func (e encoded) values(skip int) url.Values {
	v := url.Values{}
	v.Set("limit", fmt.Sprint(e.limit))
	v.Set("skip", fmt.Sprint(skip))
	if e.filter != "" {
		v.Set("filter", e.filter)
	}
	if e.projection != "" {
		v.Set("projection", e.projection)
	}
	if e.sort != "" {
		v.Set("sort", e.sort)
	}
	return v
}

// Page returns the records of one page of q, from the skip-th on, as the
// server sent them. A page may be shorter than asked even when more follow:
// only an empty page ends a listing.
func (c *Client) Page(ctx context.Context, q Query, skip int) ([]json.RawMessage, error) {
	e, err := q.encode()
	if err != nil {
		return nil, err
	}
	return c.page(ctx, e, skip)
}

// Find returns every record q matches, asking page after page until one
// comes back empty: the gateway cuts a page short when it is too large, so a
// short page says nothing about the end.
func (c *Client) Find(ctx context.Context, q Query) ([]json.RawMessage, error) {
	e, err := q.encode()
	if err != nil {
		return nil, err
	}
	var all []json.RawMessage
	for page := 1; ; page++ {
		if page > c.maxPages {
			return nil, fmt.Errorf("docdb find (%s): still more records after %d pages (%d records): the server does not seem to honour skip",
				e, c.maxPages, len(all))
		}
		recs, err := c.page(ctx, e, len(all))
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			c.log.DebugContext(ctx, "docdb find done", "ask", e.String(), "records", len(all), "pages", page)
			return all, nil
		}
		all = append(all, recs...)
	}
}

// Records is Find with each record decoded.
func (c *Client) Records(ctx context.Context, q Query) ([]Record, error) {
	raws, err := c.Find(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]Record, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			e, _ := q.encode()
			return nil, fmt.Errorf("docdb find (%s): record %d: %w", e, i, err)
		}
	}
	return out, nil
}

// SessionRecord returns the record named exactly name; of several, the
// newest (see Newest). ok is false when there is none.
func (c *Client) SessionRecord(ctx context.Context, name string) (rec Record, ok bool, err error) {
	if strings.TrimSpace(name) == "" {
		return Record{}, false, fmt.Errorf("docdb: empty record name")
	}
	recs, err := c.Records(ctx, Query{Filter: map[string]any{"name": name}, Sort: ByCreated})
	if err != nil {
		return Record{}, false, err
	}
	rec, ok = Newest(recs)
	return rec, ok, nil
}

// AssetRecord returns the record linking the Code Ocean asset id (in either
// shape of external_links); of several, the newest. ok is false when none does.
func (c *Client) AssetRecord(ctx context.Context, assetID string) (rec Record, ok bool, err error) {
	if strings.TrimSpace(assetID) == "" {
		return Record{}, false, fmt.Errorf("docdb: empty Code Ocean asset ID")
	}
	recs, err := c.Records(ctx, Query{Filter: map[string]any{"external_links.Code Ocean": assetID}, Sort: ByCreated})
	if err != nil {
		return Record{}, false, err
	}
	rec, ok = Newest(recs)
	return rec, ok, nil
}

// SubjectRecords returns the records of a subject, oldest first. With
// fields, each record holds only those (dotted paths, such as
// "external_links.Code Ocean"), which keeps the answers small; a record
// lacking all of them comes back empty.
func (c *Client) SubjectRecords(ctx context.Context, subjectID string, fields ...string) ([]Record, error) {
	if strings.TrimSpace(subjectID) == "" {
		return nil, fmt.Errorf("docdb: empty subject ID")
	}
	q := Query{Filter: map[string]any{"subject.subject_id": subjectID}, Sort: ByCreated}
	if len(fields) > 0 {
		p := map[string]int{}
		for _, f := range fields {
			p[f] = 1
		}
		if p["_id"] == 0 {
			p["_id"] = 0 // the server adds _id unless told not to
		}
		q.Projection = p
	}
	return c.Records(ctx, q)
}

// SubjectAssetIDs returns the Code Ocean asset IDs linked from a subject's
// records, each once, in the order of the records.
func (c *Client) SubjectAssetIDs(ctx context.Context, subjectID string) ([]string, error) {
	recs, err := c.SubjectRecords(ctx, subjectID, "external_links.Code Ocean")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for _, r := range recs {
		for _, id := range r.CodeOcean() {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}
