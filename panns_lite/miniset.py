"""The MiniSet: a small, deterministic, real-audio data set in AudioSet's own format.

AudioSet cannot be downloaded here, so the MiniSet is mixed from the shipped source bank
(``data/sources``: real recordings from Debian/PyPI packages, see ``SOURCES.tsv``). Each 10 s clip
at 32 kHz is a noise floor plus, at random, a speech bed, a music bed, an ambience bed and 0-3
foreground events (chapter 1 of the book shows the recipe). Its weak labels are the
placed sources' labels plus the ontology ancestors of each source's *primary* label that are among
the 527 classes (the primary only, so multi-parent children such as Bleat do not pull in the wrong
parent). Strong labels (onset/offset per placed source) and per-clip provenance are written too.

Design points:
* **Held-out recordings.** Every recording belongs to exactly one split, and so does every
  near-duplicate group of ``SOURCES.tsv`` (the same sound shipped twice, one speaker's streams).
  Within each primary label, about a quarter of its groups go to eval and about a seventh to
  validation (a label needs >= 2 groups for eval, >= 3 for validation; single-group labels are
  train-only), so the eval clips use recordings that no train clip uses.
* **Held-out classes.** The recordings of the transfer task's classes (:data:`HELD_OUT_CLASSES`)
  are in no tagging split at all, only in the transfer set (``transfer/``): a model trained on the
  MiniSet has never heard them labelled.
* **Two evaluation splits.** ``eval`` mixes held-out recordings like the training clips;
  ``natural_eval`` is every held-out recording alone, unmixed, padded to 10 s with its own labels
  and their ancestors: one recording, one scene, as a user hears it (``natural_validation``
  likewise for the validation recordings).
* **Long tail.** Within each family (event / ambience / music) groups are drawn with Zipf weights
  1/rank^s over a seeded ranking, so a few classes are frequent and many are rare.
* **Determinism.** Clip ``i`` of split ``s`` is built from its own random stream only
  (:class:`panns_lite.seeds.MiniSetStream`), and
  every file is written without timestamps: the same seed gives byte-identical output.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from panns_lite.audio import CLIP_SAMPLES, PANNS_SAMPLE_RATE, float_to_int16, load_audio
from panns_lite.audioset import Segment, load_class_labels, load_ontology, write_segments
from panns_lite.events import Event, write_strong_labels
from panns_lite.paths import AUDIOSET_DIR, SOURCES_DIR
from panns_lite.seeds import MiniSetStream, generator

SR = PANNS_SAMPLE_RATE
SPLITS = ("balanced_train", "validation", "eval")
NATURAL_SPLITS = {
    "natural_validation": "validation",
    "natural_eval": "eval",
}  # natural split -> its recordings
BUILDING = "BUILDING"  # marker of a MiniSet build in progress (or interrupted)
SPLIT_LETTER = {
    "balanced_train": "b",
    "validation": "v",
    "eval": "e",
    "natural_validation": "w",
    "natural_eval": "n",
}
FAMILIES = {
    "event": "event",
    "ambience": "ambience",
    "music": "music",
    "instrument": "music",
    "speech": "speech",
}


@dataclass(frozen=True)
class MiniSetConfig:
    """How many clips to make and how (presets in ``PRESETS``)."""

    n_train: int = 600
    n_eval: int = 200
    n_validation: int = 200
    seed: int = 0
    eval_fraction: float = 0.25
    validation_fraction: float = 0.15
    p_speech: float = 0.45
    p_music: float = 0.4
    p_ambience: float = 0.35
    max_events: int = 3
    zipf_exponent: float = 1.0
    transfer_seconds: float = 5.0
    transfer_clips_per_class: int = 16
    held_out: tuple[str, ...] = ()
    """Classes held out of every tagging split (see :data:`HELD_OUT_CLASSES`); set by the presets."""
    transfer_folds: int = 5

    def __post_init__(self) -> None:
        if self.n_train < 1 or self.n_eval < 1 or self.n_validation < 1:
            raise ValueError("n_train, n_validation and n_eval must be positive")
        if not (
            0 < self.eval_fraction < 1
            and 0 < self.validation_fraction < 1
            and self.eval_fraction + self.validation_fraction < 1
        ):
            raise ValueError("eval_fraction and validation_fraction must be in (0, 1) and sum to less than 1")


HELD_OUT_CLASSES = ("Dog", "Horse", "Duck", "Cough", "Rain", "Door", "Sawing", "Train", "Piano", "Trumpet")
"""The transfer task's classes (book chapter 8), held out of every tagging split.

