"""Tagging speed against the original code, at equal accuracy: CNN14 and E-PANNs 50 % per 10 s clip.

The original PANNs code tags a clip with torchlibrosa's front end (the short-time Fourier transform
as two 1024-tap convolutions, reference §1) and the network in float32, in PyTorch's default memory
layout. That is the reference here: the same network (the same weights) behind torchlibrosa's front
end. Against it, on the same clip, one after another in alternating order (``interleaved_medians``):

* panns_lite, PyTorch eager, float32 (``Tagger``'s default: FFT front end);
* panns_lite, PyTorch eager, bfloat16 (``Tagger(..., precision="bfloat16")``: front end in float32,
  network under bf16 autocast in channels-last layout; fast only on CPUs with native bf16, which the
  environment records: AMX on recent Intel Xeons);
* ONNX Runtime float32 and static int8 (``panns_lite.quantization``) of the waveform-in export.

Models: full-width CNN14 and its E-PANNs 50 % shape (C7–C12 halved), random weights (speed does not
depend on them), batch 1, 1 and 2 threads. Accuracy: what each precision costs is measured on the
one trained model there is, the shipped pretrained tagger, on both evaluation splits (paired
bootstrap over the clips): bfloat16 against float32 here; int8 against float32 is read from
``benchmarks/results/bench_int8.json``. A variant counts as "at equal accuracy" when its measured
mAP is at most 0.01 below float32's on both splits.

Run ``.venv/bin/python benchmarks/bench_tagging_speed.py [--quick]`` (about 6 minutes on 2 idle cores);
writes ``benchmarks/results/tagging_speed{,_quick}.{json,md}``.
"""

import argparse
import copy
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from bench_int8 import session
from common import RESULTS_DIR, environment, environment_line, write_results
from torchlibrosa.stft import LogmelFilterBank, Spectrogram

from panns_lite.checkpoints import load_checkpoint
from panns_lite.datasets import PackedDataset
from panns_lite.evaluation import evaluate_model, format_interval, paired_bootstrap
from panns_lite.export import export_onnx
from panns_lite.features import AMIN, PANNS_32K
from panns_lite.inference import TorchBackend
from panns_lite.miniset import prepare_miniset
from panns_lite.models import AudioTagger, Cnn14, count_parameters, scaled_widths
from panns_lite.paths import workspace
from panns_lite.pretraining import pretrained_config, pretrained_path, read_record
from panns_lite.pruning import epanns_ratios, prune
from panns_lite.quantization import calibration_clips, quantize_onnx
from panns_lite.runtime import configure_cpu, cpu_amx, cpu_bf16, interleaved_medians

COST = 0.01  # largest mAP loss that still counts as equal accuracy (the target)
SPLITS = {"mixture eval": "eval_data", "natural eval": "natural_eval_data"}
REFERENCE = "original code (torchlibrosa front end, float32)"
VARIANTS = [
    REFERENCE,
    "panns_lite eager, float32",
    "panns_lite eager, bfloat16",
    "ONNX Runtime, float32",
    "ONNX Runtime, int8",
]


class OriginalStyle(torch.nn.Module):
    """The network behind torchlibrosa's front end, as the original ``Cnn14.forward`` computes it."""

    def __init__(self, model: AudioTagger) -> None:
        super().__init__()
        cfg = PANNS_32K
        self.spectrogram = Spectrogram(
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.n_fft,
            window="hann",
            center=True,
            pad_mode="reflect",
            freeze_parameters=True,
        )
        self.logmel = LogmelFilterBank(
            sr=cfg.sample_rate,
            n_fft=cfg.n_fft,
            n_mels=cfg.n_mels,
            fmin=cfg.f_min,
            fmax=cfg.f_max,
            ref=1.0,
            amin=AMIN,
            top_db=None,
            freeze_parameters=True,
        )
        self.model = model

    @torch.no_grad()
    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(self.logmel(self.spectrogram(waveform)))["clipwise_output"]


def exports(model: AudioTagger, folder: Path, name: str, calibration: np.ndarray) -> dict[str, Path]:
    """``model`` exported waveform-in to ONNX, in float32 and as static int8."""
    fp32_path = export_onnx(model, folder / f"{name}.onnx")
    return {"float32": fp32_path, "int8": quantize_onnx(fp32_path, folder / f"{name}.int8.onnx", calibration)}


def candidates(model: AudioTagger, onnx_paths: dict[str, Path], threads: int) -> dict:
    """Each variant as a call that tags one clip (a (1, samples) waveform) with ``model``'s weights
    (each PyTorch variant on its own copy: bfloat16 puts its weights in channels-last layout)."""
    original = OriginalStyle(copy.deepcopy(model)).eval()
    eager = TorchBackend(copy.deepcopy(model))
    fast = TorchBackend(copy.deepcopy(model), precision="bfloat16")
    onnx = {kind: session(path, threads) for kind, path in onnx_paths.items()}
    return {
        REFERENCE: lambda x: original(torch.from_numpy(x)),
        "panns_lite eager, float32": lambda x: eager.infer(x, framewise=False),
        "panns_lite eager, bfloat16": lambda x: fast.infer(x, framewise=False),
        "ONNX Runtime, float32": lambda x: onnx["float32"].infer(x, framewise=False),
        "ONNX Runtime, int8": lambda x: onnx["int8"].infer(x, framewise=False),
    }


