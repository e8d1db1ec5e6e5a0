"""Training and evaluating audio taggers the PANNs way, on 2 CPU cores or on GPUs with ``torchrun``.

The recipe is PANNs' (reference §4–7): balanced sampling, mixup (α = 1, 2B clips mixed to B after
``bn0`` and SpecAugment), BCE on the sigmoid outputs, Adam (lr 1e-3, amsgrad, no schedule),
evaluation every N iterations, checkpoints. The loop reads top to bottom in :func:`train`.

Two choices make runs reproducible and resumable bit for bit, and make ``torchrun`` runs equal to a
single process on the same global batch:

* **Counter-based randomness.** The sampler gives batch ``t`` as a function of (seed, t); the mixup
  λs of step ``t`` come from the stream ``(seed, MIXUP, t)``; dropout and SpecAugment of micro-batch
  ``g`` of step ``t`` draw from the torch RNG seeded from ``(seed, DROPOUT, t, g)``
  (:class:`panns_lite.seeds.TrainStream`). So the whole random state
  of a run *is* (seed, iteration), which every checkpoint stores, and where a chunk of the global
  batch is computed (which rank, which micro-batch) does not change what it draws.
* **Micro-batches = ranks.** The global batch is split into ``world_size × micro_batches``
  contiguous chunks (each an even number of clips, so mixup pairs stay together); each is a forward
  and backward pass with its own batch-norm statistics, and the gradients are averaged. Two
  processes with one chunk each compute exactly what one process with two micro-batches computes.

On CPU the frozen front end runs once per clip (``LogMelCache``): SpecAugment and mixup act after
``bn0``, so this changes nothing but the cost.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import math
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from panns_lite.augment import AugmentConfig, mix_targets, mixup_lambdas
from panns_lite.checkpoints import (
    CheckpointError,
    atomic_write,
    load_checkpoint,
    load_extra,
    read_payload,
    save_checkpoint,
)
from panns_lite.datasets import Batch, ClipDataset, LogMelCache, PackedDataset, frontend_signature
from panns_lite.distillation import distillation_loss, load_teacher
from panns_lite.metrics import evaluate
from panns_lite.models import MODELS, AudioTagger, FeaturesPath, scaled_widths
from panns_lite.optimizer import panns_adam
from panns_lite.runtime import autocast, configure_cpu
from panns_lite.sampling import eval_batches, make_sampler
from panns_lite.seeds import TrainStream, generator, torch_seed

CHECKPOINT_NAME = "checkpoint.pt"
RUN_FILES = (CHECKPOINT_NAME, "statistics.json", "statistics.csv", "model.pt")
"""What a run writes in its folder: their presence means the folder holds a run."""
LOCK_NAME = ".train.lock"
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
    ema_decay: float = 0.0
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
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
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
        """The config :func:`plain` wrote (a checkpoint's or a record's ``config``)."""
        data = dict(data)
        data["augment"] = AugmentConfig(**data["augment"])
        data["widths"] = tuple(data["widths"]) if data.get("widths") else None
        return cls(**data)

    @property
    def clips_per_step(self) -> int:
        """Clips the sampler draws per step: 2B with mixup (mixed down to B), else B (reference §4)."""
        return 2 * self.batch_size if self.augment.mixup else self.batch_size


def workspace() -> Path:
    """Where MiniSets, caches and runs go: ``$PANNS_LITE_WORKSPACE``, else ``<repo>/workspace`` in a
    checkout and ``./workspace`` for an installed package."""
    from panns_lite.paths import DEFAULT_WORKSPACE

    return Path(os.environ.get("PANNS_LITE_WORKSPACE", DEFAULT_WORKSPACE))


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
      constant rate than with this cosine (README, "The pretrained tagger");
    * ``paper``: full-width CNN14 on real AudioSet as PANNs trained it (batch 32, 600k iterations,
      evaluation every 2k), for GPUs and ``torchrun``; the data paths must be given.

    The run folder is ``<workspace>/runs/<name>``, or ``<workspace>/runs/<name>-<hash>`` when the
    overrides change the recipe (anything but bookkeeping: evaluation and checkpoint intervals,
    threads, device, progress), so runs of different recipes never collide and :func:`trained`
    can serve as the cache of trained models.
    """
    ws = workspace()
    presets = {
        "ci": dict(
            train_data=str(ws / "miniset-ci/packed/balanced_train.h5"),
            eval_data=str(ws / "miniset-ci/packed/eval.h5"),
            natural_eval_data=str(ws / "miniset-ci/packed/natural_eval.h5"),
            out_dir=str(ws / "runs/ci"),
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
            train_data=str(ws / "miniset-laptop/packed/balanced_train.h5"),
            eval_data=str(ws / "miniset-laptop/packed/eval.h5"),
            natural_eval_data=str(ws / "miniset-laptop/packed/natural_eval.h5"),
            out_dir=str(ws / "runs/laptop"),
            width=0.25,
            iterations=4000,
            eval_every=500,
            checkpoint_every=500,
        ),
        "pretrain": dict(
            train_data=str(ws / "miniset-pretrain/packed/balanced_train.h5"),
            eval_data=str(ws / "miniset-pretrain/packed/eval.h5"),
            natural_eval_data=str(ws / "miniset-pretrain/packed/natural_eval.h5"),
            out_dir=str(ws / "runs/pretrain"),
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
            out_dir=str(ws / "runs/paper"),
            width=1.0,
            iterations=600_000,
            eval_every=2000,
            checkpoint_every=20_000,
            cache_logmel=False,
            amp=True,
        ),
    }
    if name not in presets:
        raise ValueError(f"unknown training preset {name!r}; choose from {sorted(presets)}")
    if (
        "eval_data" in overrides and "natural_eval_data" not in overrides
    ):  # the MiniSet's split goes with its eval
        presets[name]["natural_eval_data"] = ""
    config = TrainConfig(**{**presets[name], **overrides})
    recipe = {k: v for k, v in overrides.items() if k not in RESUMABLE_CHANGES - {"iterations"}}
    if (
        recipe and "out_dir" not in overrides
    ):  # a changed recipe gets its own run folder: the runs are a cache
        tag = hashlib.sha256(
            json.dumps(plain(replace(config, out_dir="")), sort_keys=True, default=str).encode()
        ).hexdigest()[:8]
        config = replace(config, out_dir=f"{config.out_dir}-{tag}")
    return config


