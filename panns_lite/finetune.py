"""Fine-tuning a tagger on your own labelled folder (``python -m panns_lite finetune FOLDER``).

What PANNs' users ask for most (audioset_tagging_cnn #9, #64; PaSST #33): take the released model and
teach it *their* classes from a folder of audio. The folder holds the audio files and ``labels.csv``
with the columns ``file`` (a path relative to the folder) and ``labels`` (class names separated by
``;``: a clip may have several), and optionally ``group`` (clips of one recording or session share a
group, and a group is never split between training and validation: clips cut from one recording on
both sides would make validation a test of memory) and ``split`` (``train`` or ``validation``, to
choose the validation clips yourself). Class names are any text without ``;``.

Three ways to adapt the model, from cheapest to most flexible (the comparison of the book's
chapter 8, now on your data):

* ``probe`` — a linear probe: the base is frozen, the embedding is computed once per clip, and one
  logistic regression per class is fitted on it; the regularisation strength is chosen on the
  validation clips. The fitted classifier (with its standardisation folded in) becomes the model's
  head, so the result is an ordinary tagger.
* ``frozen`` — PANNs' ``freeze_base`` transfer mode: the base is frozen and a new head is trained by
  gradient descent with SpecAugment and dropout active (:func:`panns_lite.train.train`).
* ``all`` — PANNs' fine-tuning recipe: a new head and every weight trained (Adam, lr 1e-4).

The gradient modes evaluate the validation clips every ``eval_every`` iterations and stop early when
the validation mAP has not improved for ``patience`` evaluations; the model kept is the best one.
Everything lives in the output folder: the staged data (the clips packed in PANNs' layout, each
clip being the first 10 s of its file, as AudioSet's clips are 10 s), the training run, ``finetune.json``
(the job) and, at the end, ``model.pt`` with the class names in its record, which ``tag``,
:class:`~panns_lite.inference.Tagger` and :mod:`panns_lite.hear` then use. Rerunning the same command
continues an interrupted job (packing and training both resume); a finished one is returned as it is.
Files that cannot be read are skipped and listed, as :func:`~panns_lite.packing.pack` does.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from panns_lite.audioset import ClassLabels, Segment, write_segments
from panns_lite.augment import AugmentConfig
from panns_lite.checkpoints import atomic_write, load_checkpoint, load_extra, save_checkpoint
from panns_lite.datasets import LogMelCache, PackedDataset
from panns_lite.metrics import mean_average_precision
from panns_lite.packing import pack
from panns_lite.pretraining import resolve_checkpoint

LABELS_CSV = "labels.csv"
LABEL_SEPARATOR = ";"
MODES = ("probe", "frozen", "all")
SPLITS = ("train", "validation")
PROBE_C = (0.01, 0.1, 1.0, 10.0)
"""Inverse regularisation strengths the linear probe tries (chosen on the validation clips)."""
JOB_NAME = "finetune.json"
MODEL_NAME = "model.pt"
BEST_NAME = "best.pt"


@dataclass(frozen=True)
class FineTuneSettings:
    """What a fine-tuning job depends on besides the folder (stored in ``finetune.json``)."""

    mode: str = "all"
    checkpoint: str = "pretrained"
    """The model to start from: ``pretrained`` (the shipped tagger) or a checkpoint file."""
    validation_share: float = 0.2
    """Share of each class's groups held out for validation when ``labels.csv`` has no ``split``."""
    max_iterations: int = 1000
    eval_every: int = 50
    patience: int = 4
    """Evaluations without a better validation mAP before stopping (gradient modes)."""
    batch_size: int = 16
    lr: float | None = None
    """None: 1e-4 for ``all`` (PANNs' transfer recipe), 1e-3 for ``frozen``."""
    seed: int = 0
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fine-tuning mode {self.mode!r}; choose from {', '.join(MODES)}")
        if not 0 < self.validation_share < 1:
            raise ValueError(f"validation_share must be in (0, 1), got {self.validation_share}")
        if min(self.max_iterations, self.eval_every, self.patience, self.batch_size) < 1:
            raise ValueError("max_iterations, eval_every, patience and batch_size must be ≥ 1")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else 1e-4 if self.mode == "all" else 1e-3


