"""Export PANNs taggers to ONNX and TorchScript, and run the ONNX graph with ONNX Runtime.

Users report that converting CNN14 to ONNX fails (reference §11.4, audioset_tagging_cnn #60),
and the LiteRT port had to move the front end to the host (reference §1). Here both work, for any
:class:`~panns_lite.models.AudioTagger` — CNN14 at any per-layer ``widths`` (narrow, E-PANNs-pruned,
reference §10.1) and the other PANNs bodies — in two modes:

* ``"waveform"`` (front end included): input ``waveform`` (batch, samples) float32 in [−1, 1] at
  the model's sample rate. The graph contains the log-mel front end as an FFT (ONNX ``STFT``,
  opset ≥ 17) plus the zero-padding of short inputs, so it takes **any** length ≥ 1 sample, like the
  PyTorch model. The front end runs on the whole batch at once (``LogMel`` loops over clips only as
  a CPU speed trick, which would freeze the batch size into a traced graph).
* ``"logmel"`` (front end excluded): input ``logmel`` (batch, 1, frames, n_mels), the dB log-mel of
  :class:`~panns_lite.features.LogMel`; frames ≥ the model's time downsampling (32 for CNN14, reference §2).
  For runtimes without an FFT or where fp16 would overflow |STFT|² (reference §1): compute the log-mel on the
  host and run only this graph.

Batch and length are dynamic in both modes and both formats. Outputs, in order:
``clipwise_output`` (batch, classes), ``embedding`` (batch, embed_dim) and, with
``framewise=True``, ``framewise_output`` (batch, frames, classes).

Exporter choice (torch 2.11): the ``torch.export``-based exporter (``dynamo=True``, the default) is
used. The legacy TorchScript-based exporter cannot translate the complex-valued ``torch.stft`` ("STFT
does not currently support complex types"), so it cannot export the waveform mode. TorchScript
export uses ``torch.jit.trace`` (deprecated in torch 2.11 but still the format libtorch/C++ loads);
the minimum-length padding is a scripted function inside the trace so that it stays dynamic.

Each file carries a JSON description (mode, sample rate, hop, classes, outputs, architecture):
ONNX metadata ``panns_lite``, TorchScript extra file ``panns_lite.json``. :class:`OnnxModel` reads
it, so :class:`panns_lite.inference.Tagger` can run a waveform-mode ``.onnx`` file directly.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from panns_lite.checkpoints import atomic_write
from panns_lite.models import AudioTagger

ExportMode = Literal["waveform", "logmel"]
MODES: tuple[str, ...] = ("waveform", "logmel")
METADATA_KEY = "panns_lite"
TORCHSCRIPT_METADATA = "panns_lite.json"
_JIT_DEPRECATION = r"`torch\.jit\.\w+` is deprecated"
"""TorchScript is deprecated in torch 2.11 but still works; its per-call warnings are silenced here."""


def _pad_end(x: torch.Tensor, min_samples: int) -> torch.Tensor:
    short = min_samples - x.shape[1]
    if short > 0:
        return F.pad(x, (0, short))
    return x


@functools.cache
def _scripted_pad_end() -> Any:
    """``_pad_end`` compiled by TorchScript, so a trace keeps its length test instead of a constant."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JIT_DEPRECATION)
        return torch.jit.script(_pad_end)


class ExportGraph(nn.Module):
    """A tagger as a tensor → tuple-of-tensors function, the form exporters need (eval mode only).

    Waveform mode: zero-pad at the end to ``logmel.min_samples`` (as ``LogMel.forward`` does), the
    batched log-mel, then ``forward_features``; logmel mode: ``forward_features`` only. The
    parameters are the model's own (shared, not copied).
    """

    def __init__(self, model: AudioTagger, mode: ExportMode = "waveform", framewise: bool = False) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.model = model
        self.mode = mode
        self.framewise = framewise
        self.output_names = ("clipwise_output", "embedding") + (("framewise_output",) if framewise else ())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.mode == "waveform":
            min_samples = self.model.logmel.min_samples
            if torch.jit.is_tracing():
                x = _scripted_pad_end()(x, min_samples)
            else:  # eager and torch.export: a symbolic max keeps the length dynamic
                x = F.pad(x, (0, torch.sym_max(min_samples - x.shape[1], 0)))
            # LogMel's batch-agnostic core (its forward adds only this padding and a per-clip loop).
            x = self.model.logmel._clip_logmel(x)
        out = self.model.forward_features(x, None, self.framewise)
        return tuple(out[name] for name in self.output_names)

    def example_input(self, batch: int = 2) -> torch.Tensor:
        """A 1 s input (waveform) or 100-frame log-mel, the shape exporters trace with."""
        config = self.model.logmel.config
        if self.mode == "waveform":
            return torch.zeros(batch, config.sample_rate).uniform_(-0.5, 0.5)
        return torch.full((batch, 1, 100, config.n_mels), -50.0)

    def metadata(self) -> dict[str, Any]:
        """What a runtime needs to feed the graph and read its outputs (stored in the exported file)."""
        logmel, model = self.model.logmel, self.model
        return {
            "format": "panns_lite-export",
            "version": 1,
            "mode": self.mode,
            "input": self.mode,
            "outputs": list(self.output_names),
            "sample_rate": logmel.config.sample_rate,
            "hop_length": logmel.config.hop_length,
            "n_mels": logmel.config.n_mels,
            "min_samples": logmel.min_samples,
            "min_frames": model.time_downsampling,
            "classes_num": model.fc_audioset.out_features,
            "embed_dim": model.fc1.out_features,
            "architecture": model.architecture(),
        }


