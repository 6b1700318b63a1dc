// Package fake is an in-process Code Ocean server for tests and demos,
// faithful to the parts of the REST API aindfs uses, and as strict as the
// real one where it refuses: Basic auth and scopes, data assets by ID, paged
// search with the query syntax (see parseQuery) and filters, computations
// with their attached assets, attaching to capsules and to running
// computations (a whole request refused when one asset is, with a JSON array
// of refusals; no capsule attach while one of its computations runs; at most
// 100 assets a request; folders that appear a while after attaching), and a
// server version that refuses a higher Min-Server-Version. It can add
// latency, answer 429 or 5xx, hang up, answer with a proxy's HTML page or
// echo the request's headers, and page the way older servers did or with
// numeric tokens; it logs every request so tests can count what a lookup
// cost.
package fake

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
)

// Search limits, as documented.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// Options configure a Server.
type Options struct {
	// Token is the access token with every scope. Empty accepts any request,
	// with or without credentials.
	Token string
	// ReadOnlyToken may read data assets but not write capsules (403).
	ReadOnlyToken string
	// ScopelessToken is valid but lacks "Datasets: Read": every call is 403.
	ScopelessToken string
	// Latency is added to every request.
	Latency time.Duration
	// OffsetPagingOnly pages like older servers: no next_token in answers, and
	// one in a request is ignored.
	OffsetPagingOnly bool
	// NameQueryMaxLen, when positive, makes name: values longer than this
	// match nothing, as a stand-in for the real server's unreliable long
	// name queries.
	NameQueryMaxLen int
	// ServerVersion is the version the server says it is ("x.y.z", default
	// DefaultServerVersion). A request whose Min-Server-Version is malformed
	// or higher is refused with 400. Below 3.1 the server pages by offset
	// only, below 4.2 it cannot attach to computations.
	ServerVersion string
	// NumericNextToken sends next_token as a JSON number, as one version of
	// the published docs describes it, and wants it back as one.
	NumericNextToken bool
	// HTMLErrors answers every error with an HTML page, as a proxy or gateway
	// in front of the API does, instead of the API's JSON.
	HTMLErrors bool
	// MountDelay is how long an asset attached to a running computation takes
	// to appear: until then its attach answer says ready false, and its
	// folder is not in DataDir.
	MountDelay time.Duration
	// DataDir, when set, is the running computations' /data: an attached
	// asset's folder <DataDir>/<mount> is made once it is mounted.
	DataDir string
}

// DefaultServerVersion is the version a fake says it is unless told: the
// one the official SDK (0.16) asks for.
const DefaultServerVersion = "4.6.0"

// Fault is an injected failure.
type Fault struct {
	Status     int           // answered with {"message": Message}; 0 answers normally (after Delay)
	Message    string        // default: the status text
	RetryAfter string        // Retry-After header value; empty sends none
	Hangup     bool          // close the connection without answering instead
	Delay      time.Duration // stall this long first (or until the client gives up)
	HTML       bool          // answer with an HTML page, as a proxy does
	// EchoHeaders puts the request's headers (Authorization included) in the
	// message, as some proxies' error pages do.
	EchoHeaders bool
}

// Request is one logged request.
type Request struct {
	Method string
	Path   string // relative to /api/v1/, such as "data_assets/search"
	Query  string // raw query string
	Body   string // request body as sent
	Status int    // status answered; 0 when the fake hung up
	// MinServerVersion is the request's Min-Server-Version header.
	MinServerVersion string
}

// Server is a fake Code Ocean. It implements http.Handler; the zero value is
// not usable, use New.
type Server struct {
	opts Options

	mu           sync.Mutex
	assets       []entry
	byID         map[string]int
	metaKeys     map[string]bool                     // lower-case custom-metadata keys in the catalog
	attached     map[string][]codeocean.AttachResult // by capsule ID
	computations map[string]*computation
	version      [3]int
	jobs         int
	faults       []Fault
	faultHook    func(Request) *Fault
	latency      time.Duration
	log          []Request
}

// entry is a catalog asset: parsed for matching, and its JSON as loaded, so
// odd encodings (numbers as strings, nulls, unknown fields) reach clients.
type entry struct {
	asset codeocean.DataAsset
	raw   json.RawMessage
}

