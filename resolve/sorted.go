package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aind/aindfs/store"
)

// SortedAsset is a sorted asset with what its files say: whether the
// sorting failed (from its output file), which sorter made it and which
// probes it sorted.
type SortedAsset struct {
	Asset
	Failed  bool   // the output file shows the sorting failed
	Unknown bool   // no verdict: no output file, or it could not be read
	Reason  string // the failure marker found, or why the verdict is unknown
	// Sorter is the spike sorter's name, such as kilosort2_5; empty when no
	// file names it (the sorting likely did not get that far).
	Sorter string
	// Probes are the probes sorted, such as ProbeA, in name order.
	Probes []string
	// SortingAnalyzer is the path, inside the asset, of a sorting
	// analyzer (a *.zarr folder two levels down); empty when there is none.
	SortingAnalyzer string
}

// Verdict says in a word or two whether the sorting can be used: "good",
// "failed: <marker>" or "unknown: <why>".
func (v SortedAsset) Verdict() string {
	switch {
	case v.Failed:
		return "failed: " + v.Reason
	case v.Unknown:
		return "unknown: " + v.Reason
	default:
		return "good"
	}
}

// The markers a failed sorting leaves in its top-level output file.
var sortingFailureMarkers = []string{
	"Essential container in task exited",
	"Out of memory.",
	"Task failed to start - DockerTimeoutError",
	cudaMarker,
	"Traceback (most recent call last):",
	"Command error:",
	"WARN: Killing running tasks",
}

// cudaMarker does not fail the sorting pipeline's own output: it sorts each
// probe apart, and a CUDA error on one leaves the others usable.
const cudaMarker = "The CUDA error was:"

// noOutput is the reason given for a sorted asset without an output file.
const noOutput = "no output file"

// notFollowed is the reason given for a sorted asset whose folder links out
// of the data folder: aindfs reads nothing through such a link.
const notFollowed = "folder links out of the data folder, not read"

// maxOutputBytes bounds how much of an output file is read for markers.
const maxOutputBytes = 64 << 20

// sortingFailure returns the first failure marker in a sorting's output,
// or "" when there is none.
func sortingFailure(output string) string {
	for _, m := range sortingFailureMarkers {
		if m == cudaMarker && isPipelineOutput(output) {
			continue
		}
		if strings.Contains(output, m) {
			return m
		}
	}
	return ""
}

// isPipelineOutput tells whether an output file is the sorting pipeline's
// own log (a Nextflow run of the sorting steps).
func isPipelineOutput(output string) bool {
	low := strings.ToLower(output)
	return strings.Contains(low, "sorting") && strings.Contains(low, "kilosort") && strings.Contains(low, "n e x t f l o w")
}

// isSorted tells whether a (an asset of s) is a sorting of s: its name
// starts with the session ID and "_sorted", or carries a derived label
// starting with "sorted" (which older names with other separators have).
func isSorted(a Asset, s Session) bool {
	if strings.HasPrefix(a.Name, s.ID()+"_sorted") {
		return true
	}
	_, label, _, ok := derivedParts(a.Name)
	return ok && strings.HasPrefix(label, "sorted")
}

// sortedCandidates returns the sorted assets of s, oldest first.
func (r *Resolver) sortedCandidates(ctx context.Context, s Session) ([]Asset, error) {
	assets, err := r.Assets(ctx, s)
	if err != nil {
		return nil, err
	}
	var out []Asset
	for _, a := range assets {
		if isSorted(a, s) {
			out = append(out, a)
		}
	}
	return out, nil
}

// SortedAssets returns every sorted asset of s, oldest first, each with its
// verdict, sorter, probes and sorting analyzer; they are read at once for
// all assets, and remembered for good (assets do not change). One whose
// files cannot be read is listed with Unknown set and the reason.
func (r *Resolver) SortedAssets(ctx context.Context, s Session) ([]SortedAsset, error) {
	candidates, err := r.sortedCandidates(ctx, s)
	if err != nil {
		return nil, err
	}
	out := make([]SortedAsset, len(candidates))
	var wg sync.WaitGroup
	for i, a := range candidates {
		wg.Go(func() {
			v, err := r.sorting(ctx, a)
			if err == nil {
				out[i] = v
				return
			}
			// Without its sorter or probes the verdict still helps.
			if v, verr := r.sortingVerdict(ctx, a); verr == nil {
				r.log.Warn("sorted asset: sorter or probes unknown", "session", s.ID(), "asset", a.Name, "err", err)
				out[i] = v
				return
			}
			out[i] = SortedAsset{Asset: a, Unknown: true, Reason: err.Error()}
		})
	}
	wg.Wait()
	return out, nil
}

// SortedAsset returns the newest sorted asset whose sorting did not fail
// (one without an output file included: nothing says it failed); ok is
// false when there is none. Candidates are read newest first, so the usual
// case reads one output file; one that cannot be read is skipped (and
// logged) rather than hiding the session.
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

