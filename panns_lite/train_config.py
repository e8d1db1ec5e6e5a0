"""What a training run is: :class:`TrainConfig`, the named presets, and the config as plain data.

A separate module from the loop (:mod:`panns_lite.train`) because much more than the loop reads a
config: the run folders and their cache (:mod:`panns_lite.runs`), the shipped pretrained tagger's
record (:mod:`panns_lite.pretraining`), fine-tuning, the benchmarks and the book's chapters, most of
which never train. It is named ``train_config`` because the package has other configs (front end,
augmentation, MiniSet, fine-tuning), each beside the code it configures.

:func:`plain` is what a checkpoint or a record stores (lists and dicts, read back with
``weights_only=True``; :meth:`TrainConfig.from_plain` rebuilds the config): no class is pickled, so
moving this code between modules leaves every saved run loadable.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from panns_lite.augment import AugmentConfig
from panns_lite.models import MODELS
from panns_lite.paths import workspace, workspace_relative

LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; stored in every checkpoint and statistics file."""

    train_data: str
    eval_data: str
    natural_eval_data: str = field(default="", kw_only=True)
    """Whole held-out recordings, unmixed (the MiniSet's natural evaluation split), scored beside
    ``eval_data`` at every evaluation; empty: none (real AudioSet has no such split). Keyword-only so
    it can sit beside ``eval_data`` before the required ``out_dir``."""
    out_dir: str
    model: str = "Cnn14"
    width: float = 1.0
    widths: tuple[int, ...] | None = None
    dropout: float | None = None
    head_dropout: float | None = None
    init_checkpoint: str | None = None
    new_head: int | None = None
    freeze_base: bool = False
    batch_size: int = 32
    lr: float = 1e-3
    lr_schedule: str = "constant"
    warmup_iterations: int = 0
    teacher: str = ""
    """Knowledge distillation (:mod:`panns_lite.distillation`): a checkpoint run on the student's input,
    or an ``.npz`` of logits per training clip; empty: none."""
    distill_label_weight: float = 0.1
    """With a teacher, the labels' share λ of the loss (EfficientAT: 0.1); the teacher's is 1 − λ."""
    iterations: int = 600_000
    eval_every: int = 2000
    checkpoint_every: int = 100_000
    sampler: str = "balanced"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    micro_batches: int = 1
    cache_logmel: bool = True
    cache_dtype: str = "float16"
    channels_last: bool = True
    eval_batch_size: int = 32
    threads: int | None = None
    device: str = "auto"
    amp: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose from {sorted(MODELS)}")
        if self.batch_size < 1 or self.iterations < 0 or self.eval_every < 1 or self.checkpoint_every < 1:
            raise ValueError("batch_size, eval_every and checkpoint_every must be ≥ 1 and iterations ≥ 0")
        if self.lr_schedule not in LR_SCHEDULES or self.warmup_iterations < 0:
            raise ValueError(
                f"lr_schedule must be one of {LR_SCHEDULES} and warmup_iterations ≥ 0, got "
                f"{self.lr_schedule!r}, {self.warmup_iterations}"
            )
        if any(p is not None and not 0.0 <= p < 1.0 for p in (self.dropout, self.head_dropout)):
            raise ValueError(
                f"dropout and head_dropout must be in [0, 1) or None (the model's published rates), "
                f"got {self.dropout}, {self.head_dropout}"
            )
        if not 0.0 <= self.distill_label_weight <= 1.0:
            raise ValueError(f"distill_label_weight must be in [0, 1], got {self.distill_label_weight}")
        if self.cache_dtype not in ("float16", "float32"):
            raise ValueError(f"cache_dtype must be 'float16' or 'float32', got {self.cache_dtype!r}")

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> TrainConfig:
        """The config :func:`plain` wrote (a checkpoint's or a record's ``config``).

        Settings this code no longer has (:data:`REMOVED_SETTINGS`) are dropped when the record holds
        the value that made them do nothing; a run that used one cannot be reproduced here.
        """
        data = dict(data)
        for name, inert in REMOVED_SETTINGS.items():
            value = data.pop(name, inert)
            if value != inert:
                raise ValueError(
                    f"this run was recorded with {name}={value!r}, a setting panns-lite no longer has "
                    f"({name}={inert!r} is the only value it reproduces)"
                )
        data["augment"] = AugmentConfig(**data["augment"])
        data["widths"] = tuple(data["widths"]) if data.get("widths") else None
        return cls(**data)

    @property
    def clips_per_step(self) -> int:
        """Clips the sampler draws per step: 2B with mixup (mixed down to B), else B (reference §4)."""
        return 2 * self.batch_size if self.augment.mixup else self.batch_size


