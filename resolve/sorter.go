package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aind/aindfs/store"
)

// What a sorted asset's files say about the sorting: the sorter's name, the
// probes and the sorting analyzer. Each is read from a few small files or
// listings, never from a whole large file.

// maxJSONBytes is the largest metadata file read for a sorter's name; a
// larger one is passed over rather than read whole.
const maxJSONBytes = 8 << 20

// sorterName finds the sorter's name from, in order: processing.json, the
// first spikesorted/**/si_folder.json then postprocessed/**/sorting.json,
// and params.json. Empty when none names it.
func (r *Resolver) sorterName(ctx context.Context, loc store.URI) (string, error) {
	var processing processingFile
	if ok, err := r.readJSON(ctx, loc.Join("processing.json"), &processing); err != nil || ok && processing.sorter() != "" {
		return processing.sorter(), err
	}
	for _, f := range []struct{ dir, name string }{{"spikesorted", "si_folder.json"}, {"postprocessed", "sorting.json"}} {
		obj, err := r.findFile(ctx, loc.Join(f.dir), f.name, 2)
		if err != nil || obj.IsZero() {
			if err != nil {
				return "", err
			}
			continue
		}
		var si siFile
		if ok, err := r.readJSON(ctx, obj, &si); err != nil || ok && si.Annotations.SortingInfo.Params.SorterName != "" {
			return si.Annotations.SortingInfo.Params.SorterName, err
		}
	}
	var params paramsFile
	_, err := r.readJSON(ctx, loc.Join("params.json"), &params)
	return params.Spikesorting.SorterName, err
}

// processingFile is what processing.json says of the processes run.
type processingFile struct {
	Pipeline struct {
		Processes json.RawMessage `json:"data_processes"`
	} `json:"processing_pipeline"`
	Processes json.RawMessage `json:"data_processes"`
}

type process struct {
	Name       string `json:"name"`
	Parameters struct {
		SorterName string `json:"sorter_name"`
	} `json:"parameters"`
	Code struct {
		Parameters struct {
			SorterName string `json:"sorter_name"`
		} `json:"parameters"`
	} `json:"code"`
}

// sorter is the sorter named by the first spike sorting process.
func (p processingFile) sorter() string {
	list := flattenProcesses(p.Pipeline.Processes)
	if len(list) == 0 {
		list = flattenProcesses(p.Processes)
	}
	for _, proc := range list {
		if strings.HasPrefix(proc.Name, "Spike sorting") {
			if proc.Parameters.SorterName != "" {
				return proc.Parameters.SorterName
			}
			return proc.Code.Parameters.SorterName
		}
	}
	return ""
}

// flattenProcesses reads a list of processes in which lists may nest.
func flattenProcesses(raw json.RawMessage) []process {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var out []process
	for _, it := range items {
		if t := strings.TrimSpace(string(it)); strings.HasPrefix(t, "[") {
			out = append(out, flattenProcesses(it)...)
			continue
		}
		var p process
		if json.Unmarshal(it, &p) == nil {
			out = append(out, p)
		}
	}
	return out
}

// siFile is a SpikeInterface object file (si_folder.json, sorting.json).
type siFile struct {
	Annotations struct {
		SortingInfo struct {
			Params struct {
				SorterName string `json:"sorter_name"`
			} `json:"params"`
		} `json:"__sorting_info__"`
	} `json:"annotations"`
}

// paramsFile is the pipeline's params.json.
type paramsFile struct {
	Spikesorting struct {
		SorterName string `json:"sorter_name"`
	} `json:"spikesorting"`
}

// readJSON decodes obj into v; ok is false when obj does not exist, is too
// large to read whole, or is not the JSON expected (each logged): only a
// failure to read is an error.
func (r *Resolver) readJSON(ctx context.Context, obj store.URI, v any) (ok bool, err error) {
	info, err := r.objects.Stat(ctx, obj)
	if errors.Is(err, store.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if info.Size > maxJSONBytes {
		r.log.Debug("file too large to read for its metadata; passed over", "file", obj, "size", info.Size)
		return false, nil
	}
	text, err := r.readSmall(ctx, obj, maxJSONBytes)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", obj, err)
	}
	if err := json.Unmarshal([]byte(text), v); err != nil {
		r.log.Debug("file is not the JSON expected; passed over", "file", obj, "err", err)
		return false, nil
	}
	return true, nil
}

// findFile returns the first file called name in dir or in its folders up
// to depth levels down, in name order; zero when there is none. Zarr
// folders are not entered: they hold only arrays.
func (r *Resolver) findFile(ctx context.Context, dir store.URI, name string, depth int) (store.URI, error) {
	entries, err := r.objects.List(ctx, dir)
	if errors.Is(err, store.ErrNotExist) {
		return store.URI{}, nil
	}
	if err != nil {
		return store.URI{}, err
	}
	for _, e := range entries {
		if !e.Dir && e.Name == name {
			return dir.Join(name), nil
		}
	}
	if depth == 0 {
		return store.URI{}, nil
	}
	for _, e := range entries {
		if !e.Dir || strings.HasSuffix(e.Name, ".zarr") {
			continue
		}
		if found, err := r.findFile(ctx, dir.Join(e.Name), name, depth-1); err != nil || !found.IsZero() {
			return found, err
		}
	}
	return store.URI{}, nil
}

// sortedProbes names the probes of a sorting: the entries of curated/, else
// of sorting_precurated/.
func (r *Resolver) sortedProbes(ctx context.Context, loc store.URI) ([]string, error) {
	for _, dir := range []string{"curated", "sorting_precurated"} {
		entries, err := r.objects.List(ctx, loc.Join(dir))
		if errors.Is(err, store.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(entries) == 0 {
			continue
		}
		var out []string
		for _, e := range entries {
			out = append(out, probeName(e.Name))
		}
		slices.Sort(out)
		return slices.Compact(out), nil
	}
	return []string{}, nil
}

// probeName is the probe of a sorting's entry, such as ProbeF in
// "experiment1_Record Node 104#Neuropix-PXI-100.ProbeF-AP_recording1": the
// part between the first "." and "_recording", without a trailing -AP or
// -LFP.
func probeName(entry string) string {
	name := entry
	if _, after, ok := strings.Cut(name, "."); ok {
		name = after
	}
	if before, _, ok := strings.Cut(name, "_recording"); ok {
		name = before
	}
	for _, stream := range []string{"-AP", "-LFP"} {
		name = strings.TrimSuffix(name, stream)
	}
	return name
}

// sortingAnalyzer finds a sorting analyzer, some */*.zarr folder of the
// asset, and returns its path inside the asset; empty when there is none.
func (r *Resolver) sortingAnalyzer(ctx context.Context, loc store.URI) (string, error) {
	top, err := r.objects.List(ctx, loc)
	if err != nil {
		return "", err
	}
	for _, d := range top {
		if !d.Dir {
			continue
		}
		entries, err := r.objects.List(ctx, loc.Join(d.Name))
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if e.Dir && strings.HasSuffix(e.Name, ".zarr") {
				return d.Name + "/" + e.Name, nil
			}
		}
	}
	return "", nil
}
