"""Knowledge distillation: learn from a teacher's probabilities as well as from the labels.

EfficientAT (Schmid, Koutini & Widmer, "Efficient large-scale audio tagging via transformer-to-CNN
knowledge distillation", ICASSP 2023) trains small CNNs on AudioSet with

    loss = λ · BCE(student, labels) + (1 − λ) · BCE(student, teacher probabilities),   λ = 0.1, T = 1,

so nine tenths of the signal is the teacher's soft opinion on every class, not the sparse, noisy
labels. Here the teacher is either

* a **model** (any checkpoint :func:`~panns_lite.checkpoints.load_checkpoint` reads) run on the same
  input as the student, after mixup and before SpecAugment (it is in eval mode), so its probabilities
  describe the mixed clip the student sees; or
* a **file of logits** (:func:`write_teacher_logits`: ``names`` and ``logits`` in an ``.npz``), one row
  per training clip, mixed with the batch's mixup weights exactly as the labels are: the teacher
  then costs nothing per step (EfficientAT stores its ensemble's predictions this way).

In pruning recovery (chapter 7) the teacher is the unpruned parent. The trainer's options:
``TrainConfig.teacher`` and ``TrainConfig.distill_label_weight`` (``train --teacher``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from panns_lite.augment import mix_targets
from panns_lite.checkpoints import atomic_write, load_checkpoint
from panns_lite.datasets import ClipDataset, LogMelCache, frontend_signature
from panns_lite.models import AudioTagger, FeaturesPath

LABEL_WEIGHT = 0.1
"""EfficientAT's λ: the labels' share of the loss."""


class Teacher(Protocol):
    def probabilities(
        self, x: torch.Tensor, mixup_lambda: torch.Tensor | None, names: list[str]
    ) -> torch.Tensor:
        """(B, C) teacher probabilities for the batch the student sees (B = clips after mixup)."""


def distillation_loss(
    student: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor, label_weight: float = LABEL_WEIGHT
) -> torch.Tensor:
    """λ · BCE(student, labels) + (1 − λ) · BCE(student, teacher), each a mean over batch × classes."""
    bce = torch.nn.functional.binary_cross_entropy
    student = student.float()
    return label_weight * bce(student, labels.float()) + (1 - label_weight) * bce(student, teacher.float())


class ModelTeacher:
    """A model run on the student's input (waveforms, or the log-mels of the training cache)."""

    def __init__(
        self, model: AudioTagger, student: AudioTagger, logmel_input: bool, device: torch.device
    ) -> None:
        if model.fc_audioset.out_features != student.fc_audioset.out_features:
            raise ValueError(
                f"the teacher predicts {model.fc_audioset.out_features} classes, the student "
                f"{student.fc_audioset.out_features}"
            )
        if logmel_input and frontend_signature(model.logmel) != frontend_signature(student.logmel):
            raise ValueError(
                "the teacher's front end differs from the student's, whose log-mels the training "
                "cache holds; train without the cache (cache_logmel=False) or use a logits file"
            )
        self.model = model.eval().to(device)
        self.net = FeaturesPath(self.model) if logmel_input else self.model

    def probabilities(
        self, x: torch.Tensor, mixup_lambda: torch.Tensor | None, names: list[str]
    ) -> torch.Tensor:
        with torch.no_grad():
            return self.net(x, mixup_lambda)["clipwise_output"].float()


class LogitsTeacher:
    """Stored teacher logits, looked up by clip name."""

    def __init__(self, path: str | os.PathLike[str], classes: int) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                names, logits = [str(n) for n in data["names"]], np.asarray(data["logits"], dtype=np.float32)
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(
                f"{path}: not a teacher logits file (.npz with names and logits; "
                f"write one with write_teacher_logits): {err}"
            ) from None
        if logits.shape != (len(names), classes):
            raise ValueError(
                f"{path}: logits of shape {logits.shape} for {len(names)} clips; "
                f"the student has {classes} classes"
            )
        self.path, self.rows = path, {name: i for i, name in enumerate(names)}
        self.probs = torch.sigmoid(torch.from_numpy(logits))

    def probabilities(
        self, x: torch.Tensor, mixup_lambda: torch.Tensor | None, names: list[str]
    ) -> torch.Tensor:
        missing = [n for n in names if n not in self.rows]
        if missing:
            raise ValueError(
                f"{self.path}: no teacher logits for clip {missing[0]!r}; write them for the training set"
            )
        probs = self.probs[[self.rows[n] for n in names]].to(x.device)
        return mix_targets(probs, mixup_lambda) if mixup_lambda is not None else probs


def load_teacher(source: str, student: AudioTagger, logmel_input: bool, device: torch.device) -> Teacher:
    """A :class:`LogitsTeacher` for an ``.npz`` file, else a :class:`ModelTeacher` from the checkpoint."""
    if Path(source).suffix == ".npz":
        return LogitsTeacher(source, student.fc_audioset.out_features)
    return ModelTeacher(load_checkpoint(source), student, logmel_input, device)


def write_teacher_logits(
    model: AudioTagger, data: ClipDataset, path: str | os.PathLike[str], batch_size: int = 32
) -> Path:
    """The model's logits for every clip of ``data`` (waveforms or its log-mel cache) → ``path`` (.npz)."""
    net = FeaturesPath(model.eval()) if isinstance(data, LogMelCache) else model.eval()
    rows = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            x, _, _ = data.get_batch(np.arange(start, min(start + batch_size, len(data))))
            rows.append(torch.logit(net(x)["clipwise_output"].float(), eps=1e-7).numpy())
    path = Path(path)
    atomic_write(path, lambda f: np.savez(f, names=np.array(data.names), logits=np.concatenate(rows)))
    return path
