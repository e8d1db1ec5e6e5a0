"""Nearest-neighbour agreement: a number for "clips of the same class lie close together".

A 2-D projection of embeddings (PCA, t-SNE) is a picture whose look depends on the projection's
settings; the book measures instead (chapter 9, "The embedding space"): for each clip, find its
nearest other clip by cosine similarity and check whether the two share a label. The rate is set
beside :func:`chance_agreement`, what neighbours drawn at random would give with the same groups.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


def neighbour_agreement(features: np.ndarray, groups: Sequence[str]) -> float:
    """Fraction of the rows of ``features`` (clips, dims) whose nearest other row (by cosine
    similarity) has the same group."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) != len(groups) or len(groups) < 2:
        raise ValueError(
            f"need (clips, dims) features with one group per clip and at least 2 clips, got features "
            f"{features.shape} and {len(groups)} groups"
        )
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = similarity.argmax(axis=1)
    return float(np.mean([groups[i] == groups[j] for i, j in enumerate(nearest)]))


def chance_agreement(groups: Sequence[str]) -> float:
    """The agreement expected of a neighbour drawn uniformly among the other clips:
    Σ n_g (n_g − 1) / (N (N − 1)) over the groups' sizes n_g."""
    if len(groups) < 2:
        raise ValueError(f"need at least 2 clips, got {len(groups)}")
    sizes = np.array(list(Counter(groups).values()), dtype=np.float64)
    return float((sizes * (sizes - 1)).sum() / (len(groups) * (len(groups) - 1)))