# ---------------------------------------------------------------------------------------- setup
@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> Distributed:
    """One process, or a ``torchrun`` group (NCCL on CUDA, gloo on CPU) when WORLD_SIZE > 1."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if world_size == 1:
        return Distributed(device=torch.device("cuda" if use_cuda else "cpu"))
    local_rank = int(os.environ["LOCAL_RANK"])
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Distributed(dist.get_rank(), world_size, torch.device(f"cuda:{local_rank}" if use_cuda else "cpu"))


def build_model(config: TrainConfig) -> AudioTagger:
    """A fresh model, or one loaded from ``init_checkpoint`` (official, E-PANNs or ours), with the
    head replaced (``new_head``: PANNs' fc_transfer) and the base frozen (``freeze_base``) on request."""
    spec_augment = config.augment.spec_augmenter()
    rates = {
        k: v for k, v in (("dropout", config.dropout), ("head_dropout", config.head_dropout)) if v is not None
    }
    # the initial weights (and a new head) depend on the seed only
    torch.manual_seed(torch_seed(config.seed, TrainStream.INITIAL_WEIGHTS))
    if config.init_checkpoint:
        model = load_checkpoint(config.init_checkpoint)
        model.spec_augment = spec_augment
        model.set_dropout(**rates)  # the run's rates replace the checkpoint's
    else:
        cls = MODELS[config.model]
        widths = config.widths or (
            scaled_widths(config.width, cls.DEFAULT_WIDTHS) if config.width != 1.0 else None
        )
        model = cls(widths=widths, spec_augment=spec_augment, **rates)
    if config.new_head is not None:
        model.reset_head(config.new_head)
    if config.freeze_base:
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("fc_audioset.")
    return model


def training_source(
    dataset: PackedDataset, model: AudioTagger, config: TrainConfig, dist_: Distributed
) -> ClipDataset:
    """The log-mel cache of ``dataset`` (when enabled) or the dataset itself (waveforms).

    The cache is a file beside the packed data, named after the front end, the data's fingerprint,
    the digest of its audio and the dtype, so every run on the same data shares it and changed data
    (names, labels or audio) gets a new one; under ``torchrun`` rank 0 builds it and the others then
    open it.
    """
    source = f"the model ({config.init_checkpoint})" if config.init_checkpoint else "the model"
    dataset.check_sample_rate(model.logmel.config.sample_rate, source)
    if not config.cache_logmel:
        return dataset
    dtype = torch.float16 if config.cache_dtype == "float16" else torch.float32
    key = f"{frontend_signature(model.logmel)} {dataset.fingerprint()} {dataset.content_key()}"
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    path = dataset.path.with_name(f"{dataset.path.stem}.logmel-{config.cache_dtype}-{tag}.npy")

    def build() -> LogMelCache:
        return LogMelCache.build(
            dataset, model.logmel, dtype=dtype, path=path, progress=config.progress and dist_.is_main
        )

    if dist_.world_size > 1:
        if dist_.is_main:
            build()
        dist.barrier()
    return build()


def learning_rate(config: TrainConfig, iteration: int) -> float:
    """The learning rate of step ``iteration``: a pure function of the step, so resuming changes nothing.

    ``constant`` is PANNs' recipe (reference §6). ``cosine`` (linear warm-up over
    ``warmup_iterations``, then a half cosine down to 0 at ``iterations``) is for short budgets such
    as the CI preset, where ending at a small learning rate is worth more than the last few hundred
    steps at full rate.
    """
    if iteration < config.warmup_iterations:
        return config.lr * (iteration + 1) / config.warmup_iterations
    if config.lr_schedule == "constant":
        return config.lr
    span = max(1, config.iterations - config.warmup_iterations)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (iteration - config.warmup_iterations) / span)))