@dataclass(frozen=True)
class LabelledFolder:
    """The rows of a folder's ``labels.csv`` that name a file present in it."""

    folder: Path
    files: tuple[str, ...]
    classes: tuple[str, ...]
    """Class names, sorted: the model's output order."""
    targets: np.ndarray = field(repr=False)
    """(clips, classes) bool."""
    groups: tuple[str, ...]
    splits: tuple[str, ...] | None
    """``train`` / ``validation`` per clip when the CSV chose them, else None."""
    missing: tuple[tuple[str, str], ...]
    """(file, reason) of rows naming no file in the folder: skipped, reported."""


@dataclass(frozen=True)
class FineTuneReport:
    """What :func:`finetune` produced."""

    model_path: Path
    mode: str
    classes: tuple[str, ...]
    train_clips: int
    validation_clips: int
    validation_mAP: float
    chance_mAP: float
    """The validation mAP of scores that know nothing (each class's prevalence): what to beat."""
    chosen: str
    """The early-stopping iteration (``iteration 350``) or the probe's ``C``."""
    skipped: tuple[tuple[str, str], ...]

    def summary(self) -> str:
        head = (
            f"{self.model_path}: {self.mode} fine-tuning on {self.train_clips} clips, {len(self.classes)} "
            f"classes; validation mAP {self.validation_mAP:.3f} on {self.validation_clips} clips (chance "
            f"{self.chance_mAP:.3f}), {self.chosen}; skipped {len(self.skipped)}"
        )
        return "\n".join([head] + [f"  {name}: {reason}" for name, reason in self.skipped])


