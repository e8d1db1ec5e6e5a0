"""Can the packed-HDF5 reader and the balanced sampler feed a GPU? Clips per second, cold and warm.

One modern GPU trains full-width CNN14 in bf16 at roughly 2000 clips/s, so that is what the data path
must deliver for a GPU run not to wait on it. What is timed is exactly what training reads each step:
:meth:`PackedDataset.get_batch <panns_lite.datasets.ClipDataset.get_batch>` (sorted unique rows in one
pass, then the sampler's order restored; int16 → float32) for the batches the balanced sampler draws
(PANNs' sampler, batch 32), from a file of at least 20,000 clips on local disk, by 1…N reader
processes (each opens the file itself and reads every N-th batch, as DataLoader workers would):

* **cold**: the file's pages are dropped from the OS cache first (``posix_fadvise(DONTNEED)``, no root
  needed), so every clip comes from the disk;
* **warm**: the same batches read a second time, from the page cache.

The file is the pretrain MiniSet's 8000 training clips written three times (24,000 clips, 15 GB;
names made unique), built once in ``<workspace>/data-path/`` and reused; its content does not matter
to the reader, its size and layout (one HDF5 chunk per clip, as ``pack`` writes) do.

Run ``.venv/bin/python benchmarks/data_path.py`` (about 10 minutes on 2 cores, most of it building the
file the first time); writes ``benchmarks/results/data_path.{json,md}``.
"""

import argparse
import multiprocessing as mp
import os
import time
from pathlib import Path

import h5py
import numpy as np
from common import environment, environment_line, write_results

from panns_lite.datasets import PackedDataset
from panns_lite.miniset import prepare_miniset
from panns_lite.paths import workspace
from panns_lite.sampling import make_sampler

COPIES = 3
BATCH = 32
TARGET = 2000.0


def big_file(source: Path, out: Path, copies: int) -> Path:
    """``copies`` × the clips of ``source`` in one packed file (written once, atomically)."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with h5py.File(source, "r") as src, h5py.File(partial, "w") as dst:
        n, samples = src["waveform"].shape
        dst.attrs["sample_rate"] = src.attrs["sample_rate"]
        names = np.array(
            [f"{name.decode()[:-4]}_{k}.wav".encode() for k in range(copies) for name in src["audio_name"]]
        )
        dst.create_dataset("audio_name", data=names, chunks=(64,))
        dst.create_dataset(
            "target", data=np.concatenate([src["target"][:]] * copies), chunks=(64, src["target"].shape[1])
        )
        waveform = dst.create_dataset("waveform", (n * copies, samples), np.int16, chunks=(1, samples))
        for start in range(0, n, 500):
            rows = src["waveform"][start : start + 500]
            for k in range(copies):
                waveform[k * n + start : k * n + start + len(rows)] = rows
    partial.rename(out)
    return out


def drop_from_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_share(path: str, batches: list[np.ndarray], rank: int, workers: int, start_at: float) -> int:
    """Read batches rank, rank + workers, …; returns the clips read."""
    data = PackedDataset(path)
    while time.perf_counter() < start_at:  # every reader starts together
        time.sleep(0.001)
    clips = 0
    for batch in batches[rank::workers]:
        x, _, _ = data.get_batch(batch)
        clips += len(x)
    return clips


def clips_per_second(path: Path, batches: list[np.ndarray], workers: int) -> float:
    with mp.get_context("fork").Pool(workers) as pool:
        start_at = time.perf_counter() + 1.0
        jobs = [
            pool.apply_async(read_share, (str(path), batches, rank, workers, start_at))
            for rank in range(workers)
        ]
        clips = sum(job.get() for job in jobs)
        return clips / (time.perf_counter() - start_at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=150, help="batches of 32 read per measurement")
    parser.add_argument("--max-workers", type=int, default=max(2, os.cpu_count() or 1))
    args = parser.parse_args()
    packed = prepare_miniset(workspace() / "miniset-pretrain", "pretrain")
    path = big_file(
        packed["balanced_train"], workspace() / "data-path" / f"balanced_train_x{COPIES}.h5", COPIES
    )
    data = PackedDataset(path)
    sampler = make_sampler("balanced", data.targets, BATCH, 0, 0, 1)
    results = {
        "environment": environment(),
        "file": {"clips": len(data), "bytes": path.stat().st_size},
        "batch": BATCH,
        "target_clips_per_second": TARGET,
        "rows": [],
    }
    workers_list = sorted({1, *range(2, args.max_workers + 1, 2), args.max_workers})
    for workers in workers_list:
        batches = [sampler.batch(t) for t in range(workers * 1000, workers * 1000 + args.batches)]
        drop_from_cache(path)
        cold = clips_per_second(path, batches, workers)
        warm = clips_per_second(path, batches, workers)
        results["rows"].append({"workers": workers, "cold": cold, "warm": warm})
    write_results("data_path", results, to_markdown(results))


def to_markdown(results: dict) -> str:
    file = results["file"]
    lines = [
        "# The data path: packed HDF5 + balanced sampler, clips per second",
        "",
        environment_line(results["environment"]),
        "",
        f"{file['clips']:,} clips in one packed file ({file['bytes'] / 2**30:.1f} GiB), batches of "
        f"{results['batch']} drawn by the balanced sampler; target {results['target_clips_per_second']:,.0f} "
        "clips/s warm (what one GPU consumes for CNN14 in bf16).",
        "",
        "| reader processes | cold cache (clips/s) | warm cache (clips/s) | warm / target |",
        "|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['workers']} | {r['cold']:,.0f} | {r['warm']:,.0f} "
        f"| {r['warm'] / results['target_clips_per_second']:.2f} |"
        for r in results["rows"]
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
