"""Transfer learning: a trained tagger applied to a small single-label task, three ways.

PANNs' transfer recipe (reference §9, ``panns_transfer_to_gtzan``) puts a new linear layer
(``fc_transfer``) on the 2048-d embedding of a pretrained CNN14 and fine-tunes *all* weights with a
log-softmax / NLL loss, Adam at lr 1e-4 (amsgrad), SpecAugment active (the base is in train mode),
mixup α = 1 optional, accuracy (argmax) per cross-validation fold. This module gives the three
comparisons a reader needs to judge what pretraining buys:

* :func:`linear_probe` — logistic regression on the frozen embedding (the cheapest use of a
  pretrained model, and the question of reference §11.3: "get embedding, not classification");
* :func:`fine_tune` on :func:`transfer_model` ``(…, pretrained=True)`` — PANNs' recipe (reference §9),
  with the new head in the place of the old one (:meth:`~panns_lite.models.AudioTagger.reset_head`);
* :func:`fine_tune` on :func:`transfer_model` ``(…, pretrained=False)`` — the same network and loop
  from a fresh PANNs initialisation, so any difference is what pretraining contributed.

The task is the MiniSet transfer set (:func:`load_transfer_set`): single-label clips from recordings
no MiniSet training clip uses, with folds assigned per recording (a recording is never in both the
training and the test fold). The front end is frozen (reference §2), so the log-mels are computed once with
:class:`~panns_lite.datasets.LogMelCache` and every epoch runs on ``forward_features``; this changes
the cost, not the result. Everything random (head initialisation, batch order, dropout,
SpecAugment, mixup λ) is drawn from ``seed``, so a run is repeatable on the same machine.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn import functional as F

from panns_lite.audio import PANNS_SAMPLE_RATE, fix_length, load_audio
from panns_lite.audioset import load_class_labels, load_ontology
from panns_lite.augment import AugmentConfig, mix_targets, mixup_lambdas
from panns_lite.checkpoints import load_checkpoint
from panns_lite.datasets import ClipDataset
from panns_lite.models import AudioTagger, init_panns_weights
from panns_lite.optimizer import panns_adam
from panns_lite.runtime import autocast
from panns_lite.seeds import TransferStream, generator

LABELS_FILE = "transfer_labels.csv"
COLUMNS = ("filename", "fold", "label")
# Stream tags of the numpy seeds, second in the key as in panns_lite.sampling, so that numpy's
# zero-padding of seed sequences cannot make the batch order and the mixup λs share a stream.


class TransferSet(ClipDataset):
    """Single-label clips held in memory: waveforms (N, samples), one-hot targets (N, classes), folds (N,).

    A :class:`~panns_lite.datasets.ClipDataset`, so :class:`~panns_lite.datasets.LogMelCache` can run
    the front end over it once.
    """

    def __init__(
        self,
        waveforms: np.ndarray,
        labels: np.ndarray,
        folds: np.ndarray,
        classes: tuple[str, ...],
        names: list[str],
        sample_rate: int = PANNS_SAMPLE_RATE,
    ) -> None:
        labels, folds = np.asarray(labels, dtype=np.int64), np.asarray(folds, dtype=np.int64)
        if waveforms.ndim != 2 or not len(waveforms) == len(labels) == len(folds) == len(names):
            raise ValueError(
                f"need (N, samples) waveforms and N labels, folds and names; got {waveforms.shape}, "
                f"{len(labels)}, {len(folds)}, {len(names)}"
            )
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(f"labels must index the {len(classes)} classes")
        super().__init__(np.eye(len(classes), dtype=bool)[labels], names, sample_rate, "transfer set")
        self.waveforms = waveforms.astype(np.float32, copy=False)
        self.labels = labels
        self.folds = folds
        self.classes = classes

    def _rows(self, sorted_unique: np.ndarray) -> np.ndarray:
        return self.waveforms[sorted_unique]

    def split(self, test_fold: int) -> tuple[np.ndarray, np.ndarray]:
        """(training indices, test indices) for one cross-validation fold: the others train, this one
        tests."""
        test = self.folds == test_fold
        if not test.any():
            raise ValueError(f"no clip is in fold {test_fold}; folds are {sorted(set(self.folds.tolist()))}")
        return np.flatnonzero(~test), np.flatnonzero(test)


def load_transfer_set(directory: str | os.PathLike[str]) -> TransferSet:
    """Read ``<directory>/transfer_labels.csv`` (filename, fold, label, …) and ``<directory>/audio/``.

    Classes are numbered in their order of first appearance in the file; clips are decoded to 32 kHz
    mono and padded at the end to the longest clip. A missing column, a non-integer fold, an empty
    table or an unreadable clip raises ``ValueError`` (``AudioReadError`` for the audio) naming it.
    """
    directory = Path(directory)
    table = directory / LABELS_FILE
    if not table.is_file():
        raise FileNotFoundError(
            f"{table}: no such file (build the MiniSet with panns_lite.miniset.prepare_miniset)"
        )
    with open(table, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{table}: missing columns {missing}")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{table}: no clips")
    classes = tuple(dict.fromkeys(row["label"] for row in rows))
    try:
        folds = np.array([int(row["fold"]) for row in rows])
    except ValueError as err:
        raise ValueError(f"{table}: folds must be integers ({err})") from None
    clips = [load_audio(directory / "audio" / row["filename"]) for row in rows]
    length = max(len(x) for x in clips)
    labels = np.array([classes.index(row["label"]) for row in rows])
    return TransferSet(
        np.stack([fix_length(x, length) for x in clips]),
        labels,
        folds,
        classes,
        [row["filename"] for row in rows],
    )


def transfer_model(
    checkpoint: str | os.PathLike[str],
    classes_num: int,
    pretrained: bool = True,
    seed: int = 0,
    spec_augment: bool = True,
) -> AudioTagger:
    """The network of ``checkpoint`` with a fresh ``classes_num``-way head, ready to train.

    ``pretrained=False`` gives the same architecture with a fresh PANNs initialisation (xavier
    weights, zero biases, unit BN and reset BN statistics, reference §2): the from-scratch control.
    With ``spec_augment`` CNN14's SpecAugment (reference §4) acts in training, as in PANNs' transfer recipe,
    where the base stays in train mode (reference §9). The head's initialisation depends on ``seed`` only.
    """
    model = load_checkpoint(checkpoint)
    torch.manual_seed(seed)
    if not pretrained:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
        model.apply(init_panns_weights)
    model.reset_head(classes_num)
    model.spec_augment = AugmentConfig().spec_augmenter() if spec_augment else None
    return model


def embeddings(
    model: AudioTagger, logmels: ClipDataset, indices: np.ndarray | None = None, batch_size: int = 32
) -> np.ndarray:
    """The model's ``embedding`` output (eval mode: no dropout) for log-mel clips ``indices`` (default all).

    In eval mode the embedding is exactly what the classifier sees, ReLU(fc1(pooled)) (reference §2).
    """
    return _eval_outputs(model, logmels, indices, batch_size, "embedding")


def clipwise(
    model: AudioTagger, logmels: ClipDataset, indices: np.ndarray | None = None, batch_size: int = 32
) -> np.ndarray:
    """The tagger's own class probabilities (eval mode) for log-mel clips ``indices`` (default all):
    what the zero-shot baseline reads (:func:`zero_shot_predict`)."""
    return _eval_outputs(model, logmels, indices, batch_size, "clipwise_output")


@torch.no_grad()
def _eval_outputs(
    model: AudioTagger, logmels: ClipDataset, indices: np.ndarray | None, batch_size: int, key: str
) -> np.ndarray:
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    index = np.arange(len(logmels)) if indices is None else np.asarray(indices, dtype=np.int64)
    was_training = model.training
    model.eval()
    width = model.fc1.out_features if key == "embedding" else model.fc_audioset.out_features
    out = [np.zeros((0, width), np.float32)]
    for start in range(0, len(index), batch_size):
        x, _, _ = logmels.get_batch(index[start : start + batch_size])
        out.append(model.forward_features(x)[key].float().numpy())
    model.train(was_training)
    return np.concatenate(out)


def predict_classes(
    model: AudioTagger, logmels: ClipDataset, indices: np.ndarray, batch_size: int = 32
) -> np.ndarray:
    """Argmax of the head over the eval-mode embeddings: the class a fine-tuned model picks per clip."""
    with torch.no_grad():
        logits = model.fc_audioset(torch.from_numpy(embeddings(model, logmels, indices, batch_size)))
    return logits.argmax(dim=1).numpy()


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, C: float = 1.0) -> np.ndarray:
    """Predicted classes of ``test_x`` from a standardised multinomial logistic regression on ``train_x``.

    The embedding stays frozen; only this linear classifier is fitted, so the score measures how
    linearly separable the new classes already are in the pretrained representation.
    """
    train_x, test_x, train_y = np.asarray(train_x), np.asarray(test_x), np.asarray(train_y)
    if (
        train_x.ndim != 2
        or test_x.ndim != 2
        or train_x.shape[1] != test_x.shape[1]
        or len(train_x) != len(train_y)
    ):
        raise ValueError(
            f"need (N, D) training and (M, D) test features with N labels; got {train_x.shape}, "
            f"{test_x.shape}, {train_y.shape}"
        )
    if len(np.unique(train_y)) < 2:
        raise ValueError("the training fold needs at least two classes")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
    return probe.fit(train_x, train_y).predict(test_x)


def zero_shot_proxies(classes: Sequence[str], trained: np.ndarray) -> list[list[int]]:
    """For each new class (display name), the tagger outputs that stand in for it without training.

    A class the tagger was never trained on has an output unit that never saw a positive. Its
    nearest relatives in the AudioSet ontology that *did* have training positives (``trained``:
    (527,) bool) are the tagger's own words for it: walking up from the class, the first ancestor
    (a class or not) under which some trained classes sit gives them all, the ancestor included if it
    is one (Dog → Domestic animals, pets and Cat…; Cough → the other respiratory sounds). The other
    new classes never serve as proxies. Two new classes with the same proxies, or one without any,
    are an error: the zero-shot baseline could not tell them apart.
    """
    labels, ontology = load_class_labels(), load_ontology()
    trained = np.asarray(trained, dtype=bool)
    if trained.shape != (len(labels),):
        raise ValueError(f"trained must be ({len(labels)},) bool, got {trained.shape}")
    new = {labels.mid_of_name(name) for name in classes}

    def subtree(mid: str) -> list[str]:
        out, frontier = [], [mid]
        while frontier:
            node = frontier.pop()
            if node in new:
                continue
            out.append(node)
            frontier.extend(ontology.children(node))
        return out

    proxies = []
    for name in classes:
        for ancestor in ontology.ancestors(labels.mid_of_name(name)):
            found = sorted(
                labels.index(m) for m in set(subtree(ancestor)) if m in labels and trained[labels.index(m)]
            )
            if found:
                proxies.append(found)
                break
        else:
            raise ValueError(f"{name!r} has no trained relative in the ontology: no zero-shot proxy")
    shared = [
        (a, b)
        for i, a in enumerate(classes)
        for j, b in enumerate(classes)
        if i < j and proxies[i] == proxies[j]
    ]
    if shared:
        raise ValueError(f"classes with the same zero-shot proxies cannot be told apart: {shared}")
    return proxies


def zero_shot_predict(clipwise: np.ndarray, proxies: Sequence[Sequence[int]]) -> np.ndarray:
    """Per clip, the new class whose best proxy output (:func:`zero_shot_proxies`) scores highest."""
    clipwise = np.asarray(clipwise)
    if clipwise.ndim != 2 or not proxies or not all(proxies):
        raise ValueError(
            f"need (clips, classes) outputs and a non-empty proxy list per class; got {clipwise.shape}"
        )
    return np.stack([clipwise[:, list(p)].max(axis=1) for p in proxies], axis=1).argmax(axis=1)


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of clips whose predicted class is the label (PANNs' transfer metric, reference §9)."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape or predicted.size == 0:
        raise ValueError(f"need equal, non-empty shapes; got {predicted.shape} and {labels.shape}")
    return float((predicted == labels).mean())


@dataclass(frozen=True)
class FineTuneConfig:
    """The training budget and recipe of :func:`fine_tune` (PANNs' transfer values in reference §9).

    PANNs: batch 32, lr 1e-4, mixup on, 10,000 iterations. On a CPU budget of minutes the book uses
    fewer clips per batch and a few epochs; ``mixup`` doubles the clips drawn per step (2B mixed to B).
    ``amp`` runs the forward pass under the trainer's bfloat16 autocast where the hardware has it
    (:func:`panns_lite.runtime.autocast`; the loss stays float32).
    """

    epochs: int = 5
    batch_size: int = 16
    lr: float = 1e-4
    mixup: bool = False
    mixup_alpha: float = 1.0
    amp: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(
                f"epochs and batch_size must be ≥ 1 and lr > 0; got {self.epochs}, {self.batch_size}, "
                f"{self.lr}"
            )
        AugmentConfig(mixup_alpha=self.mixup_alpha)  # checks alpha


@dataclass(frozen=True)
class FineTuneResult:
    """The trained model and one row per epoch (``epoch``, ``iteration``, ``train_loss``, test
    ``accuracy``)."""

    model: AudioTagger
    history: list[dict[str, Any]]


def nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """PANNs' ``clip_nll``: −mean over batch *and* classes of target·log_softmax (reference §9)."""
    return -(targets * F.log_softmax(logits.float(), dim=-1)).mean()


def fine_tune(
    model: AudioTagger,
    logmels: ClipDataset,
    train_idx: np.ndarray,
    config: FineTuneConfig,
    test_idx: np.ndarray | None = None,
) -> FineTuneResult:
    """Train every weight of ``model`` on the log-mel clips ``train_idx`` with softmax / NLL (in place).

    Each epoch walks a fresh permutation of ``train_idx`` (the stream ``(seed, EPOCH_ORDER, epoch)``
    of :class:`panns_lite.seeds.TransferStream`) in batches of ``batch_size`` (2·batch_size clips mixed
    pairwise when ``mixup``; a trailing odd clip is left out of that epoch). The logits are the head
    applied to the *training-mode* embedding (dropout 0.5), as PANNs' Transfer_Cnn14 does; the optimiser
    is PANNs' Adam with amsgrad (reference §6, §9). With ``test_idx`` the test accuracy is recorded after
    every epoch (for the curves; nothing is selected by it). The model is left in eval mode.
    """
    train_idx = np.asarray(train_idx, dtype=np.int64)
    if len(train_idx) < (2 if config.mixup else 1):
        raise ValueError(f"fine_tune needs training clips, got {len(train_idx)}")
    if logmels.targets.shape[1] != model.fc_audioset.out_features:
        raise ValueError(
            f"the data has {logmels.targets.shape[1]} classes, the model's head "
            f"{model.fc_audioset.out_features}: call transfer_model with classes_num"
        )
    torch.manual_seed(config.seed)
    model.to(memory_format=torch.channels_last)  # as the trainer: same function, faster convolutions on CPU
    device = next(model.parameters()).device
    optimizer = panns_adam(model, config.lr)
    labels = logmels.targets.argmax(axis=1)
    history: list[dict[str, Any]] = []
    iteration = 0
    for epoch in range(1, config.epochs + 1):
        order = generator(config.seed, TransferStream.EPOCH_ORDER, epoch).permutation(train_idx)
        losses = _train_epoch(model, logmels, order, optimizer, config, epoch, device)
        iteration += len(losses)
        row: dict[str, Any] = {"epoch": epoch, "iteration": iteration, "train_loss": float(np.mean(losses))}
        if test_idx is not None:
            row["accuracy"] = accuracy(predict_classes(model, logmels, test_idx), labels[test_idx])
        history.append(row)
    model.eval()
    return FineTuneResult(model, history)


def _train_epoch(
    model: AudioTagger,
    logmels: ClipDataset,
    order: np.ndarray,
    optimizer: torch.optim.Optimizer,
    config: FineTuneConfig,
    epoch: int,
    device: torch.device,
) -> list[float]:
    """One epoch of :func:`fine_tune` over the clips in ``order``: the loss of every step taken.

    With ``mixup`` each step mixes 2·batch_size clips pairwise with the lambdas of the stream
    ``(seed, MIXUP, epoch, start)``, so a step's mixing does not depend on the steps before it.
    """
    model.train()
    step = config.batch_size * (2 if config.mixup else 1)
    losses = []
    for start in range(0, len(order), step):
        batch = order[start : start + step]
        if config.mixup:
            batch = batch[: len(batch) // 2 * 2]
            if len(batch) == 0:
                continue
        x, y, _ = logmels.get_batch(batch)
        lam = None
        if config.mixup:
            rng = generator(config.seed, TransferStream.MIXUP, epoch, start)
            lam = torch.from_numpy(mixup_lambdas(rng, len(batch), config.mixup_alpha))
            y = mix_targets(y, lam)
        with autocast(config.amp, device):
            out = model.forward_features(x, lam)
            logits = model.fc_audioset(out["embedding"])
        loss = nll(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