def update_average(average: AudioTagger, model: AudioTagger, decay: float, iteration: int) -> None:
    """Exponential moving average of the weights after step ``iteration`` (``ema_decay`` > 0).

    The decay ramps up as ``min(decay, (1 + t) / (10 + t))`` so the first steps do not drag the
    random initialisation along; buffers (BN statistics) are copied, not averaged. Averaging the
    weights of a short, noisy run (small data, CI) gives a better model to evaluate and keep than
    its last step; PANNs did not use it, so the ``paper`` preset leaves it off.
    """
    rate = 1.0 - min(decay, (1 + iteration) / (10 + iteration))
    with torch.no_grad():
        for a, p in zip(average.parameters(), model.parameters()):
            a.lerp_(p, rate)
        for a, b in zip(average.buffers(), model.buffers()):
            a.copy_(b)


def micro_batches(n: int, parts: int, even: bool) -> list[slice]:
    """``parts`` equal contiguous slices of ``range(n)``; even-sized when mixup pairs must stay together."""
    size = n // parts
    if parts < 1 or n % parts or (even and size % 2):
        raise ValueError(
            f"{n} clips per process cannot be split into {parts} equal micro-batches"
            f"{' of even size (mixup pairs)' if even else ''}"
        )
    return [slice(i * size, (i + 1) * size) for i in range(parts)]


