package fs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aind/aindfs/docdb"
	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/resolve"
	"github.com/aind/aindfs/store"
)

// localObjects is Objects over local folders, counting what it is asked.
// With block set, reads wait until their context ends (a slow network).
type localObjects struct {
	lists, opens, reads atomic.Int64
	block               bool
	readStarted         chan struct{} // receives once per blocked read
}

func (o *localObjects) List(ctx context.Context, dir store.URI) ([]store.ObjectInfo, error) {
	o.lists.Add(1)
	if dir.Scheme != "file" {
		return nil, fmt.Errorf("list %s: only local folders here", dir)
	}
	des, err := os.ReadDir(dir.Key)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, fmt.Errorf("list %s: %w", dir, store.ErrNotExist)
		}
		return nil, err
	}
	var out []store.ObjectInfo
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			return nil, err
		}
		info := store.ObjectInfo{Name: de.Name(), Dir: fi.IsDir()}
		if !info.Dir {
			info.Size, info.ModTime = fi.Size(), fi.ModTime()
			info.ETag = fmt.Sprintf("%d-%d", fi.Size(), fi.ModTime().UnixNano())
		}
		out = append(out, info)
	}
	return out, nil
}

func (o *localObjects) Open(obj store.URI, info store.ObjectInfo) Reader {
	o.opens.Add(1)
	return &localReader{o: o, path: obj.Key}
}

type localReader struct {
	o    *localObjects
	path string
}

func (r *localReader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	r.o.reads.Add(1)
	if r.o.block {
		select {
		case r.o.readStarted <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return 0, ctx.Err()
	}
	f, err := os.Open(r.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.ReadAt(p, off)
}

func (r *localReader) Close() error { return nil }

// fakeResolver answers from a table of sessions, counting calls.
type fakeResolver struct {
	fail error // when set, every call that could reach the network fails with it

	mu       sync.Mutex
	calls    map[string]int
	sessions map[string]*fakeSession
}

type fakeSession struct {
	s      resolve.Session
	assets []resolve.Asset
	raw    *resolve.Asset
	sorted *resolve.Asset
	record *docdb.Record
	// sorters and ecephys are what Sorters and EcephysFolders answer.
	sorters []resolve.SortedAsset
	ecephys []resolve.RawFolder
}

func newFakeResolver() *fakeResolver {
	return &fakeResolver{calls: map[string]int{}, sessions: map[string]*fakeSession{}}
}

func (r *fakeResolver) call(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[name]++
	return r.fail
}

// setFail makes every later call fail with err (nil: succeed again).
func (r *fakeResolver) setFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

func (r *fakeResolver) totalCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

func (r *fakeResolver) session(s resolve.Session) (*fakeSession, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fs, ok := r.sessions[s.ID()]
	if !ok {
		return nil, fmt.Errorf("session %s: searched the catalog by name and subject, found nothing: %w", s, iofs.ErrNotExist)
	}
	return fs, nil
}

// addAsset registers the local folder dir/name as an asset of its session.
func (r *fakeResolver) addAsset(t testing.TB, dir, name, id string, created time.Time) resolve.Asset {
	t.Helper()
	s := resolve.MustParseSession(name)
	a := resolve.Asset{ID: id, Name: name, Created: created, Type: "dataset", Local: store.Local(filepath.Join(dir, name))}
	r.mu.Lock()
	defer r.mu.Unlock()
	fs := r.sessions[s.ID()]
	if fs == nil {
		fs = &fakeSession{s: s}
		r.sessions[s.ID()] = fs
	}
	fs.assets = append(fs.assets, a)
	slices.SortFunc(fs.assets, func(a, b resolve.Asset) int { return a.Created.Compare(b.Created) })
	return a
}

func (r *fakeResolver) setRaw(a resolve.Asset) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions[resolve.MustParseSession(a.Name).ID()].raw = &a
}

func (r *fakeResolver) setSorted(a resolve.Asset) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions[resolve.MustParseSession(a.Name).ID()].sorted = &a
}

