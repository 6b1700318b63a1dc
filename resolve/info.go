package resolve

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/store"
)

// Info is everything session.json holds about a session.
type Info struct {
	Identity
	RawDataAsset    *Ref     `json:"raw_data_asset"`
	RawDataDir      string   `json:"raw_data_dir"`
	Modalities      []string `json:"modalities"`
	SortedDataAsset *Ref     `json:"sorted_data_asset"`
	DataAssets      []Ref    `json:"data_assets"`
	// SortedDataAssets are every sorting of the session, oldest first, and
	// Sorters the sorters with one that did not fail.
	SortedDataAssets []SortedRef `json:"sorted_data_assets"`
	Sorters          []string    `json:"sorters"`
}

// Info gathers what session.json shows. A session with no raw asset, no raw
// data and no asset at all is ErrNotFound, with what was searched.
func (r *Resolver) Info(ctx context.Context, s Session) (Info, error) {
	info := Info{Identity: s.Identity(), Modalities: []string{}, DataAssets: []Ref{},
		SortedDataAssets: []SortedRef{}, Sorters: []string{}}
	assets, assetsErr := r.Assets(ctx, s)
	if assetsErr != nil {
		// With Code Ocean failing, the DocDB record still tells the raw
		// asset and folder; without one there is nothing to describe.
		if _, ok := r.sessionRecord(ctx, s); !ok {
			return info, assetsErr
		}
		r.log.Warn("assets of session unknown; describing it from its docdb record", "session", s.ID(), "err", assetsErr)
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
		if assetsErr != nil {
			info.DataAssets = append(info.DataAssets, ref)
		}
	case errors.As(rawErr, &noRaw):
		if noRaw.RawDataDir.IsZero() && len(assets) == 0 {
			return info, fmt.Errorf("session %s: %w", s, rawErr)
		}
	case assetsErr == nil:
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
	if err != nil && assetsErr == nil {
		return info, err
	}
	if ok {
		ref := sorted.Ref()
		info.SortedDataAsset = &ref
	}
	r.addSortings(ctx, s, &info)
	r.addLocations(&info)
	r.remember(s)
	return info, nil
}

// list lists a folder, remembering the answer for a while.
func (r *Resolver) list(ctx context.Context, dir store.URI) ([]store.ObjectInfo, error) {
	return r.listings.get(ctx, dir, func(ctx context.Context) ([]store.ObjectInfo, error) {
		return r.objects.List(ctx, dir)
	})
}

// rawEntries lists the top of the raw folder.
func (r *Resolver) rawEntries(ctx context.Context, s Session) (store.URI, []store.ObjectInfo, error) {
	dir, err := r.RawDataDir(ctx, s)
	if err != nil {
		return store.URI{}, nil, err
	}
	entries, err := r.list(ctx, dir)
	if err != nil {
		return dir, nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return dir, entries, nil
}

// Modalities returns the modalities recorded in the raw folder: its
// sub-folder names, with the ecephys variants merged and metadata dropped.
func (r *Resolver) Modalities(ctx context.Context, s Session) ([]string, error) {
	_, entries, err := r.rawEntries(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("modalities of %s: %w", s, err)
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
	dir, entries, err := r.rawEntries(ctx, s)
	if err != nil {
		return nil, dir, fmt.Errorf("metadata of %s: %w", s, err)
	}
	var out []store.ObjectInfo
	for _, e := range entries {
		if !e.Dir && path.Ext(e.Name) == ".json" {
			out = append(out, e)
		}
	}
	return out, dir, nil
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
	for s := range local.bySession {
		if s.Subject() == subj {
			set[s] = true
		}
	}
	// Code Ocean and DocDB are asked at once; either may be down, and the
	// other still answers (the log says which failed).
	var (
		results      [][]codeocean.DataAsset
		recorded     []Session
		coErr, dbErr error
		wg           sync.WaitGroup
	)
	if r.catalog != nil {
		wg.Go(func() { results, coErr = r.searchAll(ctx, []string{subjectField + ":" + subj.ID(), subj.ID()}) })
	}
	wg.Go(func() { recorded, dbErr = r.recordSessions(ctx, subj) })
	wg.Wait()
	switch {
	case coErr != nil && (dbErr != nil || r.records == nil):
		return nil, fmt.Errorf("sessions of subject %s: %w", subj, errors.Join(coErr, dbErr))
	case coErr != nil:
		r.log.Warn("code ocean failed; sessions of subject from docdb alone", "subject", subj.ID(), "err", coErr)
	case dbErr != nil:
		r.log.Warn("docdb failed; sessions of subject from the other sources", "subject", subj.ID(), "err", dbErr)
	}
	for _, res := range results {
		for _, d := range res {
			if s, err := ParseSession(d.Name); err == nil && s.Subject() == subj {
				set[s] = true
			}
		}
	}
	for _, s := range recorded {
		set[s] = true
	}
	return slices.SortedFunc(maps.Keys(set), Session.Compare), nil
}

// KnownSessions returns the sessions known so far: those with folders in the
// data folder and the most recently resolved (up to Config.KnownSessions),
// ordered by ID.
func (r *Resolver) KnownSessions(ctx context.Context) []Session {
	set := map[Session]bool{}
	if local, err := r.localAssets(ctx); err == nil {
		for s := range local.bySession {
			set[s] = true
		}
	}
	for _, s := range r.known.Keys() {
		set[s] = true
	}
	return slices.SortedFunc(maps.Keys(set), Session.Compare)
}

// remember adds s to the known sessions, or makes it the most recent.
func (r *Resolver) remember(s Session) { r.known.Add(s, struct{}{}) }
