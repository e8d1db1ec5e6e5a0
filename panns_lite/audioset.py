"""AudioSet metadata: the 527 classes, the ontology, and the official segment CSV format.

Facts implemented (reference §5): ``class_labels_indices.csv`` has the header
``index,mid,display_name`` and 527 rows; segment CSVs (``balanced_train_segments.csv``,
``eval_segments.csv`` …) start with three ``#`` comment lines, then one row per segment,
``YTID, start_seconds, end_seconds, "mid1,mid2,..."`` (fields separated by comma+space, labels
quoted and comma-separated). Audio for a segment is stored as ``Y{YTID}.wav``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from panns_lite.paths import CLASS_LABELS_CSV, ONTOLOGY_JSON

NUM_CLASSES = 527


@dataclass(frozen=True)
class ClassLabels:
    """The AudioSet label vocabulary: index <-> mid <-> display name."""

    mids: tuple[str, ...]
    names: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _by_name: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.mids) != len(self.names):
            raise ValueError("mids and names must have the same length")
        object.__setattr__(self, "_index", {m: i for i, m in enumerate(self.mids)})
        object.__setattr__(self, "_by_name", {n: i for i, n in enumerate(self.names)})
        if len(self._index) != len(self.mids):
            raise ValueError("duplicate mids in the class list")

    def __len__(self) -> int:
        return len(self.mids)

    def __contains__(self, mid: object) -> bool:
        return mid in self._index

    def index(self, mid: str) -> int:
        """Class index of a mid (KeyError naming the mid if it is not one of the classes)."""
        try:
            return self._index[mid]
        except KeyError:
            raise KeyError(f"unknown AudioSet label id {mid!r}") from None

    def index_of_name(self, name: str) -> int:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown AudioSet class name {name!r}") from None

    def mid_of_name(self, name: str) -> str:
        return self.mids[self.index_of_name(name)]

    def name_of(self, mid: str) -> str:
        return self.names[self.index(mid)]

    def multi_hot(self, mids: Iterable[str]) -> np.ndarray:
        """A bool target vector of length ``len(self)`` with the given mids set."""
        target = np.zeros(len(self), dtype=bool)
        for mid in mids:
            target[self.index(mid)] = True
        return target


def read_class_labels(path: str | Path) -> ClassLabels:
    """Read a ``class_labels_indices.csv`` (checks that indices run 0..N-1 in order)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or set(rows[0]) != {"index", "mid", "display_name"}:
        raise ValueError(f"{path}: expected the header 'index,mid,display_name'")
    for expected, row in enumerate(rows):
        if int(row["index"]) != expected:
            raise ValueError(f"{path}: row {expected + 2} has index {row['index']}, expected {expected}")
    return ClassLabels(tuple(r["mid"] for r in rows), tuple(r["display_name"] for r in rows))


@cache
def load_class_labels() -> ClassLabels:
    """The shipped 527-class vocabulary (data/audioset/class_labels_indices.csv)."""
    return read_class_labels(CLASS_LABELS_CSV)


@dataclass(frozen=True)
class OntologyNode:
    mid: str
    name: str
    child_ids: tuple[str, ...]
    abstract: bool


class Ontology:
    """The AudioSet ontology graph (632 nodes). A node may have several parents."""

    def __init__(self, nodes: Sequence[OntologyNode]) -> None:
        self.nodes: dict[str, OntologyNode] = {n.mid: n for n in nodes}
        self._parents: dict[str, list[str]] = {mid: [] for mid in self.nodes}
        for node in nodes:
            for child in node.child_ids:
                if child not in self.nodes:
                    raise ValueError(f"ontology node {node.mid} lists unknown child {child}")
                self._parents[child].append(node.mid)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, mid: object) -> bool:
        return mid in self.nodes

    def _node(self, mid: str) -> OntologyNode:
        try:
            return self.nodes[mid]
        except KeyError:
            raise KeyError(f"{mid!r} is not in the AudioSet ontology") from None

    def children(self, mid: str) -> tuple[str, ...]:
        return self._node(mid).child_ids

    def parents(self, mid: str) -> tuple[str, ...]:
        self._node(mid)
        return tuple(self._parents[mid])

    def ancestors(self, mid: str) -> tuple[str, ...]:
        """All ancestors (parents, their parents …), nearest first, without duplicates."""
        seen: list[str] = []
        frontier = list(self.parents(mid))
        while frontier:
            nxt = []
            for p in frontier:
                if p not in seen:
                    seen.append(p)
                    nxt.extend(self._parents[p])
            frontier = nxt
        return tuple(seen)


