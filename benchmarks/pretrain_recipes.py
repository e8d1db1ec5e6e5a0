"""How the ``pretrain`` preset was chosen: short runs of candidate recipes on the pretrain MiniSet.

Each candidate trains from scratch on the pretrain MiniSet's training clips and is scored every 100
iterations on its *validation* splits (mixture and natural), never on the evaluation splits that
judge the shipped model. Candidates: CNN14 at 1/8 and 1/4 width with the ci preset's regularisation
(dropout 0.1 / 0.25, SpecAugment, no mixup), and 1/4 width with mixup. A constant learning rate, so
that a run stopped early is the start of a longer one. The throughput of each width (and of Cnn10 and
Cnn6, measured alone, not trained) is measured on the same machine, one step at a time, without
evaluation: together they say what a fixed wall-clock budget buys.

The recipe's augmentation and schedule are then tested where their effect can show: the ``pretrain``
preset itself (1/8-width CNN14, mixup, SpecAugment, cosine rate after 300 warm-up steps) shortened to
3000 iterations, beside the same run without mixup and the same run at a constant rate after the
warm-up. Each arm's final model is scored on both validation splits and the arms are compared with a
paired bootstrap over the validation clips (1000 resamples): a difference counts only when its 95 %
interval excludes 0. The bootstrap covers the draw of validation clips, not the training seed: one
seed per arm; ``benchmarks/schedule_seeds.py`` repeats the schedule comparison with other seeds.

Run ``.venv/bin/python benchmarks/pretrain_recipes.py`` (about 90 minutes on 2 cores); writes
``benchmarks/results/pretrain_recipes.{json,md}``. Runs are kept in
``<workspace>/runs/pretrain-recipes-<i>`` and ``pretrain-ab-<i>`` (``--runs``); a run whose statistics
reach its iterations is read, not trained again.
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from common import environment, environment_line, write_results

from panns_lite.augment import AugmentConfig, mix_targets, mixup_lambdas
from panns_lite.checkpoints import load_checkpoint
from panns_lite.datasets import PackedDataset
from panns_lite.distributed import Distributed
from panns_lite.evaluation import evaluate_model, format_interval, paired_bootstrap
from panns_lite.miniset import prepare_miniset
from panns_lite.models import FeaturesPath, count_parameters
from panns_lite.paths import workspace
from panns_lite.runs import data_sets, trained
from panns_lite.runtime import autocast, configure_cpu
from panns_lite.sampling import make_sampler
from panns_lite.train import bce, build_model, training_source
from panns_lite.train_config import preset

CANDIDATES = {
    "CNN14 × 1/8, no mixup": dict(width=0.125, iterations=900),
    "CNN14 × 1/4, no mixup": dict(width=0.25, iterations=500),
    "CNN14 × 1/4, mixup": dict(width=0.25, iterations=500, augment=AugmentConfig(mixup=True)),
}
AB_ITERATIONS = 3000
RECIPE_ARMS = {  # the pretrain preset, shortened, and one change each
    "pretrain recipe (mixup, cosine)": {},
    "no mixup (cosine)": dict(augment=AugmentConfig(mixup=False)),
    "mixup, constant rate": dict(lr_schedule="constant"),
}
VALIDATION = {"mixture validation": "validation", "natural validation": "natural_validation"}
THROUGHPUT = [
    ("Cnn14", 0.125, False),
    ("Cnn14", 0.125, True),
    ("Cnn14", 0.25, False),
    ("Cnn14", 0.25, True),
    ("Cnn10", 0.25, False),
    ("Cnn10", 0.5, False),
    ("Cnn6", 0.5, False),
]


def base_config(packed: dict[str, Path], **overrides):
    return preset(
        "ci",
        train_data=str(packed["balanced_train"]),
        eval_data=str(packed["validation"]),
        natural_eval_data=str(packed["natural_validation"]),
        eval_every=100,
        checkpoint_every=100,
        progress=False,
        **overrides,
    )


def arm_config(packed: dict[str, Path], runs: Path, i: int, **overrides):
    return preset(
        "pretrain",
        train_data=str(packed["balanced_train"]),
        eval_data=str(packed["validation"]),
        natural_eval_data=str(packed["natural_validation"]),
        iterations=AB_ITERATIONS,
        eval_every=500,
        checkpoint_every=500,
        progress=False,
        out_dir=str(runs / f"pretrain-ab-{i}"),
        **overrides,
    )


def finished(config) -> list[dict]:
    """The run's curve on both validation splits, training it first unless its statistics are complete."""
    path = Path(config.out_dir) / "statistics.json"
    if not (path.is_file() and json.loads(path.read_text())[-1]["iteration"] >= config.iterations):
        trained(config)
    return [
        {k: row[k] for k in ("iteration", "mAP", "classes", "natural_mAP", "natural_classes", "wall_seconds")}
        for row in json.loads(path.read_text())
    ]


