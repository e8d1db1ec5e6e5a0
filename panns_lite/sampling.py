"""Training and evaluation samplers with PANNs' semantics, in counter-based form (reference §5).

PANNs keeps its samplers as mutable state (shuffled index lists, a class queue, per-class
pointers) and pickles that state into checkpoints so training can resume. Here every training
sampler is instead a pure function of ``(seed, t)`` and the targets: global batch ``t`` can be
computed on its own. That buys three things at once:

* exact resume = remembering one integer, the next batch number (``position``);
* a DataLoader that prefetches (or a worker that computes batches elsewhere) cannot put the
  sampler out of step with training, since nothing is mutated by computing a batch;
* DDP sharding is a slice: rank ``r`` takes its contiguous share of the same global batch.

The semantics are still PANNs' (reference §5, "Samplers"): ``ShuffleSampler`` is PANNs' "none"
(TrainSampler), ``BalancedSampler`` its default "balanced" (BalancedTrainSampler),
``AlternateSampler`` its "alternate", and ``eval_batches`` its EvaluateSampler. The random
streams differ from PANNs' ``RandomState(1234)`` (theirs cannot be computed out of order), so the
batches are statistically, not bit-for-bit, the same as the reference run.

``batch_size`` is always the *global* number of clips per step: with mixup the trainer passes
2 × the mixed batch size, and consecutive pairs are mixed (reference §4); because each rank's share is
contiguous, pairs stay on one rank whenever the per-rank share is even.

Every random permutation comes from a named stream ``(seed, stream, ...)`` of
:class:`panns_lite.seeds.SamplerStream` (epoch shuffles, the class queue, per-class clip lists), so
any position of any stream can be computed without drawing the ones before it.
"""

from __future__ import annotations

import hashlib
import operator
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from panns_lite.seeds import SamplerStream, generator


def _positive_int(name: str, value: int) -> int:
    value = operator.index(value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}")
    return value


def _check_rank(rank: int, world_size: int) -> tuple[int, int]:
    world_size = _positive_int("world_size", world_size)
    rank = operator.index(rank)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}); got {rank}")
    return rank, world_size


def _as_targets(targets: np.ndarray) -> np.ndarray:
    """The (clips, classes) multi-hot matrix as bool; 0/1 numbers are accepted, soft labels are not."""
    targets = np.asarray(targets)
    if targets.ndim != 2:
        raise ValueError(f"targets must be a 2-D (clips, classes) array; got shape {targets.shape}")
    if targets.shape[0] == 0:
        raise ValueError("empty dataset: targets has no rows")
    if targets.dtype != bool:
        if not ((targets == 0) | (targets == 1)).all():
            raise ValueError("targets must be bool or contain only 0 and 1")
        targets = targets.astype(bool)
    return targets