def read_ontology(path: str | Path) -> Ontology:
    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    return Ontology(
        [
            OntologyNode(n["id"], n["name"], tuple(n["child_ids"]), "abstract" in n.get("restrictions", []))
            for n in raw
        ]
    )


@cache
def load_ontology() -> Ontology:
    """The shipped ontology (data/audioset/ontology.json)."""
    return read_ontology(ONTOLOGY_JSON)


# --------------------------------------------------------------------------- segment CSVs
@dataclass(frozen=True)
class Segment:
    """One row of an AudioSet segment CSV; ``line`` is its 1-based line number (0 if built in code)."""

    ytid: str
    start: float
    end: float
    labels: tuple[str, ...]
    line: int = field(default=0, compare=False)

    @property
    def audio_name(self) -> str:
        """File stem used by the AudioSet downloads and PANNs: ``Y`` + YTID."""
        return f"Y{self.ytid}"


_ROW = re.compile(r'^\s*([^,\s]+)\s*,\s*([0-9.]+)\s*,\s*([0-9.]+)\s*,\s*"([^"]*)"\s*$')


def read_segments(path: str | Path) -> list[Segment]:
    """Read an AudioSet segment CSV (the three ``#`` header lines and blank lines are skipped).

    A malformed row raises ``ValueError`` naming the file and line; so does a YTID listed twice
    (naming both lines): files are named after the YTID (``Y<YTID>.wav``), so the two rows would
    pack the same audio twice, once under each row's labels, and both rows would count in
    evaluation. AudioSet's own CSVs list each segment once.
    """
    segments, first_line = [], {}
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            m = _ROW.match(line)
            if not m:
                raise ValueError(f"{path}:{number}: not an AudioSet segment row: {line[:80]!r}")
            ytid, start, end, labels = m.groups()
            mids = tuple(x.strip() for x in labels.split(",") if x.strip())
            if not mids:
                raise ValueError(f"{path}:{number}: segment {ytid} has no labels")
            if ytid in first_line:
                raise ValueError(
                    f"{path}:{number}: segment {ytid} is listed twice (lines {first_line[ytid]} and "
                    f"{number}); remove one of the rows"
                )
            first_line[ytid] = number
            segments.append(Segment(ytid, float(start), float(end), mids, number))
    return segments


def format_segment(segment: Segment) -> str:
    """One CSV row exactly as Google writes it: ``YTID, 30.000, 40.000, "mid,mid"``."""
    return f'{segment.ytid}, {segment.start:.3f}, {segment.end:.3f}, "{",".join(segment.labels)}"'


def write_segments(path: str | Path, segments: Sequence[Segment], created: str) -> None:
    """Write segments in the official layout, with the three header lines Google uses.

    ``created`` fills the first line (``# Segments csv created <created>``); pass a fixed string
    (not a clock) where the output must be reproducible.
    """
    unique = {m for s in segments for m in s.labels}
    header = [
        f"# Segments csv created {created}",
        f"# num_ytids={len({s.ytid for s in segments})}, num_segs={len(segments)}, "
        f"num_unique_labels={len(unique)}, num_positive_labels={sum(len(s.labels) for s in segments)}",
        "# YTID, start_seconds, end_seconds, positive_labels",
    ]
    text = "\n".join(header + [format_segment(s) for s in segments]) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def segment_targets(segments: Sequence[Segment], labels: ClassLabels, source: str = "") -> np.ndarray:
    """(N, classes) bool targets; an unknown label id raises ``ValueError`` naming its line."""
    targets = np.zeros((len(segments), len(labels)), dtype=bool)
    for row, seg in enumerate(segments):
        for mid in seg.labels:
            if mid not in labels:
                where = f"{source}:{seg.line}" if source else f"line {seg.line}"
                raise ValueError(f"{where}: unknown label id {mid!r} for segment {seg.ytid}")
            targets[row, labels.index(mid)] = True
    return targets
