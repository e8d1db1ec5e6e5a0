"""Shared fixtures: a tiny learnable data set in AudioSet layout, packed like PANNs packs AudioSet."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from panns_lite.audioset import Segment, load_class_labels, write_segments
from panns_lite.packing import pack

SR = 32000


def tiny_clip(rng: np.random.Generator, labels: list[int], seconds: float = 10.0) -> np.ndarray:
    """Class 0: a 500 Hz tone; class 1: a 3 kHz tone; class 2: noise bursts; over a quiet floor."""
    t = np.arange(int(seconds * SR)) / SR
    x = 0.003 * rng.standard_normal(len(t))
    if 0 in labels:
        x += 0.2 * np.sin(2 * np.pi * 500 * t)
    if 1 in labels:
        x += 0.2 * np.sin(2 * np.pi * 3000 * t)
    if 2 in labels:
        x += 0.2 * rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 2 * t) > 0)
    return x.astype(np.float32)


def make_tiny_split(root: Path, name: str, n: int, seed: int) -> Path:
    """``n`` 10 s clips whose labels are 1-2 of the first three AudioSet classes; returns the packed file."""
    rng = np.random.default_rng(seed)
    labels = load_class_labels()
    audio = root / "audios" / name
    audio.mkdir(parents=True)
    segments = []
    for i in range(n):
        present = sorted(rng.choice(3, size=1 + i % 2, replace=False).tolist())
        ytid = f"tiny{name[0]}{i:06d}"
        sf.write(audio / f"Y{ytid}.wav", tiny_clip(rng, present), SR, subtype="PCM_16")
        segments.append(Segment(ytid, 0.0, 10.0, tuple(labels.mids[k] for k in present)))
    write_segments(root / f"{name}_segments.csv", segments, created="by the test suite")
    out = root / f"{name}.h5"
    pack(root / f"{name}_segments.csv", audio, out)
    return out


@pytest.fixture(scope="session")
def tiny_packed(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {
        "train": make_tiny_split(root, "balanced_train", 24, 0),
        "eval": make_tiny_split(root, "eval", 12, 1),
    }
