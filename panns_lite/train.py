"""Training and evaluating audio taggers the PANNs way, on 2 CPU cores or on GPUs with ``torchrun``.

The recipe is PANNs' (reference §4–7): balanced sampling, mixup (α = 1, 2B clips mixed to B after
``bn0`` and SpecAugment), BCE on the sigmoid outputs, Adam (lr 1e-3, amsgrad, no schedule),
evaluation every N iterations, checkpoints. The loop reads top to bottom from :func:`train`; what a
run is (:class:`~panns_lite.train_config.TrainConfig` and its presets), the files it keeps in its
folder (:mod:`panns_lite.runs`) and how a model is scored (:func:`panns_lite.evaluation.predict`)
each have a module of their own.

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

import math
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from panns_lite.augment import mix_targets, mixup_lambdas
from panns_lite.checkpoints import load_checkpoint, save_checkpoint
from panns_lite.datasets import (
    Batch,
    ClipDataset,
    LogMelCache,
    PackedDataset,
    check_finite,
)
from panns_lite.distillation import Teacher, distillation_loss, load_teacher
from panns_lite.distributed import Distributed, setup_distributed
from panns_lite.evaluation import predict
from panns_lite.metrics import evaluate
from panns_lite.models import MODELS, AudioTagger, FeaturesPath, scaled_widths
from panns_lite.optimizer import panns_adam
from panns_lite.runs import (
    CHECKPOINT_NAME,
    EVAL_SETS,
    claimed_run_folder,
    data_fingerprints,
    data_sets,
    restore,
    save_training_checkpoint,
    write_statistics,
)
from panns_lite.runtime import autocast, configure_cpu
from panns_lite.sampling import CounterSampler, make_sampler
from panns_lite.seeds import TrainStream, generator, torch_seed
from panns_lite.train_config import TrainConfig, plain


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

    The cache is the file :meth:`~panns_lite.datasets.LogMelCache.beside` the packed data, shared by
    every run on the same data (changed names, labels or audio get a new one); under ``torchrun``
    rank 0 builds it and the others then open it.
    """
    source = f"the model ({config.init_checkpoint})" if config.init_checkpoint else "the model"
    dataset.check_sample_rate(model.logmel.config.sample_rate, source)
    if not config.cache_logmel:
        return dataset
    dtype = torch.float16 if config.cache_dtype == "float16" else torch.float32

    def build() -> LogMelCache:
        return LogMelCache.beside(dataset, model.logmel, dtype, progress=config.progress and dist_.is_main)

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


def bce(clipwise: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PANNs' ``clip_bce``: binary cross-entropy on sigmoid probabilities, mean over batch × classes."""
    return F.binary_cross_entropy(clipwise.float(), target.float())


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
    :data:`~panns_lite.runs.EVAL_SETS`)."""

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
        outputs = predict(net, source, config.eval_batch_size, dist_.device, dist_.rank, dist_.world_size)
        scores = evaluate(source.targets, outputs)
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


@dataclass
class TrainResult:
    """What :func:`train` returns: the run's config, where it stopped, its statistics and its model."""

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
    (:func:`~panns_lite.runs.claimed_run_folder`).
    """
    started = time.perf_counter()
    dist_ = setup_distributed(config.device)
    with claimed_run_folder(Path(config.out_dir), resume, overwrite, dist_.is_main):
        return training_loop(config, dist_, started, resume, stop_at)


@dataclass
class TrainingRun:
    """The live objects of a run (built by :func:`prepare`): what a step updates and a checkpoint keeps."""

    model: AudioTagger
    net: torch.nn.Module
    """What a batch goes through, and what is evaluated: ``model``, or its :class:`FeaturesPath` on
    cached log-mels."""
    teacher: Teacher | None
    optimizer: torch.optim.Optimizer
    sampler: CounterSampler
    parts: list[slice]
    """This process's micro-batches of its share of the global batch."""
    train_source: ClipDataset
    eval_sources: dict[str, ClipDataset]
    """By the prefix of their keys in a statistics entry (:data:`~panns_lite.runs.EVAL_SETS`)."""
    data: dict[str, str]
    """The data's fingerprints (:func:`~panns_lite.runs.data_fingerprints`), stored with the run."""

    def checkpoint(
        self,
        path: Path,
        config: TrainConfig,
        iteration: int,
        statistics: list[dict[str, Any]],
        step_losses: list[float],
        wall: float,
    ) -> None:
        """The training checkpoint of step ``iteration``: :func:`~panns_lite.runs.save_training_checkpoint`
        of this run's objects."""
        save_training_checkpoint(
            path,
            self.model,
            self.optimizer,
            self.sampler,
            config,
            self.data,
            iteration,
            statistics,
            step_losses,
            wall,
        )


def prepare(config: TrainConfig, dist_: Distributed) -> TrainingRun:
    """Data, model, data sources, teacher, optimizer and sampler of a fresh run, in that
    order (the initial weights are drawn first, from the seed alone: :func:`build_model`)."""
    if dist_.device.type == "cpu":
        configure_cpu(config.threads)
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
    teacher = (
        load_teacher(config.teacher, model, config.cache_logmel, dist_.device) if config.teacher else None
    )
    optimizer = panns_adam(model, config.lr)
    sampler = make_sampler(
        config.sampler, train_set.targets, config.clips_per_step, config.seed, dist_.rank, dist_.world_size
    )
    parts = micro_batches(sampler.local_batch_size, config.micro_batches, even=config.augment.mixup)
    return TrainingRun(model, net, teacher, optimizer, sampler, parts, train_src, eval_srcs, data)


