"""A run's folder and the files in it: the claim on the folder, the statistics, the training checkpoint.

A run lives in one folder (``TrainConfig.out_dir``) and is identified by its recipe, the config
less the bookkeeping settings (:data:`~panns_lite.train_config.RESUMABLE_CHANGES`), and by its
data's fingerprints. That identity decides both whether a checkpoint may be resumed
(:func:`restore`) and whether a finished run can be reused (:func:`trained`, the cache of trained
models the book's chapters share), so both read it from here through :func:`recipe_changes`.

The training checkpoint is our model format (:func:`~panns_lite.checkpoints.save_checkpoint`) with
the run's state as plain extras (optimizer, sampler position, config as
:func:`~panns_lite.train_config.plain` data, statistics), read back with ``weights_only=True``.
The loop that writes these files is :mod:`panns_lite.train`.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from panns_lite.checkpoints import CheckpointError, atomic_write, load_extra, read_payload, save_checkpoint
from panns_lite.datasets import PackedDataset
from panns_lite.models import AudioTagger
from panns_lite.train_config import ADDED_SETTINGS, REMOVED_SETTINGS, RESUMABLE_CHANGES, TrainConfig, plain

CHECKPOINT_NAME = "checkpoint.pt"
RUN_FILES = (CHECKPOINT_NAME, "statistics.json", "statistics.csv", "model.pt")
"""What a run writes in its folder: their presence means the folder holds a run."""
LOCK_NAME = ".train.lock"
DATA_KEYS = ("train_data", "eval_data", "natural_eval_data")
EVAL_SETS = {"eval_data": "", "natural_eval_data": "natural_"}
"""The evaluation sets (config fields) and the prefix of their keys in a statistics entry."""


@contextmanager
def claimed_run_folder(out: Path, resume: bool, overwrite: bool, is_main: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on run folder ``out`` and check that this run may write there.

    The lock is ``fcntl.flock`` on ``out/.train.lock``: the operating system releases it when the
    process ends, however it ends (SIGKILL included), so a crashed run never leaves the folder
    locked. Only rank 0 of a ``torchrun`` group writes files, so only it takes the lock.
    """
    if not is_main:
        yield
        return
    if resume and overwrite:
        raise ValueError(f"{out}: resume and overwrite exclude each other; choose one")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not a run folder; give --out a folder path")
    out.mkdir(parents=True, exist_ok=True)
    lock_path = out / LOCK_NAME
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise ValueError(
                f"{out} is in use by another training process (pid {holder}); wait for it to end "
                "or choose another --out"
            ) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        existing = [name for name in RUN_FILES if (out / name).exists()]
        if existing and not resume:
            if not overwrite:
                raise ValueError(
                    f"{out} holds a run ({', '.join(existing)}); pass --resume to continue it, "
                    "--overwrite to replace it, or choose another --out"
                )
            for name in existing:
                (out / name).unlink()
        yield


def trained(config: TrainConfig) -> Path:
    """The ``model.pt`` of the run ``config`` describes, training (or finishing) it only when needed.

    This is the model cache the book's chapters share: chapter 4 trains the ``ci`` preset, later
    chapters call this with the same config and get the same file back at no cost, and a chapter
    run on its own trains it first. A finished run is reused only if it was written with exactly
    this recipe (the same test as resuming); an interrupted one is resumed.
    """
    from panns_lite.train import train  # the loop uses this module's files: imported when needed

    out = Path(config.out_dir)
    model_path = out / "model.pt"
    if model_path.is_file():
        data = data_fingerprints(data_sets(config))
        differ = recipe_changes(load_extra(model_path), config, data, RESUMABLE_CHANGES - {"iterations"})
        if not differ:
            return model_path
        raise ValueError(
            f"{out} holds a run with another recipe (other {', '.join(differ)}); choose another "
            "out_dir or delete it"
        )
    resume = (out / CHECKPOINT_NAME).is_file()  # statistics left without a checkpoint hold nothing to resume
    return train(config, resume=resume, overwrite=not resume).model_path


def write_statistics(out: Path, statistics: list[dict[str, Any]]) -> None:
    """``statistics.json`` (everything) and ``statistics.csv`` (the scalar columns), both atomic."""
    atomic_write(out / "statistics.json", lambda fh: fh.write(json.dumps(statistics).encode()))
    prefixes = [p for p in EVAL_SETS.values() if f"{p}mAP" in statistics[-1]]
    scores = [f"{p}{c}" for p in prefixes for c in ("mAP", "classes", "mAUC", "d_prime")]
    columns = ["iteration", *scores, "train_loss", "wall_seconds"]
    rows = [",".join(columns)] + [
        ",".join("" if s[c] is None else str(s[c]) for c in columns) for s in statistics
    ]
    atomic_write(out / "statistics.csv", lambda fh: fh.write(("\n".join(rows) + "\n").encode()))


