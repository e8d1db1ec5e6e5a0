"""CPU latency of CNN14 against its E-PANNs-pruned versions, with and without batch-norm folding.

Full-width CNN14 and C7–C12 pruned by 25 / 50 / 75 % (operator-norm criterion on random-init
weights: the speed does not depend on which filters are kept), each as is and BN-folded, timed
side by side: fp32, eval, ``torch.inference_mode``, 2 threads, waveform (10 s, 32 kHz) in,
batch 1 and batch 16, one warm-up each, then interleaved repetitions alternating the order,
median. The measured speed-up of each pruned model over CNN14 is set against the one its MACs
predict (conv + fc + our FFT front end, the work this model actually does; the DFT-front-end
ratio of reference §10.4, e.g. 1.56× at 50 %, is listed too). Goal: ≥ 1.5× at 50 %.

Run: ``.venv/bin/python benchmarks/bench_pruned_latency.py [--quick]``. Writes
``benchmarks/results/bench_pruned_latency{,_quick}.{json,md}``. About 5 minutes on 2 idle cores.
"""

import argparse
import os

import torch
from common import environment, environment_line, write_results

from panns_lite.folding import fold_batchnorm
from panns_lite.models import Cnn14
from panns_lite.profile import profile_model
from panns_lite.pruning import epanns_ratios, prune
from panns_lite.runtime import configure_cpu, interleaved_medians

THREADS = 2
RATIOS = (0.0, 0.25, 0.5, 0.75)
CLIP_SAMPLES = 320_000


def build_models() -> tuple[dict[str, torch.nn.Module], list[dict[str, object]]]:
    """Every timed variant by name, and the size/MAC description of each pruning ratio."""
    torch.manual_seed(0)
    full = Cnn14().eval()
    base_profile = profile_model(full)
    models, sizes = {}, []
    for p in RATIOS:
        model = full if p == 0 else prune(full, epanns_ratios(p)).eval()
        profile = profile_model(model)
        label = "CNN14" if p == 0 else f"{p:.0%} C7–C12"
        models[label], models[f"{label}, folded"] = model, fold_batchnorm(model)
        sizes.append(
            {
                "label": label,
                "ratio": p,
                "params": profile.params,
                "gmacs_fft": profile.total_macs_fft / 1e9,
                "gmacs_dft": profile.total_macs_dft / 1e9,
                "predicted_speedup_fft": base_profile.total_macs_fft / profile.total_macs_fft,
                "predicted_speedup_dft": base_profile.total_macs_dft / profile.total_macs_dft,
            }
        )
    return models, sizes


def time_batch(models: dict[str, torch.nn.Module], batch: int, repeats: int) -> dict[str, float]:
    """Median seconds per clip of each model on one shared random batch."""
    waveform = torch.rand(batch, CLIP_SAMPLES, generator=torch.Generator().manual_seed(batch)) * 2 - 1
    with torch.inference_mode():
        medians = interleaved_medians(
            {name: (lambda m=m: m(waveform)) for name, m in models.items()}, repeats
        )
    return {name: seconds / batch for name, seconds in medians.items()}


def to_markdown(results: dict) -> str:
    lines = [
        "# Pruned CNN14 (E-PANNs) latency on CPU",
        "",
        environment_line(results["environment"], threads=THREADS, quick=results["quick"])
        + f" Load average {results['load_average_at_end']} at the end: on a busy machine absolute times are "
        "inflated and the speed-ups noisy.",
        "",
        "fp32, eval, inference mode, 10 s clips at 32 kHz (waveform in, our FFT front end included). "
        "Speed-ups are over CNN14 in the same column (as is / BN-folded); *MAC-predicted* is the ratio of "
        "conv + fc + FFT-front-end MACs, *DFT convention* the ratio with the original DFT front end "
        "(reference §10.4).",
    ]
    for batch, timing in results["latency"].items():
        lines += [
            "",
            f"## Batch {batch} (median of {results['repeats'][batch]} interleaved runs, ms per clip)",
            "",
            "| model | params | G MACs (FFT / DFT) | ms/clip | ms/clip folded | speed-up | speed-up folded "
            "| MAC-predicted | DFT convention | folding gain |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        base, base_folded = timing["CNN14"], timing["CNN14, folded"]
        for size in results["models"]:
            plain, folded = timing[size["label"]], timing[f"{size['label']}, folded"]
            lines.append(
                f"| {size['label']} | {size['params']:,} | {size['gmacs_fft']:.2f} / {size['gmacs_dft']:.2f} "
                f"| {1e3 * plain:.1f} | {1e3 * folded:.1f} | {base / plain:.2f}× "
                f"| {base_folded / folded:.2f}× "
                f"| {size['predicted_speedup_fft']:.2f}× | {size['predicted_speedup_dft']:.2f}× "
                f"| {plain / folded:.2f}× |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batches 1 and 2, 2 repeats (smoke run)")
    args = parser.parse_args()
    configure_cpu(THREADS)
    repeats = {1: 2, 2: 2} if args.quick else {1: 21, 16: 7}
    results: dict = {"quick": args.quick, "environment": environment(), "repeats": repeats}
    models, results["models"] = build_models()
    results["latency"] = {batch: time_batch(models, batch, n) for batch, n in repeats.items()}
    results["load_average_at_end"] = round(os.getloadavg()[0], 2)
    stem = "bench_pruned_latency_quick" if args.quick else "bench_pruned_latency"
    write_results(stem, results, to_markdown(results))


if __name__ == "__main__":
    main()
