package fs

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

// TestMountFetchesFolderAhead: a program that opens a folder's files in
// order (0, 1, 2, ... 10, as zarr opens its chunks) finds the next ones
// fetched before it opens them: the open makes no request of its own.
// What is fetched ahead never goes past the window of bytes after the
// file opened last, and files opened out of order fetch nothing ahead.
func TestMountFetchesFolderAhead(t *testing.T) {
	const (
		files  = 24
		size   = 256 << 10
		window = 1 << 20 // four files
	)
	data := map[string][]byte{}
	rig := online{tree: Config{FolderAhead: window}, prepare: func(srv *s3test.Server) {
		for i := range files {
			name := "chunks/" + strconv.Itoa(i)
			data[strconv.Itoa(i)], _ = bigFile(srv, name, size)
			data["x"+strconv.Itoa(i)], _ = bigFile(srv, "shuffled/"+strconv.Itoa(i), size)
		}
	}}.start(t)
	srv := rig.srv
	raw := filepath.Join(rig.m.Dir, "sessions", sample.SessionID, "raw")

	// requested returns the files of folder GET so far, by number.
	requested := func(folder string) map[int]int {
		got := map[int]int{}
		for _, q := range srv.Requests() {
			if name, ok := strings.CutPrefix(q.Key, sample.SessionID+"/"+folder+"/"); ok && q.Op == "GetObject" {
				i, _ := strconv.Atoi(name)
				got[i]++
			}
		}
		return got
	}
	read := func(folder string, i int, want []byte) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(raw, folder, strconv.Itoa(i)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s/%d: %d bytes (%v) that differ from the %d stored", folder, i, len(got), err, len(want))
		}
	}
	for _, folder := range []string{"chunks", "shuffled"} {
		if _, err := os.ReadDir(filepath.Join(raw, folder)); err != nil {
			t.Fatal(err)
		}
	}

	// Out of order: nothing but the files opened is fetched.
	for _, i := range []int{7, 3, 12, 5} {
		read("shuffled", i, data["x"+strconv.Itoa(i)])
	}
	srv.WaitIdle()
	for i, n := range requested("shuffled") {
		if i != 7 && i != 3 && i != 12 && i != 5 {
			t.Errorf("shuffled/%d fetched (%d GETs) though files were opened out of order", i, n)
		}
	}

	// In order: from the second file on, the next ones are on their way
	// before they are opened.
	read("chunks", 0, data["0"])
	for i := 1; i < files; i++ {
		before := requested("chunks")[i]
		read("chunks", i, data[strconv.Itoa(i)])
		if i >= 2 && requested("chunks")[i] != before {
			t.Errorf("chunks/%d: its open made %d GETs, want 0 (fetched ahead after chunks/%d)", i, requested("chunks")[i]-before, i-1)
		}
		last := min(i+window/size, files-1)
		waitFor(t, "the files after chunks/"+strconv.Itoa(i)+" to be fetched", func() bool {
			got := requested("chunks")
			for j := i + 1; j <= last; j++ {
				if got[j] == 0 {
					return false
				}
			}
			return srv.Active() == 0
		})
		for j := range requested("chunks") {
			if j > last {
				t.Fatalf("chunks/%d fetched after chunks/%d was opened: past the window of %d bytes", j, i, window)
			}
		}
	}
}

// TestUnmountEndsFetchesAhead: files being fetched ahead when the mount
// goes away are given up at once, not retried until S3's retry budget
// runs out: the GET of a file whose server never answers is sent once.
func TestUnmountEndsFetchesAhead(t *testing.T) {
	const size = 256 << 10
	data := map[int][]byte{}
	rig := online{tree: Config{FolderAhead: 1 << 20}, prepare: func(srv *s3test.Server) {
		for i := range 6 {
			data[i], _ = bigFile(srv, "chunks/"+strconv.Itoa(i), size)
		}
	}}.start(t)
	srv := rig.srv
	silent := sample.SessionID + "/chunks/2"
	srv.Inject(s3test.Fault{Kind: s3test.Silent, Op: "GetObject", Key: silent, Times: -1})
	folder := filepath.Join(rig.m.Dir, "sessions", sample.SessionID, "raw", "chunks")
	for i := range 2 { // two in order: the next ones are fetched ahead
		got, err := os.ReadFile(filepath.Join(folder, strconv.Itoa(i)))
		if err != nil || !bytes.Equal(got, data[i]) {
			t.Fatalf("chunks/%d: %d bytes (%v) that differ from the %d stored", i, len(got), err, len(data[i]))
		}
	}
	tree := rig.m.tree
	waitFor(t, "chunks/2 to be fetched ahead", func() bool { return tree.ahead.inflight.Load() > 0 && srv.Active() > 0 })
	if err := rig.m.Unmount(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fetches ahead to end", func() bool { return tree.ahead.inflight.Load() == 0 })
	gets := 0
	for _, q := range srv.Requests() {
		if q.Op == "GetObject" && q.Key == silent {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("%d GETs of %s, want 1: the fetch ahead went on after the unmount", gets, silent)
	}
}
