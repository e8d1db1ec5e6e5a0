"""GPU readiness of the ``paper`` preset: clips per second and peak memory, one GPU and all of them.

The ``paper`` preset trains full-width CNN14 as PANNs did (batch 32, mixup, Adam at 1e-3) with bf16
autocast, on waveforms read from the packed file (no log-mel cache: AudioSet's 2 M clips do not fit
one). This runs it for ``--steps`` iterations on the CI MiniSet, first on one GPU, then under
``torchrun`` with NCCL on every GPU present (when there are several), and reports from each run's
statistics: training clips per second over the second half of the steps (the first half warms up;
the wall time includes one evaluation on the 200 validation clips, seconds on a GPU), the
clips the sampler reads per second (twice as many: mixup mixes pairs), and the peak CUDA memory of
rank 0. Without CUDA it exits with status 2 and says so (``--cpu-dry-run`` runs the same plumbing
with gloo on the CPU at 1/16 width, to check the script itself).

Run ``scripts/gpu_check.sh`` (a few minutes on a GPU machine); writes
``benchmarks/results/gpu_check.{json,md}``.
"""

import argparse
import subprocess
import sys
from pathlib import Path

import torch
from common import environment, environment_line, write_results

from panns_lite.miniset import prepare_miniset
from panns_lite.paths import workspace
from panns_lite.runs import read_statistics
from panns_lite.train_config import preset


def run(processes: int, steps: int, packed: dict, out: Path, device: str, width: float | None) -> dict:
    args = [
        "-m",
        "panns_lite",
        "train",
        "--preset",
        "paper",
        "--train-data",
        str(packed["balanced_train"]),
        "--eval-data",
        str(packed["validation"]),
        "--iterations",
        str(steps),
        "--eval-every",
        str(steps // 2),
        "--checkpoint-every",
        str(steps),
        "--out",
        str(out),
        "--overwrite",
        "--no-progress",
        "--device",
        device,
    ]
    if width is not None:
        args += ["--width", str(width)]
    command = (
        [sys.executable, *args]
        if processes == 1
        else [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
            *args,
        ]
    )
    subprocess.run(command, check=True)
    statistics = read_statistics(out)
    middle, last = statistics[1], statistics[-1]  # the first half warms up (allocator, cuDNN autotuning)
    seconds, timed = last["wall_seconds"] - middle["wall_seconds"], last["iteration"] - middle["iteration"]
    batch = preset("paper").batch_size
    return {
        "processes": processes,
        "steps": steps,
        "timed_steps": timed,
        "seconds": seconds,
        "train_clips_per_second": timed * batch / seconds,
        "read_clips_per_second": timed * 2 * batch / seconds,
        "peak_memory_gib": last.get("cuda_peak_memory_bytes", 0) / 2**30 or None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument(
        "--cpu-dry-run", action="store_true", help="no GPU: run the plumbing on the CPU (gloo)"
    )
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.cpu_dry_run:
        print(
            f"gpu_check: no CUDA device here (torch {torch.__version__}, CUDA build {torch.version.cuda}); "
            "run it on a machine where nvidia-smi lists a GPU",
            file=sys.stderr,
        )
        return 2
    gpus = torch.cuda.device_count() if not args.cpu_dry_run else 2
    device, width = ("cpu", 1 / 16) if args.cpu_dry_run else ("cuda", None)
    packed = prepare_miniset(workspace() / "miniset-ci", "ci")
    runs = workspace() / "runs"
    results = {
        "environment": environment(),
        "gpus": [torch.cuda.get_device_name(i) for i in range(gpus)]
        if not args.cpu_dry_run
        else ["cpu (dry run)"] * gpus,
        "cuda": torch.version.cuda,
        "rows": [],
    }
    for processes in sorted({1, gpus}):
        results["rows"].append(
            run(processes, args.steps, packed, runs / f"gpu-check-{processes}", device, width)
        )
    stem = "gpu_check" if not args.cpu_dry_run else "gpu_check_dry_run"
    write_results(stem, results, to_markdown(results))
    return 0


def to_markdown(results: dict) -> str:
    lines = [
        "# GPU readiness: the paper preset (full-width CNN14, bf16, batch 32, mixup)",
        "",
        environment_line(results["environment"]),
        "",
        f"Devices: {', '.join(results['gpus'])} (CUDA {results['cuda']}).",
        "",
        "| processes | steps timed | seconds | training clips/s | clips read/s | peak memory (GiB, rank 0) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        memory = f"{r['peak_memory_gib']:.1f}" if r["peak_memory_gib"] else "n/a"
        lines.append(
            f"| {r['processes']} | {r['timed_steps']} of {r['steps']} | {r['seconds']:.1f} | "
            f"{r['train_clips_per_second']:.0f} | {r['read_clips_per_second']:.0f} | {memory} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
