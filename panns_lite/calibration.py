"""Per-class decision thresholds chosen on validation clips, saved as JSON, applied by ``tag``.

A tagger gives probabilities; using it means deciding where "present" begins. PANNs' users get one
threshold for every class (0.5 in most tools) and keep asking how to choose one per class. This
module chooses, for each class, the candidate threshold with the best F1 on labelled clips that are
*not* the ones the thresholds will be judged on (the MiniSet's validation split):

* **clip thresholds** decide which classes are present in a clip, from its clipwise probabilities;
  F1 over the calibration clips (:func:`f1_thresholds`);
* **event thresholds** decide where events are, from the frame-wise probabilities after the median
  filter; segment-based F1 over the clips with strong labels (:func:`panns_lite.sed.tune_thresholds`).

In both, ties go to the higher threshold (fewer false alarms) and a class without a positive in the
calibration clips, whose F1 is undefined whatever the threshold, gets the highest candidate. Few
positives make a per-class choice noisy: chapter 9 scores per-class thresholds against one threshold
on held-out clips, and that comparison, not this module, says whether calibrating helps.

``python -m panns_lite calibrate`` writes a :class:`Thresholds` file; ``tag --thresholds FILE`` lists
the classes present in each file and, with ``--sed``, detects events with the event thresholds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from panns_lite.audioset import ClassLabels
from panns_lite.checkpoints import atomic_write
from panns_lite.datasets import ClipDataset
from panns_lite.events import Event
from panns_lite.inference import Tagger
from panns_lite.sed import scored_classes, tune_thresholds

DEFAULT_CANDIDATES = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
FORMAT = "panns-lite thresholds 1"


@dataclass(frozen=True)
class Thresholds:
    """Per-class thresholds for one label set, and what they were chosen on."""

    mids: tuple[str, ...]
    clip: np.ndarray
    """(classes,) thresholds on clipwise probabilities."""
    event: np.ndarray | None
    """(classes,) thresholds on median-filtered frame-wise probabilities; None without strong labels."""
    median_seconds: float
    candidates: tuple[float, ...]
    chosen_on: dict

    def save(self, path: str | os.PathLike[str]) -> Path:
        record = {
            "format": FORMAT,
            "candidates": list(self.candidates),
            "median_seconds": self.median_seconds,
            "chosen_on": self.chosen_on,
            "classes": [
                {
                    "mid": mid,
                    "clip": float(self.clip[k]),
                    **({} if self.event is None else {"event": float(self.event[k])}),
                }
                for k, mid in enumerate(self.mids)
            ],
        }
        atomic_write(Path(path), lambda f: f.write(json.dumps(record, indent=1).encode() + b"\n"))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], labels: ClassLabels) -> Thresholds:
        """Read a file :meth:`save` wrote, for a model with ``labels``; ``ValueError`` naming the file
        when it is not such a file or was calibrated for other classes."""
        try:
            record = json.loads(Path(path).read_text())
            if record.get("format") != FORMAT:
                raise ValueError
            classes = record["classes"]
            mids = tuple(str(c["mid"]) for c in classes)
            clip = np.array([float(c["clip"]) for c in classes])
            has_event = ["event" in c for c in classes]
            event = np.array([float(c["event"]) for c in classes]) if all(has_event) else None
            median_seconds = float(record["median_seconds"])
            candidates = tuple(float(t) for t in record["candidates"])
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: no such thresholds file; write one with `python -m panns_lite calibrate`"
            ) from None
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            raise ValueError(
                f"{path}: not a thresholds file written by `python -m panns_lite calibrate`"
            ) from None
        if mids != tuple(labels.mids):
            raise ValueError(
                f"{path}: thresholds for {len(mids)} other classes than this model's {len(labels)}; "
                "calibrate this model"
            )
        values = np.concatenate([clip, event if event is not None else []])
        if not np.all((values > 0) & (values <= 1)):
            raise ValueError(f"{path}: thresholds must be in (0, 1]")
        return cls(mids, clip, event, median_seconds, candidates, record.get("chosen_on", {}))

    def present(self, clipwise: np.ndarray) -> np.ndarray:
        """Indices of the classes at or above their clip threshold, most probable first."""
        above = np.flatnonzero(clipwise >= self.clip)
        return above[np.argsort(-clipwise[above], kind="stable")]


def f1_thresholds(targets: np.ndarray, outputs: np.ndarray, candidates: Sequence[float]) -> np.ndarray:
    """(classes,) per class, the candidate with the highest F1 over the clips (``targets`` (clips,
    classes) bool, ``outputs`` the clipwise probabilities); ties → higher; no positive → highest."""
    targets, outputs = np.asarray(targets, dtype=bool), np.asarray(outputs)
    candidates = _checked_candidates(candidates)
    if targets.shape != outputs.shape or targets.ndim != 2:
        raise ValueError(
            f"targets and outputs must be (clips, classes) of one shape, got {targets.shape}, {outputs.shape}"
        )
    decided = outputs[None] >= np.asarray(candidates)[:, None, None]  # (candidates, clips, classes)
    tp = (decided & targets).sum(1)
    fp = (decided & ~targets).sum(1)
    fn = targets.sum(0) - tp
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    best = len(candidates) - 1 - np.argmax(f1[::-1], axis=0)  # last maximum: the higher threshold
    best[targets.sum(0) == 0] = len(candidates) - 1
    return np.asarray(candidates)[best]


def clip_f1(targets: np.ndarray, outputs: np.ndarray, thresholds: float | np.ndarray) -> float:
    """Micro F1 of the clip decisions ``outputs ≥ thresholds`` over every (clip, class) pair."""
    targets = np.asarray(targets, dtype=bool)
    decided = np.asarray(outputs) >= thresholds
    tp = (decided & targets).sum()
    return float(2 * tp / max(decided.sum() + targets.sum(), 1))


def decision_counts(targets: np.ndarray, outputs: np.ndarray, thresholds: float | np.ndarray) -> np.ndarray:
    """(clips, 3) TP, FP, FN of the clip decisions ``outputs ≥ thresholds`` of each clip over its
    classes: what :func:`panns_lite.evaluation.paired_f1_bootstrap` resamples."""
    targets = np.asarray(targets, dtype=bool)
    decided = np.asarray(outputs) >= thresholds
    if decided.shape != targets.shape or targets.ndim != 2:
        raise ValueError(
            f"targets and outputs must be (clips, classes) of one shape, got {targets.shape}, {decided.shape}"
        )
    return np.stack(
        [(decided & targets).sum(1), (decided & ~targets).sum(1), (~decided & targets).sum(1)], axis=1
    )


def calibrate(
    tagger: Tagger,
    clips: ClipDataset,
    strong: Mapping[str, Sequence[Event]] | None = None,
    candidates: Sequence[float] = DEFAULT_CANDIDATES,
    median_seconds: float = 0.5,
) -> Thresholds:
    """Thresholds for ``tagger`` chosen on ``clips`` (waveforms and clip labels, e.g. a packed validation
    split); event thresholds too when ``strong`` maps clips (by file stem, as
    :func:`~panns_lite.events.read_strong_labels` keys them) to their reference events."""
    candidates = _checked_candidates(candidates)
    if clips.targets.shape[1] != len(tagger.labels):
        raise ValueError(
            f"{clips.source}: {clips.targets.shape[1]} classes, the model has {len(tagger.labels)}"
        )
    annotated = (
        set() if strong is None else {i for i, name in enumerate(clips.names) if Path(name).stem in strong}
    )
    if strong is not None and not annotated:
        raise ValueError(
            f"none of the {len(clips)} calibration clips has strong labels (keys are file stems, "
            "e.g. Y<YTID>); give the strong labels of these clips"
        )
    outputs, tracks, durations = _analyze_clips(tagger, clips, annotated)
    clip = f1_thresholds(clips.targets, outputs, candidates)
    event = None
    if strong is not None:
        event = _event_thresholds(tagger, tracks, durations, strong, candidates, median_seconds)
    chosen_on = {"clips": len(clips), "clips_with_strong_labels": len(annotated), "source": clips.source}
    return Thresholds(tuple(tagger.labels.mids), clip, event, median_seconds, candidates, chosen_on)


def _analyze_clips(
    tagger: Tagger, clips: ClipDataset, annotated: set[int]
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]:
    """The clipwise outputs of every clip, and the frame-wise probabilities and duration of each
    ``annotated`` clip by file stem: only clips with strong labels need the frame-wise track."""
    outputs, tracks, durations = [], {}, {}
    for i in range(len(clips)):
        waveform, _, name = clips[i]
        analysis = tagger.analyze(
            np.asarray(waveform, dtype=np.float32), clips.sample_rate, framewise=i in annotated
        )
        outputs.append(analysis.clipwise)
        if analysis.framewise is not None:
            tracks[Path(name).stem], durations[Path(name).stem] = (
                analysis.framewise.probabilities,
                analysis.duration,
            )
    return np.stack(outputs), tracks, durations


def _event_thresholds(
    tagger: Tagger,
    tracks: Mapping[str, np.ndarray],
    durations: Mapping[str, float],
    strong: Mapping[str, Sequence[Event]],
    candidates: tuple[float, ...],
    median_seconds: float,
) -> np.ndarray:
    """Per-class event thresholds tuned on the clips with strong labels (module docstring). Only the
    classes with a reference event are scored; the others get the highest candidate."""
    event = np.full(len(tagger.labels), candidates[-1])  # classes without a reference event: the highest
    reference = {name: list(strong[name]) for name in tracks}
    scored = scored_classes(tagger.labels, reference)
    present = [tagger.labels.index(m) for m in scored.mids]
    event[present] = tune_thresholds(
        {n: t[:, present] for n, t in tracks.items()},
        reference,
        scored,
        tagger.frame_hop,
        candidates,
        median_seconds,
        durations,
    )
    return event


def _checked_candidates(candidates: Sequence[float]) -> tuple[float, ...]:
    values = tuple(sorted(float(t) for t in candidates))
    if not values or not all(0 < t <= 1 for t in values):
        raise ValueError(f"candidate thresholds must be a non-empty list in (0, 1], got {list(candidates)}")
    return values