// New returns a server holding catalog.
func New(catalog []codeocean.DataAsset, opts Options) *Server {
	s := &Server{
		opts:         opts,
		byID:         map[string]int{},
		metaKeys:     map[string]bool{},
		attached:     map[string][]codeocean.AttachResult{},
		computations: map[string]*computation{},
		latency:      opts.Latency,
	}
	v := opts.ServerVersion
	if v == "" {
		v = DefaultServerVersion
	}
	var ok bool
	if s.version, ok = parseVersion(v); !ok {
		panic(fmt.Sprintf("fake: server version %q is not x.y.z", v))
	}
	for _, a := range catalog {
		raw, err := json.Marshal(a)
		if err != nil {
			panic(fmt.Sprintf("fake: asset %s: %v", a.ID, err))
		}
		s.add(a, raw)
	}
	return s
}

// add puts an asset in the catalog, replacing one with the same ID.
// The caller holds s.mu or owns s.
func (s *Server) add(a codeocean.DataAsset, raw json.RawMessage) {
	e := entry{asset: a, raw: raw}
	if i, ok := s.byID[a.ID]; ok {
		s.assets[i] = e
	} else {
		s.byID[a.ID] = len(s.assets)
		s.assets = append(s.assets, e)
	}
	for k := range a.CustomMetadata {
		s.metaKeys[strings.ToLower(k)] = true
	}
}

// AddAssets adds assets to the catalog (replacing those with the same ID).
func (s *Server) AddAssets(assets ...codeocean.DataAsset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range assets {
		raw, err := json.Marshal(a)
		if err != nil {
			panic(fmt.Sprintf("fake: asset %s: %v", a.ID, err))
		}
		s.add(a, raw)
	}
}

// catalogFile is the object form of a catalog file.
type catalogFile struct {
	DataAssets []json.RawMessage `json:"data_assets"`
	Results    []json.RawMessage `json:"results"` // a saved search answer
}

// LoadCatalog adds the assets of a JSON file: either an array of data assets
// as the API returns them, or an object {"data_assets": [...]} ("results" may
// stand for "data_assets", so a saved search answer loads as is). Assets are
// served exactly as written in the file.
func (s *Server) LoadCatalog(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("fake catalog: %w", err)
	}
	var cf catalogFile
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		err = json.Unmarshal(data, &cf.DataAssets)
	} else {
		err = json.Unmarshal(data, &cf)
	}
	if err != nil {
		return fmt.Errorf("fake catalog %s: %w", file, err)
	}
	raws := append(cf.DataAssets, cf.Results...)
	parsed := make([]codeocean.DataAsset, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &parsed[i]); err != nil {
			return fmt.Errorf("fake catalog %s: asset %d: %w", file, i, err)
		}
		if parsed[i].ID == "" {
			return fmt.Errorf("fake catalog %s: asset %d has no id", file, i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range parsed {
		s.add(a, raws[i])
	}
	return nil
}

// Start serves s on 127.0.0.1 until the test ends and returns its URL, the
// Code Ocean domain to configure a client with.
func (s *Server) Start(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// ListenAndServe serves a fake holding the catalog file (may be empty) on addr
// and accepts token (empty: any), for demos.
func ListenAndServe(addr, catalogPath, token string) error {
	s := New(nil, Options{Token: token})
	if catalogPath != "" {
		if err := s.LoadCatalog(catalogPath); err != nil {
			return err
		}
	}
	srv := &http.Server{Addr: addr, Handler: s, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
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
// non-nil answer is the request's fault. nil removes the hook.
func (s *Server) SetFaultHook(hook func(Request) *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultHook = hook
}

// SetLatency changes the latency added to every request.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Requests returns the log of requests so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Count returns how many logged requests had the method and path (relative to
// /api/v1/, such as "data_assets/search"); an empty method or path matches any.
func (s *Server) Count(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if (method == "" || r.Method == method) && (path == "" || r.Path == path) {
			n++
		}
	}
	return n
}

// Searches returns what every search request logged asked, in order: its
// query, then each filter as key=value (key=a|b for several values).
func (s *Server) Searches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var qs []string
	for _, r := range s.log {
		if r.Method == http.MethodPost && r.Path == "data_assets/search" {
			var b struct {
				Query   string         `json:"query"`
				Filters []searchFilter `json:"filters"`
			}
			_ = json.Unmarshal([]byte(r.Body), &b)
			parts := []string{}
			if b.Query != "" {
				parts = append(parts, b.Query)
			}
			for _, f := range b.Filters {
				vals := f.Values
				if f.Value != nil {
					vals = append([]any{f.Value}, vals...)
				}
				var vs []string
				for _, v := range vals {
					vs = append(vs, fmt.Sprint(v))
				}
				parts = append(parts, f.Key+"="+strings.Join(vs, "|"))
			}
			qs = append(qs, strings.Join(parts, " "))
		}
	}
	return qs
}

// ResetLog forgets the requests logged so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

const apiPrefix = "/api/v1/"

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	req := Request{Method: r.Method, Query: r.URL.RawQuery, Body: string(body), MinServerVersion: r.Header.Get("Min-Server-Version")}
	rec := &recorder{ResponseWriter: w}
	defer func() {
		req.Status = rec.status
		s.mu.Lock()
		s.log = append(s.log, req)
		s.mu.Unlock()
	}()

	rel, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	req.Path = strings.TrimSuffix(rel, "/")
	if !ok {
		req.Path = r.URL.Path
		s.writeError(rec, http.StatusNotFound, "no such endpoint")
		return
	}

	s.mu.Lock()
	latency, hook := s.latency, s.faultHook
	var fault *Fault
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		fault, hook = &f, nil
	}
	s.mu.Unlock()
	if hook != nil {
		fault = hook(req) // outside the lock: a hook may look at the log
	}

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if fault != nil && fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if fault != nil && (fault.Hangup || fault.Status != 0) {
		if fault.Hangup {
			hangUp(rec)
			return
		}
		if fault.RetryAfter != "" {
			rec.Header().Set("Retry-After", fault.RetryAfter)
		}
		msg := fault.Message
		if msg == "" {
			msg = http.StatusText(fault.Status)
		}
		if fault.EchoHeaders {
			var hs []string
			for k, vs := range r.Header {
				hs = append(hs, k+": "+strings.Join(vs, ", "))
			}
			sort.Strings(hs)
			msg += " (request headers: " + strings.Join(hs, "; ") + ")"
		}
		if fault.HTML {
			writeHTML(rec, fault.Status, msg)
			return
		}
		s.writeError(rec, fault.Status, msg)
		return
	}

	scope, ok := s.authorize(r)
	if !ok {
		s.writeError(rec, http.StatusUnauthorized, "invalid or missing access token")
		return
	}
	if msg := s.checkVersion(r.Header.Get("Min-Server-Version")); msg != "" {
		s.writeError(rec, http.StatusBadRequest, msg)
		return
	}
	s.route(rec, r, req.Path, body, scope)
}

