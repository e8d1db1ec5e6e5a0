"""The framewise tracks of a set of labelled clips, computed once and shared by every detector built on them.

A detection study (book, chapter 9 "Sound event detection") tries several detectors on the same
clips: one threshold or one per class, framewise tracks or clip tags spread over the clip, with
thresholds chosen on validation clips and scores taken on evaluation clips. The network is the
expensive part, so :func:`framewise_tracks` runs it once per clip (in batches of clips of equal
length); everything after that, in :class:`ClipTracks`, is filtering, thresholding and scoring
with :mod:`panns_lite.sed`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from panns_lite.audio import load_audio
from panns_lite.audioset import ClassLabels
from panns_lite.events import Event
from panns_lite.models import Cnn14
from panns_lite.sed import (
    detect_events,
    event_based_scores,
    median_filter,
    segment_based_scores,
    tune_thresholds,
)

Tracks = Mapping[str, np.ndarray]
"""(frames, classes) probabilities per clip (file stem)."""


@dataclass(frozen=True)
class ClipTracks:
    """The network's outputs for a set of clips, keyed by file stem.

    ``framewise`` holds the unfiltered (frames, classes) probabilities of the scored ``classes``
    only (the frames that cover the clip, ``frame_hop`` s apart), which are the model's outputs
    ``columns``; ``clipwise`` the probabilities of
    every class of the model; ``durations`` each clip's length in seconds (a detected event ends
    there at the latest, and segment-based scores count its segments).
    """

    classes: ClassLabels
    columns: tuple[int, ...]
    frame_hop: float
    framewise: dict[str, np.ndarray]
    clipwise: dict[str, np.ndarray]
    durations: dict[str, float]

    def clip_level(self) -> dict[str, np.ndarray]:
        """Clip tags as tracks: each scored class's clipwise probability at every frame. A detector
        built on them has no timing at all: the baseline that framewise events must beat to show
        that they place sounds in time."""
        columns = list(self.columns)
        return {
            n: np.repeat(self.clipwise[n][None, columns], len(track), axis=0)
            for n, track in self.framewise.items()
        }

    def smoothed(self, median_seconds: float) -> dict[str, np.ndarray]:
        """Every framewise track median-filtered over ``median_seconds`` (rounded to an odd number
        of frames, as :class:`panns_lite.sed.EventDetector` rounds it): filter once, threshold often."""
        window = max(1, round(median_seconds / self.frame_hop))
        window += window % 2 == 0
        return {n: median_filter(track, window) for n, track in self.framewise.items()}

    def detect(
        self, tracks: Tracks, names: Iterable[str], threshold: float | np.ndarray
    ) -> dict[str, list[Event]]:
        """Events of the clips ``names`` from already filtered ``tracks`` (one threshold or one per
        class); an event's ``peak`` is then the highest filtered probability in it."""
        return {
            n: detect_events(
                tracks[n],
                self.frame_hop,
                self.classes,
                threshold,
                median_seconds=0,
                duration=self.durations[n],
            )
            for n in names
        }

    def tune(
        self, tracks: Tracks, reference: Mapping[str, Sequence[Event]], candidates: Sequence[float]
    ) -> np.ndarray:
        """Per-class thresholds chosen on the clips of ``reference`` (:func:`panns_lite.sed.tune_thresholds`):
        tune on validation clips, then score on others."""
        return tune_thresholds(
            {n: tracks[n] for n in reference},
            reference,
            self.classes,
            self.frame_hop,
            candidates,
            median_seconds=0,
            durations={n: self.durations[n] for n in reference},
        )

    def scores(
        self, reference: Mapping[str, Sequence[Event]], detected: Mapping[str, Sequence[Event]]
    ) -> dict:
        """The DCASE measures of ``detected`` against ``reference`` over the clips of ``reference``:
        events detected, event-based F1, segment-based F1 and error rate."""
        events = event_based_scores(reference, detected)
        segments = segment_based_scores(
            reference, detected, durations={n: self.durations[n] for n in reference}
        )
        return {
            "detected events": events.estimated_events,
            "event-based F1": events.f1,
            "segment-based F1": segments.f1,
            "segment-based ER": segments.error_rate,
        }


def framewise_tracks(
    model: Cnn14,
    files: Sequence[str | Path],
    classes: ClassLabels,
    labels: ClassLabels,
    batch_size: int = 16,
) -> ClipTracks:
    """Run ``model`` (in eval mode: dropout off) once over each of ``files``, keeping the framewise
    tracks of ``classes``.

    ``labels`` is the model's vocabulary, which says the column of each scored class. Clips are
    batched only with neighbours of the same length, since zero padding would change a shorter
    clip's outputs; the MiniSet's 10 s clips all batch together.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    if model.training:
        raise ValueError("the model is in training mode (dropout on): call model.eval() first")
    config = model.logmel.config
    columns = tuple(labels.index(m) for m in classes.mids)
    tracks = ClipTracks(classes, columns, config.hop_length / config.sample_rate, {}, {}, {})
    batch: list[tuple[str, np.ndarray]] = []
    for path in files:
        wave = load_audio(path, config.sample_rate)
        if batch and (len(batch) == batch_size or len(wave) != len(batch[0][1])):
            _run_batch(model, batch, tracks)
            batch = []
        batch.append((Path(path).stem, wave))
    if batch:
        _run_batch(model, batch, tracks)
    return tracks


def _run_batch(model: Cnn14, batch: list[tuple[str, np.ndarray]], tracks: ClipTracks) -> None:
    config, columns = model.logmel.config, list(tracks.columns)
    with torch.inference_mode():
        out = model(torch.from_numpy(np.stack([wave for _, wave in batch])), framewise=True)
    for j, (name, wave) in enumerate(batch):
        frames = -(-len(wave) // config.hop_length)  # the frames whose centre lies inside the clip
        tracks.framewise[name] = out["framewise_output"][j, :frames][:, columns].numpy()
        tracks.clipwise[name] = out["clipwise_output"][j].numpy()
        tracks.durations[name] = len(wave) / config.sample_rate
