"""Sound event detection: framewise probabilities → timed events, their CSV, and their evaluation.

PANNs taggers are trained with clip labels only, yet their decision-level head gives framewise
probabilities (reference §3, §11.2); users keep asking how to turn those into onset/offset
timestamps or a CSV (audioset_tagging_cnn #35, panns_inference #7). This module does that:

1. **median filter** each class's probability track over time (smooths flicker);
2. **threshold** it per class (one global value, or per-class values by mid or display name, or
   values chosen per class on held-out clips, :func:`tune_thresholds`);
3. each run of consecutive active frames is an :class:`Event`: onset = centre time of its first
   frame, offset = centre time of the frame after its last one (so a single frame is one hop long),
   capped at the input duration; ``peak`` = the highest unfiltered probability inside the run.

Evaluation follows the DCASE definitions (Mesaros, Heittola & Virtanen 2016, as in sed_eval;
implemented here from those definitions, no sed_eval dependency):

* **event-based**: an estimated and a reference event of the same class in the same file match when
  the onsets differ by ≤ ``t_collar`` (200 ms) and, unless ``evaluate_offset=False``, the offsets
  differ by ≤ max(``t_collar``, ``percentage_of_length`` × reference length) (20 %). Each event
  matches at most one other, chosen as a maximum matching (as sed_eval's default "optimal" matching).
  Precision = TP / estimated, recall = TP / reference, F1 = 2·TP / (estimated + reference)
  (micro, over all files and classes); class-wise F1 and their unweighted mean (macro) over the
  classes that occur in the reference or the estimate.
* **segment-based**: time is cut into 1 s segments per file; a class is active in a segment when an
  event of it overlaps the segment. Per segment, TP/FP/FN count classes; substitutions
  S = min(FN, FP), deletions D = max(0, FN − FP), insertions I = max(0, FP − FN); error rate
  ER = ΣS+ΣD+ΣI over Σ(reference active), F1 = 2ΣTP / (2ΣTP + ΣFP + ΣFN).

Times are compared with a 1 µs tolerance, so 5.3 − 5.1 counts as 0.2 s despite float rounding.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter as _ndimage_median

from panns_lite.audioset import ClassLabels
from panns_lite.events import Event

EPSILON = 1e-6
"""Seconds of slack in every time comparison (float rounding of onsets/offsets)."""


# ------------------------------------------------------------------------------ detection
def median_filter(probabilities: np.ndarray, window: int) -> np.ndarray:
    """Running median over time (axis 0) of a (frames, classes) array, ``window`` frames (odd).

    The ends repeat the edge frame (``mode='nearest'``), so a window never reads outside the input.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"median window must be an odd number of frames ≥ 1, got {window}")
    if window == 1:
        return probabilities
    return _ndimage_median(probabilities, size=(window, 1), mode="nearest")


def class_thresholds(
    labels: ClassLabels, default: float = 0.5, overrides: Mapping[str, float] | None = None
) -> np.ndarray:
    """(classes,) thresholds: ``default`` everywhere, ``overrides`` keyed by mid or display name."""
    thresholds = np.full(len(labels), _check_threshold(default), dtype=np.float64)
    for key, value in (overrides or {}).items():
        if key in labels:
            index = labels.index(key)
        else:
            try:
                index = labels.index_of_name(key)
            except KeyError:
                raise ValueError(f"threshold for {key!r}: not a class mid or display name") from None
        thresholds[index] = _check_threshold(value)
    return thresholds


def parse_thresholds(specs: Sequence[str], labels: ClassLabels) -> np.ndarray:
    """Thresholds from command-line strings: ``"0.3"`` sets the default, ``"Speech=0.6"`` or
    ``"/m/09x0r=0.6"`` one class (split at the last ``=``, since names may contain other signs)."""
    default, overrides = 0.5, {}
    for spec in specs:
        key, sep, value = spec.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"threshold {spec!r}: expected a number or CLASS=number") from None
        if sep:
            overrides[key] = number
        else:
            default = number
    return class_thresholds(labels, default, overrides)


