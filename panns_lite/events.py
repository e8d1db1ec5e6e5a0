"""Sound events and their two file formats, read and written in this one module.

An :class:`Event` is what sound event detection produces (:mod:`panns_lite.sed`), what a strong label
annotates and what the plots draw. Two tables carry events:

* the **events CSV** that ``python -m panns_lite tag --sed`` writes
  (``filename,onset,offset,label,mid,peak_probability``);
* AudioSet's **strong-label TSV** (``segment_id, start_time_seconds, end_time_seconds, label``,
  reference §5), which the MiniSet builder writes as ``strong_labels.tsv`` and chapter 9 reads as
  the reference events.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from panns_lite.audioset import ClassLabels, load_class_labels
from panns_lite.checkpoints import atomic_write

EVENT_COLUMNS = ("filename", "onset", "offset", "label", "mid", "peak_probability")
STRONG_COLUMNS = ("segment_id", "start_time_seconds", "end_time_seconds", "label")
"""AudioSet strong-label TSV header (:func:`write_strong_labels`, :func:`read_strong_labels`)."""


@dataclass(frozen=True, order=True)
class Event:
    """A sound event in one file: [onset, offset) seconds, class display name and mid.

    ``peak`` is the highest probability inside a detected event; ``None`` for reference annotations.
    """

    onset: float
    offset: float
    label: str
    mid: str
    peak: float | None = None


def write_events_csv(path: str | os.PathLike[str], events: Mapping[str, Sequence[Event]]) -> Path:
    """One row per event: ``filename,onset,offset,label,mid,peak_probability`` (times in s, 3 decimals).

    ``events`` maps a file name to its events; the write is atomic.
    """
    rows = [
        [name, f"{e.onset:.3f}", f"{e.offset:.3f}", e.label, e.mid, "" if e.peak is None else f"{e.peak:.4f}"]
        for name, file_events in events.items()
        for e in file_events
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([EVENT_COLUMNS, *rows])
    data = buffer.getvalue().encode("utf-8")
    return atomic_write(path, lambda handle: handle.write(data))


def read_events_csv(path: str | os.PathLike[str]) -> dict[str, list[Event]]:
    """Read a file written by :func:`write_events_csv` back into ``{filename: events}``."""
    out: dict[str, list[Event]] = defaultdict(list)
    for line, row in _read_table(path, EVENT_COLUMNS, delimiter=","):
        peak = row["peak_probability"]
        event = Event(
            _seconds(row["onset"], path, line),
            _seconds(row["offset"], path, line),
            row["label"],
            row["mid"],
            float(peak) if peak else None,
        )
        out[row["filename"]].append(event)
    return dict(out)


def read_strong_labels(
    path: str | os.PathLike[str], labels: ClassLabels | None = None
) -> dict[str, list[Event]]:
    """Reference events from an AudioSet strong-label TSV (the MiniSet's ``strong_labels.tsv``).

    Columns ``segment_id, start_time_seconds, end_time_seconds, label`` (label = mid); times are
    relative to the segment. A segment id is ``<YTID>_<start ms>`` and its audio file is
    ``Y<YTID>.wav`` (reference §5), so the result is keyed by that file stem, ``Y<YTID>``.
    """
    labels = labels or load_class_labels()
    out: dict[str, list[Event]] = defaultdict(list)
    for line, row in _read_table(path, STRONG_COLUMNS, delimiter="\t"):
        ytid, sep, _ = row["segment_id"].rpartition("_")
        if not sep or not ytid:
            raise ValueError(f"{path}:{line}: segment id {row['segment_id']!r} is not <YTID>_<start ms>")
        mid = row["label"]
        if mid not in labels:
            raise ValueError(f"{path}:{line}: unknown label id {mid!r}")
        onset, offset = (
            _seconds(row["start_time_seconds"], path, line),
            _seconds(row["end_time_seconds"], path, line),
        )
        if offset < onset:
            raise ValueError(f"{path}:{line}: event ends ({offset}) before it starts ({onset})")
        out[f"Y{ytid}"].append(Event(onset, offset, labels.name_of(mid), mid))
    return {name: sorted(events) for name, events in out.items()}


def write_strong_labels(path: str | os.PathLike[str], events: Mapping[str, Sequence[Event]]) -> Path:
    """Write reference events as an AudioSet strong-label TSV; the inverse of :func:`read_strong_labels`.

    ``events`` is keyed as :func:`read_strong_labels` returns it, by file stem ``Y<YTID>``; each
    clip is one segment starting at 0 ms (segment id ``<YTID>_0``), times have 3 decimals, rows
    keep the given order. The write is atomic.
    """
    rows = []
    for stem, clip_events in events.items():
        if not stem.startswith("Y") or len(stem) < 2:
            raise ValueError(f"{path}: clip {stem!r} is not a file stem Y<YTID>")
        rows += [[f"{stem[1:]}_0", f"{e.onset:.3f}", f"{e.offset:.3f}", e.mid] for e in clip_events]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t", lineterminator="\n").writerows([STRONG_COLUMNS, *rows])
    data = buffer.getvalue().encode("utf-8")
    return atomic_write(path, lambda handle: handle.write(data))


def _read_table(
    path: str | os.PathLike[str], columns: Sequence[str], delimiter: str
) -> Iterable[tuple[int, dict]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        if reader.fieldnames is None or list(reader.fieldnames) != list(columns):
            raise ValueError(
                f"{path}: expected the header {delimiter.join(columns)!r}, got {reader.fieldnames}"
            )
        for row in reader:
            if None in row or None in row.values():
                raise ValueError(f"{path}:{reader.line_num}: expected {len(columns)} fields")
            yield reader.line_num, row


def _seconds(text: str, path: str | os.PathLike[str], line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}:{line}: {text!r} is not a time in seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{path}:{line}: {text!r} is not a time in seconds")
    return value
