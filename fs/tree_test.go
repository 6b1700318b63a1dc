package fs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/resolve"
	"github.com/aind/aindfs/store"
)

func names(nodes []Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name())
	}
	return out
}

// sourceNames lists a folder of the sample on disk, optionally only the
// entries keep accepts.
func sourceNames(t *testing.T, dir string, keep func(os.DirEntry) bool) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if keep == nil || keep(de) {
			out = append(out, de.Name())
		}
	}
	return out
}

func walkDir(t *testing.T, tree *Tree, p string) Dir {
	t.Helper()
	n, err := tree.Walk(context.Background(), p, true)
	if err != nil {
		t.Fatalf("walk %s: %v", p, err)
	}
	d, ok := n.(Dir)
	if !ok {
		t.Fatalf("%s is not a folder", p)
	}
	return d
}

func TestFoldersOfSessions(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	data := sample.DataDir()
	isJSON := func(de os.DirEntry) bool { return !de.IsDir() && strings.HasSuffix(de.Name(), ".json") }
	tests := []struct {
		path string
		want []string
	}{
		{"", []string{"assets", "sessions", "subjects"}},
		{"sessions", []string{sample.SecondID, sample.SessionID}},
		{"subjects", []string{"676909", "702131"}},
		{"sessions/" + sample.SessionID, []string{"assets", "metadata", "raw", "session.json", "sorted"}},
		// No sorted asset: no sorted folder.
		{"sessions/" + sample.SecondID, []string{"assets", "metadata", "raw", "session.json"}},
		{"sessions/" + sample.SessionID + "/metadata", sourceNames(t, filepath.Join(data, sample.SessionID), isJSON)},
		{"sessions/" + sample.SessionID + "/raw", sourceNames(t, filepath.Join(data, sample.SessionID), nil)},
		{"sessions/" + sample.SessionID + "/raw/ecephys", []string{"ecephys_clipped", "ecephys_compressed"}},
		// The newer sorting failed: sorted/ is the good one.
		{"sessions/" + sample.SessionID + "/sorted", sourceNames(t, filepath.Join(data, sample.SortedName), nil)},
		{"sessions/" + sample.SessionID + "/assets", []string{sample.SessionID, sample.FailedName, sample.SortedName}},
		{"sessions/" + sample.SessionID + "/assets/" + sample.FailedName, sourceNames(t, filepath.Join(data, sample.FailedName), nil)},
		{"subjects/676909", []string{sample.SessionID}},
		{"assets/" + sample.SortedAssetID, sourceNames(t, filepath.Join(data, sample.SortedName), nil)},
		{"assets", nil},
	}
	for _, tt := range tests {
		nodes, err := walkDir(t, tree, tt.path).ReadDir(context.Background())
		if err != nil {
			t.Errorf("ls %q: %v", tt.path, err)
			continue
		}
		if got := names(nodes); !slices.Equal(got, tt.want) {
			t.Errorf("ls %q = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// TestFilesEqualSource compares every file under the session folders with
// the sample on disk: kind, mode, size and bytes.
func TestFilesEqualSource(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	data := sample.DataDir()
	for _, tt := range sampleFolders {
		src := filepath.Join(data, tt.source)
		count := 0
		err := filepath.WalkDir(src, func(p string, de os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			n, err := tree.Walk(context.Background(), tt.path+"/"+filepath.ToSlash(rel), false)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
			a := n.Attr()
			if de.IsDir() {
				if a.Mode != iofs.ModeDir|0o555 {
					t.Errorf("%s: mode %v, want dr-xr-xr-x", n.Path(), a.Mode)
				}
				return nil
			}
			count++
			want, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			f, ok := n.(File)
			if !ok {
				t.Errorf("%s is not a file", n.Path())
				return nil
			}
			if a.Mode != 0o444 || a.Size != int64(len(want)) {
				t.Errorf("%s: mode %v size %d, want -r--r--r-- %d", n.Path(), a.Mode, a.Size, len(want))
			}
			var got bytes.Buffer
			if _, err := ReadAll(context.Background(), f, &got); err != nil {
				t.Errorf("read %s: %v", n.Path(), err)
			} else if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s: %d bytes differ from the source's %d", n.Path(), got.Len(), len(want))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if count == 0 {
			t.Errorf("%s: no file compared", tt.path)
		}
	}
}

func TestSessionJSON(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	n, err := tree.Walk(context.Background(), "sessions/"+sample.SessionID+"/session.json", false)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := ReadAll(context.Background(), n.(File), &buf); err != nil {
		t.Fatal(err)
	}
	if got := n.Attr().Size; got != int64(buf.Len()) {
		t.Errorf("size %d, but %d bytes read", got, buf.Len())
	}
	var info resolve.Info
	if err := json.Unmarshal(buf.Bytes(), &info); err != nil {
		t.Fatalf("session.json is not JSON: %v\n%s", err, buf.String())
	}
	if info.ID != sample.SessionID || info.SubjectID != "676909" || info.Platform != "ecephys" {
		t.Errorf("identity %+v", info.Identity)
	}
	if info.RawDataAsset == nil || info.RawDataAsset.Name != sample.SessionID {
		t.Errorf("raw_data_asset %+v, want %s", info.RawDataAsset, sample.SessionID)
	}
	if info.SortedDataAsset == nil || info.SortedDataAsset.Name != sample.SortedName {
		t.Errorf("sorted_data_asset %+v, want %s", info.SortedDataAsset, sample.SortedName)
	}
	if len(info.DataAssets) != 3 {
		t.Errorf("data_assets %+v, want 3", info.DataAssets)
	}
	if !bytes.Contains(buf.Bytes(), []byte("\n  \"id\": ")) {
		t.Errorf("session.json is not indented:\n%s", buf.String())
	}
	// getattr is frequent: the inode is hashed once, not on each call.
	if allocs := testing.AllocsPerRun(100, func() { n.Attr() }); allocs != 0 {
		t.Errorf("session.json Attr: %v allocations per call, want 0", allocs)
	}
}

func TestLinks(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	tests := []struct {
		path, target, resolvesTo string
	}{
		{"sessions/ecephys_676909_2023_12_13_13_43_40_foo", sample.SessionID, "sessions/" + sample.SessionID},
		{"sessions/" + sample.SortedName, sample.SessionID, "sessions/" + sample.SessionID},
		{"sessions/ecephys_676909_2023-12-13_13-43-40.123", sample.SessionID, "sessions/" + sample.SessionID},
		{"subjects/676909/" + sample.SessionID, "../../sessions/" + sample.SessionID, "sessions/" + sample.SessionID},
		{"subjects/0676909", "676909", "subjects/676909"},
	}
	for _, tt := range tests {
		n, err := tree.Walk(context.Background(), tt.path, false)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		l, ok := n.(Symlink)
		if !ok {
			t.Errorf("%s is not a link", tt.path)
			continue
		}
		if l.Target() != tt.target || l.Attr().Mode.Type() != iofs.ModeSymlink {
			t.Errorf("%s -> %q (%v), want -> %q", tt.path, l.Target(), l.Attr().Mode, tt.target)
		}
		end, err := tree.Walk(context.Background(), tt.path, true)
		if err != nil {
			t.Errorf("follow %s: %v", tt.path, err)
		} else if end.Path() != tt.resolvesTo {
			t.Errorf("%s resolves to %q, want %q", tt.path, end.Path(), tt.resolvesTo)
		}
	}
	// Through a link to a file, and back up with "..".
	n, err := tree.Walk(context.Background(), "subjects/676909/"+sample.SessionID+"/raw/../sorted/output", true)
	if err != nil || n.Path() != "sessions/"+sample.SessionID+"/sorted/output" {
		t.Errorf("walk through link: %v, %v", n, err)
	}
}

func TestBadNamesNeverAsk(t *testing.T) {
	tree, r, objects, _ := sampleTree(t)
	ctx := context.Background()
	tests := []struct {
		dir, name string
		want      error
	}{
		{"sessions", "not-a-session", ErrNotExist},
		{"sessions", "ecephys_676909_20231213_134340", ErrNotExist},
		{"sessions", "676909_2023-12-13_13-43-40", ErrNotExist},
		{"sessions", "ecephys_676909_2023-02-31_13-43-40", ErrNotExist},
		{"sessions", "..", ErrNotExist},
		{"sessions", ".", ErrNotExist},
		{"sessions", "", ErrNotExist},
		{"sessions", sample.SessionID + "_" + strings.Repeat("x", 250), ErrNameTooLong},
		{"sessions", "ecephys_676909_2023-12-13_13-43-40\x00", ErrInvalidName},
		{"sessions", "a/" + sample.SessionID, ErrInvalidName},
		{"sessions", sample.SessionID + "_\xff\xfe", ErrNotExist},
		{"subjects", "\xff", ErrNotExist},
		{"subjects", "12345", ErrNotExist},
		{"subjects", "abcdefg", ErrNotExist},
		{"assets", "not-a-uuid", ErrNotExist},
		{"assets", strings.Repeat("g", 36), ErrNotExist},
		{"", "nope", ErrNotExist},
	}
	before := r.totalCalls()
	for _, tt := range tests {
		_, err := lookup(ctx, walkDir(t, tree, tt.dir), tt.name)
		if !errors.Is(err, tt.want) {
			t.Errorf("lookup %q in %q: %v, want %v", tt.name, tt.dir, err, tt.want)
		}
	}
	if n := r.totalCalls() - before; n != 0 {
		t.Errorf("bad names made %d resolver calls: %v", n, r.calls)
	}
	if n := objects.lists.Load(); n != 0 {
		t.Errorf("bad names made %d listings", n)
	}
}

func TestMissingSessionSaysWhy(t *testing.T) {
	tree, _, _, logs := sampleTree(t)
	const name = "ecephys_111111_2024-01-02_03-04-05"
	_, err := tree.Walk(context.Background(), "sessions/"+name, false)
	if !errors.Is(err, ErrNotExist) {
		t.Fatalf("lookup of a session with nothing behind it: %v, want not-exist", err)
	}
	for _, s := range []string{name, "searched the catalog by name and subject"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log does not say %q:\n%s", s, logs.String())
		}
	}
}

func TestFailuresAreNotNotExist(t *testing.T) {
	tree, r, _, _ := sampleTree(t)
	r.setFail(errors.New("connection reset by peer"))
	for _, p := range []string{"sessions/" + sample.SessionID, "subjects/676909", "assets/" + sample.SortedAssetID} {
		_, err := tree.Walk(context.Background(), p, false)
		if err == nil || errors.Is(err, ErrNotExist) {
			t.Errorf("%s with the catalog down: %v, want a failure that is not not-exist", p, err)
			continue
		}
		if !strings.Contains(err.Error(), "connection reset by peer") {
			t.Errorf("%s: error %q does not give the cause", p, err)
		}
	}
}

// A folder lists once; looking up each of its entries asks nothing more.
func TestListingsAreKept(t *testing.T) {
	tree, _, objects, _ := sampleTree(t)
	ctx := context.Background()
	dir := walkDir(t, tree, "sessions/"+sample.SessionID+"/raw/behavior_videos")
	before := objects.lists.Load()
	for range 2 {
		nodes, err := dir.ReadDir(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if _, err := dir.Lookup(ctx, n.Name()); err != nil {
				t.Errorf("lookup %s: %v", n.Name(), err)
			}
		}
	}
	if n := objects.lists.Load() - before; n != 1 {
		t.Errorf("two listings and lookups of every entry made %d list requests, want 1", n)
	}
}

func TestInodes(t *testing.T) {
	t1, _, _, _ := sampleTree(t)
	t2, r2, _, _ := sampleTree(t)
	ino := func(tree *Tree, p string) uint64 {
		n, err := tree.Walk(context.Background(), p, false)
		if err != nil {
			t.Fatal(err)
		}
		return n.Attr().Ino
	}
	paths := []string{"sessions/" + sample.SessionID, "sessions/" + sample.SessionID + "/raw/rig.json", "sessions/" + sample.SessionID + "/sorted",
		"sessions/" + sample.SessionID + "/session.json", "sessions/" + sample.SessionID + "/metadata"}
	seen := map[uint64]string{}
	for _, p := range paths {
		a, b := ino(t1, p), ino(t2, p)
		if a != b {
			t.Errorf("%s: inode %d in one tree, %d in another", p, a, b)
		}
		if other, ok := seen[a]; ok {
			t.Errorf("%s and %s share inode %d", p, other, a)
		}
		seen[a] = p
	}
	// A new asset changes session.json, and sorted/ when it is the sorted one.
	jsonBefore, sortedBefore := ino(t2, paths[3]), ino(t2, paths[2])
	late := r2.addAsset(t, sample.DataDir(), sample.FailedName, "00000000-0000-4000-8000-000000000009", time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	r2.setSorted(late)
	if ino(t2, paths[3]) == jsonBefore {
		t.Errorf("session.json kept its inode after its contents changed")
	}
	if ino(t2, paths[2]) == sortedBefore {
		t.Errorf("sorted/ kept its inode after pointing to another asset")
	}
}

func TestViews(t *testing.T) {
	objects := &localObjects{}
	r := sampleResolver(t)
	processed := View{Name: "processed", Folder: func(ctx context.Context, r Resolver, s resolve.Session) (Folder, bool, error) {
		if s.Platform() != "behavior" {
			return Folder{}, false, nil
		}
		dir, err := r.RawDataDir(ctx, s)
		return Folder{Location: dir.Join("behavior")}, err == nil, err
	}}
	tree := New(Config{Resolver: r, Objects: objects, Views: append(slices.Clone(defaultViews), processed)})
	for _, tt := range []struct {
		session string
		want    []string
	}{
		{sample.SecondID, []string{"assets", "metadata", "processed", "raw", "session.json"}},
		{sample.SessionID, []string{"assets", "metadata", "raw", "session.json", "sorted"}},
	} {
		nodes, err := walkDir(t, tree, "sessions/"+tt.session).ReadDir(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := names(nodes); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.session, got, tt.want)
		}
	}
	nodes, err := walkDir(t, tree, "sessions/"+sample.SecondID+"/processed").ReadDir(context.Background())
	if err != nil || len(nodes) != 1 || nodes[0].Name() != "702131_2024-02-05_10-11-12.jsonl" {
		t.Errorf("processed/ = %q, %v", names(nodes), err)
	}

	defer func() {
		if recover() == nil {
			t.Errorf("a tree with two views named raw did not panic")
		}
	}()
	New(Config{Resolver: r, Objects: objects, Views: append(slices.Clone(defaultViews), View{Name: "raw", Folder: rawFolder})})
}

func TestWalkErrors(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	tests := []struct {
		path string
		want error
	}{
		{"sessions/" + sample.SessionID + "/session.json/x", ErrNotDir},
		{"sessions/" + sample.SessionID + "/raw/nope.json", ErrNotExist},
		{"nope/x", ErrNotExist},
	}
	for _, tt := range tests {
		_, err := tree.Walk(context.Background(), tt.path, true)
		if !errors.Is(err, tt.want) {
			t.Errorf("walk %s: %v, want %v", tt.path, err, tt.want)
		}
	}
}

// Objects in S3 may share a name with a folder; the folder wins, and names
// no file can have are left out.
func TestOddListings(t *testing.T) {
	tree, _, _, _ := sampleTree(t)
	d := &objectDir{t: tree, path: "x", loc: store.S3("b", "p")}
	d.setEntries([]store.ObjectInfo{
		{Name: "b", Size: 3}, {Name: "a", Dir: true}, {Name: "a", Size: 1}, {Name: "bad\xff"},
		{Name: strings.Repeat("n", 300)},
	})
	nodes, err := d.ReadDir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := names(nodes); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("entries %q, want a, b", got)
	}
	if _, ok := nodes[0].(Dir); !ok {
		t.Errorf("a is a file, want the folder")
	}
}

// TestAssetNameWithSlash: an asset whose name holds '/' cannot be a folder
// of a session's assets/. It is left out, the log says so once (naming it
// and where its files are), and its files are there, by its ID.
func TestAssetNameWithSlash(t *testing.T) {
	tree, r, _, logs := sampleTree(t)
	odd := resolve.Asset{ID: "0a1b2c3d-0000-4000-8000-00000000000a", Name: sample.SessionID + "_processed/v2",
		Created: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), Type: "result",
		Local: store.Local(filepath.Join(sample.DataDir(), sample.SortedName))}
	r.mu.Lock()
	r.sessions[sample.SessionID].assets = append(r.sessions[sample.SessionID].assets, odd)
	r.mu.Unlock()
	ctx := context.Background()
	for range 2 {
		nodes, err := walkDir(t, tree, "sessions/"+sample.SessionID+"/assets").ReadDir(ctx)
		want := []string{sample.SessionID, sample.FailedName, sample.SortedName}
		if got := names(nodes); err != nil || !slices.Equal(got, want) {
			t.Errorf("assets/ = %q, %v; want %q", got, err, want)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for an asset left out of two listings, want 1:\n%s", n, logs)
	}
	for _, want := range []string{odd.ID, "/assets/" + odd.ID, "v2"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not name %s:\n%s", want, logs)
		}
	}
	nodes, err := walkDir(t, tree, "assets/"+odd.ID).ReadDir(ctx)
	if err != nil || len(nodes) == 0 {
		t.Errorf("assets/%s = %q, %v; want the asset's files", odd.ID, names(nodes), err)
	}
}
