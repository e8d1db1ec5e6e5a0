"""int8 against float: accuracy on both evaluation splits, speed at 1 and 2 threads, file size.

Models: the shipped pretrained tagger and its E-PANNs 50 % version (C7–C12 halved by the operator
norm, then fine-tuned 300 steps with the tagger's recipe at a cosine rate from 3e-4, chapter 7's
recipe; the chapter itself now fine-tunes 200 steps to save CI time), each exported waveform-in
(front end inside the graph) in float32 and quantized to int8 by ``panns_lite.quantization``
(static QDQ, per-channel weights), calibrated on 64
clips of the pretrain MiniSet's *training* split. Accuracy: mAP on the mixture and natural
evaluation splits, int8 − float with a paired bootstrap over the clips (1000 resamples). Speed: one
10 s clip (batch 1), medians of interleaved repetitions in ONNX Runtime at 1 and 2 intra-op threads,
each session with thread spinning off (spinning threads would slow the next candidate in the same
process); with ``--full-width``, full-width CNN14 and E-PANNs 50 % shapes with random weights beside
them (speed does not depend on the weights; calibrated on the same clips).

Run ``.venv/bin/python benchmarks/bench_int8.py [--full-width]`` (about 10 minutes on 2 idle cores, 10
more with ``--full-width``); writes ``benchmarks/results/bench_int8.{json,md}``.
"""

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from common import environment, environment_line, write_results

from panns_lite.checkpoints import load_checkpoint
from panns_lite.datasets import PackedDataset
from panns_lite.evaluation import format_interval
from panns_lite.export import OnnxModel
from panns_lite.miniset import prepare_miniset
from panns_lite.models import Cnn14, count_parameters
from panns_lite.paths import workspace
from panns_lite.pretraining import pretrained_config, pretrained_path, read_record
from panns_lite.pruning import epanns_ratios, prune
from panns_lite.quantization import calibration_clips, int8_accuracy, int8_pair
from panns_lite.recovery import recover
from panns_lite.runtime import interleaved_medians

SPLITS = {"mixture eval": "eval_data", "natural eval": "natural_eval_data"}
CALIBRATION_CLIPS = 64
REPEATS = 7


def session(path: Path, threads: int) -> OnnxModel:
    """An ONNX Runtime session with ``threads`` intra-op threads that do not spin between runs."""
    import onnxruntime as ort

    model = OnnxModel(path, threads=threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full-width", action="store_true", help="also time full-width CNN14 and E-PANNs 50 %%"
    )
    args = parser.parse_args()
    env = environment()
    record = read_record()
    prepare_miniset(workspace() / f"miniset-{record['preset']}", record["preset"])
    recipe = replace(pretrained_config(), lr=3e-4, lr_schedule="cosine", warmup_iterations=0, progress=False)
    recovered = recover(recipe, 0.5, iterations=300, eval_every=100, base_model=pretrained_path())
    calibration = calibration_clips(recipe.train_data, CALIBRATION_CLIPS)
    models = {
        "pretrained tagger": load_checkpoint(pretrained_path()),
        "pretrained, 50 % pruned + fine-tuned": load_checkpoint(recovered),
    }
    if args.full_width:
        torch.manual_seed(0)
        full = Cnn14().eval()
        models |= {
            "CNN14 (full width, random weights)": full,
            "E-PANNs 50 % (full width, random weights)": prune(full, epanns_ratios(0.5)).eval(),
        }
    data = {split: PackedDataset(getattr(recipe, key)) for split, key in SPLITS.items()}
    clip = data["natural eval"].get_batch(np.array([0]))[0].numpy()
    results = {
        "environment": env,
        "calibration": f"{CALIBRATION_CLIPS} clips of {recipe.train_data}",
        "models": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models.items():
            paths = int8_pair(model, tmp, str(len(results["models"])), calibration, source=recipe.train_data)
            row = {
                "model": name,
                "parameters": count_parameters(model),
                "MB": {k: p.stat().st_size / 1e6 for k, p in paths.items()},
            }
            if "random" not in name:
                row["accuracy"] = {}
                for split, dataset in data.items():
                    accuracy = int8_accuracy(paths, dataset, threads=2)
                    row["accuracy"][split] = {
                        "float32": accuracy.float32.scores.mAP,
                        "int8": accuracy.int8.scores.mAP,
                        "difference": accuracy.paired.difference,
                        "interval": list(accuracy.paired.interval),
                        "resolved": accuracy.paired.resolved,
                    }
            row["seconds_per_clip"] = {}
            for threads in (1, 2):
                runtimes = {k: session(p, threads) for k, p in paths.items()}
                timed = interleaved_medians(
                    {k: lambda r=r: r.run(clip) for k, r in runtimes.items()}, REPEATS
                )
                row["seconds_per_clip"][str(threads)] = timed
            results["models"].append(row)
    write_results("bench_int8", results, to_markdown(results))


def to_markdown(results: dict) -> str:
    lines = [
        "# int8 (static QDQ) against float32 in ONNX Runtime",
        "",
        environment_line(results["environment"]),
        "",
        f"Calibration: {results['calibration']} (training clips only). Accuracy: int8 − float32 mAP, paired "
        "bootstrap over the clips (1000 resamples).",
        "",
        "| model | split | float32 mAP | int8 mAP | int8 − float32 | 95 % interval | established |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in results["models"]:
        for split, a in row.get("accuracy", {}).items():
            lines.append(
                f"| {row['model']} | {split} | {a['float32']:.3f} | {a['int8']:.3f} | {a['difference']:+.3f} "
                f"| {format_interval(a['interval'])} | {'yes' if a['resolved'] else 'no'} |"
            )
    lines += [
        "",
        "Speed, one 10 s clip (batch 1, front end included), medians of interleaved runs; file sizes:",
        "",
        "| model | parameters | float32 MB | int8 MB | threads | float32 ms | int8 ms | int8 speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["models"]:
        for threads, t in row["seconds_per_clip"].items():
            lines.append(
                f"| {row['model']} | {row['parameters']:,} | {row['MB']['float32']:.1f} "
                f"| {row['MB']['int8']:.1f} "
                f"| {threads} | {1e3 * t['float32']:.0f} | {1e3 * t['int8']:.0f} | "
                f"{t['float32'] / t['int8']:.2f}× |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
