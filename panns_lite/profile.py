"""Parameter and MAC counts of a PANNs model, per layer, the way E-PANNs reports them.

Conv and linear MACs come from ``thop`` run on :meth:`AudioTagger.forward_features` (the CNN body
and heads on a log-mel of the right shape); batch norm, pooling and activations count 0 here, so
``macs`` is the conv+fc figure (CNN14, 10 s: 20.04 G, reference §2). The front end is counted
separately in closed form, once as the original's DFT convolutions and once as our FFT.
"""

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import thop
import torch
from thop.vision.basic_hooks import zero_ops
from torch import nn

from panns_lite.models import AudioTagger, FeaturesPath, count_parameters

if TYPE_CHECKING:
    import pandas as pd

LAYER_COLUMNS: tuple[str, ...] = (
    "name",
    "module",
    "in_channels",
    "out_channels",
    "kernel",
    "output_map",
    "params",
    "macs",
)


@dataclass(frozen=True)
class LayerProfile:
    """One row of the per-layer table (E-PANNs Fig. 6): C1…Cn for convs, fc1 and fc for the linears."""

    name: str
    module: str
    in_channels: int
    out_channels: int
    kernel: str
    output_map: str
    params: int
    macs: int


@dataclass(frozen=True)
class ModelProfile:
    """Size and compute of one model for one input length.

    * ``params``: trainable parameters (the front end has none in panns_lite).
    * ``macs``: conv + linear multiply-accumulates of the CNN on the log-mel.
    * ``frontend_macs_dft``: the original torchlibrosa front end, i.e. two Conv1d DFT kernels
      ``2·(n_fft/2+1)·n_fft·T`` plus the mel matmul ``T·(n_fft/2+1)·n_mels`` (reference §2).
    * ``frontend_macs_fft``: an *estimate* for our ``torch.stft`` front end, per frame
      ``n_fft`` (window) + ``1.25·n_fft·log2(n_fft)`` (a real FFT costs about half of the
      5·N·log2 N flops of a radix-2 complex FFT, at 2 flops per MAC) + ``2·(n_fft/2+1)`` (|X|²)
      + ``(n_fft/2+1)·n_mels`` (mel matmul), times T frames.
    * ``stft_kernel_params``: the torchlibrosa DFT kernels ``2·(n_fft/2+1)·n_fft`` (1,050,624 at
      32 kHz), frozen and absent from panns_lite, but part of the torchsummary "Total params" that
      E-PANNs reports (reference §1, §10.1).
    """

    model: str
    seconds: float
    sample_rate: int
    frames: int
    params: int
    macs: int
    frontend_macs_dft: int
    frontend_macs_fft: int
    stft_kernel_params: int
    layers: tuple[LayerProfile, ...]

    @property
    def params_with_stft(self) -> int:
        """Trainable + STFT kernels: E-PANNs' "Total params" (CNN14 81,804,239, reference §2)."""
        return self.params + self.stft_kernel_params

    @property
    def total_macs_dft(self) -> int:
        """CNN + original DFT front end: the "21 G MACs" of the E-PANNs poster for CNN14."""
        return self.macs + self.frontend_macs_dft

    @property
    def total_macs_fft(self) -> int:
        """CNN + our FFT front end (estimate)."""
        return self.macs + self.frontend_macs_fft

    def paper_multi_adds(self) -> int:
        """Approximate PANNs-paper "multi-adds": 2 operations per MAC, i.e. ``2·total_macs_dft``.

        The paper's tool (reference §2) also adds 2·numel per batch norm and leaves out the mel
        matmul; those two terms nearly cancel (CNN14: 42.25 G here vs 42.22 G published).
        """
        return 2 * self.total_macs_dft

    def layers_dataframe(self) -> "pd.DataFrame":
        """The per-layer table as a pandas DataFrame (pandas imported lazily, for the book)."""
        import pandas as pd

        return pd.DataFrame(
            [[getattr(row, c) for c in LAYER_COLUMNS] for row in self.layers], columns=LAYER_COLUMNS
        )

    def to_markdown(self) -> str:
        """A summary line plus the per-layer table in Markdown (MACs in millions)."""
        lines = [
            f"**{self.model}**, {self.seconds:g} s at {self.sample_rate} Hz ({self.frames} frames): "
            f"{self.params:,} trainable params, conv+fc {self.macs / 1e9:.3f} G MACs, "
            f"with DFT front end {self.total_macs_dft / 1e9:.3f} G, "
            f"with FFT front end {self.total_macs_fft / 1e9:.3f} G",
            "",
            "| layer | module | in → out | kernel | output T×F | params | MACs (M) |",
            "|---|---|---|---|---|---:|---:|",
        ]
        lines += [
            f"| {r.name} | `{r.module}` | {r.in_channels} → {r.out_channels} | {r.kernel} | {r.output_map} "
            f"| {r.params:,} | {r.macs / 1e6:,.2f} |"
            for r in self.layers
        ]
        return "\n".join(lines)