def speed(quick: bool, calibration: np.ndarray) -> dict:
    """Median seconds per clip of every variant, per model and thread count."""
    torch.manual_seed(0)
    full = Cnn14(widths=scaled_widths(1 / 8)) if quick else Cnn14()
    models = {"CNN14": full.eval(), "E-PANNs 50 %": prune(full, epanns_ratios(0.5)).eval()}
    clip = np.random.default_rng(0).uniform(-0.5, 0.5, (1, 10 * PANNS_32K.sample_rate)).astype(np.float32)
    seconds, params = {}, {name: count_parameters(m) for name, m in models.items()}
    with tempfile.TemporaryDirectory() as tmp:
        onnx = {name: exports(m, Path(tmp), name.split()[0], calibration) for name, m in models.items()}
        for threads in (1, 2):
            configure_cpu(threads)
            for name, model in models.items():
                calls = candidates(model, onnx[name], threads)
                medians = interleaved_medians(
                    {v: (lambda c=c: c(clip)) for v, c in calls.items()}, 3 if quick else 9
                )
                seconds[f"{name} | {threads}"] = medians
    return {"seconds": seconds, "params": params}


def bf16_accuracy(resamples: int) -> dict:
    """bfloat16 − float32 mAP of the pretrained tagger on both evaluation splits (paired bootstrap)."""
    configure_cpu(2)
    config = pretrained_config()
    rows = {}
    for split, key in SPLITS.items():
        data = PackedDataset(getattr(config, key))
        fp32 = evaluate_model(load_checkpoint(pretrained_path()), data)
        bf16 = evaluate_model(load_checkpoint(pretrained_path()), data, precision="bfloat16")
        paired = paired_bootstrap(fp32.targets, bf16.outputs, fp32.outputs, resamples=resamples)
        rows[split] = {
            "float32": fp32.scores.mAP,
            "other": bf16.scores.mAP,
            "difference": paired.difference,
            "interval": list(paired.interval),
        }
    return rows


def int8_accuracy() -> dict:
    """int8 − float32 mAP of the pretrained tagger, as ``bench_int8.py`` recorded it."""
    recorded = json.loads((RESULTS_DIR / "bench_int8.json").read_text())
    model = next(m for m in recorded["models"] if m["model"] == "pretrained tagger")
    return {
        split: {
            "float32": r["float32"],
            "other": r["int8"],
            "difference": r["difference"],
            "interval": r["interval"],
        }
        for split, r in model["accuracy"].items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1/8-width models, fewer repetitions (smoke run)"
    )
    args = parser.parse_args()
    env = environment() | {"cpu_bf16": cpu_bf16(), "cpu_amx": cpu_amx()}
    record = read_record()
    prepare_miniset(workspace() / f"miniset-{record['preset']}", record["preset"])
    calibration = calibration_clips(pretrained_config().train_data, 64)
    accuracy = {
        "panns_lite eager, bfloat16": bf16_accuracy(100 if args.quick else 1000),
        "ONNX Runtime, int8": int8_accuracy(),
    }
    equal = {v: all(row["difference"] >= -COST for row in rows.values()) for v, rows in accuracy.items()}
    results = {
        "quick": args.quick,
        "environment": env,
        "cost": COST,
        "accuracy": accuracy,
        "equal_accuracy": equal,
        **speed(args.quick, calibration),
    }
    write_results("tagging_speed_quick" if args.quick else "tagging_speed", results, to_markdown(results))


def to_markdown(results: dict) -> str:
    env = results["environment"]
    lines = [
        "# Tagging a 10 s clip: panns_lite against the original code, at equal accuracy",
        "",
        environment_line(env, quick=results["quick"])
        + f" Native bf16: {'yes' if env['cpu_bf16'] else 'no'}; AMX: {'yes' if env['cpu_amx'] else 'no'}.",
        "",
        "Seconds per clip (batch 1, medians of interleaved runs) and speed against the original code "
        "(torchlibrosa front end, float32) with the same weights; random weights, full width.",
        "",
        "| model | threads | " + " | ".join(VARIANTS) + " |",
        "|---|---:|" + "---:|" * len(VARIANTS),
    ]
    for key, medians in results["seconds"].items():
        model, threads = key.split(" | ")
        ref = medians[REFERENCE]
        cells = [f"{1e3 * medians[v]:.0f} ms ({ref / medians[v]:.2f}×)" for v in VARIANTS]
        lines.append(
            f"| {model} ({results['params'][model]:,} params) | {threads} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "What each precision costs, on the shipped pretrained tagger (mAP against float32, paired "
        "bootstrap over the clips; int8 from `bench_int8.json`):",
        "",
        "| variant | split | float32 mAP | its mAP | difference | 95 % interval |",
        "|---|---|---:|---:|---:|---|",
    ]
    for variant, rows in results["accuracy"].items():
        for split, r in rows.items():
            lines.append(
                f"| {variant} | {split} | {r['float32']:.3f} | {r['other']:.3f} | {r['difference']:+.3f} "
                f"| {format_interval(r['interval'])} |"
            )
    lines += [
        "",
        "Fastest variant at equal accuracy (at most "
        f"{results['cost']} mAP below float32 on both splits), against the original code:",
        "",
    ]
    for key, medians in results["seconds"].items():
        allowed = [v for v in VARIANTS if results["equal_accuracy"].get(v, True)]
        best = min(allowed, key=medians.get)
        lines.append(
            f"- {key.replace(' | ', ', ')} thread(s): **{best}**, "
            f"{medians[REFERENCE] / medians[best]:.2f}× the original code's speed"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
