"""The shipped source bank and the MiniSet builder (issue: foundation)."""

import csv
import hashlib
import json
import shutil
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from panns_lite.audioset import load_class_labels, read_segments
from panns_lite.miniset import (
    HELD_OUT_CLASSES,
    PRESETS,
    BankItem,
    MiniSetConfig,
    build_miniset,
    label_closure,
    primary_labels,
    read_bank,
    split_bank,
    tagging_items,
)
from panns_lite.paths import SOURCES_DIR

SMALL = MiniSetConfig(
    n_train=24, n_validation=8, n_eval=12, transfer_clips_per_class=10, held_out=HELD_OUT_CLASSES
)


@pytest.fixture(scope="module")
def bank() -> list[BankItem]:
    return read_bank()


@pytest.fixture(scope="module")
def small_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("miniset") / "small"
    build_miniset(out, SMALL)
    return out


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------------------- the bank
def test_label_closure_follows_the_labelled_parent_only(bank):
    labels = load_class_labels()
    sheep = next(it for it in bank if labels.name_of(it.primary) == "Bleat")
    names = {labels.name_of(m) for m in label_closure(sheep)}
    assert {"Bleat", "Sheep", "Livestock, farm animals, working animals", "Animal"} <= names
    assert "Goat" not in names


# ----------------------------------------------------------------------------- the split
def test_split_puts_each_group_in_exactly_one_split(bank):
    split = split_bank(bank, seed=0)
    files = [it.file for part in split.values() for it in part]
    assert sorted(files) == sorted(it.file for it in bank)
    group_split = {}
    for name, part in split.items():
        for it in part:
            assert group_split.setdefault(it.group, name) == name, it.group  # a group never straddles splits
    assert all(split[name] for name in ("balanced_train", "validation", "eval"))


def test_split_sizes_follow_the_fractions_per_label(bank):
    split = split_bank(bank, seed=0, eval_fraction=0.25, validation_fraction=0.15)
    where = {it.group: name for name, part in split.items() for it in part}
    strata = defaultdict(set)
    for it in bank:
        first = min((b for b in bank if b.group == it.group), key=lambda b: b.file)
        strata[(first.family, first.primary)].add(it.group)
    for groups in strata.values():
        n = len(groups)
        in_eval = sum(where[g] == "eval" for g in groups)
        in_val = sum(where[g] == "validation" for g in groups)
        assert in_eval == (0 if n < 2 else max(1, round(n * 0.25)))
        assert in_val == (0 if n < 3 else max(1, round(n * 0.15)))


def test_split_depends_on_seed(bank):
    a, b = split_bank(bank, seed=0), split_bank(bank, seed=1)
    assert {it.file for it in a["eval"]} != {it.file for it in b["eval"]}


# ----------------------------------------------------------------------------- the build
def test_layout(small_build):
    for name in (
        "balanced_train_segments.csv",
        "validation_segments.csv",
        "eval_segments.csv",
        "natural_validation_segments.csv",
        "natural_eval_segments.csv",
        "class_labels_indices.csv",
        "ontology.json",
        "strong_labels.tsv",
        "clip_sources.tsv",
        "build_info.json",
        "transfer/transfer_labels.csv",
    ):
        assert (small_build / name).is_file(), name
    train = read_segments(small_build / "balanced_train_segments.csv")
    assert len(train) == SMALL.n_train
    for seg in train:
        assert len(seg.ytid) == 11 and (seg.start, seg.end) == (0.0, 10.0)
        info = sf.info(small_build / "audios" / "balanced_train" / f"{seg.audio_name}.wav")
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (32000, 1, 320000, "PCM_16")
    assert len(list((small_build / "audios" / "eval").glob("Y*.wav"))) == SMALL.n_eval


def test_build_is_byte_identical_for_the_same_seed(small_build, tmp_path):
    again = tmp_path / "again"
    build_miniset(again, SMALL)
    assert tree_hashes(again) == tree_hashes(small_build)


def test_one_worker_and_several_write_the_same_bytes(small_build, tmp_path):
    # small_build used the default (every CPU); clips come from their own streams, so the order in
    # which processes make them cannot change a byte
    one = tmp_path / "one"
    build_miniset(one, SMALL, workers=1)
    three = tmp_path / "three"
    build_miniset(three, SMALL, workers=3)
    assert tree_hashes(one) == tree_hashes(small_build) == tree_hashes(three)