// SortedRef is a sorting as session.json shows it.
type SortedRef struct {
	Ref
	Sorter          *string  `json:"sorter"` // null when unknown
	Probes          []string `json:"probes"`
	Failed          bool     `json:"failed"`
	Verdict         string   `json:"verdict"`
	Reason          *string  `json:"reason"`           // the marker, or why unknown; null when good
	SortingAnalyzer *string  `json:"sorting_analyzer"` // path inside the asset; null when none
}

// Ref returns the session.json form of v.
func (v SortedAsset) Ref() SortedRef {
	ref := SortedRef{Ref: v.Asset.Ref(), Sorter: orNull(v.Sorter), Probes: v.Probes, Failed: v.Failed,
		Verdict: v.Verdict(), Reason: orNull(v.Reason), SortingAnalyzer: orNull(v.SortingAnalyzer)}
	if ref.Probes == nil {
		ref.Probes = []string{}
	}
	return ref
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// addSortings puts every sorting of s, and its sorters, into info; what
// cannot be learnt is logged and left out (session.json still shows the rest).
func (r *Resolver) addSortings(ctx context.Context, s Session, info *Info) {
	sorted, err := r.SortedAssets(ctx, s)
	if err != nil {
		r.log.Warn("sortings of session unknown", "session", s.ID(), "err", err)
		return
	}
	for _, v := range sorted {
		info.SortedDataAssets = append(info.SortedDataAssets, v.Ref())
	}
	for _, v := range newestBySorter(sorted) {
		info.Sorters = append(info.Sorters, v.Sorter)
	}
}

// Sorters returns, for each sorter of s, the newest sorting by it that did
// not fail, ordered by sorter name. Sortings whose sorter is unknown are
// left out.
func (r *Resolver) Sorters(ctx context.Context, s Session) ([]SortedAsset, error) {
	sorted, err := r.SortedAssets(ctx, s)
	if err != nil {
		return nil, err
	}
	return newestBySorter(sorted), nil
}

// newestBySorter picks from sortings (oldest first) the newest of each
// sorter that did not fail, ordered by sorter name.
func newestBySorter(sorted []SortedAsset) []SortedAsset {
	newest := map[string]SortedAsset{}
	for _, v := range sorted { // oldest first: the newest wins
		if v.Sorter != "" && !v.Failed {
			newest[v.Sorter] = v
		}
	}
	out := make([]SortedAsset, 0, len(newest))
	for _, name := range slices.Sorted(maps.Keys(newest)) {
		out = append(out, newest[name])
	}
	return out
}

// sortedKey is the cache key of a sorted asset's facts.
func sortedKey(a Asset) string {
	if a.ID != "" {
		return a.ID
	}
	return a.Local.String()
}

// sortingVerdict reads a sorted asset's output file for failure markers.
func (r *Resolver) sortingVerdict(ctx context.Context, a Asset) (SortedAsset, error) {
	return r.verdicts.get(ctx, sortedKey(a), func(ctx context.Context) (SortedAsset, error) {
		v := SortedAsset{Asset: a}
		if a.Link != "" {
			v.Unknown, v.Reason = true, notFollowed
			return v, nil
		}
		loc, err := r.Location(ctx, a)
		if err != nil {
			return v, err
		}
		text, err := r.readSmall(ctx, loc.Join("output"), maxOutputBytes)
		if errors.Is(err, store.ErrNotExist) {
			r.log.Debug("sorted asset has no output file; its verdict is unknown", "asset", a.Name)
			v.Unknown, v.Reason = true, noOutput
			return v, nil
		}
		if err != nil {
			return v, fmt.Errorf("read output of %s: %w", a.Name, err)
		}
		if m := sortingFailure(text); m != "" {
			v.Failed, v.Reason = true, m
		}
		return v, nil
	})
}

// sorting is a sorted asset's verdict with its sorter, probes and sorting
// analyzer, each read from the asset's files.
func (r *Resolver) sorting(ctx context.Context, a Asset) (SortedAsset, error) {
	return r.sortings.get(ctx, sortedKey(a), func(ctx context.Context) (SortedAsset, error) {
		v, err := r.sortingVerdict(ctx, a)
		if err != nil || a.Link != "" {
			return v, err
		}
		loc, err := r.Location(ctx, a)
		if err != nil {
			return v, err
		}
		var wg sync.WaitGroup
		var errs [3]error
		wg.Go(func() { v.Sorter, errs[0] = r.sorterName(ctx, loc) })
		wg.Go(func() { v.Probes, errs[1] = r.sortedProbes(ctx, loc) })
		wg.Go(func() { v.SortingAnalyzer, errs[2] = r.sortingAnalyzer(ctx, loc) })
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			return v, fmt.Errorf("sorted asset %s: %w", a.Name, err)
		}
		return v, nil
	})
}

// readSmall reads an object's first limit bytes.
func (r *Resolver) readSmall(ctx context.Context, obj store.URI, limit int64) (string, error) {
	info, err := r.objects.Stat(ctx, obj)
	if err != nil {
		return "", err
	}
	n := min(info.Size, limit)
	body, err := r.objects.ReadRange(ctx, obj, info.ETag, 0, n)
	if err != nil {
		return "", err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, n))
	return string(b), err
}