def validation_outputs(config, packed: dict[str, Path]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(targets, outputs) of the run's final model on each validation split, through the log-mel cache."""
    model = load_checkpoint(Path(config.out_dir) / "model.pt")
    result = {}
    for split, key in VALIDATION.items():
        data = training_source(PackedDataset(packed[key]), model, config, Distributed())
        evaluation = evaluate_model(model, data, config.eval_batch_size)
        result[split] = (evaluation.targets, evaluation.outputs)
    return result


def seconds_per_step(config, steps: int = 12, warmup: int = 4) -> tuple[float, int]:
    """Mean wall time of a training step (forward, backward, Adam) after ``warmup`` steps; parameters."""
    configure_cpu(config.threads)
    sets = data_sets(config)
    model = build_model(config)
    source = training_source(sets["train_data"], model, config, Distributed())
    net = FeaturesPath(model.to(memory_format=torch.channels_last))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, amsgrad=True)
    sampler = make_sampler(config.sampler, sets["train_data"].targets, config.clips_per_step, 0, 0, 1)
    times = []
    for t in range(steps):
        x, y, _ = source.get_batch(sampler.batch(t))  # type: Batch
        started = time.perf_counter()
        lam = (
            torch.from_numpy(mixup_lambdas(np.random.default_rng(t), config.clips_per_step, 1.0))
            if config.augment.mixup
            else None
        )
        with autocast(config.amp, torch.device("cpu")):
            output = net(x, lam)["clipwise_output"]
        bce(output, mix_targets(y, lam) if lam is not None else y).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - started)
    return float(np.mean(times[warmup:])), count_parameters(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        type=Path,
        default=workspace() / "runs",
        help="where the candidate runs live (pretrain-recipes-<i>); finished ones are read, not rerun",
    )
    args = parser.parse_args()
    packed = prepare_miniset(workspace() / "miniset-pretrain", "pretrain")
    results = {"environment": environment(), "throughput": [], "runs": []}
    for model, width, mixup in THROUGHPUT:
        config = base_config(packed, model=model, width=width, augment=AugmentConfig(mixup=mixup))
        step, params = seconds_per_step(config)
        results["throughput"].append(
            {"model": model, "width": width, "mixup": mixup, "parameters": params, "seconds_per_step": step}
        )
    for i, (name, overrides) in enumerate(CANDIDATES.items()):
        config = replace(base_config(packed, **overrides), out_dir=str(args.runs / f"pretrain-recipes-{i}"))
        results["runs"].append({"candidate": name, "curve": finished(config)})
    outputs = {}
    results["ablation"] = {"iterations": AB_ITERATIONS, "runs": [], "comparisons": []}
    for i, (name, overrides) in enumerate(RECIPE_ARMS.items()):
        config = arm_config(packed, args.runs, i, **overrides)
        results["ablation"]["runs"].append({"arm": name, "curve": finished(config)})
        outputs[name] = validation_outputs(config, packed)
    reference, *others = RECIPE_ARMS
    for other in others:
        for split in VALIDATION:
            targets, a = outputs[reference][split]
            b = outputs[other][split][1]
            paired = paired_bootstrap(targets, a, b)
            results["ablation"]["comparisons"].append(
                {
                    "a": reference,
                    "b": other,
                    "split": split,
                    "difference": paired.difference,
                    "interval": list(paired.interval),
                    "resolved": paired.resolved,
                }
            )
    write_results("pretrain_recipes", results, to_markdown(results))


def to_markdown(results: dict) -> str:
    lines = [
        "# Choosing the pretrain preset: throughput and short runs on the validation splits",
        "",
        environment_line(results["environment"]),
        "",
        "| model | width | mixup | parameters | s per training step (batch 32, 2 threads) |",
        "|---|---:|---|---:|---:|",
    ]
    lines += [
        f"| {r['model']} | {r['width']:g} | {'yes' if r['mixup'] else 'no'} | {r['parameters']:,} "
        f"| {r['seconds_per_step']:.3f} |"
        for r in results["throughput"]
    ]
    lines += [
        "",
        "Validation mAP (mixture / natural) during training, every 100 iterations:",
        "",
        "| iteration | " + " | ".join(r["candidate"] for r in results["runs"]) + " |",
        "|---:|" + "---:|" * len(results["runs"]),
    ]
    iterations = sorted({row["iteration"] for r in results["runs"] for row in r["curve"]})
    for it in iterations:
        cells = []
        for r in results["runs"]:
            row = next((row for row in r["curve"] if row["iteration"] == it), None)
            cells.append(f"{row['mAP']:.3f} / {row['natural_mAP']:.3f}" if row else "")
        lines.append(f"| {it} | " + " | ".join(cells) + " |")
    ablation = results.get("ablation")
    if ablation:
        runs = ablation["runs"]
        lines += [
            "",
            f"The pretrain recipe's augmentation and schedule over {ablation['iterations']} iterations: "
            "validation mAP (mixture / natural):",
            "",
            "| iteration | " + " | ".join(r["arm"] for r in runs) + " |",
            "|---:|" + "---:|" * len(runs),
        ]
        for it in sorted({row["iteration"] for r in runs for row in r["curve"]}):
            rows = [next((row for row in r["curve"] if row["iteration"] == it), None) for r in runs]
            lines.append(
                f"| {it} | "
                + " | ".join(f"{row['mAP']:.3f} / {row['natural_mAP']:.3f}" if row else "" for row in rows)
                + " |"
            )
        lines += [
            "",
            "Final models, paired bootstrap over the validation clips (1000 resamples, one training seed "
            "per arm):",
            "",
            "| a | b | split | mAP(a) − mAP(b) | 95 % interval | sign established |",
            "|---|---|---|---:|---|---|",
        ]
        lines += [
            f"| {c['a']} | {c['b']} | {c['split']} | {c['difference']:+.3f} | "
            f"{format_interval(c['interval'])} | {'yes' if c['resolved'] else 'no'} |"
            for c in ablation["comparisons"]
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
