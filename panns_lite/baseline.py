"""A linear baseline for clip tagging: logistic regression on pooled log-mel statistics.

It tells how hard a data set is before any CNN is trained (chapter 5 sets the pretrained tagger
against it on both evaluation splits, with chance beside them). Features: the mean, standard
deviation, maximum and mean absolute frame difference over time of each of the 64 bins of the
PANNs log-mel (``features.LogMel``), standardised; one L2-regularised, class-balanced logistic
regression per class that has both positives and negatives in training.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.parallel import Parallel, delayed

from panns_lite.datasets import LogMelCache, PackedDataset
from panns_lite.features import LogMel
from panns_lite.metrics import Scores, evaluate


def pooled_statistics(logmel: torch.Tensor) -> np.ndarray:
    """(N, 1, T, 64) log-mels -> (N, 4·64): per mel bin the mean, standard deviation, maximum and
    mean absolute frame difference over time."""
    mel = logmel[:, 0]
    delta = (mel[:, 1:] - mel[:, :-1]).abs().mean(dim=1)
    return torch.cat([mel.mean(1), mel.std(1), mel.amax(1), delta], dim=1).numpy()


@torch.no_grad()
def pooled_logmel(waveforms: np.ndarray | h5py.Dataset, batch_size: int = 32) -> np.ndarray:
    """(N, samples) waveforms (float in [-1, 1] or int16) -> (N, 4·64) pooled log-mel statistics.

    An HDF5 dataset (a packed file's ``waveform``) is read one batch at a time, never whole.
    """
    if waveforms.ndim != 2 or len(waveforms) == 0:
        raise ValueError(f"expected a non-empty (N, samples) array, got shape {waveforms.shape}")
    scale = 1 / 32767.0 if waveforms.dtype == np.int16 else 1.0
    frontend = LogMel().eval()
    out = []
    for start in range(0, len(waveforms), batch_size):
        x = torch.from_numpy(waveforms[start : start + batch_size].astype(np.float32) * scale)
        out.append(pooled_statistics(frontend(x)))
    return np.concatenate(out)


class LinearBaseline:
    """Per-class logistic regressions on standardised features (see module docstring).

    Classes that cannot be fitted (no positive or no negative in training) predict their training
    prevalence, i.e. a constant, which ranks nothing. The classes are fitted side by side in
    ``n_jobs`` processes (-1: one per CPU); each fit is single-threaded and deterministic, so the
    models do not depend on ``n_jobs``.
    """

    def __init__(self, C: float = 0.1, n_jobs: int = -1) -> None:
        self.C = C
        self.n_jobs = n_jobs

    def fit(self, x: np.ndarray, y: np.ndarray) -> LinearBaseline:
        y = np.asarray(y, dtype=bool)
        self.scaler = StandardScaler().fit(x)
        self.prevalence = y.mean(axis=0)
        xs = self.scaler.transform(x)
        fitted = [int(k) for k in np.flatnonzero(y.any(axis=0) & ~y.all(axis=0))]
        models = Parallel(n_jobs=self.n_jobs)(delayed(self._fit_class)(xs, y[:, k]) for k in fitted)
        self.models = dict(zip(fitted, models))
        return self

    def _fit_class(self, xs: np.ndarray, positive: np.ndarray) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000).fit(xs, positive)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes)."""
        scores = np.tile(self.prevalence, (len(x), 1))
        xs = self.scaler.transform(x)
        for k, model in self.models.items():
            scores[:, k] = model.predict_proba(xs)[:, 1]
        return scores


def linear_baseline(
    train_x: np.ndarray, train_y: np.ndarray, eval_x: np.ndarray, eval_y: np.ndarray, C: float = 0.1
) -> Scores:
    """:class:`LinearBaseline` fitted on the training features, scored against ``eval_y``."""
    return evaluate(eval_y, LinearBaseline(C).fit(train_x, train_y).predict(eval_x))


def packed_features(path: str | Path, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Pooled log-mel statistics and bool targets of every clip of a packed file (PANNs layout).

    The log-mels come from the float16 cache beside the file (:meth:`LogMelCache.beside`, the one
    training runs on the same file use), built here if no run made it: the front end is what costs,
    and the statistics move by far less than the cache's 1/32 dB rounding.
    """
    data = PackedDataset(path)
    cache = LogMelCache.beside(data, LogMel().eval(), torch.float16)
    rows = [
        pooled_statistics(cache.get_batch(np.arange(start, min(start + batch_size, len(cache))))[0])
        for start in range(0, len(cache), batch_size)
    ]
    return np.concatenate(rows), data.targets.astype(bool)


def packed_baseline_outputs(
    train_path: str | Path, eval_paths: list[str | Path], C: float = 0.1
) -> list[np.ndarray]:
    """The baseline fitted once on one packed file, its probabilities on each of ``eval_paths``.

    For comparisons clip by clip (a paired bootstrap against a CNN,
    :func:`~panns_lite.evaluation.paired_bootstrap`), which need the outputs, not only the scores.
    """
    baseline = LinearBaseline(C).fit(*packed_features(train_path))
    return [baseline.predict(packed_features(path)[0]) for path in eval_paths]


def packed_baseline(train_path: str | Path, eval_path: str | Path, C: float = 0.1) -> Scores:
    """:func:`linear_baseline` fitted on one packed file (PANNs layout) and scored on another.

    This is the bar a CNN trained on the same files has to clear (the ci preset's target, issue
    #4); its mAP averages over the same classes as the trainer's (those with an eval positive).
    """
    (train_x, train_y), (eval_x, eval_y) = packed_features(train_path), packed_features(eval_path)
    return linear_baseline(train_x, train_y, eval_x, eval_y, C=C)