def prefetch(source: ClipDataset, sampler: Any, start: int, stop: int, depth: int = 2) -> Iterator[Batch]:
    """Batches ``start … stop-1`` read ``depth`` steps ahead in a thread (HDF5 reads overlap compute).

    Batch ``t`` is a pure function of ``t`` (counter-based sampler), so reading ahead cannot change
    what is trained on.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = deque(
            pool.submit(source.get_batch, sampler.batch(t)) for t in range(start, min(start + depth, stop))
        )
        for t in range(start, stop):
            batch = pending.popleft().result()
            if t + depth < stop:
                pending.append(pool.submit(source.get_batch, sampler.batch(t + depth)))
            yield batch


def check_finite(x: torch.Tensor, names: list[str], where: str) -> None:
    """A NaN or inf in the inputs is a data error: name the clips instead of training a NaN model."""
    if not torch.isfinite(x).all():
        bad = [names[i] for i in torch.nonzero(~torch.isfinite(x.flatten(1)).all(1)).flatten().tolist()]
        raise ValueError(f"{where}: non-finite input values in clips {sorted(set(bad))}")


# ---------------------------------------------------------------------------------------- eval
@torch.no_grad()
def predict(net: torch.nn.Module, source: ClipDataset, batch_size: int, dist_: Distributed) -> np.ndarray:
    """Clipwise outputs (N, C) of every clip of ``source``, in order, gathered over ranks.

    ``net`` maps a batch of ``source`` inputs to the model outputs (the model itself for waveforms,
    its :class:`FeaturesPath` for cached log-mels).
    """
    was_training = net.training
    net.eval()
    outputs = [np.zeros((0, source.targets.shape[1]), np.float32)]
    for idx in eval_batches(len(source), batch_size, dist_.rank, dist_.world_size):
        x, _, names = source.get_batch(idx)
        check_finite(x, names, "evaluation")
        outputs.append(net(x.to(dist_.device))["clipwise_output"].float().cpu().numpy())
    local = np.concatenate(outputs)
    if dist_.world_size > 1:
        gathered: list[Any] = [None] * dist_.world_size
        dist.all_gather_object(gathered, local)
        local = np.concatenate(gathered)
    net.train(was_training)
    return local


def evaluation_entry(
    net: torch.nn.Module,
    sources: dict[str, ClipDataset],
    config: TrainConfig,
    dist_: Distributed,
    iteration: int,
    losses: list[float],
    wall: float,
) -> dict[str, Any]:
    """One row of statistics: for each evaluation set, mAP (with the number of classes averaged), mAUC,
    d' and per-class AP/AUC, under the set's key prefix (``sources`` maps prefix to set, see
    :data:`EVAL_SETS`)."""

    def listed(a: np.ndarray) -> list[float | None]:
        return [None if np.isnan(v) else float(v) for v in a]

    entry: dict[str, Any] = {
        "iteration": iteration,
        "train_loss": float(np.mean(losses)) if losses else None,
        "wall_seconds": round(wall, 2),
    }
    if dist_.device.type == "cuda":  # what a GPU run needs to size its batch (scripts/gpu_check.sh reads it)
        entry["cuda_peak_memory_bytes"] = torch.cuda.max_memory_allocated(dist_.device)
    for prefix, source in sources.items():
        scores = evaluate(source.targets, predict(net, source, config.eval_batch_size, dist_))
        entry.update(
            {
                f"{prefix}mAP": scores.mAP,
                f"{prefix}classes": scores.classes_ap,
                f"{prefix}mAUC": scores.mAUC,
                f"{prefix}d_prime": scores.d_prime,
                f"{prefix}ap": listed(scores.ap),
                f"{prefix}auc": listed(scores.auc),
            }
        )
    return entry


# ---------------------------------------------------------------------------------------- train
def bce(clipwise: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PANNs' ``clip_bce``: binary cross-entropy on sigmoid probabilities, mean over batch × classes."""
    return F.binary_cross_entropy(clipwise.float(), target.float())


@dataclass
class TrainResult:
    config: TrainConfig
    iteration: int
    statistics: list[dict[str, Any]]
    wall_seconds: float
    model_path: Path | None
    """``model.pt``; None when the run stopped before ``config.iterations`` (``stop_at``)."""
    step_losses: list[float] = field(default_factory=list)
    """The loss of every step from iteration 0, across resumes: what a replay compares bit for bit."""


def train(
    config: TrainConfig, resume: bool = False, stop_at: int | None = None, overwrite: bool = False
) -> TrainResult:
    """Train (or resume) a run and return its statistics; only rank 0 writes files.

    ``stop_at`` ends the call after that many iterations, with a checkpoint, as an interruption
    would: the schedule still runs to ``config.iterations`` (a cosine learning rate depends on it),
    so resuming later continues the same run, and replaying the first steps of a recorded run
    (:func:`panns_lite.pretraining.replay`) trains exactly what the run trained.

    Files in ``out_dir``: ``checkpoint.pt`` (model, optimizer, sampler, iteration, config,
    statistics; atomic), ``statistics.json`` (one entry per evaluation, with per-class AP and AUC, and
    the same keys prefixed ``natural_`` for the natural split when given), ``statistics.csv`` (the
    scalar columns) and, at the end, ``model.pt`` (our checkpoint format).

    A folder that already holds a run is refused unless ``resume`` (continue it) or ``overwrite``
    (replace its files) is asked for, and the folder is locked while the run trains, so a second
    process pointed at it stops at once instead of writing over the first one's checkpoints
    (:func:`claimed_run_folder`).
    """
    started = time.perf_counter()
    dist_ = setup_distributed(config.device)
    with claimed_run_folder(Path(config.out_dir), resume, overwrite, dist_.is_main):
        return training_loop(config, dist_, started, resume, stop_at)


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