def read_statistics(run: Path) -> list[dict[str, Any]]:
    """The evaluations a training run wrote into its folder ``run`` (:func:`write_statistics`), first
    to last; ``ValueError`` naming the folder when it holds none."""
    path = Path(run) / "statistics.json"
    if not path.is_file():
        raise ValueError(f"{path}: no such file; is {run} a training run that has evaluated at least once?")
    return json.loads(path.read_text())


def data_sets(config: TrainConfig) -> dict[str, PackedDataset]:
    """The run's packed sets by config field; the natural evaluation set only when one is given."""
    return {
        key: PackedDataset(getattr(config, key))
        for key in DATA_KEYS
        if key != "natural_eval_data" or config.natural_eval_data
    }


def data_fingerprints(sets: dict[str, PackedDataset]) -> dict[str, str]:
    """What identifies a run's data: the sets' fingerprints (names, targets, rate), not their paths.

    A set not given has no entry, so a run without a natural split keeps the two-key dict of the
    runs written before that split existed."""
    return {key: s.fingerprint() for key, s in sets.items()}


def recipe_changes(
    saved: dict[str, Any], config: TrainConfig, data: dict[str, str], allowed: set[str]
) -> list[str]:
    """The settings in which ``config`` differs from a saved run (a checkpoint's or ``model.pt``'s extras).

    Resuming and the run cache (:func:`trained`) both ask this. The data are compared by
    fingerprint, so a run folder copied to another machine or workspace, where the same MiniSet lives
    under another path, is still the same run; files written before fingerprints were stored fall
    back to comparing the paths. A data set missing on one side (no natural split) differs only from
    one present on the other; a removed setting (:data:`~panns_lite.train_config.REMOVED_SETTINGS`)
    differs when the saved run used it.
    """
    now, before = plain(config), saved.get("config", {})
    differ = [
        k
        for k in now
        if k not in allowed and k not in DATA_KEYS and before.get(k, ADDED_SETTINGS.get(k)) != now[k]
    ]
    differ += [k for k, inert in REMOVED_SETTINGS.items() if before.get(k, inert) != inert]
    saved_data = saved.get("data") or {k: before.get(k) for k in DATA_KEYS}
    current = data if saved.get("data") else {k: now.get(k) for k in DATA_KEYS}
    return sorted(differ + [k for k in DATA_KEYS if saved_data.get(k) != current.get(k)])


def save_training_checkpoint(
    path: Path,
    model: AudioTagger,
    optimizer: torch.optim.Optimizer,
    sampler: Any,
    config: TrainConfig,
    data: dict[str, str],
    iteration: int,
    statistics: list[dict[str, Any]],
    step_losses: list[float],
    wall: float,
) -> None:
    """Model (our format, so ``load_checkpoint`` reads it too), optimizer, sampler position, iteration,
    config, the data's fingerprints, statistics and the loss of every step so far. The random state of
    the run is (seed, iteration) by construction (:mod:`panns_lite.train`'s docstring), recorded under
    ``rng``."""
    save_checkpoint(
        model,
        path,
        iteration=iteration,
        optimizer=optimizer.state_dict(),
        sampler=sampler.state_dict(position=iteration),
        config=plain(config),
        data=data,
        statistics=statistics,
        step_losses=step_losses,
        wall_seconds=wall,
        rng={"scheme": "counter", "seed": config.seed, "iteration": iteration},
    )


def restore(
    path: Path,
    config: TrainConfig,
    data: dict[str, str],
    model: AudioTagger,
    optimizer: torch.optim.Optimizer,
    sampler: Any,
) -> tuple[int, list[dict[str, Any]], list[float], float]:
    """Load a training checkpoint into the live objects; refuse one written with another recipe or data."""
    if not path.is_file():
        raise FileNotFoundError(f"cannot resume: {path} does not exist")
    payload = read_payload(path)
    extra = payload.get("extra") if isinstance(payload, dict) else None
    if not isinstance(extra, dict) or "optimizer" not in extra:
        raise CheckpointError(
            f"cannot resume: {path} is not a training checkpoint (no optimizer state); "
            "start again with --overwrite"
        )
    resumable = RESUMABLE_CHANGES - ({"iterations"} if config.lr_schedule != "constant" else set())
    differ = recipe_changes(extra, config, data, resumable)
    if differ:
        raise ValueError(f"cannot resume {path}: it was written with other {', '.join(differ)}")
    model.load_state_dict(payload["state_dict"])
    optimizer.load_state_dict(extra["optimizer"])
    sampler.load_state_dict(extra["sampler"])
    return (
        int(extra["iteration"]),
        list(extra["statistics"]),
        list(extra["step_losses"]),
        float(extra["wall_seconds"]),
    )
