"""Counter-based samplers follow PANNs' sampler semantics (reference §5) and resume exactly."""

from collections import Counter, deque

import numpy as np
import pytest

from panns_lite.sampling import (
    AlternateSampler,
    BalancedSampler,
    ShuffleSampler,
    eval_batches,
    make_sampler,
)

SEED = 1234


@pytest.fixture(scope="module")
def targets() -> np.ndarray:
    """60 clips, 9 classes: class 0 has one clip, class 1 two, class 2 none; some clips multi-label, some
    unlabelled."""
    rng = np.random.default_rng(0)
    t = rng.random((60, 9)) < 0.3
    t[:, :3] = False
    t[5, 0] = True
    t[[7, 40], 1] = True
    t[50:, :] = False
    return t


def naive_balanced(targets: np.ndarray, seed: int, draws: int) -> tuple[list[int], list[int]]:
    """PANNs' stateful algorithm: pop a class from a refilled queue, take that class's clip at its pointer.

    Uses the same permutation streams as the module, so equal output proves the O(classes)
    counter-based form is the queue-and-pointer algorithm.
    """
    present = np.flatnonzero(targets.any(axis=0))
    members = {c: np.flatnonzero(targets[:, c]) for c in present}
    queue, refills = deque(), 0
    lists = {c: np.random.default_rng([seed, 2, c, 0]).permutation(members[c]) for c in present}
    pointers, rounds = dict.fromkeys(present, 0), dict.fromkeys(present, 0)
    classes, clips = [], []
    for _ in range(draws):
        if not queue:
            queue.extend(np.random.default_rng([seed, 1, refills]).permutation(present))
            refills += 1
        c = queue.popleft()
        if pointers[c] == len(lists[c]):
            rounds[c] += 1
            lists[c] = np.random.default_rng([seed, 2, c, rounds[c]]).permutation(members[c])
            pointers[c] = 0
        classes.append(int(c))
        clips.append(int(lists[c][pointers[c]]))
        pointers[c] += 1
    return classes, clips


def take(sampler, k: int) -> list[np.ndarray]:
    it = iter(sampler)
    return [next(it) for _ in range(k)]


def all_kinds(targets, batch_size=8, seed=SEED, **kw):
    return [
        make_sampler(kind, targets, batch_size, seed, **kw) for kind in ("shuffle", "balanced", "alternate")
    ]


def test_same_seed_same_batches_other_seed_differs(targets):
    for a, b, c in zip(all_kinds(targets), all_kinds(targets), all_kinds(targets, seed=SEED + 1)):
        first, again, other = take(a, 20), take(b, 20), take(c, 20)
        assert all(x.dtype == np.int64 and len(x) == 8 for x in first)
        assert all(np.array_equal(x, y) for x, y in zip(first, again))
        assert not all(np.array_equal(x, y) for x, y in zip(first, other))


def test_batch_t_equals_iteration_in_any_order(targets):
    for sampler in all_kinds(targets, batch_size=7):
        iterated = take(sampler, 40)
        assert sampler.position == 40
        for t in np.random.default_rng(1).permutation(40):
            assert np.array_equal(sampler.batch(t), iterated[t])


def test_resume_continues_identically(targets):
    for kind in ("shuffle", "balanced", "alternate"):
        reference = take(make_sampler(kind, targets, 8, SEED), 30)
        first = make_sampler(kind, targets, 8, SEED)
        take(first, 13)
        state = first.state_dict()
        assert state["position"] == 13 and state["kind"] == kind
        resumed = make_sampler(kind, targets, 8, SEED)
        resumed.load_state_dict(state)
        assert all(np.array_equal(x, y) for x, y in zip(take(resumed, 17), reference[13:]))


def test_state_dict_can_record_the_trainers_position(targets):
    sampler = make_sampler("balanced", targets, 8, SEED)
    take(sampler, 10)  # e.g. a DataLoader prefetched further than training got
    assert sampler.state_dict(position=6)["position"] == 6


