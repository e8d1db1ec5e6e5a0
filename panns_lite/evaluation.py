"""Scoring a saved tagger on a packed evaluation set: predictions, targets and PANNs' metrics together.

:mod:`panns_lite.metrics` stays model-free (targets and scores in, numbers out). This module is the
one step before it that a reader of a trained model needs: load ``model.pt`` (or an official /
E-PANNs checkpoint, :func:`~panns_lite.checkpoints.load_checkpoint`), run it in eval mode over every
clip of a packed HDF5 file (PANNs' EvaluateSampler order, reference §5), and keep the clipwise
outputs with the targets, so that per-class AP, the rarest classes or any other view can be
computed from the same predictions. :func:`bootstrap_map` then estimates how far the mAP of a
small evaluation set (the MiniSet's 200 clips) could move with another draw of clips of that size.

A MiniSet has two evaluation splits in the same packed format, the mixture clips
(``config.eval_data``) and the whole recordings (``config.natural_eval_data``): an mAP is reported
for both, so score a model with one :func:`evaluate_checkpoint` call per split.

The trainer's own evaluations run on its float16 log-mel cache
(:class:`~panns_lite.datasets.LogMelCache`); this runs the model on the waveforms, as inference does,
so its mAP can differ from the last entry of ``statistics.json`` (``mAP``, ``natural_mAP``) by that
cache's rounding (at most 1/32 dB per log-mel value). Both score with :func:`predict`, the trainer
on its share of the clips in a ``torchrun`` group.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.distributed as dist

from panns_lite.checkpoints import load_checkpoint
from panns_lite.datasets import ClipDataset, LogMelCache, PackedDataset, check_finite
from panns_lite.export import OnnxModel
from panns_lite.metrics import Scores, evaluate, mean_average_precision
from panns_lite.models import AtPrecision, AudioTagger, FeaturesPath
from panns_lite.runtime import network_precision
from panns_lite.sampling import eval_batches


@dataclass(frozen=True)
class Evaluation:
    """A model's clipwise outputs on an evaluation set, its targets, and the scores computed from them."""

    names: list[str]
    targets: np.ndarray
    """(clips, classes) bool."""
    outputs: np.ndarray
    """(clips, classes) float32 probabilities, in the file's clip order."""
    scores: Scores


def evaluate_checkpoint(
    model_path: str | os.PathLike[str],
    packed_eval: str | os.PathLike[str],
    batch_size: int = 32,
    device: str = "cpu",
) -> Evaluation:
    """Run the checkpoint over every clip of ``packed_eval`` and score it (mAP, mAUC, d′, per class).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` when the model's number of
    classes differs from the file's (a fine-tuned head cannot be scored on AudioSet labels).
    """
    return evaluate_model(
        load_checkpoint(model_path), PackedDataset(packed_eval), batch_size, device, name=str(model_path)
    )


def evaluate_model(
    model: AudioTagger,
    data: ClipDataset,
    batch_size: int = 32,
    device: str = "cpu",
    name: str = "the model",
    precision: str = "float32",
) -> Evaluation:
    """Score ``model`` on every clip of ``data``: waveforms (a packed file), or their log-mels.

    Given a :class:`~panns_lite.datasets.LogMelCache` of the evaluation set (built once with the
    model's front end, which pruning and fine-tuning never change), only the network runs: many
    models scored on one set (chapter 6's pruned variants) then share the front end's cost. A
    float32 cache gives the waveform path's outputs to rounding; float16 moves them by its rounding.

    The model is put in eval mode and its weights in channels-last layout, in place (as the trainer
    keeps them): on CPU the network then runs 1.2–1.3× faster in float32, the outputs moving only by
    float rounding (``benchmarks/bench_evaluation_layout.py``); the book's chapters score dozens of models.
    ``precision`` is the network's (:func:`panns_lite.runtime.network_precision`; the front end and
    the scores stay float32), to measure what bfloat16 inference costs.
    """
    classes = model.fc_audioset.out_features
    if data.targets.shape[1] != classes:
        raise ValueError(f"{name} predicts {classes} classes, the evaluation set has {data.targets.shape[1]}")
    data.check_sample_rate(model.logmel.config.sample_rate, name)
    model = model.to(device, memory_format=torch.channels_last).eval()
    if isinstance(data, LogMelCache):
        with network_precision(precision, torch.device(device)):
            outputs = predict(FeaturesPath(model), data, batch_size, device)
    else:
        outputs = predict(AtPrecision(model, precision), data, batch_size, device)
    return Evaluation(data.names, data.targets, outputs, evaluate(data.targets, outputs))


