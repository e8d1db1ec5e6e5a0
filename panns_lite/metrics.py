"""Clip-level tagging metrics as PANNs reports them (reference §7).

AP and AUC per class are sklearn's ``average_precision_score`` / ``roc_auc_score`` (the original
evaluate.py calls them; AP is computed for all classes in one pass, equal up to float rounding);
d' = sqrt(2)·Φ⁻¹(AUC). A class with no positive (or, for AUC, no negative) example has no defined
AP/AUC: it gets NaN here and is left out of the means, and the number of classes averaged is always
returned with the mean, because on a small eval set such as the MiniSet that number is far below 527.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score


def _check(target: np.ndarray, output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    target, output = np.asarray(target), np.asarray(output, dtype=np.float64)
    if target.ndim != 2 or target.shape != output.shape:
        raise ValueError(
            f"target and output must both be (N, classes); got {target.shape} and {output.shape}"
        )
    if not np.isfinite(output).all():
        raise ValueError("output contains NaN or inf")
    return target.astype(bool), output


def average_precision(target: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Per-class AP, shape (classes,); NaN where a class has no positive.

    sklearn's ``average_precision_score`` per class, to rounding (Σ (Rₙ − Rₙ₋₁)·Pₙ over the distinct
    score thresholds, tied scores entering together), computed for all classes at once from one
    sort: a bootstrap re-scores hundreds of resampled sets (:mod:`panns_lite.evaluation`), and a
    loop of sklearn calls over the classes costs about 0.1 s per set.
    """
    target, output = _check(target, output)
    ap = np.full(target.shape[1], np.nan)
    present = np.flatnonzero(target.any(axis=0))
    if len(present) == 0:
        return ap
    order = np.argsort(-output[:, present], axis=0, kind="stable")
    scores = np.take_along_axis(output[:, present], order, axis=0)
    hits = np.take_along_axis(target[:, present], order, axis=0)
    tp = np.cumsum(hits, axis=0, dtype=np.float64)
    end = np.ones_like(hits)  # last position of each block of tied scores: a threshold
    end[:-1] = scores[1:] != scores[:-1]
    at_end = np.where(end, tp, 0.0)
    before = np.zeros_like(tp)  # true positives at the previous threshold (tp never decreases)
    before[1:] = np.maximum.accumulate(at_end, axis=0)[:-1]
    precision = tp / np.arange(1, len(tp) + 1)[:, None]
    ap[present] = np.where(end, (tp - before) * precision, 0.0).sum(axis=0) / tp[-1]
    return ap


def auc(target: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Per-class ROC AUC, shape (classes,); NaN where a class lacks positives or negatives."""
    target, output = _check(target, output)
    result = np.full(target.shape[1], np.nan)
    for k in np.flatnonzero(target.any(axis=0) & ~target.all(axis=0)):
        result[k] = roc_auc_score(target[:, k], output[:, k])
    return result


def d_prime(auc_value: float | np.ndarray) -> float | np.ndarray:
    """d' = sqrt(2)·Φ⁻¹(AUC), as in the PANNs tables (computed there from the mean AUC)."""
    return np.sqrt(2.0) * norm.ppf(auc_value)


def _defined_mean(values: np.ndarray) -> tuple[float, int]:
    """Mean over the non-NaN entries and their count (NaN, 0 when there are none)."""
    defined = ~np.isnan(values)
    return (float(values[defined].mean()), int(defined.sum())) if defined.any() else (float("nan"), 0)


def mean_average_precision(target: np.ndarray, output: np.ndarray) -> tuple[float, int]:
    """(mAP, number of classes averaged): the mean AP over classes with >= 1 positive."""
    mean, n = _defined_mean(average_precision(target, output))
    if n == 0:
        raise ValueError("no class has a positive example: mAP is undefined")
    return mean, n


@dataclass(frozen=True)
class Scores:
    """Means over the classes where each metric is defined, with how many classes that was."""

    mAP: float
    mAUC: float
    d_prime: float
    classes_ap: int
    classes_auc: int
    ap: np.ndarray
    auc: np.ndarray


def evaluate(target: np.ndarray, output: np.ndarray) -> Scores:
    """mAP, mean AUC and d' (of the mean AUC) over the classes where each is defined."""
    ap, au = average_precision(target, output), auc(target, output)
    (mean_ap, n_ap), (mean_auc, n_auc) = _defined_mean(ap), _defined_mean(au)
    if n_ap == 0:
        raise ValueError("no class has a positive example: mAP is undefined")
    return Scores(mean_ap, mean_auc, float(d_prime(mean_auc)), n_ap, n_auc, ap, au)


def rarest_classes_map(
    ap: np.ndarray, train_counts: np.ndarray, fraction: float = 1 / 3
) -> tuple[float, int]:
    """Mean AP over the ``fraction`` of evaluated classes with the fewest training positives.

    This is where balanced sampling should help (reference §5–6): it shows the rare classes,
    which a plain mAP mixes with the frequent ones. Classes without an AP (no eval positive) are
    not counted; returns (mean, number of classes averaged).
    """
    ap, train_counts = np.asarray(ap, dtype=float), np.asarray(train_counts)
    if ap.shape != train_counts.shape or not 0 < fraction <= 1:
        raise ValueError("ap and train_counts must have the same shape and 0 < fraction <= 1")
    defined = np.flatnonzero(~np.isnan(ap))
    if len(defined) == 0:
        raise ValueError("no class has an AP")
    rare = defined[np.argsort(train_counts[defined], kind="stable")][: max(1, round(len(defined) * fraction))]
    return float(ap[rare].mean()), len(rare)


def primary_label_ranks(
    output: np.ndarray, primary: np.ndarray, target: np.ndarray | None = None
) -> np.ndarray:
    """The rank (1 = highest score) of each clip's primary label among the classes.

    A recording of a dog is labelled Dog and also Domestic animals and Animal (the ontology's
    ancestors, book chapter 1); a tagger that scores Animal above Dog is not wrong. With ``target``
    (the clip's true labels), those other true labels are set aside: the rank counts only the
    *wrong* classes scored above the primary one. Ties count against the primary label.
    """
    output, primary = np.asarray(output, dtype=np.float64), np.asarray(primary)
    if output.ndim != 2 or primary.shape != (len(output),):
        raise ValueError(
            f"output must be (clips, classes) and primary (clips,); got {output.shape}, {primary.shape}"
        )
    if ((primary < 0) | (primary >= output.shape[1])).any():
        raise ValueError(f"primary label indices must be in [0, {output.shape[1]})")
    own = output[np.arange(len(output)), primary][:, None]
    above = output >= own
    above[np.arange(len(output)), primary] = False
    if target is not None:
        target = np.asarray(target, dtype=bool)
        if target.shape != output.shape:
            raise ValueError(f"target {target.shape} and output {output.shape} differ in shape")
        above &= ~target
    return 1 + above.sum(axis=1)


def top_k_accuracy(ranks: np.ndarray, k: int) -> float:
    """Share of clips whose primary label ranks within the top ``k`` (:func:`primary_label_ranks`)."""
    if k < 1 or len(ranks) == 0:
        raise ValueError(f"k must be ≥ 1 and ranks non-empty, got k={k}, {len(ranks)} ranks")
    return float(np.mean(np.asarray(ranks) <= k))
