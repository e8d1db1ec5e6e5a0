"""HDF5 packing in PANNs' layout (reference §5): decoding, skipping instead of all-zero rows, label
checks, atomic write and resuming after an exception or a SIGKILL."""

import hashlib
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf

from panns_lite import packing
from panns_lite.audio import CLIP_SAMPLES, PANNS_SAMPLE_RATE
from panns_lite.audioset import Segment, load_class_labels, write_segments
from panns_lite.packing import pack, packed_info

SR = PANNS_SAMPLE_RATE
SPEECH, MUSIC, DOG = "/m/09x0r", "/m/04rlf", "/m/0bt9lr"
# CSV order; ytids are 11 characters like YouTube's. Rows 2, 4 and 7 cannot be packed.
ROWS = [
    ("stereo44k_1", (SPEECH, MUSIC)),  # stereo, 44.1 kHz, 1 kHz sine
    ("emptywav__2", (SPEECH,)),  # a wav with no samples
    ("short0s2__3", (MUSIC,)),  # 0.2 s
    ("corruptwav4", (DOG,)),  # random bytes named .wav
    ("long30s___5", (DOG, MUSIC)),  # 30 s
    ("flac16k___6", (SPEECH,)),  # FLAC, 16 kHz, 5 s, 440 Hz sine
    ("missingfil7", (MUSIC,)),  # no file at all
    ("prefrwav__8", (DOG,)),  # both .wav and .flac: the .wav is used
]
PACKED = [f"Y{ytid}.wav" for ytid, _ in ROWS if ytid not in ("emptywav__2", "corruptwav4", "missingfil7")]
REAL_LOAD_AUDIO = packing.load_audio


