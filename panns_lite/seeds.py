"""Named random streams: every use of randomness draws from ``(seed, stream, index…)``.

Each use (a split's clips, an epoch's shuffle, a step's mixup λs…) gets its own stream, computed
from the run's seed, the use's tag and its position (clip, epoch, iteration), so any draw can be
made out of order: a resumed run, another rank or a rebuilt MiniSet draws exactly what the first
one did (chapter 3 on the MiniSet's bytes, chapter 4 on resuming). The tag comes right after the
seed because numpy's ``SeedSequence`` pads its entropy with zeros: ``[seed, 1]`` and
``[seed, 1, 0]`` are the same stream, so tags must not be told apart by length.

The numbers are frozen. They define the MiniSet's bytes, the samplers' orders and every training
curve, including the shipped pretrained tagger's recorded losses: renumbering a stream changes
recorded results. Each consumer has its own enum; two consumers never share a seed (a MiniSet's seed
is not a training seed), so equal numbers across enums do not collide.
"""

from enum import IntEnum

import numpy as np


class MiniSetStream(IntEnum):
    """The MiniSet builder's streams (:mod:`panns_lite.miniset`), keyed by its build seed."""

    BALANCED_TRAIN_CLIPS = 0  # clip i of a split: (seed, split, i)
    VALIDATION_CLIPS = 1
    EVAL_CLIPS = 2
    TRANSFER_CLIPS = 3  # the held-out classes' clips: (seed, 3, class index)
    SPLIT_GROUPS = 7  # which recordings go to which split
    CLASS_RANKING = 11  # the seeded Zipf ranking of classes


class SamplerStream(IntEnum):
    """The samplers' permutations (:mod:`panns_lite.sampling`), keyed by the training seed."""

    EPOCH_SHUFFLE = 0  # (seed, 0, epoch)
    CLASS_QUEUE = 1  # (seed, 1, refill)
    CLASS_CLIPS = 2  # (seed, 2, class, round)


class TrainStream(IntEnum):
    """The training loop's draws (:mod:`panns_lite.train`), keyed by the training seed."""

    INITIAL_WEIGHTS = 4  # the initial weights and any new head
    MIXUP = 5  # step t's mixup λs: (seed, 5, t)
    DROPOUT = 6  # dropout and SpecAugment of (iteration, micro-batch)


class TransferStream(IntEnum):
    """Fine-tuning on a transfer task (:mod:`panns_lite.transfer`), keyed by its seed."""

    EPOCH_ORDER = 0  # (seed, 0, epoch)
    MIXUP = 1  # (seed, 1, epoch, first clip of the batch)


def generator(seed: int, stream: IntEnum, *index: int) -> np.random.Generator:
    """The numpy generator of ``stream`` at ``index`` for a run seeded ``seed``."""
    return np.random.default_rng([seed, int(stream), *(int(i) for i in index)])


def torch_seed(seed: int, stream: IntEnum, *index: int) -> int:
    """A ``torch.manual_seed`` value drawn from :func:`generator` (for torch's global generator)."""
    return int(generator(seed, stream, *index).integers(2**63 - 1))
