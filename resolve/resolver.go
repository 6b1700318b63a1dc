package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/store"
)

// DefaultBuckets are the buckets probed, in this order, for a session's raw
// folder (or an asset's folder) when the catalog does not say where it is.
var DefaultBuckets = []string{
	"codeocean-s3datasetsbucket-1u41qdg42ur9",
	"aind-private-data-prod-o5171v",
	"aind-open-data-prod-o5171v",
	"aind-open-data",
	"aibs-behavior-data",
	"aind-ephys-data",
	"aind-ophys-data",
}

// Cache lifetimes: catalog answers change rarely (a new sorted asset every
// few days), failures may be a passing outage.
const (
	DefaultAnswerTTL  = 10 * time.Minute
	DefaultFailureTTL = 30 * time.Second
)

// The most characters of a session ID used in a name: query; longer name
// queries are unreliable on the server.
const maxNameQuery = 20

// ErrNotFound is wrapped by errors saying that nothing exists behind a name:
// no asset, no raw data, no such asset ID.
var ErrNotFound = errors.New("not found")

// Catalog is what resolution asks of Code Ocean.
type Catalog interface {
	SearchDataAssets(ctx context.Context, p codeocean.SearchParams) ([]codeocean.DataAsset, error)
	GetDataAsset(ctx context.Context, id string) (codeocean.DataAsset, error)
}

// Config says where a Resolver looks.
type Config struct {
	// Catalog is the Code Ocean client; nil when there is no token.
	Catalog Catalog
	// DataDir is a folder of asset folders named by asset name, such as a
	// capsule's /data; empty for none.
	DataDir string
	// Objects lists and reads asset folders (S3 and local).
	Objects store.Backend
	// Buckets are probed in order for folders the catalog does not locate.
	// Nil means DefaultBuckets; an empty non-nil slice turns probing off
	// (offline use).
	Buckets []string
	// SearchPageSize is the page size of catalog searches; 0 means the
	// server's maximum (fewest round trips).
	SearchPageSize int
	Logger         *slog.Logger
	AnswerTTL      time.Duration // default DefaultAnswerTTL
	FailureTTL     time.Duration // default DefaultFailureTTL
	Now            func() time.Time
}

// Resolver answers, lazily and with caching, which assets a session has and
// where their files live. It is safe for concurrent use.
type Resolver struct {
	catalog Catalog
	dataDir string
	objects store.Backend
	buckets []string
	page    int
	log     *slog.Logger
	now     func() time.Time

	base  context.Context // every lookup runs under it
	close context.CancelFunc

	searches  *memo[string, []codeocean.DataAsset]
	byID      *memo[string, codeocean.DataAsset]
	local     *memo[struct{}, []Asset]
	assets    *memo[Session, []Asset]
	raws      *memo[Session, Asset]
	probes    *memo[string, store.URI]
	locations *memo[string, store.URI]
	verdicts  *memo[string, SortedAsset]
	listings  *memo[store.URI, []store.ObjectInfo]

	mu    sync.Mutex
	known map[Session]bool
}

