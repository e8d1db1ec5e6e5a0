"""Training-step throughput on CPU: panns_lite's step against one written like the original code.

Both steps train the same CNN14 (same widths, SpecAugment, mixup of 2B clips down to B, BCE, Adam
with amsgrad) on the same batch of clips:

* **reference** — as PANNs' ``main.py`` does it: the torchlibrosa DFT-convolution front end is
  recomputed from the waveforms every step; default allocator, default memory format;
* **panns_lite** — as ``panns_lite.train`` does it: the log-mels come from the float16 cache (the
  front end is frozen and the augmentations act after ``bn0``), channels-last weights, glibc
  told to keep freed memory (``panns_lite.runtime.configure_cpu``) and, on CPUs with native
  bfloat16, bf16 autocast (``amp``, as the ci preset uses it).

Each variant runs in its own process (the allocator setting is process-wide), variants alternate,
and the medians of the per-step times are compared. Goals (issue): ≥ 1.3× at full CNN14 width,
≥ 2× at the CI width. Run ``.venv/bin/python benchmarks/bench_train_step.py [--quick]``; writes
``benchmarks/results/train_step{,_quick}.{json,md}``.
"""

import argparse
import json
import statistics
import subprocess
import sys

import numpy as np
import torch
from common import environment, environment_line, write_results

from panns_lite.augment import SpecAugment, mix_targets, mixup_lambdas
from panns_lite.features import PANNS_32K, LogMel
from panns_lite.models import Cnn14, scaled_widths
from panns_lite.paths import REPO_ROOT
from panns_lite.runtime import autocast, configure_cpu
from panns_lite.train import bce
from panns_lite.train_config import preset

sys.path.insert(0, str(REPO_ROOT / "tests"))
from test_features import torchlibrosa_frontend  # noqa: E402  (the one oracle definition, shared with the tests)

THREADS = 2
CI = preset("ci")


def step_times(variant: str, width: float, batch: int, steps: int) -> list[float]:
    """Seconds per training step of ``variant`` (after one warm-up step), in this process."""
    import time

    if variant == "panns_lite":
        configure_cpu(THREADS)
    else:
        torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    clips = 2 * batch
    waveform = torch.rand(clips, 320000) * 2 - 1
    targets = (torch.rand(clips, 527) < 0.02).float()
    lam = torch.from_numpy(mixup_lambdas(np.random.default_rng(0), clips))
    model = Cnn14(widths=scaled_widths(width), spec_augment=SpecAugment()).train()
    if variant == "panns_lite":
        model = model.to(memory_format=torch.channels_last)
        with torch.inference_mode():
            cache = LogMel()(waveform).half()  # what LogMelCache stores
        inputs = lambda: cache.float()  # noqa: E731  (what LogMelCache.get_batch returns)
    else:
        frontend = torchlibrosa_frontend(PANNS_32K)
        inputs = lambda: frontend(waveform)  # noqa: E731
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with autocast(variant == "panns_lite", torch.device("cpu")):
            output = model.forward_features(inputs(), lam)["clipwise_output"]
        bce(output, mix_targets(targets, lam)).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return times[1:]


def measure(width: float, batch: int, steps: int, rounds: int) -> dict:
    """Alternate the two variants' processes ``rounds`` times; medians of all their step times."""
    times: dict[str, list[float]] = {"reference": [], "panns_lite": []}
    for r in range(rounds):
        for variant in list(times) if r % 2 == 0 else list(reversed(times)):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", variant, str(width), str(batch), str(steps)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            times[variant] += json.loads(out.strip().splitlines()[-1])
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {
        "width_multiplier": width,
        "clips_per_step": 2 * batch,
        "mixed_batch": batch,
        "steps_per_variant": len(times["reference"]),
        "reference_s": medians["reference"],
        "panns_lite_s": medians["panns_lite"],
        "speedup": medians["reference"] / medians["panns_lite"],
        "all_times": times,
    }


def to_markdown(results: dict) -> str:
    env = results["environment"]
    lines = [
        "# Training step on CPU: panns_lite vs a step written like the original code",
        "",
        environment_line(env, THREADS, results["quick"]),
        "Same CNN14, same batch, SpecAugment + mixup + BCE + Adam(amsgrad). "
        "Reference: torchlibrosa front end recomputed each step. "
        "panns_lite: cached float16 log-mels, channels-last, glibc keeps freed memory, "
        "bf16 autocast where the CPU has native bf16.",
        "",
        "| width × | clips/step (mixed to) | reference s/step | panns_lite s/step | speed-up | goal |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row, goal in zip(results["rows"], ("≥ 1.3×", "≥ 2×")):
        lines.append(
            f"| {row['width_multiplier']} | {row['clips_per_step']} ({row['mixed_batch']}) "
            f"| {row['reference_s']:.3f} | {row['panns_lite_s']:.3f} | **{row['speedup']:.2f}×** | {goal} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (smoke run)")
    parser.add_argument(
        "--worker", nargs=4, metavar=("VARIANT", "WIDTH", "BATCH", "STEPS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        variant, width, batch, steps = args.worker
        print(json.dumps(step_times(variant, float(width), int(batch), int(steps))))
        return
    steps, rounds = (1, 2) if args.quick else (3, 2)
    results = {
        "quick": args.quick,
        "environment": environment(),
        "rows": [measure(1.0, 4, steps, rounds), measure(CI.width, CI.batch_size, steps * 2, rounds)],
    }
    write_results("train_step_quick" if args.quick else "train_step", results, to_markdown(results))


if __name__ == "__main__":
    main()