@torch.no_grad()
def predict(
    net: torch.nn.Module,
    source: ClipDataset,
    batch_size: int,
    device: str | torch.device = "cpu",
    rank: int = 0,
    world_size: int = 1,
) -> np.ndarray:
    """Clipwise outputs (N, C) of every clip of ``source``, in order, gathered over ranks.

    ``net`` maps a batch of ``source`` inputs to the model outputs (the model itself for waveforms,
    its :class:`FeaturesPath` for cached log-mels). One process scores every clip; in a ``torchrun``
    group (the trainer's evaluations pass ``rank`` and ``world_size``) each rank scores its block of
    clips (:func:`~panns_lite.sampling.eval_batches`) and every rank gets all the outputs back.
    """
    was_training = net.training
    net.eval()
    outputs = [np.zeros((0, source.targets.shape[1]), np.float32)]
    for idx in eval_batches(len(source), batch_size, rank, world_size):
        x, _, names = source.get_batch(idx)
        check_finite(x, names, "evaluation")
        outputs.append(net(x.to(device))["clipwise_output"].float().cpu().numpy())
    local = np.concatenate(outputs)
    if world_size > 1:
        gathered: list[Any] = [None] * world_size
        dist.all_gather_object(gathered, local)
        local = np.concatenate(gathered)
    net.train(was_training)
    return local


def evaluate_runtime(runtime: OnnxModel, data: PackedDataset, batch_size: int = 16) -> Evaluation:
    """Score a waveform-mode ONNX export (:class:`~panns_lite.export.OnnxModel`, float or int8) on every
    clip of a packed file, as :func:`evaluate_model` scores the PyTorch model: same clips, same
    order, so the two can be compared clip by clip (:func:`paired_bootstrap`)."""
    if runtime.mode != "waveform":
        raise ValueError(f"{runtime.path} takes log-mels; scoring packed clips needs a waveform-mode export")
    if data.targets.shape[1] != runtime.classes_num:
        raise ValueError(
            f"{runtime.path} predicts {runtime.classes_num} classes, the evaluation set has "
            f"{data.targets.shape[1]}"
        )
    data.check_sample_rate(runtime.sample_rate, str(runtime.path))
    outputs = [
        runtime.run(data.get_batch(np.arange(start, min(start + batch_size, len(data.names))))[0].numpy())[
            "clipwise_output"
        ]
        for start in range(0, len(data.names), batch_size)
    ]
    outputs = np.concatenate(outputs).astype(np.float32)
    return Evaluation(data.names, data.targets, outputs, evaluate(data.targets, outputs))


class Bootstrap(NamedTuple):
    """Bootstrap resamples of an evaluation: the mAP of each and the number of classes it averaged."""

    maps: np.ndarray
    """(resamples,) float."""
    classes: np.ndarray
    """(resamples,) int: classes with a positive among the resampled clips."""


def bootstrap_map(targets: np.ndarray, outputs: np.ndarray, resamples: int = 100, seed: int = 0) -> Bootstrap:
    """The mAP of ``resamples`` bootstrap resamples of the clips (drawn with replacement).

    PANNs reports one mAP on AudioSet's ~20k evaluation clips (reference §7), where a class has
    dozens of positives; on a set of a few hundred clips many classes have one or two, and the mean
    moves noticeably with the draw. The standard deviation of the resampled mAPs estimates by how
    much. Each resample averages the classes that have a positive in it, as
    :func:`~panns_lite.metrics.mean_average_precision` does, so a class whose only positives were
    not drawn drops out of that resample (``classes`` counts what remains): where the rare classes
    score low, the resampled means sit above the full-set mAP, so read their spread, not their
    percentiles, as the uncertainty of the full-set value.
    """
    targets, outputs = np.asarray(targets), np.asarray(outputs)
    if resamples < 1:
        raise ValueError(f"resamples must be ≥ 1, got {resamples}")
    if targets.ndim != 2 or targets.shape != outputs.shape or len(targets) == 0:
        raise ValueError(
            f"targets and outputs must both be non-empty (clips, classes); got {targets.shape} and "
            f"{outputs.shape}"
        )
    return Bootstrap(*resampled_maps(targets, outputs, resample_draws(len(targets), resamples, seed)))