// New returns a Resolver; nothing is asked of any source until a question is.
func New(cfg Config) *Resolver {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AnswerTTL == 0 {
		cfg.AnswerTTL = DefaultAnswerTTL
	}
	if cfg.FailureTTL == 0 {
		cfg.FailureTTL = DefaultFailureTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Buckets == nil {
		cfg.Buckets = DefaultBuckets
	}
	ok, fail, now := cfg.AnswerTTL, cfg.FailureTTL, cfg.Now
	base, cancel := context.WithCancel(context.Background())
	return &Resolver{
		catalog: cfg.Catalog,
		dataDir: cfg.DataDir,
		objects: cfg.Objects,
		buckets: slices.Clone(cfg.Buckets),
		page:    cfg.SearchPageSize,
		log:     cfg.Logger,
		now:     now,
		base:    base,
		close:   cancel,

		searches: newMemo[string, []codeocean.DataAsset](base, ok, fail, now),
		byID:     newMemo[string, codeocean.DataAsset](base, ok, fail, now),
		local:    newMemo[struct{}, []Asset](base, ok, fail, now),
		assets:   newMemo[Session, []Asset](base, ok, fail, now),
		raws:     newMemo[Session, Asset](base, ok, fail, now),
		probes:   newMemo[string, store.URI](base, ok, fail, now),
		// Where an asset lives and whether its sorting failed never change:
		// assets are immutable once made.
		locations: newMemo[string, store.URI](base, 0, fail, now),
		verdicts:  newMemo[string, SortedAsset](base, 0, fail, now),
		listings:  newMemo[store.URI, []store.ObjectInfo](base, ok, fail, now),
		known:     map[Session]bool{},
	}
}

// Online reports whether a catalog is configured.
func (r *Resolver) Online() bool { return r.catalog != nil }

// Close ends the lookups in flight; the Resolver must not be used after.
func (r *Resolver) Close() { r.close() }

// search runs one catalog query over all its pages; identical queries are
// shared between sessions (subject searches serve every session of a subject).
func (r *Resolver) search(ctx context.Context, query string) ([]codeocean.DataAsset, error) {
	return r.searches.get(ctx, query, func(ctx context.Context) ([]codeocean.DataAsset, error) {
		res, err := r.catalog.SearchDataAssets(ctx, codeocean.SearchParams{Query: query, Limit: r.page})
		if err != nil {
			return nil, fmt.Errorf("search %q: %w", query, err)
		}
		r.log.Debug("catalog search", "query", query, "results", len(res))
		return res, nil
	})
}

// sessionQueries are the searches that together find every asset of s: a
// name prefix (short enough for the server to match reliably) and the
// subject, as a metadata field and as free text (old names and assets
// without metadata).
func sessionQueries(s Session) []string {
	prefix := s.ID()
	if len(prefix) > maxNameQuery {
		prefix = prefix[:maxNameQuery]
	}
	return []string{
		"name:" + prefix,
		"subject id:" + s.SubjectID(),
		s.SubjectID(),
	}
}

// Assets returns every asset whose name parses to s, from the catalog and
// the local data folder, de-duplicated and ordered by creation time.
func (r *Resolver) Assets(ctx context.Context, s Session) ([]Asset, error) {
	if s.IsZero() {
		return nil, errors.New("assets: no session given")
	}
	return r.assets.get(ctx, s, func(ctx context.Context) ([]Asset, error) {
		local, err := r.localAssets(ctx)
		if err != nil {
			return nil, err
		}
		var out []Asset
		if r.catalog != nil {
			if out, err = r.catalogAssets(ctx, s); err != nil {
				return nil, err
			}
		}
		// An attached asset is served from local disk but keeps its catalog
		// identity. A name uploaded twice matches both uploads: the folder
		// holds that session's data either way.
		for _, l := range local {
			if sess, _ := ParseSession(l.Name); sess != s {
				continue
			}
			matched := false
			for i := range out {
				if out[i].Name == l.Name {
					out[i].Local, matched = l.Local, true
				}
			}
			if !matched {
				out = append(out, l)
			}
		}
		slices.SortStableFunc(out, func(a, b Asset) int { return a.Created.Compare(b.Created) })
		if len(out) > 0 {
			r.remember(s)
		}
		return out, nil
	})
}

// searchAll runs queries concurrently and returns their results in order.
func (r *Resolver) searchAll(ctx context.Context, queries []string) ([][]codeocean.DataAsset, error) {
	results := make([][]codeocean.DataAsset, len(queries))
	errs := make([]error, len(queries))
	var wg sync.WaitGroup
	for i, q := range queries {
		wg.Go(func() { results[i], errs[i] = r.search(ctx, q) })
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// catalogAssets runs the session's searches concurrently and keeps what
// parses to s, logging why each other candidate was rejected.
func (r *Resolver) catalogAssets(ctx context.Context, s Session) ([]Asset, error) {
	queries := sessionQueries(s)
	results, err := r.searchAll(ctx, queries)
	if err != nil {
		return nil, fmt.Errorf("assets of %s: %w", s, err)
	}
	seen := map[string]bool{}
	var out []Asset
	candidates := 0
	for _, res := range results {
		for _, d := range res {
			if seen[d.ID] {
				continue
			}
			seen[d.ID] = true
			candidates++
			sess, err := ParseSession(d.Name)
			switch {
			case err != nil:
				r.log.Debug("asset rejected: its name is not a session name", "session", s.ID(), "asset", d.Name, "id", d.ID, "reason", err)
			case sess != s:
				r.log.Debug("asset rejected: another session", "session", s.ID(), "asset", d.Name, "id", d.ID, "its_session", sess.ID())
			default:
				out = append(out, catalogAsset(d))
			}
		}
	}
	r.log.Info("assets of session", "session", s.ID(), "queries", strings.Join(queries, " | "), "candidates", candidates, "kept", len(out))
	return out, nil
}

func catalogAsset(d codeocean.DataAsset) Asset {
	d2 := d
	return Asset{ID: d.ID, Name: d.Name, Created: d.Created.Time, Type: d.Type, Catalog: &d2}
}

// localAssets lists the data folder: each child folder whose name holds a
// session is one asset.
func (r *Resolver) localAssets(ctx context.Context) ([]Asset, error) {
	if r.dataDir == "" {
		return nil, nil
	}
	return r.local.get(ctx, struct{}{}, func(ctx context.Context) ([]Asset, error) {
		dir := store.Local(r.dataDir)
		entries, err := r.objects.List(ctx, dir)
		if errors.Is(err, store.ErrNotExist) {
			r.log.Warn("data folder does not exist", "dir", r.dataDir)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list data folder %s: %w", r.dataDir, err)
		}
		var out []Asset
		for _, e := range entries {
			if !e.Dir {
				continue
			}
			if _, err := ParseSession(e.Name); err != nil {
				r.log.Debug("local folder is not an asset of a session", "folder", e.Name, "reason", err)
				continue
			}
			out = append(out, Asset{Name: e.Name, Created: localCreated(e), Type: localType(e.Name), Local: dir.Join(e.Name)})
		}
		return out, nil
	})
}

// localCreated dates a local asset by its name (a derived asset's suffix,
// else the session's start), falling back to the folder's time: checkouts and
// copies do not keep folder times.
func localCreated(e store.ObjectInfo) time.Time {
	if _, label, t, ok := derivedParts(e.Name); ok && label != "" {
		return t
	}
	if s, err := ParseSession(e.Name); err == nil {
		return s.DT()
	}
	return e.ModTime
}

// localType guesses the catalog type of a local folder: derived assets
// (a label and a date after the session) are results of a capsule run.
func localType(name string) string {
	if _, label, _, ok := derivedParts(name); ok && label != "" {
		return "result"
	}
	return "dataset"
}

var subSecond = regexp.MustCompile(`^\.[0-9]{1,6}`)

var derivedSuffix = regexp.MustCompile(`^_(.+)_(20[0-9]{2}-[01][0-9]-[0-3][0-9])_([0-2][0-9]-[0-5][0-9]-[0-5][0-9])$`)

// derivedParts splits "<session>_<label>_<YYYY-MM-DD>_<hh-mm-ss>" into its
// session, label and creation time. A bare session name has an empty label.
func derivedParts(name string) (Session, string, time.Time, bool) {
	s, end, err := parseSessionSpan(name)
	if err != nil {
		return Session{}, "", time.Time{}, false
	}
	rest := name[end:]
	rest = subSecond.ReplaceAllString(rest, "")
	if rest == "" {
		return s, "", time.Time{}, true
	}
	m := derivedSuffix.FindStringSubmatch(rest)
	if m == nil {
		return s, "", time.Time{}, false
	}
	t, err := time.Parse("2006-01-02_15-04-05", m[2]+"_"+m[3])
	if err != nil {
		return s, "", time.Time{}, false
	}
	return s, m[1], t, true
}

// isRaw tells whether a holds a session's raw data: the catalog says so
// (data level, a raw tag), or its name is the bare session name.
func isRaw(a Asset, s Session) bool {
	if a.Name == s.ID() {
		return true
	}
	if a.Catalog != nil {
		if strings.EqualFold(a.Catalog.Metadata("data level"), "raw data") {
			return true
		}
		for _, t := range a.Catalog.Tags {
			if strings.Contains(strings.ToLower(t), "raw") {
				return true
			}
		}
		return false
	}
	// A local folder has no metadata: its name alone, without a derived
	// suffix, marks it as raw (old underscore names included).
	_, label, _, ok := derivedParts(a.Name)
	return ok && label == ""
}

// NoRawAssetError says a session has no raw asset, and whether raw data was
// nevertheless found in a known bucket.
type NoRawAssetError struct {
	Session    Session
	RawDataDir store.URI // zero when no raw data was found either
	Searched   string
	Candidates int
}

func (e *NoRawAssetError) Error() string {
	if !e.RawDataDir.IsZero() {
		return fmt.Sprintf("no raw asset for %s: raw data exists at %s but no asset was made for it", e.Session, e.RawDataDir)
	}
	return fmt.Sprintf("no raw asset for %s: nothing was uploaded (searched %s; %d assets of the session, none raw)", e.Session, e.Searched, e.Candidates)
}

func (e *NoRawAssetError) Unwrap() error { return ErrNotFound }

// RawAsset returns the session's raw asset; of several, the newest.
func (r *Resolver) RawAsset(ctx context.Context, s Session) (Asset, error) {
	return r.raws.get(ctx, s, func(ctx context.Context) (Asset, error) { return r.rawAsset(ctx, s) })
}

func (r *Resolver) rawAsset(ctx context.Context, s Session) (Asset, error) {
	assets, err := r.Assets(ctx, s)
	if err != nil {
		return Asset{}, err
	}
	var raws []Asset
	for _, a := range assets {
		if isRaw(a, s) {
			raws = append(raws, a)
		}
	}
	if len(raws) == 0 {
		e := &NoRawAssetError{Session: s, Searched: r.searchedDescription(s), Candidates: len(assets)}
		dir, perr := r.probe(ctx, s.ID())
		switch {
		case perr == nil:
			e.RawDataDir = dir
		case !errors.Is(perr, ErrNotFound):
			// The buckets could not be asked: that is not "nothing uploaded".
			where := "none in the catalog"
			if r.catalog == nil {
				where = "no catalog to ask (no Code Ocean token)"
			}
			return Asset{}, fmt.Errorf("raw asset of %s: %s, and %w", s, where, perr)
		}
		return Asset{}, e
	}
	newest := raws[len(raws)-1] // assets are ordered by creation
	if len(raws) > 1 {
		names := make([]string, len(raws))
		for i, a := range raws {
			names[i] = a.Name + " (" + a.ID + ")"
		}
		r.log.Info("several raw assets; using the newest", "session", s.ID(), "raw_assets", strings.Join(names, ", "), "chosen", newest.ID)
	}
	return newest, nil
}

func (r *Resolver) searchedDescription(s Session) string {
	var parts []string
	if r.dataDir != "" {
		parts = append(parts, "data folder "+r.dataDir)
	}
	if r.catalog != nil {
		for _, q := range sessionQueries(s) {
			parts = append(parts, fmt.Sprintf("catalog query %q", q))
		}
	} else {
		parts = append(parts, "no catalog (no Code Ocean token)")
	}
	if len(r.buckets) > 0 {
		parts = append(parts, "buckets "+strings.Join(r.buckets, ", "))
	}
	return strings.Join(parts, ", ")
}

// probe finds the first known bucket holding folder key/.
func (r *Resolver) probe(ctx context.Context, key string) (store.URI, error) {
	if len(r.buckets) == 0 {
		return store.URI{}, fmt.Errorf("probe for %s/: no buckets to probe: %w", key, ErrNotFound)
	}
	return r.probes.get(ctx, key, func(ctx context.Context) (store.URI, error) {
		// Ask every bucket at once; the first in order that has it wins.
		found := make([]bool, len(r.buckets))
		errs := make([]error, len(r.buckets))
		var wg sync.WaitGroup
		for i, b := range r.buckets {
			wg.Go(func() { found[i], errs[i] = r.objects.Exists(ctx, store.S3(b, key)) })
		}
		wg.Wait()
		for i, b := range r.buckets {
			if found[i] {
				r.log.Debug("bucket probe found folder", "key", key, "bucket", b)
				return store.S3(b, key), nil
			}
		}
		// A bucket we may not read is not proof of absence, but with no hit
		// anywhere the answer is still "not found"; say what failed.
		var failed []string
		for i, b := range r.buckets {
			if errs[i] != nil {
				failed = append(failed, fmt.Sprintf("%s (%v)", b, errs[i]))
			}
		}
		if len(failed) == len(r.buckets) {
			// One cause is enough to read (they are usually all the same
			// network failure); the log has each.
			r.log.Debug("bucket probe failed everywhere", "key", key, "errors", strings.Join(failed, "; "))
			return store.URI{}, fmt.Errorf("probe for %s/: every bucket failed (%d buckets); the first, %s: %w", key, len(failed), r.buckets[0], errs[0])
		}
		if len(failed) > 0 {
			r.log.Debug("bucket probe: some buckets could not be read", "key", key, "failed", strings.Join(failed, "; "))
		}
		return store.URI{}, fmt.Errorf("no folder %s/ in buckets %s: %w", key, strings.Join(r.buckets, ", "), ErrNotFound)
	})
}

// Location returns the folder holding a's files: the local copy when
// attached, the catalog's source bucket, else the known buckets probed for
// the asset's name, then its ID.
func (r *Resolver) Location(ctx context.Context, a Asset) (store.URI, error) {
	if !a.Local.IsZero() {
		return a.Local, nil
	}
	key := a.ID
	if key == "" {
		key = "name:" + a.Name
	}
	return r.locations.get(ctx, key, func(ctx context.Context) (store.URI, error) {
		if sb := a.sourceBucket(); sb != nil {
			return store.S3(sb.Bucket, sb.Prefix), nil
		}
		uri, err := r.probe(ctx, a.Name)
		if err == nil || a.ID == "" {
			return uri, wrapf(err, "location of asset %s", a.Name)
		}
		uri, err2 := r.probe(ctx, a.ID)
		if err2 != nil {
			return store.URI{}, fmt.Errorf("location of asset %s (%s): %w", a.Name, a.ID, errors.Join(err, err2))
		}
		return uri, nil
	})
}

func (a Asset) sourceBucket() *codeocean.SourceBucket {
	if a.Catalog == nil || a.Catalog.SourceBucket == nil {
		return nil
	}
	sb := a.Catalog.SourceBucket
	if sb.Origin != "aws" || sb.Bucket == "" {
		return nil
	}
	return sb
}

func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// RawDataDir returns the raw asset's folder, else the raw folder found in a
// known bucket under the session ID (S3-only use, without a catalog).
func (r *Resolver) RawDataDir(ctx context.Context, s Session) (store.URI, error) {
	raw, err := r.RawAsset(ctx, s)
	var noRaw *NoRawAssetError
	switch {
	case err == nil:
		return r.Location(ctx, raw)
	case errors.As(err, &noRaw) && !noRaw.RawDataDir.IsZero():
		// Found in a bucket alone (S3-only use): a session all the same.
		r.remember(s)
		return noRaw.RawDataDir, nil
	default:
		return store.URI{}, err
	}
}

// The markers a failed sorting leaves in its top-level output file.
var sortingFailureMarkers = []string{
	"Essential container in task exited",
	"Out of memory.",
	"Task failed to start - DockerTimeoutError",
	"The CUDA error was:",
	"Traceback (most recent call last):",
	"Command error:",
	"WARN: Killing running tasks",
}

// maxOutputBytes bounds how much of an output file is read for markers.
const maxOutputBytes = 64 << 20

// sortedCandidates returns the assets of s whose label starts with
// "sorted", oldest first.
func (r *Resolver) sortedCandidates(ctx context.Context, s Session) ([]Asset, error) {
	assets, err := r.Assets(ctx, s)
	if err != nil {
		return nil, err
	}
	var out []Asset
	for _, a := range assets {
		if _, label, _, ok := derivedParts(a.Name); ok && strings.HasPrefix(label, "sorted") {
			out = append(out, a)
		}
	}
	return out, nil
}

// SortedAssets returns every sorted asset of s, oldest first, each with the
// verdict on whether its sorting failed. One whose output cannot be read is
// listed with Unknown set and the reason.
func (r *Resolver) SortedAssets(ctx context.Context, s Session) ([]SortedAsset, error) {
	candidates, err := r.sortedCandidates(ctx, s)
	if err != nil {
		return nil, err
	}
	out := make([]SortedAsset, len(candidates))
	for i, a := range candidates {
		v, err := r.sortingVerdict(ctx, a)
		if err != nil {
			v = SortedAsset{Asset: a, Unknown: true, Reason: err.Error()}
		}
		out[i] = v
	}
	return out, nil
}

// SortedAsset returns the newest sorted asset whose sorting did not fail;
// ok is false when there is none. Candidates are read newest first, so the
// usual case reads one output file; one that cannot be read is skipped
// (and logged) rather than hiding the session.
func (r *Resolver) SortedAsset(ctx context.Context, s Session) (Asset, bool, error) {
	candidates, err := r.sortedCandidates(ctx, s)
	if err != nil {
		return Asset{}, false, err
	}
	for i := len(candidates) - 1; i >= 0; i-- {
		v, err := r.sortingVerdict(ctx, candidates[i])
		switch {
		case err != nil:
			r.log.Warn("sorted asset skipped: its output could not be read", "session", s.ID(), "asset", candidates[i].Name, "err", err)
		case v.Failed:
			r.log.Debug("sorted asset skipped: its sorting failed", "session", s.ID(), "asset", v.Name, "marker", v.Reason)
		default:
			return v.Asset, true, nil
		}
	}
	return Asset{}, false, nil
}

// sortingVerdict reads a sorted asset's output file for failure markers. An
// asset without an output file is taken as good: there is nothing saying
// otherwise.
func (r *Resolver) sortingVerdict(ctx context.Context, a Asset) (SortedAsset, error) {
	key := a.ID
	if key == "" {
		key = a.Local.String()
	}
	return r.verdicts.get(ctx, key, func(ctx context.Context) (SortedAsset, error) {
		v := SortedAsset{Asset: a}
		loc, err := r.Location(ctx, a)
		if err != nil {
			return v, err
		}
		text, err := r.readSmall(ctx, loc.Join("output"))
		if errors.Is(err, store.ErrNotExist) {
			r.log.Debug("sorted asset has no output file; taken as good", "asset", a.Name)
			return v, nil
		}
		if err != nil {
			return v, fmt.Errorf("read output of %s: %w", a.Name, err)
		}
		for _, m := range sortingFailureMarkers {
			if strings.Contains(text, m) {
				v.Failed, v.Reason = true, m
				break
			}
		}
		return v, nil
	})
}

func (r *Resolver) readSmall(ctx context.Context, obj store.URI) (string, error) {
	info, err := r.objects.Stat(ctx, obj)
	if err != nil {
		return "", err
	}
	n := min(info.Size, maxOutputBytes)
	body, err := r.objects.ReadRange(ctx, obj, info.ETag, 0, n)
	if err != nil {
		return "", err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, n))
	return string(b), err
}

// list lists a folder, remembering the answer for a while.
func (r *Resolver) list(ctx context.Context, dir store.URI) ([]store.ObjectInfo, error) {
	return r.listings.get(ctx, dir, func(ctx context.Context) ([]store.ObjectInfo, error) {
		return r.objects.List(ctx, dir)
	})
}

// Modalities returns the modalities recorded in the raw folder: its
// sub-folder names, with the ecephys variants merged and metadata dropped.
func (r *Resolver) Modalities(ctx context.Context, s Session) ([]string, error) {
	dir, err := r.RawDataDir(ctx, s)
	if err != nil {
		return nil, err
	}
	entries, err := r.list(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("modalities of %s: list %s: %w", s, dir, err)
	}
	var out []string
	for _, e := range entries {
		if !e.Dir || strings.Contains(e.Name, "metadata") {
			continue
		}
		name := e.Name
		if name == "ecephys_compressed" || name == "ecephys_clipped" {
			name = "ecephys"
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// MetadataFiles returns the top-level *.json files of the raw folder, and
// that folder.
func (r *Resolver) MetadataFiles(ctx context.Context, s Session) ([]store.ObjectInfo, store.URI, error) {
	dir, err := r.RawDataDir(ctx, s)
	if err != nil {
		return nil, store.URI{}, err
	}
	entries, err := r.list(ctx, dir)
	if err != nil {
		return nil, dir, fmt.Errorf("metadata of %s: list %s: %w", s, dir, err)
	}
	var out []store.ObjectInfo
	for _, e := range entries {
		if !e.Dir && path.Ext(e.Name) == ".json" {
			out = append(out, e)
		}
	}
	return out, dir, nil
}

// Info gathers what session.json shows. A session with no raw asset, no raw
// data and no asset at all is ErrNotFound, with what was searched.
func (r *Resolver) Info(ctx context.Context, s Session) (Info, error) {
	info := Info{Identity: s.Identity(), Modalities: []string{}, DataAssets: []Ref{}}
	assets, err := r.Assets(ctx, s)
	if err != nil {
		return info, err
	}
	for _, a := range assets {
		info.DataAssets = append(info.DataAssets, a.Ref())
	}
	raw, rawErr := r.RawAsset(ctx, s)
	var noRaw *NoRawAssetError
	switch {
	case rawErr == nil:
		ref := raw.Ref()
		info.RawDataAsset = &ref
	case errors.As(rawErr, &noRaw):
		if noRaw.RawDataDir.IsZero() && len(assets) == 0 {
			return info, fmt.Errorf("session %s: %w", s, rawErr)
		}
	default:
		return info, rawErr
	}
	if dir, err := r.RawDataDir(ctx, s); err == nil {
		info.RawDataDir = dir.String()
		if mods, err := r.Modalities(ctx, s); err == nil {
			info.Modalities = mods
		} else {
			r.log.Warn("modalities unknown", "session", s.ID(), "err", err)
		}
	} else if !errors.Is(err, ErrNotFound) {
		return info, err
	}
	sorted, ok, err := r.SortedAsset(ctx, s)
	if err != nil {
		return info, err
	}
	if ok {
		ref := sorted.Ref()
		info.SortedDataAsset = &ref
	}
	r.remember(s)
	return info, nil
}

// SubjectSessions returns the sessions of a subject: the unique sessions
// parsed from the names of its assets, in the catalog and the data folder.
func (r *Resolver) SubjectSessions(ctx context.Context, subj Subject) ([]Session, error) {
	if subj.IsZero() {
		return nil, errors.New("sessions of subject: no subject given")
	}
	set := map[Session]bool{}
	local, err := r.localAssets(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range local {
		if s, err := ParseSession(a.Name); err == nil && s.Subject() == subj {
			set[s] = true
		}
	}
	if r.catalog != nil {
		results, err := r.searchAll(ctx, []string{"subject id:" + subj.ID(), subj.ID()})
		if err != nil {
			return nil, fmt.Errorf("sessions of subject %s: %w", subj, err)
		}
		for _, res := range results {
			for _, d := range res {
				if s, err := ParseSession(d.Name); err == nil && s.Subject() == subj {
					set[s] = true
				}
			}
		}
	}
	out := make([]Session, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.SortFunc(out, Session.Compare)
	return out, nil
}

// AssetByID returns the catalog's asset with this ID, served from local disk
// when a folder of the same name is attached.
func (r *Resolver) AssetByID(ctx context.Context, id string) (Asset, error) {
	if r.catalog == nil {
		return Asset{}, fmt.Errorf("asset %s: no catalog (no Code Ocean token): %w", id, ErrNotFound)
	}
	d, err := r.byID.get(ctx, id, func(ctx context.Context) (codeocean.DataAsset, error) {
		return r.catalog.GetDataAsset(ctx, id)
	})
	if errors.Is(err, codeocean.ErrNotFound) {
		return Asset{}, fmt.Errorf("asset %s: %w", id, errors.Join(ErrNotFound, err))
	}
	if err != nil {
		return Asset{}, fmt.Errorf("asset %s: %w", id, err)
	}
	a := catalogAsset(d)
	if local, err := r.localAssets(ctx); err == nil {
		for _, l := range local {
			if l.Name == a.Name {
				a.Local = l.Local
			}
		}
	}
	return a, nil
}

// LocalAssets returns the asset folders of the data folder.
func (r *Resolver) LocalAssets(ctx context.Context) ([]Asset, error) {
	return r.localAssets(ctx)
}

// KnownSessions returns the sessions known so far: those with folders in the
// data folder and those resolved since start, ordered by ID.
func (r *Resolver) KnownSessions(ctx context.Context) []Session {
	set := map[Session]bool{}
	if local, err := r.localAssets(ctx); err == nil {
		for _, a := range local {
			if s, err := ParseSession(a.Name); err == nil {
				set[s] = true
			}
		}
	}
	r.mu.Lock()
	for s := range r.known {
		set[s] = true
	}
	r.mu.Unlock()
	out := make([]Session, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.SortFunc(out, Session.Compare)
	return out
}

func (r *Resolver) remember(s Session) {
	r.mu.Lock()
	r.known[s] = true
	r.mu.Unlock()
}
