"""The ci training preset and three ablations on the same budget: plain sampling, mixup, PANNs' dropout.

Trains the ci preset and each variant on the ci MiniSet (same iterations, seed and model width)
and reports eval mAP on both evaluation splits (mixture and natural, each with the number of classes
averaged), the mAP of the rarest third of classes
(by training positives — where balanced sampling should matter, reference §5–6) and wall time.
Run ``.venv/bin/python benchmarks/ci_recipes.py [--iterations N]``; writes
``benchmarks/results/ci_recipes.{json,md}``. Each run takes about as long as the ci preset (under
10 minutes on 2 cores; mixup hardly more: it draws 2B clips, but mixes them to B right after
``bn0``). Runs are cached (``panns_lite.runs.trained``): the ci preset's own run is the one
``make book`` trains (``workspace/runs/ci``), and ``--variant I --threads 1`` trains only variant
``I`` so that variants can train side by side on separate cores before a final call collects them
(the wall times then reflect one core each, under that load). A thread count other than the
preset's sums floating-point numbers in another order, so the book's run is then listed as well:
two realisations of the same recipe show how far chance alone moves the final mAP.
"""

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from common import environment, environment_line, write_results

from panns_lite.baseline import packed_baseline
from panns_lite.checkpoints import load_extra
from panns_lite.datasets import PackedDataset
from panns_lite.metrics import rarest_classes_map
from panns_lite.miniset import prepare_miniset
from panns_lite.paths import workspace
from panns_lite.runs import read_statistics, trained
from panns_lite.train_config import preset


def variants(base):
    return {
        "ci preset (balanced sampler)": base,
        "plain shuffle sampler": replace(base, sampler="shuffle"),
        "with mixup (α = 1)": replace(base, augment=replace(base.augment, mixup=True)),
        "PANNs' dropout (0.2 / 0.5)": replace(base, dropout=None, head_dropout=None),
    }


def run(name: str, config) -> dict:
    trained(config)  # the ci preset's run is the one the book trains: reused when present
    statistics = read_statistics(Path(config.out_dir))
    last = statistics[-1]
    counts = PackedDataset(config.train_data).targets.sum(axis=0)
    ap = np.array([np.nan if v is None else v for v in last["ap"]])
    rare, n_rare = rarest_classes_map(ap, counts)
    threads = load_extra(Path(config.out_dir) / "model.pt")["config"]["threads"]
    return {
        "variant": name,
        "iterations": last["iteration"],
        "mAP": last["mAP"],
        "classes": last["classes"],
        "natural_mAP": last["natural_mAP"],
        "natural_classes": last["natural_classes"],
        "rarest_third_mAP": rare,
        "rarest_third_classes": n_rare,
        "mAUC": last["mAUC"],
        "wall_seconds": last["wall_seconds"],
        "threads": threads,
        "curve": [(s["iteration"], s["mAP"]) for s in statistics],
    }


def baseline_row(config) -> dict:
    """The linear baseline on the same files: the bar the ci preset has to clear (issue #4)."""
    started = time.perf_counter()
    scores = packed_baseline(config.train_data, config.eval_data)
    natural = packed_baseline(config.train_data, config.natural_eval_data)
    rare, n_rare = rarest_classes_map(scores.ap, PackedDataset(config.train_data).targets.sum(axis=0))
    return {
        "variant": "linear baseline (pooled log-mel, logistic regression)",
        "iterations": None,
        "mAP": scores.mAP,
        "classes": scores.classes_ap,
        "natural_mAP": natural.mAP,
        "natural_classes": natural.classes_ap,
        "rarest_third_mAP": rare,
        "rarest_third_classes": n_rare,
        "mAUC": scores.mAUC,
        "wall_seconds": time.perf_counter() - started,
        "threads": torch.get_num_threads(),
        "curve": [],
    }


def to_markdown(results: dict) -> str:
    env = results["environment"]
    lines = [
        "# The ci training preset and its ablations (same budget, same seed)",
        "",
        f"{environment_line(env)} Settings: {results['settings']}.",
        "",
        "| variant | iterations | eval mAP (classes) | natural eval mAP (classes) "
        "| mAP of the rarest third (classes) | mAUC | wall s (threads) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['variant']} | {r['iterations'] or '–'} | {r['mAP']:.3f} ({r['classes']}) "
            f"| {r['natural_mAP']:.3f} ({r['natural_classes']}) "
            f"| {r['rarest_third_mAP']:.3f} ({r['rarest_third_classes']}) | {r['mAUC']:.3f} "
            f"| {r['wall_seconds']:.0f} ({r['threads']}) |"
        )
    if len({r["threads"] for r in results["rows"] if r["curve"]}) > 1:
        lines += [
            "",
            "Runs with different thread counts add floating-point numbers in a different order and so "
            "are different realisations of the same recipe; compare the variants at one thread count.",
        ]
    lines += ["", "mAP during training (iteration: mAP):", ""]
    lines += [
        f"* {r['variant']}: " + ", ".join(f"{i}: {m:.3f}" for i, m in r["curve"])
        for r in results["rows"]
        if r["curve"]
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=None, help="override the preset's iterations")
    parser.add_argument(
        "--variant", type=int, default=None, help="only train variant I (0 = the preset), write nothing"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads per run (default: the preset's)"
    )
    args = parser.parse_args()
    prepare_miniset(workspace() / "miniset-ci", "ci")
    book = preset("ci", progress=False, **({"iterations": args.iterations} if args.iterations else {}))
    base = replace(book, threads=args.threads or book.threads)
    results = {
        "environment": environment(),
        "settings": {
            k: v
            for k, v in vars(base).items()
            if k not in ("train_data", "eval_data", "natural_eval_data", "out_dir", "progress")
        },
        "rows": [],
    }
    if base.threads != book.threads and args.variant is None:
        # The book's own run, with the preset's threads: another float summation order, so another
        # realisation of the same recipe; the variants below are compared at ``--threads``.
        results["rows"].append(run(f"ci preset as the book trains it ({book.threads} threads)", book))
    for i, (name, config) in enumerate(variants(base).items()):
        same_as_book = config is base and base.threads == book.threads
        config = replace(
            config, out_dir=book.out_dir if same_as_book else str(workspace() / f"runs/ci-recipes-{i}")
        )
        if args.variant is None:
            results["rows"].append(run(name, config))
        elif args.variant == i:
            trained(config)
            return
    results["rows"].append(baseline_row(book))
    results["settings"] = str(results["settings"])
    write_results("ci_recipes", results, to_markdown(results))


if __name__ == "__main__":
    main()