def training_loop(
    config: TrainConfig, dist_: Distributed, started: float, resume: bool, stop_at: int | None
) -> TrainResult:
    """The body of :func:`train`, run while the folder is claimed."""
    if dist_.device.type == "cpu":
        configure_cpu(config.threads)
    out = Path(config.out_dir)

    # data, model, optimizer, sampler
    sets = data_sets(config)
    train_set, data = sets["train_data"], data_fingerprints(sets)
    model = build_model(config)
    if train_set.targets.shape[1] != model.fc_audioset.out_features:
        raise ValueError(
            f"the data has {train_set.targets.shape[1]} classes, the model predicts "
            f"{model.fc_audioset.out_features}"
        )
    train_src = training_source(train_set, model, config, dist_)
    eval_srcs = {
        prefix: training_source(sets[key], model, config, dist_)
        for key, prefix in EVAL_SETS.items()
        if key in sets
    }
    model.to(
        dist_.device, memory_format=torch.channels_last if config.channels_last else torch.preserve_format
    )
    net = FeaturesPath(model) if config.cache_logmel else model
    average = copy.deepcopy(model) if config.ema_decay else None  # the model evaluated and kept, when set
    eval_net = net if average is None else FeaturesPath(average) if config.cache_logmel else average
    teacher = (
        load_teacher(config.teacher, model, config.cache_logmel, dist_.device) if config.teacher else None
    )
    optimizer = panns_adam(model, config.lr)
    sampler = make_sampler(
        config.sampler, train_set.targets, config.clips_per_step, config.seed, dist_.rank, dist_.world_size
    )
    parts = micro_batches(sampler.local_batch_size, config.micro_batches, even=config.augment.mixup)
    iteration, statistics, step_losses, elapsed = 0, [], [], 0.0
    checkpoint_path = out / CHECKPOINT_NAME
    if resume:
        iteration, statistics, step_losses, elapsed = restore(
            checkpoint_path, config, data, model, optimizer, sampler, average
        )
    stop = config.iterations if stop_at is None else min(stop_at, config.iterations)
    train_net = DistributedDataParallel(net) if dist_.world_size > 1 else net

    def wall() -> float:
        return elapsed + time.perf_counter() - started

    bar = tqdm(
        total=config.iterations, initial=iteration, unit="it", disable=not (config.progress and dist_.is_main)
    )
    batches = prefetch(train_src, sampler, iteration, stop)
    while True:
        if iteration % config.eval_every == 0 or iteration == config.iterations:
            if not statistics or statistics[-1]["iteration"] != iteration:
                since = statistics[-1]["iteration"] if statistics else 0
                statistics.append(
                    evaluation_entry(
                        eval_net, eval_srcs, config, dist_, iteration, step_losses[since:iteration], wall()
                    )
                )
                if dist_.is_main:
                    write_statistics(out, statistics)
                bar.set_postfix({f"{p}mAP": f"{statistics[-1][f'{p}mAP']:.3f}" for p in eval_srcs})
        if iteration >= stop:  # the checkpoint comes after the last evaluation, so it holds every statistic
            if dist_.is_main:
                save_training_checkpoint(
                    checkpoint_path,
                    model,
                    optimizer,
                    sampler,
                    config,
                    data,
                    iteration,
                    statistics,
                    step_losses,
                    wall(),
                    average,
                )
            break

        # one step: this process's share of global batch `iteration`, in micro-batches
        x, y, names = next(batches)
        check_finite(x, names, f"training step {iteration}")
        lam = None
        if config.augment.mixup:
            rng = generator(config.seed, TrainStream.MIXUP, iteration)
            start = dist_.rank * sampler.local_batch_size
            lam = torch.from_numpy(
                mixup_lambdas(rng, config.clips_per_step, config.augment.mixup_alpha)[
                    start : start + sampler.local_batch_size
                ]
            )
        model.train()
        step_loss = 0.0
        for j, part in enumerate(parts):
            torch.manual_seed(
                torch_seed(config.seed, TrainStream.DROPOUT, iteration, dist_.rank * len(parts) + j)
            )
            last = j == len(parts) - 1
            sync = train_net.no_sync() if train_net is not net and not last else nullcontext()
            xb, yb = x[part].to(dist_.device), y[part].to(dist_.device)
            lb = lam[part].to(dist_.device) if lam is not None else None
            with sync:
                with autocast(config.amp, dist_.device):
                    output = train_net(xb, lb)["clipwise_output"]
                    soft = teacher.probabilities(xb, lb, names[part]) if teacher is not None else None
                target = mix_targets(yb, lb) if lb is not None else yb
                loss = (
                    bce(output, target)
                    if soft is None
                    else distillation_loss(output, target, soft, config.distill_label_weight)
                ) / len(parts)
                loss.backward()
            step_loss += loss.item()
        if not math.isfinite(step_loss):
            raise FloatingPointError(
                f"iteration {iteration}: the loss is {step_loss}; stopped before the weights "
                "became NaN (lower the learning rate or check the data)"
            )
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, iteration)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if average is not None:
            update_average(average, model, config.ema_decay, iteration)
        step_losses.append(step_loss)
        iteration += 1
        bar.update(1)
        if dist_.is_main and iteration % config.checkpoint_every == 0 and iteration < stop:
            save_training_checkpoint(
                checkpoint_path,
                model,
                optimizer,
                sampler,
                config,
                data,
                iteration,
                statistics,
                step_losses,
                wall(),
                average,
            )
    bar.close()

    model_path = None
    if (
        dist_.is_main and iteration == config.iterations
    ):  # the last mAPs travel with the model: mAP, classes (and natural_mAP, natural_classes)
        final = {f"{p}{k}": statistics[-1][f"{p}{k}"] for p in eval_srcs for k in ("mAP", "classes")}
        model_path = save_checkpoint(
            (model if average is None else average).cpu(),
            out / "model.pt",
            iteration=iteration,
            config=plain(config),
            data=data,
            **final,
        )
    if dist_.world_size > 1:
        dist.barrier()
    return TrainResult(config, iteration, statistics, wall(), model_path, step_losses)


