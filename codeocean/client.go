package codeocean

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aind/aindfs/internal/httpsonly"
	"github.com/aind/aindfs/internal/retry"
)

// DefaultDomain is the Allen Institute's Code Ocean, where the sessions'
// assets are registered.
const DefaultDomain = "https://codeocean.allenneuraldynamics.org"

// DefaultTimeout bounds one attempt (request and whole response body): a
// search page of 1000 assets is a few MB, so a minute is generous.
const DefaultTimeout = 60 * time.Second

// DefaultMaxSearchPages bounds SearchDataAssets: 1000 pages of up to 1000
// assets is far more than the catalog holds, so more means the server is
// paging in circles.
const DefaultMaxSearchPages = 1000

// searchPageSize is the server's maximum: the fewest round trips for the
// exhaustive searches resolve makes.
const searchPageSize = 1000

// Config says where Code Ocean is and how to talk to it. The zero value of
// every field but Token is usable.
type Config struct {
	// Domain is the deployment's address, such as DefaultDomain (the default).
	Domain string
	// Token is the access token (cop_…), sent as the Basic auth user.
	Token string
	// HTTPClient carries the requests; nil means a client of its own.
	HTTPClient *http.Client
	// Logger receives one debug line per request, response and retry; nil
	// discards them.
	Logger *slog.Logger
	// Retry says how reads are retried.
	Retry Retry
	// Timeout bounds one attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxSearchPages bounds SearchDataAssets; 0 means DefaultMaxSearchPages.
	MaxSearchPages int
}

// Retry says how reads (GET, search) are retried on 429, 500/502/503/504 and
// connection errors: capped exponential backoff with full jitter, or the
// server's Retry-After when it sends one. Writes (attach) are never retried.
// Zero fields take those of DefaultRetry.
type Retry = retry.Policy

// DefaultRetry: five attempts within 30 s, the backoff ceiling doubling from
// 250 ms to 5 s, a server's Retry-After honoured up to 10 s.
var DefaultRetry = Retry{
	MaxAttempts:   5,
	BaseDelay:     250 * time.Millisecond,
	MaxDelay:      5 * time.Second,
	MaxRetryAfter: 10 * time.Second,
	MaxElapsed:    30 * time.Second,
}

// Client asks Code Ocean about data assets. It is safe for concurrent use.
type Client struct {
	base     *url.URL // ends in /api/v1/
	token    string
	secret   credential // every form of token, to hide in what servers send back
	http     *http.Client
	log      *slog.Logger
	retry    Retry
	timeout  time.Duration
	maxPages int

	// oldSearch: the server refused a search's optional fields once, so
	// searches with a Fallback go straight to it.
	oldSearch atomic.Bool
}

// New returns a client for cfg. A missing token is not an error here (the
// S3-only mode needs none); calls made without one fail with ErrNoToken.
func New(cfg Config) (*Client, error) {
	base, err := baseURL(cfg.Domain)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:     base,
		token:    strings.TrimSpace(cfg.Token),
		secret:   newCredential(strings.TrimSpace(cfg.Token)),
		log:      cfg.Logger,
		retry:    cfg.Retry.Or(DefaultRetry),
		timeout:  cfg.Timeout,
		maxPages: cfg.MaxSearchPages,
	}
	// A redirect carries the Authorization header along: never to a place
	// the domain itself could not be.
	c.http = httpsOnly.Client(cfg.HTTPClient)
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxPages <= 0 {
		c.maxPages = DefaultMaxSearchPages
	}
	return c, nil
}

// baseURL turns a domain ("https://host", "host", "http://127.0.0.1:8080/")
// into the API root "{domain}/api/v1/".
func baseURL(domain string) (*url.URL, error) {
	domain = strings.TrimSpace(domain)
	if domain == "" {
		domain = DefaultDomain
	}
	if !strings.Contains(domain, "://") {
		domain = "https://" + domain
	}
	u, err := url.Parse(domain)
	if err != nil {
		return nil, fmt.Errorf("code ocean domain %q: %w", domain, err)
	}
	if u.User != nil {
		return nil, fmt.Errorf("code ocean domain %q: must not hold credentials (set %s instead)", u.Redacted(), TokenVar)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("code ocean domain %q: no host", domain)
	}
	if err := httpsOnly.Check(u); err != nil {
		return nil, fmt.Errorf("code ocean domain %q (%s): %w", domain, DomainVar, err)
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/"
	u.RawPath = ""
	return u, nil
}

// httpsOnly refuses addresses the token must not be sent to: every request
// carries it, so anything but https would show it to the network.
var httpsOnly = httpsonly.Rule{PlainHTTP: func(host string) string {
	return fmt.Sprintf("plain http would send the access token unencrypted to %s: use https (http is accepted only for loopback addresses such as 127.0.0.1)", host)
}}

// Domain returns the deployment's address, without the API path.
func (c *Client) Domain() string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "api/v1/")
	return strings.TrimSuffix(u.String(), "/")
}

// GetDataAsset returns the asset with the given ID; an unknown ID is an
// error for which errors.Is(err, ErrNotFound) holds.
func (c *Client) GetDataAsset(ctx context.Context, id string) (DataAsset, error) {
	var a DataAsset
	if err := checkID("data asset", id); err != nil {
		return a, err
	}
	err := c.do(ctx, call{
		method: http.MethodGet,
		path:   "data_assets/" + url.PathEscape(id),
		read:   true,
	}, &a)
	return a, err
}

