"""Pack an AudioSet segment CSV and its audio folder into one PANNs-layout HDF5 file.

The layout is PANNs' own (reference §5), so files are interchangeable with the original code:
datasets ``audio_name`` (``S20``, ``b"Y<YTID>.wav"`` as PANNs' ``read_metadata`` names them, whatever
extension the file we actually decoded had), ``waveform`` (N, 320000) int16 and ``target``
(N, 527) bool, plus the attribute ``sample_rate`` = 32000 (int32). We add the attribute
``waveform_sha256``, the digest of the waveforms, computed once when the file is complete: the
log-mel caches are keyed by it, so changed audio never reuses a cache built from the old audio.
Each clip goes through :func:`panns_lite.audio.load_audio` (mono, 32 kHz), :func:`fix_length`
(zero-pad at the end or truncate to 10 s) and :func:`float_to_int16`.

Where we differ from the original, on purpose:

* **No all-zero rows.** PANNs preallocates one row per CSV line, so a missing file leaves a silent
  row with an empty name and no labels that nothing filters (reference §5). Here a missing, empty
  or undecodable file is skipped and reported in :class:`PackReport`; N is the number packed.
* **Labels are checked first.** An unknown label id fails (or, with ``unknown_labels="skip"``,
  skips its row) before any audio is decoded.
* **Atomic.** Everything is written to ``<out>.partial`` and renamed onto ``<out>`` only when
  complete, so ``<out>`` is either absent, the previous complete file, or the new complete file.
* **Resumable.** The partial file grows by appended batches, committed (flushed) every
  :data:`FLUSH_EVERY` CSV rows and when an exception stops the run. Its ``_pack`` group records how
  many rows were processed, the rows skipped so far and a fingerprint of the job (CSV bytes, audio
  folder, options, vocabulary, size and mtime of every audio file used). A rerun with the same
  fingerprint continues after the last committed row; any other partial file is discarded, and
  the report says why. ``_pack`` is removed before the rename, so a resumed run yields the same
  datasets and attributes as an uninterrupted one.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import h5py
import numpy as np
from tqdm import tqdm

from panns_lite.audio import (
    CLIP_SAMPLES,
    PANNS_SAMPLE_RATE,
    AudioReadError,
    fix_length,
    float_to_int16,
    load_audio,
)
from panns_lite.audioset import ClassLabels, Segment, load_class_labels, read_segments, segment_targets

FORMAT_VERSION = 1
"""Bumped whenever what a partial file holds changes, so older partial files are not resumed."""
FLUSH_EVERY = 64
"""CSV rows between commits of the partial file: at most this much decoding is redone after a SIGKILL."""
NAME_DTYPE = "S20"  # PANNs' audio_name dtype (reference §5)
NAME_BYTES = np.dtype(NAME_DTYPE).itemsize
DISK_MARGIN = 16 * 2**20
"""Free bytes kept beyond a commit's rows, for HDF5's metadata and chunk index."""
PROGRESS = "_pack"  # group of the partial file holding the resume bookkeeping
DIGEST_ATTR = "waveform_sha256"  # attribute: sha256 of the waveforms, the key of every log-mel cache

UnknownLabels = Literal["error", "skip"]


@dataclass(frozen=True)
class PackReport:
    """What :func:`pack` did: the file written, rows packed, rows skipped and why, how it resumed."""

    out_path: Path
    packed: int
    skipped: list[tuple[str, str]]
    resumed_rows: int = 0
    """CSV rows taken over from a partial file left by an interrupted run (0: started afresh)."""
    discarded_partial: str | None = None
    """Why an existing partial file was not resumed (None if there was none or it was resumed)."""

    def summary(self) -> str:
        """One line with the counts, then one line per skipped row (what the CLI prints)."""
        head = f"packed {self.packed} clips into {self.out_path}; skipped {len(self.skipped)}"
        if self.resumed_rows:
            head += f"; resumed after {self.resumed_rows} CSV rows"
        if self.discarded_partial:
            head += f"; started over: {self.discarded_partial}"
        return "\n".join([head] + [f"  {name}: {reason}" for name, reason in self.skipped])


@dataclass(frozen=True)
class _Plan:
    """The validated job: one entry per CSV row to decode, in CSV order."""

    audio_dir: Path
    names: list[str]  # stored names, "Y<YTID>.wav"
    paths: list[Path | None]  # None: no Y<YTID>.* file in audio_dir
    targets: np.ndarray  # (rows, classes) bool
    label_skips: list[tuple[str, str]]
    fingerprint: str = field(repr=False)


def pack(
    csv_path: str | os.PathLike[str],
    audio_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    labels: ClassLabels | None = None,
    unknown_labels: UnknownLabels = "error",
    resume: bool = True,
    progress: bool = False,
) -> PackReport:
    """Pack the segments of ``csv_path`` whose audio decodes into ``out_path`` (PANNs layout).

    ``labels`` defaults to the 527 AudioSet classes. ``unknown_labels="error"`` raises a
    ``ValueError`` naming the CSV file and line of the first unknown label id; ``"skip"`` skips and
    reports such rows. With ``resume=False`` a partial file of an interrupted run is ignored.
    """
    csv_path, audio_dir, out_path = Path(csv_path), Path(audio_dir), Path(out_path)
    plan = _make_plan(csv_path, audio_dir, load_class_labels() if labels is None else labels, unknown_labels)
    partial_path = out_path.with_name(out_path.name + ".partial")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial, discarded = _open_partial(partial_path, plan, resume)
    resumed_rows = partial.rows_done
    with partial, tqdm(total=len(plan.names), initial=resumed_rows, unit="clip", disable=not progress) as bar:
        for row in range(resumed_rows, len(plan.names)):
            _pack_row(partial, plan, row)
            bar.update()
    _publish(partial_path, out_path)
    return PackReport(out_path, partial.packed, plan.label_skips + partial.skipped, resumed_rows, discarded)


def packed_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``n``, ``sample_rate``, ``classes``, ``names`` and ``waveform_sha256`` (None in files packed by
    PANNs' own code) of a complete packed file (ours or PANNs').

    Raises ``ValueError`` naming the file when it lacks the PANNs datasets, their row counts
    disagree, or it is an unfinished partial file.
    """
    with h5py.File(path, "r") as h5:
        if PROGRESS in h5:
            raise ValueError(f"{path}: an unfinished packing (rerun pack to complete it)")
        missing = {"audio_name", "waveform", "target"} - set(h5)
        if missing or "sample_rate" not in h5.attrs:
            raise ValueError(f"{path}: not a PANNs packed file (missing {sorted(missing) or 'sample_rate'})")
        n = len(h5["audio_name"])
        if h5["waveform"].shape != (n, CLIP_SAMPLES) or h5["target"].shape[0] != n:
            raise ValueError(f"{path}: audio_name, waveform and target have inconsistent shapes")
        digest = h5.attrs.get(DIGEST_ATTR)
        return {
            "n": n,
            "sample_rate": int(h5.attrs["sample_rate"]),
            "classes": h5["target"].shape[1],
            "names": [name.decode() for name in h5["audio_name"][:]],
            DIGEST_ATTR: digest.decode() if isinstance(digest, bytes) else digest,
        }


# --------------------------------------------------------------------------- planning
def _make_plan(csv_path: Path, audio_dir: Path, labels: ClassLabels, unknown_labels: UnknownLabels) -> _Plan:
    """Read and check every row, and find every audio file, before anything is written."""
    if unknown_labels not in ("error", "skip"):
        raise ValueError(f"unknown_labels must be 'error' or 'skip', not {unknown_labels!r}")
    segments, targets, label_skips = _labelled(read_segments(csv_path), labels, str(csv_path), unknown_labels)
    names = [_stored_name(seg, csv_path) for seg in segments]
    files = _audio_files(audio_dir)
    paths = [files.get(seg.audio_name) for seg in segments]
    fingerprint = _fingerprint(csv_path, audio_dir, labels, unknown_labels, paths)
    return _Plan(audio_dir, names, paths, targets, label_skips, fingerprint)


def _labelled(
    segments: list[Segment], labels: ClassLabels, source: str, unknown_labels: UnknownLabels
) -> tuple[list[Segment], np.ndarray, list[tuple[str, str]]]:
    """Segments to pack, their targets, and the (name, reason) of rows skipped for unknown label ids."""
    if unknown_labels == "error":
        return segments, segment_targets(segments, labels, source), []
    kept, rows, skipped = [], [], []
    for seg in segments:
        try:
            rows.append(segment_targets([seg], labels, source)[0])
            kept.append(seg)
        except ValueError as err:
            skipped.append((_stored_name(seg, source), str(err)))
    return kept, np.array(rows, dtype=bool).reshape(len(kept), len(labels)), skipped


def _stored_name(segment: Segment, source: str | Path) -> str:
    """``Y<YTID>.wav``, the name PANNs stores; it must fit ``S20`` (numpy would silently cut it)."""
    name = f"{segment.audio_name}.wav"
    if len(name.encode()) > NAME_BYTES:
        raise ValueError(f"{source}:{segment.line}: audio name {name!r} does not fit {NAME_DTYPE}")
    return name


def _audio_files(audio_dir: Path) -> dict[str, Path]:
    """File stem -> file, preferring ``<stem>.wav`` (PANNs' name) over other extensions.

    One directory scan rather than a glob per row: an unbalanced part has 50,000 rows (reference §5).
    """
    found: dict[str, Path] = {}
    for entry in sorted(os.scandir(audio_dir), key=lambda e: e.name):
        stem, ext = os.path.splitext(entry.name)
        if entry.is_file() and (stem not in found or ext == ".wav"):
            found[stem] = Path(entry.path)
    return found


def _fingerprint(
    csv_path: Path, audio_dir: Path, labels: ClassLabels, unknown_labels: str, paths: Sequence[Path | None]
) -> str:
    """Identity of a packing job, so only the job that wrote a partial file resumes it.

    Audio files count by name, size and mtime: hashing up to 1.1 TB of audio (reference §5) is out
    of the question, and a re-downloaded, edited, added or removed file changes this.
    """
    digest = hashlib.sha256()
    for part in (
        f"panns_lite.packing v{FORMAT_VERSION}",
        str(audio_dir.resolve()),
        unknown_labels,
        *labels.mids,
    ):
        digest.update(part.encode() + b"\0")
    digest.update(csv_path.read_bytes())
    for path in paths:
        stat = path.stat() if path else None
        digest.update(
            f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\0".encode() if path and stat else b"-\0"
        )
    return digest.hexdigest()


# --------------------------------------------------------------------------- the partial file
class _PartialFile:
    """``<out>.partial``: PANNs datasets grown by appended batches, plus the ``_pack`` bookkeeping.

    Rows are buffered in memory and written by :meth:`commit`, so between commits the file on disk
    is not touched and a SIGKILL leaves it as of the last commit. Leaving the ``with`` block commits,
    also on an exception, so that a rerun resumes from the last row processed.
    """

    def __init__(self, h5: h5py.File) -> None:
        self.h5 = h5
        self.rows_done = int(h5[PROGRESS].attrs["rows_done"])
        self._committed_rows = self.rows_done
        self.packed = len(h5["audio_name"])
        self.skipped: list[tuple[str, str]] = [tuple(pair) for pair in h5[PROGRESS]["skipped"].asstr()[:]]
        self._rows: list[tuple[str, np.ndarray, np.ndarray]] = []
        self._committed_skips = len(self.skipped)

    @classmethod
    def create(cls, path: Path, fingerprint: str, classes: int) -> _PartialFile:
        h5 = h5py.File(path, "w")
        h5.attrs.create("sample_rate", PANNS_SAMPLE_RATE, dtype=np.int32)
        h5.create_dataset("audio_name", (0,), NAME_DTYPE, maxshape=(None,), chunks=(FLUSH_EVERY,))
        # one chunk per clip: training reads single rows at random
        h5.create_dataset(
            "waveform", (0, CLIP_SAMPLES), np.int16, maxshape=(None, CLIP_SAMPLES), chunks=(1, CLIP_SAMPLES)
        )
        h5.create_dataset(
            "target", (0, classes), bool, maxshape=(None, classes), chunks=(FLUSH_EVERY, classes)
        )
        group = h5.create_group(PROGRESS)
        group.attrs["fingerprint"] = fingerprint
        group.attrs["rows_done"] = 0
        group.create_dataset(
            "skipped", (0, 2), h5py.string_dtype(), maxshape=(None, 2), chunks=(FLUSH_EVERY, 2)
        )
        h5.flush()
        return cls(h5)

    def add(self, name: str, waveform: np.ndarray, target: np.ndarray) -> None:
        self._rows.append((name, waveform, target))
        self._advance()

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append((name, reason))
        self._advance()

    def _advance(self) -> None:
        self.rows_done += 1
        if self.rows_done % FLUSH_EVERY == 0:
            self.commit()

    def commit(self) -> None:
        """Append the buffered rows and skips, record the progress and flush to disk.

        The free space is checked first: HDF5 does not survive a write that fails for lack of space
        (h5py then crashes the interpreter when the file is closed), so a commit that would not fit
        raises ``OSError(ENOSPC)`` before writing anything. The file keeps its last commit and
        stays resumable; the rows held back are decoded again on the next run."""
        needed = len(self._rows) * (CLIP_SAMPLES * 2 + self.h5["target"].shape[1] + NAME_BYTES) + DISK_MARGIN
        folder = Path(self.h5.filename).parent
        if shutil.disk_usage(folder).free < needed:
            self._rows, self.skipped = [], self.skipped[: self._committed_skips]
            self.rows_done = self._committed_rows
            raise OSError(
                errno.ENOSPC,
                f"No space left on device: {needed / 2**20:.0f} MiB needed for the next "
                f"rows of {self.h5.filename}",
                self.h5.filename,
            )
        if self._rows:
            names, waveforms, targets = zip(*self._rows)
            _append(self.h5["audio_name"], np.array([n.encode() for n in names], dtype=NAME_DTYPE))
            _append(self.h5["waveform"], np.stack(waveforms))
            _append(self.h5["target"], np.stack(targets))
            self.packed += len(self._rows)
            self._rows = []
        if len(self.skipped) > self._committed_skips:
            _append(
                self.h5[PROGRESS]["skipped"], np.array(self.skipped[self._committed_skips :], dtype=object)
            )
            self._committed_skips = len(self.skipped)
        self.h5[PROGRESS].attrs["rows_done"] = self.rows_done
        self.h5.flush()
        self._committed_rows = self.rows_done

    def __enter__(self) -> _PartialFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            if not (isinstance(error, OSError) and error.errno == errno.ENOSPC):
                self.commit()
        finally:
            self.h5.close()


def _append(dataset: h5py.Dataset, rows: np.ndarray) -> None:
    start = len(dataset)
    dataset.resize(start + len(rows), axis=0)
    dataset[start:] = rows


def _open_partial(path: Path, plan: _Plan, resume: bool) -> tuple[_PartialFile, str | None]:
    """Resume ``path`` if it is a sound partial file of this very job, else start a new one (and say why)."""
    discarded = None
    if path.exists():
        discarded = _resume_problem(path, plan) if resume else "resume=False"
        if discarded is None:
            return _PartialFile(h5py.File(path, "r+")), None
        discarded = f"{path} not resumed ({discarded})"
        path.unlink()
    return _PartialFile.create(path, plan.fingerprint, plan.targets.shape[1]), discarded


def _resume_problem(path: Path, plan: _Plan) -> str | None:
    """Why ``path`` cannot be resumed for ``plan`` (None if it can): unreadable, another job, inconsistent."""
    try:
        with h5py.File(path, "r") as h5:
            progress = h5[PROGRESS]
            if progress.attrs["fingerprint"] != plan.fingerprint:
                return "it was made from another CSV, audio folder, audio files or options"
            rows_done = int(progress.attrs["rows_done"])
            names = [name.decode() for name in h5["audio_name"][:]]
            skipped = {name for name, _ in progress["skipped"].asstr()[:]}
            shapes_ok = h5["waveform"].shape == (len(names), CLIP_SAMPLES) and h5["target"].shape == (
                len(names),
                plan.targets.shape[1],
            )
    except (OSError, KeyError, ValueError) as err:
        return f"unreadable: {err}"
    expected = [name for name in plan.names[:rows_done] if name not in skipped]
    if not shapes_ok or rows_done > len(plan.names) or names != expected:
        return "its datasets do not match its progress record"
    return None


# --------------------------------------------------------------------------- rows and the end
def _pack_row(partial: _PartialFile, plan: _Plan, row: int) -> None:
    """Decode one CSV row into the partial file, or record why it is skipped."""
    name, path = plan.names[row], plan.paths[row]
    if path is None:
        partial.skip(name, f"no {Path(name).stem}.* file in {plan.audio_dir}")
        return
    try:
        waveform = float_to_int16(fix_length(load_audio(path, PANNS_SAMPLE_RATE)))
    except AudioReadError as err:
        partial.skip(name, str(err))
        return
    partial.add(name, waveform, plan.targets[row])


def waveform_digest(h5: h5py.File, rows_per_read: int = 256) -> str:
    """sha256 of the ``waveform`` dataset's int16 bytes, row after row (the audio, not the file)."""
    digest, waveform = hashlib.sha256(), h5["waveform"]
    for start in range(0, len(waveform), rows_per_read):
        digest.update(np.ascontiguousarray(waveform[start : start + rows_per_read]).tobytes())
    return digest.hexdigest()


def _publish(partial_path: Path, out_path: Path) -> None:
    """Drop the bookkeeping, record the audio's digest, make the bytes durable, then rename onto
    ``out_path`` in one step."""
    with h5py.File(partial_path, "r+") as h5:
        del h5[PROGRESS]
        h5.attrs[DIGEST_ATTR] = waveform_digest(h5)
    with open(partial_path, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial_path, out_path)
