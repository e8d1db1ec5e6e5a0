"""Pretraining the tagger this project ships: a small CNN14 trained here on the ``pretrain`` MiniSet.

E-PANNs prunes a *pre-trained* CNN14 and fine-tunes what is left; PANNs users start from the released
checkpoints. Those checkpoints (and AudioSet) cannot be fetched here, and a model trained for ten
minutes in CI is no better than a linear baseline, so the book's later chapters start from this
model instead, as E-PANNs starts from the released CNN14 (book, chapter 4, "The pretrained tagger").

It is *not* a PANNs model: it saw the MiniSet's mixtures of a few thousand real recordings, not two
million YouTube clips, and it predicts the same 527 AudioSet classes only in name. Two files in
``data/models/``:

* ``pretrained.pt``: float16 weights in our checkpoint format
  (:func:`~panns_lite.checkpoints.save_checkpoint`), loaded back as float32;
* ``pretrained.json``: the record: the config, the data's fingerprints, the MiniSet preset, the git
  commit of each training segment, device, torch version, wall time, every evaluation on both
  evaluation splits, the file's sha256 (checked on every load) and the losses of the first steps as
  exact float hex strings, which :func:`replay` reproduces bit for bit on CPU.

``make pretrained`` (``scripts/train_pretrained.py``) retrains it from scratch and rewrites both;
``panns_lite.pretrained()`` is :func:`pretrained`.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from panns_lite.checkpoints import (
    FORMAT,
    FORMAT_VERSION,
    CheckpointError,
    atomic_write,
    load_checkpoint,
    load_extra,
)
from panns_lite.miniset import prepare_miniset
from panns_lite.models import AudioTagger, count_parameters
from panns_lite.paths import DATA_DIR, workspace
from panns_lite.recovery import file_digest
from panns_lite.runs import data_fingerprints, data_sets
from panns_lite.runtime import cpu_amx, cpu_bf16
from panns_lite.train import train
from panns_lite.train_config import TrainConfig, preset

MODELS_DIR = DATA_DIR / "models"
WEIGHTS_NAME = "pretrained.pt"
RECORD_NAME = "pretrained.json"
PRESET = "pretrain"
NAME = "pretrained"
"""What ``--checkpoint`` accepts in place of a path to mean this model."""
REPLAY_STEPS = 20
RETRAIN_HINT = "run `make pretrained` to retrain it (about 2.5 hours on 2 CPU cores)"


def read_record(models_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The record (``pretrained.json``) of the shipped model."""
    path = Path(models_dir or MODELS_DIR) / RECORD_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; {RETRAIN_HINT}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}); restore it with `git checkout {path.name}` or {RETRAIN_HINT}"
        ) from None


def pretrained_path(models_dir: str | os.PathLike[str] | None = None) -> Path:
    """The weights file, after checking its sha256 against the record (a changed or truncated file is
    refused)."""
    record = read_record(models_dir)
    path = Path(models_dir or MODELS_DIR) / record["file"]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; {RETRAIN_HINT}")
    digest = file_digest(path)
    if digest != record["sha256"]:
        raise CheckpointError(
            f"{path}: sha256 {digest[:12]}… differs from the record's {record['sha256'][:12]}… "
            f"({RECORD_NAME}); restore the file (git checkout) or {RETRAIN_HINT}"
        )
    return path


def pretrained(models_dir: str | os.PathLike[str] | None = None) -> AudioTagger:
    """The shipped tagger, float32, in eval mode (the sha256 is checked first)."""
    return load_checkpoint(pretrained_path(models_dir))


def pretrained_config(models_dir: str | os.PathLike[str] | None = None) -> TrainConfig:
    """The recipe the shipped model was trained with, pointed at this workspace's copy of its MiniSet.

    The base of every run that starts from the shipped model (chapter 7: pruned models fine-tuned
    with the recipe that trained them, and the unpruned control), in ``<workspace>/runs/pretrained``.
    The MiniSet is not prepared here (:func:`~panns_lite.miniset.prepare_miniset`, preset
    ``record['preset']``).
    """
    record = read_record(models_dir)
    local = preset(record["preset"])
    return replace(
        TrainConfig.from_plain(record["config"]),
        train_data=local.train_data,
        eval_data=local.eval_data,
        natural_eval_data=local.natural_eval_data,
        out_dir=str(workspace() / "runs" / NAME),
    )


def resolve_checkpoint(checkpoint: str | os.PathLike[str]) -> Path:
    """A checkpoint argument as a path: the word ``pretrained`` names the shipped model (checked)."""
    return pretrained_path() if str(checkpoint) == NAME else Path(checkpoint)