# ------------------------------------------------------------------------------ the folder
def read_labelled_folder(
    folder: str | os.PathLike[str], labels_csv: str | os.PathLike[str] | None = None
) -> LabelledFolder:
    """Read ``labels_csv`` (default ``FOLDER/labels.csv``); a malformed CSV raises ``ValueError`` naming
    the file, the line and the fix. Rows whose file is absent are kept out and listed in ``missing``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; give the folder holding your audio and {LABELS_CSV}")
    csv_path = Path(labels_csv) if labels_csv is not None else folder / LABELS_CSV
    columns, rows = read_label_csv(csv_path)
    kept, missing = checked_rows(csv_path, folder, columns, rows)
    if not kept:
        raise ValueError(f"{csv_path}: no row names a file present in {folder}")
    files, label_sets, groups, splits = zip(*kept)
    classes = tuple(sorted({n for names in label_sets for n in names}))
    if len(classes) < 2:
        raise ValueError(f"{csv_path}: a tagger needs at least 2 classes, found {list(classes)}")
    index = {c: i for i, c in enumerate(classes)}
    targets = np.zeros((len(files), len(classes)), dtype=bool)
    for row, names in enumerate(label_sets):
        targets[row, [index[n] for n in names]] = True
    return LabelledFolder(
        folder, files, classes, targets, groups, splits if "split" in columns else None, tuple(missing)
    )


def read_label_csv(csv_path: Path) -> tuple[set[str], list[tuple[int, dict[str, str]]]]:
    """The columns of a ``labels.csv`` and its rows with their line numbers, so that every later
    complaint can name the line to fix; a missing file or a header without ``file`` and ``labels``
    raises ``ValueError`` saying what to write."""
    if not csv_path.is_file():
        raise ValueError(
            f"{csv_path} does not exist; write it with the columns file,labels (labels separated "
            f"by '{LABEL_SEPARATOR}'), or name another CSV with --labels"
        )
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = set(reader.fieldnames or ())
        if not {"file", "labels"} <= columns:
            raise ValueError(
                f"{csv_path}: the header must name the columns file and labels (optional: group, "
                f"split), found {sorted(columns)}"
            )
        return columns, [(line, row) for line, row in enumerate(reader, start=2)]


def checked_rows(
    csv_path: Path, folder: Path, columns: set[str], rows: list[tuple[int, dict[str, str]]]
) -> tuple[list[tuple[str, list[str], str, str]], list[tuple[str, str]]]:
    """(file, label names, group, split) of every row whose file is in ``folder``, and (file, reason)
    of those whose file is not. A row without a file or a label, a file listed twice or a split other
    than train or validation raises ``ValueError`` naming the line. A row without a group is its own
    group (a clip alone never leaks into validation through a shared recording)."""
    kept, missing, seen = [], [], {}
    for line, row in rows:
        name = (row["file"] or "").strip()
        names = [n.strip() for n in (row["labels"] or "").split(LABEL_SEPARATOR) if n.strip()]
        if not name or not names:
            raise ValueError(f"{csv_path}:{line}: every row needs a file and at least one label")
        if name in seen:
            raise ValueError(
                f"{csv_path}:{line}: {name} is listed twice (lines {seen[name]} and {line}); "
                "give each file one row with all its labels"
            )
        seen[name] = line
        split = (row.get("split") or "").strip()
        if "split" in columns and split not in SPLITS:
            raise ValueError(f"{csv_path}:{line}: split must be train or validation, got {split!r}")
        if not (folder / name).is_file():
            missing.append((name, "no such file in the folder"))
            continue
        kept.append((name, names, (row.get("group") or "").strip() or name, split))
    return kept, missing


def validation_mask(data: LabelledFolder, share: float, seed: int) -> np.ndarray:
    """Which clips validate: the CSV's ``split`` column, else whole groups drawn per class, rarest class
    first, until each class has ``ceil(share × its groups)`` groups held out and at least one kept for
    training. A class with a single group cannot be both trained and validated: ``ValueError``."""
    if data.splits is not None:
        mask = np.array([s == "validation" for s in data.splits])
    else:
        group_ids = {g: i for i, g in enumerate(dict.fromkeys(data.groups))}
        of_clip = np.array([group_ids[g] for g in data.groups])
        group_targets = np.zeros((len(group_ids), len(data.classes)), dtype=bool)
        np.logical_or.at(group_targets, of_clip, data.targets)
        held = np.zeros(len(group_ids), dtype=bool)
        rng = np.random.default_rng(seed)
        for c in np.argsort(group_targets.sum(0), kind="stable"):
            members = np.flatnonzero(group_targets[:, c])
            if len(members) < 2:
                raise ValueError(
                    f"class {data.classes[c]!r} has {len(members)} group(s) of clips: it needs at "
                    "least 2 (one to train on, one to validate); add recordings of it"
                )
            wanted = min(len(members) - 1, math.ceil(share * len(members)))
            for g in rng.permutation(members):
                if held[group_targets[:, c]].sum() >= wanted:
                    break
                if not held[g] and (held | (np.arange(len(held)) == g))[members].sum() < len(members):
                    held[g] = True
        mask = held[of_clip]
    for name, part in (("training", ~mask), ("validation", mask)):
        absent = [c for c, present in zip(data.classes, data.targets[part].any(0)) if not present]
        if absent:
            raise ValueError(
                f"the {name} clips have no example of {absent}; add clips of these classes or "
                "change the split column"
            )
    return mask


# ------------------------------------------------------------------------------ staging
def stage(data: LabelledFolder, mask: np.ndarray, out: Path, progress: bool = False) -> dict[str, Any]:
    """Pack the training and validation clips into ``out/staged/{train,validation}.h5`` (PANNs layout).

    The files are linked into ``staged/audio`` under AudioSet-style names (``Yf000012.<ext>``) with
    their classes as label ids ``c0, c1, …``, so :func:`~panns_lite.packing.pack` decodes, checks and
    resumes them as any AudioSet part; a file it cannot decode is skipped and reported."""
    staged = out / "staged"
    audio = staged / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    ids = [f"f{i:06d}" for i in range(len(data.files))]
    for ytid, name in zip(ids, data.files):
        link = audio / f"Y{ytid}{Path(name).suffix.lower()}"
        target = (data.folder / name).resolve()
        if not (link.is_symlink() and link.resolve() == target):
            link.unlink(missing_ok=True)
            link.symlink_to(target)
    vocabulary = class_vocabulary(data.classes)
    by_name = dict(zip((f"Y{i}.wav" for i in ids), data.files))
    packed, skipped = {}, []
    for split, rows in (("train", np.flatnonzero(~mask)), ("validation", np.flatnonzero(mask))):
        segments = [
            Segment(ids[r], 0.0, 10.0, tuple(vocabulary.mids[c] for c in np.flatnonzero(data.targets[r])))
            for r in rows
        ]
        h5, reasons = staged / f"{split}.h5", staged / f"{split}_skipped.json"
        if not (h5.is_file() and reasons.is_file()):  # not packed yet (pack resumes a stopped packing)
            write_segments(staged / f"{split}_segments.csv", segments, created="by panns_lite finetune")
            report = pack(staged / f"{split}_segments.csv", audio, h5, labels=vocabulary, progress=progress)
            atomic_write(reasons, lambda fh, skipped=report.skipped: fh.write(json.dumps(skipped).encode()))
        skipped += [(by_name.get(name, name), reason) for name, reason in json.loads(reasons.read_text())]
        packed[split] = h5
    return {"packed": packed, "skipped": skipped}


def class_vocabulary(classes: Sequence[str]) -> ClassLabels:
    """The folder's classes as a label vocabulary: ids ``c0 …`` (what the staged CSVs name), display names
    the user's own."""
    return ClassLabels(tuple(f"c{i}" for i in range(len(classes))), tuple(classes))


