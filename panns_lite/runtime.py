"""CPU settings that make PyTorch training and inference fast on small machines.

Measured on the project's 2-core VM (benchmarks/): a 1/8-width CNN14 training step (64 clips mixed to
32) took 1.8 s with the defaults, 1.05 s after :func:`keep_freed_memory`, 0.81 s with channels-last
weights as well. The allocator change matters because glibc serves large blocks (the feature maps
here are tens of MB) with ``mmap`` and returns them on ``free``, so every step page-faults all of
its activations in again; raising the mmap and trim thresholds keeps that memory in the heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import statistics
import time
from collections.abc import Callable, Hashable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TypeVar

import torch

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_KEEP = 1 << 30
K = TypeVar("K", bound=Hashable)


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks (up to 1 GiB thresholds) instead of unmapping them.

    Returns False where there is no glibc (macOS, musl), where it is a no-op.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, _KEEP)) and bool(mallopt(M_TRIM_THRESHOLD, _KEEP))


def configure_cpu(threads: int | None = None) -> None:
    """Thread count (when given) and the allocator setting above; call once before the work starts."""
    if threads:
        torch.set_num_threads(threads)
    keep_freed_memory()


def available_devices() -> list[str]:
    """The torch devices this machine has, by the names ``--device`` accepts."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += ["cuda", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def checked_device(name: str) -> str:
    """``name`` if this machine has that device (``auto`` picks CUDA when there is one), else a
    ValueError listing the devices it has: asked for ``cuda`` on a CPU machine, torch would fail
    deep inside the first ``.to()`` with a message about drivers."""
    if name == "auto" or name in available_devices():
        return name
    raise ValueError(
        f"device {name!r} is not available here (this machine has: {', '.join(available_devices())})"
    )


def resolved_device(name: str) -> str:
    """A checked device name with ``auto`` made concrete: CUDA when there is one, else the CPU."""
    name = checked_device(name)
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def interleaved_medians(candidates: Mapping[K, Callable[[], object]], repeats: int) -> dict[K, float]:
    """Median seconds per candidate: one warm-up each, then ``repeats`` rounds alternating the order.

    Timings on a small shared machine drift with its load; running the candidates side by side,
    in alternating order, lets that drift hit all of them alike, so their *ratios* mean something
    (the benchmarks and the book report ratios measured this way, never absolute timings alone).
    """
    for run in candidates.values():
        run()
    times: dict[K, list[float]] = {name: [] for name in candidates}
    order = list(candidates)
    for i in range(repeats):
        for name in order if i % 2 == 0 else reversed(order):
            start = time.perf_counter()
            candidates[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), recorded with benchmarks and training runs."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_bf16() -> bool:
    """Whether this CPU has native bf16 kernels in oneDNN (AVX512-BF16/AMX)."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def cpu_amx() -> bool:
    """Whether oneDNN runs bf16 on AMX tiles here (Intel Xeon since Sapphire Rapids) rather than on
    AVX512-BF16 (AMD Zen 4, earlier Xeons): other kernels, so bf16 training differs in the last bits
    between the two from the first step (:func:`panns_lite.pretraining.replay` keeps a reference per kind)."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe is not None and probe())


def autocast(enabled: bool, device: torch.device) -> AbstractContextManager:
    """bfloat16 autocast when ``enabled``: on CUDA, and on CPUs with native bf16 (:func:`cpu_bf16`),
    where oneDNN runs the convolutions ~1.4× faster (benchmarks/). The loss is always float32."""
    if enabled and (device.type == "cuda" or cpu_bf16()):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


PRECISIONS = ("float32", "bfloat16")
"""What a tagger's network can run in (:func:`network_precision`); its front end is always float32."""


def network_precision(precision: str, device: torch.device) -> AbstractContextManager:
    """The context a tagger's network runs in at ``precision``: nothing for float32, :func:`autocast`
    for bfloat16 (so float32 where the CPU has no native bf16, which would only be emulated, slower).

    With the weights in channels-last layout, bfloat16 tags a clip with full-width CNN14 about 2.7×
    faster than float32 on an AMX Xeon at 2 threads; ``benchmarks/bench_tagging_speed.py`` measures
    that and what it costs in mAP.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return autocast(precision == "bfloat16", device)
