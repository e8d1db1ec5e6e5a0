"""Sound event detection (panns_lite.sed): detection and DCASE metrics on hand-made events.

Every expected score below is derived by hand in the comments, from the definitions in the
module docstring (Mesaros et al. 2016 / sed_eval), not from running the code.
"""

import math

import numpy as np
import pytest

from panns_lite.audioset import ClassLabels
from panns_lite.events import Event
from panns_lite.sed import (
    EventDetector,
    class_segment_counts,
    class_thresholds,
    counts_per_file,
    detect_events,
    event_based_scores,
    median_filter,
    parse_thresholds,
    scored_classes,
    segment_based_scores,
    tune_thresholds,
)

LABELS = ClassLabels(("/m/a", "/m/b", "/m/c"), ("Alpha", "Beta, with comma", "Gamma"))


def ev(onset: float, offset: float, mid: str) -> Event:
    return Event(onset, offset, LABELS.name_of(mid), mid)


# ------------------------------------------------------------------------------ detection
PROBS = np.array(
    [
        # Alpha: two bursts with a one-frame dip
        [0.1, 0.6, 0.7, 0.2, 0.8, 0.9, 0.9, 0.1, 0.1, 0.1],
        # Beta: 0.9 everywhere
        [0.9] * 10,
        # Gamma: never above 0.4
        [0.4, 0.3, 0.2, 0.1, 0.0, 0.1, 0.2, 0.3, 0.4, 0.4],
    ]
).T  # (10 frames, 3 classes), hop 0.1 s


def test_runs_of_active_frames_become_events():
    events = detect_events(PROBS, 0.1, LABELS, threshold=0.5, median_seconds=0)
    # Alpha frames 1-2 and 4-6 are ≥ 0.5: onset = first frame's time, offset = time after the last frame.
    assert [(e.mid, e.onset, e.offset, e.peak) for e in events] == [
        ("/m/b", 0.0, 1.0, 0.9),
        ("/m/a", pytest.approx(0.1), pytest.approx(0.3), 0.7),
        ("/m/a", pytest.approx(0.4), pytest.approx(0.7), 0.9),
    ]
    assert events[0].label == "Beta, with comma"


def test_median_filter_bridges_the_dip_and_peak_uses_raw_probabilities():
    # 3-frame median of Alpha (edges repeated): .1 .6 .6 .7 .8 .9 .9 .1 .1 .1 → frames 1-6 active.
    np.testing.assert_allclose(
        median_filter(PROBS, 3)[:, 0], [0.1, 0.6, 0.6, 0.7, 0.8, 0.9, 0.9, 0.1, 0.1, 0.1]
    )
    events = detect_events(PROBS, 0.1, LABELS, threshold=0.5, median_seconds=0.3)
    alpha = [e for e in events if e.mid == "/m/a"]
    assert [(e.onset, e.offset, e.peak) for e in alpha] == [(pytest.approx(0.1), pytest.approx(0.7), 0.9)]
    assert median_filter(PROBS, 1) is PROBS
    with pytest.raises(ValueError, match="odd"):
        median_filter(PROBS, 4)


def test_per_class_thresholds_and_duration_cap():
    thresholds = class_thresholds(LABELS, 0.5, {"Beta, with comma": 0.95, "/m/c": 0.35})
    np.testing.assert_allclose(thresholds, [0.5, 0.95, 0.35])
    events = detect_events(PROBS, 0.1, LABELS, thresholds, median_seconds=0, duration=0.95)
    # Beta (0.9 < 0.95) is gone; Gamma ≥ 0.35 at frames 0 and 8-9, the last capped at 0.95 s.
    assert [(e.mid, round(e.onset, 6), round(e.offset, 6)) for e in events] == [
        ("/m/c", 0.0, 0.1),
        ("/m/a", 0.1, 0.3),
        ("/m/a", 0.4, 0.7),
        ("/m/c", 0.8, 0.95),
    ]
    with pytest.raises(ValueError, match="2 classes of probabilities but 3 labels"):
        detect_events(PROBS[:, :2], 0.1, LABELS)


