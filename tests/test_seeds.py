import numpy as np
import pytest

from panns_lite.seeds import MiniSetStream, SamplerStream, TrainStream, TransferStream, generator, torch_seed


def test_a_stream_is_numpy_seeded_with_seed_tag_and_index():
    # The recorded MiniSets and training curves were drawn from default_rng([seed, tag, *index]).
    a = generator(3, TrainStream.MIXUP, 17).random(4)
    assert np.array_equal(a, np.random.default_rng([3, 5, 17]).random(4))


def test_streams_differ_by_tag_index_and_seed():
    draws = {
        (seed, stream, index): generator(seed, stream, index).integers(2**62)
        for seed in (0, 1)
        for stream in (TrainStream.MIXUP, TrainStream.DROPOUT)
        for index in (0, 1)
    }
    assert len(set(draws.values())) == len(draws)


def test_torch_seed_is_a_valid_manual_seed_and_reproducible():
    value = torch_seed(0, TrainStream.INITIAL_WEIGHTS)
    assert 0 <= value < 2**63 and value == torch_seed(0, TrainStream.INITIAL_WEIGHTS)
    assert value != torch_seed(1, TrainStream.INITIAL_WEIGHTS)


@pytest.mark.parametrize("enum", [MiniSetStream, SamplerStream, TrainStream, TransferStream])
def test_tags_within_a_consumer_are_distinct(enum):
    assert len({int(member) for member in enum}) == len(enum)


def test_the_split_streams_follow_the_miniset_split_order():
    from panns_lite.miniset import SPLITS

    assert [MiniSetStream[f"{name.upper()}_CLIPS"] for name in SPLITS] == [0, 1, 2]