// scope is what a token may do.
type scope int

const (
	scopeNone scope = iota
	scopeRead
	scopeAll
)

func (s *Server) authorize(r *http.Request) (scope, bool) {
	if s.opts.Token == "" {
		return scopeAll, true
	}
	user, pass, ok := r.BasicAuth()
	if !ok || pass != "" || user == "" {
		return 0, false
	}
	switch user {
	case s.opts.Token:
		return scopeAll, true
	case s.opts.ReadOnlyToken:
		return scopeRead, true
	case s.opts.ScopelessToken:
		return scopeNone, true
	}
	return 0, false
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, p string, body []byte, sc scope) {
	parts := strings.Split(p, "/")
	switch {
	case len(parts) >= 1 && parts[0] == "data_assets":
		if sc < scopeRead {
			s.writeError(w, http.StatusForbidden, "insufficient scope: Datasets: Read is required")
			return
		}
		switch {
		case len(parts) == 2 && parts[1] == "search" && r.Method == http.MethodPost:
			s.search(w, body)
		case len(parts) == 2 && r.Method == http.MethodGet:
			s.getAsset(w, parts[1])
		default:
			s.writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, p))
		}
	case len(parts) == 3 && parts[0] == "capsules" && parts[2] == "data_assets":
		if sc < scopeAll {
			s.writeError(w, http.StatusForbidden, "insufficient permissions to modify this capsule")
			return
		}
		if r.Method != http.MethodPost {
			s.writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		s.attachToCapsule(w, parts[1], body)
	case len(parts) == 2 && parts[0] == "computations" && r.Method == http.MethodGet:
		if sc < scopeRead {
			s.writeError(w, http.StatusForbidden, "insufficient scope to read computations")
			return
		}
		s.getComputation(w, parts[1])
	case len(parts) == 3 && parts[0] == "computations" && parts[2] == "data_assets" && r.Method == http.MethodPost &&
		!s.older("4.2.0"):
		if sc < scopeAll {
			s.writeError(w, http.StatusForbidden, "insufficient permissions to modify this computation")
			return
		}
		s.attachToComputation(w, parts[1], body)
	default:
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, p))
	}
}