RESUMABLE_CHANGES = {
    "iterations",
    "progress",
    "threads",
    "device",
    "eval_every",
    "checkpoint_every",
    "out_dir",
}
"""Settings a run may change and still be resumed (:func:`~panns_lite.runs.restore`; ``iterations`` only
under a constant learning rate); all but ``iterations`` also keep a preset's run folder (:func:`preset`)
and the run cache (:func:`~panns_lite.runs.trained`)."""
ADDED_SETTINGS = {"natural_eval_data": "", "teacher": "", "distill_label_weight": 0.1}
"""Settings newer than recorded runs, with the default those runs used."""
REMOVED_SETTINGS = {"ema_decay": 0.0}
"""Settings older runs recorded and this code no longer has, with the value at which they did nothing:
``ema_decay`` kept an exponential moving average of the weights, which no preset or chapter used."""


def plain(config: TrainConfig) -> dict[str, Any]:
    """The config as plain data (lists, dicts) for checkpoints read with ``weights_only=True``.

    Settings added after runs were recorded (:data:`ADDED_SETTINGS`) are left out while at their
    default, so such a run (no natural split, no teacher) is recorded, and its preset run folder keyed,
    exactly as before they existed: those runs stay in the cache and the shipped record replays.
    """
    data = asdict(config)
    data["widths"] = list(config.widths) if config.widths else None
    for name, default in ADDED_SETTINGS.items():
        if data[name] == default:
            del data[name]
    return data


def shown_settings(config: TrainConfig) -> dict[str, str]:
    """Every recorded setting of ``config`` as text, for a settings table (book chapters 4 and 10):
    the augmentation's settings flattened to ``augment.<name>``, workspace paths relative to the
    workspace (:func:`panns_lite.paths.workspace_relative`)."""
    settings = plain(config)
    augment = settings.pop("augment")
    settings |= {f"augment.{key}": value for key, value in augment.items()}
    return {key: workspace_relative(value) for key, value in settings.items()}


PRESETS: dict[str, dict[str, Any]] = {
    "ci": dict(
        miniset="ci",
        width=0.125,
        dropout=0.1,
        head_dropout=0.25,
        iterations=1000,
        eval_every=100,
        checkpoint_every=100,
        threads=2,
        amp=True,
        augment=AugmentConfig(mixup=False),
    ),
    "laptop": dict(
        miniset="laptop",
        width=0.25,
        iterations=4000,
        eval_every=500,
        checkpoint_every=500,
    ),
    "pretrain": dict(
        miniset="pretrain",
        width=0.125,
        dropout=0.1,
        head_dropout=0.25,
        iterations=15000,
        lr_schedule="cosine",
        warmup_iterations=300,
        eval_every=1000,
        checkpoint_every=250,
        threads=2,
        amp=True,
        augment=AugmentConfig(mixup=True),
    ),
    "paper": dict(
        train_data="",
        eval_data="",
        width=1.0,
        iterations=600_000,
        eval_every=2000,
        checkpoint_every=20_000,
        cache_logmel=False,
        amp=True,
    ),
}
"""Each preset's settings (:func:`preset` documents them); ``miniset`` names the MiniSet preset whose
packed splits it trains and evaluates on."""


def _preset_paths(name: str, miniset: str | None) -> dict[str, str]:
    """The run folder of preset ``name`` and, for a MiniSet preset, its packed splits in the workspace."""
    ws = workspace()
    paths = {"out_dir": str(ws / f"runs/{name}")}
    if miniset is not None:
        packed = ws / f"miniset-{miniset}/packed"
        paths |= {
            "train_data": str(packed / "balanced_train.h5"),
            "eval_data": str(packed / "eval.h5"),
            "natural_eval_data": str(packed / "natural_eval.h5"),
        }
    return paths