def _eval_graph(model: AudioTagger, mode: ExportMode, framewise: bool) -> ExportGraph:
    if model.training:
        raise ValueError(
            "export needs a model in eval mode (dropout and BatchNorm statistics); call model.eval()"
        )
    return ExportGraph(model, mode, framewise).eval()


def export_onnx(
    model: AudioTagger, path: str | os.PathLike[str], mode: ExportMode = "waveform", framewise: bool = False
) -> Path:
    """Write ``model`` as a single ONNX file (weights inline) with dynamic batch and length.

    Uses the ``torch.export``-based exporter (see the module docstring); the graph's default opset
    is the exporter's (20 with torch 2.11). Checked against PyTorch eager with ONNX Runtime in
    ``tests/test_export.py`` (max |Δ| ~1e-7, far inside 1e-4).
    """
    graph = _eval_graph(model, mode, framewise)
    x = graph.example_input()
    if mode == "waveform":
        dims = {0: torch.export.Dim("batch", min=1), 1: torch.export.Dim("samples", min=1)}
    else:
        dims = {
            0: torch.export.Dim("batch", min=1),
            2: torch.export.Dim("frames", min=model.time_downsampling),
        }
    with torch.no_grad():
        program = torch.onnx.export(
            graph,
            (x,),
            dynamo=True,
            input_names=[mode],
            output_names=list(graph.output_names),
            dynamic_shapes={"x": dims},
            verbose=False,
        )
    assert program is not None
    program.model.metadata_props[METADATA_KEY] = json.dumps(graph.metadata())
    proto = program.model_proto
    return atomic_write(path, lambda handle: handle.write(proto.SerializeToString()))


def export_torchscript(
    model: AudioTagger, path: str | os.PathLike[str], mode: ExportMode = "waveform", framewise: bool = False
) -> Path:
    """Write ``model`` as a traced TorchScript module (dynamic batch and length), metadata inside.

    Load it with :func:`load_torchscript` (or ``torch.jit.load``; it returns a tuple in the output
    order of the module docstring).
    """
    graph = _eval_graph(model, mode, framewise)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", message=_JIT_DEPRECATION)
        traced = torch.jit.trace(graph, graph.example_input(), check_trace=False)
        extra = {TORCHSCRIPT_METADATA: json.dumps(graph.metadata())}
        return atomic_write(path, lambda handle: torch.jit.save(traced, handle, _extra_files=extra))


def load_torchscript(path: str | os.PathLike[str]) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """A module written by :func:`export_torchscript` and its metadata."""
    extra = {TORCHSCRIPT_METADATA: ""}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JIT_DEPRECATION)
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    if not extra[TORCHSCRIPT_METADATA]:
        raise ValueError(f"{path}: not a panns_lite TorchScript export (no {TORCHSCRIPT_METADATA})")
    return module, json.loads(extra[TORCHSCRIPT_METADATA])


class OnnxModel:
    """An exported graph in an ONNX Runtime session, with the metadata written by :func:`export_onnx`.

    ``threads`` sets ONNX Runtime's intra-op threads (``None``: its default, one per core). A
    waveform-mode model is a :class:`panns_lite.inference.Backend`, so ``Tagger(OnnxModel(...))``
    tags files with it.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        import onnxruntime as ort
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except (
            ort_errors.InvalidProtobuf,
            ort_errors.InvalidGraph,
            ort_errors.InvalidArgument,
            ort_errors.Fail,
            ort_errors.NotImplemented,
        ) as err:
            reason = "the file is empty" if path.stat().st_size == 0 else str(err).splitlines()[0]
            raise ValueError(f"{path}: cannot load ONNX model ({reason}); export it again") from None
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if raw is None:
            raise ValueError(f"{path}: not a panns_lite export (no '{METADATA_KEY}' metadata)")
        self.metadata: dict[str, Any] = json.loads(raw)
        self.path = path
        self.mode: str = self.metadata["mode"]
        self.outputs: list[str] = self.metadata["outputs"]
        self.sample_rate: int = self.metadata["sample_rate"]
        self.hop_length: int = self.metadata["hop_length"]
        self.classes_num: int = self.metadata["classes_num"]

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """All outputs for one input batch (waveform or log-mel, per ``mode``), float32."""
        values = self.session.run(None, {self.mode: np.ascontiguousarray(x, dtype=np.float32)})
        return dict(zip(self.outputs, values))

    def infer(self, waveform: np.ndarray, framewise: bool) -> dict[str, np.ndarray]:
        """The :class:`~panns_lite.inference.Backend` call: a waveform-mode graph only."""
        if self.mode != "waveform":
            raise ValueError(
                f"{self.path} takes log-mels; tagging audio needs an export with mode='waveform'"
            )
        if framewise and "framewise_output" not in self.outputs:
            raise ValueError(f"{self.path} has no framewise output; export it with framewise=True")
        return self.run(waveform)