func (s *Server) getAsset(w http.ResponseWriter, id string) {
	s.mu.Lock()
	i, ok := s.byID[id]
	var raw json.RawMessage
	if ok {
		raw = s.assets[i].raw
	}
	s.mu.Unlock()
	if !ok {
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("data asset %s not found", id))
		return
	}
	writeJSON(w, http.StatusOK, raw)
}

// searchRequest is DataAssetSearchParams; null decodes as absent.
type searchRequest struct {
	Query     string          `json:"query"`
	Offset    *int            `json:"offset"`
	Limit     *int            `json:"limit"`
	NextToken json.RawMessage `json:"next_token"`
	SortField string          `json:"sort_field"`
	SortOrder string          `json:"sort_order"`
	Type      string          `json:"type"`
	Ownership string          `json:"ownership"`
	Origin    string          `json:"origin"`
	Favorite  *bool           `json:"favorite"`
	Archived  *bool           `json:"archived"`
	Filters   []searchFilter  `json:"filters"`
}

type searchFilter struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Values []any  `json:"values"`
	Range  *struct {
		Min *float64 `json:"min"`
		Max *float64 `json:"max"`
	} `json:"range"`
	Exclude bool `json:"exclude"`
}

// pageToken is what an opaque next_token holds.
type pageToken struct {
	Offset int    `json:"o"`
	Search uint64 `json:"s"` // fingerprint of the search it continues
}

func (s *Server) search(w http.ResponseWriter, body []byte) {
	var sr searchRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &sr); err != nil {
			s.writeError(w, http.StatusBadRequest, "invalid search parameters: "+err.Error())
			return
		}
	}
	if msg := sr.invalid(); msg != "" {
		s.writeError(w, http.StatusBadRequest, msg)
		return
	}
	limit := defaultLimit
	if sr.Limit != nil && *sr.Limit > 0 {
		limit = *sr.Limit
	}
	offset := 0
	if sr.Offset != nil {
		offset = *sr.Offset
	}
	fp := sr.fingerprint()
	offsetOnly := s.opts.OffsetPagingOnly || s.older("3.1.0")
	if t := bytes.TrimSpace(sr.NextToken); len(t) > 0 && string(t) != "null" && !offsetOnly {
		var ok bool
		if offset, ok = s.continueAt(t, fp); !ok {
			s.writeError(w, http.StatusBadRequest, "invalid next_token: it does not continue this search")
			return
		}
	}

	s.mu.Lock()
	q := parseQuery(sr.Query, func(f string) bool { return standardFields[f] || s.metaKeys[f] })
	var found []entry
	for _, e := range s.assets {
		if q.matches(e.asset, s.opts.NameQueryMaxLen) && sr.admits(e.asset) {
			found = append(found, e)
		}
	}
	s.mu.Unlock()
	sortAssets(found, sr.SortField, sr.SortOrder)

	page := []json.RawMessage{}
	for i := offset; i < len(found) && i < offset+limit; i++ {
		page = append(page, found[i].raw)
	}
	more := offset+limit < len(found)
	answer := map[string]any{"has_more": more, "results": page}
	switch {
	case !more || offsetOnly:
	case s.opts.NumericNextToken:
		answer["next_token"] = offset + limit
	default:
		answer["next_token"] = encodeToken(pageToken{Offset: offset + limit, Search: fp})
	}
	writeJSON(w, http.StatusOK, answer)
}

// invalid says what is wrong with the parameters, or "".
func (sr searchRequest) invalid() string {
	oneOf := func(name, v string, allowed ...string) string {
		if v == "" || slices.Contains(allowed, v) {
			return ""
		}
		return fmt.Sprintf("invalid %s %q: must be one of %s", name, v, strings.Join(allowed, ", "))
	}
	switch {
	case sr.Limit != nil && (*sr.Limit < 0 || *sr.Limit > maxLimit):
		return fmt.Sprintf("invalid limit %d: must be between 0 and %d", *sr.Limit, maxLimit)
	case sr.Offset != nil && *sr.Offset < 0:
		return fmt.Sprintf("invalid offset %d", *sr.Offset)
	}
	for _, msg := range []string{
		oneOf("sort_field", sr.SortField, "created", "type", "name", "size"),
		oneOf("sort_order", sr.SortOrder, "asc", "desc"),
		oneOf("type", sr.Type, "dataset", "result", "combined", "model"),
		oneOf("ownership", sr.Ownership, "created", "shared", "private"),
		oneOf("origin", sr.Origin, "internal", "external"),
	} {
		if msg != "" {
			return msg
		}
	}
	for _, f := range sr.Filters {
		if f.Key == "" {
			return "invalid filter: no key"
		}
	}
	return ""
}