def test_threshold_parsing_and_validation():
    np.testing.assert_allclose(
        parse_thresholds(["0.3", "Beta, with comma=0.7", "/m/a=0.2"], LABELS), [0.2, 0.7, 0.3]
    )
    np.testing.assert_allclose(parse_thresholds([], LABELS), [0.5, 0.5, 0.5])
    cases = (
        (["high"], "expected a number"),
        (["Alpha=x"], "expected a number"),
        (["Delta=0.3"], "'Delta': not a class"),
        (["1.5"], r"in \(0, 1\]"),
        (["Alpha=0"], r"in \(0, 1\]"),
    )
    for specs, message in cases:
        with pytest.raises(ValueError, match=message):
            parse_thresholds(specs, LABELS)


# ------------------------------------------------------------------------------ event-based metrics
REFERENCE = {"f": [ev(1.0, 3.0, "/m/a"), ev(5.0, 5.5, "/m/a"), ev(2.0, 4.0, "/m/b")]}
ESTIMATE = {
    "f": [
        ev(1.1, 2.9, "/m/a"),  # matches A[1, 3]: onset Δ 0.1 ≤ 0.2, offset Δ 0.1 ≤ max(0.2, 0.2·2)
        ev(5.3, 5.6, "/m/a"),  # onset Δ 0.3 > 0.2: no match
        ev(2.0, 3.0, "/m/b"),  # onset matches B[2, 4], offset Δ 1.0 > max(0.2, 0.4): no match with offsets
        ev(7.0, 8.0, "/m/c"),  # no Gamma in the reference
    ]
}


def test_event_based_with_offsets():
    scores = event_based_scores(REFERENCE, ESTIMATE)
    # TP 1 of 3 reference and 4 estimated events: P 1/4, R 1/3, F1 2·1/(3+4) = 2/7.
    assert (scores.true_positives, scores.reference_events, scores.estimated_events) == (1, 3, 4)
    assert (scores.precision, scores.recall, scores.f1) == pytest.approx((1 / 4, 1 / 3, 2 / 7))
    # Alpha 2·1/(2+2) = 0.5, Beta 0, Gamma 0; macro = 1/6.
    assert scores.class_f1 == pytest.approx({"/m/a": 0.5, "/m/b": 0.0, "/m/c": 0.0})
    assert scores.macro_f1 == pytest.approx(1 / 6)


def test_event_based_onset_only():
    scores = event_based_scores(REFERENCE, ESTIMATE, evaluate_offset=False)
    # Beta now matches too: TP 2, P 2/4, R 2/3, F1 4/7; Alpha 0.5, Beta 1, Gamma 0 → macro 0.5.
    assert (scores.precision, scores.recall, scores.f1) == pytest.approx((1 / 2, 2 / 3, 4 / 7))
    assert scores.class_f1 == pytest.approx({"/m/a": 0.5, "/m/b": 1.0, "/m/c": 0.0})
    assert scores.macro_f1 == pytest.approx(0.5)


def test_event_based_files_and_collars():
    # A file only in the reference adds missed events; one only in the estimate adds false alarms.
    scores = event_based_scores({**REFERENCE, "g": [ev(0, 1, "/m/a")]}, {**ESTIMATE, "h": [ev(0, 1, "/m/a")]})
    assert (scores.true_positives, scores.reference_events, scores.estimated_events) == (1, 4, 5)
    # Offset collar is 20 % of a 2 s reference (0.4 s): Δ 0.35 matches, Δ 0.45 does not.
    ref = {"f": [ev(0.0, 2.0, "/m/a")]}
    assert event_based_scores(ref, {"f": [ev(0.1, 2.35, "/m/a")]}).f1 == 1.0
    assert event_based_scores(ref, {"f": [ev(0.1, 2.45, "/m/a")]}).f1 == 0.0
    # Exactly at the collar despite float rounding (5.3 − 5.1 = 0.2000000000000002).
    assert event_based_scores({"f": [ev(5.1, 6.0, "/m/a")]}, {"f": [ev(5.3, 6.0, "/m/a")]}).f1 == 1.0
    empty = event_based_scores({}, {})
    assert math.isnan(empty.f1) and math.isnan(empty.macro_f1)