func (r *fakeResolver) Assets(ctx context.Context, s resolve.Session) ([]resolve.Asset, error) {
	if err := r.call("Assets"); err != nil {
		return nil, err
	}
	fs, err := r.session(s)
	if err != nil {
		return nil, err
	}
	return slices.Clone(fs.assets), nil
}

func (r *fakeResolver) RawAsset(ctx context.Context, s resolve.Session) (resolve.Asset, error) {
	if err := r.call("RawAsset"); err != nil {
		return resolve.Asset{}, err
	}
	fs, err := r.session(s)
	if err != nil {
		return resolve.Asset{}, err
	}
	if fs.raw == nil {
		return resolve.Asset{}, fmt.Errorf("no raw asset of %s: %w", s, iofs.ErrNotExist)
	}
	return *fs.raw, nil
}

func (r *fakeResolver) RawDataDir(ctx context.Context, s resolve.Session) (store.URI, error) {
	a, err := r.RawAsset(ctx, s)
	if err != nil {
		return store.URI{}, err
	}
	return a.Local, nil
}

func (r *fakeResolver) Location(ctx context.Context, a resolve.Asset) (store.URI, error) {
	if err := r.call("Location"); err != nil {
		return store.URI{}, err
	}
	return a.Local, nil
}

func (r *fakeResolver) SortedAsset(ctx context.Context, s resolve.Session) (resolve.Asset, bool, error) {
	if err := r.call("SortedAsset"); err != nil {
		return resolve.Asset{}, false, err
	}
	fs, err := r.session(s)
	if err != nil {
		return resolve.Asset{}, false, err
	}
	if fs.sorted == nil {
		return resolve.Asset{}, false, nil
	}
	return *fs.sorted, true, nil
}

func (r *fakeResolver) Sorters(ctx context.Context, s resolve.Session) ([]resolve.SortedAsset, error) {
	if err := r.call("Sorters"); err != nil {
		return nil, err
	}
	fs, err := r.session(s)
	if err != nil {
		return nil, err
	}
	return fs.sorters, nil
}

func (r *fakeResolver) EcephysFolders(ctx context.Context, s resolve.Session) ([]resolve.RawFolder, error) {
	if err := r.call("EcephysFolders"); err != nil {
		return nil, err
	}
	fs, err := r.session(s)
	if err != nil {
		return nil, err
	}
	return fs.ecephys, nil
}

func (r *fakeResolver) Record(ctx context.Context, s resolve.Session) (docdb.Record, bool, error) {
	if err := r.call("Record"); err != nil {
		return docdb.Record{}, false, err
	}
	fs, err := r.session(s)
	if err != nil || fs.record == nil {
		return docdb.Record{}, false, nil
	}
	return *fs.record, true, nil
}

// setRecord gives the session of a (added before) a DocDB record.
func (r *fakeResolver) setRecord(s resolve.Session, raw string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rec docdb.Record
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		panic(err)
	}
	r.sessions[s.ID()].record = &rec
}

func (r *fakeResolver) MetadataFiles(ctx context.Context, s resolve.Session) ([]store.ObjectInfo, store.URI, error) {
	dir, err := r.RawDataDir(ctx, s)
	if err != nil {
		return nil, store.URI{}, err
	}
	list, err := (&localObjects{}).List(ctx, dir) // the resolver's own listing, not the tree's
	if err != nil {
		return nil, store.URI{}, err
	}
	var out []store.ObjectInfo
	for _, o := range list {
		if !o.Dir && strings.HasSuffix(o.Name, ".json") {
			out = append(out, o)
		}
	}
	return out, dir, nil
}

