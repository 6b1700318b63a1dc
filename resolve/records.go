package resolve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/docdb"
	"github.com/aind/aindfs/store"
)

// Records is what resolution asks of AIND's metadata database (DocDB):
// *docdb.Client online, *docdb.File from a local file.
type Records interface {
	SessionRecord(ctx context.Context, name string) (docdb.Record, bool, error)
	SubjectRecords(ctx context.Context, subjectID string, fields ...string) ([]docdb.Record, error)
}

// recordFields are what resolution reads of a subject's records: one small
// answer per subject then decides the raw asset and raw folder of every
// session of the subject.
var recordFields = []string{"_id", "name", "created", "last_modified", "location", "external_links"}

// DefaultRecordsWait bounds the wait for DocDB where Code Ocean answers
// after it: a slow DocDB must leave the Code Ocean rules time to answer
// within a lookup (half a minute). An answer that comes later is kept.
const DefaultRecordsWait = 10 * time.Second

// found is a record, or none.
type found struct {
	rec   docdb.Record
	ok    bool
	whole bool // not projected: as Record returns it
}

// subjectRecords returns a subject's records, projected to recordFields.
func (r *Resolver) subjectRecords(ctx context.Context, subj Subject) ([]docdb.Record, error) {
	return r.subjectRecs.get(ctx, subj, func(ctx context.Context) ([]docdb.Record, error) {
		recs, err := r.records.SubjectRecords(ctx, subj.ID(), recordFields...)
		if err != nil {
			return nil, fmt.Errorf("docdb records of subject %s: %w", subj, err)
		}
		r.log.Debug("docdb records of subject", "subject", subj.ID(), "records", len(recs))
		return recs, nil
	})
}

// sessionRecord returns the record that decides s's raw asset and raw
// folder: the newest named as the session (in any form that parses to it,
// without a derived label) among its subject's records; else the newest
// named exactly s.ID(), for a record whose subject is missing or written
// otherwise. ok is false when DocDB is off, has no record, or failed (the
// failure is logged once per lookup; the Code Ocean rules answer then).
func (r *Resolver) sessionRecord(ctx context.Context, s Session) (docdb.Record, bool) {
	f := r.decidingRecord(ctx, s)
	return f.rec, f.ok
}

func (r *Resolver) decidingRecord(ctx context.Context, s Session) found {
	if r.records == nil {
		return found{}
	}
	f, err := r.decided.get(ctx, s, func(ctx context.Context) (found, error) {
		ctx, cancel := context.WithTimeout(ctx, r.recordsWait)
		defer cancel()
		recs, err := r.subjectRecords(ctx, s.Subject())
		if err != nil {
			err = r.waited(ctx, err)
			r.log.Warn("docdb failed; using Code Ocean and the buckets alone", "session", s.ID(), "err", err)
			return found{}, err
		}
		var mine []docdb.Record
		for _, rec := range recs {
			if sess, label, _, ok := derivedParts(rec.Name); ok && label == "" && sess == s {
				mine = append(mine, rec)
			}
		}
		if rec, ok := docdb.Newest(mine); ok {
			r.logRecord(s, rec, len(mine))
			return found{rec: rec, ok: true}, nil
		}
		rec, ok, err := r.records.SessionRecord(ctx, s.ID())
		if err != nil {
			r.log.Warn("docdb failed; using Code Ocean and the buckets alone", "session", s.ID(), "err", err)
			return found{}, err
		}
		if ok {
			r.logRecord(s, rec, 1)
		} else {
			r.log.Debug("no docdb record of session", "session", s.ID())
		}
		return found{rec: rec, ok: ok, whole: true}, nil
	})
	if err != nil {
		return found{}
	}
	return f
}

// waited says so when err is the end of the wait for DocDB.
func (r *Resolver) waited(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("docdb gave no answer within %s: %w", r.recordsWait, err)
	}
	return err
}

func (r *Resolver) logRecord(s Session, rec docdb.Record, of int) {
	r.log.Debug("docdb record of session", "session", s.ID(), "record", rec.ID, "created", rec.Created,
		"location", rec.Location, "code_ocean", strings.Join(rec.CodeOcean(), ","), "records_named_so", of)
}