def test_event_matching_is_maximal_not_greedy():
    # e1 fits both references, e2 only r1. Greedy e1→r1 leaves e2 unmatched (TP 1); the maximum matching
    # pairs e1→r2 and e2→r1 (TP 2, F1 1).
    reference = {"f": [ev(0.0, 1.0, "/m/a"), ev(0.3, 1.3, "/m/a")]}
    estimate = {"f": [ev(0.15, 1.15, "/m/a"), ev(0.0, 1.0, "/m/a")]}
    scores = event_based_scores(reference, estimate)
    assert (scores.true_positives, scores.f1) == (2, 1.0)


# ------------------------------------------------------------------------------ segment-based metrics
def test_segment_based_by_hand():
    reference = {"f": [ev(0.5, 2.5, "/m/a"), ev(1.2, 1.8, "/m/b")]}
    estimate = {"f": [ev(0.0, 1.5, "/m/a"), ev(1.1, 1.4, "/m/c"), ev(3.2, 3.5, "/m/b")]}
    # 1 s segments over 4 s:  ref         est        TP FP FN  S D I
    #   [0,1)                 {A}         {A}        1  0  0   0 0 0
    #   [1,2)                 {A,B}       {A,C}      1  1  1   1 0 0
    #   [2,3)                 {A}         {}         0  0  1   0 1 0
    #   [3,4)                 {}          {B}        0  1  0   0 0 1
    # ER = (1+1+1)/4 = 0.75; P = 2/4, R = 2/4, F1 = 4/(4+2+2) = 0.5.
    for durations in (None, {"f": 4.0}):  # without durations the last offset (3.5 s) gives 4 segments
        scores = segment_based_scores(reference, estimate, durations=durations)
        assert (scores.true_positives, scores.false_positives, scores.false_negatives) == (2, 2, 2)
        assert (scores.substitutions, scores.deletions, scores.insertions) == (1, 1, 1)
        assert (scores.reference_active, scores.segments) == (4, 4)
        assert (scores.error_rate, scores.precision, scores.recall, scores.f1) == pytest.approx(
            (0.75, 0.5, 0.5, 0.5)
        )


def test_segment_boundaries_and_durations():
    # [0, 2.0) covers segments 0 and 1 only; a 3 s duration adds an empty third segment.
    same = {"f": [ev(0.0, 2.0, "/m/a")]}
    scores = segment_based_scores(same, same, durations={"f": 3.0})
    assert (scores.true_positives, scores.segments, scores.error_rate) == (2, 3, 0.0)
    # Half-second segments: an estimate offset by 0.5 s misses one segment and adds one.
    shifted = segment_based_scores(same, {"f": [ev(0.5, 2.5, "/m/a")]}, segment_seconds=0.5)
    # segments [0,.5) ref only (D), [.5,2) both ×3 (TP 3), [2,2.5) est only (I): ER (1+1)/4.
    assert (shifted.true_positives, shifted.deletions, shifted.insertions, shifted.error_rate) == (
        3,
        1,
        1,
        0.5,
    )
    # A duration shorter than the events cuts them off.
    cut = segment_based_scores(same, {"f": []}, durations={"f": 1.0})
    assert (cut.segments, cut.deletions, cut.error_rate) == (1, 1, 1.0)


def test_class_segment_counts_split_the_overall_counts_by_class():
    reference = {"f": [ev(0.5, 2.5, "/m/a"), ev(1.2, 1.8, "/m/b")]}
    estimate = {"f": [ev(0.0, 1.5, "/m/a"), ev(1.1, 1.4, "/m/c"), ev(3.2, 3.5, "/m/b")]}
    counts = class_segment_counts(reference, estimate, durations={"f": 4.0})
    assert counts == {"/m/a": (2, 0, 1), "/m/b": (0, 1, 1), "/m/c": (0, 1, 0)}  # the table above, by class
    overall = segment_based_scores(reference, estimate, durations={"f": 4.0})
    assert tuple(map(sum, zip(*counts.values()))) == (
        overall.true_positives,
        overall.false_positives,
        overall.false_negatives,
    )