def _check_threshold(value: float) -> float:
    if not 0.0 < value <= 1.0:
        raise ValueError(f"thresholds must be in (0, 1], got {value}")
    return float(value)


def detect_events(
    probabilities: np.ndarray,
    frame_hop: float,
    labels: ClassLabels,
    threshold: float | np.ndarray = 0.5,
    median_seconds: float = 0.5,
    duration: float | None = None,
) -> list[Event]:
    """Events from (frames, classes) probabilities whose frame ``k`` is centred at ``k·frame_hop`` s.

    ``threshold``: one value or a (classes,) array (:func:`class_thresholds`); a frame is active when
    its median-filtered probability is ≥ the threshold. ``median_seconds`` is rounded to an odd
    number of frames (0 or less disables the filter). Events are sorted by onset, then label.
    The whole array at once; :class:`EventDetector` gives the same events from a stream of blocks.
    """
    detector = EventDetector(frame_hop, labels, threshold, median_seconds)
    detector.push(probabilities)
    return detector.finish(duration)


class EventDetector:
    """:func:`detect_events` over a stream of (frames, classes) blocks, in memory independent of the length.

    A one-hour file has 360,000 frames of 527 classes (760 MB in float32); ``tag --sed`` pushes
    each chunk's frames as they are computed instead, and only the ``window − 1`` frames a median
    needs across a block boundary are kept. The result equals :func:`detect_events` on the whole
    array exactly: the filter reads the same frames (the start and end are padded with copies of
    the edge frames, which is what ``mode='nearest'`` does), and events open at the end of a block
    continue into the next.
    """

    def __init__(
        self,
        frame_hop: float,
        labels: ClassLabels,
        threshold: float | np.ndarray = 0.5,
        median_seconds: float = 0.5,
    ) -> None:
        self.frame_hop, self.labels = frame_hop, labels
        self.thresholds = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (len(labels),))
        window = max(1, round(median_seconds / frame_hop))
        self.window = window + (window % 2 == 0)
        self.half = self.window // 2
        self._buffer: np.ndarray | None = None  # raw frames: ``half`` of left context, then unfiltered ones
        self._next = 0  # index of the first frame not yet filtered
        self._onset = np.full(len(labels), -1, dtype=np.int64)  # frame where an open event began, or -1
        self._peak = np.zeros(len(labels))
        self._events: list[Event] = []

    def push(self, probabilities: np.ndarray) -> None:
        """Add the next (frames, classes) block."""
        if probabilities.ndim != 2 or probabilities.shape[1] != len(self.labels):
            raise ValueError(
                f"{probabilities.shape[-1]} classes of probabilities but {len(self.labels)} labels "
                f"(expected (frames, {len(self.labels)}), got {probabilities.shape})"
            )
        if not len(probabilities):
            return
        if self._buffer is None:  # the start: ``half`` copies of the first frame stand before it
            self._buffer = np.repeat(probabilities[:1], self.half, axis=0)
        self._buffer = np.concatenate([self._buffer, probabilities])
        self._filter(final=False)

    def finish(self, duration: float | None = None) -> list[Event]:
        """Filter the last frames, close the events still open; all events, sorted."""
        if self._buffer is not None:
            self._buffer = np.concatenate([self._buffer, np.repeat(self._buffer[-1:], self.half, axis=0)])
            self._filter(final=True)
        end_time = self._next * self.frame_hop if duration is None else duration
        for c in np.flatnonzero(self._onset >= 0):
            self._close(c, self._onset[c], self._next, self._peak[c], end_time)
        return sorted(self._events)

    def _filter(self, final: bool) -> None:
        buffer, half = self._buffer, self.half
        ready = len(buffer) - 2 * half  # frames whose whole window is in the buffer
        if ready <= 0:
            return
        filtered = median_filter(buffer, self.window)[half : half + ready] if self.window > 1 else buffer
        self._runs(buffer[half : half + ready], filtered)
        self._next += ready
        self._buffer = None if final else buffer[ready:]

    def _runs(self, raw: np.ndarray, filtered: np.ndarray) -> None:
        """Open and close events over ``raw``/``filtered`` rows, which start at frame ``self._next``."""
        active = filtered >= self.thresholds
        was_open = self._onset >= 0
        for c in np.flatnonzero(active.any(axis=0) | was_open):
            column = active[:, c]
            edges = np.diff(np.concatenate([[was_open[c]], column]).astype(np.int8))
            starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            if was_open[c]:
                if not len(stops):  # still open at the end of the block
                    self._peak[c] = max(self._peak[c], float(raw[:, c].max()))
                    continue
                peak = max(self._peak[c], float(raw[: stops[0], c].max())) if stops[0] else self._peak[c]
                self._close(c, self._onset[c], self._next + stops[0], peak)
                stops = stops[1:]
            for k, start in enumerate(starts):
                if k < len(stops):
                    self._close(
                        c, self._next + start, self._next + stops[k], float(raw[start : stops[k], c].max())
                    )
                else:
                    self._onset[c], self._peak[c] = self._next + start, float(raw[start:, c].max())

    def _close(self, c: int, start: int, stop: int, peak: float, end_time: float | None = None) -> None:
        offset = stop * self.frame_hop if end_time is None else min(stop * self.frame_hop, end_time)
        self._events.append(
            Event(
                onset=start * self.frame_hop,
                offset=offset,
                label=self.labels.names[c],
                mid=self.labels.mids[c],
                peak=peak,
            )
        )
        self._onset[c] = -1