def sine(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def noise(seconds: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, int(seconds * SR)).astype(np.float32)


def write_csv(path: Path, rows: list[tuple[str, tuple[str, ...]]]) -> Path:
    write_segments(
        path, [Segment(ytid, 0.0, 10.0, mids) for ytid, mids in rows], "2017-01-01 00:00:00 (test)"
    )
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Audio for ROWS, its CSV, and one uninterrupted pack of it (the reference)."""
    root = tmp_path_factory.mktemp("corpus")
    audio = root / "audio"
    audio.mkdir()
    sources = {"short": noise(0.2, 1), "long": noise(30.0, 2), "prefer": noise(0.5, 3)}
    sf.write(
        audio / "Ystereo44k_1.wav",
        np.stack([sine(1000, 10, 44100, 0.5), sine(1000, 10, 44100, 0.3)], 1),
        44100,
    )
    sf.write(audio / "Yemptywav__2.wav", np.zeros(0, np.float32), SR)
    sf.write(audio / "Yshort0s2__3.wav", sources["short"], SR, subtype="FLOAT")
    (audio / "Ycorruptwav4.wav").write_bytes(np.random.default_rng(4).bytes(4096))
    sf.write(audio / "Ylong30s___5.wav", sources["long"], SR, subtype="FLOAT")
    sf.write(audio / "Yflac16k___6.flac", sine(440, 5, 16000), 16000)
    sf.write(audio / "Yprefrwav__8.wav", sources["prefer"], SR, subtype="FLOAT")
    sf.write(audio / "Yprefrwav__8.flac", sine(300, 0.5, SR), SR)
    csv = write_csv(root / "segments.csv", ROWS)
    reference = root / "reference.h5"
    return {
        "audio": audio,
        "csv": csv,
        "sources": sources,
        "reference": reference,
        "report": pack(csv, audio, reference),
    }


def contents(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as h5:
        out = {key: h5[key][:] for key in h5}
        out.update({f"attr:{key}": np.asarray(value) for key, value in h5.attrs.items()})
    return out


def assert_same_contents(path: Path, reference: Path) -> None:
    got, want = contents(path), contents(reference)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key].dtype == want[key].dtype and np.array_equal(got[key], want[key]), key


def row(corpus: dict, ytid: str) -> np.ndarray:
    """A packed waveform as float, found by name."""
    with h5py.File(corpus["reference"], "r") as h5:
        index = list(h5["audio_name"][:]).index(f"Y{ytid}.wav".encode())
        return h5["waveform"][index].astype(np.float64) / 32767


def peak_hz(x: np.ndarray) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(x))) * SR / len(x))


class Decoder:
    """Stands in for ``load_audio``: records the stems decoded and raises ``interrupt`` on call
    ``stop_at``."""

    def __init__(
        self, stop_at: int | None = None, interrupt: type[BaseException] = KeyboardInterrupt
    ) -> None:
        self.stems: list[str] = []
        self.stop_at, self.interrupt = stop_at, interrupt

    def __call__(self, path: Path, sample_rate: int) -> np.ndarray:
        self.stems.append(Path(path).stem)
        if len(self.stems) == self.stop_at:
            raise self.interrupt("stopped by the test")
        return REAL_LOAD_AUDIO(path, sample_rate)


def decoding(
    monkeypatch: pytest.MonkeyPatch,
    stop_at: int | None = None,
    interrupt: type[BaseException] = KeyboardInterrupt,
) -> Decoder:
    decoder = Decoder(stop_at, interrupt)
    monkeypatch.setattr(packing, "load_audio", decoder)
    return decoder


def interrupted_pack(corpus: dict, out: Path, monkeypatch: pytest.MonkeyPatch, stop_at: int) -> Decoder:
    decoder = decoding(monkeypatch, stop_at)
    with pytest.raises(KeyboardInterrupt):
        pack(corpus["csv"], corpus["audio"], out)
    return decoder


# --------------------------------------------------------------------------- layout and decoding
def test_layout_is_panns(corpus: dict) -> None:
    labels = load_class_labels()
    with h5py.File(corpus["reference"], "r") as h5:
        assert set(h5) == {"audio_name", "waveform", "target"}
        assert h5["audio_name"].dtype == np.dtype("S20")
        assert h5["waveform"].dtype == np.int16 and h5["waveform"].shape == (5, CLIP_SAMPLES)
        assert h5["target"].dtype == bool and h5["target"].shape == (5, 527)
        assert h5.attrs["sample_rate"] == 32000 and h5.attrs["sample_rate"].dtype == np.int32
        assert [name.decode() for name in h5["audio_name"][:]] == PACKED
        mids = dict(ROWS)
        for name, target in zip(PACKED, h5["target"][:]):
            assert np.array_equal(target, labels.multi_hot(mids[name[1:12]]))
        digest = hashlib.sha256(h5["waveform"][:].tobytes()).hexdigest()
        assert h5.attrs["waveform_sha256"] == digest  # our addition: the key of the log-mel caches
    assert packed_info(corpus["reference"]) == {
        "n": 5,
        "sample_rate": 32000,
        "classes": 527,
        "names": PACKED,
        "waveform_sha256": digest,
    }
    assert corpus["report"].packed == 5 and corpus["report"].out_path == corpus["reference"]


def test_stereo_44k_becomes_mono_32k(corpus: dict) -> None:
    x = row(corpus, "stereo44k_1")
    assert peak_hz(x) == pytest.approx(1000, abs=0.2)  # a wrong rate would move the sine
    assert np.abs(x[1000:-1000]).max() == pytest.approx(0.4, abs=0.01)  # mean of the 0.5 and 0.3 channels


def test_short_clip_is_zero_padded_at_the_end(corpus: dict) -> None:
    x, source = row(corpus, "short0s2__3"), corpus["sources"]["short"]
    np.testing.assert_allclose(x[: len(source)], source, atol=1 / 32767)
    assert not x[len(source) :].any()


def test_long_clip_is_truncated_to_its_first_10_s(corpus: dict) -> None:
    np.testing.assert_allclose(
        row(corpus, "long30s___5"), corpus["sources"]["long"][:CLIP_SAMPLES], atol=1 / 32767
    )


def test_other_extensions_are_found_and_wav_is_preferred(corpus: dict) -> None:
    flac = row(corpus, "flac16k___6")
    assert peak_hz(flac[: 5 * SR]) == pytest.approx(440, abs=0.5) and not flac[5 * SR :].any()
    source = corpus["sources"]["prefer"]
    np.testing.assert_allclose(row(corpus, "prefrwav__8")[: len(source)], source, atol=1 / 32767)


def test_unreadable_files_are_skipped_and_reported_never_zero_rows(corpus: dict) -> None:
    report = corpus["report"]
    assert [name for name, _ in report.skipped] == [
        "Yemptywav__2.wav",
        "Ycorruptwav4.wav",
        "Ymissingfil7.wav",
    ]
    reasons = [reason for _, reason in report.skipped]
    assert (
        "no samples" in reasons[0]
        and "cannot decode" in reasons[1]
        and "no Ymissingfil7.* file" in reasons[2]
    )
    with h5py.File(corpus["reference"], "r") as h5:
        assert np.abs(h5["waveform"][:]).max(axis=1).all() and h5["target"][:].any(axis=1).all()
    summary = report.summary()
    assert summary.startswith("packed 5 clips") and "skipped 3" in summary
    assert all(name in summary for name, _ in report.skipped)


# --------------------------------------------------------------------------- unknown labels
@pytest.fixture
def bad_label_csv(tmp_path: Path) -> Path:
    """Line 6 (after 3 header lines) has a label id outside the 527 classes."""
    return write_csv(
        tmp_path / "bad.csv",
        [("short0s2__3", (MUSIC,)), ("prefrwav__8", (DOG,)), ("long30s___5", (DOG, "/m/notaclass"))],
    )


def test_unknown_label_fails_naming_the_line_before_any_decoding(
    corpus: dict, bad_label_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder = decoding(monkeypatch)
    with pytest.raises(ValueError, match=re.escape(f"{bad_label_csv}:6") + ".*/m/notaclass"):
        pack(bad_label_csv, corpus["audio"], tmp_path / "out.h5")
    assert decoder.stems == [] and list(tmp_path.iterdir()) == [bad_label_csv]


def test_unknown_label_rows_can_be_skipped_and_reported(
    corpus: dict, bad_label_csv: Path, tmp_path: Path
) -> None:
    report = pack(bad_label_csv, corpus["audio"], tmp_path / "out.h5", unknown_labels="skip")
    assert report.packed == 2 and len(report.skipped) == 1
    name, reason = report.skipped[0]
    assert name == "Ylong30s___5.wav" and f"{bad_label_csv}:6" in reason and "/m/notaclass" in reason
    assert packed_info(tmp_path / "out.h5")["names"] == ["Yshort0s2__3.wav", "Yprefrwav__8.wav"]
    with pytest.raises(ValueError, match="unknown_labels"):
        pack(bad_label_csv, corpus["audio"], tmp_path / "out.h5", unknown_labels="ignore")  # type: ignore[arg-type]


def test_a_name_too_long_for_s20_is_refused_not_cut(corpus: dict, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "long_id.csv", [("x" * 16, (MUSIC,))])  # "Y" + 16 + ".wav" = 21 bytes
    with pytest.raises(ValueError, match=re.escape(f"{csv}:4") + ".*S20"):
        pack(csv, corpus["audio"], tmp_path / "out.h5")


# --------------------------------------------------------------------------- atomic and resumable
def test_interrupted_pack_leaves_no_output_and_keeps_an_older_one(
    corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = tmp_path / "fresh.h5"
    interrupted_pack(corpus, fresh, monkeypatch, stop_at=3)
    assert not fresh.exists()
    with pytest.raises(ValueError, match="unfinished"):
        packed_info(tmp_path / "fresh.h5.partial")

    older = tmp_path / "older.h5"
    shutil.copy(corpus["reference"], older)
    before = older.read_bytes()
    decoding(monkeypatch, stop_at=2, interrupt=RuntimeError)
    with pytest.raises(RuntimeError):
        pack(corpus["csv"], corpus["audio"], older)
    assert older.read_bytes() == before


def test_resume_after_an_exception_skips_done_rows_and_matches_an_uninterrupted_pack(
    corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.h5"
    first = interrupted_pack(corpus, out, monkeypatch, stop_at=5)  # stops while decoding the 30 s clip
    assert first.stems[-1] == "Ylong30s___5"
    second = decoding(monkeypatch)
    report = pack(corpus["csv"], corpus["audio"], out)
    assert second.stems == ["Ylong30s___5", "Yflac16k___6", "Yprefrwav__8"]
    assert report.resumed_rows == 4 and report.discarded_partial is None
    assert report.skipped == corpus["report"].skipped and report.packed == 5  # skips before the stop are kept
    assert_same_contents(out, corpus["reference"])
    assert not out.with_name("out.h5.partial").exists()


def test_resume_after_sigkill_keeps_the_committed_rows(
    corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.h5"
    killer = (
        "import os, signal, sys\n"
        "from panns_lite import packing\n"
        "packing.FLUSH_EVERY = 2\n"
        "real, calls = packing.load_audio, []\n"
        "def load(path, rate):\n"
        "    calls.append(path)\n"
        "    if len(calls) == 5: os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return real(path, rate)\n"
        "packing.load_audio = load\n"
        "packing.pack(*sys.argv[1:])\n"
    )
    run = subprocess.run([sys.executable, "-c", killer, str(corpus["csv"]), str(corpus["audio"]), str(out)])
    assert run.returncode == -signal.SIGKILL and not out.exists()
    decoder = decoding(monkeypatch)
    report = pack(corpus["csv"], corpus["audio"], out)
    assert report.resumed_rows == 4 and decoder.stems == ["Ylong30s___5", "Yflac16k___6", "Yprefrwav__8"]
    assert_same_contents(out, corpus["reference"])


def test_partial_file_of_another_csv_is_not_reused(
    corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.h5"
    interrupted_pack(corpus, out, monkeypatch, stop_at=4)
    other = write_csv(tmp_path / "other.csv", [("short0s2__3", (MUSIC,)), ("prefrwav__8", (DOG,))])
    decoder = decoding(monkeypatch)
    report = pack(other, corpus["audio"], out)
    assert "another CSV" in report.discarded_partial and report.resumed_rows == 0
    assert decoder.stems == ["Yshort0s2__3", "Yprefrwav__8"]
    assert packed_info(out)["names"] == ["Yshort0s2__3.wav", "Yprefrwav__8.wav"]


def test_unreadable_partial_file_is_discarded(corpus: dict, tmp_path: Path) -> None:
    out = tmp_path / "out.h5"
    out.with_name("out.h5.partial").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))  # cut short by a crash
    report = pack(corpus["csv"], corpus["audio"], out)
    assert "unreadable" in report.discarded_partial and "started over" in report.summary()
    assert_same_contents(out, corpus["reference"])


def test_partial_file_disagreeing_with_its_progress_record_is_discarded(
    corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.h5"
    interrupted_pack(corpus, out, monkeypatch, stop_at=4)  # 3 rows done
    with h5py.File(out.with_name("out.h5.partial"), "r+") as h5:
        h5["_pack"].attrs["rows_done"] = 5  # claims the 30 s clip, which is not in its datasets
    decoder = decoding(monkeypatch)
    report = pack(corpus["csv"], corpus["audio"], out)
    assert "do not match" in report.discarded_partial and len(decoder.stems) == 7
    assert_same_contents(out, corpus["reference"])


def test_resume_false_starts_over(corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.h5"
    interrupted_pack(corpus, out, monkeypatch, stop_at=4)
    decoder = decoding(monkeypatch)
    report = pack(corpus["csv"], corpus["audio"], out, resume=False)
    assert report.resumed_rows == 0 and "resume=False" in report.discarded_partial
    assert len(decoder.stems) == 7  # every row with a file, the missing one is never decoded
    assert_same_contents(out, corpus["reference"])


def test_files_with_nan_inf_or_absurd_samples_are_skipped_and_listed_like_corrupt_ones(
    tmp_path: Path,
) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    rows = [
        ("goodclip__1", (SPEECH,)),
        ("nansample_2", (DOG,)),
        ("infsample_3", (DOG,)),
        ("hugesampl_4", (MUSIC,)),
    ]
    for (ytid, _), bad in zip(rows, (None, np.nan, -np.inf, 5e3)):
        x = noise(1.0, 5)
        if bad is not None:
            x[SR // 2] = bad
        sf.write(audio / f"Y{ytid}.wav", x, SR, subtype="FLOAT")
    report = pack(write_csv(tmp_path / "segments.csv", rows), audio, tmp_path / "out.h5")
    assert report.packed == 1
    assert [name for name, _ in report.skipped] == [
        "Ynansample_2.wav",
        "Yinfsample_3.wav",
        "Yhugesampl_4.wav",
    ]
    for (name, reason), value in zip(report.skipped, ("nan", "-inf", "5000")):
        assert reason.startswith(f"{audio / name}: sample 16000 (0.500 s) is {value}; audio must be finite")
    with h5py.File(tmp_path / "out.h5", "r") as h5:
        assert [n.decode() for n in h5["audio_name"][:]] == ["Ygoodclip__1.wav"]


def test_a_full_disk_stops_cleanly_keeps_the_last_commit_and_resumes(
    corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    from collections import namedtuple

    out = tmp_path / "out.h5"
    monkeypatch.setattr(packing, "FLUSH_EVERY", 2)
    checks, usage = [], namedtuple("usage", "total used free")

    def filling_disk(path):  # room for the first commit only
        checks.append(path)
        return usage(10**12, 10**12, 10**12 if len(checks) == 1 else packing.DISK_MARGIN)

    monkeypatch.setattr(packing.shutil, "disk_usage", filling_disk)
    with pytest.raises(OSError) as error:
        pack(corpus["csv"], corpus["audio"], out)
    assert error.value.errno == errno.ENOSPC and str(out) in error.value.filename
    assert not out.exists() and out.with_name("out.h5.partial").is_file()
    monkeypatch.undo()  # space again
    report = pack(corpus["csv"], corpus["audio"], out)
    assert report.resumed_rows == 2 and report.packed == 5 and report.skipped == corpus["report"].skipped
    assert_same_contents(out, corpus["reference"])
