package resolve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/store"
)

// Asset is one data asset of a session: a catalog entry (Code Ocean) or a
// folder of a local data directory such as a capsule's /data.
type Asset struct {
	ID      string    // Code Ocean ID; empty for an asset known only from a local folder
	Name    string    // asset name, e.g. ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45
	Created time.Time // creation time in the catalog; for local folders, the folder's mtime
	Type    string    // dataset, result, combined, model
	// Local is the asset's folder on local disk when it is attached there;
	// zero otherwise.
	Local store.URI
	// Link is set when the asset's folder in the data folder is a link
	// that leaves it: its target, which is shown but never followed, so
	// that whoever follows it does so in their own rights.
	Link string
	// Catalog is the full catalog entry, when the asset came from Code Ocean.
	Catalog *codeocean.DataAsset
}

// Ref is an asset as session.json shows it. What the catalog records
// (tags, custom metadata, state) is left out for assets it does not know.
type Ref struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Created        string            `json:"created"`
	Type           string            `json:"type,omitempty"`
	Tags           []string          `json:"tags,omitempty"`
	CustomMetadata map[string]string `json:"custom_metadata,omitempty"`
	State          string            `json:"state,omitempty"`
	// Location is s3://bucket/prefix, for programs that read S3 directly:
	// the catalog's, else where the asset was found; empty when not known.
	Location string `json:"location,omitempty"`
}

// Ref returns the session.json form of a.
func (a Asset) Ref() Ref {
	ref := Ref{ID: a.ID, Name: a.Name, Created: a.Created.UTC().Format(time.RFC3339), Type: a.Type}
	if d := a.Catalog; d != nil {
		ref.Tags, ref.State = d.Tags, d.State
		if len(d.CustomMetadata) > 0 {
			ref.CustomMetadata = make(map[string]string, len(d.CustomMetadata))
			for k, v := range d.CustomMetadata {
				ref.CustomMetadata[k] = string(v)
			}
		}
	}
	if sb := a.sourceBucket(); sb != nil {
		ref.Location = store.S3(sb.Bucket, sb.Prefix).String()
	}
	return ref
}

// addLocations gives the raw and sorted assets of info whose catalog entry
// names no S3 folder the one Info found for them (by a bucket probe),
// without asking anything more. Other assets are left as they are, so that
// session.json does not depend on what was browsed before.
func (r *Resolver) addLocations(info *Info) {
	found := map[string]string{}
	fill := func(ref *Ref) {
		if ref == nil {
			return
		}
		key := locationKey(ref.ID, ref.Name)
		if ref.Location == "" {
			if loc, ok := r.locations.known(key); ok && loc.Scheme == "s3" {
				ref.Location = loc.String()
			}
		}
		found[key] = ref.Location
	}
	fill(info.RawDataAsset)
	fill(info.SortedDataAsset)
	for i := range info.SortedDataAssets {
		fill(&info.SortedDataAssets[i].Ref)
	}
	for i, ref := range info.DataAssets {
		if ref.Location == "" {
			info.DataAssets[i].Location = found[locationKey(ref.ID, ref.Name)]
		}
	}
}

// The most characters of a session ID used in a name: query; longer name
// queries are unreliable on the server.
const maxNameQuery = 20

// subjectField is the custom-metadata key holding an asset's subject ID.
const subjectField = "subject id"

// searchParams is how a query is asked: the subject term as an exact
// metadata filter (the client asks older servers, which have no filters, in
// the query form), anything else as written.
func searchParams(query string, limit int) codeocean.SearchParams {
	if id, ok := strings.CutPrefix(query, subjectField+":"); ok {
		p := codeocean.MetadataSearch(subjectField, id)
		p.Limit = limit
		return p
	}
	return codeocean.SearchParams{Query: query, Limit: limit}
}

// search runs one catalog query over all its pages; identical queries are
// shared between sessions (subject searches serve every session of a subject).
func (r *Resolver) search(ctx context.Context, query string) ([]codeocean.DataAsset, error) {
	res, err := r.searches.get(ctx, query, func(ctx context.Context) ([]codeocean.DataAsset, error) {
		res, err := r.catalog.SearchDataAssets(ctx, searchParams(query, r.page))
		if err == nil {
			r.log.Debug("catalog search", "query", query, "results", len(res))
		}
		return res, err
	})
	if err != nil {
		// Wrapped here, not in the lookup, so that a caller who stopped
		// waiting is also told which search it gave up on.
		return nil, fmt.Errorf("search %q: %w", query, err)
	}
	return res, nil
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
		subjectField + ":" + s.SubjectID(),
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
		for _, l := range local.bySession[s] {
			matched := false
			for i := range out {
				if out[i].Name == l.Name {
					out[i].Local, out[i].Link, matched = l.Local, l.Link, true
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
		local.attach(&a)
	}
	return a, nil
}

// LocalAssets returns the asset folders of the data folder.
func (r *Resolver) LocalAssets(ctx context.Context) ([]Asset, error) {
	local, err := r.localAssets(ctx)
	return local.assets, err
}

// localFolder is one listing of the data folder, indexed once so that
// finding a session's folders among thousands does not parse every name
// again for each session.
type localFolder struct {
	assets    []Asset // in listing order
	bySession map[Session][]Asset
	byName    map[string]Asset
}

// attach gives a the local folder of its name, when there is one.
func (f *localFolder) attach(a *Asset) {
	if l, ok := f.byName[a.Name]; ok {
		a.Local, a.Link = l.Local, l.Link
	}
}

// localAssets lists the data folder: each child folder whose name holds a
// session is one asset, and so is a link of such a name that leaves the
// data folder (Asset.Link). Without a data folder the answer is empty,
// never nil.
func (r *Resolver) localAssets(ctx context.Context) (*localFolder, error) {
	if r.dataDir == "" {
		return &localFolder{}, nil
	}
	local, err := r.local.get(ctx, struct{}{}, func(ctx context.Context) (*localFolder, error) {
		dir := store.Local(r.dataDir)
		entries, err := r.objects.List(ctx, dir)
		if errors.Is(err, store.ErrNotExist) {
			r.log.Warn("data folder does not exist", "dir", r.dataDir)
			return &localFolder{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list data folder %s: %w", r.dataDir, err)
		}
		out := &localFolder{bySession: map[Session][]Asset{}, byName: map[string]Asset{}}
		for _, e := range entries {
			if !e.Dir && e.Link == "" {
				continue
			}
			s, err := ParseSession(e.Name)
			if err != nil {
				r.log.Debug("local folder is not an asset of a session", "folder", e.Name, "reason", err)
				continue
			}
			a := Asset{Name: e.Name, Created: localCreated(e), Type: localType(e.Name), Local: dir.Join(e.Name), Link: e.Link}
			out.assets = append(out.assets, a)
			out.bySession[s] = append(out.bySession[s], a)
			out.byName[a.Name] = a
		}
		return out, nil
	})
	if err != nil {
		return &localFolder{}, err
	}
	return local, nil
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