def preset(name: str, **overrides: Any) -> TrainConfig:
    """The named preset with ``overrides`` applied.

    Every run on a MiniSet (``ci``, ``laptop``) is scored on both its evaluation splits: the mixture
    clips (``eval.h5``) and the whole recordings (``natural_eval.h5``). That natural split belongs
    to the MiniSet, so overriding ``eval_data`` without naming ``natural_eval_data`` drops it rather
    than scoring other data beside the MiniSet's recordings.

    * ``ci``: a 1/8-width CNN14 on the CI MiniSet, 1000 iterations, under 10 minutes on 2 CPU cores:
      bf16 autocast where the CPU has it, PANNs' dropout rates halved (0.1 after each conv block,
      0.25 in the head: on the first, smaller source bank, at 1/8 width and this budget, the published
      0.2/0.5 slowed learning so much that the network stayed below the linear baseline of
      :mod:`panns_lite.baseline`), no mixup (it learned more slowly too), SpecAugment and the balanced
      sampler kept; ``benchmarks/ci_recipes.py`` trains each alternative on the same budget (its
      latest results, on the current bank: ``benchmarks/results/ci_recipes.md``);
    * ``laptop``: a 1/4-width CNN14 on the laptop MiniSet, about an hour on a laptop CPU;
    * ``pretrain``: the shipped pretrained tagger (:mod:`panns_lite.pretraining`): a 1/8-width CNN14 on
      the pretrain MiniSet (8000 training clips), 15,000 iterations of 32 clips (60 epochs) in about
      two hours on 2 CPU cores, with a cosine learning rate after 300 warm-up steps, mixup, SpecAugment,
      the balanced sampler and the ci preset's dropout; ``benchmarks/pretrain_recipes.py`` measured the
      alternatives (its results: ``benchmarks/results/pretrain_recipes.md``), and, over 3000 iterations
      and one seed, found no established effect of mixup and a better natural-validation mAP with a
      constant rate than with this cosine; at a second seed (``benchmarks/schedule_seeds.py``) the constant
      rate's lead was beyond the noise on the mixtures only, so no schedule is established as better
      (README, "The pretrained tagger");
    * ``paper``: full-width CNN14 on real AudioSet as PANNs trained it (batch 32, 600k iterations,
      evaluation every 2k), for GPUs and ``torchrun``; the data paths must be given.

    The run folder is ``<workspace>/runs/<name>``, or ``<workspace>/runs/<name>-<hash>`` when the
    overrides change the recipe (anything but bookkeeping: evaluation and checkpoint intervals,
    threads, device, progress), so runs of different recipes never collide and
    :func:`~panns_lite.runs.trained` can serve as the cache of trained models.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown training preset {name!r}; choose from {sorted(PRESETS)}")
    settings = {**_preset_paths(name, PRESETS[name].get("miniset")), **PRESETS[name]}
    settings.pop("miniset", None)
    if "eval_data" in overrides and "natural_eval_data" not in overrides:
        settings["natural_eval_data"] = ""  # the MiniSet's split goes with its eval
    config = TrainConfig(**{**settings, **overrides})
    recipe = {k: v for k, v in overrides.items() if k not in RESUMABLE_CHANGES - {"iterations"}}
    if recipe and "out_dir" not in overrides:  # a changed recipe gets its own run folder: runs are a cache
        # keyed as before settings were removed, so the runs already made stay in the cache
        keyed = {**plain(replace(config, out_dir="")), **REMOVED_SETTINGS}
        tag = hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()[:8]
        config = replace(config, out_dir=f"{config.out_dir}-{tag}")
    return config


def dropout_rates(config: TrainConfig) -> dict[str, float]:
    """The dropout rates a run of ``config`` trains a fresh model with: the config's where it sets them,
    else the model's defaults (PANNs' 0.2 after each conv block and 0.5 in the head, reference §2).
    A run from ``init_checkpoint`` keeps the checkpoint's rates where the config sets none."""
    defaults = inspect.signature(MODELS[config.model]).parameters
    return {
        name: defaults[name].default if getattr(config, name) is None else getattr(config, name)
        for name in ("dropout", "head_dropout")
        if name in defaults
    }
