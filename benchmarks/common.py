"""What every benchmark records and how it writes its results (JSON + Markdown, atomically)."""

import json
import os
import platform
import time
from pathlib import Path

import torch

from panns_lite.checkpoints import atomic_write
from panns_lite.runtime import cpu_model

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def environment() -> dict:
    """Versions, threads, CPU and load: numbers from a busy machine are not comparable."""
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def write_results(stem: str, results: dict, markdown: str) -> None:
    """``benchmarks/results/<stem>.json`` and ``.md``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / stem
    atomic_write(path.with_suffix(".json"), lambda f: f.write(json.dumps(results, indent=2).encode() + b"\n"))
    atomic_write(path.with_suffix(".md"), lambda f: f.write(markdown.encode()))
    print(markdown)


def environment_line(env: dict, threads: int | None = None, quick: bool = False) -> str:
    """The one-line description of where a result was measured, for the Markdown reports."""
    threads_text = f"{threads if threads is not None else env['threads']} threads, "
    return (
        f"torch {env['torch']}, {threads_text}{env['cpu']} ({env['cpu_count']} logical CPUs), load average "
        f"{env['load_average_at_start']} at start, {env['date']}{' — quick run' if quick else ''}."
    )