def half_precision(model: AudioTagger) -> dict[str, torch.Tensor]:
    """The state dict with floating tensors stored as float16 (counters such as ``num_batches_tracked``
    kept)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}


def scalar_statistics(statistics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statistics rows without their per-class lists (``ap``, ``auc``): the record's curve."""
    return [{k: v for k, v in row.items() if not k.endswith(("ap", "auc"))} for row in statistics]


def export_pretrained(
    run_dir: str | os.PathLike[str],
    models_dir: str | os.PathLike[str] | None = None,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write the finished run's model as float16 weights and its record; returns the weights path.

    ``run_dir`` holds the trainer's ``model.pt`` and ``checkpoint.pt`` (the step losses and the
    statistics); ``provenance`` (commits, machines, wall times of the training segments) is copied
    into the record as given.
    """
    run_dir, models_dir = Path(run_dir), Path(models_dir or MODELS_DIR)
    model_path, checkpoint_path = run_dir / "model.pt", run_dir / "checkpoint.pt"
    for path in (model_path, checkpoint_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: the run in {run_dir} has not finished")
    extra, training = load_extra(model_path), load_extra(checkpoint_path)
    model = load_checkpoint(model_path)
    models_dir.mkdir(parents=True, exist_ok=True)
    weights = models_dir / WEIGHTS_NAME
    write_half_weights(model, extra, weights)
    record = pretrained_record(model, extra, training, weights, provenance)
    atomic_write(
        models_dir / RECORD_NAME, lambda fh: fh.write((json.dumps(record, indent=1) + "\n").encode())
    )
    return weights


def write_half_weights(model: AudioTagger, extra: dict[str, Any], weights: Path) -> None:
    """``model`` in the checkpoint format :func:`~panns_lite.checkpoints.load_checkpoint` reads, its
    floating tensors in float16 (:func:`half_precision`: half the bytes to ship), with the run's
    iteration, config and data description from its ``extra``."""
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "architecture": model.architecture(),
        "state_dict": half_precision(model),
        "extra": {
            "iteration": extra["iteration"],
            "config": extra["config"],
            "data": extra["data"],
            "weights_dtype": "float16",
        },
    }
    atomic_write(weights, lambda fh: torch.save(payload, fh))


def pretrained_record(
    model: AudioTagger,
    extra: dict[str, Any],
    training: dict[str, Any],
    weights: Path,
    provenance: dict[str, Any] | None,
) -> dict[str, Any]:
    """The record shipped beside the weights (``pretrained.json``): what the model is and how it was
    trained, its checksum, its curves, the first step losses and environment a replay checks against
    (:func:`replay`) and the scores the shipped weights reach (:func:`shipped_scores`)."""
    steps, config = training["step_losses"], TrainConfig.from_plain(extra["config"])
    return {
        "name": NAME,
        "description": (
            f"{model.architecture()['name']} at width {extra['config']['width']:g}, trained by panns-lite "
            f"on the MiniSet ({PRESET} preset), not on AudioSet"
        ),
        "file": WEIGHTS_NAME,
        "sha256": file_digest(weights),
        "bytes": weights.stat().st_size,
        "weights_dtype": "float16",
        "architecture": model.architecture()["name"],
        "parameters": count_parameters(model),
        "preset": PRESET,
        "config": extra["config"],
        "data": extra["data"],
        "iterations": extra["iteration"],
        "wall_seconds": training["wall_seconds"],
        "torch": torch.__version__,
        "statistics": scalar_statistics(training["statistics"]),
        "first_losses": [float(v).hex() for v in steps[:REPLAY_STEPS]],
        "replay": replay_environment(config),
        "shipped_scores": shipped_scores(weights, config),
        "provenance": provenance or {},
    }


def shipped_scores(weights: Path, config: TrainConfig) -> dict[str, Any]:
    """The float16 file scored on the run's evaluation splits from the waveforms, as a user runs it.

    The trainer scored the float32 weights on its float16 log-mel cache; this checks that storing the
    weights in float16 changed nothing that matters (:func:`~panns_lite.evaluation.evaluate_checkpoint`)."""
    from panns_lite.evaluation import evaluate_checkpoint

    scores: dict[str, Any] = {}
    for prefix, path in (("", config.eval_data), ("natural_", config.natural_eval_data)):
        if path:
            result = evaluate_checkpoint(weights, path).scores
            scores.update(
                {
                    f"{prefix}mAP": result.mAP,
                    f"{prefix}classes": result.classes_ap,
                    f"{prefix}mAUC": result.mAUC,
                    f"{prefix}d_prime": result.d_prime,
                }
            )
    return scores


def replay_environment(config: TrainConfig) -> dict[str, Any]:
    """What a bit-for-bit CPU replay depends on besides the recipe: torch, threads, bf16 kernels (native
    bf16 at all, and AMX tiles or not)."""
    return {
        "torch": torch.__version__,
        "threads": config.threads,
        "cpu_bf16": cpu_bf16(),
        "cpu_amx": cpu_amx(),
        "machine": platform.machine(),
    }


LEGACY_ENVIRONMENT = {"cpu_amx": False}
"""Keys a record written before they existed lacks, with the value its training machine had (the
shipped model was trained on AMD EPYC CPUs: AVX512-BF16, no AMX)."""


def replay_references(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The loss lists a replay may be compared with, each with the environment it holds for: the training
    run's own first losses, then ``replay_references`` recorded for other CPU kernels (the same recipe,
    data and trainer replayed on a machine whose bf16 kernels differ, so that a replay there is still
    compared bit for bit with something)."""
    own = {
        "environment": {**LEGACY_ENVIRONMENT, **record["replay"]},
        "losses": record["first_losses"],
        "source": "the training run",
    }
    return [own, *record.get("replay_references", [])]