Every recording whose labels or ancestors include one of them is left out of training, validation
and evaluation clips alike, so a tagger trained on the MiniSet has never been told these classes
exist: transfer to them is transfer to new classes, as PANNs' downstream tasks are (a model trained
on the classes it is then tested on would only measure its own tagging). Each is a specific class
with at least 6 distinct recordings (near-duplicate groups) in the bank, from animals, people,
weather, the home, tools, vehicles and music, chosen so that no parent class loses all its
recordings except where the parent has no other (Rail transport, with Train)."""

PRESETS: dict[str, MiniSetConfig] = {
    "ci": MiniSetConfig(
        n_train=1500, n_validation=200, n_eval=200, transfer_clips_per_class=16, held_out=HELD_OUT_CLASSES
    ),
    "laptop": MiniSetConfig(
        n_train=2000, n_validation=300, n_eval=500, transfer_clips_per_class=40, held_out=HELD_OUT_CLASSES
    ),
    # sized for a multi-hour CPU training run: more distinct mixtures than it can memorise
    "pretrain": MiniSetConfig(
        n_train=8000, n_validation=500, n_eval=1000, transfer_clips_per_class=40, held_out=HELD_OUT_CLASSES
    ),
}


def resolve_config(config: MiniSetConfig | str) -> MiniSetConfig:
    """A config, or the preset of that name."""
    if isinstance(config, MiniSetConfig):
        return config
    try:
        return PRESETS[config]
    except KeyError:
        raise ValueError(f"unknown MiniSet preset {config!r}; choose from {sorted(PRESETS)}") from None


@dataclass(frozen=True)
class BankItem:
    """One recording of the source bank (a row of SOURCES.tsv)."""

    file: str
    kind: str
    labels: tuple[str, ...]  # mids, primary first
    package: str
    licence: str
    group: str = ""  # near-duplicate group (SOURCES.tsv); the file itself when empty

    @property
    def primary(self) -> str:
        return self.labels[0]

    @property
    def family(self) -> str:
        return FAMILIES[self.kind]


def read_bank(sources_dir: str | Path = SOURCES_DIR) -> list[BankItem]:
    """Read SOURCES.tsv; checks every label is one of the 527 classes and every file exists."""
    sources_dir = Path(sources_dir)
    labels = load_class_labels()
    items = []
    with open(sources_dir / "SOURCES.tsv", newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh, delimiter="\t"), start=2):
            mids = tuple(row["labels"].split(","))
            unknown = [m for m in mids if m not in labels]
            if unknown or row["kind"] not in FAMILIES:
                raise ValueError(f"SOURCES.tsv:{line}: bad labels {unknown} or kind {row['kind']!r}")
            if not (sources_dir / row["file"]).is_file():
                raise FileNotFoundError(f"SOURCES.tsv:{line}: {row['file']} is missing")
            items.append(
                BankItem(
                    row["file"],
                    row["kind"],
                    mids,
                    row["package"],
                    row["licence"],
                    row.get("group") or Path(row["file"]).stem,
                )
            )
    return items


def read_reserved(path: str | Path) -> list[tuple[str, str, str]]:
    """(registry, package, path) rows of a ``reserved_sources.tsv``: recordings kept for an independent
    evaluation, which may never enter the bank (``path`` ``*`` reserves the whole package)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip() and not line.startswith("#")]
    for line, row in enumerate(csv.DictReader(lines, delimiter="\t"), start=2):
        if not row.get("package") or not row.get("path"):
            raise ValueError(f"{path}: row {line} needs registry, package and path columns")
        rows.append((row["registry"], row["package"], row["path"]))
    return rows


@dataclass(frozen=True)
class BankCoverage:
    """What the source bank holds, counted the way the book and the bank's README report it."""

    files: int  # shipped Ogg files (a speech stream is one file of several recordings)
    recordings: int  # source recordings used (every utterance of a speech stream counts)
    minutes: float
    groups: int  # near-duplicate groups: distinct recordings
    voices: int  # speech groups (one per speaker)
    classes: int  # classes labelled, own labels plus ancestors of the primary label
    classes_3_groups: int  # of them, with at least 3 distinct recordings (groups)
    named_share: float  # share of recordings whose labels come from their own name


def bank_coverage(sources_dir: str | Path = SOURCES_DIR) -> BankCoverage:
    """Count the bank's files, recordings, minutes, groups, voices and labelled classes (SOURCES.tsv)."""
    items = read_bank(sources_dir)
    with open(Path(sources_dir) / "SOURCES.tsv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    recordings = [int(r.get("recordings") or 1) for r in rows]
    named = sum(n for n, r in zip(recordings, rows) if r.get("labelled_by", "name") == "name")
    groups_of: dict[str, set[str]] = defaultdict(set)
    for item in items:
        for mid in label_closure(item):
            groups_of[mid].add(item.group)
    speech = load_class_labels().mid_of_name("Speech")
    return BankCoverage(
        files=len(items),
        recordings=sum(recordings),
        minutes=sum(float(r["seconds"]) for r in rows) / 60,
        groups=len({it.group for it in items}),
        voices=len({it.group for it in items if it.kind == "speech" and it.primary == speech}),
        classes=len(groups_of),
        classes_3_groups=sum(len(g) >= 3 for g in groups_of.values()),
        named_share=named / sum(recordings),
    )


def bank_checksum(sources_dir: str | Path = SOURCES_DIR) -> str:
    """sha256 over SOURCES.tsv and every bank file, to pin the bank a MiniSet was built from."""
    sources_dir = Path(sources_dir)
    h = hashlib.sha256((sources_dir / "SOURCES.tsv").read_bytes())
    for item in read_bank(sources_dir):
        h.update((sources_dir / item.file).read_bytes())
    return h.hexdigest()


def split_bank(
    items: Sequence[BankItem], seed: int, eval_fraction: float = 0.25, validation_fraction: float = 0.15
) -> dict[str, list[BankItem]]:
    """Assign each near-duplicate group (so each recording) to exactly one split (module docstring).

    Groups are stratified by the (family, primary label) of their first file, so every label with
    enough distinct groups is present in each split.
    """
    groups: dict[str, list[BankItem]] = defaultdict(list)
    for item in items:
        groups[item.group or item.file].append(item)
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for group in sorted(groups):
        first = min(groups[group], key=lambda it: it.file)
        strata[(first.family, first.primary)].append(group)
    rng = generator(seed, MiniSetStream.SPLIT_GROUPS)
    split: dict[str, list[BankItem]] = {s: [] for s in SPLITS}
    for key in sorted(strata):
        members = strata[key]
        n = len(members)
        n_eval = 0 if n < 2 else max(1, round(n * eval_fraction))
        n_val = 0 if n < 3 else max(1, round(n * validation_fraction))
        for rank, j in enumerate(rng.permutation(n)):
            name = "eval" if rank < n_eval else "validation" if rank < n_eval + n_val else "balanced_train"
            split[name] += sorted(groups[members[j]], key=lambda it: it.file)
    return split


def label_closure(item: BankItem) -> tuple[str, ...]:
    """The item's labels plus the ancestors of its primary label that are among the 527 classes.

    Where a node has several parents and one of them is among the item's own labels, only that
    parent is followed: a sheep's Bleat (under Sheep *and* Goat) must not become a Goat.
    """
    labels, ontology = load_class_labels(), load_ontology()
    closure = list(item.labels)
    frontier = [item.primary]
    while frontier:
        node = frontier.pop(0)
        parents = ontology.parents(node)
        parents = [p for p in parents if p in item.labels] or parents
        for parent in parents:
            if parent in labels and parent not in closure:
                closure.append(parent)
            frontier.append(parent)
    return tuple(closure)


# ------------------------------------------------------------------------------ mixing
@dataclass
class Placement:
    """One placed source in a clip (also one row of clip_sources.tsv)."""

    source: str
    kind: str
    onset: float
    offset: float
    gain_db: float
    labels: tuple[str, ...]


@dataclass
class Clip:
    ytid: str
    split: str
    audio: np.ndarray
    placements: list[Placement] = field(default_factory=list)

    @property
    def labels(self) -> tuple[str, ...]:
        out: list[str] = []
        for p in self.placements:
            out += [m for m in p.labels if m not in out]
        return tuple(out)


def coloured_noise(rng: np.random.Generator, n: int, colour: str) -> np.ndarray:
    """Unit-RMS pink (1/f power) or brown (1/f^2 power) noise, shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    spectrum /= f ** (0.5 if colour == "pink" else 1.0)
    x = np.fft.irfft(spectrum, n)
    return (x / np.sqrt(np.mean(x**2))).astype(np.float32)


def db(gain_db: float) -> float:
    return float(10 ** (gain_db / 20))


def loop_to(x: np.ndarray, n: int, fade: int = SR // 20) -> np.ndarray:
    """Repeat ``x`` with short cross-fades until it is ``n`` samples long (ambience beds)."""
    if len(x) >= n:
        return x[:n]
    fade = min(fade, len(x) // 4)
    ramp = np.linspace(0, 1, fade, dtype=np.float32)
    out = x.copy()
    while len(out) < n:
        head = out[:-fade] if fade else out
        joint = out[len(out) - fade :] * (1 - ramp) + x[:fade] * ramp
        out = np.concatenate([head, joint, x[fade:]])
    return out[:n]


class Mixer:
    """Builds clips from decoded bank recordings with the Zipf long-tailed prior."""

    def __init__(
        self, items: Sequence[BankItem], audio: dict[str, np.ndarray], seed: int, zipf_exponent: float = 1.0
    ) -> None:
        self.audio = audio
        self.closure = {it.file: label_closure(it) for it in items}
        groups = sorted({(it.family, it.primary) for it in items})
        rng = generator(seed, MiniSetStream.CLASS_RANKING)
        self.weight: dict[tuple[str, str], float] = {}
        for family in sorted({g[0] for g in groups}):
            members = [g for g in groups if g[0] == family]
            for rank, j in enumerate(rng.permutation(len(members))):
                self.weight[members[j]] = 1.0 / (rank + 1) ** zipf_exponent

    def pick(self, rng: np.random.Generator, pool: Sequence[BankItem], family: str) -> BankItem:
        """A recording of ``family``: a group by Zipf weight, then a member uniformly.

        Speech is not long-tailed: every speaker is equally likely.
        """
        by_group: dict[tuple[str, str], list[BankItem]] = defaultdict(list)
        for it in pool:
            if it.family == family:
                by_group[(it.family, it.primary)].append(it)
        keys = sorted(by_group)
        w = np.array([self.weight[k] if family != "speech" else len(by_group[k]) for k in keys])
        members = by_group[keys[rng.choice(len(keys), p=w / w.sum())]]
        return members[rng.integers(len(members))]

    def place(
        self,
        clip: Clip,
        rng: np.random.Generator,
        item: BankItem,
        seconds: float,
        gain_db: float,
        onset: float | None = None,
        loop: bool = False,
    ) -> None:
        x = self.audio[item.file]
        n = min(int(seconds * SR), len(clip.audio))
        if loop:
            x = loop_to(x, n)
        elif len(x) > n:
            start = rng.integers(0, len(x) - n + 1)
            x = x[start : start + n]
        if onset is None:
            onset = float(rng.uniform(0, (len(clip.audio) - len(x)) / SR))
        i = int(onset * SR)
        x = x[: len(clip.audio) - i]
        clip.audio[i : i + len(x)] += db(gain_db) * x
        clip.placements.append(
            Placement(
                item.file,
                item.kind,
                round(i / SR, 3),
                round((i + len(x)) / SR, 3),
                round(gain_db, 2),
                self.closure[item.file],
            )
        )

    def background(self, rng: np.random.Generator, n: int) -> np.ndarray:
        colour = "pink" if rng.random() < 0.5 else "brown"
        return coloured_noise(rng, n, colour) * db(rng.uniform(-65, -45))

    def finish(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Peak-limit to 0.95, then a random -6..0 dB output gain."""
        peak = float(np.abs(x).max())
        if peak > 0.95:
            x = x * (0.95 / peak)
        return x * db(rng.uniform(-6, 0))

    def natural_clip(self, item: BankItem, ytid: str, split: str) -> Clip:
        """One held-out recording alone from 0 s, zero-padded to 10 s (as PANNs pads short clips), with
        its own labels and their ancestors: the natural evaluation split."""
        x = self.audio[item.file][:CLIP_SAMPLES]
        clip = Clip(ytid, split, np.zeros(CLIP_SAMPLES, np.float32))
        clip.audio[: len(x)] = x
        clip.placements.append(
            Placement(item.file, item.kind, 0.0, round(len(x) / SR, 3), 0.0, self.closure[item.file])
        )
        return clip

    def tagging_clip(
        self, rng: np.random.Generator, pool: Sequence[BankItem], ytid: str, split: str, config: MiniSetConfig
    ) -> Clip:
        clip = Clip(ytid, split, self.background(rng, CLIP_SAMPLES))
        if rng.random() < config.p_speech:
            self.place(clip, rng, self.pick(rng, pool, "speech"), rng.uniform(3, 8), rng.uniform(-6, 0))
        if rng.random() < config.p_music:
            self.place(clip, rng, self.pick(rng, pool, "music"), rng.uniform(4, 8), rng.uniform(-14, -2))
        if rng.random() < config.p_ambience:
            self.place(
                clip,
                rng,
                self.pick(rng, pool, "ambience"),
                rng.uniform(5, 10),
                rng.uniform(-16, -4),
                loop=True,
            )
        n_events = int(rng.integers(0, config.max_events + 1))
        if not clip.placements:
            n_events = max(1, n_events)
        for _ in range(n_events):
            item = self.pick(rng, pool, "event")
            gain = rng.uniform(-12, 0)
            for _ in range(int(rng.integers(1, 4))):
                self.place(clip, rng, item, 4.0, gain + rng.uniform(-3, 3))
        clip.audio = self.finish(clip.audio, rng)
        return clip


# ------------------------------------------------------------------------------ building
@dataclass
class MiniSetSummary:
    """What a build produced (also written as ``build_info.json``)."""

    config: dict
    bank_sha256: str
    clips: dict[str, int]
    recordings: dict[str, int]
    groups: dict[str, int]
    class_counts: dict[str, dict[str, int]]
    transfer_classes: list[str]
    transfer_clips: int


def ytid_for(split: str, seed: int, index: int) -> str:
    """An 11-character YouTube-like id, unique per (split, seed, index)."""
    return f"ms{SPLIT_LETTER[split]}{seed % 100:02d}{index:06d}"


def write_wav(path: Path, x: np.ndarray) -> None:
    sf.write(path, float_to_int16(x), SR, subtype="PCM_16")


@dataclass(frozen=True)
class ClipJob:
    """Clip ``index`` of ``split``: all a worker needs, since every clip has its own random stream."""

    split: str
    index: int


class ClipWriter:
    """Makes one clip of a split and writes its WAV file under ``audios/<split>/``.

    Each clip is built from its own random stream (module docstring), so clips can be made in any
    order and in any process and the files are the same bytes: what lets :func:`clip_workers` spread
    a build over the CPUs (the pretrain preset's 8,000 mixtures take minutes on one core).
    """

    def __init__(
        self, audios: Path, mixer: Mixer, split: dict[str, list[BankItem]], config: MiniSetConfig
    ) -> None:
        self.audios, self.mixer, self.split, self.config = audios, mixer, split, config
        self.sizes = {
            "balanced_train": config.n_train,
            "validation": config.n_validation,
            "eval": config.n_eval,
        }

    def jobs(self, name: str) -> list[ClipJob]:
        """Every clip of split ``name``, in order."""
        n = len(self.split[NATURAL_SPLITS[name]]) if name in NATURAL_SPLITS else self.sizes[name]
        return [ClipJob(name, i) for i in range(n)]

    def __call__(self, job: ClipJob) -> Clip:
        """Make and write the clip; return it without its audio (what goes back to the parent)."""
        name, seed = job.split, self.config.seed
        ytid = ytid_for(name, seed, job.index)
        if name in NATURAL_SPLITS:
            clip = self.mixer.natural_clip(self.split[NATURAL_SPLITS[name]][job.index], ytid, name)
        else:
            rng = generator(seed, MiniSetStream[f"{name.upper()}_CLIPS"], job.index)
            clip = self.mixer.tagging_clip(rng, self.split[name], ytid, name, self.config)
        write_wav(self.audios / name / f"Y{ytid}.wav", clip.audio)
        return replace(clip, audio=np.zeros(0, np.float32))


_WORKER_WRITER: ClipWriter | None = None  # the writer a forked worker process inherited


def _install_writer(writer: ClipWriter) -> None:
    global _WORKER_WRITER
    _WORKER_WRITER = writer


def _write_in_worker(job: ClipJob) -> Clip:
    if _WORKER_WRITER is None:
        raise RuntimeError("clip worker started without a ClipWriter")
    return _WORKER_WRITER(job)


def worker_count(workers: int | None) -> int:
    """``workers``, checked; ``None`` means every CPU this process may run on (its affinity mask where
    the OS has one)."""
    if workers is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return workers


@contextmanager
def clip_workers(writer: ClipWriter, count: int) -> Iterator[Callable[[list[ClipJob]], Iterator[Clip]]]:
    """A function that runs ``writer`` over a list of jobs and yields the clips in job order, using
    ``count`` processes. Workers are forked, so they share the decoded source bank instead of each
    receiving a copy; where the OS cannot fork (Windows), or with one worker, this process makes
    every clip."""
    if count == 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield lambda jobs: map(writer, jobs)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(count, initializer=_install_writer, initargs=(writer,)) as pool:
        yield lambda jobs: pool.imap(_write_in_worker, jobs, chunksize=8)


def build_miniset(
    out_dir: str | Path,
    config: MiniSetConfig | str = "ci",
    sources_dir: str | Path = SOURCES_DIR,
    workers: int | None = None,
) -> MiniSetSummary:
    """Build the MiniSet (tagging splits + transfer set) into ``out_dir`` in AudioSet layout.

    Layout: ``audios/<split>/Y<id>.wav`` and ``<split>_segments.csv`` for the mixture splits
    ``balanced_train``, ``validation``, ``eval`` and the natural splits ``natural_validation``,
    ``natural_eval``, ``class_labels_indices.csv``, ``ontology.json``, ``strong_labels.tsv``,
    ``clip_sources.tsv``, ``transfer/`` and ``build_info.json``. An existing ``out_dir`` is replaced
    only if it is empty or an earlier MiniSet (has ``build_info.json``, or the ``BUILDING`` marker a
    build writes first and removes last, so an interrupted build is replaced too): nothing else is
    deleted. The clips are made in ``workers`` processes (default: every CPU this process may use;
    :func:`clip_workers`); the output is the same byte for byte with any number.
    """
    config = resolve_config(config)
    workers = worker_count(workers)
    out = Path(out_dir)
    _check_replaceable(out)
    items = read_bank(sources_dir)
    audio = {it.file: load_audio(Path(sources_dir) / it.file) for it in items}
    tagging = tagging_items(items, config.held_out)
    split = split_bank(tagging, config.seed, config.eval_fraction, config.validation_fraction)
    mixer = Mixer(items, audio, config.seed, config.zipf_exponent)

    _start_build(out)
    writer = ClipWriter(out / "audios", mixer, split, config)
    n_clips, class_counts = _write_clip_splits(out, writer, workers, items)
    kept = {it.file for it in tagging}
    transfer = build_transfer_set(
        out / "transfer", mixer, [it for it in items if it.file not in kept], config
    )
    summary = MiniSetSummary(
        config=asdict(config),
        bank_sha256=bank_checksum(sources_dir),
        clips=n_clips,
        recordings={k: len(v) for k, v in split.items()},
        groups={k: len({it.group for it in v}) for k, v in split.items()},
        class_counts=class_counts,
        transfer_classes=transfer,
        transfer_clips=len(transfer) * config.transfer_clips_per_class,
    )
    (out / "build_info.json").write_text(json.dumps(asdict(summary), indent=1, sort_keys=True) + "\n")
    (out / BUILDING).unlink()
    return summary


def _check_replaceable(out: Path) -> None:
    """Refuse an ``out`` that holds anything but an earlier MiniSet (:func:`build_miniset`), before
    any work is done: a build never deletes what it did not write."""
    ours = (out / "build_info.json").is_file() or (out / BUILDING).is_file()
    if out.exists() and any(out.iterdir()) and not ours:
        raise ValueError(f"{out} exists and is not a MiniSet (no build_info.json): refusing to replace it")


def _start_build(out: Path) -> None:
    """Empty ``out``, mark the build as under way (``BUILDING``) and copy the vocabulary and ontology."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / BUILDING).write_text(
        "a MiniSet build is under way or was interrupted; the next build replaces it\n"
    )
    shutil.copy(AUDIOSET_DIR / "class_labels_indices.csv", out / "class_labels_indices.csv")
    shutil.copy(AUDIOSET_DIR / "ontology.json", out / "ontology.json")


def _write_clip_splits(
    out: Path, writer: ClipWriter, workers: int, items: Sequence[BankItem]
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Make every clip of the mixture and natural splits in ``workers`` processes and write their
    segment lists, ``clip_sources.tsv`` and ``strong_labels.tsv``; return each split's number of clips
    and its clips per class name (most frequent first)."""
    labels = load_class_labels()
    explicit = {it.file: it.labels for it in items}  # strong labels: the sources' own labels, no ancestors
    provenance: list[list] = []
    strong: dict[str, list[Event]] = defaultdict(list)
    class_counts: dict[str, dict[str, int]] = {}
    n_clips = {}
    with clip_workers(writer, workers) as written:
        for name in (*SPLITS, *NATURAL_SPLITS):
            (out / "audios" / name).mkdir(parents=True)
            counts: Counter[str] = Counter()
            segments = []
            for clip in written(writer.jobs(name)):
                segments.append(Segment(clip.ytid, 0.0, 10.0, clip.labels))
                counts.update(labels.name_of(m) for m in clip.labels)
                for p in clip.placements:
                    provenance.append(
                        [clip.ytid, name, p.source, p.kind, p.onset, p.offset, p.gain_db, ",".join(p.labels)]
                    )
                    strong[f"Y{clip.ytid}"] += [
                        Event(p.onset, p.offset, labels.name_of(m), m) for m in explicit[p.source]
                    ]
            write_segments(
                out / f"{name}_segments.csv",
                segments,
                created=f"by the panns-lite MiniSet builder (seed {writer.config.seed})",
            )
            class_counts[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
            n_clips[name] = len(segments)
    write_table(
        out / "clip_sources.tsv",
        ["ytid", "split", "source", "kind", "onset", "offset", "gain_db", "labels"],
        provenance,
    )
    write_strong_labels(out / "strong_labels.tsv", strong)
    return n_clips, class_counts


def primary_labels(miniset_dir: str | Path, split: str) -> dict[str, str]:
    """The primary label (mid) of every clip of a natural split, by YTID (from ``clip_sources.tsv``).

    A natural clip is one recording, whose labels are its own (primary first) and their ancestors; a
    mixture clip has several sources and no primary label, so only the natural splits are accepted.
    """
    if split not in NATURAL_SPLITS:
        raise ValueError(
            f"only the natural splits {sorted(NATURAL_SPLITS)} have one primary label per clip, not {split!r}"
        )
    path = Path(miniset_dir) / "clip_sources.tsv"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; prepare the MiniSet first (python -m panns_lite prepare)"
        )
    with open(path, newline="", encoding="utf-8") as fh:
        return {
            row["ytid"]: row["labels"].split(",")[0]
            for row in csv.DictReader(fh, delimiter="\t")
            if row["split"] == split
        }


def write_table(path: Path, header: list[str], rows: list[list]) -> None:
    """A TSV (or, for a ``.csv`` name, comma-separated) table with a header row and \\n line ends."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="," if path.suffix == ".csv" else "\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def held_out_class(item: BankItem, classes: Sequence[str]) -> str | None:
    """The first of ``classes`` (names) among the item's labels and their ancestors, or None."""
    labels = load_class_labels()
    closure = label_closure(item)
    return next((name for name in classes if labels.mid_of_name(name) in closure), None)


def tagging_items(items: Sequence[BankItem], held_out: Sequence[str]) -> list[BankItem]:
    """The recordings the tagging splits are made of: all but those of the ``held_out`` classes."""
    return [it for it in items if held_out_class(it, held_out) is None]


def build_transfer_set(out: Path, mixer: Mixer, pool: Sequence[BankItem], config: MiniSetConfig) -> list[str]:
    """A single-label, ``transfer_folds``-fold task from the held-out recordings (``config.held_out``).

    Each clip holds one recording over a noise floor. Folds are assigned per near-duplicate group
    (never one recording, or a copy of it, in two folds), round-robin within each class, so every
    fold holds every class: a class needs at least ``transfer_folds`` groups.
    Writes ``audio/<class>-<k>.wav`` and ``transfer_labels.csv`` (filename, fold, label, mid, source).
    """
    by_class: dict[str, dict[str, list[BankItem]]] = {name: defaultdict(list) for name in config.held_out}
    for item in sorted(pool, key=lambda it: it.file):
        by_class[held_out_class(item, config.held_out)][item.group].append(item)
    short = {name: len(groups) for name, groups in by_class.items() if len(groups) < config.transfer_folds}
    if short:
        raise ValueError(
            f"held-out classes with fewer distinct recordings than the {config.transfer_folds} "
            f"transfer folds: {short}"
        )
    chosen = list(config.held_out)
    (out / "audio").mkdir(parents=True)
    labels = load_class_labels()
    rows = []
    n = int(config.transfer_seconds * SR)
    for c_index, name in enumerate(chosen):
        rng = generator(config.seed, MiniSetStream.TRANSFER_CLIPS, c_index)
        groups = [by_class[name][g] for g in sorted(by_class[name])]
        groups = [groups[j] for j in rng.permutation(len(groups))]
        for k in range(config.transfer_clips_per_class):
            r = k % len(groups)
            members = groups[r]
            item = members[(k // len(groups)) % len(members)]
            clip = Clip(f"{c_index}-{k}", "transfer", mixer.background(rng, n))
            loop = item.family in ("ambience", "music")
            mixer.place(clip, rng, item, config.transfer_seconds, rng.uniform(-6, 0), loop=loop)
            clip.audio = mixer.finish(clip.audio, rng)
            filename = f"{slug(name)}-{k:03d}.wav"
            write_wav(out / "audio" / filename, clip.audio)
            fold = r % config.transfer_folds + 1
            rows.append([filename, fold, name, labels.mid_of_name(name), item.file])
    write_table(out / "transfer_labels.csv", ["filename", "fold", "label", "mid", "source"], rows)
    return chosen


def slug(text: str) -> str:
    """Lower-case, alphanumerics joined by single hyphens (file names of bank items and transfer clips)."""
    return "-".join(filter(None, "".join(c if c.isalnum() else "-" for c in text.lower()).split("-")))


def prepare_miniset(
    out_dir: str | Path, config: MiniSetConfig | str = "ci", sources_dir: str | Path = SOURCES_DIR
) -> dict[str, Path]:
    """Build the MiniSet into ``out_dir`` unless an identical build is there, then pack both splits.

    Returns the packed HDF5 file of every split (``out_dir/packed/<split>.h5``, keys ``balanced_train``,
    ``validation``, ``eval``, ``natural_validation``, ``natural_eval``). Idempotent:
    a finished build with the same config *and the same source bank* (sha256) is reused, and packing
    (atomic, resumable) is skipped for files that exist. Any other build in ``out_dir`` is replaced,
    packed files included: a regenerated bank never leaves a stale MiniSet behind.
    """
    from panns_lite.packing import pack

    config = resolve_config(config)
    out = Path(out_dir)
    info = out / "build_info.json"
    built = json.loads(info.read_text()) if info.is_file() else {}
    wanted = json.loads(json.dumps(asdict(config)))  # as build_info.json holds it (tuples are lists there)
    if built.get("config") != wanted or built.get("bank_sha256") != bank_checksum(sources_dir):
        build_miniset(out, config, sources_dir)
    packed = {}
    for name in (*SPLITS, *NATURAL_SPLITS):
        target = out / "packed" / f"{name}.h5"
        if not target.is_file():
            target.parent.mkdir(exist_ok=True)
            pack(out / f"{name}_segments.csv", out / "audios" / name, target)
        packed[name] = target
    return packed
