package fs

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/sample"
	"github.com/aind/aindfs/store/s3test"
)

// rawBucket holds the sample session's raw folder in the test S3 layout.
const rawBucket = "aind-private-data-prod-o5171v"

// bigFile puts a file of n random bytes in the sample session's raw folder
// and returns its bytes and its key.
func bigFile(srv *s3test.Server, name string, n int) ([]byte, string) {
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	key := sample.SessionID + "/" + name
	srv.PutObject(rawBucket, key, data)
	return data, key
}

// mountBigFile starts o with a file of n random bytes named name in the
// sample session's raw folder, and returns the rig, the file's bytes, its
// key and its path through the mount.
func mountBigFile(t *testing.T, o online, name string, n int) (rig onlineRig, data []byte, key, path string) {
	o.prepare = func(srv *s3test.Server) { data, key = bigFile(srv, name, n) }
	rig = o.start(t)
	return rig, data, key, filepath.Join(rig.m.Dir, "sessions", sample.SessionID, "raw", name)
}

// waitFor polls cond until it holds or a generous limit passes: a guard
// against hanging, not a measure of speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after 60 s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMountS3OutageIsEIOAndRecovers: a file whose GETs keep failing is EIO
// for the reader (after the retries give up), and once S3 answers again the
// same mount reads it byte for byte.
func TestMountS3OutageIsEIOAndRecovers(t *testing.T) {
	rig, data, key, path := mountBigFile(t, online{}, "outage.bin", 3<<20)
	m, srv := rig.m, rig.srv
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	srv.Inject(s3test.Fault{Kind: s3test.Status, Status: 503, Op: "GetObject", Key: key, Times: -1})
	done := make(chan error, 1)
	go func() {
		_, err := os.ReadFile(path)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("read during a persistent outage = %v, want EIO", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("read during a persistent outage hung")
	}
	if srv.Count("GetObject") < 2 {
		t.Errorf("only %d GETs: the failure was not retried", srv.Count("GetObject"))
	}

	srv.ClearFaults()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after the outage: %d bytes, %v; want the %d stored bytes", len(got), err, len(data))
	}
	// The rest of the mount was never affected.
	if _, err := os.ReadFile(filepath.Join(m.Dir, "sessions", sample.SessionID, "metadata", "subject.json")); err != nil {
		t.Errorf("another file after the outage: %v", err)
	}
}

// TestMountChangedObjectIsEIO: an object replaced while a handle reads it
// makes that handle fail, never mixing old and new bytes.
func TestMountChangedObjectIsEIO(t *testing.T) {
	rig, data, key, path := mountBigFile(t, online{}, "changing.bin", 32<<20)
	srv := rig.srv
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	if _, err := f.ReadAt(head, 0); err != nil || !bytes.Equal(head, data[:len(head)]) {
		t.Fatalf("first read: %v", err)
	}
	replacement := bytes.Repeat([]byte{0xAB}, len(data))
	srv.PutObject(rawBucket, key, replacement)

	// Far from what was read and read ahead: these bytes must come from the
	// version the handle opened, or not at all.
	tail := make([]byte, 64<<10)
	off := int64(len(data) - len(tail))
	_, err = f.ReadAt(tail, off)
	switch {
	case err == nil && bytes.Equal(tail, data[off:]):
		t.Log("the tail was read ahead before the change: old bytes, consistent")
	case err == nil:
		t.Fatalf("read after the object changed returned other bytes (first %#x), want EIO", tail[0])
	case !errors.Is(err, syscall.EIO):
		t.Fatalf("read after the object changed = %v, want EIO", err)
	}
}

// TestInterruptedReadCancelsGets: killing a reader in the middle of a slow
// file stops its S3 requests instead of letting them run on.
func TestInterruptedReadCancelsGets(t *testing.T) {
	rig, _, _, path := mountBigFile(t, online{s3: s3test.Options{BytesPerSecond: 1 << 20}}, "slow.bin", 64<<20)
	srv := rig.srv
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	cat := exec.Command("cat", path)
	if err := cat.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reader's first GET", func() bool { return srv.Active() > 0 })
	if err := cat.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cat.Wait()
	// At 1 MB/s the file takes a minute to send; cancelled GETs end at once.
	waitFor(t, "the GETs of the killed reader to stop", func() bool { return srv.Active() == 0 })
	t.Logf("%d GETs, %d bytes sent", srv.Count("GetObject"), srv.BytesSent("GetObject"))
	if sent := srv.BytesSent("GetObject"); sent >= 32<<20 {
		t.Errorf("%d bytes were sent for a reader killed early", sent)
	}
}
