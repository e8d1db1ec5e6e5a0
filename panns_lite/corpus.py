"""Embeddings of a whole folder of audio in one HDF5 file (``python -m panns_lite embed FOLDER``).

PANNs' users reach for the embedding more than for the tags — PANNs offers it as the representation
for transfer learning (Kong et al., 2020; chapter 8) — and usually for a corpus at a time. This
walks a folder (recursively, every file with an audio suffix, in sorted order), runs
:meth:`Tagger.embed <panns_lite.inference.Tagger.embed>` on each file — so a row equals what
``Tagger.embed`` returns for that file — and, on request, the frame-wise embeddings of
:meth:`~panns_lite.inference.Tagger.frame_embeddings`.

The file (``h5py``): ``name`` (N,) the paths relative to the folder; ``embedding`` (N, embed_dim)
float32; with frame-wise embeddings ``frame_embedding`` (frames in all, embed_dim) and
``frame_offset`` (N + 1,) so that file ``i``'s frames are rows ``frame_offset[i]:frame_offset[i+1]``,
row ``j`` of a file centred at ``j · frame_hop_seconds``; ``skipped`` (M, 2) the files that could
not be read and why. Attributes record the model (the argument, its sha256, architecture, class
count), the package version and the options, so a file says what made it.

Like :func:`~panns_lite.packing.pack` the work goes to ``<out>.partial``, committed every
:data:`COMMIT_EVERY` files and when the run stops on an error or Ctrl-C, and is renamed onto
``<out>`` when complete; rerunning the same command continues after the last commit (a partial file
made from other files, another model or other options is started afresh). A complete ``<out>`` is
never replaced unless ``overwrite`` is asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from panns_lite import __version__
from panns_lite.audio import AudioReadError
from panns_lite.checkpoints import load_checkpoint
from panns_lite.inference import Tagger
from panns_lite.pretraining import resolve_checkpoint
from panns_lite.recovery import file_digest

AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64"}
)
"""File suffixes taken as audio (any case); others in the folder are ignored."""
COMMIT_EVERY = 32
"""Files between commits of the partial file: at most this much work is redone after a SIGKILL."""
FORMAT_VERSION = 1
TEXT = h5py.string_dtype("utf-8")


@dataclass(frozen=True)
class EmbedReport:
    """What :func:`embed_folder` did."""

    out_path: Path
    embedded: int
    skipped: list[tuple[str, str]]
    resumed_files: int = 0
    """Files taken over from the partial file of an interrupted run (0: started afresh)."""

    def summary(self) -> str:
        head = f"embedded {self.embedded} files into {self.out_path}; skipped {len(self.skipped)}"
        if self.resumed_files:
            head += f"; resumed after {self.resumed_files} files"
        return "\n".join([head] + [f"  {name}: {reason}" for name, reason in self.skipped])


def audio_files(folder: Path) -> list[str]:
    """Paths (relative, ``/``-separated, sorted) of the audio files under ``folder``."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
    )


def embed_folder(
    folder: str | os.PathLike[str],
    out: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str] = "pretrained",
    frame_every: int | None = None,
    overwrite: bool = False,
    device: str = "cpu",
    progress: bool = False,
) -> EmbedReport:
    """Embed every audio file under ``folder`` into ``out`` (see the module docstring).

    ``frame_every``: also store the embedding of every ``frame_every``-th model frame (32: one per
    CNN14 segment, 320 ms). Raises ``ValueError`` naming the path for a missing folder, a folder
    without audio, or an existing ``out`` without ``overwrite``."""
    folder, out = Path(folder), Path(out)
    _check_arguments(folder, out, frame_every, overwrite)
    files = audio_files(folder)
    if not files:
        raise ValueError(f"{folder} holds no audio files (suffixes: {', '.join(sorted(AUDIO_SUFFIXES))})")
    weights = resolve_checkpoint(checkpoint)
    model = load_checkpoint(weights)
    tagger = Tagger(model, device=device)
    attrs = {
        "format_version": FORMAT_VERSION,
        "model": str(checkpoint),
        "model_sha256": file_digest(weights),
        "architecture": json.dumps(model.architecture(), sort_keys=True),
        "classes": tagger.backend.classes_num,
        "embed_dim": int(model.fc1.out_features),
        "sample_rate": tagger.sample_rate,
        "frame_every": frame_every or 0,
        "frame_hop_seconds": (frame_every or 0) * tagger.frame_hop,
        "panns_lite_version": __version__,
    }
    attrs["fingerprint"] = _fingerprint(attrs, folder, files)
    partial = out.with_name(out.name + ".partial")
    with _open_partial(partial, attrs, int(model.fc1.out_features)) as h5:
        resumed = int(h5.attrs["_done"])
        _embed_files(h5, tagger, folder, files, frame_every, progress)
        del h5.attrs["_done"]
        report = EmbedReport(out, len(h5["name"]), [tuple(s) for s in h5["skipped"].asstr()[()]], resumed)
    os.replace(partial, out)
    return report


def _check_arguments(folder: Path, out: Path, frame_every: int | None, overwrite: bool) -> None:
    """Refuse, before the model is loaded, a job that cannot finish or would replace a finished file."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; give the folder of audio files to embed")
    if out.is_file() and not overwrite:
        raise ValueError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    if out.is_dir() or not out.parent.is_dir():
        raise ValueError(f"{out}: give a file name in an existing folder")
    if frame_every is not None and frame_every < 1:
        raise ValueError(f"frame_every must be ≥ 1, got {frame_every}")


def _fingerprint(attrs: dict, folder: Path, files: list[str]) -> str:
    """sha256 of the attributes and of every file's name, size and modification time: a partial file
    is resumed only by the same job over the same, unchanged files."""
    stats = [(f, (folder / f).stat()) for f in files]
    return hashlib.sha256(
        json.dumps([attrs, [(f, s.st_size, s.st_mtime_ns) for f, s in stats]], sort_keys=True).encode()
    ).hexdigest()


def _embed_files(
    h5: h5py.File, tagger: Tagger, folder: Path, files: list[str], frame_every: int | None, progress: bool
) -> None:
    """Embed the files the partial file has not done yet, committing every :data:`COMMIT_EVERY` files
    and, whatever stops the run (an error, Ctrl-C), the work done so far. A file that cannot be read
    is recorded as skipped with the reason, without its path."""
    done = int(h5.attrs["_done"])
    rows: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    skipped: list[tuple[str, str]] = []
    try:
        for name in tqdm(files[done:], initial=done, total=len(files), unit="file", disable=not progress):
            try:
                embedding = tagger.embed(folder / name)
                frames = tagger.frame_embeddings(folder / name, every=frame_every) if frame_every else None
                rows.append((name, embedding, frames))
            except AudioReadError as err:
                skipped.append((name, str(err).splitlines()[0].removeprefix(f"{folder / name}: ")))
            done += 1
            if done % COMMIT_EVERY == 0:
                _commit(h5, rows, skipped, done)
                rows, skipped = [], []
    finally:
        _commit(h5, rows, skipped, done)


def _open_partial(path: Path, attrs: dict, dim: int) -> h5py.File:
    """The partial file of this job (resumed), or a new one."""
    if path.is_file():
        try:
            h5 = h5py.File(path, "r+")
            if h5.attrs.get("fingerprint") == attrs["fingerprint"] and "_done" in h5.attrs:
                return h5
            h5.close()
        except OSError:
            pass  # unreadable (killed while creating it): start afresh
        path.unlink()
    h5 = h5py.File(path, "w")
    h5.attrs.update(attrs)
    h5.attrs["_done"] = 0
    h5.create_dataset("name", (0,), TEXT, maxshape=(None,), chunks=(1024,))
    h5.create_dataset("embedding", (0, dim), "float32", maxshape=(None, dim), chunks=(256, dim))
    h5.create_dataset("skipped", (0, 2), TEXT, maxshape=(None, 2), chunks=(256, 2))
    if attrs["frame_every"]:
        h5.create_dataset("frame_embedding", (0, dim), "float32", maxshape=(None, dim), chunks=(1024, dim))
        h5.create_dataset("frame_offset", (1,), "int64", maxshape=(None,), data=[0], chunks=(1024,))
    return h5


def _commit(
    h5: h5py.File,
    rows: list[tuple[str, np.ndarray, np.ndarray | None]],
    skipped: list[tuple[str, str]],
    done: int,
) -> None:
    """Append the rows and skips, record ``done`` files processed, flush."""
    if rows:
        _append(h5["name"], np.array([r[0] for r in rows], dtype=object))
        _append(h5["embedding"], np.stack([r[1] for r in rows]))
        if "frame_embedding" in h5:
            offsets = h5["frame_offset"][-1] + np.cumsum([len(r[2]) for r in rows])
            _append(h5["frame_embedding"], np.concatenate([r[2] for r in rows]))
            _append(h5["frame_offset"], offsets)
    if skipped:
        _append(h5["skipped"], np.array(skipped, dtype=object))
    h5.attrs["_done"] = done
    h5.flush()


def _append(dataset: h5py.Dataset, rows: np.ndarray) -> None:
    start = dataset.shape[0]
    dataset.resize(start + len(rows), axis=0)
    dataset[start:] = rows
