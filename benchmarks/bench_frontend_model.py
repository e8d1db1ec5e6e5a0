"""Front-end and CNN14 inference speed on CPU, 2 threads.

(a) ``LogMel`` (torch.stft) against the torchlibrosa DFT-convolution front end PANNs uses, on the
    same batch, interleaved repeats, medians and their ratio (goal ≥ 5×).
(b) CNN14 inference throughput (fp32, eval, no grad) at width multipliers 1, 0.25 and 0.125.

Run: ``.venv/bin/python benchmarks/bench_frontend_model.py [--quick]``. Writes
``benchmarks/results/frontend_model{,_quick}.{json,md}``. torchlibrosa is a test/benchmark oracle only.
"""

import argparse
import sys

import torch
from common import environment, environment_line, write_results

from panns_lite.features import PANNS_32K, LogMel
from panns_lite.models import Cnn14, scaled_widths
from panns_lite.paths import REPO_ROOT
from panns_lite.profile import profile_model
from panns_lite.runtime import interleaved_medians

sys.path.insert(0, str(REPO_ROOT / "tests"))
from test_features import torchlibrosa_frontend  # noqa: E402  (the one oracle definition, shared with the tests)

THREADS = 2
WIDTH_MULTIPLIERS = (1.0, 0.25, 0.125)


def bench_frontend(clips: int, repeats: int) -> dict[str, object]:
    waveform = torch.rand(clips, 320000, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ours, reference = LogMel(), torchlibrosa_frontend(PANNS_32K)
    with torch.inference_mode():
        medians = interleaved_medians(
            {"logmel": lambda: ours(waveform), "torchlibrosa": lambda: reference(waveform)}, repeats
        )
        a, b = ours(waveform), reference(waveform)
    above_floor = b > -100 + 1e-6
    return {
        "batch": f"{clips} x 10 s",
        "repeats": repeats,
        "logmel_s": medians["logmel"],
        "torchlibrosa_s": medians["torchlibrosa"],
        "speedup": medians["torchlibrosa"] / medians["logmel"],
        "max_abs_diff_db": (a - b).abs()[above_floor].max().item(),
    }


def bench_model(multiplier: float, clips: int, repeats: int) -> dict[str, object]:
    model = Cnn14(widths=scaled_widths(multiplier)).eval()
    profile = profile_model(model)
    waveform = torch.rand(clips, 320000, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        seconds = interleaved_medians({"forward": lambda: model(waveform)}, repeats)["forward"]
    return {
        "width_multiplier": multiplier,
        "params": profile.params,
        "gmacs_per_clip": profile.total_macs_fft / 1e9,
        "batch": f"{clips} x 10 s",
        "repeats": repeats,
        "seconds_per_batch": seconds,
        "clips_per_s": clips / seconds,
    }


def to_markdown(results: dict) -> str:
    env, fe = results["environment"], results["frontend"]
    lines = [
        "# Front end and CNN14 inference speed (CPU)",
        "",
        environment_line(env, quick=results["quick"]),
        "",
        f"## Log-mel front end ({fe['batch']}, median of {fe['repeats']} interleaved runs)",
        "",
        "| implementation | seconds | clips/s |",
        "|---|---:|---:|",
    ]
    clips = int(fe["batch"].split()[0])
    for name, key in (
        ("panns_lite `LogMel` (torch.stft)", "logmel_s"),
        ("torchlibrosa (DFT Conv1d)", "torchlibrosa_s"),
    ):
        lines.append(f"| {name} | {fe[key]:.4f} | {clips / fe[key]:.1f} |")
    lines += [
        "",
        f"Speed-up: **{fe['speedup']:.1f}×**; max |Δ| above the −100 dB floor: "
        f"{fe['max_abs_diff_db']:.1e} dB (float32).",
        "LogMel is many short parallel ops per clip, torchlibrosa one large convolution, so a busy co-tenant "
        "(see the load average) slows LogMel far more: compare speed-ups only between runs "
        "on an idle machine.",
        "",
        "## CNN14 inference (fp32, eval, no grad, waveform in)",
        "",
        "| width × | params | G MACs / clip (FFT front end) | batch | s / batch | clips/s |",
        "|---:|---:|---:|---|---:|---:|",
    ]
    lines += [
        f"| {m['width_multiplier']} | {m['params']:,} | {m['gmacs_per_clip']:.3f} | {m['batch']} "
        f"| {m['seconds_per_batch']:.3f} | {m['clips_per_s']:.2f} |"
        for m in results["model"]
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller batches and fewer repeats (CI smoke run)"
    )
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    fe_clips, fe_repeats, model_clips, model_repeats = (4, 3, 2, 2) if args.quick else (16, 11, 4, 5)

    results = {
        "quick": args.quick,
        "environment": environment(),
        "frontend": bench_frontend(fe_clips, fe_repeats),
        "model": [bench_model(m, model_clips, model_repeats) for m in WIDTH_MULTIPLIERS],
    }
    write_results("frontend_model_quick" if args.quick else "frontend_model", results, to_markdown(results))


if __name__ == "__main__":
    main()
