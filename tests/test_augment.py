"""SpecAugment and mixup as PANNs does them (reference §4)."""

import numpy as np
import pytest
import torch

from panns_lite.augment import AugmentConfig, SpecAugment, mix_targets, mixup_lambdas
from panns_lite.models import Cnn14, mix_pairs, scaled_widths

T, F = 300, 64


def runs(zeroed: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], zeroed.astype(int), [0]])))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def augmented_ones(batch: int, seed: int = 0, **kwargs) -> torch.Tensor:
    augment = SpecAugment(generator=torch.Generator().manual_seed(seed), **kwargs).train()
    return augment(torch.ones(batch, 1, T, F))


def test_eval_mode_is_the_identity():
    x = torch.randn(4, 1, T, F)
    assert torch.equal(SpecAugment().eval()(x), x)


def test_train_mode_zeroes_at_most_two_narrow_stripes_per_axis_and_nothing_else():
    out = augmented_ones(64).numpy()[:, 0]
    for example in out:
        rows, cols = (example == 0).all(axis=1), (example == 0).all(axis=0)
        np.testing.assert_array_equal(example == 0, rows[:, None] | cols[None, :])  # only whole stripes
        assert set(np.unique(example)) <= {0.0, 1.0}
        for zeroed, width in ((rows, 64), (cols, 8)):
            found = runs(zeroed)
            assert len(found) <= 2 and sum(length for _, length in found) <= 2 * (width - 1)
            assert len(found) < 2 or all(length < width for _, length in found)
            assert not zeroed[-1]  # start ≤ total − width − 1: a stripe never reaches the last row
    assert len({out[i].tobytes() for i in range(64)}) == 64  # every example draws its own stripes


def test_one_stripe_width_and_start_ranges():
    out = augmented_ones(3000, time_drop_width=5, time_stripes_num=1, freq_drop_width=8, freq_stripes_num=0)
    time_rows = (out[:, 0] == 0).all(dim=2).numpy()
    assert not (out[:, 0] == 0).all(dim=1).any()  # no frequency stripes
    found = [runs(r) for r in time_rows]
    widths = [r[0][1] if r else 0 for r in found]
    assert set(widths) == {0, 1, 2, 3, 4} and abs(widths.count(0) / 3000 - 1 / 5) < 0.03
    starts = [r[0][0] for r in found if r]
    ends = [start + width for start, width in (r[0] for r in found if r)]
    assert min(starts) == 0 and max(ends) == T - 1


def test_same_seed_same_stripes_and_input_untouched():
    x = torch.randn(8, 1, T, F)
    before = x.clone()
    first = SpecAugment(generator=torch.Generator().manual_seed(7)).train()(x)
    second = SpecAugment(generator=torch.Generator().manual_seed(7)).train()(x)
    assert torch.equal(first, second) and torch.equal(x, before) and not torch.equal(first, x)
    torch.manual_seed(3)
    global_first = SpecAugment()(x)
    torch.manual_seed(3)
    assert torch.equal(SpecAugment()(x), global_first)


def test_generator_state_resumes_the_stream():
    generator = torch.Generator().manual_seed(11)
    augment = SpecAugment(generator=generator)
    x = torch.ones(4, 1, T, F)
    augment(x)
    state = generator.get_state()
    expected = augment(x)
    generator.set_state(state)
    assert torch.equal(augment(x), expected)


def test_spec_augment_errors():
    with pytest.raises(ValueError, match="at least 64 frames"):
        SpecAugment()(torch.ones(2, 1, 63, F))
    with pytest.raises(ValueError, match="batch, channels, time, freq"):
        SpecAugment()(torch.ones(T, F))
    with pytest.raises(ValueError, match="drop widths"):
        SpecAugment(time_drop_width=0)


def test_mixup_lambdas_structure_and_distribution():
    lam = mixup_lambdas(np.random.default_rng(0), 64)
    assert lam.shape == (64,) and lam.dtype == np.float32
    assert np.all((lam >= 0) & (lam <= 1)) and np.allclose(lam[0::2] + lam[1::2], 1.0)
    many = mixup_lambdas(np.random.default_rng(1), 200_000)[0::2]
    assert abs(many.mean() - 0.5) < 0.005 and abs(many.var() - 1 / 12) < 0.002  # Beta(1, 1) = U(0, 1)
    same_seed = [mixup_lambdas(np.random.default_rng(5), 8) for _ in range(2)]
    np.testing.assert_array_equal(*same_seed)
    assert mixup_lambdas(np.random.default_rng(2), 100_000, alpha=0.2)[0::2].var() > 0.15  # U-shaped


def test_mix_targets_matches_hand_computation():
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    lam = np.array([0.25, 0.75, 1.0, 0.0], dtype=np.float32)
    expected = torch.tensor([[0.25, 0.75, 0.0], [1.0, 1.0, 0.0]])
    assert torch.equal(mix_targets(targets, lam), expected)
    assert torch.equal(mix_targets(targets.bool(), torch.from_numpy(lam)), expected)
    assert torch.equal(mix_targets(targets, lam)[1], targets[2])  # λ = 1 selects the even clip
    x = torch.randn(4, 1, 5, 3)
    assert torch.equal(mix_pairs(x, torch.from_numpy(lam))[1], x[2])  # the same pairing as the inputs


def test_mixup_errors():
    rng = np.random.default_rng(0)
    for batch in (3, 0):
        with pytest.raises(ValueError, match="even batch"):
            mixup_lambdas(rng, batch)
    for alpha in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="alpha"):
            mixup_lambdas(rng, 4, alpha)
    with pytest.raises(ValueError, match="even batch"):
        mix_targets(torch.zeros(3, 527), np.ones(3, np.float32))
    with pytest.raises(ValueError):
        mix_targets(torch.zeros(4, 527), np.ones(2, np.float32))


def test_augment_config():
    config = AugmentConfig()
    augment = config.spec_augmenter(torch.Generator().manual_seed(0))
    assert (
        augment.time_drop_width,
        augment.time_stripes_num,
        augment.freq_drop_width,
        augment.freq_stripes_num,
    ) == (64, 2, 8, 2)
    assert config.mixup and config.mixup_alpha == 1.0
    assert AugmentConfig(spec_augment=False).spec_augmenter() is None
    with pytest.raises(ValueError, match="alpha"):
        AugmentConfig(mixup_alpha=0.0)
    with pytest.raises(ValueError, match="drop widths"):
        AugmentConfig(freq_drop_width=0)


def test_spec_augment_in_a_model_adds_no_state_and_follows_train_eval():
    model = Cnn14(classes_num=2, widths=scaled_widths(1 / 32), spec_augment=AugmentConfig().spec_augmenter())
    assert model.state_dict().keys() == Cnn14(classes_num=2, widths=scaled_widths(1 / 32)).state_dict().keys()
    model.eval()
    assert not model.spec_augment.training
    model.train()
    assert model.spec_augment.training