// SearchPage returns one page of a search, as the server sent it.
func (c *Client) SearchPage(ctx context.Context, p SearchParams) (SearchResults, error) {
	var r SearchResults
	version := baseVersion
	if !p.NextToken.IsZero() || len(p.Filters) > 0 {
		version = searchVersion
	}
	err := c.do(ctx, call{
		method:  http.MethodPost,
		path:    "data_assets/search",
		body:    p,
		summary: p.summary(),
		read:    true,
		version: version,
	}, &r)
	return r, err
}

// SearchDataAssets returns every asset a search finds, following next_token
// (or offset, for servers that send no token) until has_more is false. Assets
// seen on an earlier page are not repeated. Each page has its own time budget
// (Retry.MaxElapsed): a large page from a loaded server is slow, not failed,
// and a stalled server still ends the search within one budget. A server that
// keeps saying has_more past MaxSearchPages pages, repeats a token, or says
// has_more with an empty page is an error rather than an endless loop.
//
// A search with a Fallback that the server refuses as a bad request (a
// server older than the search's fields) is asked again as its Fallback, and
// this client asks every later such search that way at once.
func (c *Client) SearchDataAssets(ctx context.Context, p SearchParams) ([]DataAsset, error) {
	if p.Fallback == nil {
		return c.searchAll(ctx, p)
	}
	fallback := *p.Fallback
	if fallback.Limit == 0 {
		fallback.Limit = p.Limit
	}
	if !c.oldSearch.Load() {
		all, err := c.searchAll(ctx, p)
		var apiErr *APIError
		if err == nil || !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
			return all, err
		}
		c.oldSearch.Store(true)
		c.log.InfoContext(ctx, "code ocean refused a search's fields; asking in query form from now on",
			"search", p.summary(), "instead", fallback.summary(), "cause", err.Error())
	}
	return c.searchAll(ctx, fallback)
}

func (c *Client) searchAll(ctx context.Context, p SearchParams) ([]DataAsset, error) {
	if p.Limit <= 0 || p.Limit > searchPageSize {
		p.Limit = searchPageSize
	}
	var (
		all    []DataAsset
		seenID = map[string]bool{}
		tokens = map[string]bool{}
	)
	for page := 1; ; page++ {
		if page > c.maxPages {
			return nil, fmt.Errorf("code ocean search %s: still more results after %d pages (%d assets): the server keeps paging; narrow the query",
				p.querySummary(), c.maxPages, len(all))
		}
		r, err := c.SearchPage(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, a := range r.Results {
			if !seenID[a.ID] {
				seenID[a.ID] = true
				all = append(all, a)
			}
		}
		if !r.HasMore {
			return all, nil
		}
		switch {
		case !r.NextToken.IsZero():
			if tokens[r.NextToken.Value] {
				return nil, fmt.Errorf("code ocean search %s: page %d repeats an earlier next_token: the server is paging in circles", p.querySummary(), page)
			}
			tokens[r.NextToken.Value] = true
			p.NextToken, p.Offset = r.NextToken, 0
		case len(r.Results) == 0:
			return nil, fmt.Errorf("code ocean search %s: page %d is empty but says has_more without a next_token", p.querySummary(), page)
		default:
			// Older servers page by offset only.
			p.Offset += len(r.Results)
			p.NextToken = PageToken{}
		}
	}
}

// checkID refuses IDs that would address another endpoint, before any request.
func checkID(kind, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("code ocean: empty %s ID", kind)
	}
	if strings.ContainsAny(id, "/?#") || id == "." || id == ".." {
		return fmt.Errorf("code ocean: %s ID %q is not an ID", kind, id)
	}
	return nil
}

// summary says what a search asked, for logs and errors.
func (p SearchParams) summary() string {
	var b strings.Builder
	b.WriteString(p.querySummary())
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	if p.Limit > 0 {
		add("limit", fmt.Sprint(p.Limit))
	}
	if p.Offset > 0 {
		add("offset", fmt.Sprint(p.Offset))
	}
	if !p.NextToken.IsZero() {
		add("next_token", "set")
	}
	add("type", p.Type)
	add("origin", p.Origin)
	add("sort", strings.TrimSpace(p.SortField+" "+p.SortOrder))
	return b.String()
}

// querySummary names what a search looks for: its query and its filters.
func (p SearchParams) querySummary() string {
	parts := []string{}
	if p.Query != "" || len(p.Filters) == 0 {
		parts = append(parts, fmt.Sprintf("query %q", p.Query))
	}
	for _, f := range p.Filters {
		var vs []string
		if f.Value != nil {
			vs = append(vs, fmt.Sprint(f.Value))
		}
		for _, v := range f.Values {
			vs = append(vs, fmt.Sprint(v))
		}
		op := "="
		if f.Exclude {
			op = "!="
		}
		parts = append(parts, fmt.Sprintf("filter %q%s%q", f.Key, op, strings.Join(vs, "|")))
	}
	return strings.Join(parts, " ")
}