def test_zero_workers_is_refused(tmp_path):
    with pytest.raises(ValueError, match="workers must be at least 1"):
        build_miniset(tmp_path / "none", SMALL, workers=0)


def test_other_seed_gives_other_audio(small_build, tmp_path):
    other = tmp_path / "other"
    build_miniset(other, replace(SMALL, seed=1))
    assert tree_hashes(other)["eval_segments.csv"] != tree_hashes(small_build)["eval_segments.csv"]


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t" if path.suffix == ".tsv" else ","))


def test_eval_and_transfer_recordings_never_appear_in_train_clips(small_build, bank):
    provenance = read_tsv(small_build / "clip_sources.tsv")
    group = {it.file: it.group for it in bank}
    used = {
        name: {group[r["source"]] for r in provenance if r["split"] == name}
        for name in ("balanced_train", "validation", "eval")
    }
    assert all(used.values())
    assert not used["balanced_train"] & used["eval"] and not used["balanced_train"] & used["validation"]
    assert not used["validation"] & used["eval"]
    train = {r["source"] for r in provenance if r["split"] == "balanced_train"}
    transfer = {r["source"] for r in read_tsv(small_build / "transfer" / "transfer_labels.csv")}
    assert not transfer & train


def test_weak_labels_are_the_union_of_placed_sources(small_build):
    provenance = read_tsv(small_build / "clip_sources.tsv")
    placed = defaultdict(set)
    for r in provenance:
        placed[r["ytid"]].update(r["labels"].split(","))
    for seg in read_segments(small_build / "eval_segments.csv"):
        assert set(seg.labels) == placed[seg.ytid]


def test_strong_labels_lie_inside_the_clip_and_match_weak_labels(small_build):
    weak = {
        s.ytid: set(s.labels)
        for name in ("balanced_train", "validation", "eval", "natural_validation", "natural_eval")
        for s in read_segments(small_build / f"{name}_segments.csv")
    }
    rows = read_tsv(small_build / "strong_labels.tsv")
    assert rows
    for r in rows:
        onset, offset = float(r["start_time_seconds"]), float(r["end_time_seconds"])
        assert 0.0 <= onset < offset <= 10.0
        assert r["label"] in weak[r["segment_id"].removesuffix("_0")]


def test_natural_split_is_every_held_out_recording_alone_with_its_own_labels(small_build, bank):
    split = split_bank(
        tagging_items(bank, SMALL.held_out), SMALL.seed, SMALL.eval_fraction, SMALL.validation_fraction
    )
    provenance = read_tsv(small_build / "clip_sources.tsv")
    by_item = {it.file: it for it in bank}
    for natural, recordings in (("natural_eval", "eval"), ("natural_validation", "validation")):
        segments = read_segments(small_build / f"{natural}_segments.csv")
        rows = [r for r in provenance if r["split"] == natural]
        assert len(segments) == len(rows) == len(split[recordings])  # one recording per clip, all of them
        assert sorted(r["source"] for r in rows) == sorted(it.file for it in split[recordings])
        source_of = {r["ytid"]: r["source"] for r in rows}
        for seg in segments:
            item = by_item[source_of[seg.ytid]]
            assert seg.labels == label_closure(item)
            assert set(item.labels) <= set(seg.labels)
        ytid = segments[0].ytid
        x, sr = sf.read(small_build / "audios" / natural / f"Y{ytid}.wav", dtype="float32")
        assert (sr, len(x)) == (32000, 320000)
        source, _ = sf.read(SOURCES_DIR / source_of[ytid], dtype="float32")
        n = min(len(source), 320000)
        assert np.abs(x[:n] - source[:n]).max() < 1e-3  # unmixed: the recording itself, int16-rounded
        assert not x[n:].any()  # zero-padded
        primary = primary_labels(small_build, natural)
        assert primary == {seg.ytid: by_item[source_of[seg.ytid]].primary for seg in segments}


def test_only_natural_splits_have_primary_labels(small_build, tmp_path):
    with pytest.raises(ValueError, match="only the natural splits"):
        primary_labels(small_build, "eval")
    with pytest.raises(FileNotFoundError, match="prepare the MiniSet"):
        primary_labels(tmp_path, "natural_eval")