# ------------------------------------------------------------------------------ the job
def finetune(
    folder: str | os.PathLike[str],
    out: str | os.PathLike[str],
    settings: FineTuneSettings = FineTuneSettings(),
    labels_csv: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> FineTuneReport:
    """Fine-tune ``settings.checkpoint`` on the labelled ``folder``; the model goes to ``out/model.pt``.

    ``out`` holding another job (another folder, CSV content or settings) is refused unless
    ``overwrite``; holding this job, it is continued (or returned, if finished)."""
    data = read_labelled_folder(folder, labels_csv)
    mask = validation_mask(data, settings.validation_share, settings.seed)
    out = Path(out)
    job = {
        "folder": str(data.folder.resolve()),
        "files": list(data.files),
        "classes": list(data.classes),
        "targets_sha256": hashlib.sha256(np.packbits(data.targets).tobytes()).hexdigest(),
        "validation": [f for f, v in zip(data.files, mask) if v],
        "settings": asdict(settings),
    }
    claim(out, job, overwrite)
    if (out / MODEL_NAME).is_file():  # this job, finished
        return report_of(out / MODEL_NAME, data.classes)
    base = resolve_checkpoint(settings.checkpoint)
    staged = stage(data, mask, out, progress)
    skipped = tuple(data.missing) + tuple(staged["skipped"])
    train_set, validation_set = (PackedDataset(staged["packed"][s]) for s in SPLITS)
    for name, part in (("training", train_set), ("validation", validation_set)):
        if not part.targets.any(0).all():
            raise ValueError(
                f"after skipping unreadable files the {name} clips lack a class; fix or replace the "
                f"files listed: {', '.join(f for f, _ in skipped)}"
            )
    if settings.mode == "probe":
        model, chosen, score = probe(base, train_set, validation_set, settings)
    else:
        model, chosen, score = gradient(base, staged["packed"], len(data.classes), out, settings, progress)
    prevalence = np.broadcast_to(train_set.targets.mean(0), validation_set.targets.shape)
    chance = mean_average_precision(validation_set.targets, prevalence)[0]
    save_checkpoint(
        model,
        out / MODEL_NAME,
        class_names=list(data.classes),
        mode=settings.mode,
        source=str(settings.checkpoint),
        validation_mAP=score,
        chance_mAP=float(chance),
        chosen=chosen,
        train_clips=len(train_set),
        validation_clips=len(validation_set),
        skipped=[list(s) for s in skipped],
    )
    return report_of(out / MODEL_NAME, data.classes)


def report_of(model_path: Path, classes: tuple[str, ...]) -> FineTuneReport:
    """The report a finished job's ``model.pt`` records."""
    extra = load_extra(model_path)
    return FineTuneReport(
        model_path,
        extra["mode"],
        classes,
        extra["train_clips"],
        extra["validation_clips"],
        extra["validation_mAP"],
        extra["chance_mAP"],
        extra["chosen"],
        tuple(tuple(s) for s in extra["skipped"]),
    )


def claim(out: Path, job: dict[str, Any], overwrite: bool) -> None:
    """Make ``out`` this job's folder: new, this job's already, or (``overwrite``) emptied of another's."""
    record = out / JOB_NAME
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; give --out a folder")
    if record.is_file():
        if json.loads(record.read_text()) == job:
            return
        if not overwrite:
            raise ValueError(
                f"{out} holds another fine-tuning job (other folder, labels or settings); pass "
                "--overwrite to replace it, or choose another --out"
            )
        shutil.rmtree(out)
    elif out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"{out} is not empty and holds no fine-tuning job; choose another --out")
    elif out.is_dir() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(record, lambda fh: fh.write(json.dumps(job, indent=1).encode()))