// fingerprint identifies a search apart from where its page starts.
func (sr searchRequest) fingerprint() uint64 {
	sr.Offset, sr.Limit, sr.NextToken = nil, nil, nil
	b, _ := json.Marshal(sr)
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

func encodeToken(t pageToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

// continueAt reads a request's next_token: in the form this server sends
// (a string, or a number with NumericNextToken, never the other) and for the
// search it continues. It returns the offset the page starts at.
func (s *Server) continueAt(raw json.RawMessage, fp uint64) (int, bool) {
	if s.opts.NumericNextToken {
		var n int
		if raw[0] == '"' || json.Unmarshal(raw, &n) != nil || n < 0 {
			return 0, false
		}
		return n, true
	}
	var str string
	if json.Unmarshal(raw, &str) != nil {
		return 0, false
	}
	tok, ok := decodeToken(str)
	if !ok || tok.Search != fp {
		return 0, false
	}
	return tok.Offset, true
}

func decodeToken(s string) (pageToken, bool) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &t) != nil || t.Offset < 0 {
		return t, false
	}
	return t, true
}

// admits applies the type, origin and filters of a search. Ownership,
// favorite and archived are accepted and ignored: the fake has no users.
func (sr searchRequest) admits(a codeocean.DataAsset) bool {
	if sr.Type != "" && a.Type != sr.Type {
		return false
	}
	external := a.SourceBucket != nil && a.SourceBucket.External
	if (sr.Origin == "external" && !external) || (sr.Origin == "internal" && external) {
		return false
	}
	for _, f := range sr.Filters {
		if f.admits(a) == f.Exclude {
			return false
		}
	}
	return true
}

// admits reports whether a has the filter's value, one of its values, or a
// value within its range, for the key (name, type, state, tags, size,
// created, or a custom-metadata key).
func (f searchFilter) admits(a codeocean.DataAsset) bool {
	var have []string
	switch strings.ToLower(f.Key) {
	case "name":
		have = []string{a.Name}
	case "type":
		have = []string{a.Type}
	case "state":
		have = []string{a.State}
	case "tags", "tag":
		have = a.Tags
	case "size":
		have = []string{strconv.FormatInt(int64(a.Size), 10)}
	case "created":
		have = []string{strconv.FormatInt(a.Created.Unix(), 10)}
	default:
		if v := a.Metadata(f.Key); v != "" {
			have = []string{v}
		}
	}
	want := f.Values
	if f.Value != nil {
		want = append(want, f.Value)
	}
	for _, h := range have {
		for _, v := range want {
			if strings.EqualFold(h, fmt.Sprint(v)) {
				return true
			}
		}
		if f.Range != nil {
			n, err := strconv.ParseFloat(h, 64)
			if err == nil && (f.Range.Min == nil || n >= *f.Range.Min) && (f.Range.Max == nil || n <= *f.Range.Max) {
				return true
			}
		}
	}
	return false
}

// sortAssets orders search results; the default is newest first. Ties are
// broken by ID so that pages never overlap.
func sortAssets(es []entry, field, order string) {
	compare := func(a, b codeocean.DataAsset) int {
		switch field {
		case "name":
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		case "type":
			return strings.Compare(a.Type, b.Type)
		case "size":
			return cmp.Compare(a.Size, b.Size)
		default:
			return a.Created.Compare(b.Created.Time)
		}
	}
	desc := order == "desc" || (order == "" && (field == "" || field == "created"))
	sort.SliceStable(es, func(i, j int) bool {
		c := compare(es[i].asset, es[j].asset)
		if desc {
			c = -c
		}
		if c == 0 {
			return es[i].asset.ID < es[j].asset.ID
		}
		return c < 0
	})
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

func (s *Server) writeError(w http.ResponseWriter, status int, msg string) {
	if s.opts.HTMLErrors {
		writeHTML(w, status, msg)
		return
	}
	writeJSON(w, status, map[string]string{"message": msg})
}

// writeHTML answers as a proxy or gateway in front of the API does: a page
// for people, not JSON.
func writeHTML(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	title := fmt.Sprintf("%d %s", status, http.StatusText(status))
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html>\n<head><title>%s</title>\n<style>body { font-family: sans-serif; }</style></head>\n<body>\n<center><h1>%s</h1></center>\n<p>%s</p>\n<hr><center>fake-proxy</center>\n</body>\n</html>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(msg))
}

// hangUp closes the connection without an answer, like a server that died.
func hangUp(rec *recorder) {
	hj, ok := rec.ResponseWriter.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
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
