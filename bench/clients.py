#!/usr/bin/python3
"""Workloads of the programs scientists point at session paths, for the
real-client benchmark (fs/clients_bench_test.go).

    clients.py generate --seed N --out DIR
        writes DIR/nwb.h5 (NWB-like HDF5), DIR/traces.zarr (zarr v2, zlib)
        and DIR/continuous.dat (raw int16 for numpy.memmap).
    clients.py run WORKLOAD DIR
        runs one workload on the files in DIR and prints one JSON line:
        {"seconds": time of the workload after the imports,
         "digest": what it read, to compare between places}.

Needs Debian's python3-h5py, python3-zarr and python3-numpy.
"""

import argparse
import json
import os
import sys
import time

import h5py
import numcodecs
import numpy as np
import zarr

RATE = 30_000  # samples a second, as Neuropixels record
CHANNELS = 384
H5_SECONDS = 12  # 384 channels x 2 bytes x 30 kHz x 12 s = 264 MiB
# 2 MiB chunks: more than HDF5's default chunk cache of 1 MiB, as in the
# NWB files the pipelines write, so a column is read an element at a time.
H5_CHUNK = (16_384, 64)
UNITS = 300
ZARR_SECONDS = 8
ZARR_CHUNK = (8_192, 192)  # 3 MiB before compression
DAT_SECONDS = 12
WINDOWS = 8  # time windows of one second
MEMMAP_WINDOWS = 48  # strided windows of 100 ms


def traces(rng, samples):
    """Noise of a few tens of microvolts with slow drifts: int16 that zlib
    shrinks by about half, as it does real recordings."""
    out = np.empty((samples, CHANNELS), dtype=np.int16)
    step = 65_536
    for start in range(0, samples, step):
        n = min(step, samples - start)
        block = rng.normal(0, 30, size=(n, CHANNELS))
        block += 200 * np.sin(np.arange(start, start + n)[:, None] / 3_000 + np.arange(CHANNELS))
        out[start:start + n] = block.astype(np.int16)
    return out


def generate(seed, out):
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)

    with h5py.File(os.path.join(out, "nwb.h5"), "w") as f:
        f.attrs["nwb_version"] = "2.6.0"
        f.attrs["namespace"] = "core"
        f.attrs["neurodata_type"] = "NWBFile"
        f.create_dataset("identifier", data="ecephys_123456_2024-01-01_00-00-00")
        f.create_dataset("session_description", data="bench session")
        general = f.create_group("general")
        general.attrs["experimenter"] = "bench"
        devices = general.create_group("devices")
        for i in range(8):
            d = devices.create_group(f"probe_{i}")
            d.attrs["description"] = f"Neuropixels 1.0 probe {i}"
            d.attrs["manufacturer"] = "IMEC"
            d.attrs["neurodata_type"] = "Device"
        electrodes = general.create_group("extracellular_ephys/electrodes")
        electrodes.attrs["colnames"] = np.array([b"x", b"y", b"z", b"group_name", b"location"])
        for name in ("x", "y", "z"):
            ds = electrodes.create_dataset(name, data=rng.uniform(0, 4000, CHANNELS))
            ds.attrs["description"] = f"{name} position in um"
            ds.attrs["neurodata_type"] = "VectorData"
        electrodes.create_dataset("group_name", data=np.array([f"probe_{c // 48}".encode() for c in range(CHANNELS)]))
        electrodes.create_dataset("location", data=np.array([b"CA1" if c % 2 else b"DG" for c in range(CHANNELS)]))
        electrodes.create_dataset("id", data=np.arange(CHANNELS))
        # Many small objects with attributes, as processing modules,
        # intervals and lab metadata make them.
        processing = f.create_group("processing")
        for m in range(20):
            module = processing.create_group(f"module_{m:02d}")
            module.attrs["description"] = f"processing module {m}"
            module.attrs["neurodata_type"] = "ProcessingModule"
            for k in range(10):
                ts = module.create_group(f"series_{k}")
                ts.attrs["neurodata_type"] = "TimeSeries"
                ts.attrs["comments"] = "no comments"
                ts.attrs["description"] = f"series {k} of module {m}"
                ds = ts.create_dataset("data", data=rng.normal(size=64).astype(np.float32))
                ds.attrs["unit"] = "a.u."
                ds.attrs["conversion"] = 1.0
                ts.create_dataset("timestamps", data=np.arange(64) / 10.0)

        series = f.create_group("acquisition/ElectricalSeries")
        series.attrs["neurodata_type"] = "ElectricalSeries"
        series.attrs["description"] = "raw voltage"
        data = series.create_dataset("data", shape=(H5_SECONDS * RATE, CHANNELS), dtype=np.int16, chunks=H5_CHUNK)
        data.attrs["conversion"] = 0.195e-6
        data.attrs["unit"] = "volts"
        step = 4 * H5_CHUNK[0]
        for start in range(0, data.shape[0], step):
            n = min(step, data.shape[0] - start)
            data[start:start + n] = traces(rng, n)
        start_time = series.create_dataset("starting_time", data=0.0)
        start_time.attrs["rate"] = float(RATE)

        units = f.create_group("units")
        units.attrs["neurodata_type"] = "Units"
        units.attrs["colnames"] = np.array([b"spike_times", b"quality"])
        counts = rng.integers(200, 4_000, UNITS)
        spikes = np.concatenate([np.sort(rng.uniform(0, H5_SECONDS, c)) for c in counts])
        # Chunked and compressed as the writers do, so every unit's read
        # goes through the chunk index.
        st = units.create_dataset("spike_times", data=spikes, chunks=(8_192,), compression="gzip")
        st.attrs["neurodata_type"] = "VectorData"
        units.create_dataset("spike_times_index", data=np.cumsum(counts))
        units.create_dataset("quality", data=np.array([b"good" if u % 3 else b"mua" for u in range(UNITS)]))
        units.create_dataset("id", data=np.arange(UNITS))

    z = zarr.open(os.path.join(out, "traces.zarr"), mode="w", shape=(ZARR_SECONDS * RATE, CHANNELS),
                  chunks=ZARR_CHUNK, dtype=np.int16, compressor=numcodecs.Zlib(level=1))
    step = ZARR_CHUNK[0] * 4
    for start in range(0, z.shape[0], step):
        n = min(step, z.shape[0] - start)
        z[start:start + n] = traces(rng, n)
    z.attrs["sampling_rate"] = RATE

    with open(os.path.join(out, "continuous.dat"), "wb") as f:
        step = 65_536
        for start in range(0, DAT_SECONDS * RATE, step):
            traces(rng, min(step, DAT_SECONDS * RATE - start)).tofile(f)


