package resolve

import (
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
	// Catalog is the full catalog entry, when the asset came from Code Ocean.
	Catalog *codeocean.DataAsset
}

// Ref is an asset as session.json shows it.
type Ref struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Created string `json:"created"`
	Type    string `json:"type,omitempty"`
}

// Ref returns the session.json form of a.
func (a Asset) Ref() Ref {
	return Ref{ID: a.ID, Name: a.Name, Created: a.Created.UTC().Format(time.RFC3339), Type: a.Type}
}

// SortedAsset is a sorted asset with the verdict read from its output file.
type SortedAsset struct {
	Asset
	Failed  bool   // the output file shows the sorting failed
	Unknown bool   // the output file could not be read
	Reason  string // the failure marker found, or why the verdict is unknown
}

// Info is everything session.json holds about a session.
type Info struct {
	Identity
	RawDataAsset    *Ref     `json:"raw_data_asset"`
	RawDataDir      string   `json:"raw_data_dir"`
	Modalities      []string `json:"modalities"`
	SortedDataAsset *Ref     `json:"sorted_data_asset"`
	DataAssets      []Ref    `json:"data_assets"`
}
