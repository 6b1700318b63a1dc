# aindfs — build, test, run and measure.
GO        ?= go
BIN       := bin/aindfs
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
MOUNT     ?= mnt
SAMPLE    := testdata/data
# The other FUSE filesystems over S3 that make bench measures beside aindfs
# (Debian packages of the same names); empty leaves them out.
AINDFS_BENCH_PEERS ?= s3fs,rclone
comma     := ,

.PHONY: all build test run bench fmt vet fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/aindfs

# The suite: vet, then every test with the race detector. FUSE tests mount for
# real and need root (or fusermount3) and /dev/fuse.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

# Mount the bundled sample at ./mnt in the foreground; Ctrl-C unmounts. The
# sample is served from local disk, its DocDB records from a local file.
run: build
	@mkdir -p $(MOUNT)
	AINDFS_DOCDB_URL=file://$(abspath testdata/docdb/records.json) $(BIN) --log-level info mount --offline --data $(SAMPLE) $(MOUNT)

# Benchmarks against a local S3 server shaped like the real one (20 ms per
# request, 100 MB/s per response); results are ratios within one run. The
# store is measured on its own (./store) and through a real mount of the
# built binary (./fs, BenchmarkMount: needs root or fusermount3), and
# BenchmarkClients runs h5py, zarr and numpy (bench/clients.py, Debian's
# Python) through the mount against download-then-read. Both also read
# through the peers in AINDFS_BENCH_PEERS; what is missing is installed.
bench:
	@pkgs=; /usr/bin/python3 -c 'import h5py, zarr, numpy' 2>/dev/null || pkgs="python3-h5py python3-zarr python3-numpy"; \
	for p in $(subst $(comma), ,$(AINDFS_BENCH_PEERS)); do command -v $$p >/dev/null || pkgs="$$pkgs $$p"; done; \
	[ -z "$$pkgs" ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs; }
	AINDFS_BENCH_PEERS='$(AINDFS_BENCH_PEERS)' $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseSession -fuzztime 30s ./resolve

fmt:
	gofmt -w $(shell git ls-files '*.go')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
