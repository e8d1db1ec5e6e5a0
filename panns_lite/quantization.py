"""int8 ONNX export: static quantization of a waveform-mode graph, front end kept in float.

E-PANNs exists for small devices, yet neither PANNs nor E-PANNs publishes an int8 model or what it
costs in accuracy. This module makes one from any :func:`~panns_lite.export.export_onnx` file with
ONNX Runtime's static quantization in the QDQ format: the weights of every convolution and fully
connected layer become int8 per output channel, their inputs uint8 with one scale per tensor,
calibrated (min–max) on clips run through the float graph. Two choices, and why:

* **Static, not dynamic.** Dynamic quantization computes activation scales at run time; on
  convolutional graphs like CNN14 ONNX Runtime then falls back to slow paths (measured about 3× slower
  than float on this kind of CPU), while static QDQ graphs run int8 kernels.
* **The front end stays float.** Every node before the first convolution — padding, STFT, power,
  mel projection, log and the first batch norm — is excluded: the log-mel's dynamic range (|STFT|²
  spans many decades before the log) is what 8 bits represent worst, and it is a small share of the
  compute.

:func:`int8_pair` writes a model's float32 and int8 graphs side by side and :func:`int8_accuracy`
scores both on the same clips with a paired bootstrap: chapter 9's table and
``benchmarks/bench_int8.py`` both use them.

Calibrate on **training** clips only (a packed file of them: :func:`calibration_clips`); scoring the
int8 model on evaluation clips it was calibrated on would flatter it. The file keeps the float
graph's metadata (so :class:`~panns_lite.export.OnnxModel` and :class:`~panns_lite.inference.Tagger`
run it as they run the float one) with an ``int8`` entry recording the calibration.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np

from panns_lite.checkpoints import atomic_write
from panns_lite.datasets import PackedDataset
from panns_lite.evaluation import Evaluation, PairedBootstrap, evaluate_runtime, paired_bootstrap
from panns_lite.export import METADATA_KEY, OnnxModel, export_onnx
from panns_lite.models import AudioTagger

QUANTIZED_OPS = ("Conv", "MatMul", "Gemm")


@contextmanager
def _without_preprocessing_hint() -> Iterator[None]:
    """Silence ONNX Runtime's root-logger advice to run its pre-processing first, printed twice per call:
    the graph is quantized as exported, and what that costs and buys is measured (chapter 9)."""

    def keep(record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def calibration_clips(packed: str | os.PathLike[str], clips: int = 64, seed: int = 0) -> np.ndarray:
    """(clips, samples) float32 waveforms drawn without replacement (seeded) from a packed file of
    training clips, in file order."""
    data = PackedDataset(packed)
    if clips < 1:
        raise ValueError(f"clips must be ≥ 1, got {clips}")
    rows = np.sort(
        np.random.default_rng(seed).choice(len(data.names), min(clips, len(data.names)), replace=False)
    )
    return data.get_batch(rows)[0].numpy()


def quantize_onnx(
    float_path: str | os.PathLike[str], out: str | os.PathLike[str], calibration: np.ndarray, source: str = ""
) -> Path:
    """Write the int8 (QDQ, per-channel weights) version of the waveform-mode graph ``float_path`` to
    ``out``, calibrated on ``calibration`` (clips, samples) at the model's rate; ``source`` (the
    calibration file) goes into the metadata."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    model = onnx.load(str(float_path))
    metadata = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in metadata or json.loads(metadata[METADATA_KEY])["mode"] != "waveform":
        raise ValueError(
            f"{float_path}: int8 export needs a waveform-mode panns_lite ONNX file (front end inside)"
        )
    calibration = np.asarray(calibration, dtype=np.float32)
    if calibration.ndim != 2 or len(calibration) == 0:
        raise ValueError(f"calibration must be (clips, samples) waveforms, got shape {calibration.shape}")
    first_conv = next(i for i, node in enumerate(model.graph.node) if node.op_type == "Conv")
    front_end = [node.name for node in model.graph.node[:first_conv]]

    class Clips(CalibrationDataReader):
        def __init__(self) -> None:
            self.rows: Iterator[np.ndarray] = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            row = next(self.rows, None)
            return None if row is None else {"waveform": row[None]}

    with tempfile.TemporaryDirectory() as tmp, _without_preprocessing_hint():
        staged = Path(tmp) / "int8.onnx"
        quantize_static(
            str(float_path),
            str(staged),
            Clips(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(QUANTIZED_OPS),
            nodes_to_exclude=front_end,
            calibrate_method=CalibrationMethod.MinMax,
        )
        quantized = onnx.load(str(staged))
    int8 = {"calibration": source, "calibration_clips": len(calibration), "float_nodes": len(front_end)}
    _keep_metadata(quantized, metadata, int8)
    return atomic_write(out, lambda handle: handle.write(quantized.SerializeToString()))


def _keep_metadata(quantized, metadata: dict[str, str], int8: dict) -> None:
    """Give the quantized graph the float graph's metadata, its panns_lite record extended with what
    the quantization did (so OnnxModel and Tagger read it as they read the float one)."""
    record = json.loads(metadata[METADATA_KEY])
    record["int8"] = {"scheme": "static QDQ, per-channel int8 weights, uint8 activations, min-max", **int8}
    del quantized.metadata_props[:]
    for key, value in {**metadata, METADATA_KEY: json.dumps(record)}.items():
        quantized.metadata_props.add(key=key, value=value)


def int8_pair(
    model: AudioTagger,
    folder: str | os.PathLike[str],
    stem: str,
    calibration: np.ndarray,
    source: str = "",
) -> dict[str, Path]:
    """``{"float32": path, "int8": path}``: ``model`` exported waveform-in to ``<folder>/<stem>-float32.onnx``
    and quantized from it (:func:`quantize_onnx`, calibrated on ``calibration`` from ``source``) to
    ``<folder>/<stem>-int8.onnx``."""
    float_path = export_onnx(model, Path(folder) / f"{stem}-float32.onnx")
    int8_path = quantize_onnx(float_path, Path(folder) / f"{stem}-int8.onnx", calibration, source=source)
    return {"float32": float_path, "int8": int8_path}


class Int8Accuracy(NamedTuple):
    """Both graphs of an :func:`int8_pair` scored on the same clips, and int8 − float32 in mAP."""

    float32: Evaluation
    int8: Evaluation
    paired: PairedBootstrap


def int8_accuracy(
    graphs: dict[str, Path], data: PackedDataset, threads: int = 2, resamples: int = 1000, seed: int = 0
) -> Int8Accuracy:
    """Score ``graphs["float32"]`` and ``graphs["int8"]`` on every clip of ``data`` in ONNX Runtime
    (``threads`` intra-op threads); the difference is decided by a paired bootstrap over the clips
    (:func:`~panns_lite.evaluation.paired_bootstrap`), as every comparison in the book."""
    scored = {
        kind: evaluate_runtime(OnnxModel(graphs[kind], threads=threads), data) for kind in ("float32", "int8")
    }
    paired = paired_bootstrap(
        data.targets, scored["int8"].outputs, scored["float32"].outputs, resamples=resamples, seed=seed
    )
    return Int8Accuracy(scored["float32"], scored["int8"], paired)
