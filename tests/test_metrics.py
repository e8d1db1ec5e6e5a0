"""Metrics are sklearn's per class, with the convention for classes without positives."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

from panns_lite.metrics import auc, average_precision, d_prime, evaluate, mean_average_precision


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    target = rng.random((200, 12)) < 0.2
    target[:, 3] = False  # a class with no positives
    target[:, 4] = True  # a class with no negatives
    output = rng.random((200, 12)) + 0.3 * target
    output[:50, :] = np.round(output[:50, :], 1)  # many ties
    return target, output


def test_ap_and_auc_equal_sklearn_per_class(data):
    target, output = data
    ap, au = average_precision(target, output), auc(target, output)
    for k in range(12):
        if target[:, k].any():
            # one vectorised pass over all classes: sklearn's value up to the order of a float sum
            assert ap[k] == pytest.approx(
                average_precision_score(target[:, k], output[:, k]), rel=1e-12, abs=0
            )
        if target[:, k].any() and not target[:, k].all():
            assert au[k] == roc_auc_score(target[:, k], output[:, k])


def test_classes_without_positives_are_nan_and_excluded(data):
    target, output = data
    ap = average_precision(target, output)
    assert np.isnan(ap[3]) and np.isnan(ap).sum() == 1
    mean, n = mean_average_precision(target, output)
    assert n == 11 and mean == pytest.approx(np.mean(np.delete(ap, 3)))
    scores = evaluate(target, output)
    assert scores.classes_auc == 10 and np.isnan(scores.auc[4])


def test_d_prime_matches_published_pair():
    assert d_prime(0.9733) == pytest.approx(2.732, abs=2e-3)  # CNN14: AUC 0.973 -> d' 2.732
    assert d_prime(0.5) == 0.0
    assert d_prime(0.8) == pytest.approx(np.sqrt(2) * norm.ppf(0.8))


def test_perfect_and_reversed_rankings():
    target = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], bool)
    assert mean_average_precision(target, target.astype(float)) == (1.0, 2)
    assert evaluate(target, 1.0 - target).mAUC == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="shape|classes"):
        average_precision(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        average_precision(np.ones((2, 1)), np.array([[np.nan], [0.1]]))
    with pytest.raises(ValueError, match="no class has a positive"):
        mean_average_precision(np.zeros((4, 3), bool), np.zeros((4, 3)))


def test_rarest_classes_map_picks_the_rarest_third():
    from panns_lite.metrics import rarest_classes_map

    ap = np.array([0.9, 0.1, np.nan, 0.5, 0.3, 0.7])
    counts = np.array([100, 2, 1, 50, 3, 9])
    mean, n = rarest_classes_map(ap, counts)  # defined: 5 classes -> the 2 rarest: counts 2 and 3
    assert n == 2 and mean == pytest.approx((0.1 + 0.3) / 2)
    with pytest.raises(ValueError):
        rarest_classes_map(ap, counts[:3])


def test_primary_label_ranks_set_aside_the_clips_other_true_labels():
    from panns_lite.metrics import primary_label_ranks, top_k_accuracy

    output = np.array(
        [
            [0.9, 0.8, 0.1, 0.7],  # primary 1; class 0 (an ancestor, true) and nothing wrong above
            [0.2, 0.3, 0.9, 0.95],  # primary 0; two wrong classes and a true one above
            [0.5, 0.5, 0.1, 0.0],
        ]
    )  # primary 0 tied with a wrong class: the tie counts against it
    primary = np.array([1, 0, 0])
    target = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=bool)
    assert primary_label_ranks(output, primary).tolist() == [2, 4, 2]
    ranks = primary_label_ranks(output, primary, target)
    assert ranks.tolist() == [1, 3, 2]
    assert top_k_accuracy(ranks, 1) == pytest.approx(1 / 3) and top_k_accuracy(ranks, 3) == 1.0
    with pytest.raises(ValueError, match="primary label indices"):
        primary_label_ranks(output, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="shape"):
        primary_label_ranks(output, primary, target[:, :2])
    with pytest.raises(ValueError, match="k must be"):
        top_k_accuracy(ranks, 0)