# ------------------------------------------------------------------------------ evaluation
@dataclass(frozen=True)
class EventScores:
    """Event-based scores (micro over files and classes, plus class-wise F1 and its mean)."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    reference_events: int
    estimated_events: int
    class_f1: dict[str, float]
    """F1 per mid, for every class in the reference or the estimate."""
    macro_f1: float


@dataclass(frozen=True)
class SegmentScores:
    """Segment-based scores; counts are (segment, class) pairs."""

    precision: float
    recall: float
    f1: float
    error_rate: float
    substitutions: int
    deletions: int
    insertions: int
    true_positives: int
    false_positives: int
    false_negatives: int
    reference_active: int
    segments: int


def event_based_scores(
    reference: Mapping[str, Sequence[Event]],
    estimated: Mapping[str, Sequence[Event]],
    t_collar: float = 0.2,
    percentage_of_length: float = 0.2,
    evaluate_offset: bool = True,
) -> EventScores:
    """DCASE event-based precision, recall and F1 (see the module docstring); files missing on one
    side count as having no events there."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # mid -> [tp, n_ref, n_est]
    for name in reference.keys() | estimated.keys():
        by_class_ref, by_class_est = _by_class(reference.get(name, ())), _by_class(estimated.get(name, ()))
        for mid in by_class_ref.keys() | by_class_est.keys():
            refs, ests = by_class_ref.get(mid, []), by_class_est.get(mid, [])
            matches = [
                [
                    j
                    for j, r in enumerate(refs)
                    if _event_match(r, e, t_collar, percentage_of_length, evaluate_offset)
                ]
                for e in ests
            ]
            count = counts[mid]
            count[0] += _maximum_matching(matches, len(refs))
            count[1] += len(refs)
            count[2] += len(ests)
    tp, n_ref, n_est = (sum(c[i] for c in counts.values()) for i in range(3))
    class_f1 = {mid: _ratio(2 * c[0], c[1] + c[2]) for mid, c in sorted(counts.items())}
    return EventScores(
        precision=_ratio(tp, n_est),
        recall=_ratio(tp, n_ref),
        f1=_ratio(2 * tp, n_ref + n_est),
        true_positives=tp,
        reference_events=n_ref,
        estimated_events=n_est,
        class_f1=class_f1,
        macro_f1=float(np.mean(list(class_f1.values()))) if class_f1 else math.nan,
    )


