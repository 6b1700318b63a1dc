package resolve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

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

// The session's DocDB record decides first, as the reference library does:
// of the Code Ocean assets it links, the newest. Without one, the Code Ocean
// rules (isRaw) choose.
func (r *Resolver) rawAsset(ctx context.Context, s Session) (Asset, error) {
	rec, hasRecord := r.sessionRecord(ctx, s)
	if hasRecord {
		if a, ok := r.linkedRawAsset(ctx, s, rec); ok {
			r.remember(s)
			return a, nil
		}
	}
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
		if loc, ok := r.recordLocation(ctx, s); ok {
			e.RawDataDir = loc
			return Asset{}, e
		}
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
	if r.records != nil {
		parts = append(parts, "docdb records of subject "+s.SubjectID()+" and named "+s.ID())
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
// the asset's name, then its ID. An asset attached as a link out of the
// data folder has none: its files are not aindfs's to read (ErrNotFound).
func (r *Resolver) Location(ctx context.Context, a Asset) (store.URI, error) {
	if a.Link != "" {
		return store.URI{}, fmt.Errorf("asset %s: its folder %s links out of the data folder to %s, which is not followed: %w",
			a.Name, a.Local, a.Link, ErrNotFound)
	}
	if !a.Local.IsZero() {
		return a.Local, nil
	}
	return r.locations.get(ctx, locationKey(a.ID, a.Name), func(ctx context.Context) (store.URI, error) {
		if sb := a.sourceBucket(); sb != nil {
			return store.S3(sb.Bucket, sb.Prefix), nil
		}
		uri, err := r.probe(ctx, a.Name)
		if err == nil {
			return uri, nil
		}
		if a.ID == "" {
			return store.URI{}, fmt.Errorf("location of asset %s: %w", a.Name, err)
		}
		uri, err2 := r.probe(ctx, a.ID)
		if err2 != nil {
			return store.URI{}, fmt.Errorf("location of asset %s (%s): %w", a.Name, a.ID, errors.Join(err, err2))
		}
		return uri, nil
	})
}

// locationKey is the cache key of an asset's location.
func locationKey(id, name string) string {
	if id == "" {
		return "name:" + name
	}
	return id
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

// RawDataDir returns the raw asset's local copy when attached, else the
// location the session's DocDB record names, else the raw asset's folder,
// else the raw folder found in a known bucket under the session ID (S3-only
// use, without a catalog).
func (r *Resolver) RawDataDir(ctx context.Context, s Session) (store.URI, error) {
	raw, err := r.RawAsset(ctx, s)
	var noRaw *NoRawAssetError
	switch {
	case err == nil:
		if raw.Local.IsZero() {
			if loc, ok := r.recordLocation(ctx, s); ok {
				return loc, nil
			}
		}
		return r.Location(ctx, raw)
	case errors.As(err, &noRaw) && !noRaw.RawDataDir.IsZero():
		// Found in a bucket alone (S3-only use): a session all the same.
		r.remember(s)
		return noRaw.RawDataDir, nil
	default:
		// Code Ocean failed: the record still says where the raw data is.
		if loc, ok := r.recordLocation(ctx, s); ok {
			r.log.Warn("code ocean failed; raw folder from the docdb record", "session", s.ID(), "dir", loc.String(), "err", err)
			r.remember(s)
			return loc, nil
		}
		return store.URI{}, err
	}
}