// Record returns the session's whole DocDB record, as the database holds
// it; ok is false when there is none (or DocDB is off).
func (r *Resolver) Record(ctx context.Context, s Session) (docdb.Record, bool, error) {
	if r.records == nil {
		return docdb.Record{}, false, nil
	}
	d := r.decidingRecord(ctx, s)
	if !d.ok || d.whole {
		return d.rec, d.ok, nil
	}
	f, err := r.fullRecords.get(ctx, s, func(ctx context.Context) (found, error) {
		full, ok, err := r.records.SessionRecord(ctx, d.rec.Name)
		if err != nil {
			return found{}, fmt.Errorf("docdb record of %s: %w", s, err)
		}
		return found{rec: full, ok: ok, whole: true}, nil
	})
	return f.rec, f.ok, err
}

// recordLocation is the raw folder the session's record names, if any.
func (r *Resolver) recordLocation(ctx context.Context, s Session) (store.URI, bool) {
	rec, ok := r.sessionRecord(ctx, s)
	if !ok || rec.Location == "" {
		return store.URI{}, false
	}
	u, err := store.ParseURI(rec.Location)
	if err != nil || u.Scheme != "s3" {
		r.log.Debug("docdb location not usable", "session", s.ID(), "location", rec.Location, "err", err)
		return store.URI{}, false
	}
	return u, true
}

// linkedRawAsset is the raw asset the session's record names: of the Code
// Ocean assets it links, the one Code Ocean created last. ok is false when
// the record links none that Code Ocean knows; the Code Ocean rules decide
// then. When Code Ocean cannot be asked, the record alone makes the asset.
func (r *Resolver) linkedRawAsset(ctx context.Context, s Session, rec docdb.Record) (Asset, bool) {
	ids := rec.CodeOcean()
	if len(ids) == 0 || r.catalog == nil {
		return Asset{}, false
	}
	var (
		linked []Asset
		failed []string
	)
	for _, id := range ids {
		d, err := r.catalogAsset(ctx, s.Subject(), id)
		switch {
		case errors.Is(err, codeocean.ErrNotFound):
			r.log.Debug("docdb links an asset Code Ocean does not have", "session", s.ID(), "id", id)
		case err != nil:
			failed = append(failed, fmt.Sprintf("%s (%v)", id, err))
		default:
			linked = append(linked, catalogAsset(d))
		}
	}
	var a Asset
	switch {
	case len(linked) > 0:
		// Stable: of equal times, the one linked last.
		slices.SortStableFunc(linked, func(a, b Asset) int { return a.Created.Compare(b.Created) })
		a = linked[len(linked)-1]
		r.log.Debug("raw asset from the docdb record", "session", s.ID(), "record", rec.ID, "asset", a.Name, "id", a.ID, "linked", len(ids))
	case len(failed) > 0:
		a = Asset{ID: ids[len(ids)-1], Name: rec.Name, Created: rec.Created, Type: "dataset"}
		r.log.Warn("code ocean failed; raw asset from the docdb record alone", "session", s.ID(), "id", a.ID,
			"errors", strings.Join(failed, "; "))
	default:
		return Asset{}, false
	}
	if local, err := r.localAssets(ctx); err == nil {
		local.attach(&a)
	}
	return a, true
}

// catalogAsset finds a Code Ocean asset by ID: among the subject's search
// results first (one search serves every session of a subject, and the
// session's own lookups make it anyway), else by asking for it.
func (r *Resolver) catalogAsset(ctx context.Context, subj Subject, id string) (codeocean.DataAsset, error) {
	if res, err := r.search(ctx, subjectField+":"+subj.ID()); err == nil {
		for _, d := range res {
			if d.ID == id {
				return d, nil
			}
		}
	}
	return r.byID.get(ctx, id, func(ctx context.Context) (codeocean.DataAsset, error) {
		return r.catalog.GetDataAsset(ctx, id)
	})
}

// recordSessions are the sessions of a subject named by its DocDB records.
func (r *Resolver) recordSessions(ctx context.Context, subj Subject) ([]Session, error) {
	if r.records == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.recordsWait)
	defer cancel()
	recs, err := r.subjectRecords(ctx, subj)
	if err != nil {
		return nil, r.waited(ctx, err)
	}
	var out []Session
	for _, rec := range recs {
		if s, err := ParseSession(rec.Name); err == nil && s.Subject() == subj {
			out = append(out, s)
		}
	}
	return out, nil
}
