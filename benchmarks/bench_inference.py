"""End-to-end tagging speed on CPU: CNN14 vs E-PANNs 50 %, PyTorch eager vs ONNX Runtime.

What a user of ``panns_lite.inference.Tagger`` waits for: decode a 44.1 kHz WAV, resample it to
32 kHz, log-mel front end, network, top-k. Models: CNN14 and the E-PANNs 50 % architecture
(C7–C12 halved, reference §10.1; random init — speed does not depend on the weights).
Backends, same ``Tagger`` pipeline each: PyTorch eager, PyTorch eager with BN folded
(``panns_lite.folding``), and the waveform-mode ONNX export (``panns_lite.export``) in ONNX Runtime.
2 threads for both runtimes, fp32.

* **latency**: tag one 10 s file; median over interleaved repetitions (order alternates);
* **throughput**: tag a folder of 20 such files one after another, files per second (median);
* **load + resample**: ``panns_lite.audio.load_audio`` on the same file, the part every backend shares.

Run: ``.venv/bin/python benchmarks/bench_inference.py [--quick]``. Writes
``benchmarks/results/bench_inference{,_quick}.{json,md}``. ``--quick`` uses 1/8-width models, 4
files and fewer repetitions (a smoke run). About 6 minutes on 2 idle cores.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from common import environment, environment_line, write_results

from panns_lite.audio import load_audio
from panns_lite.export import OnnxModel, export_onnx
from panns_lite.folding import fold_batchnorm
from panns_lite.inference import Tagger
from panns_lite.models import CNN14_WIDTHS, Cnn14, count_parameters, scaled_widths
from panns_lite.runtime import configure_cpu, interleaved_medians

THREADS = 2
FILE_RATE = 44100
FILE_SECONDS = 10
EPANNS_50_WIDTHS = CNN14_WIDTHS[:6] + tuple(w // 2 for w in CNN14_WIDTHS[6:])


def write_folder(folder: Path, files: int) -> list[Path]:
    """``files`` 10 s, 44.1 kHz, 16-bit mono WAVs: tones changing every second over noise."""
    paths = []
    for i in range(files):
        rng = np.random.default_rng(i)
        t = np.arange(FILE_SECONDS * FILE_RATE) / FILE_RATE
        freqs = rng.uniform(100, 4000, FILE_SECONDS)[t.astype(int)]
        x = 0.3 * np.sin(2 * np.pi * freqs * t) + 0.05 * rng.standard_normal(len(t))
        paths.append(folder / f"clip{i:02d}.wav")
        sf.write(paths[-1], x, FILE_RATE, subtype="PCM_16")
    return paths


def build_taggers(folder: Path, quick: bool) -> tuple[dict[str, Tagger], list[dict[str, object]]]:
    """Every timed (model, backend) pair by name, and a description of each model."""
    torch.manual_seed(0)
    scale = 1 / 8 if quick else 1.0
    taggers, models = {}, []
    for name, widths in (("CNN14", CNN14_WIDTHS), ("E-PANNs 50%", EPANNS_50_WIDTHS)):
        model = Cnn14(widths=scaled_widths(scale, widths)).eval()
        start = time.perf_counter()
        onnx_path = export_onnx(model, folder / f"{name.replace(' ', '_')}.onnx")
        export_seconds = time.perf_counter() - start
        taggers[f"{name} | PyTorch eager"] = Tagger(model)
        taggers[f"{name} | PyTorch eager, BN folded"] = Tagger(fold_batchnorm(model))
        taggers[f"{name} | ONNX Runtime"] = Tagger(OnnxModel(onnx_path, threads=THREADS))
        models.append(
            {
                "model": name,
                "widths": list(model.architecture()["kwargs"]["widths"]),
                "params": count_parameters(model),
                "onnx_mb": onnx_path.stat().st_size / 1e6,
                "onnx_export_s": export_seconds,
            }
        )
    return taggers, models


def folder_throughput(taggers: dict[str, Tagger], paths: list[Path], repeats: int) -> dict[str, float]:
    """Median files/s of tagging the whole folder, candidates interleaved as in ``interleaved_medians``."""
    seconds = interleaved_medians(
        {name: lambda t=t: [t.tag(p, top_k=5) for p in paths] for name, t in taggers.items()}, repeats
    )
    return {name: len(paths) / s for name, s in seconds.items()}


def agreement(taggers: dict[str, Tagger], path: Path) -> dict[str, float]:
    """Max |Δ clipwise| of each backend against PyTorch eager of the same model on one file."""
    out = {}
    for name, tagger in taggers.items():
        model = name.split(" | ")[0]
        reference = taggers[f"{model} | PyTorch eager"].analyze(path).clipwise
        out[name] = float(np.abs(tagger.analyze(path).clipwise - reference).max())
    return out


def to_markdown(results: dict) -> str:
    lines = [
        "# End-to-end tagging speed (CPU): CNN14 vs E-PANNs 50 %, PyTorch vs ONNX Runtime",
        "",
        environment_line(results["environment"], threads=THREADS, quick=results["quick"]),
        "",
        f"`Tagger.tag` on {FILE_SECONDS} s, {FILE_RATE} Hz 16-bit WAV files: decode, resample to 32 kHz, "
        f"log-mel, network, top 5. fp32, {THREADS} threads for PyTorch and ONNX Runtime, random-init "
        f"weights. Latency: median of {results['latency_repeats']} interleaved runs on one file; "
        f"throughput: {results['files']} files tagged one after another, median of "
        f"{results['throughput_repeats']} interleaved runs. Decoding + resampling alone "
        f"(`load_audio`): {1e3 * results['load_resample_s']:.1f} ms per file.",
        "",
        "| model | params | backend | latency, ms / 10 s file | throughput, files/s | speed-up vs eager | "
        "max abs diff of probabilities vs eager |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    params = {m["model"]: m["params"] for m in results["models"]}
    for name, latency in results["latency_s"].items():
        model, backend = name.split(" | ")
        eager = results["latency_s"][f"{model} | PyTorch eager"]
        lines.append(
            f"| {model} | {params[model]:,} | {backend} | {1e3 * latency:.0f} "
            f"| {results['throughput_files_per_s'][name]:.2f} "
            f"| {eager / latency:.2f}× | {results['max_abs_diff'][name]:.1e} |"
        )
    cnn14 = results["latency_s"]["CNN14 | PyTorch eager"]
    epanns = results["latency_s"]["E-PANNs 50% | PyTorch eager"]
    lines += [
        "",
        f"E-PANNs 50 % over CNN14 (PyTorch eager, end to end): **{cnn14 / epanns:.2f}×**. ONNX files: "
        + ", ".join(
            f"{m['model']} {m['onnx_mb']:.0f} MB (export {m['onnx_export_s']:.0f} s)"
            for m in results["models"]
        )
        + ".",
    ]
    env = results["environment"]
    if env["load_average_at_start"] >= env["cpu_count"]:
        lines += [
            "",
            f"**Caveat:** the machine was shared (load average {env['load_average_at_start']} on "
            f"{env['cpu_count']} CPUs at the start), so absolute times are inflated and ratios noisy; "
            "compare only runs made on an idle machine.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1/8-width models, 4 files, 2 repeats (smoke run)"
    )
    args = parser.parse_args()
    configure_cpu(THREADS)
    files, latency_repeats, throughput_repeats = (4, 2, 1) if args.quick else (20, 11, 3)
    results: dict = {
        "quick": args.quick,
        "environment": environment(),
        "files": files,
        "latency_repeats": latency_repeats,
        "throughput_repeats": throughput_repeats,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_folder(folder, files)
        taggers, results["models"] = build_taggers(folder, args.quick)
        results["load_resample_s"] = interleaved_medians(
            {"load": lambda: load_audio(paths[0])}, latency_repeats
        )["load"]
        results["latency_s"] = interleaved_medians(
            {name: lambda t=t: t.tag(paths[0], top_k=5) for name, t in taggers.items()}, latency_repeats
        )
        results["throughput_files_per_s"] = folder_throughput(taggers, paths, throughput_repeats)
        results["max_abs_diff"] = agreement(taggers, paths[1])
    write_results("bench_inference_quick" if args.quick else "bench_inference", results, to_markdown(results))


if __name__ == "__main__":
    main()
