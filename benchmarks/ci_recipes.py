"""The ci training preset and two ablations on the same budget: plain sampling, and mixup.

Runs ``python -m panns_lite``'s trainer three times on the ci MiniSet (same iterations, seed and
model) and reports eval mAP (with the number of classes averaged), the mAP of the rarest third of
classes (by training positives — where balanced sampling should matter, panns_facts §5–6) and wall
time. Run ``.venv/bin/python benchmarks/ci_recipes.py [--iterations N]``; writes
``benchmarks/results/ci_recipes.{json,md}``. Each run takes about as long as the ci preset
(≈ 10 minutes on 2 cores): run it on an otherwise idle machine for meaningful times. The ci
preset's own run is the one ``make book`` trains (``workspace/runs/ci``) and is reused if present.
"""

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from common import environment, environment_line, write_results
from panns_lite.datasets import PackedDataset
from panns_lite.metrics import rarest_classes_map
from panns_lite.miniset import prepare_miniset
from panns_lite.train import preset, trained, workspace


def variants(base):
    return {
        "ci preset (balanced sampler)": base,
        "plain shuffle sampler": replace(base, sampler="shuffle"),
        "with mixup (α = 1)": replace(base, augment=replace(base.augment, mixup=True)),
    }


def run(name: str, config) -> dict:
    trained(config)  # the ci preset's run is the one the book trains: reused when present
    statistics = json.loads((Path(config.out_dir) / "statistics.json").read_text())
    last = statistics[-1]
    counts = PackedDataset(config.train_data).targets.sum(axis=0)
    ap = np.array([np.nan if v is None else v for v in last["ap"]])
    rare, n_rare = rarest_classes_map(ap, counts)
    return {"variant": name, "iterations": last["iteration"], "mAP": last["mAP"], "classes": last["classes"],
            "rarest_third_mAP": rare, "rarest_third_classes": n_rare, "mAUC": last["mAUC"],
            "wall_seconds": last["wall_seconds"],
            "curve": [(s["iteration"], s["mAP"]) for s in statistics]}


def to_markdown(results: dict) -> str:
    env = results["environment"]
    lines = [
        "# The ci training preset and its ablations (same budget, same seed)",
        "",
        f"{environment_line(env)} Settings: {results['settings']}.",
        "",
        "| variant | iterations | eval mAP (classes) | mAP of the rarest third (classes) | mAUC | wall s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        lines.append(f"| {r['variant']} | {r['iterations']} | {r['mAP']:.3f} ({r['classes']}) "
                     f"| {r['rarest_third_mAP']:.3f} ({r['rarest_third_classes']}) | {r['mAUC']:.3f} "
                     f"| {r['wall_seconds']:.0f} |")
    lines += ["", "mAP during training (iteration: mAP):", ""]
    lines += [f"* {r['variant']}: " + ", ".join(f"{i}: {m:.3f}" for i, m in r["curve"]) for r in results["rows"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=None, help="override the preset's iterations")
    args = parser.parse_args()
    prepare_miniset(workspace() / "miniset-ci", "ci")
    base = preset("ci", progress=False, **({"iterations": args.iterations} if args.iterations else {}))
    results = {"environment": environment(), "settings": {k: v for k, v in vars(base).items() if k not in
                                                            ("train_data", "eval_data", "out_dir", "progress")},
               "rows": []}
    for i, (name, config) in enumerate(variants(base).items()):
        out_dir = base.out_dir if config is base else str(workspace() / f"runs/ci-recipes-{i}")
        results["rows"].append(run(name, replace(config, out_dir=out_dir)))
    results["settings"] = str(results["settings"])
    write_results("ci_recipes", results, to_markdown(results))


if __name__ == "__main__":
    main()