def digest(arrays):
    """A cheap fingerprint of what was read: the sum of its 16-bit words,
    each group of 4096 weighted by its place, so that a wrong or misplaced
    block changes it."""
    total = 0
    for a in arrays:
        w = np.ascontiguousarray(a).view(np.uint16).ravel()
        w = np.concatenate([w, np.zeros(-len(w) % 4096, np.uint16)]).reshape(-1, 4096)
        sums = w.sum(axis=1, dtype=np.uint64)
        total = (total * 1_000_003 + int((sums * np.arange(1, len(sums) + 1, dtype=np.uint64)).sum())) % (1 << 61)
    return str(total)


def windows(rng_seed, length, n, width):
    rng = np.random.default_rng(rng_seed)
    return sorted(int(s) for s in rng.integers(0, length - width, n))


def h5_walk(d):
    seen = []

    def visit(name, obj):
        seen.append(name)
        for k, v in obj.attrs.items():
            seen.append(f"{k}={v!r}")
        if isinstance(obj, h5py.Dataset):
            seen.append(f"{obj.shape}{obj.dtype}")

    with h5py.File(os.path.join(d, "nwb.h5"), "r") as f:
        for k, v in f.attrs.items():
            seen.append(f"{k}={v!r}")
        f.visititems(visit)
    return f"{len(seen)}:{hash_text(seen)}"


def hash_text(items):
    import hashlib
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]


def h5_windows(d):
    with h5py.File(os.path.join(d, "nwb.h5"), "r") as f:
        data = f["acquisition/ElectricalSeries/data"]
        return digest([data[s:s + RATE, :] for s in windows(1, data.shape[0], WINDOWS, RATE)])


def h5_channel(d):
    with h5py.File(os.path.join(d, "nwb.h5"), "r") as f:
        return digest([f["acquisition/ElectricalSeries/data"][:, 100]])


def h5_spikes(d):
    with h5py.File(os.path.join(d, "nwb.h5"), "r") as f:
        index = f["units/spike_times_index"][:]
        times = f["units/spike_times"]
        starts = np.concatenate([[0], index[:-1]])
        # One read per unit, as pynwb's units table hands them out.
        return digest([times[a:b] for a, b in zip(starts, index)])


def zarr_all(d):
    return digest([zarr.open(os.path.join(d, "traces.zarr"), mode="r")[:]])


def zarr_windows(d):
    z = zarr.open(os.path.join(d, "traces.zarr"), mode="r")
    return digest([z[s:s + RATE, :] for s in windows(2, z.shape[0], WINDOWS, RATE)])


def memmap_windows(d):
    m = np.memmap(os.path.join(d, "continuous.dat"), dtype=np.int16, mode="r").reshape(-1, CHANNELS)
    width = RATE // 10
    stride = (m.shape[0] - width) // MEMMAP_WINDOWS
    return digest([np.array(m[s:s + width]) for s in range(0, MEMMAP_WINDOWS * stride, stride)])


WORKLOADS = {
    "h5-walk": h5_walk,
    "h5-windows": h5_windows,
    "h5-channel": h5_channel,
    "h5-spikes": h5_spikes,
    "zarr-all": zarr_all,
    "zarr-windows": zarr_windows,
    "memmap-windows": memmap_windows,
}

# The files each workload needs, for download-then-read.
NEEDS = {
    "h5-walk": ["nwb.h5"], "h5-windows": ["nwb.h5"], "h5-channel": ["nwb.h5"], "h5-spikes": ["nwb.h5"],
    "zarr-all": ["traces.zarr"], "zarr-windows": ["traces.zarr"], "memmap-windows": ["continuous.dat"],
}


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--seed", type=int, required=True)
    g.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("workload", choices=sorted(WORKLOADS))
    r.add_argument("dir")
    sub.add_parser("list")
    a = p.parse_args()
    if a.cmd == "generate":
        generate(a.seed, a.out)
    elif a.cmd == "list":
        print(json.dumps(NEEDS))
    else:
        start = time.perf_counter()
        d = WORKLOADS[a.workload](a.dir)
        print(json.dumps({"seconds": time.perf_counter() - start, "digest": d}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