def test_tuned_thresholds_maximise_each_class_f1_on_the_given_clips():
    hop = 0.5
    track = np.zeros((8, 3))
    track[0:4, 0] = 0.35  # class a: present in 0-2 s at a low probability
    track[4:8, 0] = 0.2  # … and a weaker false alarm at 2-4 s
    track[0:8, 1] = 0.6  # class b: fires everywhere, present only in 0-1 s
    reference = {"f": [ev(0.0, 2.0, "/m/a"), ev(0.0, 1.0, "/m/b")]}
    thresholds = tune_thresholds(
        {"f": track}, reference, LABELS, hop, [0.1, 0.3, 0.5, 0.7], median_seconds=0, durations={"f": 4.0}
    )
    # a: 0.3 keeps 0-2 s and drops the false alarm (F1 1); b: 0.1/0.3/0.5 tie at F1 0.4, 0.7 gives nothing;
    # ties go to the higher threshold; c has no reference event: the highest candidate
    assert thresholds.tolist() == [0.3, 0.5, 0.7]
    with pytest.raises(ValueError, match="at least one candidate"):
        tune_thresholds({"f": track}, reference, LABELS, hop, [])


def events_by_definition(probabilities, hop, labels, threshold, median_seconds, duration):
    """The oracle: the whole array median-filtered at once, then the runs of each class (module docstring)."""
    window = max(1, round(median_seconds / hop))
    active = median_filter(probabilities, window + (window % 2 == 0)) >= threshold
    end = len(probabilities) * hop if duration is None else duration
    events = []
    for c in range(probabilities.shape[1]):
        edges = np.diff(np.concatenate([[0], active[:, c].astype(np.int8), [0]]))
        for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            events.append(
                Event(
                    start * hop,
                    min(stop * hop, end),
                    labels.names[c],
                    labels.mids[c],
                    float(probabilities[start:stop, c].max()),
                )
            )
    return sorted(events)


@pytest.mark.parametrize("frames, median_seconds", [(400, 0.5), (400, 0.0), (7, 0.5), (1, 0.3), (250, 0.12)])
def test_streamed_blocks_give_exactly_the_events_of_the_whole_array(frames, median_seconds):
    rng = np.random.default_rng(frames)
    smooth = np.cumsum(rng.normal(0, 0.15, (frames, 3)), axis=0)  # slow walks: events spanning many blocks
    probabilities = (1 / (1 + np.exp(-smooth))).astype(np.float32)
    thresholds = np.array([0.5, 0.6, 0.4])
    expected = events_by_definition(
        probabilities, 0.01, LABELS, thresholds, median_seconds, frames * 0.01 - 0.004
    )
    assert expected or frames < 10, "the test needs events"
    assert (
        detect_events(probabilities, 0.01, LABELS, thresholds, median_seconds, frames * 0.01 - 0.004)
        == expected
    )
    for sizes in ([1] * frames, [3, 50, 1, 1000], list(rng.integers(1, 40, 30))):
        detector = EventDetector(0.01, LABELS, thresholds, median_seconds)
        cuts = np.cumsum([0, *sizes])
        for start, stop in zip(cuts[:-1], cuts[1:]):
            detector.push(probabilities[min(start, frames) : min(stop, frames)])
        detector.push(probabilities[frames:])  # empty blocks change nothing
        assert detector.finish(frames * 0.01 - 0.004) == expected


def test_counts_per_file_sum_to_the_set_counts():
    reference = {"f": [ev(1.0, 3.0, "/m/a")], "g": [ev(0.0, 1.0, "/m/b")]}
    estimated = {"f": [ev(1.1, 2.9, "/m/a"), ev(5.0, 6.0, "/m/b")]}  # nothing detected in g
    names, durations = ["f", "g"], {"f": 6.0, "g": 2.0}
    # events: f has one match and one false alarm, g one miss
    assert counts_per_file(reference, estimated, names, "event").tolist() == [[1, 1, 0], [0, 0, 1]]
    segments = counts_per_file(reference, estimated, names, "segment", durations)
    whole = segment_based_scores(reference, estimated, durations=durations)
    assert segments.sum(0).tolist() == [whole.true_positives, whole.false_positives, whole.false_negatives]
    with pytest.raises(ValueError, match="'segment' or 'event'"):
        counts_per_file(reference, estimated, names, "frame")


def test_scored_classes_follow_the_vocabulary_and_skip_unknown_mids():
    reference = {"x": [ev(0, 1, "/m/c"), Event(0, 1, "Other", "/m/zz")], "y": [ev(2, 3, "/m/a")], "z": []}
    assert scored_classes(LABELS, reference) == ClassLabels(("/m/a", "/m/c"), ("Alpha", "Gamma"))
    assert len(scored_classes(LABELS, {"z": []})) == 0
