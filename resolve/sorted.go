package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aind/aindfs/store"
)

// SortedAsset is a sorted asset with the verdict read from its output file.
type SortedAsset struct {
	Asset
	Failed  bool   // the output file shows the sorting failed
	Unknown bool   // the output file could not be read
	Reason  string // the failure marker found, or why the verdict is unknown
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

// readSmall reads an object's first maxOutputBytes.
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