def trained(config: TrainConfig) -> Path:
    """The ``model.pt`` of the run ``config`` describes, training (or finishing) it only when needed.

    This is the model cache the book's chapters share: chapter 4 trains the ``ci`` preset, later
    chapters call this with the same config and get the same file back at no cost, and a chapter
    run on its own trains it first. A finished run is reused only if it was written with exactly
    this recipe (the same test as resuming); an interrupted one is resumed.
    """
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


# ---------------------------------------------------------------------------------------- files
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


ADDED_SETTINGS = {"natural_eval_data": "", "teacher": "", "distill_label_weight": 0.1}
"""Settings newer than recorded runs, with the default those runs used."""


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
    average: AudioTagger | None = None,
) -> None:
    """Model (our format, so ``load_checkpoint`` reads it too), optimizer, sampler position, iteration,
    config, the data's fingerprints, statistics, the loss of every step so far and the weight
    average (if any). The random state of the run is (seed, iteration) by construction (module
    docstring), recorded under ``rng``."""
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
        average=None if average is None else average.state_dict(),
        rng={"scheme": "counter", "seed": config.seed, "iteration": iteration},
    )


RESUMABLE_CHANGES = {
    "iterations",
    "progress",
    "threads",
    "device",
    "eval_every",
    "checkpoint_every",
    "out_dir",
}
DATA_KEYS = ("train_data", "eval_data", "natural_eval_data")
EVAL_SETS = {"eval_data": "", "natural_eval_data": "natural_"}
"""The evaluation sets (config fields) and the prefix of their keys in a statistics entry."""


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
    one present on the other.
    """
    now, before = plain(config), saved.get("config", {})
    differ = [
        k
        for k in now
        if k not in allowed and k not in DATA_KEYS and before.get(k, ADDED_SETTINGS.get(k)) != now[k]
    ]
    saved_data = saved.get("data") or {k: before.get(k) for k in DATA_KEYS}
    current = data if saved.get("data") else {k: now.get(k) for k in DATA_KEYS}
    return sorted(differ + [k for k in DATA_KEYS if saved_data.get(k) != current.get(k)])


def restore(
    path: Path,
    config: TrainConfig,
    data: dict[str, str],
    model: AudioTagger,
    optimizer: torch.optim.Optimizer,
    sampler: Any,
    average: AudioTagger | None = None,
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
    if average is not None:
        average.load_state_dict(extra["average"])
    return (
        int(extra["iteration"]),
        list(extra["statistics"]),
        list(extra["step_losses"]),
        float(extra["wall_seconds"]),
    )