def training_loop(
    config: TrainConfig, dist_: Distributed, started: float, resume: bool, stop_at: int | None
) -> TrainResult:
    """The body of :func:`train`, run while the folder is claimed: evaluate every ``eval_every`` steps,
    train, checkpoint every ``checkpoint_every`` steps and at the end, then write ``model.pt``."""
    out = Path(config.out_dir)
    run = prepare(config, dist_)
    iteration, statistics, step_losses, elapsed = 0, [], [], 0.0
    checkpoint_path = out / CHECKPOINT_NAME
    if resume:
        iteration, statistics, step_losses, elapsed = restore(
            checkpoint_path, config, run.data, run.model, run.optimizer, run.sampler
        )
    stop = config.iterations if stop_at is None else min(stop_at, config.iterations)
    train_net = DistributedDataParallel(run.net) if dist_.world_size > 1 else run.net

    def wall() -> float:
        return elapsed + time.perf_counter() - started

    def checkpoint() -> None:
        run.checkpoint(checkpoint_path, config, iteration, statistics, step_losses, wall())

    bar = tqdm(
        total=config.iterations, initial=iteration, unit="it", disable=not (config.progress and dist_.is_main)
    )
    batches = prefetch(run.train_source, run.sampler, iteration, stop)
    while True:
        if iteration % config.eval_every == 0 or iteration == config.iterations:
            if not statistics or statistics[-1]["iteration"] != iteration:
                since = statistics[-1]["iteration"] if statistics else 0
                losses = step_losses[since:iteration]
                entry = evaluation_entry(run.net, run.eval_sources, config, dist_, iteration, losses, wall())
                statistics.append(entry)
                if dist_.is_main:
                    write_statistics(out, statistics)
                bar.set_postfix({f"{p}mAP": f"{statistics[-1][f'{p}mAP']:.3f}" for p in run.eval_sources})
        if iteration >= stop:  # the checkpoint comes after the last evaluation, so it holds every statistic
            if dist_.is_main:
                checkpoint()
            break
        step_losses.append(train_step(run, train_net, config, dist_, next(batches), iteration))
        iteration += 1
        bar.update(1)
        if dist_.is_main and iteration % config.checkpoint_every == 0 and iteration < stop:
            checkpoint()
    bar.close()

    model_path = None
    if dist_.is_main and iteration == config.iterations:
        model_path = save_model(run, config, iteration, statistics, out / "model.pt")
    if dist_.world_size > 1:
        dist.barrier()
    return TrainResult(config, iteration, statistics, wall(), model_path, step_losses)


def train_step(
    run: TrainingRun,
    train_net: torch.nn.Module,
    config: TrainConfig,
    dist_: Distributed,
    batch: Batch,
    iteration: int,
) -> float:
    """Step ``iteration``: this process's share of the global batch, in micro-batches, then the update.

    ``train_net`` is ``run.net``, or its ``DistributedDataParallel`` wrapper in a group (whose
    gradients are then averaged over ranks on the last micro-batch only). Returns the step's loss.
    """
    x, y, names = batch
    check_finite(x, names, f"training step {iteration}")
    lam = None
    if config.augment.mixup:
        rng = generator(config.seed, TrainStream.MIXUP, iteration)
        start = dist_.rank * run.sampler.local_batch_size
        lam = torch.from_numpy(
            mixup_lambdas(rng, config.clips_per_step, config.augment.mixup_alpha)[
                start : start + run.sampler.local_batch_size
            ]
        )
    run.model.train()
    step_loss = 0.0
    parts = run.parts
    for j, part in enumerate(parts):
        torch.manual_seed(
            torch_seed(config.seed, TrainStream.DROPOUT, iteration, dist_.rank * len(parts) + j)
        )
        last = j == len(parts) - 1
        sync = train_net.no_sync() if train_net is not run.net and not last else nullcontext()
        xb, yb = x[part].to(dist_.device), y[part].to(dist_.device)
        lb = lam[part].to(dist_.device) if lam is not None else None
        with sync:
            with autocast(config.amp, dist_.device):
                output = train_net(xb, lb)["clipwise_output"]
                soft = run.teacher.probabilities(xb, lb, names[part]) if run.teacher is not None else None
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
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate(config, iteration)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    return step_loss


def save_model(
    run: TrainingRun,
    config: TrainConfig,
    iteration: int,
    statistics: list[dict[str, Any]],
    path: Path,
) -> Path:
    """``model.pt`` of a finished run: the model with its config and data; the last mAPs travel with the
    model: mAP, classes (and natural_mAP, natural_classes)."""
    final = {f"{p}{k}": statistics[-1][f"{p}{k}"] for p in run.eval_sources for k in ("mAP", "classes")}
    return save_checkpoint(
        run.model.cpu(),
        path,
        iteration=iteration,
        config=plain(config),
        data=run.data,
        **final,
    )