def probe(
    base: Path, train_set: PackedDataset, validation_set: PackedDataset, settings: FineTuneSettings
) -> tuple[torch.nn.Module, str, float]:
    """A logistic regression per class on the frozen embedding, ``C`` chosen on the validation mAP, folded
    into a new head: ``head(e) = (w/σ)·e + b − Σ w μ/σ`` for the standardisation (μ, σ) it was fitted on."""
    from sklearn.linear_model import LogisticRegression

    from panns_lite.runtime import configure_cpu
    from panns_lite.transfer import embeddings

    configure_cpu(settings.threads)
    model = load_checkpoint(base)
    x_train, x_val = (
        embeddings(model, LogMelCache.build(part, model.logmel)) for part in (train_set, validation_set)
    )
    mean, scale = x_train.mean(0), x_train.std(0)
    scale[scale == 0] = 1.0
    z_train, z_val = (x_train - mean) / scale, (x_val - mean) / scale
    best = None
    for c in PROBE_C:
        fits = [
            LogisticRegression(C=c, max_iter=2000).fit(z_train, train_set.targets[:, k])
            for k in range(train_set.targets.shape[1])
        ]
        weight = np.stack([f.coef_[0] for f in fits])
        bias = np.array([f.intercept_[0] for f in fits])
        score = mean_average_precision(validation_set.targets, z_val @ weight.T + bias)[0]
        if best is None or score > best[0]:
            best = (score, c, weight, bias)
    score, c, weight, bias = best
    model.reset_head(weight.shape[0])
    with torch.no_grad():
        model.fc_audioset.weight.copy_(torch.from_numpy(weight / scale).float())
        model.fc_audioset.bias.copy_(torch.from_numpy(bias - (weight * mean / scale).sum(1)).float())
    return model.eval(), f"C = {c:g}", float(score)


def gradient(
    base: Path, packed: dict[str, Path], classes: int, out: Path, settings: FineTuneSettings, progress: bool
) -> tuple[torch.nn.Module, str, float]:
    """Train (``frozen``: the head; ``all``: every weight) in segments of ``eval_every`` iterations,
    keeping the best model so far (``best.pt``) and stopping ``patience`` evaluations after the last
    improvement. The fresh head at iteration 0 is never kept.

    The early-stopping state is read back from the run's statistics and checkpoint before every
    segment, so an interrupted job resumes with it."""
    from panns_lite.runs import CHECKPOINT_NAME, read_statistics
    from panns_lite.train import train
    from panns_lite.train_config import TrainConfig

    config = TrainConfig(
        train_data=str(packed["train"]),
        eval_data=str(packed["validation"]),
        out_dir=str(out / "run"),
        init_checkpoint=str(base),
        new_head=classes,
        freeze_base=settings.mode == "frozen",
        batch_size=settings.batch_size,
        lr=settings.learning_rate,
        iterations=settings.max_iterations,
        eval_every=settings.eval_every,
        checkpoint_every=settings.eval_every,
        augment=AugmentConfig(mixup=False),
        seed=settings.seed,
        threads=settings.threads,
        device="cpu",
        progress=progress,
    )
    run, best_path = Path(config.out_dir), out / BEST_NAME
    while True:
        checkpoint = run / CHECKPOINT_NAME
        at = load_extra(checkpoint)["iteration"] if checkpoint.is_file() else None
        statistics = read_statistics(run) if at is not None else []
        if at is not None and statistics[-1]["iteration"] == at and at > 0:
            best = best_evaluation(statistics)
            kept = load_extra(best_path).get("iteration") if best_path.is_file() else None
            if best["iteration"] == at and kept != at:
                save_checkpoint(load_checkpoint(checkpoint), best_path, iteration=at, mAP=best["mAP"])
            if at >= settings.max_iterations or stopped(statistics, settings.patience):
                return load_checkpoint(best_path), f"iteration {best['iteration']}", float(best["mAP"])
        train(config, resume=at is not None, overwrite=at is None, stop_at=(at or 0) + settings.eval_every)


def best_evaluation(statistics: list[dict[str, Any]]) -> dict[str, Any]:
    """The evaluation with the best validation mAP after iteration 0 (the earliest on ties)."""
    return max(
        (row for row in statistics if row["iteration"] > 0), key=lambda row: (row["mAP"], -row["iteration"])
    )


def stopped(statistics: list[dict[str, Any]], patience: int) -> bool:
    """True once ``patience`` evaluations have passed since the best one (:func:`best_evaluation`)."""
    best = best_evaluation(statistics)["iteration"]
    return sum(row["iteration"] > best for row in statistics) >= patience


def settings_from(**options: Any) -> FineTuneSettings:
    """Settings from CLI options, ``None`` meaning the default."""
    return replace(FineTuneSettings(), **{k: v for k, v in options.items() if v is not None})