def test_shuffle_covers_each_item_once_per_epoch_across_boundaries():
    n, b = 23, 5
    stream = np.concatenate(take(ShuffleSampler(n, b, SEED), 4 * n // b + 3))
    for epoch in range(4):
        assert sorted(stream[epoch * n : (epoch + 1) * n]) == list(range(n))
    assert not np.array_equal(stream[:n], stream[n : 2 * n])


def test_balanced_class_slots_are_round_robin_and_clips_positive(targets):
    sampler = BalancedSampler(targets, 6, SEED)
    present = np.flatnonzero(targets.any(axis=0))
    assert sampler.num_empty_classes == 1 and len(present) == 8
    rounds = 9  # 8 classes × 9 draws = 72 = 12 batches of 6
    slots = np.concatenate([sampler.class_slots(t) for t in range(12)])
    clips = np.concatenate([sampler.batch(t) for t in range(12)])
    assert Counter(slots.tolist()) == dict.fromkeys(present.tolist(), rounds)
    assert targets[clips, slots].all()


def test_balanced_cycles_through_each_class_before_repeating(targets):
    sampler = BalancedSampler(targets, 8, SEED)
    slots = np.concatenate([sampler.class_slots(t) for t in range(60)])
    clips = np.concatenate([sampler.batch(t) for t in range(60)])
    for c in np.flatnonzero(targets.any(axis=0)):
        members = np.flatnonzero(targets[:, c])
        drawn = clips[slots == c]
        for start in range(0, len(drawn) - len(members) + 1, len(members)):
            assert sorted(drawn[start : start + len(members)]) == members.tolist()


def test_balanced_equals_the_stateful_queue_algorithm(targets):
    b, batches = 7, 300  # 7 does not divide the 8 classes, so batches straddle queue refills
    classes, clips = naive_balanced(targets, SEED, b * batches)
    sampler = BalancedSampler(targets, b, SEED)
    assert np.array_equal(np.concatenate(take(sampler, batches)), clips)
    assert np.array_equal(np.concatenate([sampler.class_slots(t) for t in range(batches)]), classes)


def test_balanced_over_represents_rare_classes():
    rng = np.random.default_rng(2)
    t = np.zeros((1000, 5), dtype=bool)
    t[np.arange(1000), rng.integers(1, 5, size=1000)] = True
    t[:5, 0] = True  # rare class: 0.5% of clips
    draws = {k: np.concatenate(take(make_sampler(k, t, 50, SEED), 40)) for k in ("balanced", "shuffle")}
    share = {k: t[d, 0].mean() for k, d in draws.items()}
    assert share["balanced"] >= 0.2 > 0.05 > share["shuffle"]


def test_alternate_interleaves_shuffle_and_balanced(targets):
    alternate = AlternateSampler(targets, 8, SEED)
    shuffle, balanced = ShuffleSampler(len(targets), 8, SEED), BalancedSampler(targets, 8, SEED)
    for t, batch in enumerate(take(alternate, 20)):
        expected = (balanced if t % 2 else shuffle).batch(t // 2)
        assert np.array_equal(batch, expected)


@pytest.mark.parametrize("world_size", [2, 4])
def test_ddp_rank_slices_partition_the_global_batch(targets, world_size):
    for kind in ("shuffle", "balanced", "alternate"):
        whole = make_sampler(kind, targets, 8, SEED)
        ranks = [
            make_sampler(kind, targets, 8, SEED, rank=r, world_size=world_size) for r in range(world_size)
        ]
        for t in range(25):
            pieces = [r.batch(t) for r in ranks]
            assert all(len(p) == 8 // world_size for p in pieces)
            assert np.array_equal(np.concatenate(pieces), whole.batch(t))
    balanced = [BalancedSampler(targets, 8, SEED, rank=r, world_size=world_size) for r in range(world_size)]
    whole_slots = BalancedSampler(targets, 8, SEED).class_slots(3)
    assert np.array_equal(np.concatenate([r.class_slots(3) for r in balanced]), whole_slots)


def test_ddp_state_is_the_same_on_every_rank(targets):
    ranks = [BalancedSampler(targets, 8, SEED, rank=r, world_size=2) for r in range(2)]
    assert ranks[0].state_dict() == ranks[1].state_dict() == BalancedSampler(targets, 8, SEED).state_dict()


def test_mismatched_state_is_refused(targets):
    state = BalancedSampler(targets, 8, SEED).state_dict()
    other_data = targets.copy()
    other_data[0, 5] = ~other_data[0, 5]
    cases = {
        "kind": AlternateSampler(targets, 8, SEED),
        "seed": BalancedSampler(targets, 8, SEED + 1),
        "batch_size": BalancedSampler(targets, 16, SEED),
        "fingerprint": BalancedSampler(other_data, 8, SEED),
    }
    for field, sampler in cases.items():
        with pytest.raises(ValueError, match=field):
            sampler.load_state_dict(state)
    with pytest.raises(ValueError, match="fingerprint"):
        ShuffleSampler(len(targets) + 1, 8, SEED).load_state_dict(
            ShuffleSampler(len(targets), 8, SEED).state_dict()
        )


def test_bad_inputs(targets):
    with pytest.raises(ValueError, match="empty"):
        ShuffleSampler(0, 8, SEED)
    with pytest.raises(ValueError, match="empty"):
        BalancedSampler(np.zeros((0, 5), dtype=bool), 8, SEED)
    with pytest.raises(ValueError, match="no class"):
        BalancedSampler(np.zeros((10, 5), dtype=bool), 8, SEED)
    with pytest.raises(ValueError, match="batch_size"):
        BalancedSampler(targets, 0, SEED)
    with pytest.raises(ValueError, match="divisible"):
        BalancedSampler(targets, 6, SEED, rank=0, world_size=4)
    with pytest.raises(ValueError, match="rank"):
        ShuffleSampler(10, 8, SEED, rank=2, world_size=2)
    with pytest.raises(ValueError, match="2-D"):
        BalancedSampler(targets[:, 0], 8, SEED)
    with pytest.raises(ValueError, match="0 and 1"):
        BalancedSampler(targets * 0.5, 8, SEED)
    with pytest.raises(ValueError, match="kind"):
        make_sampler("none", targets, 8, SEED)
    with pytest.raises(ValueError, match="empty"):
        eval_batches(0, 4)
    as_numbers = BalancedSampler(targets.astype(np.uint8), 8, SEED)
    assert np.array_equal(as_numbers.batch(3), BalancedSampler(targets, 8, SEED).batch(3))


@pytest.mark.parametrize("world_size", [1, 3])
def test_eval_batches_cover_everything_once_in_order(world_size):
    shares = [eval_batches(23, 4, rank=r, world_size=world_size) for r in range(world_size)]
    assert all(len(b) <= 4 for share in shares for b in share)
    assert np.array_equal(np.concatenate([b for share in shares for b in share]), np.arange(23))


def test_balanced_builds_and_draws_at_audioset_scale():
    n, c = 200_000, 527
    rng = np.random.default_rng(3)
    t = np.zeros((n, c), dtype=bool)
    weights = 1.0 / np.arange(1, c + 1)
    t[rng.integers(0, n, size=2 * n), rng.choice(c, size=2 * n, p=weights / weights.sum())] = True
    sampler = BalancedSampler(t, 64, SEED)
    batch = sampler.batch(10_000)
    assert len(batch) == 64 and t[batch, sampler.class_slots(10_000)].all()
