"""PANNs' two training augmentations, SpecAugment and mixup, both acting on the log-mel after ``bn0``.

Facts implemented (reference §4): SpecAugment drops 2 time stripes narrower than 64 frames, then
2 frequency stripes narrower than 8 bins, per example, only in training; mixup draws one
λ ~ Beta(α, α) (α = 1: uniform) per consecutive pair of a 2B batch and mixes inputs and targets
with ``[λ1, 1−λ1, λ2, 1−λ2, …]``. The model mixes its log-mels with
:func:`panns_lite.models.mix_pairs`; :func:`mix_targets` mixes the targets with that very function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from panns_lite.models import mix_pairs


class SpecAugment(nn.Module):
    """Zero random time and frequency stripes of a (B, C, T, F) log-mel, per example, in training only.

    As torchlibrosa's ``SpecAugmentation`` (reference §4), for each example and each stripe:
    width ``w`` uniform in {0, …, drop_width − 1} and start uniform in {0, …, total − w − 1}
    (PANNs draws ``randint(0, total − w)``, exclusive high), rows ``start … start + w − 1`` set to 0.
    Time stripes (dim 2) and frequency stripes (dim 3) are drawn independently, so the order PANNs
    applies them in does not change the result. One consequence kept on purpose: a stripe never
    reaches the last frame or the last bin.

    Differences from PANNs, none of which changes the distribution: the input is not modified (a new
    tensor is returned; PANNs zeroes in place), the stripes of the whole batch are drawn in four
    vectorised calls (so the random stream is not PANNs' draw-by-draw one), and ``generator`` (a
    ``torch.Generator``, the stripes being drawn on its device; None: the global CPU RNG) makes the
    stripes reproducible: its state is what a checkpoint saves to resume bit-exactly. It is a plain
    attribute, not a state-dict entry. Each axis must hold at least ``drop_width`` rows, so that
    every width fits (PANNs would fail in ``randint`` otherwise).
    """

    def __init__(
        self,
        time_drop_width: int = 64,
        time_stripes_num: int = 2,
        freq_drop_width: int = 8,
        freq_stripes_num: int = 2,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if min(time_drop_width, freq_drop_width) < 1 or min(time_stripes_num, freq_stripes_num) < 0:
            raise ValueError(
                "drop widths must be ≥ 1 and stripe counts ≥ 0, got "
                f"{time_drop_width}, {time_stripes_num}, {freq_drop_width}, {freq_stripes_num}"
            )
        self.time_drop_width, self.time_stripes_num = time_drop_width, time_stripes_num
        self.freq_drop_width, self.freq_stripes_num = freq_drop_width, freq_stripes_num
        self.generator = generator

    def extra_repr(self) -> str:
        return (
            f"time_drop_width={self.time_drop_width}, time_stripes_num={self.time_stripes_num}, "
            f"freq_drop_width={self.freq_drop_width}, freq_stripes_num={self.freq_stripes_num}"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        if x.dim() != 4:
            raise ValueError(f"SpecAugment expects (batch, channels, time, freq), got shape {tuple(x.shape)}")
        time = self._dropped(x.shape[0], x.shape[2], self.time_drop_width, self.time_stripes_num, "frames")
        freq = self._dropped(x.shape[0], x.shape[3], self.freq_drop_width, self.freq_stripes_num, "mel bins")
        drop = time[:, None, :, None] | freq[:, None, None, :]
        return x.masked_fill(drop.to(x.device), 0.0)

    def _dropped(self, batch: int, total: int, drop_width: int, stripes: int, unit: str) -> torch.Tensor:
        """(batch, total) bool: True where one of ``stripes`` random stripes per example lies."""
        if total < drop_width:
            raise ValueError(f"SpecAugment needs at least {drop_width} {unit} (drop width), got {total}")
        device = self.generator.device if self.generator is not None else torch.device("cpu")
        width = torch.randint(0, drop_width, (batch, stripes, 1), generator=self.generator, device=device)
        # start uniform in {0, …, total − width − 1}: floor of a float64 uniform times the count
        # (randint has no per-element bound; the float64 bias is ~total / 2**53)
        start = (
            torch.rand((batch, stripes, 1), generator=self.generator, device=device, dtype=torch.float64)
            * (total - width)
        ).long()
        position = torch.arange(total, device=device)
        return ((position >= start) & (position < start + width)).any(dim=1)


def _check_alpha(alpha: float) -> None:
    if not alpha > 0:
        raise ValueError(f"mixup alpha must be > 0 (Beta(α, α)), got {alpha}")


def mixup_lambdas(rng: np.random.Generator, batch_size: int, alpha: float = 1.0) -> np.ndarray:
    """``[λ1, 1−λ1, λ2, 1−λ2, …]`` (float32, length ``batch_size``), one λ ~ Beta(α, α) per pair.

    ``batch_size`` is the number of clips fed to the model (PANNs: 64, mixed down to 32;
    reference §4), so it must be even. PANNs draws from ``np.random.RandomState(1234)``; pass a seeded
    ``np.random.default_rng`` and keep its state in checkpoints to resume exactly.
    """
    _check_alpha(alpha)
    if batch_size < 2 or batch_size % 2:
        raise ValueError(f"mixup needs an even batch of at least 2 clips, got {batch_size}")
    lam = rng.beta(alpha, alpha, size=batch_size // 2).astype(np.float32)
    return np.stack([lam, 1.0 - lam], axis=1).reshape(-1)


def mix_targets(targets: torch.Tensor, lambdas: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(2B, C) targets → (B, C) soft targets ``λ_{2k}·t_{2k} + λ_{2k+1}·t_{2k+1}``, as the model mixes inputs.

    Bool targets are taken as 0/1 floats. Errors (odd batch, wrong λ length) come from ``mix_pairs``.
    """
    targets = torch.as_tensor(targets)
    if not targets.is_floating_point():
        targets = targets.float()
    return mix_pairs(targets, torch.as_tensor(lambdas))


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations a training preset uses; the defaults are CNN14's (reference §4)."""

    spec_augment: bool = True
    mixup: bool = True
    mixup_alpha: float = 1.0
    time_drop_width: int = 64
    time_stripes_num: int = 2
    freq_drop_width: int = 8
    freq_stripes_num: int = 2

    def __post_init__(self) -> None:
        _check_alpha(self.mixup_alpha)
        self.spec_augmenter()  # checks the stripe settings now, not at the first training step

    def spec_augmenter(self, generator: torch.Generator | None = None) -> SpecAugment | None:
        """The module to pass as a model's ``spec_augment`` (None when SpecAugment is off)."""
        if not self.spec_augment:
            return None
        return SpecAugment(
            self.time_drop_width,
            self.time_stripes_num,
            self.freq_drop_width,
            self.freq_stripes_num,
            generator,
        )
