package fs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/codeocean/fake"
	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/resolve"
	"github.com/aind/aindfs/store"
	"github.com/aind/aindfs/store/s3test"
)

// online is the shape of a mount over the fake Code Ocean and the
// in-process S3 server holding the sample, both over real HTTP, with no
// local data. Zero fields take their defaults.
type online struct {
	s3      s3test.Options // the S3 server's shape
	mount   MountOptions
	store   store.Options                             // its S3 backend is the server's
	wrap    func(http.RoundTripper) http.RoundTripper // wraps the store's S3 transport
	prepare func(*s3test.Server)                      // runs before anything is mounted
	records resolve.Records                           // DocDB; nil: off
	tree    Config                                    // its Resolver, Objects and Logger are the rig's
}

// onlineRig is a mounted online: the mount, its servers and its store.
type onlineRig struct {
	m   *Mount
	co  *fake.Server
	srv *s3test.Server
	st  *store.Store
}

// start mounts o for the length of the test.
func (o online) start(t *testing.T) onlineRig {
	t.Helper()
	sample.RequireFUSE(t)
	const token = "cop_fs-online-test"
	co, err := sample.CodeOcean(token)
	if err != nil {
		t.Fatal(err)
	}
	client, err := codeocean.New(codeocean.Config{Domain: co.Start(t), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	srv := s3test.NewServer(t, o.s3)
	if _, err := sample.LoadS3(srv); err != nil {
		t.Fatal(err)
	}
	if o.prepare != nil {
		o.prepare(srv)
	}
	s3opts := srv.S3Options()
	if o.wrap != nil {
		s3opts.HTTPClient = &http.Client{Transport: o.wrap(s3opts.HTTPClient.(*http.Client).Transport)}
	}
	backend, err := store.NewS3(context.Background(), s3opts)
	if err != nil {
		t.Fatal(err)
	}
	o.store.S3 = backend
	st := store.New(o.store)
	t.Cleanup(func() { st.Close() })
	logs := &logtest.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	r := resolve.New(resolve.Config{Catalog: client, Records: o.records, Objects: st, Logger: logtest.Logger(logs)})
	o.tree.Resolver, o.tree.Objects, o.tree.Logger = r, StoreObjects(st), logtest.Logger(logs)
	tree := New(o.tree)
	return onlineRig{m: mountTreeWith(t, tree, o.mount), co: co, srv: srv, st: st}
}

// sameTree checks that folder mnt of the mount holds what folder src holds
// on disk, recursively: the same names, folders 0555, files 0444 of the
// same sizes and bytes. It returns the number of files compared.
func sameTree(t *testing.T, mnt, src string) int {
	t.Helper()
	files := 0
	err := filepath.WalkDir(src, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		mp := filepath.Join(mnt, rel)
		fi, err := os.Lstat(mp)
		if err != nil {
			t.Errorf("stat %s: %v", mp, err)
			return nil
		}
		if de.IsDir() {
			if fi.Mode() != iofs.ModeDir|0o555 {
				t.Errorf("%s: mode %v, want dr-xr-xr-x", mp, fi.Mode())
			}
			if got, want := dirNames(t, mp), sourceNames(t, p, nil); !slices.Equal(got, want) {
				t.Errorf("ls %s = %q, want %q", mp, got, want)
			}
			return nil
		}
		files++
		want, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if fi.Mode() != 0o444 || fi.Size() != int64(len(want)) {
			t.Errorf("%s: %v %d bytes, want -r--r--r-- %d", mp, fi.Mode(), fi.Size(), len(want))
		}
		got, err := os.ReadFile(mp)
		if err != nil {
			t.Errorf("read %s: %v", mp, err)
		} else if sha(got) != sha(want) {
			t.Errorf("%s: sha256 %s, source's %s", mp, sha(got), sha(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestOnlineMount resolves sessions through the catalog and reads them from
// S3: the sample session (raw in one bucket, sorted assets located by ID in
// another) and an old underscore-named session that only the subject search
// finds. A second pass asks neither server anything, also after the
// kernel has let go of every folder it looked up.
func TestOnlineMount(t *testing.T) {
	rig := online{}.start(t)
	m, co, srv := rig.m, rig.co, rig.srv
	testdata := sample.Dir()
	old := filepath.Join(m.Dir, "sessions", sample.OldSessionID)

	// Another name of the old session: a link to its canonical ID.
	alias := filepath.Join(m.Dir, "sessions", sample.OldRawName+"_to_dlc_side")
	if target, err := os.Readlink(alias); err != nil || target != sample.OldSessionID {
		t.Errorf("readlink %s = %q, %v; want %s", alias, target, err, sample.OldSessionID)
	}
	pass := func() {
		checks := []struct{ mnt, src string }{
			{filepath.Join(old, "raw"), filepath.Join(testdata, "s3", "aind-ephys-data", sample.OldRawName)},
			{filepath.Join(m.Dir, "sessions", sample.SessionID, "raw"), filepath.Join(sample.DataDir(), sample.SessionID)},
			{filepath.Join(m.Dir, "sessions", sample.SessionID, "sorted"), filepath.Join(sample.DataDir(), sample.SortedName)},
			{filepath.Join(m.Dir, "assets", sample.FailedAssetID), filepath.Join(sample.DataDir(), sample.FailedName)},
		}
		for _, c := range checks {
			if sameTree(t, c.mnt, c.src) == 0 {
				t.Errorf("%s: no file compared", c.mnt)
			}
		}
		if got := dirNames(t, filepath.Join(m.Dir, "sessions", sample.SessionID)); !slices.Equal(got, []string{"assets", "clipped", "compressed", "metadata", "raw", "session.json", "sorted", "sorters"}) {
			t.Errorf("ls sessions/%s = %q", sample.SessionID, got)
		}
	}
	pass()
	if t.Failed() {
		return
	}
	if srv.Count("") == 0 || len(co.Requests()) == 0 {
		t.Fatalf("first pass made %d S3 and %d Code Ocean requests: the servers were not used", srv.Count(""), len(co.Requests()))
	}
	s3Before, coBefore := srv.Count(""), len(co.Requests())
	t.Logf("first pass: %d S3, %d Code Ocean requests; searches %q", s3Before, coBefore, co.Searches())
	letGo(t, m)
	pass()
	if again := srv.Requests()[s3Before:]; len(again) != 0 {
		var asked []string
		for _, r := range again {
			asked = append(asked, strings.TrimSpace(fmt.Sprintf("%s %s/%s%s %s", r.Op, r.Bucket, r.Key, r.Prefix, r.Range)))
		}
		t.Errorf("second pass made %d S3 requests, want none: %q", len(again), asked)
	}
	if n := len(co.Requests()) - coBefore; n != 0 {
		t.Errorf("second pass made %d Code Ocean requests, want none", n)
	}
	if got := dirNames(t, filepath.Join(m.Dir, "sessions")); !slices.Contains(got, sample.OldSessionID) || !slices.Contains(got, sample.SessionID) {
		t.Errorf("ls sessions = %q: the resolved sessions are missing", got)
	}
}

// letGo makes the kernel let go of the sessions and assets it has looked
// up, and of everything under them, as it does under memory pressure: it
// forgets their inodes, so that the next look at them is a new lookup.
func letGo(t *testing.T, m *Mount) {
	t.Helper()
	root := m.root.EmbeddedInode()
	for _, top := range []string{sessionsName, assetsName} {
		in := root.GetChild(top)
		if in == nil {
			continue
		}
		for name := range in.Children() {
			if errno := in.NotifyEntry(name); errno != 0 {
				t.Fatalf("invalidating %s/%s: %v", top, name, errno)
			}
		}
		waitFor(t, "the kernel to forget what is under "+top, func() bool { return len(in.Children()) == 0 })
	}
}

// TestOnlineSortersAndEcephysLinks follows sessions/<id>/sorters/<sorter>
// and the clipped and compressed links through the kernel: each is a
// relative link, and reading through it gives the files of the asset or
// folder it names. The failed kilosort4 sorting has no link; a session
// whose raw upload has only ecephys_compressed (at the top) gets no clipped.
func TestOnlineSortersAndEcephysLinks(t *testing.T) {
	rig := online{}.start(t)
	sess := filepath.Join(rig.m.Dir, "sessions", sample.SessionID)
	links := []struct{ link, target, src string }{
		{"sorters/kilosort2_5", "../assets/" + sample.SortedName, filepath.Join(sample.DataDir(), sample.SortedName)},
		{"clipped", "raw/ecephys/ecephys_clipped", filepath.Join(sample.DataDir(), sample.SessionID, "ecephys", "ecephys_clipped")},
		{"compressed", "raw/ecephys/ecephys_compressed", filepath.Join(sample.DataDir(), sample.SessionID, "ecephys", "ecephys_compressed")},
	}
	for _, l := range links {
		p := filepath.Join(sess, l.link)
		if target, err := os.Readlink(p); err != nil || target != l.target {
			t.Errorf("readlink %s = %q, %v; want %s", l.link, target, err, l.target)
			continue
		}
		// The kernel follows the link for a listing; the tree under it is
		// compared where the link leads.
		if got, want := dirNames(t, p), sourceNames(t, l.src, nil); !slices.Equal(got, want) {
			t.Errorf("ls %s = %q, want %q", l.link, got, want)
		}
		resolved, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Errorf("following %s: %v", l.link, err)
		} else if sameTree(t, resolved, l.src) == 0 {
			t.Errorf("%s: no file compared", l.link)
		}
	}
	if got := dirNames(t, filepath.Join(sess, "sorters")); !slices.Equal(got, []string{"kilosort2_5"}) {
		t.Errorf("ls sorters = %q, want only kilosort2_5 (kilosort4 failed)", got)
	}
	old := filepath.Join(rig.m.Dir, "sessions", sample.BucketOnlyID)
	if target, err := os.Readlink(filepath.Join(old, "compressed")); err != nil || target != "raw/ecephys_compressed" {
		t.Errorf("readlink compressed of %s = %q, %v; want raw/ecephys_compressed", sample.BucketOnlyID, target, err)
	}
	for _, absent := range []string{"clipped", "sorters"} {
		if _, err := os.Lstat(filepath.Join(old, absent)); !errors.Is(err, iofs.ErrNotExist) {
			t.Errorf("lstat %s of %s: %v, want it absent", absent, sample.BucketOnlyID, err)
		}
	}
}
