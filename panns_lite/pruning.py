"""E-PANNs: data-free filter pruning of CNN14 (reference §10).

The procedure, step by step:

1. **Score** every output filter of a conv layer from its weights alone
   (:func:`filter_importance`; criteria ``operator_norm`` (the E-PANNs one, reference §10.2), its variant
   ``operator_norm_squares``, ``l1`` and ``random`` as baselines; one more is a single function
   under :func:`register_criterion`).
2. **Select** the top ``⌊(1−p)·N⌋`` filters of each listed layer, each layer scored on its own
   *unpruned* weights, the kept indices in their original order (:func:`select_filters`).
3. **Rebuild** a plain, narrower :class:`~panns_lite.models.Cnn14` and copy the kept slices:
   conv out-channels, the BN entries after it, the next conv's in-channels and, for C12, fc1's
   input columns (:func:`rebuild_pruned`, reference §10.3). :func:`prune` is steps 1–3 in one call.

Layers are named as in E-PANNs: ``C1`` … ``C12`` = ``conv_block1.conv1``, ``conv_block1.conv2``,
…, ``conv_block6.conv2``. The released E-PANNs model is ``prune(model, epanns_ratios(0.5))``.

Our counts against the published figures (10 s, 32 kHz; reference §10.4, checked in
``tests/test_pruning.py`` through :func:`size_reduction`): uniform pruning of C7–C12 reproduces
41 % fewer parameters at 25 %, 71 % (70 % with the STFT kernels, 92.5 MB) and 36 % fewer MACs at
50 %, and 46 % fewer MACs at 75 %. Two commonly quoted figures do **not** follow from uniform
C7–C12 pruning: "24 % fewer MACs" at 25 % (we count 20.8 % with the DFT front end, 22.0 % conv+fc)
and "78 % fewer parameters" at 75 % (uniform gives 89.9 %; 78 % matches C7–C11 at 75 % with C12
kept, ``epanns_ratios(0.75, "C7-C11")``: 77.2 %). The paper's table could not be read to settle
which configuration it used.
"""

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from panns_lite.models import Cnn14
from panns_lite.profile import ModelProfile

LAYERS: tuple[str, ...] = tuple(f"C{i}" for i in range(1, 13))
"""E-PANNs names of CNN14's conv layers, in forward order (reference §2)."""
BN_TENSORS: tuple[str, ...] = ("weight", "bias", "running_mean", "running_var")
"""Per-channel BN entries that follow their conv's filters (``num_batches_tracked`` is a scalar)."""

Criterion = Callable[[torch.Tensor, int], torch.Tensor]
"""``(conv weight (N, C, kh, kw), seed) → (N,) float64 scores``; higher = more important."""
CRITERIA: dict[str, Criterion] = {}
"""Registered filter-importance criteria by name (see :func:`register_criterion`)."""


def register_criterion(name: str) -> Callable[[Criterion], Criterion]:
    """Decorator adding a criterion to :data:`CRITERIA` under ``name``; names are never overwritten."""

    def add(function: Criterion) -> Criterion:
        if name in CRITERIA:
            raise ValueError(f"criterion {name!r} is already registered")
        CRITERIA[name] = function
        return function

    return add


@register_criterion("operator_norm")
def operator_norm_importance(weight: torch.Tensor, seed: int) -> torch.Tensor:
    """Singh & Plumbley's operator-norm score, exactly as their code computes it (reference §10.2).

    For each input channel c, the N filter slices W[n, c] (flattened, k² values) are centred over
    the filters; the dominant right singular vector of that N×k² matrix, signed so that filter 0's
    left-singular coordinate is ≥ 0, is the channel's direction d_c. A filter's score is
    s_n = Σ_c ⟨W[n, c] − μ_c, d_c⟩, the *signed* projections summed over channels before squaring,
    and the importance is s_n² / max_m s_m². A filter close to the channel means everywhere is
    unimportant however large its weights are. ``seed`` is unused: the score is deterministic.
    An all-zero score vector (e.g. identical filters) stays all zero.

    The first right singular vector v₁ of the centred N×k² matrix Ã is taken as the top
    eigenvector of the k²×k² Gram matrix ÃᵀÃ (the same vector, in float64), and Ã·v₁ = σ₁u₁ gives
    the projections and the sign of u₁[0] at once; for CNN14's 2048-filter layers this is two orders
    of magnitude faster than a batched SVD of the tall N×k² matrices. (When σ₁ = σ₂ the direction
    is not unique, with either method.)
    """
    del seed
    projections = channel_projections(weight)
    sign = torch.where(projections[:, :1] < 0, -1.0, 1.0).to(torch.float64)  # fixed by filter 0
    return _relative((sign * projections).sum(dim=0).square())