def profile_model(model: AudioTagger, seconds: float = 10.0, sample_rate: int | None = None) -> ModelProfile:
    """Count parameters and MACs of ``model`` for a ``seconds``-long clip (any length, batch 1).

    ``sample_rate`` defaults to the model's front end; passing a different one is an error, since
    the frame count depends on the front end's hop length.
    """
    config = model.logmel.config
    if sample_rate is not None and sample_rate != config.sample_rate:
        raise ValueError(f"model front end runs at {config.sample_rate} Hz, got sample_rate={sample_rate}")
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    frames = model.logmel.num_frames(round(seconds * config.sample_rate))
    param = next(model.parameters())
    logmel = torch.zeros(1, 1, frames, config.n_mels, dtype=param.dtype, device=param.device)

    counted = (nn.Conv2d, nn.Linear)
    leaves = [m for m in model.modules() if not any(m.children())]
    custom_ops = {type(m): zero_ops for m in leaves if not isinstance(m, counted)}
    shapes: dict[nn.Module, tuple[int, ...]] = {}
    hooks = [
        m.register_forward_hook(lambda mod, _inp, out: shapes.__setitem__(mod, tuple(out.shape)))
        for m in leaves
        if isinstance(m, counted)
    ]
    was_training = model.training
    try:
        macs, _, tree = thop.profile(
            FeaturesPath(model), inputs=(logmel,), custom_ops=custom_ops, verbose=False, ret_layer_info=True
        )
    finally:
        model.train(was_training)  # thop puts the wrapper (and so the model) back in train mode
        for hook in hooks:
            hook.remove()
        for module in model.modules():  # thop leaves these buffers on modules it did not hook
            module._buffers.pop("total_ops", None)
            module._buffers.pop("total_params", None)
    layer_macs = _flatten_thop_tree(tree["model"][2])

    n_freqs = config.n_fft // 2 + 1
    fft_per_frame = (
        config.n_fft + 1.25 * config.n_fft * math.log2(config.n_fft) + 2 * n_freqs + n_freqs * config.n_mels
    )
    return ModelProfile(
        model=type(model).__name__,
        seconds=seconds,
        sample_rate=config.sample_rate,
        frames=frames,
        params=count_parameters(model),
        macs=int(macs),
        frontend_macs_dft=frames * n_freqs * (2 * config.n_fft + config.n_mels),
        frontend_macs_fft=round(frames * fft_per_frame),
        stft_kernel_params=2 * n_freqs * config.n_fft,
        layers=_layer_rows(model, shapes, layer_macs),
    )


def _flatten_thop_tree(tree: dict[str, Any], prefix: str = "") -> dict[str, int]:
    """thop's nested ``{name: (ops, params, children)}`` → ``{qualified_name: ops}`` for leaves."""
    flat: dict[str, int] = {}
    for name, (ops, _params, children) in tree.items():
        qualified = f"{prefix}{name}"
        flat.update(_flatten_thop_tree(children, qualified + ".") if children else {qualified: int(ops)})
    return flat


def _layer_rows(
    model: AudioTagger, shapes: dict[nn.Module, tuple[int, ...]], layer_macs: dict[str, int]
) -> tuple[LayerProfile, ...]:
    """Convs first (C1…Cn in forward order), then fc1 and fc, as in the E-PANNs table."""
    rows = []
    conv_index = 0
    modules = [(q, m) for q, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    modules += [(q, m) for q, m in model.named_modules() if isinstance(m, nn.Linear)]
    for qualified, module in modules:
        if isinstance(module, nn.Conv2d):
            conv_index += 1
            name, shape = f"C{conv_index}", shapes[module]
            kernel, output_map = "×".join(map(str, module.kernel_size)), f"{shape[2]}×{shape[3]}"
            in_ch, out_ch = module.in_channels, module.out_channels
        else:
            name = "fc" if module is model.fc_audioset else qualified
            kernel, output_map = "—", "—"
            in_ch, out_ch = module.in_features, module.out_features
        params = sum(p.numel() for p in module.parameters() if p.requires_grad)
        rows.append(
            LayerProfile(name, qualified, in_ch, out_ch, kernel, output_map, params, layer_macs[qualified])
        )
    return tuple(rows)