func (r *fakeResolver) Info(ctx context.Context, s resolve.Session) (resolve.Info, error) {
	if err := r.call("Info"); err != nil {
		return resolve.Info{}, err
	}
	fs, err := r.session(s)
	if err != nil {
		return resolve.Info{}, err
	}
	info := resolve.Info{Identity: s.Identity(), Modalities: []string{}}
	if fs.raw != nil {
		ref := fs.raw.Ref()
		info.RawDataAsset = &ref
		info.RawDataDir = fs.raw.Local.String()
	}
	if fs.sorted != nil {
		ref := fs.sorted.Ref()
		info.SortedDataAsset = &ref
	}
	for _, a := range fs.assets {
		info.DataAssets = append(info.DataAssets, a.Ref())
	}
	return info, nil
}

func (r *fakeResolver) SubjectSessions(ctx context.Context, subj resolve.Subject) ([]resolve.Session, error) {
	if err := r.call("SubjectSessions"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []resolve.Session
	for _, fs := range r.sessions {
		if fs.s.Subject() == subj {
			out = append(out, fs.s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("subject %s: no asset found: %w", subj, iofs.ErrNotExist)
	}
	slices.SortFunc(out, resolve.Session.Compare)
	return out, nil
}

func (r *fakeResolver) AssetByID(ctx context.Context, id string) (resolve.Asset, error) {
	if err := r.call("AssetByID"); err != nil {
		return resolve.Asset{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, fs := range r.sessions {
		for _, a := range fs.assets {
			if a.ID == id {
				return a, nil
			}
		}
	}
	return resolve.Asset{}, fmt.Errorf("asset %s: %w", id, iofs.ErrNotExist)
}

func (r *fakeResolver) KnownSessions(ctx context.Context) []resolve.Session {
	r.call("KnownSessions")
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []resolve.Session
	for _, fs := range r.sessions {
		out = append(out, fs.s)
	}
	slices.SortFunc(out, resolve.Session.Compare)
	return out
}

// sampleResolver answers for the sample as the catalog would: the raw
// ecephys session with a good and a newer failed sorting, and a behavior
// session with raw data only.
func sampleResolver(t testing.TB) *fakeResolver {
	return sampleResolverAt(t, sample.DataDir())
}

// sampleResolverAt is sampleResolver with the sample's assets in dir.
func sampleResolverAt(t testing.TB, dir string) *fakeResolver {
	r := newFakeResolver()
	day := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	r.setRaw(r.addAsset(t, dir, sample.SessionID, sample.SessionAssetID, day("2023-12-13 20:00")))
	r.setSorted(r.addAsset(t, dir, sample.SortedName, sample.SortedAssetID, day("2024-03-01 18:00")))
	r.addAsset(t, dir, sample.FailedName, sample.FailedAssetID, day("2024-04-02 11:00"))
	r.setRaw(r.addAsset(t, dir, sample.SecondID, sample.SecondAssetID, day("2024-02-05 12:00")))
	return r
}

// sampleFolders are folders of the tree over the sample, each with the
// folder of testdata/data it shows.
var sampleFolders = []struct{ path, source string }{
	{"sessions/" + sample.SessionID + "/raw", sample.SessionID},
	{"sessions/" + sample.SessionID + "/sorted", sample.SortedName},
	{"sessions/" + sample.SessionID + "/assets/" + sample.FailedName, sample.FailedName},
	{"sessions/" + sample.SecondID + "/raw", sample.SecondID},
	{"assets/" + sample.SessionAssetID, sample.SessionID},
	{"assets/" + sample.SecondAssetID, sample.SecondID},
}

// sampleTree is the tree over the sample, with its fakes and its log.
func sampleTree(t testing.TB) (*Tree, *fakeResolver, *localObjects, *logtest.Buffer) {
	objects := &localObjects{}
	r := sampleResolver(t)
	logs := &logtest.Buffer{}
	tree := New(Config{Resolver: r, Objects: objects, Logger: logtest.Logger(logs)})
	return tree, r, objects, logs
}