def test_transfer_set_is_the_held_out_classes_with_every_class_in_every_fold(small_build, bank):
    rows = read_tsv(small_build / "transfer" / "transfer_labels.csv")
    labels = load_class_labels()
    assert [r["label"] for r in rows[::10]] == list(HELD_OUT_CLASSES)  # 10 clips per class, in order
    group = {it.file: it.group for it in bank}
    fold_of = {}
    for r in rows:
        assert (
            fold_of.setdefault(group[r["source"]], r["fold"]) == r["fold"]
        )  # a recording (group) in one fold
        assert r["mid"] == labels.mid_of_name(r["label"])
        info = sf.info(small_build / "transfer" / "audio" / r["filename"])
        assert info.frames == 5 * 32000
    for c in HELD_OUT_CLASSES:  # every fold tests every class, and training keeps it whichever fold is out
        assert {r["fold"] for r in rows if r["label"] == c} == {"1", "2", "3", "4", "5"}


def test_held_out_classes_are_in_no_tagging_split(small_build):
    held_out = {load_class_labels().mid_of_name(name) for name in HELD_OUT_CLASSES}
    for split in ("balanced_train", "validation", "eval", "natural_validation", "natural_eval"):
        for seg in read_segments(small_build / f"{split}_segments.csv"):
            assert not held_out & set(seg.labels), (split, seg.ytid)
    assert len(held_out) == len(HELD_OUT_CLASSES)
    with pytest.raises(ValueError, match="fewer distinct recordings than the 5 transfer folds"):
        build_miniset(small_build.parent / "too-few", replace(SMALL, held_out=("Frog",)))


def test_ci_preset_label_distribution_is_long_tailed(tmp_path):
    """Computed on the (cheap) label part of the ci preset: a few frequent classes, many rare."""
    summary = build_miniset(
        tmp_path / "ci", replace(PRESETS["ci"], n_train=300, n_eval=10, transfer_clips_per_class=1)
    )
    counts = np.array(sorted(summary.class_counts["balanced_train"].values(), reverse=True))
    assert counts[0] > 0.4 * 300  # the head: ancestors such as Animal/Music/Speech
    assert np.median(counts) < 0.05 * 300  # the tail: most classes are rare
    assert (counts <= 3).sum() >= 20


def test_refuses_to_replace_a_folder_that_is_not_a_miniset(tmp_path):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ValueError, match="refusing"):
        build_miniset(precious, SMALL)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_an_interrupted_build_is_replaced(tmp_path):
    out = tmp_path / "ms"
    out.mkdir()
    (out / "BUILDING").write_text("killed half-way")
    (out / "audios").mkdir()
    build_miniset(out, SMALL)
    assert (out / "build_info.json").is_file() and not (out / "BUILDING").exists()


def test_prepare_rebuilds_when_the_bank_changes(tmp_path):
    from panns_lite.miniset import prepare_miniset

    bank = tmp_path / "bank"
    shutil.copytree(SOURCES_DIR, bank)
    prepare_miniset(tmp_path / "ms", SMALL, sources_dir=bank)
    before = (tmp_path / "ms" / "build_info.json").read_text()
    rows = (bank / "SOURCES.tsv").read_text().splitlines(keepends=True)
    (bank / "SOURCES.tsv").write_text("".join(rows[:-1]))  # one recording fewer
    prepare_miniset(tmp_path / "ms", SMALL, sources_dir=bank)
    after = json.loads((tmp_path / "ms" / "build_info.json").read_text())
    assert after["bank_sha256"] != json.loads(before)["bank_sha256"]


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown MiniSet preset"):
        build_miniset("/nonexistent", "huge")
    with pytest.raises(ValueError):
        MiniSetConfig(n_train=0)


def test_prepare_builds_and_packs_once(tmp_path):
    from panns_lite.datasets import PackedDataset
    from panns_lite.miniset import prepare_miniset

    packed = prepare_miniset(tmp_path / "ms", SMALL)
    assert len(PackedDataset(packed["balanced_train"])) == SMALL.n_train
    assert len(PackedDataset(packed["eval"])) == SMALL.n_eval
    assert len(PackedDataset(packed["validation"])) == SMALL.n_validation
    assert len(PackedDataset(packed["natural_eval"])) > 0
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "ms").rglob("*") if p.is_file()}
    assert prepare_miniset(tmp_path / "ms", SMALL) == packed
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing rebuilt or repacked
    prepare_miniset(tmp_path / "ms", replace(SMALL, seed=3))  # another config replaces the build
    assert json.loads((tmp_path / "ms" / "build_info.json").read_text())["config"]["seed"] == 3
