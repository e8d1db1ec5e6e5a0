"""A linear baseline for clip tagging: logistic regression on pooled log-mel statistics.

It tells how hard a data set is before any CNN is trained (audio_sources.md §6: on the MiniSet with
held-out recordings the recipe gave mAP ≈ 0.31, chance ≈ 0.06). Features: the mean, standard
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

from panns_lite.features import LogMel
from panns_lite.metrics import Scores, evaluate


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
        mel = frontend(x)[:, 0]  # (B, T, 64)
        delta = (mel[:, 1:] - mel[:, :-1]).abs().mean(dim=1)
        out.append(torch.cat([mel.mean(1), mel.std(1), mel.amax(1), delta], dim=1).numpy())
    return np.concatenate(out)


def linear_baseline(train_x: np.ndarray, train_y: np.ndarray, eval_x: np.ndarray, eval_y: np.ndarray,
                    C: float = 0.1) -> Scores:
    """Fit per-class logistic regressions on ``train_x`` and score ``eval_x`` (see module docstring).

    Classes that cannot be fitted (no positive or no negative in training) predict their training
    prevalence, i.e. a constant, which ranks nothing.
    """
    scaler = StandardScaler().fit(train_x)
    xt, xe = scaler.transform(train_x), scaler.transform(eval_x)
    train_y = np.asarray(train_y, dtype=bool)
    scores = np.tile(train_y.mean(axis=0), (len(xe), 1))
    for k in np.flatnonzero(train_y.any(axis=0) & ~train_y.all(axis=0)):
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
        scores[:, k] = model.fit(xt, train_y[:, k]).predict_proba(xe)[:, 1]
    return evaluate(eval_y, scores)


def packed_baseline(train_path: str | Path, eval_path: str | Path, C: float = 0.1) -> Scores:
    """:func:`linear_baseline` fitted on one packed file (PANNs layout) and scored on another.

    This is the bar a CNN trained on the same files has to clear (the ci preset's target, issue
    #4); its mAP averages over the same classes as the trainer's (those with an eval positive).
    """
    features, targets = [], []
    for path in (train_path, eval_path):
        with h5py.File(path, "r") as h5:
            features.append(pooled_logmel(h5["waveform"]))
            targets.append(h5["target"][:].astype(bool))
    return linear_baseline(features[0], targets[0], features[1], targets[1], C=C)
