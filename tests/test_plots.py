"""Book figures: what each plot draws (data, boxes, bars, labels) and what it refuses."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from panns_lite.book.plots import (
    plot_ap_by_count,
    plot_class_ap,
    plot_class_shares,
    plot_embedding_map,
    plot_fold_scores,
    plot_framewise,
    plot_framing,
    plot_label_counts,
    plot_layer_costs,
    plot_learning_curves,
    plot_logmel,
    plot_mel_filterbank,
    plot_spectrogram,
    plot_tradeoff,
    subplots,
)
from panns_lite.events import Event
from panns_lite.features import LogMel
from panns_lite.models import Cnn14, scaled_widths
from panns_lite.profile import profile_model


def rectangles(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_figures_are_not_tracked_by_pyplot() -> None:
    before = plt.get_fignums()
    fig = plot_label_counts({"a": 3, "b": 1})
    assert isinstance(fig, Figure) and plt.get_fignums() == before


def test_logmel_plot_draws_the_data_and_one_box_per_event() -> None:
    logmel = LogMel()(torch.randn(1, 32000 * 2) * 0.1)
    events = [Event(0.2, 0.9, "Dog", "/m/0bt9lr"), ("Speech", 0.5, 1.8), ("Dog", 1.2, 1.5)]
    fig = plot_logmel(logmel, events=events, title="clip")
    spec_ax, roll = fig.axes[0], fig.axes[1]
    image = spec_ax.images[0]
    assert image.get_array().shape == (64, logmel.shape[2])  # shown as (mel, time)
    np.testing.assert_allclose(image.get_array(), logmel[0, 0].T.numpy(), atol=1e-4)
    boxes = rectangles(spec_ax)
    assert len(boxes) == 3
    assert [round(b.get_x(), 3) for b in boxes] == [0.2, 0.5, 1.2]
    assert boxes[0].get_edgecolor() == boxes[2].get_edgecolor() != boxes[1].get_edgecolor()
    assert [t.get_text() for t in roll.get_yticklabels()] == ["Dog", "Speech"]
    assert len(roll.patches) == 3
    assert spec_ax.get_title() == "clip"


def test_logmel_plot_into_a_given_axis_without_events() -> None:
    fig, axes = subplots(1, 2)
    out = plot_logmel(np.zeros((50, 64)), ax=axes[1], colorbar=False)
    assert out is fig and len(axes[1].images) == 1 and not axes[0].images


def test_spectrogram_labels_bins_in_hz() -> None:
    bins = np.linspace(0, 16000, 513)
    fig = plot_spectrogram(np.zeros((10, 513)), 32000, 320, bins)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == "0" and labels[-1] == "16k"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(logmel=np.zeros((10, 32))), "bins"),
        (dict(logmel=np.zeros(10)), "2-D"),
        (dict(logmel=np.zeros((10, 64)), events=[("x", 2.0, 1.0)]), "onset"),
    ],
)
def test_logmel_plot_rejects_bad_input(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        plot_logmel(**kwargs)


def test_framing_draws_one_window_per_frame_centred_on_hops() -> None:
    x = np.random.default_rng(0).standard_normal(32000).astype(np.float32)
    fig = plot_framing(x, 32000, 1024, 320, start=0.1, frames=3)
    lines = fig.axes[0].lines
    windows = [ln for ln in lines if ln.get_label().startswith("frame")]
    assert len(windows) == 3
    centres = [ln.get_xdata()[len(ln.get_xdata()) // 2] for ln in windows]
    assert np.allclose(np.diff(centres), 10.0)  # 320 samples = 10 ms apart
    with pytest.raises(ValueError):
        plot_framing(x, 32000, 1, 320)


def test_filterbank_plot_has_one_line_per_filter() -> None:
    fb = LogMel().mel_fb
    fig = plot_mel_filterbank(fb, 32000)
    lines = fig.axes[0].lines
    assert len(lines) == 64
    assert lines[0].get_xdata()[-1] == pytest.approx(16000)
    np.testing.assert_allclose(lines[10].get_ydata(), fb[:, 10].numpy(), rtol=1e-6)
    with pytest.raises(ValueError):
        plot_mel_filterbank(np.zeros(5), 32000)


def test_label_counts_are_sorted_and_the_head_named() -> None:
    counts = {f"c{i}": n for i, n in enumerate([5, 50, 1, 20, 2, 9, 3, 7, 4, 6])}
    fig = plot_label_counts(counts, annotate=2)
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [50, 20, 9, 7, 6, 5, 4, 3, 2, 1]
    assert {t.get_text() for t in ax.texts} >= {"c1", "c3"}
    assert any("top 1 hold 47%" in t.get_text() for t in ax.texts)
    with pytest.raises(ValueError):
        plot_label_counts({})
    with pytest.raises(ValueError):
        plot_label_counts({"a": -1})


def test_learning_curves_follow_the_statistics_rows() -> None:
    rows = [{"iteration": i, "mAP": 0.1 * k, "classes": 90} for k, i in enumerate([0, 100, 200])]
    rows[1]["mAP"] = None  # an evaluation with no defined mAP is a gap, not a crash
    fig = plot_learning_curves({"ci": rows, "other": rows[:1]})
    first = fig.axes[0].lines[0]
    assert list(first.get_xdata()) == [0, 100, 200]
    assert math.isnan(first.get_ydata()[1]) and first.get_ydata()[2] == pytest.approx(0.2)
    assert "90 classes" in first.get_label()
    with pytest.raises(ValueError, match="lack"):
        plot_learning_curves({"ci": rows}, metric="mAUC")
    with pytest.raises(ValueError):
        plot_learning_curves({"ci": []})


def test_class_ap_shows_best_and_worst_and_skips_undefined() -> None:
    ap = [0.9, None, 0.1, 0.5, float("nan"), 0.7, 0.3]
    names = ["a", "b", "c", "d", "e", "f", "g"]
    fig = plot_class_ap(ap, names, top=2, bottom=1)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "f", "c"]
    assert [p.get_width() for p in ax.patches] == [0.9, 0.7, 0.1]
    assert "3 of 5" in ax.get_title()
    with pytest.raises(ValueError):
        plot_class_ap([0.1], ["a", "b"])
    with pytest.raises(ValueError):
        plot_class_ap([None], ["a"])


def test_layer_costs_match_the_profiles() -> None:
    full = profile_model(Cnn14(widths=scaled_widths(0.125)), seconds=1.0)
    pruned = profile_model(Cnn14(widths=scaled_widths(0.0625)), seconds=1.0)
    fig = plot_layer_costs({"full": full, "pruned": pruned})
    top, bottom = fig.axes
    assert [t.get_text() for t in bottom.get_xticklabels()] == [row.name for row in full.layers]
    heights = [p.get_height() for p in top.patches]
    assert heights[: len(full.layers)] == pytest.approx([row.params / 1e6 for row in full.layers])
    with pytest.raises(ValueError):
        plot_layer_costs({})


def test_tradeoff_labels_points_and_checks_lengths() -> None:
    fig = plot_tradeoff(["a", "b"], [1e9, 2e10], [0.3, 0.43], size=[4.8, 80.7])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["a", "b"]
    assert ax.get_xscale() == "log"
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[1e9, 0.3], [2e10, 0.43]])
    with pytest.raises(ValueError):
        plot_tradeoff(["a"], [1.0, 2.0], [0.1])
    with pytest.raises(ValueError):
        plot_tradeoff(["a"], [0.0], [0.1])


def test_class_shares_draw_one_line_per_series_over_the_ranks() -> None:
    fig = plot_class_shares({"shuffle": [0.5, 0.1, 0.0], "balanced": [0.3, 0.2, 0.1]})
    ax = fig.axes[0]
    shuffle, balanced = ax.lines
    assert list(shuffle.get_xdata()) == [1, 2, 3] and shuffle.get_label() == "shuffle"
    assert math.isnan(shuffle.get_ydata()[2])  # a zero has no place on a log axis
    assert list(balanced.get_ydata()) == [0.3, 0.2, 0.1] and ax.get_yscale() == "log"
    linear = plot_class_shares({"a": [0.0, 1.0]}, log=False).axes[0]
    assert list(linear.lines[0].get_ydata()) == [0.0, 1.0] and linear.get_yscale() == "linear"
    for bad in ({}, {"a": [1.0], "b": [1.0, 2.0]}, {"a": []}, {"a": [-1.0]}):
        with pytest.raises(ValueError):
            plot_class_shares(bad)


def test_ap_by_count_skips_undefined_and_names_the_best() -> None:
    ap = [0.9, None, 0.1, 0.5, float("nan"), 0.7]
    counts = [100, 5, 3, 20, 8, 0]
    names = ["a", "b", "c", "d", "e", "f"]
    fig = plot_ap_by_count(ap, counts, names, annotate=2, lines={"mAP": 0.5})
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[100, 0.9], [3, 0.1], [20, 0.5]])
    assert [t.get_text() for t in ax.texts] == ["a", "d"]  # the best two
    assert ax.lines[0].get_ydata()[0] == 0.5 and "mAP 0.500" in ax.lines[0].get_label()
    assert ax.get_xscale() == "log" and ax.get_title() == "3 classes"
    with pytest.raises(ValueError):
        plot_ap_by_count([0.1], [1, 2], ["a"])
    with pytest.raises(ValueError):
        plot_ap_by_count([None, 0.5], [3, 0], ["a", "b"])


def test_fold_scores_show_means_spreads_and_every_fold() -> None:
    fig = plot_fold_scores({"probe": [0.8, 0.6, 0.7], "scratch": [0.2]}, chance=1 / 12)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [b.get_width() for b in bars] == pytest.approx([0.7, 0.2])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["probe", "scratch"]
    dots = [ln for ln in ax.lines if ln.get_marker() == "."]
    assert [list(d.get_xdata()) for d in dots] == [[0.8, 0.6, 0.7], [0.2]]
    assert any(ln.get_xdata()[0] == pytest.approx(1 / 12) for ln in ax.lines if ln.get_linestyle() == "--")
    errors = ax.containers[0].lines[2][0].get_segments()
    assert errors[0][:, 0] == pytest.approx([0.6, 0.8])  # mean ± sample standard deviation (0.1)
    for bad in ({}, {"a": []}):
        with pytest.raises(ValueError):
            plot_fold_scores(bad)


def test_framewise_draws_one_line_per_class_and_both_kinds_of_events() -> None:

    p = np.zeros((100, 2))
    p[20:50, 0] = 0.9
    reference = [("Dog", 0.2, 0.5), Event(0.6, 0.9, "Speech", "/m/09x0r")]
    detected = [Event(0.21, 0.5, "Dog", "/m/0bt9lr", 0.9)]
    fig = plot_framewise(p, 0.01, ["Dog", "Speech"], reference=reference, detected=detected, threshold=0.5)
    ax, roll = fig.axes
    dog, speech, threshold = ax.lines
    assert dog.get_label() == "Dog" and dog.get_xdata()[20] == pytest.approx(0.2)
    np.testing.assert_allclose(dog.get_ydata(), p[:, 0])
    assert threshold.get_ydata()[0] == 0.5
    bars = rectangles(roll)
    assert [(round(b.get_x(), 2), round(b.get_width(), 2)) for b in bars] == [
        (0.2, 0.3),
        (0.6, 0.3),
        (0.21, 0.29),
    ]
    assert not bars[2].get_fill() and bars[0].get_fill()  # detected outlined, reference filled
    assert bars[0].get_facecolor()[:3] == bars[2].get_edgecolor()[:3]  # same class, same colour
    assert [t.get_text() for t in roll.get_yticklabels()] == ["Dog", "Speech"]


def test_framewise_without_events_or_into_an_axis_has_no_roll() -> None:
    assert len(plot_framewise(np.zeros((10, 1)), 0.01, ["a"]).axes) == 1
    fig, axes = subplots(1, 2)
    assert plot_framewise(np.zeros((10, 1)), 0.01, ["a"], reference=[("a", 0.0, 0.05)], ax=axes[0]) is fig
    assert len(axes[0].lines) == 1 and not axes[1].lines


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(names=["a"]), "names"),
        (dict(names=["a", "a"]), "distinct"),
        (dict(reference=[("c", 0.0, 0.1)]), "not one of the plotted"),
        (dict(detected=[("a", 0.3, 0.1)]), "onset"),
        (dict(frame_hop=0.0), "frame_hop"),
    ],
)
def test_framewise_rejects_bad_input(kwargs, match) -> None:
    args = dict(probabilities=np.zeros((10, 2)), frame_hop=0.01, names=["a", "b"]) | kwargs
    with pytest.raises(ValueError, match=match):
        plot_framewise(**args)


def test_embedding_map_colours_the_most_frequent_labels_and_greys_the_rest() -> None:
    points = np.arange(14, dtype=float).reshape(7, 2)
    labels = ["dog", "dog", "dog", "rain", "rain", "bell", "horn"]
    fig = plot_embedding_map(points, labels, top=2, title="map")
    ax = fig.axes[0]
    other, dog, rain = ax.collections
    np.testing.assert_allclose(other.get_offsets(), points[5:])
    np.testing.assert_allclose(dog.get_offsets(), points[:3])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["other (2)", "dog (3)", "rain (2)"]
    assert ax.get_title() == "map"
    only = plot_embedding_map(points, labels, top=10, legend=False).axes[0]
    assert len(only.collections) == 4 and only.get_legend() is None


@pytest.mark.parametrize(
    "points, labels, top",
    [
        (np.zeros((3, 3)), ["a"] * 3, 2),
        (np.zeros((3, 2)), ["a"] * 2, 2),
        (np.zeros((3, 2)), ["a"] * 3, 0),
        (np.zeros((3, 2)), ["a"] * 3, 11),
    ],
)
def test_embedding_map_rejects_bad_input(points, labels, top) -> None:
    with pytest.raises(ValueError):
        plot_embedding_map(points, labels, top=top)


# ------------------------------------------------------------------ pruning chapters (06, 07)
from panns_lite.book.plots import (  # noqa: E402  (appended section; the figures of the pruning chapters)
    draw_reference,
    plot_matrix,
    plot_metric_by_ratio,
    plot_score_agreement,
    plot_sorted_scores,
)


def test_reference_line_and_noise_band_sit_at_the_value() -> None:
    fig, ax = subplots()
    assert draw_reference(ax, 0.4, "unpruned", spread=0.05) is fig
    line = ax.lines[0]
    assert list(line.get_ydata()) == [0.4, 0.4] and line.get_label() == "unpruned 0.400 ± 0.050"
    band = ax.patches[0].get_extents().transformed(ax.transData.inverted())
    assert (band.y0, band.y1) == pytest.approx((0.35, 0.45))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["unpruned 0.400 ± 0.050"]
    fig, ax = subplots()
    draw_reference(ax, 0.4, "base", legend=False)
    assert not ax.patches and ax.get_legend() is None
    with pytest.raises(ValueError):
        draw_reference(ax, float("nan"), "x")
    with pytest.raises(ValueError):
        draw_reference(ax, 0.4, "x", spread=-0.1)


def test_matrix_is_drawn_on_a_symmetric_scale_centred_on_zero() -> None:
    m = torch.tensor([[1.0, -3.0], [0.5, 2.0], [0.0, 0.0]])
    image = plot_matrix(m, xlabel="k", ylabel="filter").axes[0].images[0]
    np.testing.assert_array_equal(image.get_array(), m.numpy())
    assert image.get_clim() == (-3.0, 3.0)
    assert plot_matrix(m, vmax=10.0, colorbar=False).axes[0].images[0].get_clim() == (-10.0, 10.0)
    assert plot_matrix(np.zeros((2, 2))).axes[0].images[0].get_clim() == (-1.0, 1.0)
    with pytest.raises(ValueError):
        plot_matrix(np.zeros(3))
    with pytest.raises(ValueError):
        plot_matrix(np.array([[np.inf]]))


def test_sorted_scores_are_normalised_ranked_and_cut_at_one_minus_p() -> None:
    fig = plot_sorted_scores({"a": [1.0, 4.0, 2.0, 0.0], "b": [5, 5, 5, 5]}, cuts=[0.25, 0.5])
    ax = fig.axes[0]
    a, b = ax.lines[:2]
    assert list(a.get_xdata()) == [0.125, 0.375, 0.625, 0.875]
    assert list(a.get_ydata()) == [1.0, 0.5, 0.25, 0.0] and list(b.get_ydata()) == [1.0] * 4
    assert [list(v.get_xdata()) for v in ax.lines[2:]] == [[0.75, 0.75], [0.5, 0.5]]
    assert math.isnan(plot_sorted_scores({"a": [1.0, 0.0]}, log=True).axes[0].lines[0].get_ydata()[1])
    for bad in ({}, {"a": [1.0, -1.0]}):
        with pytest.raises(ValueError):
            plot_sorted_scores(bad)
    with pytest.raises(ValueError):
        plot_sorted_scores({"a": [1.0]}, cuts=[1.0])


def test_score_agreement_colours_filters_by_which_criterion_keeps_them() -> None:
    x, y = [1, 2, 3, 4, 5], [2, 1, 5, 3, 4]
    keep_x, keep_y = [True, True, False, False, False], [True, False, True, False, False]
    ax = plot_score_agreement(x, y, keep_x, keep_y, xlabel="op", ylabel="l1").axes[0]
    both, only_x, only_y, neither = (c.get_offsets() for c in ax.collections)
    np.testing.assert_array_equal(both, [[1, 2]])
    np.testing.assert_array_equal(only_x, [[2, 1]])
    np.testing.assert_array_equal(only_y, [[3, 5]])
    np.testing.assert_array_equal(neither, [[4, 3], [5, 4]])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "kept by both (1)",
        "kept by op only (1)",
        "kept by l1 only (1)",
        "removed by both (2)",
    ]
    with pytest.raises(ValueError):
        plot_score_agreement(x, y[:4], keep_x, keep_y)


def test_metric_by_ratio_draws_each_criterion_in_ratio_order_with_the_reference() -> None:
    results = {"operator_norm": {0.75: 0.1, 0.25: 0.3, 0.5: 0.2}, "random": {0.5: 0.15}}
    ax = plot_metric_by_ratio(results, reference=0.35, spread=0.02).axes[0]
    op, rnd, ref = ax.lines
    assert list(op.get_xdata()) == [0.25, 0.5, 0.75] and list(op.get_ydata()) == [0.3, 0.2, 0.1]
    assert list(rnd.get_xdata()) == [0.5] and list(ref.get_ydata()) == [0.35, 0.35]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["25%", "50%", "75%"]
    assert "unpruned 0.350 ± 0.020" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(plot_metric_by_ratio(results).axes[0].lines) == 2
    for bad in ({}, {"a": {}}, {"a": {1.0: 0.1}}):
        with pytest.raises(ValueError):
            plot_metric_by_ratio(bad)
