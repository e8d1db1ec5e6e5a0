"""Scoring speed of a tagger on CPU: weights in the default (contiguous) layout against channels-last.

``panns_lite.evaluation.evaluate_model`` puts the model in channels-last layout before it scores an
evaluation set (the trainer trains in that layout already); the book's chapters 5–9 score dozens of
models on the same log-mel caches, so this choice sets much of their run time. This benchmark times
the network on one batch of cached log-mels (the pretrained tagger, float32, eval mode, 2 threads)
in both layouts, side by side in alternating order (``interleaved_medians``), and checks that the
outputs agree to float rounding.

Run ``.venv/bin/python benchmarks/bench_evaluation_layout.py [--quick]`` (about a minute); writes
``benchmarks/results/evaluation_layout{,_quick}.{json,md}``.
"""

import argparse

import torch
from common import environment, environment_line, write_results

from panns_lite.checkpoints import load_checkpoint
from panns_lite.models import FeaturesPath
from panns_lite.pretraining import pretrained_path
from panns_lite.runtime import configure_cpu, interleaved_medians

THREADS = 2
CLIPS = 32
FRAMES = 1001  # a 10 s clip at PANNs' 10 ms hop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    configure_cpu(THREADS)
    torch.manual_seed(0)
    logmels = torch.randn(CLIPS, 1, FRAMES, 64) * 10 - 40  # dB-like values; speed does not depend on them
    layouts = {"contiguous": torch.contiguous_format, "channels-last": torch.channels_last}
    nets = {
        name: FeaturesPath(load_checkpoint(pretrained_path()).to(memory_format=layout).eval())
        for name, layout in layouts.items()
    }

    def run(name: str):
        with torch.no_grad():
            return nets[name](logmels)["clipwise_output"]

    outputs = {name: run(name) for name in nets}
    seconds = interleaved_medians({name: (lambda n=name: run(n)) for name in nets}, 3 if args.quick else 9)
    results = {
        "quick": args.quick,
        "environment": environment(),
        "clips": CLIPS,
        "frames": FRAMES,
        "seconds": seconds,
        "speed_up": seconds["contiguous"] / seconds["channels-last"],
        "max_abs_difference": float((outputs["contiguous"] - outputs["channels-last"]).abs().max()),
    }
    write_results(
        "evaluation_layout_quick" if args.quick else "evaluation_layout", results, to_markdown(results)
    )


def to_markdown(results: dict) -> str:
    s = results["seconds"]
    return "\n".join(
        [
            "# Scoring on CPU: contiguous weights against channels-last",
            "",
            environment_line(results["environment"], THREADS, results["quick"]),
            "",
            f"The pretrained tagger (float32, eval mode) on {results['clips']} cached log-mel clips of "
            f"{results['frames']} frames; medians of interleaved repetitions.",
            "",
            "| layout | seconds per batch | clips per second |",
            "|---|---:|---:|",
            *[f"| {name} | {v:.3f} | {results['clips'] / v:.0f} |" for name, v in s.items()],
            "",
            f"channels-last is **{results['speed_up']:.2f}×** the speed of contiguous; "
            "the outputs differ by at most "
            f"{results['max_abs_difference']:.1e} (float rounding).",
            "",
        ]
    )


if __name__ == "__main__":
    main()
