"""Training data as indexable clips: a packed HDF5 file, an AudioSet folder, or a cache of log-mels.

Every source is a :class:`ClipDataset`: item ``i`` is ``(input float32, target float32 (C,), name)``
and :meth:`ClipDataset.get_batch` returns a whole batch as tensors, so the trainer does not care
which source it reads. The targets (N, C) bool are held in memory for the samplers.

* :class:`PackedDataset` reads the PANNs HDF5 layout (reference §5) written by
  :func:`panns_lite.packing.pack` or by the original code: int16 waveforms ÷ 32767 → float32,
  bool targets → float32, as PANNs' ``AudioSetDataset`` returns them.
* :class:`FolderDataset` decodes a segment CSV's ``Y<YTID>.*`` files on the fly, exactly as
  packing would (same file choice, same decoding), so it yields the packed items without the int16
  rounding. Rows without usable audio are dropped and reported, never turned into PANNs' silent
  all-zero rows (reference §5, "Packing").
* :class:`LogMelCache` holds the front end's output for every clip. The front end is frozen and
  SpecAugment and mixup act after ``bn0`` on the log-mel (reference §2, §4), so computing the
  pre-``bn0`` log-mel once and reusing it every epoch changes nothing but the cost.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from panns_lite.audio import (
    PANNS_SAMPLE_RATE,
    AudioReadError,
    fix_length,
    int16_to_float,
    load_audio,
    open_audio,
)
from panns_lite.audioset import ClassLabels, load_class_labels
from panns_lite.packing import DIGEST_ATTR, UnknownLabels, _make_plan, packed_info

Indices = Sequence[int] | np.ndarray | torch.Tensor
Batch = tuple[torch.Tensor, torch.Tensor, list[str]]


def check_finite(x: torch.Tensor, names: list[str], where: str) -> None:
    """A NaN or inf in the inputs is a data error: name the clips instead of training a NaN model.

    Both readers of batches call it, the training step and :func:`panns_lite.evaluation.predict`."""
    if not torch.isfinite(x).all():
        bad = [names[i] for i in torch.nonzero(~torch.isfinite(x.flatten(1)).all(1)).flatten().tolist()]
        raise ValueError(f"{where}: non-finite input values in clips {sorted(set(bad))}")


class ClipDataset(ABC):
    """N clips with bool targets (N, C) and names; subclasses only say how to read input rows.

    ``get_batch`` reads the sorted unique indices (one sequential pass over an HDF5 file or a memmap
    is much faster than random order) and then restores the requested order, duplicates included:
    the balanced sampler (reference §5) can draw one clip twice in a batch.
    """

    def __init__(self, targets: np.ndarray, names: list[str], sample_rate: int, source: str) -> None:
        if len(names) == 0:
            raise ValueError(f"{source}: empty dataset (no clips)")
        if targets.dtype != bool or targets.shape[0] != len(names):
            raise ValueError(
                f"{source}: targets must be bool with one row per name, got {targets.dtype} "
                f"{targets.shape} for {len(names)} names"
            )
        targets.flags.writeable = False  # shared with the samplers: nobody may edit it in place
        self.targets = targets
        self.names = names
        self.sample_rate = sample_rate
        self.source = source

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        """One item as PANNs' ``AudioSetDataset`` gives it: float32 input, float32 target, name."""
        rows, targets, names = self._read(np.array([index]))
        return rows[0], targets[0], names[0]

    def get_batch(self, indices: Indices) -> Batch:
        """Inputs (B, …) float32 and targets (B, C) float32 tensors plus names, in the order asked."""
        rows, targets, names = self._read(indices)
        return torch.from_numpy(rows), torch.from_numpy(targets), names

    def check_sample_rate(self, rate: int, user: str) -> None:
        """Refuse ``user`` (a model, a front end) that expects ``rate`` Hz audio when this data is at
        another rate: a 32 kHz front end on 16 kHz samples computes a log-mel of audio played twice
        as fast, a wrong answer without any error."""
        if rate != self.sample_rate:
            raise ValueError(
                f"{self.source} holds {self.sample_rate} Hz audio but {user} expects {rate} Hz; "
                f"pack the audio again at {rate} Hz (packing resamples) or use a {self.sample_rate} Hz "
                "model"
            )

    def fingerprint(self) -> str:
        """Digest of the names, targets and sample rate: what a :class:`LogMelCache` is checked against.

        The audio itself is not hashed: that would read the whole dataset, the very work a cache saves.
        """
        digest = hashlib.sha256(f"{len(self)} clips at {self.sample_rate} Hz\0".encode())
        digest.update("\0".join(self.names).encode())
        digest.update(np.packbits(self.targets).tobytes() + str(self.targets.shape).encode())
        return digest.hexdigest()

    def content_key(self) -> str:
        """What identifies the audio itself, for the keys of log-mel caches (:class:`LogMelCache`).

        :meth:`fingerprint` sees names and targets only: audio changed under the same names would
        reuse a cache of the old audio. By default the key is the fingerprint; datasets that can
        identify their audio cheaply say more."""
        return self.fingerprint()

    def _read(self, indices: Indices) -> tuple[np.ndarray, np.ndarray, list[str]]:
        index = self._checked(indices)
        unique, where = np.unique(index, return_inverse=True)
        return (
            self._rows(unique)[where],
            self.targets[index].astype(np.float32),
            [self.names[i] for i in index],
        )

    def _checked(self, indices: Indices) -> np.ndarray:
        index = np.asarray(indices, dtype=np.int64)
        if index.ndim != 1 or index.size == 0:
            raise ValueError(f"expected a non-empty 1-D list of clip indices, got shape {index.shape}")
        outside = index[(index < 0) | (index >= len(self))]
        if outside.size:
            raise IndexError(f"clip indices outside 0..{len(self) - 1}: {outside[:5].tolist()}")
        return index

    @abstractmethod
    def _rows(self, sorted_unique: np.ndarray) -> np.ndarray:
        """float32 input rows for strictly increasing indices."""