@dataclass(frozen=True)
class Replay:
    """The recorded losses of the first steps and the ones a replay computed, as float hex strings."""

    recorded: list[str]
    replayed: list[str]
    source: str = "the training run"
    """Whose losses ``recorded`` are: the training run's, or a reference for this machine's kernels."""

    @property
    def equal(self) -> bool:
        return self.recorded == self.replayed

    def first_difference(self) -> int | None:
        return next((i for i, (a, b) in enumerate(zip(self.recorded, self.replayed)) if a != b), None)


def replay(
    models_dir: str | os.PathLike[str] | None = None,
    steps: int = REPLAY_STEPS,
    data: dict[str, str] | None = None,
) -> Replay:
    """Train the recorded recipe from scratch for ``steps`` iterations on CPU and return both loss lists.

    ``data`` maps the config's data fields (``train_data``, ``eval_data``, ``natural_eval_data``) to
    packed files; by default the record's MiniSet preset is prepared in the workspace (same seed,
    same bytes). The replay is compared with the losses recorded for this machine's environment
    (:func:`replay_references`: the training run's, or a reference for other bf16 kernels). Refuses
    to compare when the data's fingerprints differ from the record's, or when no recorded losses hold
    for this torch version, thread count and bf16 kernels, since then the losses may differ in their
    last bits for a reason other than a changed trainer.
    """
    record = read_record(models_dir)
    if not 1 <= steps <= len(record["first_losses"]):
        raise ValueError(
            f"steps must be in [1, {len(record['first_losses'])}] (the recorded losses), got {steps}"
        )
    recorded = TrainConfig.from_plain(record["config"])
    if data is None:
        paths = prepare_miniset(workspace() / f"miniset-{record['preset']}", record["preset"])
        data = {
            "train_data": str(paths["balanced_train"]),
            "eval_data": str(paths["eval"]),
            "natural_eval_data": str(paths["natural_eval"]) if recorded.natural_eval_data else "",
        }
    with tempfile.TemporaryDirectory(prefix="panns-lite-replay-") as out:
        config = replace(
            recorded, **data, out_dir=out, device="cpu", progress=False, eval_every=recorded.iterations
        )
        here = replay_environment(config)
        reference = next((r for r in replay_references(record) if r["environment"] == here), None)
        differ: dict[str, Any] = (
            {}
            if reference
            else {
                k: f"{v} here, {record['replay'].get(k, LEGACY_ENVIRONMENT.get(k))} recorded"
                for k, v in here.items()
                if record["replay"].get(k, LEGACY_ENVIRONMENT.get(k)) != v
            }
        )
        if data_fingerprints(data_sets(config)) != record["data"]:
            differ["data"] = "the packed files' fingerprints differ from the record's"
        if differ or reference is None:
            raise ValueError(
                f"cannot replay {Path(models_dir or MODELS_DIR) / RECORD_NAME} bit for bit here: {differ}"
            )
        result = train(config, stop_at=steps)
    return Replay(
        reference["losses"][:steps], [float(v).hex() for v in result.step_losses[:steps]], reference["source"]
    )
