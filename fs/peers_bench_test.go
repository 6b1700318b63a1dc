package fs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aind/aindfs/store/s3test"
)

// benchFS is a filesystem over the benchmark's S3 server that a
// benchmark reads through: aindfs with some mount flags, or a peer.
type benchFS struct {
	name   string
	metric string // added to the names of its metrics
	// mount mounts it afresh and returns the folder of the bench
	// session's ecephys files in it.
	mount func(b *testing.B) (*mountProcess, string)
}

// aindfsFS is `aindfs mount` with flags.
func aindfsFS(bin, url string, flags ...string) benchFS {
	return benchFS{mountName(flags), strings.Join(flags, ""), func(b *testing.B) (*mountProcess, string) {
		m := startMount(b, bin, url, benchCache, flags...)
		return m, filepath.Join(m.dir, "sessions", benchSession, "raw", "ecephys")
	}}
}

func mountName(flags []string) string {
	if len(flags) == 0 {
		return "aindfs (default)"
	}
	return "aindfs " + strings.Join(flags, " ")
}

// peerMounts are the other FUSE filesystems over S3 that aindfs is
// compared with, by the name of their program (and Debian package).
var peerMounts = map[string]func(b *testing.B, url string) *mountProcess{
	"s3fs":   mountS3fs,
	"rclone": mountRclone,
}

// benchPeers returns the peers AINDFS_BENCH_PEERS names ("s3fs,rclone"),
// each mounting the bucket of the S3 server at url. A peer whose program
// is missing fails the benchmark: a comparison asked for is not skipped.
func benchPeers(b *testing.B, url string) []benchFS {
	var peers []benchFS
	for _, name := range strings.Split(os.Getenv("AINDFS_BENCH_PEERS"), ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		mount, ok := peerMounts[name]
		if !ok {
			b.Fatalf("AINDFS_BENCH_PEERS: no peer %q (s3fs, rclone)", name)
		}
		if _, err := exec.LookPath(name); err != nil {
			b.Fatalf("AINDFS_BENCH_PEERS names %s, but it is not installed (apt-get install %s, as make bench does): %v", name, name, err)
		}
		peers = append(peers, benchFS{name, "-" + name, func(b *testing.B) (*mountProcess, string) {
			m := mount(b, url)
			return m, filepath.Join(m.dir, benchSession, "ecephys")
		}})
	}
	return peers
}

// mountS3fs mounts the bucket with s3fs-fuse, path-style over plain
// http, read-only, with enable_noobj_cache (its manual's advice for
// speed). The rest are its defaults, as most users leave them: no disk
// cache (use_cache), 5 requests at a time (parallel_count) of 10 MB
// (multipart_size), the kernel's readahead.
func mountS3fs(b *testing.B, url string) *mountProcess {
	b.Helper()
	home, dir := b.TempDir(), b.TempDir()
	passwd := filepath.Join(home, "passwd-s3fs")
	if err := os.WriteFile(passwd, []byte("bench:bench-secret\n"), 0o600); err != nil { // s3fs refuses one others can read
		b.Fatal(err)
	}
	cmd := exec.Command("s3fs", benchBucket, dir, "-f", "-o",
		"url="+url+",use_path_request_style,endpoint=us-west-2,passwd_file="+passwd+",ro,enable_noobj_cache")
	cmd.Dir = home
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	return startProcess(b, "s3fs", cmd, dir, filepath.Join(dir, benchSession), true)
}

// mountRclone mounts the bucket with rclone mount, its S3 backend
// configured from the environment (provider Other, path-style), read
// only, with --no-modtime (its manual: S3 "benefits hugely", each
// modification time being a request otherwise). The rest are its
// defaults: --vfs-cache-mode off, --buffer-size 16M read ahead of each
// open file, --vfs-read-chunk-size 128M doubling without limit,
// --max-read-ahead 128Ki for the kernel.
func mountRclone(b *testing.B, url string) *mountProcess {
	b.Helper()
	home, dir := b.TempDir(), b.TempDir()
	cmd := exec.Command("rclone", "mount", "bench:"+benchBucket, dir, "--read-only", "--vfs-cache-mode", "off", "--no-modtime")
	cmd.Dir = home
	// Only these: the machine's AWS_CA_BUNDLE would make rclone's S3
	// client fail to start.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "RCLONE_CONFIG=" + os.DevNull,
		"RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Other",
		"RCLONE_CONFIG_BENCH_ENDPOINT=" + url, "RCLONE_CONFIG_BENCH_REGION=us-west-2",
		"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true",
		"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=bench", "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=bench-secret",
	}
	return startProcess(b, "rclone mount", cmd, dir, filepath.Join(dir, benchSession), true)
}

// getCounter counts the GETs the S3 server answers, and their bytes,
// from when it is made until it is called (each time waiting for the
// server to be idle), so that a leg shows it really read from S3.
func getCounter(srv *s3test.Server) func() (gets int, bytes int64) {
	srv.WaitIdle()
	gets0, bytes0 := srv.Count("GetObject"), srv.BytesSent("GetObject")
	return func() (int, int64) {
		srv.WaitIdle()
		return srv.Count("GetObject") - gets0, srv.BytesSent("GetObject") - bytes0
	}
}