@register_criterion("operator_norm_squares")
def operator_norm_squares_importance(weight: torch.Tensor, seed: int) -> torch.Tensor:
    """The operator-norm projections squared *before* summing over channels: Σ_c p_{c,n}² / max.

    A variant, not E-PANNs' criterion: the sign that the published code fixes by filter 0 no longer
    matters, so no filter index is favoured and projections of opposite sign do not cancel (book,
    chapter 6, compares the two).
    """
    del seed
    return _relative(channel_projections(weight).square().sum(dim=0))


def channel_projections(weight: torch.Tensor) -> torch.Tensor:
    """(C, N) float64: p_{c,n} = ⟨W[n, c] − μ_c, v₁(c)⟩, each filter's coordinate along its input
    channel's dominant direction (unsigned: v₁'s sign is whatever the eigensolver returns)."""
    n = weight.shape[0]
    slices = weight.detach().to(torch.float64).reshape(n, weight.shape[1], -1).transpose(0, 1)  # (C, N, k²)
    centred = slices - slices.mean(dim=1, keepdim=True)
    _, eigenvectors = torch.linalg.eigh(centred.transpose(1, 2) @ centred)  # ascending eigenvalues
    return torch.einsum("cnk,ck->cn", centred, eigenvectors[:, :, -1])  # σ₁·u₁ per channel


def _relative(score: torch.Tensor) -> torch.Tensor:
    peak = score.max()
    return score / peak if peak > 0 else torch.zeros_like(score)


@register_criterion("l1")
def l1_importance(weight: torch.Tensor, seed: int) -> torch.Tensor:
    """Entry-wise L1 norm of each filter, the classic magnitude baseline (reference §10.2)."""
    del seed
    return torch.linalg.vector_norm(weight.detach().flatten(1), ord=1, dim=1).to(torch.float64)