def segment_based_scores(
    reference: Mapping[str, Sequence[Event]],
    estimated: Mapping[str, Sequence[Event]],
    segment_seconds: float = 1.0,
    durations: Mapping[str, float] | None = None,
) -> SegmentScores:
    """DCASE segment-based ER and F1 (see the module docstring).

    A file's length is ``durations[name]`` when given, else its last event offset (reference or
    estimate); it is covered by ceil(length / segment) segments, and events past it are cut off.
    """
    tp = fp = fn = subs = dels = ins = n_ref = n_segments = 0
    for name in reference.keys() | estimated.keys():
        refs, ests = reference.get(name, ()), estimated.get(name, ())
        if durations is not None and name in durations:
            length = durations[name]
        else:
            length = max((e.offset for e in (*refs, *ests)), default=0.0)
        segments = math.ceil(length / segment_seconds - EPSILON)
        ref_roll, est_roll = (
            _activity(refs, segments, segment_seconds),
            _activity(ests, segments, segment_seconds),
        )
        for k in range(segments):
            both = len(ref_roll[k] & est_roll[k])
            false_pos, false_neg = len(est_roll[k] - ref_roll[k]), len(ref_roll[k] - est_roll[k])
            tp, fp, fn = tp + both, fp + false_pos, fn + false_neg
            subs += min(false_neg, false_pos)
            dels += max(0, false_neg - false_pos)
            ins += max(0, false_pos - false_neg)
            n_ref += len(ref_roll[k])
        n_segments += segments
    return SegmentScores(
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        error_rate=_ratio(subs + dels + ins, n_ref),
        substitutions=subs,
        deletions=dels,
        insertions=ins,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        reference_active=n_ref,
        segments=n_segments,
    )


def class_segment_counts(
    reference: Mapping[str, Sequence[Event]],
    estimated: Mapping[str, Sequence[Event]],
    segment_seconds: float = 1.0,
    durations: Mapping[str, float] | None = None,
) -> dict[str, tuple[int, int, int]]:
    """Segment-based (true positives, false positives, false negatives) per class mid, counted as
    :func:`segment_based_scores` counts them overall: what a per-class choice needs."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for name in reference.keys() | estimated.keys():
        refs, ests = reference.get(name, ()), estimated.get(name, ())
        length = (
            durations[name]
            if durations is not None and name in durations
            else max((e.offset for e in (*refs, *ests)), default=0.0)
        )
        segments = math.ceil(length / segment_seconds - EPSILON)
        for r, e in zip(
            _activity(refs, segments, segment_seconds), _activity(ests, segments, segment_seconds)
        ):
            for mid in r & e:
                counts[mid][0] += 1
            for mid in e - r:
                counts[mid][1] += 1
            for mid in r - e:
                counts[mid][2] += 1
    return {mid: (tp, fp, fn) for mid, (tp, fp, fn) in counts.items()}


def counts_per_file(
    reference: Mapping[str, Sequence[Event]],
    estimated: Mapping[str, Sequence[Event]],
    names: Sequence[str],
    based: str,
    durations: Mapping[str, float] | None = None,
) -> np.ndarray:
    """(files, 3) TP, FP, FN of each file in ``names``, ``based`` on ``"segment"`` s (with
    ``durations``) or on ``"event"`` s, for a bootstrap over files
    (:func:`panns_lite.evaluation.paired_f1_bootstrap`): summing the rows gives the set's counts."""
    rows = []
    for n in names:
        ref, est = {n: reference.get(n, [])}, {n: estimated.get(n, [])}
        if based == "segment":
            s = segment_based_scores(ref, est, durations={n: durations[n]} if durations else None)
            rows.append((s.true_positives, s.false_positives, s.false_negatives))
        elif based == "event":
            e = event_based_scores(ref, est)
            tp = e.true_positives
            rows.append((tp, e.estimated_events - tp, e.reference_events - tp))
        else:
            raise ValueError(f"based must be 'segment' or 'event', got {based!r}")
    return np.array(rows, dtype=np.float64).reshape(len(rows), 3)


