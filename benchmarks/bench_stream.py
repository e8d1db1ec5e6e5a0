"""Live tagging: can ``Tagger.stream`` keep up? Compute time per hop against the hop itself.

A stream analysed every ``hop`` seconds keeps up only if each analysis (the last ``window`` seconds
through the network) takes less than the hop. Measured here on 60 s of a 44.1 kHz stereo recording
(the first shipped one by name, repeated to length), fed to ``Tagger.stream`` in 100 ms blocks as a
microphone would deliver them, window 10 s, hop 1 s, 2 threads: the time from a window's last block
to its result, for the shipped pretrained tagger and for full-width CNN14 (random weights: speed
does not depend on them). Its first windows are shorter (the stream is younger than a window), so
the table gives the median, 95th percentile and maximum over the full-length windows and,
separately, over all.

Run ``.venv/bin/python benchmarks/bench_stream.py`` (about a minute on 2 cores); writes
``benchmarks/results/bench_stream.{json,md}``.
"""

import time

import numpy as np
from common import environment, environment_line, write_results

from panns_lite.audio import load_audio, resample
from panns_lite.inference import Tagger
from panns_lite.models import Cnn14
from panns_lite.paths import SOURCES_DIR
from panns_lite.pretraining import pretrained
from panns_lite.runtime import configure_cpu

THREADS = 2
SECONDS, RATE, BLOCK_SECONDS = 60, 44100, 0.1
WINDOW, HOP = 10.0, 1.0


def microphone(seconds: int) -> tuple[list[np.ndarray], str]:
    """``seconds`` of 44.1 kHz stereo in 100 ms blocks, from a shipped recording repeated to length."""
    path = sorted((SOURCES_DIR / "audio").iterdir())[0]
    mono = resample(load_audio(path), 32000, RATE)
    x = np.resize(mono, seconds * RATE)
    stereo = np.stack([x, 0.8 * x], axis=1).astype(np.float32)
    block = round(BLOCK_SECONDS * RATE)
    return [stereo[i : i + block] for i in range(0, len(stereo), block)], path.name


def per_hop_seconds(tagger: Tagger, blocks: list[np.ndarray]) -> list[tuple[float, float]]:
    """(window length in s, seconds from the window's last block to its result) for every window."""
    timings, sent = [], [0.0]

    def source():
        for block in blocks:
            sent[0] = time.perf_counter()
            yield block

    for window in tagger.stream(source(), RATE, window_seconds=WINDOW, hop_seconds=HOP):
        timings.append((window.end - window.start, time.perf_counter() - sent[0]))
    return timings


def summary(values: list[float]) -> dict:
    return {
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "max": float(max(values)),
        "windows": len(values),
    }


def main() -> None:
    configure_cpu(THREADS)
    results = {
        "environment": environment(),
        "threads": THREADS,
        "window_seconds": WINDOW,
        "hop_seconds": HOP,
        "stream_seconds": SECONDS,
        "input": f"{RATE} Hz stereo in {BLOCK_SECONDS * 1000:.0f} ms blocks",
        "models": [],
    }
    blocks, name = microphone(SECONDS)
    results["recording"] = name
    for label, model in [("pretrained (CNN14 × 1/8)", pretrained()), ("CNN14 (full width)", Cnn14().eval())]:
        timings = per_hop_seconds(Tagger(model), blocks)
        full = [t for length, t in timings if length >= WINDOW - 1e-9]
        results["models"].append(
            {"model": label, "full_windows": summary(full), "all_windows": summary([t for _, t in timings])}
        )
    write_results("bench_stream", results, to_markdown(results))


def to_markdown(results: dict) -> str:
    lines = [
        "# Live tagging with Tagger.stream: compute time per hop",
        "",
        environment_line(results["environment"], results["threads"]),
        "",
        f"{results['stream_seconds']} s of {results['input']} ({results['recording']}), window "
        f"{results['window_seconds']:g} s, hop {results['hop_seconds']:g} s: seconds from a window's "
        "last block to its result. It keeps up when this stays below the hop.",
        "",
        "| model | median | 95th percentile | max | max / hop | windows |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in results["models"]:
        s = row["full_windows"]
        lines.append(
            f"| {row['model']} | {s['median']:.3f} | {s['p95']:.3f} | {s['max']:.3f} | "
            f"{s['max'] / results['hop_seconds']:.2f} | {s['windows']} full |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
