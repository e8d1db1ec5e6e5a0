"""Nearest-neighbour agreement (panns_lite.neighbours) on points placed by hand."""

import numpy as np
import pytest

from panns_lite.neighbours import chance_agreement, neighbour_agreement

# two tight directions: rows 0, 1 near (1, 0), rows 2, 3 near (0, 1); row 2 is far from the origin
POINTS = np.array([[1.0, 0.1], [1.0, 0.0], [0.0, 10.0], [0.1, 1.0]])


def test_agreement_counts_clips_whose_cosine_neighbour_shares_the_group():
    assert neighbour_agreement(POINTS, ["a", "a", "b", "b"]) == 1.0  # cosine: length does not matter
    assert neighbour_agreement(POINTS, ["a", "b", "a", "b"]) == 0.0
    assert neighbour_agreement(POINTS, ["a", "a", "b", "c"]) == 0.5


def test_chance_is_the_rate_of_a_random_other_clip():
    # [a, a, b, b]: each clip has 1 of 3 others in its group → 1/3
    assert chance_agreement(["a", "a", "b", "b"]) == pytest.approx(1 / 3)
    assert chance_agreement(["a", "b", "c"]) == 0.0
    assert chance_agreement(["a"] * 5) == 1.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one group per clip"):
        neighbour_agreement(POINTS, ["a", "b"])
    with pytest.raises(ValueError, match="at least 2 clips"):
        neighbour_agreement(POINTS[:1], ["a"])
    with pytest.raises(ValueError, match="at least 2 clips"):
        chance_agreement(["a"])