@register_criterion("random")
def random_importance(weight: torch.Tensor, seed: int) -> torch.Tensor:
    """Uniform random scores from ``seed``: the chance baseline, the same for the same seed and shape."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(weight.shape[0], generator=generator, dtype=torch.float64)


def filter_importance(conv_weight: torch.Tensor, criterion: str, seed: int = 0) -> torch.Tensor:
    """One float64 score per output filter of a Conv2d weight (N, C, kh, kw); higher = keep."""
    if criterion not in CRITERIA:
        raise ValueError(f"unknown pruning criterion {criterion!r}; known: {sorted(CRITERIA)}")
    if not isinstance(conv_weight, torch.Tensor) or conv_weight.dim() != 4 or conv_weight.shape[0] < 1:
        shape = (
            tuple(conv_weight.shape) if isinstance(conv_weight, torch.Tensor) else type(conv_weight).__name__
        )
        raise ValueError(f"expected a Conv2d weight of shape (N, C, kh, kw), got {shape}")
    return CRITERIA[criterion](conv_weight, seed)


def parse_layers(spec: str | Iterable[str]) -> tuple[str, ...]:
    """``"C7-C12"``, ``"C7,C9"``, ``"C1-C2, C7"`` or a list of names → names in forward order,
    deduplicated."""
    parts = [p.strip() for p in (spec.split(",") if isinstance(spec, str) else spec)]
    chosen: set[int] = set()
    for part in parts:
        match = re.fullmatch(r"C(\d+)(?:\s*-\s*C(\d+))?", part, flags=re.IGNORECASE)
        first, last = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
        if not (1 <= first <= last <= len(LAYERS)):
            raise ValueError(f"bad layer spec {part!r}: use C1…C12, a range like C7-C12, comma-separated")
        chosen.update(range(first, last + 1))
    if not chosen:
        raise ValueError(f"no layers in spec {spec!r}")
    return tuple(LAYERS[i - 1] for i in sorted(chosen))


def epanns_ratios(p: float, layers: str | Iterable[str] = "C7-C12") -> dict[str, float]:
    """Ratio ``p`` for every listed layer; ``epanns_ratios(0.5)`` is the released E-PANNs (reference §10.1).

    The 25 % and 75 % models of the paper are most likely ``epanns_ratios(0.25)`` and, for its
    quoted parameter count, ``epanns_ratios(0.75, "C7-C11")`` (see the module docstring).
    """
    return _check_ratios({name: p for name in parse_layers(layers)})


def keep_count(n_filters: int, ratio: float) -> int:
    """⌊(1−p)·N⌋, at least 1: E-PANNs' ``int(base·(1−p))`` (reference §10.1).

    The Keras scripts of the criterion keep ⌈(1−p)·N⌉ (reference §10.2); the two agree for every power-of-two
    width at p = 25/50/75 %. A 1e-9 guard stops float round-off from dropping a filter
    ((1 − 0.9)·10 is 0.99999… in binary floating point).
    """
    return max(1, math.floor((1.0 - ratio) * n_filters + 1e-9))


def conv_layer(model: Cnn14, name: str) -> nn.Conv2d:
    """The conv module behind an E-PANNs layer name (``C7`` → ``conv_block4.conv1``)."""
    return model.get_submodule(_conv_prefix(name))


def layer_seed(seed: int, name: str) -> int:
    """The seed the ``random`` criterion scores layer ``name`` (Ci) with in a pruning seeded ``seed``:
    ``seed + i``, a different draw per layer."""
    return seed + LAYERS.index(name) + 1


def select_filters(
    model: Cnn14, ratios: Mapping[str, float], criterion: str = "operator_norm", seed: int = 0
) -> dict[str, torch.Tensor]:
    """Indices of the filters to keep in each layer of ``ratios``, ascending (steps 1–2).

    Each layer is scored on its own unpruned weights; ties go to the lower index. The ``random``
    criterion draws each layer from its own seed (:func:`layer_seed`), so layers of equal width are not
    cut alike.
    """
    _check_cnn14(model)
    ratios = _check_ratios(ratios)
    if criterion not in CRITERIA:
        raise ValueError(f"unknown pruning criterion {criterion!r}; known: {sorted(CRITERIA)}")
    kept = {}
    for name, ratio in ratios.items():
        weight = conv_layer(model, name).weight
        scores = filter_importance(weight, criterion, layer_seed(seed, name))
        order = torch.argsort(scores, descending=True, stable=True)
        kept[name] = order[: keep_count(weight.shape[0], ratio)].sort().values
    return kept


def rebuild_pruned(model: Cnn14, kept: Mapping[str, torch.Tensor]) -> Cnn14:
    """A new Cnn14 with only the ``kept`` filters of each listed layer; ``model`` is not changed (step 3).

    Copies every tensor, slicing conv out-channels and their BN entries, the next conv's
    in-channels and, when C12 is pruned, fc1's input columns (reference §10.3). Same classes,
    embedding size and front end; no SpecAugment hook (the trainer sets its own); same train/eval
    mode and device as ``model``.
    """
    _check_cnn14(model)
    index: list[torch.Tensor | None] = [None] * len(LAYERS)
    widths = [conv_layer(model, name).out_channels for name in LAYERS]
    for name, indices in kept.items():
        i = _layer_index(name)
        indices = torch.as_tensor(indices, dtype=torch.long)
        if (
            indices.dim() != 1
            or len(indices) == 0
            or indices.min() < 0
            or indices.max() >= widths[i]
            or (indices.diff() <= 0).any()
        ):
            raise ValueError(
                f"kept indices of {name} must be a non-empty, strictly increasing subset of "
                f"range({widths[i]}), got {indices.tolist()}"
            )
        index[i], widths[i] = indices, len(indices)

    state = model.state_dict()
    new_state = dict(state)
    for i, name in enumerate(LAYERS):
        conv, bn = _conv_prefix(name), _bn_prefix(name)
        weight = state[f"{conv}.weight"]
        if index[i] is not None:
            weight = weight.index_select(0, index[i].to(weight.device))
            for key in BN_TENSORS:
                new_state[f"{bn}.{key}"] = state[f"{bn}.{key}"].index_select(0, index[i].to(weight.device))
        if i > 0 and index[i - 1] is not None:
            weight = weight.index_select(1, index[i - 1].to(weight.device))
        new_state[f"{conv}.weight"] = weight
    if index[-1] is not None:
        new_state["fc1.weight"] = state["fc1.weight"].index_select(
            1, index[-1].to(state["fc1.weight"].device)
        )

    param = next(model.parameters())
    pruned = Cnn14(
        classes_num=model.fc_audioset.out_features,
        widths=widths,
        embed_dim=model.fc1.out_features,
        frontend=model.logmel.config,
        **model.dropout_rates(),
    ).to(device=param.device, dtype=param.dtype)
    pruned.load_state_dict(new_state, strict=True)
    return pruned.train(model.training)


def prune(
    model: Cnn14, ratios: Mapping[str, float], criterion: str = "operator_norm", seed: int = 0
) -> Cnn14:
    """Score, select and rebuild in one call: ``rebuild_pruned(model, select_filters(...))``.

    Use :func:`select_filters` directly when the kept indices are wanted too.
    """
    return rebuild_pruned(model, select_filters(model, ratios, criterion, seed))


@dataclass(frozen=True)
class SizeReduction:
    """Fractions removed by pruning in each of E-PANNs' conventions (reference §10.4).

    * ``params``: trainable parameters (PANNs / E-PANNs model summaries);
    * ``params_with_stft``: plus the frozen STFT kernels (torchsummary "Total"; the abstract's
      "70 % less memory");
    * ``macs``: conv + fc MACs; ``macs_with_dft``: plus the DFT front end (the abstract's "36 % less
      computations", the poster's "21 G MACs" baseline);
    * ``megabytes``: the pruned model's float32 parameter size incl. STFT kernels in MiB, the
      torchsummary "Params size (MB)" (92.53 for the released E-PANNs).
    """

    params: float
    params_with_stft: float
    macs: float
    macs_with_dft: float
    megabytes: float


def size_reduction(base: ModelProfile, pruned: ModelProfile) -> SizeReduction:
    """Compare two :func:`~panns_lite.profile.profile_model` results of the same input length.

    The module docstring lists which published percentages these reproduce and which not.
    """
    if (base.frames, base.sample_rate) != (pruned.frames, pruned.sample_rate):
        raise ValueError(f"profiles of different inputs: {base.frames} vs {pruned.frames} frames")
    return SizeReduction(
        params=1 - pruned.params / base.params,
        params_with_stft=1 - pruned.params_with_stft / base.params_with_stft,
        macs=1 - pruned.macs / base.macs,
        macs_with_dft=1 - pruned.total_macs_dft / base.total_macs_dft,
        megabytes=pruned.params_with_stft * 4 / 2**20,
    )


def _check_cnn14(model: object) -> None:
    if not isinstance(model, Cnn14):
        raise ValueError(f"E-PANNs pruning works on a Cnn14, got {type(model).__name__}")


def _check_ratios(ratios: Mapping[str, float]) -> dict[str, float]:
    checked = {}
    for name, ratio in ratios.items():
        _layer_index(name)
        if not 0.0 <= float(ratio) < 1.0:
            raise ValueError(f"pruning ratio of {name} must be in [0, 1), got {ratio}")
        checked[name] = float(ratio)
    return dict(sorted(checked.items(), key=lambda item: LAYERS.index(item[0])))


def _layer_index(name: str) -> int:
    if name not in LAYERS:
        raise ValueError(f"unknown layer {name!r}; CNN14 layers are C1…C12")
    return LAYERS.index(name)


def _conv_prefix(name: str) -> str:
    i = _layer_index(name)
    return f"conv_block{i // 2 + 1}.conv{i % 2 + 1}"


def _bn_prefix(name: str) -> str:
    i = _layer_index(name)
    return f"conv_block{i // 2 + 1}.bn{i % 2 + 1}"
