package resolve

import (
	"context"
	"fmt"
	"slices"

	"github.com/aind/aindfs/store"
)

// RawFolder is a folder of the raw data known by a short name, such as the
// clipped ecephys data.
type RawFolder struct {
	Name string // clipped, compressed
	Path string // inside the raw folder, such as ecephys/ecephys_clipped
}

// EcephysFolders returns the raw folder's clipped and compressed ecephys
// data, found under ecephys/ first (the newer layout), then at the top; a
// kind that is in neither place is left out.
func (r *Resolver) EcephysFolders(ctx context.Context, s Session) ([]RawFolder, error) {
	dir, top, err := r.rawEntries(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("ecephys folders of %s: %w", s, err)
	}
	topNames, nested := folderNames(top), []string(nil)
	if slices.Contains(topNames, "ecephys") {
		entries, err := r.list(ctx, dir.Join("ecephys"))
		if err != nil {
			return nil, err
		}
		nested = folderNames(entries)
	}
	var out []RawFolder
	for _, kind := range []string{"clipped", "compressed"} {
		name := "ecephys_" + kind
		switch {
		case slices.Contains(nested, name):
			out = append(out, RawFolder{Name: kind, Path: "ecephys/" + name})
		case slices.Contains(topNames, name):
			out = append(out, RawFolder{Name: kind, Path: name})
		}
	}
	return out, nil
}

// folderNames are the names of the folders among entries.
func folderNames(entries []store.ObjectInfo) []string {
	var out []string
	for _, e := range entries {
		if e.Dir {
			out = append(out, e.Name)
		}
	}
	return out
}