class PackedDataset(ClipDataset):
    """Clips of a packed PANNs HDF5 file (``pack`` output or PANNs' own, reference §5).

    The HDF5 handle is opened on first read *in each process* and never pickled: h5py handles must not
    cross a fork, and DataLoader workers receive the dataset by fork or pickle. Names, targets and the
    sample rate are read once here, checked by :func:`packed_info` (which rejects files without the
    PANNs datasets and unfinished packings).
    """

    def __init__(self, h5_path: str | os.PathLike[str]) -> None:
        self.path = Path(h5_path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such file")
        try:
            info = packed_info(self.path)
            with h5py.File(self.path, "r") as h5:
                targets = h5["target"][:].astype(bool, copy=False)
        except OSError as err:
            raise ValueError(f"{self.path}: not a readable HDF5 file ({err})") from None
        super().__init__(targets, info["names"], info["sample_rate"], str(self.path))
        self.waveform_sha256: str | None = info[DIGEST_ATTR]
        self._h5: h5py.File | None = None
        self._pid: int | None = None

    def content_key(self) -> str:
        """The waveforms' sha256 that :func:`~panns_lite.packing.pack` stored in the file; for files
        without it (packed by PANNs' own code) the file's size and modification time, which change
        whenever its audio is rewritten."""
        if self.waveform_sha256:
            return f"sha256:{self.waveform_sha256}"
        stat = self.path.stat()
        return f"stat:{stat.st_size}:{stat.st_mtime_ns}"

    def _rows(self, sorted_unique: np.ndarray) -> np.ndarray:
        """Row by row: h5py's selection by a list of rows builds a union of hyperslabs and reads about
        60 times slower than one slice per row (``benchmarks/results/data_path.md``)."""
        waveform = self._file()["waveform"]
        rows = np.empty((len(sorted_unique), waveform.shape[1]), dtype=waveform.dtype)
        for k, index in enumerate(sorted_unique):
            waveform.read_direct(rows, np.s_[index : index + 1], np.s_[k : k + 1])
        return int16_to_float(rows)

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._h5

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_h5": None, "_pid": None}


class FolderDataset(ClipDataset):
    """Clips of an AudioSet-layout folder (segment CSV + ``Y<YTID>.*`` audio), decoded on access.

    Rows are planned by packing's own planner (same CSV checks, same label handling, same file
    choice: one folder scan, ``.wav`` preferred), so this yields what :func:`pack` would store.
    At construction every file's header is read (cheap, no decoding): rows whose file is missing,
    unreadable or has no samples are dropped and listed in ``skipped`` as (name, reason). A file
    that passes the header check but fails to decode later raises ``AudioReadError`` naming it.
    """

    def __init__(
        self,
        csv_path: str | os.PathLike[str],
        audio_dir: str | os.PathLike[str],
        *,
        labels: ClassLabels | None = None,
        unknown_labels: UnknownLabels = "error",
    ) -> None:
        plan = _make_plan(
            Path(csv_path), Path(audio_dir), load_class_labels() if labels is None else labels, unknown_labels
        )
        self.skipped: list[tuple[str, str]] = list(plan.label_skips)
        keep = []
        for row, (name, path) in enumerate(zip(plan.names, plan.paths)):
            problem = f"no {Path(name).stem}.* file in {audio_dir}" if path is None else _header_problem(path)
            if problem:
                self.skipped.append((name, problem))
            else:
                keep.append(row)
        self.paths = [plan.paths[row] for row in keep]
        super().__init__(
            plan.targets[keep],
            [plan.names[row] for row in keep],
            PANNS_SAMPLE_RATE,
            f"{csv_path} with {audio_dir} ({len(self.skipped)} rows skipped)",
        )

    def _rows(self, sorted_unique: np.ndarray) -> np.ndarray:
        return np.stack([fix_length(load_audio(self.paths[i], self.sample_rate)) for i in sorted_unique])


def _header_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a clip, judged from its header alone (None if it looks fine)."""
    try:
        open_audio(path).close()
    except AudioReadError as err:
        return str(err)
    return None


class LogMelCache(ClipDataset):
    """The front end's (N, 1, T, M) output for every clip of a dataset, in memory or in a ``.npy`` file.

    Items are ``(log-mel (1, T, M) float32, target, name)``: feed them to the model's
    ``forward_features``. The default float16 storage halves the memory; its rounding is at most half
    a float16 step, 1/32 dB for log-mels in [−128, 128) dB (the floor is −100 dB, reference §1), and
    the largest rounding seen while building is kept in ``rounding_error_db``.

    A file cache (``path``) is a ``.npy`` read through a memmap, so it needs no RAM for all clips,
    plus ``<path>.json`` recording what it was built from (front end, dataset fingerprint, the
    audio's content key, dtype).
    The ``.json`` is written last, so a file without it is an interrupted build and is rebuilt.
    """

    FORMAT = 2  # 2: the record holds the audio's content key

    def __init__(
        self, store: np.ndarray, dataset: ClipDataset, rounding_error_db: float, path: Path | None = None
    ) -> None:
        super().__init__(
            dataset.targets, dataset.names, dataset.sample_rate, f"log-mel cache of {len(dataset)} clips"
        )
        self._store: np.ndarray | None = store
        self.rounding_error_db = rounding_error_db
        self.path = path

    @classmethod
    def build(
        cls,
        dataset: ClipDataset,
        frontend: nn.Module,
        batch_size: int = 32,
        dtype: torch.dtype = torch.float16,
        path: str | os.PathLike[str] | None = None,
        progress: bool = False,
    ) -> LogMelCache:
        """Run ``frontend`` ((B, L) waveforms → (B, 1, T, M)) once over ``dataset`` and keep the output.

        With ``path``: an existing complete cache there is opened instead, after checking it was built
        from the same front end, dataset and dtype (``ValueError`` listing what differs otherwise).
        The front end must be deterministic (it is frozen in PANNs); it runs under ``inference_mode``
        on its own device.
        """
        if dtype not in (torch.float16, torch.float32):
            raise ValueError(f"dtype must be torch.float16 or torch.float32, got {dtype}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        record = {
            "format": cls.FORMAT,
            "frontend": frontend_signature(frontend),
            "dataset": dataset.fingerprint(),
            "content": dataset.content_key(),
            "clips": len(dataset),
            "dtype": str(dtype),
        }
        if path is not None and _meta_path(Path(path)).is_file():
            return cls._open(Path(path), record, dataset)
        store, error = None, 0.0
        for start in tqdm(range(0, len(dataset), batch_size), unit="batch", disable=not progress):
            logmel = _frontend_output(
                frontend, dataset, np.arange(start, min(start + batch_size, len(dataset)))
            )
            if store is None:
                store = _allocate(path, (len(dataset), *logmel.shape[1:]), dtype)
            stored = logmel.to(dtype)
            error = max(error, (stored.float() - logmel).abs().max().item())
            store[start : start + len(logmel)] = stored.numpy()
        if path is None:
            return cls(store, dataset, error)
        return cls._publish(
            Path(path), store, record | {"shape": list(store.shape), "rounding_error_db": error}, dataset
        )

    @classmethod
    def beside(
        cls,
        dataset: PackedDataset,
        frontend: nn.Module,
        dtype: torch.dtype = torch.float16,
        progress: bool = False,
    ) -> LogMelCache:
        """The file cache of a packed file, kept beside it: built on first use, then opened.

        Its name holds the dtype and a digest of the front end, the data's fingerprint and its audio's
        content key, so every run and chapter that reads the same data through the same front end
        shares one file (the front end is most of the cost of scoring a small model: chapters 5–7
        score many models on the same clips), and changed data or another front end gets a new one.
        """
        key = f"{frontend_signature(frontend)} {dataset.fingerprint()} {dataset.content_key()}"
        tag = hashlib.sha256(key.encode()).hexdigest()[:12]
        kind = str(dtype).removeprefix("torch.")
        path = dataset.path.with_name(f"{dataset.path.stem}.logmel-{kind}-{tag}.npy")
        return cls.build(dataset, frontend, dtype=dtype, path=path, progress=progress)

    @classmethod
    def _open(cls, path: Path, expected: dict[str, Any], dataset: ClipDataset) -> LogMelCache:
        record = json.loads(_meta_path(path).read_text(encoding="utf-8"))
        differ = [key for key in expected if record.get(key) != expected[key]]
        if differ:
            raise ValueError(
                f"{path}: cache built from another {', '.join(differ)} "
                f"(recorded {[record.get(k) for k in differ]}, now {[expected[k] for k in differ]}); "
                "delete it (and its .json) to rebuild"
            )
        return cls(np.load(path, mmap_mode="r"), dataset, record["rounding_error_db"], path)

    @classmethod
    def _publish(
        cls, path: Path, store: np.memmap, record: dict[str, Any], dataset: ClipDataset
    ) -> LogMelCache:
        store.flush()
        del store
        os.replace(_partial_path(path), path)
        _meta_path(path).write_text(json.dumps(record, indent=1), encoding="utf-8")
        return cls(np.load(path, mmap_mode="r"), dataset, record["rounding_error_db"], path)

    def _rows(self, sorted_unique: np.ndarray) -> np.ndarray:
        if self._store is None:  # unpickled in a worker: reopen the file rather than copy it
            self._store = np.load(self.path, mmap_mode="r")
        return self._store[sorted_unique].astype(np.float32)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_store": None} if self.path is not None else self.__dict__


def frontend_signature(frontend: nn.Module) -> str:
    """What a cache must be rebuilt for: every submodule's type and plain settings, and its tensors.

    ``repr`` alone is not enough (``LogMel`` prints no settings), so this lists each submodule's
    public attributes (``LogMel.config``, ``min_frames`` …) and hashes every parameter and buffer,
    non-persistent ones included (the window and the mel matrix).
    """
    settings = []
    for name, module in frontend.named_modules():
        attributes = {
            k: repr(v) for k, v in sorted(vars(module).items()) if not k.startswith("_") and k != "training"
        }
        settings.append(f"{name or '.'}: {type(module).__module__}.{type(module).__qualname__} {attributes}")
    digest = hashlib.sha256()
    for name, tensor in sorted(
        chain(frontend.named_parameters(), frontend.named_buffers()), key=lambda kv: kv[0]
    ):
        digest.update(name.encode() + str(tensor.dtype).encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return "; ".join(settings) + f"; tensors sha256 {digest.hexdigest()}"


def _frontend_output(frontend: nn.Module, dataset: ClipDataset, index: np.ndarray) -> torch.Tensor:
    """(B, 1, T, M) float32 on the CPU for the clips ``index`` (front end run on its own device)."""
    device = next(chain(frontend.parameters(), frontend.buffers()), torch.empty(0)).device
    waveforms, _, _ = dataset.get_batch(index)
    with torch.inference_mode():
        logmel = frontend(waveforms.to(device))
    if logmel.dim() != 4 or logmel.shape[:2] != (len(index), 1):
        raise ValueError(f"the front end must map (B, L) to (B, 1, T, M), got {tuple(logmel.shape)}")
    return logmel.float().cpu()


def _allocate(path: str | os.PathLike[str] | None, shape: tuple[int, ...], dtype: torch.dtype) -> np.ndarray:
    """In-memory array, or a ``<path>.partial`` ``.npy`` memmap renamed onto ``path`` once complete."""
    np_dtype = np.float16 if dtype == torch.float16 else np.float32
    if path is None:
        return np.empty(shape, np_dtype)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return np.lib.format.open_memmap(_partial_path(Path(path)), mode="w+", dtype=np_dtype, shape=shape)


def _partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")
