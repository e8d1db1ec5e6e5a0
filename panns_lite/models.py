"""PANNs audio-tagging CNNs: Cnn14 (with E-PANNs-style per-layer widths), Cnn10, Cnn6, MobileNetV1.

Every model is the same pipeline (reference §2): log-mel front end → ``bn0`` over mel bins →
SpecAugment (training only) → mixup → a convolutional body → mean over frequency → max + mean over
time → dropout 0.5 → ``fc1`` + ReLU → ``fc_audioset`` + sigmoid. Only the body differs, so the stem
and both heads live once in :class:`AudioTagger`. Attribute names follow the official checkpoints
(``bn0``, ``conv_block{i}.conv1/bn1/conv2/bn2``, ``fc1``, ``fc_audioset``) so loading one is a
matter of dropping the front-end tensors (see ``panns_lite.checkpoints``).
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from panns_lite.features import PANNS_32K, FrontEndConfig, LogMel
from panns_lite.runtime import network_precision

CNN14_WIDTHS: tuple[int, ...] = (64, 64, 128, 128, 256, 256, 512, 512, 1024, 1024, 2048, 2048)
"""Output channels of C1…C12 (reference §2, E-PANNs layer names)."""
CNN10_WIDTHS: tuple[int, ...] = (64, 64, 128, 128, 256, 256, 512, 512)
CNN6_WIDTHS: tuple[int, ...] = (64, 128, 256, 512)
MOBILENET_V1_WIDTHS: tuple[int, ...] = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
"""Output channels of the stem conv and the 13 depthwise-separable blocks (reference §3)."""
MOBILENET_V1_POOLS: tuple[int, ...] = (2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)
"""2×2 average pools where the original MobileNetV1 has stride 2 (reference §3)."""

SpecAugment = Callable[[torch.Tensor], torch.Tensor]


def scaled_widths(multiplier: float, base: Sequence[int] = CNN14_WIDTHS) -> tuple[int, ...]:
    """Multiply every width by ``multiplier`` and round, keeping at least one channel per layer.

    Used to build narrow CNN14s for CI and quick experiments with the exact PANNs topology.
    """
    if multiplier <= 0:
        raise ValueError(f"width multiplier must be > 0, got {multiplier}")
    return tuple(max(1, round(w * multiplier)) for w in base)


def _check_widths(widths: Sequence[int], expected: int, model: str) -> tuple[int, ...]:
    widths = tuple(int(w) for w in widths)
    if len(widths) != expected or min(widths) < 1:
        raise ValueError(f"{model} needs {expected} positive widths, got {widths}")
    return widths


def _check_dropout(p: float, name: str) -> float:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), got {p}")
    return float(p)


def init_panns_weights(module: nn.Module) -> None:
    """PANNs init (reference §2): xavier-uniform conv/linear weights, zero biases, BN γ=1, β=0."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class ConvBlock(nn.Module):
    """``conv{j}`` (k×k, padding k//2, no bias) → ``bn{j}`` → ReLU for each width, then avg-pool.

    ``ConvBlock(in, mid, out)`` is the CNN14/Cnn10 block (reference §2); the two widths may
    differ, which is what a pruned CNN14 needs (E-PANNs ``ConvBlock_pruned``, reference §10.1).
    ``ConvBlock(in, out, kernel_size=5)`` is Cnn6's single 5×5 conv block (reference §3).
    """

    def __init__(
        self, in_channels: int, *widths: int, kernel_size: int = 3, pool_size: tuple[int, int] = (2, 2)
    ) -> None:
        super().__init__()
        if not widths:
            raise ValueError("ConvBlock needs at least one output width")
        self.num_convs = len(widths)
        self.pool_size = pool_size
        channels = (in_channels, *widths)
        for j in range(self.num_convs):
            conv = nn.Conv2d(channels[j], channels[j + 1], kernel_size, padding=kernel_size // 2, bias=False)
            self.add_module(f"conv{j + 1}", conv)
            self.add_module(f"bn{j + 1}", nn.BatchNorm2d(channels[j + 1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for j in range(1, self.num_convs + 1):
            x = F.relu(getattr(self, f"bn{j}")(getattr(self, f"conv{j}")(x)))
        if self.pool_size != (1, 1):
            x = F.avg_pool2d(x, self.pool_size)
        return x


class AudioTagger(nn.Module):
    """Stem and heads shared by all PANNs taggers; subclasses provide :meth:`body`.

    Hooks for training:

    * ``spec_augment`` (constructor): a callable on the normalised log-mel (B, 1, T, M), applied only
      in training mode, right after ``bn0`` (reference §4). It should hold no state-dict entries.
    * ``mixup_lambda`` (forward): a (N,) vector ``[λ1, 1−λ1, λ2, 1−λ2, …]`` for an even batch N;
      after ``bn0`` and SpecAugment, clip k becomes ``λ_{2k}·x_{2k} + λ_{2k+1}·x_{2k+1}``, so the
      outputs have batch N/2 (reference §4). It is applied whenever given, in any mode.
    * :meth:`forward_features` starts from a cached log-mel; :meth:`forward` is the front end
      followed by exactly that method.
    """

    def __init__(
        self,
        *,
        classes_num: int,
        feature_dim: int,
        embed_dim: int,
        frontend: FrontEndConfig,
        time_downsampling: int,
        spec_augment: SpecAugment | None,
        arch_kwargs: dict[str, Any],
        head_dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if classes_num < 1 or embed_dim < 1:
            raise ValueError(f"classes_num and embed_dim must be ≥ 1, got {classes_num}, {embed_dim}")
        self.head_dropout = _check_dropout(head_dropout, "head_dropout")
        self.time_downsampling = time_downsampling
        self.logmel = LogMel.from_config(frontend, min_frames=time_downsampling)
        self.bn0 = nn.BatchNorm2d(frontend.n_mels)
        self.spec_augment = spec_augment
        self.fc1 = nn.Linear(feature_dim, embed_dim, bias=True)
        self.fc_audioset = nn.Linear(embed_dim, classes_num, bias=True)
        self._arch_kwargs = {
            **arch_kwargs,
            "classes_num": classes_num,
            "embed_dim": embed_dim,
            "frontend": frontend,
        }

    def architecture(self) -> dict[str, Any]:
        """Class name and constructor kwargs as plain data, enough to rebuild the model (checkpoints).

        The dropout rates are read from the attributes, so a rate set on a loaded model (a training
        run's ``dropout`` settings) is what its next checkpoint records.
        """
        arch = {**self._arch_kwargs, **self.dropout_rates()}
        kwargs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in arch.items()}
        kwargs["frontend"] = asdict(kwargs["frontend"])
        return {"name": type(self).__name__, "kwargs": kwargs}

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, T, M) normalised log-mel → (B, C, T', F') feature map."""
        raise NotImplementedError

    def dropout_rates(self) -> dict[str, float]:
        """The training-time dropout probabilities by constructor argument name."""
        return {"head_dropout": self.head_dropout}

    def set_dropout(self, **rates: float) -> None:
        """Change dropout probabilities by constructor argument name (e.g. to fine-tune a loaded model)."""
        unknown = sorted(set(rates) - set(self.dropout_rates()))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no {', '.join(unknown)} (it has {sorted(self.dropout_rates())})"
            )
        for name, rate in rates.items():
            setattr(self, name, _check_dropout(rate, name))

    def reset_head(self, classes_num: int) -> None:
        """Replace the classifier by a fresh ``embed_dim → classes_num`` layer (PANNs' ``fc_transfer``).

        PANNs' Transfer_Cnn14 keeps the unused 527-way head and adds ``fc_transfer`` on the embedding
        (reference §9); here the new layer takes the old head's place, so the model stays one
        plain tagger that saves and reloads with its new class count.
        """
        if classes_num < 1:
            raise ValueError(f"classes_num must be ≥ 1, got {classes_num}")
        self.fc_audioset = nn.Linear(self.fc1.out_features, classes_num, bias=True)
        init_panns_weights(self.fc_audioset)
        self._arch_kwargs["classes_num"] = classes_num

    def forward(
        self, waveform: torch.Tensor, mixup_lambda: torch.Tensor | None = None, framewise: bool = False
    ) -> dict[str, torch.Tensor]:
        """Waveform (B, L) → outputs of :meth:`forward_features`."""
        return self.forward_features(self.logmel(waveform), mixup_lambda, framewise)

    def forward_features(
        self, logmel: torch.Tensor, mixup_lambda: torch.Tensor | None = None, framewise: bool = False
    ) -> dict[str, torch.Tensor]:
        """Log-mel (B, 1, T, M) → ``clipwise_output`` (B, C) and ``embedding`` (B, embed_dim).

        With ``framewise=True`` it also returns ``segmentwise_output`` (B, T', C) and
        ``framewise_output`` (B, T, C) from the decision-level-max head (reference §3
        Cnn14_DecisionLevelMax) applied to the same feature map with the same weights, and
        ``segment_embedding`` (B, T', embed_dim): the ReLU(fc1) vector that head classifies in each
        segment, the time-resolved counterpart of ``embedding`` (:mod:`panns_lite.hear`). That head
        smooths over 3 segments and classifies each segment, so max over time of the framewise
        output is *not* the clipwise output (which classifies the max+mean pooled vector); it is
        exactly the max over segments of ``segmentwise_output``. Training skips it by default.
        """
        x = self.bn0(logmel.transpose(1, 3)).transpose(1, 3)
        if self.training and self.spec_augment is not None:
            x = self.spec_augment(x)
        if mixup_lambda is not None:
            x = mix_pairs(x, mixup_lambda)
        feature_map = self.body(x)
        out = self._clip_head(feature_map)
        if framewise:
            out["segment_embedding"] = self._segment_embedding(feature_map)
            segmentwise = F.dropout(out["segment_embedding"], p=self.head_dropout, training=self.training)
            out["segmentwise_output"] = torch.sigmoid(self.fc_audioset(segmentwise))
            out["framewise_output"] = self.frames_from_segments(out["segmentwise_output"], logmel.shape[2])
        return out

    def _clip_head(self, feature_map: torch.Tensor) -> dict[str, torch.Tensor]:
        x = feature_map.mean(dim=3)
        x = x.amax(dim=2) + x.mean(dim=2)
        x = F.dropout(x, p=self.head_dropout, training=self.training)
        x = F.relu(self.fc1(x))
        embedding = F.dropout(x, p=self.head_dropout, training=self.training)
        return {"clipwise_output": torch.sigmoid(self.fc_audioset(x)), "embedding": embedding}

    def _segment_embedding(self, feature_map: torch.Tensor) -> torch.Tensor:
        x = feature_map.mean(dim=3)
        x = F.max_pool1d(x, 3, stride=1, padding=1) + F.avg_pool1d(x, 3, stride=1, padding=1)
        x = F.dropout(x, p=self.head_dropout, training=self.training).transpose(1, 2)
        return F.relu(self.fc1(x))

    def frames_from_segments(self, segmentwise: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B, T', D) per segment → (B, T, D) per frame: each segment repeated ``time_downsampling``
        times, then padded with the last frame to ``num_frames``."""
        frames = segmentwise.repeat_interleave(self.time_downsampling, dim=1)[:, :num_frames]
        missing = num_frames - frames.shape[1]
        return torch.cat([frames, frames[:, -1:].expand(-1, missing, -1)], dim=1)


class FeaturesPath(nn.Module):
    """``forward`` = the wrapped tagger's ``forward_features``: the model as a function of log-mels.

    Wrappers that hook ``forward`` (thop when profiling, DistributedDataParallel when training on
    cached log-mels) need the log-mel path to be a module's ``forward``; the parameters are shared.
    """

    def __init__(self, model: AudioTagger) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, logmel: torch.Tensor, mixup_lambda: torch.Tensor | None = None, framewise: bool = False
    ) -> dict[str, torch.Tensor]:
        return self.model.forward_features(logmel, mixup_lambda, framewise)


class AtPrecision(nn.Module):
    """``forward`` = the tagger's ``forward`` with the front end in float32 and the network at
    ``precision`` (:func:`panns_lite.runtime.network_precision`): a log of a power spectrum would lose
    too much in bfloat16, the convolutions do not (``benchmarks/bench_tagging_speed.py``)."""

    def __init__(self, model: AudioTagger, precision: str = "float32") -> None:
        super().__init__()
        network_precision(precision, torch.device("cpu"))  # checks the name
        self.model = model
        self.precision = precision

    def forward(self, waveform: torch.Tensor, framewise: bool = False) -> dict[str, torch.Tensor]:
        logmel = self.model.logmel(waveform)
        with network_precision(self.precision, waveform.device):
            return self.model.forward_features(logmel, framewise=framewise)


def mix_pairs(x: torch.Tensor, mixup_lambda: torch.Tensor) -> torch.Tensor:
    """PANNs ``do_mixup`` (reference §4): out_k = λ_{2k}·x_{2k} + λ_{2k+1}·x_{2k+1}, batch N → N/2."""
    n = x.shape[0]
    if mixup_lambda.shape != (n,) or n % 2:
        raise ValueError(
            f"mixup_lambda must have shape ({n},) for an even batch of {n}, got {tuple(mixup_lambda.shape)}"
        )
    lam = mixup_lambda.to(dtype=x.dtype, device=x.device).view(n, *([1] * (x.dim() - 1)))
    return lam[0::2] * x[0::2] + lam[1::2] * x[1::2]


class _ConvBlockNet(AudioTagger):
    """A stack of :class:`ConvBlock` s named ``conv_block1…``, dropout after each (Cnn6/10/14).

    Subclasses only declare their structure as class attributes; ``widths=None`` and
    ``embed_dim=None`` mean the published defaults, as do ``dropout=0.2`` (after every block) and
    ``head_dropout=0.5`` (before ``fc1`` and on the embedding), PANNs' rates (reference §2). The
    rates are arguments because they are a training choice, not part of the trained function:
    they make no difference in eval mode, so any rates load any weights.
    """

    DEFAULT_WIDTHS: tuple[int, ...]
    DEFAULT_EMBED_DIM: int
    CONVS_PER_BLOCK: int
    KERNEL_SIZE: int
    POOL_SIZES: tuple[tuple[int, int], ...]

    def __init__(
        self,
        classes_num: int = 527,
        widths: Sequence[int] | None = None,
        embed_dim: int | None = None,
        frontend: FrontEndConfig = PANNS_32K,
        spec_augment: SpecAugment | None = None,
        dropout: float = 0.2,
        head_dropout: float = 0.5,
    ) -> None:
        widths = _check_widths(
            self.DEFAULT_WIDTHS if widths is None else widths, len(self.DEFAULT_WIDTHS), type(self).__name__
        )
        super().__init__(
            classes_num=classes_num,
            feature_dim=widths[-1],
            embed_dim=self.DEFAULT_EMBED_DIM if embed_dim is None else embed_dim,
            frontend=frontend,
            time_downsampling=math.prod(pool[0] for pool in self.POOL_SIZES),
            spec_augment=spec_augment,
            arch_kwargs={"widths": widths},
            head_dropout=head_dropout,
        )
        self.dropout = _check_dropout(dropout, "dropout")
        self.num_blocks = len(self.POOL_SIZES)
        in_channels = 1
        for i, pool in enumerate(self.POOL_SIZES):
            block_widths = widths[i * self.CONVS_PER_BLOCK : (i + 1) * self.CONVS_PER_BLOCK]
            block = ConvBlock(in_channels, *block_widths, kernel_size=self.KERNEL_SIZE, pool_size=pool)
            self.add_module(f"conv_block{i + 1}", block)
            in_channels = block_widths[-1]
        self.apply(init_panns_weights)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, self.num_blocks + 1):
            x = F.dropout(getattr(self, f"conv_block{i}")(x), p=self.dropout, training=self.training)
        return x

    def dropout_rates(self) -> dict[str, float]:
        return {"dropout": self.dropout, **super().dropout_rates()}


class Cnn14(_ConvBlockNet):
    """CNN14 (reference §2): six double-3×3 ConvBlocks, 2×2 avg-pool after blocks 1–5, none after 6.

    ``Cnn14(classes_num=527, widths=None, embed_dim=None → 2048, frontend=PANNS_32K, spec_augment=None,
    dropout=0.2, head_dropout=0.5)``.
    ``widths`` are the 12 conv widths C1…C12; fc1 takes C12's width as input, so the E-PANNs
    pruned network (C7–C12 halved, fc1 1024→2048, reference §10.1) is ``Cnn14(widths=...)``.
    80,753,615 trainable parameters at the default widths and 527 classes.
    """

    DEFAULT_WIDTHS = CNN14_WIDTHS
    DEFAULT_EMBED_DIM = 2048
    CONVS_PER_BLOCK = 2
    KERNEL_SIZE = 3
    POOL_SIZES = ((2, 2),) * 5 + ((1, 1),)


class Cnn10(_ConvBlockNet):
    """Cnn10 (reference §3): four double-3×3 ConvBlocks (64…512), 2×2 pools, fc1 512; 5,219,279 params."""

    DEFAULT_WIDTHS = CNN10_WIDTHS
    DEFAULT_EMBED_DIM = 512
    CONVS_PER_BLOCK = 2
    KERNEL_SIZE = 3
    POOL_SIZES = ((2, 2),) * 4


class Cnn6(_ConvBlockNet):
    """Cnn6 (reference §3): four single-5×5 conv blocks (64…512), 2×2 pools, fc1 512; 4,837,455 params."""

    DEFAULT_WIDTHS = CNN6_WIDTHS
    DEFAULT_EMBED_DIM = 512
    CONVS_PER_BLOCK = 1
    KERNEL_SIZE = 5
    POOL_SIZES = ((2, 2),) * 4


def _pool_or_identity(size: int) -> nn.Module:
    return nn.AvgPool2d(size) if size > 1 else nn.Identity()


class MobileNetV1(AudioTagger):
    """PANNs MobileNetV1 (reference §3); 4,796,303 trainable parameters at 527 classes.

    ``features`` = stem [conv3×3 1→32, pool, BN, ReLU] + 13 depthwise-separable blocks
    [depthwise conv3×3, pool, BN, ReLU, pointwise conv1×1, BN, ReLU]. No conv has a bias; every
    stride-2 of the original network is a stride-1 conv followed by a 2×2 average pool (an
    ``Identity`` where the original stride is 1). fc1 is 1024→1024 with bias. This structure gives
    exactly the published parameter count.
    """

    DEFAULT_WIDTHS = MOBILENET_V1_WIDTHS

    def __init__(
        self,
        classes_num: int = 527,
        widths: Sequence[int] | None = None,
        embed_dim: int = 1024,
        frontend: FrontEndConfig = PANNS_32K,
        spec_augment: SpecAugment | None = None,
        head_dropout: float = 0.5,
    ) -> None:
        widths = _check_widths(MOBILENET_V1_WIDTHS if widths is None else widths, 14, "MobileNetV1")
        super().__init__(
            classes_num=classes_num,
            feature_dim=widths[-1],
            embed_dim=embed_dim,
            frontend=frontend,
            time_downsampling=math.prod(MOBILENET_V1_POOLS),
            spec_augment=spec_augment,
            arch_kwargs={"widths": widths},
            head_dropout=head_dropout,
        )
        layers = [
            nn.Sequential(
                nn.Conv2d(1, widths[0], 3, padding=1, bias=False),
                _pool_or_identity(MOBILENET_V1_POOLS[0]),
                nn.BatchNorm2d(widths[0]),
                nn.ReLU(inplace=True),
            )
        ]
        for c_in, c_out, pool in zip(widths[:-1], widths[1:], MOBILENET_V1_POOLS[1:]):
            layers.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False),
                    _pool_or_identity(pool),
                    nn.BatchNorm2d(c_in),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(c_in, c_out, 1, bias=False),
                    nn.BatchNorm2d(c_out),
                    nn.ReLU(inplace=True),
                )
            )
        self.features = nn.Sequential(*layers)
        self.apply(init_panns_weights)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


MODELS: dict[str, type[AudioTagger]] = {cls.__name__: cls for cls in (Cnn14, Cnn10, Cnn6, MobileNetV1)}
"""Model classes by name, used to rebuild a model from a saved architecture description."""


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, the figure PANNs and E-PANNs report (reference §2)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def head_parameters(model: AudioTagger) -> int:
    """Trainable parameters of the head (``fc1`` and the classifier): what filter pruning of the
    convolutions cannot remove (chapter 6)."""
    return count_parameters(model.fc1) + count_parameters(model.fc_audioset)
