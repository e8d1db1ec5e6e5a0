"""Recovering a pruned CNN14 by fine-tuning, E-PANNs style (reference §10.3).

E-PANNs prunes a trained CNN14 without data (:mod:`panns_lite.pruning`), then fine-tunes the
smaller network with the training recipe on the same data for a fraction of the original
iterations ("20–50 % of the effort"; reference §10.3). This module is that procedure on top of the trainer:

* :func:`pruned_checkpoint` prunes a trained model and saves it beside the run it came from
  (reused when present, so the book's chapters share it);
* :func:`recovery_config` is the base run's recipe started from that checkpoint, for fewer
  iterations, in its own run folder — its evaluation at iteration 0 is the mAP right after pruning;
* :func:`recover` trains it (or returns the cached run) with :func:`~panns_lite.runs.trained`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from panns_lite.checkpoints import load_checkpoint, load_extra, save_checkpoint
from panns_lite.pruning import epanns_ratios, parse_layers, prune
from panns_lite.runs import trained
from panns_lite.train_config import TrainConfig


def pruned_checkpoint(
    base_model: str | Path,
    ratio: float,
    criterion: str = "operator_norm",
    layers: str | Iterable[str] = "C7-C12",
    seed: int = 0,
    out: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """``base_model`` with ``layers`` pruned by ``ratio`` (E-PANNs numbering), saved to ``out``.

    The file records how it was made: the source file and its SHA-256, the per-layer ratios, the
    criterion and the seed. Without ``out`` it is a cache in ``cache_dir`` (default: beside the base
    model; the shipped pretrained model's folder is the repository's, so the book passes a workspace
    folder), ``pruned-<criterion>-<layers>-<percent>[-seed<seed>].pt`` (the seed only matters to ``random``),
    reused only when its record matches this call (so a retrained base model gets a fresh file) —
    this is what the book's chapters share. With ``out`` (the CLI) the file is always written.
    """
    base_model = Path(base_model)
    names = parse_layers(layers)
    ratios = epanns_ratios(ratio, names)
    record = dict(
        source_checkpoint=str(base_model),
        source_sha256=file_digest(base_model),
        ratios=ratios,
        criterion=criterion,
        seed=seed,
    )
    if out is None:
        label = f"{names[0]}-{names[-1]}" if len(names) > 1 else names[0]
        folder = Path(cache_dir) if cache_dir is not None else base_model.parent
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / (
            f"pruned-{criterion}-{label}-{round(100 * ratio)}"
            f"{f'-seed{seed}' if criterion == 'random' else ''}.pt"
        )
        if Path(out).is_file() and {k: load_extra(out).get(k) for k in record} == record:
            return Path(out)
    return save_checkpoint(prune(load_checkpoint(base_model), ratios, criterion, seed), out, **record)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def recovery_config(
    base: TrainConfig,
    pruned: str | Path,
    iterations: int,
    eval_every: int | None = None,
    teacher: str | Path | None = None,
    seed: int | None = None,
) -> TrainConfig:
    """The recipe of ``base`` (same data, sampler, augmentation, optimizer, seed), started from the
    ``pruned`` checkpoint and run for ``iterations`` steps, in ``<base out_dir>-<pruned file stem>``.

    ``teacher`` adds knowledge distillation from that model (:mod:`panns_lite.distillation`; E-PANNs'
    recovery uses none), ``seed`` another training seed; each gets its own run folder
    (``…-seed<seed>``, ``…-distilled``), so runs that differ only in these are cached side by side."""
    if iterations < 1:
        raise ValueError(f"recovery needs at least one iteration, got {iterations}")
    pruned = Path(pruned)
    seed = base.seed if seed is None else seed
    suffix = (f"-seed{seed}" if seed != base.seed else "") + ("-distilled" if teacher else "")
    return replace(
        base,
        init_checkpoint=str(pruned),
        iterations=iterations,
        eval_every=eval_every or base.eval_every,
        checkpoint_every=iterations,
        out_dir=f"{base.out_dir}-{pruned.stem}{suffix}",
        seed=seed,
        teacher=str(teacher or ""),
    )


def recover(
    base: TrainConfig,
    ratio: float,
    iterations: int,
    criterion: str = "operator_norm",
    layers: str | Iterable[str] = "C7-C12",
    eval_every: int | None = None,
    base_model: str | Path | None = None,
    distill: bool = False,
    seed: int | None = None,
) -> Path:
    """Prune the trained model of ``base`` (or ``base_model``, e.g. the shipped pretrained tagger, whose
    recipe ``base`` then is) and fine-tune it; returns the fine-tuned ``model.pt``.

    The base run is trained first if it is not in the cache. The pruned file is kept in the
    ``base`` run's folder. The run's ``statistics.json`` holds the recovery curve, starting with the
    mAP right after pruning (iteration 0); ``ratio=0`` keeps every filter: the control of training
    the unpruned model for the same steps. ``distill`` makes the unpruned parent the teacher
    (EfficientAT's loss); ``seed`` repeats the fine-tuning with another training seed (the pruning,
    deterministic for the norm criteria, keeps ``base``'s seed).
    """
    parent = base_model or trained(base)
    pruned = pruned_checkpoint(parent, ratio, criterion, layers, base.seed, cache_dir=Path(base.out_dir))
    return trained(
        recovery_config(base, pruned, iterations, eval_every, teacher=parent if distill else None, seed=seed)
    )