class _PermutationStream:
    """Fresh permutations of ``items`` laid end to end, forever.

    Permutation number ``i`` comes from ``default_rng([*key, i])``, so any position is computable
    without replaying the ones before it. This one structure is PANNs' reshuffle-when-exhausted
    list: the epoch shuffle of all clips, the class queue refilled with a new permutation, and
    each class's clip list reshuffled when its pointer runs out (reference §5). The last two permutations
    are cached, so walking forward costs O(batch) except once per permutation.
    """

    def __init__(self, items: np.ndarray, key: tuple[int, ...]) -> None:
        self._items = items
        self._key = key
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._items)

    def permutation(self, number: int) -> np.ndarray:
        perm = self._cache.get(number)
        if perm is None:
            perm = generator(*self._key, number).permutation(self._items)
            if len(self._cache) >= 2:
                del self._cache[next(iter(self._cache))]
            self._cache[number] = perm
        return perm

    def item(self, position: int) -> int:
        number, offset = divmod(position, len(self))
        return int(self.permutation(number)[offset])

    def take(self, start: int, count: int) -> np.ndarray:
        """Positions ``[start, start + count)``, continuing into the next permutation(s) as needed."""
        n = len(self)
        pieces = [
            self.permutation(i)[max(start - i * n, 0) : min(start + count - i * n, n)]
            for i in range(start // n, (start + count - 1) // n + 1)
        ]
        return np.concatenate(pieces)


class CounterSampler(ABC):
    """Common shape of the training samplers: batch ``t`` is a pure function of ``(seed, t)``.

    ``position`` is the number of the next global batch ``__iter__`` hands out. Resuming exactly
    means restoring it (``load_state_dict``); the other fields of ``state_dict`` are there to refuse
    a resume with different data or settings, which would otherwise pass silently.
    """

    kind: ClassVar[str]

    def __init__(self, batch_size: int, seed: int, rank: int, world_size: int) -> None:
        self.batch_size = _positive_int("batch_size", batch_size)
        self.rank, self.world_size = _check_rank(rank, world_size)
        if self.batch_size % self.world_size:
            raise ValueError(
                f"batch_size {self.batch_size} (global clips per step) must be divisible by "
                f"world_size {self.world_size}"
            )
        self.seed = operator.index(seed)
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0; got {self.seed}")
        self.local_batch_size = self.batch_size // self.world_size
        self.position = 0

    @abstractmethod
    def batch(self, t: int) -> np.ndarray:
        """This rank's clip indices (int64) of global batch ``t``."""

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """Cheap summary of the data the batches depend on, compared on resume."""

    def _local_span(self, t: int) -> tuple[int, int]:
        """(first stream position, count) of this rank's contiguous share of global batch ``t``."""
        t = operator.index(t)
        if t < 0:
            raise ValueError(f"batch number must be >= 0; got {t}")
        return t * self.batch_size + self.rank * self.local_batch_size, self.local_batch_size

    def __iter__(self) -> Iterator[np.ndarray]:
        """Batches from ``position`` on, forever; ``position`` moves past each batch as it is handed out."""
        while True:
            batch = self.batch(self.position)
            self.position += 1
            yield batch

    def state_dict(self, position: int | None = None) -> dict[str, Any]:
        """What a checkpoint needs to resume exactly.

        ``position`` defaults to ``self.position``. A DataLoader that prefetches advances the
        sampler ahead of training, so a trainer in that case passes its own count of batches
        trained on (the next batch to train on) instead.
        """
        return {
            "kind": self.kind,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "position": self.position if position is None else operator.index(position),
            "fingerprint": self.fingerprint(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a saved position; ValueError naming every field that differs from this sampler."""
        mine = self.state_dict()
        differing = [
            f"{field} (saved {state.get(field)!r}, here {mine[field]!r})"
            for field in ("kind", "seed", "batch_size", "fingerprint")
            if state.get(field) != mine[field]
        ]
        if differing:
            raise ValueError("cannot resume: the saved sampler state differs in " + "; ".join(differing))
        position = operator.index(state["position"])
        if position < 0:
            raise ValueError(f"saved position must be >= 0; got {position}")
        self.position = position


class ShuffleSampler(CounterSampler):
    """PANNs' "none" sampler (TrainSampler, reference §5): walk shuffles of all clips, one per epoch.

    The stream of clips is epoch permutations laid end to end; global batch ``t`` is stream
    positions ``[t·B, (t+1)·B)``, so a batch that crosses an epoch end continues into the next
    epoch's permutation, and every clip appears exactly once per epoch.
    """

    kind = "shuffle"

    def __init__(
        self, num_items: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        super().__init__(batch_size, seed, rank, world_size)
        self.num_items = operator.index(num_items)
        if self.num_items < 1:
            raise ValueError(f"empty dataset: num_items must be >= 1; got {self.num_items}")
        self._stream = _PermutationStream(
            np.arange(self.num_items, dtype=np.int64), (self.seed, SamplerStream.EPOCH_SHUFFLE)
        )

    def fingerprint(self) -> dict[str, Any]:
        return {"num_items": self.num_items}

    def batch(self, t: int) -> np.ndarray:
        return self._stream.take(*self._local_span(t))


class BalancedSampler(CounterSampler):
    """PANNs' default "balanced" sampler (BalancedTrainSampler, reference §5), computable at any batch.

    PANNs pops class ids from a queue refilled with a fresh permutation of the classes, and for
    each popped class takes the clip at that class's pointer in its shuffled clip list, reshuffling
    the list when the pointer runs out. Rare classes are therefore drawn as often as common ones.
    Here draw ``p`` (batch ``t`` is draws ``[t·B, (t+1)·B)``) pops the class at position ``p`` of the
    queue stream, and class ``c``'s k-th visit takes position ``k`` of ``c``'s clip stream. The
    visit counts at ``p`` are known in O(classes) without replaying the queue: every complete queue
    permutation before ``p`` visits each class once, and the partial one visits the classes before
    ``p`` in it.

    Our choice: classes without a positive clip are left out of the queue (in PANNs they would
    fail on their empty list). ``num_empty_classes`` says how many there are.
    """

    kind = "balanced"

    def __init__(
        self, targets: np.ndarray, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        super().__init__(batch_size, seed, rank, world_size)
        targets = _as_targets(targets)
        self.num_items, self.num_classes = targets.shape
        clips, classes = np.nonzero(targets)
        counts = np.bincount(classes, minlength=self.num_classes)
        if not counts.any():
            raise ValueError("no class has a positive clip: balanced sampling needs at least one")
        self._counts_digest = hashlib.sha256(counts.astype(np.int64).tobytes()).hexdigest()[:16]
        present = np.flatnonzero(counts)
        self.num_empty_classes = self.num_classes - len(present)
        self._queue = _PermutationStream(present, (self.seed, SamplerStream.CLASS_QUEUE))
        members = np.split(clips[np.argsort(classes, kind="stable")].astype(np.int64), np.cumsum(counts)[:-1])
        self._clips = {
            int(c): _PermutationStream(members[c], (self.seed, SamplerStream.CLASS_CLIPS, int(c)))
            for c in present
        }

    def fingerprint(self) -> dict[str, Any]:
        return {
            "num_items": self.num_items,
            "num_classes": self.num_classes,
            "class_counts_sha256": self._counts_digest,
        }

    def class_slots(self, t: int) -> np.ndarray:
        """Class ids popped for this rank's draws of batch ``t``; clip ``batch(t)[j]`` is positive for
        slot ``j``."""
        return self._queue.take(*self._local_span(t))

    def _visits_before(self, draw: int) -> np.ndarray:
        """How many times each class id has been popped before draw number ``draw`` (O(classes))."""
        complete, partial = divmod(draw, len(self._queue))
        visits = np.full(self.num_classes, complete, dtype=np.int64)
        visits[self._queue.permutation(complete)[:partial]] += 1
        return visits

    def batch(self, t: int) -> np.ndarray:
        start, count = self._local_span(t)
        visits = self._visits_before(start)
        clips = np.empty(count, dtype=np.int64)
        for j, c in enumerate(self._queue.take(start, count)):
            clips[j] = self._clips[c].item(visits[c])
            visits[c] += 1
        return clips


class AlternateSampler(CounterSampler):
    """PANNs' "alternate" sampler (reference §5): even batches plain-shuffled, odd batches balanced.

    Each half advances on its own: global batch ``t`` is shuffle batch ``t // 2`` when ``t`` is even
    and balanced batch ``t // 2`` when odd, so neither stream skips anything.
    """

    kind = "alternate"

    def __init__(
        self, targets: np.ndarray, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        super().__init__(batch_size, seed, rank, world_size)
        self._balanced = BalancedSampler(targets, batch_size, seed, rank, world_size)
        self._shuffle = ShuffleSampler(self._balanced.num_items, batch_size, seed, rank, world_size)

    def fingerprint(self) -> dict[str, Any]:
        return self._balanced.fingerprint()

    def batch(self, t: int) -> np.ndarray:
        half = self._balanced if operator.index(t) % 2 else self._shuffle
        return half.batch(t // 2)


def make_sampler(
    kind: str, targets: np.ndarray, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
) -> CounterSampler:
    """The training sampler named by ``kind``: "balanced" (PANNs' default), "shuffle" (PANNs' "none") or
    "alternate"."""
    if kind == "shuffle":
        return ShuffleSampler(len(_as_targets(targets)), batch_size, seed, rank, world_size)
    if kind == "balanced":
        return BalancedSampler(targets, batch_size, seed, rank, world_size)
    if kind == "alternate":
        return AlternateSampler(targets, batch_size, seed, rank, world_size)
    raise ValueError(f"unknown sampler kind {kind!r}; expected 'balanced', 'shuffle' or 'alternate'")


def eval_batches(num_items: int, batch_size: int, rank: int = 0, world_size: int = 1) -> list[np.ndarray]:
    """PANNs' EvaluateSampler (reference §5): the clips in order, in chunks of ``batch_size`` (per rank).

    Under DDP each rank gets one contiguous block (``np.array_split`` of ``range(num_items)``; block
    sizes differ by at most one, a rank may get none when ``world_size > num_items``). Joining the
    ranks' outputs in rank order gives every clip exactly once, in the original order, so gathered
    predictions line up with the targets without an index. Ranks may get different numbers of
    batches: gather once at the end, not per batch.
    """
    num_items = operator.index(num_items)
    if num_items < 1:
        raise ValueError(f"empty dataset: num_items must be >= 1; got {num_items}")
    batch_size = _positive_int("batch_size", batch_size)
    rank, world_size = _check_rank(rank, world_size)
    share = np.array_split(np.arange(num_items, dtype=np.int64), world_size)[rank]
    return [share[i : i + batch_size] for i in range(0, len(share), batch_size)]