def scored_classes(labels: ClassLabels, reference: Mapping[str, Sequence[Event]]) -> ClassLabels:
    """The classes of ``labels`` that occur in ``reference``, in the vocabulary's order.

    A detection task is scored over its own class list (as a DCASE task is): the strong labels name
    each sound's own class, while a tagger's vocabulary also holds their ancestors, which no
    reference event would ever confirm. Mids outside ``labels`` are left out.
    """
    present = sorted(
        {labels.index(e.mid) for events in reference.values() for e in events if e.mid in labels}
    )
    return ClassLabels(tuple(labels.mids[k] for k in present), tuple(labels.names[k] for k in present))


def tune_thresholds(
    tracks: Mapping[str, np.ndarray],
    reference: Mapping[str, Sequence[Event]],
    labels: ClassLabels,
    frame_hop: float,
    candidates: Sequence[float],
    median_seconds: float = 0.5,
    durations: Mapping[str, float] | None = None,
    segment_seconds: float = 1.0,
) -> np.ndarray:
    """(classes,) thresholds, each the candidate that maximises the class's segment-based F1 on these clips.

    Choose them on clips that are *not* the ones scored afterwards (the MiniSet's validation split),
    so the thresholds are part of the system, not of its evaluation. ``tracks`` maps each file to its
    (frames, classes) probabilities over ``labels``. Ties go to the higher threshold (fewer
    insertions); a class with no reference event in these clips, whose F1 is undefined whatever the
    threshold, gets the highest candidate.
    """
    candidates = sorted(_check_threshold(float(t)) for t in candidates)
    if not candidates:
        raise ValueError("need at least one candidate threshold")
    best = np.full(len(labels), candidates[-1])
    best_f1 = np.full(len(labels), -1.0)
    for threshold in reversed(candidates):
        estimated = {
            name: detect_events(
                track,
                frame_hop,
                labels,
                threshold,
                median_seconds,
                duration=None if durations is None else durations.get(name),
            )
            for name, track in tracks.items()
        }
        counts = class_segment_counts(reference, estimated, segment_seconds, durations)
        for k, mid in enumerate(labels.mids):
            tp, fp, fn = counts.get(mid, (0, 0, 0))
            if tp + fn == 0:
                continue
            f1 = 2 * tp / (2 * tp + fp + fn)
            if f1 > best_f1[k]:
                best[k], best_f1[k] = threshold, f1
    return best


def _by_class(events: Iterable[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        out[e.mid].append(e)
    return out


def _event_match(ref: Event, est: Event, t_collar: float, percentage: float, evaluate_offset: bool) -> bool:
    if abs(est.onset - ref.onset) > t_collar + EPSILON:
        return False
    offset_collar = max(t_collar, percentage * (ref.offset - ref.onset))
    return not evaluate_offset or abs(est.offset - ref.offset) <= offset_collar + EPSILON


def _maximum_matching(candidates: Sequence[Sequence[int]], n_right: int) -> int:
    """Size of a maximum bipartite matching (Kuhn's augmenting paths); ``candidates[i]`` lists the
    right-hand nodes left node ``i`` may pair with."""
    owner = [-1] * n_right

    def augment(i: int, seen: list[bool]) -> bool:
        for j in candidates[i]:
            if not seen[j]:
                seen[j] = True
                if owner[j] < 0 or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, [False] * n_right) for i in range(len(candidates)))


def _activity(events: Iterable[Event], segments: int, segment_seconds: float) -> list[set[str]]:
    """Per segment, the mids of events overlapping it ([onset, offset) against [k·s, (k+1)·s))."""
    roll: list[set[str]] = [set() for _ in range(segments)]
    for e in events:
        first = math.floor(e.onset / segment_seconds + EPSILON)
        last = min(math.ceil(e.offset / segment_seconds - EPSILON), segments)
        for k in range(first, last):
            roll[k].add(e.mid)
    return roll


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan
