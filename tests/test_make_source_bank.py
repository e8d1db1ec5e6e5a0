"""The bank regeneration script's pure parts: refusing reserved and excluded files, near-duplicates,
speech streams and the hand-written MIDI phrases (the script itself downloads packages: never in CI)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import make_source_bank as bank  # noqa: E402  (a script, imported from scripts/)
from bank_catalog import SAMPLED  # noqa: E402

SR = bank.SAMPLE_RATE


def chirp(seconds: float, f0: float, seed: int) -> np.ndarray:
    """A gliding tone with noise bursts over a quiet noise floor: a recording with a distinctive envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * (f0 + 300 * t) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 1.3 * t))
    bursts = 0.05 * rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 3 * t) > 0.5)
    return (x + bursts + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def test_reserved_and_excluded_files_are_refused(tmp_path):
    reserved = tmp_path / "reserved.tsv"
    reserved.write_text(
        "# kept back\nregistry\tpackage\tpath\ndebian\twhole-pkg\t*\ndebian\tsome-pkg\tusr/share/a/dog.ogg\n"
    )
    whole, files = bank.reserved_filter(reserved)
    assert whole == {"whole-pkg"} and files == {("some-pkg", "usr/share/a/dog.ogg")}
    collector = bank.Bank(tmp_path, tmp_path, files)
    assert not collector.allowed("some-pkg", "usr/share/a/dog.ogg")
    assert collector.allowed("some-pkg", "usr/share/a/cat.ogg")
    assert not collector.allowed(
        "hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/voices/Robot/Laugh.ogg"
    )
    assert collector.refused == ["some-pkg usr/share/a/dog.ogg"]


def test_a_copy_is_a_near_duplicate_and_another_take_is_not():
    take = chirp(3.0, 400, seed=0)
    other = chirp(3.0, 400, seed=1)[::-1].copy()  # same kind of sound, another "take"
    fine = bank.envelope(take, bank.ENVELOPE_HOP // bank.ENVELOPE_STEPS)
    for start in (0, 40, 16_000, 17_000):  # cut anywhere, not only on a frame boundary
        cut = 0.5 * take[start : start + SR]  # a quieter cut of the same take
        assert bank.residual_db(bank.envelope(cut), fine) < bank.DUPLICATE_DB / 2, start
    assert bank.residual_db(bank.envelope(other[:SR]), fine) > 2 * bank.DUPLICATE_DB
    edit = 0.7 * take[40 : 40 + 5 * SR // 2]  # most of the take: candidate pairs need close mean spectra
    groups = bank.duplicate_groups(
        ["a", "b", "c", "s1", "s2"],
        [take, edit, other, take[:SR], other[:SR]],
        fixed={"s1": "voice", "s2": "voice"},
    )
    assert groups["a"] == groups["b"] != groups["c"]
    assert groups["s1"] == groups["s2"]  # one speaker's streams are one group, whatever their content


def test_speech_streams_use_every_utterance_once_and_stay_short():
    rng = np.random.default_rng(0)
    words = [0.3 * rng.standard_normal(int(rng.uniform(0.4, 1.2) * SR)).astype(np.float32) for _ in range(30)]
    streams = bank.speech_streams(words, "voice", seconds=4.0)
    used = [i for _, indices in streams for i in indices]
    assert len(used) == len(set(used)) and len(streams) >= 4
    assert all(len(x) <= 4 * SR for x, _ in streams)
    assert all(len(x) >= 2 * SR for x, _ in streams)


def test_midi_phrase_is_a_valid_type_0_file():
    for sampled in (SAMPLED[0], next(s for s in SAMPLED if s.drum)):
        data = bank.midi_phrase(sampled, seed=0)
        assert data[:4] == b"MThd" and int.from_bytes(data[8:10], "big") == 0
        length = int.from_bytes(data[18:22], "big")
        assert data[14:18] == b"MTrk" and len(data) == 22 + length
        assert data.endswith(b"\xff\x2f\x00")
        assert bank.midi_phrase(sampled, seed=0) == data != bank.midi_phrase(sampled, seed=1)


def test_residual_needs_enough_overlap():
    short = bank.envelope(chirp(0.2, 400, seed=0))
    fine = bank.envelope(chirp(3.0, 400, seed=0), bank.ENVELOPE_HOP // bank.ENVELOPE_STEPS)
    assert bank.residual_db(short, fine) == np.inf
    long = bank.envelope(chirp(3.0, 400, seed=0))
    assert bank.residual_db(long, bank.envelope(chirp(1.0, 400, seed=0), bank.ENVELOPE_HOP // 8)) == np.inf
