"""Scoring a saved checkpoint on a packed evaluation file: the outputs are the model's, the scores
sklearn's."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from panns_lite.audio import int16_to_float
from panns_lite.checkpoints import save_checkpoint
from panns_lite.evaluation import (
    PairedBootstrap,
    bootstrap_map,
    compared,
    evaluate_checkpoint,
    format_interval,
    micro_f1,
    paired_f1_bootstrap,
)
from panns_lite.metrics import mean_average_precision
from panns_lite.models import Cnn14, scaled_widths

WIDTHS = scaled_widths(1 / 16)


def checkpoint(path: Path, classes_num: int = 527, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    return save_checkpoint(Cnn14(classes_num=classes_num, widths=WIDTHS), path)


def test_outputs_are_the_model_run_on_the_waveforms_and_scores_match_sklearn(tiny_packed, tmp_path) -> None:
    path = checkpoint(tmp_path / "model.pt")
    result = evaluate_checkpoint(path, tiny_packed["eval"], batch_size=5)  # 12 clips: batches 5, 5, 2

    with h5py.File(tiny_packed["eval"], "r") as h5:
        waveforms = int16_to_float(h5["waveform"][:])
        targets = h5["target"][:]
        names = [n.decode() for n in h5["audio_name"][:]]
    torch.manual_seed(0)
    model = Cnn14(widths=WIDTHS)
    model.load_state_dict(torch.load(path, weights_only=True)["state_dict"])
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(waveforms))["clipwise_output"].numpy()

    assert result.names == names
    np.testing.assert_array_equal(result.targets, targets)
    np.testing.assert_allclose(result.outputs, expected, rtol=1e-4, atol=1e-6)
    present = np.flatnonzero(targets.any(axis=0))
    assert result.scores.classes_ap == len(present) == 3
    ap = [average_precision_score(targets[:, k], result.outputs[:, k]) for k in present]
    assert result.scores.mAP == pytest.approx(np.mean(ap))
    assert np.isnan(result.scores.ap[np.setdiff1d(np.arange(527), present)]).all()


def test_a_log_mel_cache_gives_the_waveform_scores_without_running_the_front_end_again(tiny_packed, tmp_path):
    from panns_lite.checkpoints import load_checkpoint
    from panns_lite.datasets import LogMelCache, PackedDataset
    from panns_lite.evaluation import evaluate_model

    path = checkpoint(tmp_path / "model.pt")
    on_waveforms = evaluate_checkpoint(path, tiny_packed["eval"])
    model = load_checkpoint(path)
    cache = LogMelCache.build(PackedDataset(tiny_packed["eval"]), model.logmel, dtype=torch.float32)
    on_logmels = evaluate_model(model, cache)
    assert on_logmels.names == on_waveforms.names
    np.testing.assert_allclose(on_logmels.outputs, on_waveforms.outputs, rtol=1e-5, atol=1e-7)
    assert on_logmels.scores.mAP == pytest.approx(on_waveforms.scores.mAP, abs=1e-6)
    with pytest.raises(ValueError, match="12 classes, the evaluation set has 527"):
        evaluate_model(load_checkpoint(checkpoint(tmp_path / "h.pt", classes_num=12)), cache)


def test_bfloat16_scores_the_network_in_bf16_where_the_cpu_has_it(tiny_packed, tmp_path) -> None:
    from panns_lite.checkpoints import load_checkpoint
    from panns_lite.datasets import LogMelCache, PackedDataset
    from panns_lite.evaluation import evaluate_model
    from panns_lite.runtime import cpu_bf16

    path = checkpoint(tmp_path / "model.pt")
    data = PackedDataset(tiny_packed["eval"])
    cache = LogMelCache.build(data, load_checkpoint(path).logmel, dtype=torch.float32)
    fp32 = evaluate_model(load_checkpoint(path), data)
    for source in (data, cache):
        bf16 = evaluate_model(load_checkpoint(path), source, precision="bfloat16")
        gap = np.abs(bf16.outputs - fp32.outputs).max()
        assert bf16.outputs.dtype == np.float32 and gap < 0.02  # bf16 keeps about 3 significant digits
        assert (gap > 1e-5) == cpu_bf16()  # float32 where the CPU has no native bf16
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        evaluate_model(load_checkpoint(path), data, precision="float16")


def test_a_head_with_other_classes_is_refused(tiny_packed, tmp_path) -> None:
    path = checkpoint(tmp_path / "head12.pt", classes_num=12)
    with pytest.raises(ValueError, match="12 classes"):
        evaluate_checkpoint(path, tiny_packed["eval"])


def test_a_model_at_another_sample_rate_is_refused(tiny_packed, tmp_path) -> None:
    from panns_lite.features import PANNS_16K

    path = save_checkpoint(Cnn14(widths=WIDTHS, frontend=PANNS_16K), tmp_path / "16k.pt")
    with pytest.raises(ValueError, match=r"eval.h5 holds 32000 Hz audio but .*16k.pt expects 16000 Hz"):
        evaluate_checkpoint(path, tiny_packed["eval"])


def test_missing_files_are_named(tiny_packed, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.h5"):
        evaluate_checkpoint(checkpoint(tmp_path / "m.pt"), tmp_path / "nothing.h5")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        evaluate_checkpoint(tmp_path / "missing.pt", tiny_packed["eval"])


def noisy_scores(seed: int = 0, clips: int = 60, classes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    targets = rng.random((clips, classes)) < 0.3
    return targets, targets + rng.normal(0, 0.6, targets.shape)


def test_bootstrap_is_seeded_and_spreads_around_the_full_map() -> None:
    targets, outputs = noisy_scores()
    full, _ = mean_average_precision(targets, outputs)
    values, classes = bootstrap_map(targets, outputs, resamples=50, seed=3)
    assert values.shape == classes.shape == (50,) and np.isfinite(values).all()
    assert (classes == 5).all()  # every class has ~18 positives: none drops out
    np.testing.assert_array_equal(values, bootstrap_map(targets, outputs, resamples=50, seed=3).maps)
    assert not np.array_equal(values, bootstrap_map(targets, outputs, resamples=50, seed=4).maps)
    assert values.std() > 0 and np.percentile(values, 2.5) < full < np.percentile(values, 97.5)


def test_bootstrap_counts_the_classes_a_resample_loses() -> None:
    targets = np.zeros((40, 2), bool)
    targets[:20, 0] = True
    targets[0, 1] = True  # a single positive: absent from about a third of the resamples
    outputs = targets + np.random.default_rng(0).normal(0, 0.5, targets.shape)
    result = bootstrap_map(targets, outputs, resamples=60, seed=1)
    assert set(result.classes.tolist()) == {1, 2}
    assert 0.15 < (result.classes == 1).mean() < 0.6


def test_bootstrap_of_a_perfect_ranking_is_always_one() -> None:
    targets, _ = noisy_scores()
    np.testing.assert_allclose(bootstrap_map(targets, targets.astype(float), resamples=10).maps, 1.0)


@pytest.mark.parametrize(
    "targets, outputs, resamples",
    [
        (np.ones((4, 2), bool), np.ones((4, 2)), 0),
        (np.ones((4, 2), bool), np.ones((4, 3)), 5),
        (np.ones((0, 2), bool), np.ones((0, 2)), 5),
    ],
)
def test_bootstrap_rejects_bad_input(targets, outputs, resamples) -> None:
    with pytest.raises(ValueError):
        bootstrap_map(targets, outputs, resamples=resamples)


def test_split_statistics_sets_the_two_splits_side_by_side():
    from panns_lite.evaluation import split_statistics

    rows = [
        {
            "iteration": i,
            "mAP": 0.1 * i,
            "classes": 5,
            "mAUC": 0.5,
            "d_prime": 0.0,
            "train_loss": 1.0,
            "natural_mAP": 0.2 * i,
            "natural_classes": 7,
            "natural_mAUC": 0.6,
            "natural_d_prime": 0.3,
        }
        for i in range(3)
    ]
    series = split_statistics(rows)
    assert list(series) == ["mixture eval", "natural eval"]
    assert [r["mAP"] for r in series["natural eval"]] == [0.0, 0.2, 0.4]
    assert series["natural eval"][0]["classes"] == 7 and series["mixture eval"][2]["mAP"] == 0.1 * 2
    mixture_only = [{k: v for k, v in r.items() if not k.startswith("natural_")} for r in rows]
    assert list(split_statistics(mixture_only)) == ["mixture eval"]


def test_paired_bootstrap_resolves_a_real_difference_and_not_noise() -> None:
    from panns_lite.evaluation import paired_bootstrap

    rng = np.random.default_rng(0)
    targets = rng.random((300, 6)) < 0.2
    good = targets + rng.normal(0, 0.6, targets.shape)  # informative scores
    worse = targets + rng.normal(0, 1.5, targets.shape)
    result = paired_bootstrap(targets, good, worse, resamples=200)
    assert result.difference == pytest.approx(
        mean_average_precision(targets, good)[0] - mean_average_precision(targets, worse)[0]
    )
    assert result.resolved and result.interval[0] > 0 and len(result.resampled) == 200
    same = paired_bootstrap(targets, good, good + rng.normal(0, 1e-3, good.shape), resamples=200)
    assert not same.resolved and same.interval[0] <= 0 <= same.interval[1]
    assert paired_bootstrap(targets, good, worse, resamples=200).interval == result.interval  # seeded
    with pytest.raises(ValueError, match="one shape"):
        paired_bootstrap(targets, good[:10], worse)


def test_resampled_maps_equal_the_map_of_each_resample_ties_included() -> None:
    from panns_lite.evaluation import resampled_maps

    rng = np.random.default_rng(3)
    targets = rng.random((60, 9)) < 0.15
    targets[:, 8] = False  # a class without positives
    outputs = np.round(rng.random((60, 9)), 1).astype(np.float32)  # many tied scores
    draws = rng.integers(0, 60, (40, 60))
    maps, classes = resampled_maps(targets, outputs, draws)
    expected = [mean_average_precision(targets[idx], outputs[idx]) for idx in draws]
    np.testing.assert_allclose(maps, [m for m, _ in expected], rtol=0, atol=1e-12)
    assert classes.tolist() == [c for _, c in expected]


# ------------------------------------------------------------------------------ F1 and its bootstrap
def test_micro_f1_of_counts():
    # TP 3, FP 1, FN 2 → 6 / (6 + 1 + 2) = 2/3; nothing to find or flag → 0, not NaN.
    assert micro_f1(np.array([3, 1, 2])) == pytest.approx(2 / 3)
    assert micro_f1(np.zeros(3)) == 0.0
    assert micro_f1(np.array([[1, 0, 0], [0, 1, 1]])).tolist() == [1.0, 0.0]


def test_paired_f1_bootstrap_resamples_files_for_both_systems_alike():
    a = np.array([[2, 0, 0], [1, 1, 0], [0, 0, 1]])  # summed: TP 3, FP 1, FN 1 → F1 6/8
    b = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1]])  # summed: TP 2, FP 1, FN 2 → F1 4/7
    paired = paired_f1_bootstrap(a, b, resamples=200, seed=3)
    assert paired.difference == pytest.approx(6 / 8 - 4 / 7)
    draws = np.random.default_rng(3).integers(0, 3, size=(200, 3))  # the documented draw
    expected = micro_f1(a[draws].sum(1)) - micro_f1(b[draws].sum(1))
    np.testing.assert_array_equal(paired.resampled, expected)
    assert paired_f1_bootstrap(a, a, resamples=50).resampled.tolist() == [0.0] * 50


@pytest.mark.parametrize(
    "a, b, resamples",
    [
        (np.zeros((3, 3)), np.zeros((2, 3)), 10),
        (np.zeros((3, 2)), np.zeros((3, 2)), 10),
        (np.zeros((3, 3)),) * 2 + (0,),
    ],
)
def test_paired_f1_bootstrap_refuses_mismatched_counts(a, b, resamples):
    with pytest.raises(ValueError, match="count arrays"):
        paired_f1_bootstrap(a, b, resamples=resamples)


def test_compared_says_beyond_the_noise_only_when_the_interval_excludes_zero():
    higher = PairedBootstrap(0.05, np.array([0.01, 0.04, 0.09]))
    unsure = PairedBootstrap(0.01, np.array([-0.02, 0.01, 0.03]))
    assert compared(higher, "the baseline").startswith("higher than the baseline, beyond the noise (+0.050")
    assert compared(unsure, "the baseline").startswith("not distinguishable from the baseline (+0.010")
    assert compared(PairedBootstrap(-0.05, -np.array([0.01, 0.04])), "x").startswith("lower than x")


def test_intervals_print_signed_with_three_decimals():
    assert format_interval((-0.0123, 0.0046)) == "[-0.012, +0.005]"
    assert format_interval([0.0, 1.0]) == "[+0.000, +1.000]"
    with pytest.raises(ValueError):
        format_interval((0.1,))


def test_a_comparison_row_holds_the_difference_its_interval_and_the_verdict():
    # resamples −0.01, 0.0025, 0.015, 0.0275, 0.04: percentiles 2.5 / 97.5 (linear interpolation)
    # at positions 0.1 and 3.9: −0.00875 and 0.03875
    row = PairedBootstrap(0.02, np.linspace(-0.01, 0.04, 5)).row("a − b")
    assert row == {"a − b": 0.02, "95 % interval": "[-0.009, +0.039]", "beyond noise": False}
    assert PairedBootstrap(0.02, np.linspace(0.01, 0.04, 5)).row()["beyond noise"] is True