def resample_draws(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) indices of ``n`` clips (or files) drawn with replacement: the one draw every
    bootstrap here makes, so one seed resamples the same items for every system compared."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def resampled_maps(
    targets: np.ndarray, outputs: np.ndarray, draws: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The mAP of every resample ``targets[idx], outputs[idx]`` for ``idx`` in the rows of ``draws``,
    and the number of classes each averaged: :func:`~panns_lite.metrics.mean_average_precision` per
    row, to rounding, without re-sorting the scores for every resample.

    A resample is the original clips, each counted as often as it was drawn. Each class's clips are
    sorted by score once; the true positives and the clips seen at every distinct score (tied scores
    enter together, as in sklearn) are then cumulative sums of those counts, for all resamples at once.
    """
    resamples, n = draws.shape
    counts = np.bincount((draws + n * np.arange(resamples)[:, None]).ravel(), minlength=resamples * n)
    counts = counts.reshape(resamples, n).astype(np.float64)
    ap_sum, classes = np.zeros(resamples), np.zeros(resamples, dtype=np.int64)
    for k in np.flatnonzero(targets.any(axis=0)):
        order = np.argsort(-outputs[:, k], kind="stable")
        scores, weights = outputs[order, k], counts[:, order]
        end = np.ones(n, dtype=bool)  # last clip of each block of tied scores: a threshold
        end[:-1] = scores[1:] != scores[:-1]
        tp = np.cumsum(weights * targets[order, k], axis=1)[:, end]
        seen = np.cumsum(weights, axis=1)[:, end]
        gained = np.diff(tp, axis=1, prepend=0.0)
        total = tp[:, -1]
        present = total > 0
        precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
        ap_sum[present] += (gained * precision).sum(axis=1)[present] / total[present]
        classes += present
    with np.errstate(invalid="ignore", divide="ignore"):
        return ap_sum / classes, classes


class PairedBootstrap(NamedTuple):
    """The mAP difference of two systems on the same clips, and its spread over paired resamples."""

    difference: float
    """mAP(a) − mAP(b) on the full set."""
    resampled: np.ndarray
    """(resamples,) the difference on each resample of the clips, the same draw for both systems."""

    @property
    def interval(self) -> tuple[float, float]:
        """The 95 % percentile interval of the resampled differences."""
        low, high = np.percentile(self.resampled, [2.5, 97.5])
        return float(low), float(high)

    @property
    def resolved(self) -> bool:
        """True when the 95 % interval excludes 0: the sign of the difference is beyond the clip-draw
        noise."""
        low, high = self.interval
        return low > 0 or high < 0

    def row(self, difference: str = "difference") -> dict[str, Any]:
        """The comparison as a row of the book's comparison tables: the difference (column
        ``difference``), its 95 % interval as text (:func:`format_interval`) and whether it is
        beyond the noise."""
        return {
            difference: self.difference,
            "95 % interval": format_interval(self.interval),
            "beyond noise": self.resolved,
        }


def paired_bootstrap(
    targets: np.ndarray, outputs_a: np.ndarray, outputs_b: np.ndarray, resamples: int = 1000, seed: int = 0
) -> PairedBootstrap:
    """Compare two systems' mAP on the same clips, resampling the clips with replacement (paired).

    Both systems are scored on each resample, over the same classes (those with a positive in it), so
    what the draw does to both cancels in the difference: far narrower than comparing the two
    :func:`bootstrap_map` spreads. The book reads a difference as established only when the 95 %
    interval excludes 0 (:attr:`PairedBootstrap.resolved`).
    """
    targets, outputs_a, outputs_b = np.asarray(targets), np.asarray(outputs_a), np.asarray(outputs_b)
    if resamples < 1 or not (targets.shape == outputs_a.shape == outputs_b.shape) or targets.ndim != 2:
        raise ValueError(
            f"need resamples ≥ 1 and (clips, classes) arrays of one shape; got {resamples}, "
            f"{targets.shape}, {outputs_a.shape}, {outputs_b.shape}"
        )
    draws = resample_draws(len(targets), resamples, seed)
    full = mean_average_precision(targets, outputs_a)[0] - mean_average_precision(targets, outputs_b)[0]
    resampled = resampled_maps(targets, outputs_a, draws)[0] - resampled_maps(targets, outputs_b, draws)[0]
    return PairedBootstrap(float(full), resampled)


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """F1 = 2·TP / (2·TP + FP + FN) of ``counts`` (..., 3) holding TP, FP, FN (0 where all are 0).

    The DCASE micro F1 (sum the counts, then divide), as :mod:`panns_lite.sed` scores detections and
    :func:`panns_lite.calibration.decision_counts` counts clip decisions.
    """
    counts = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12)


def paired_f1_bootstrap(
    counts_a: np.ndarray, counts_b: np.ndarray, resamples: int = 1000, seed: int = 0
) -> PairedBootstrap:
    """Compare two systems' micro F1 on the same files, resampling the files with replacement (paired).

    ``counts_a`` and ``counts_b`` are (files, 3) TP, FP, FN of each file for each system; a resample
    sums the counts of the drawn files, so the F1 of a resample is what the whole set would score had
    it held those files, as :func:`paired_bootstrap` does for mAP with clips.
    """
    a, b = np.asarray(counts_a, dtype=np.float64), np.asarray(counts_b, dtype=np.float64)
    if resamples < 1 or a.shape != b.shape or a.ndim != 2 or a.shape[1] != 3 or not len(a):
        raise ValueError(
            f"need resamples ≥ 1 and two (files, 3) count arrays of one shape; got {resamples}, "
            f"{a.shape}, {b.shape}"
        )
    draws = resample_draws(len(a), resamples, seed)
    full = micro_f1(a.sum(0)) - micro_f1(b.sum(0))
    resampled = micro_f1(a[draws].sum(1)) - micro_f1(b[draws].sum(1))
    return PairedBootstrap(float(full), resampled)


def format_interval(interval: Sequence[float]) -> str:
    """An interval of differences as the book and the benchmarks print it: ``[-0.012, +0.004]``
    (signed, three decimals, so that a reader sees at once whether it holds 0)."""
    low, high = interval
    return f"[{low:+.3f}, {high:+.3f}]"


def compared(paired: PairedBootstrap, other: str) -> str:
    """The book's wording of a paired comparison with ``other``: higher or lower *beyond the noise*
    only when the 95 % interval excludes 0, else "not distinguishable"; the numbers follow."""
    numbers = f"({paired.difference:+.3f}, 95 % interval {format_interval(paired.interval)})"
    if not paired.resolved:
        return f"not distinguishable from {other} {numbers}"
    return f"{'higher' if paired.difference > 0 else 'lower'} than {other}, beyond the noise {numbers}"


EVAL_SPLITS = {"mixture eval": "", "natural eval": "natural_"}
"""The evaluation splits a MiniSet run reports, by the prefix of their keys in ``statistics.json``."""


def split_statistics(statistics: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The trainer's statistics rows as one series per evaluation split (unprefixed keys), for plots and
    tables that set the two splits side by side; a split the run did not score is left out."""
    return {
        name: [
            {
                "iteration": row["iteration"],
                **{key: row[f"{prefix}{key}"] for key in ("mAP", "classes", "mAUC", "d_prime")},
            }
            for row in statistics
        ]
        for name, prefix in EVAL_SPLITS.items()
        if statistics and f"{prefix}mAP" in statistics[0]
    }
