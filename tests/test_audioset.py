"""AudioSet metadata and the official segment CSV format (reference §5)."""

from pathlib import Path

import numpy as np
import pytest

from panns_lite.audioset import (
    NUM_CLASSES,
    Segment,
    load_class_labels,
    load_ontology,
    read_class_labels,
    read_segments,
    segment_targets,
    write_segments,
)

FIXTURE = Path(__file__).parent / "fixtures" / "balanced_train_segments_sample.csv"


def test_527_classes_indexed_in_order():
    labels = load_class_labels()
    assert len(labels) == NUM_CLASSES == 527
    assert labels.index("/m/09x0r") == 0 and labels.name_of("/m/09x0r") == "Speech"


def test_every_class_is_an_ontology_node_with_the_same_name():
    labels, ontology = load_class_labels(), load_ontology()
    assert len(ontology) == 632
    for mid, name in zip(labels.mids, labels.names):
        assert mid in ontology
        assert ontology.nodes[mid].name == name


def test_index_mid_name_round_trip():
    labels = load_class_labels()
    for i in (0, 74, 137, 526):
        mid = labels.mids[i]
        assert labels.index(mid) == i
        assert labels.mid_of_name(labels.name_of(mid)) == mid


def test_unknown_mid_and_name_raise_naming_them():
    labels = load_class_labels()
    with pytest.raises(KeyError, match="/m/nope"):
        labels.index("/m/nope")
    with pytest.raises(KeyError, match="Unicorn"):
        labels.index_of_name("Unicorn")


def test_ontology_ancestors_and_children():
    labels, ontology = load_class_labels(), load_ontology()
    bark, dog = labels.mid_of_name("Bark"), labels.mid_of_name("Dog")
    assert dog in ontology.parents(bark)
    assert bark in ontology.children(dog)
    ancestors = [ontology.nodes[m].name for m in ontology.ancestors(bark)]
    assert ancestors[0] == "Dog" and "Animal" in ancestors


def test_multi_parent_node_lists_all_parents():
    labels, ontology = load_class_labels(), load_ontology()
    parents = {ontology.nodes[m].name for m in ontology.parents(labels.mid_of_name("Bleat"))}
    assert {"Sheep", "Goat"} <= parents


def test_read_real_balanced_train_rows():
    segments = read_segments(FIXTURE)
    assert len(segments) == 21
    first = segments[0]
    assert first == Segment("--PJHxphWEs", 30.0, 40.0, ("/m/09x0r", "/t/dd00088"))
    assert first.line == 4 and first.audio_name == "Y--PJHxphWEs"


def test_csv_round_trip_keeps_real_rows_byte_identical(tmp_path):
    segments = read_segments(FIXTURE)
    out = tmp_path / "out.csv"
    write_segments(out, segments, created="Sun Mar  5 10:54:31 2017")
    original_rows = FIXTURE.read_text().splitlines()[3:]
    assert out.read_text().splitlines()[3:] == original_rows
    assert read_segments(out) == segments
    header = out.read_text().splitlines()[:3]
    assert header[0] == "# Segments csv created Sun Mar  5 10:54:31 2017"
    assert header[1].startswith(f"# num_ytids={len(segments)}, num_segs={len(segments)}")


def test_malformed_row_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('# a\n# b\n# c\nabc, 0.000, 10.000, "/m/09x0r"\nthis is not a row\n')
    with pytest.raises(ValueError, match=r"bad.csv:5"):
        read_segments(bad)


def test_a_segment_listed_twice_is_an_error_naming_both_lines(tmp_path):
    bad = tmp_path / "twice.csv"
    bad.write_text(
        '# a\n# b\n# c\nabc, 0.000, 10.000, "/m/09x0r"\nxyz, 0.000, 10.000, "/m/04rlf"\n'
        'abc, 30.000, 40.000, "/m/04rlf"\n'
    )
    with pytest.raises(
        ValueError, match=r"twice.csv:6: segment abc is listed twice \(lines 4 and 6\); remove one"
    ):
        read_segments(bad)


def test_row_without_labels_is_an_error(tmp_path):
    bad = tmp_path / "empty.csv"
    bad.write_text('# a\n# b\n# c\nabc, 0.000, 10.000, ""\n')
    with pytest.raises(ValueError, match="no labels"):
        read_segments(bad)


def test_targets_are_multi_hot():
    labels = load_class_labels()
    segments = read_segments(FIXTURE)
    targets = segment_targets(segments, labels)
    assert targets.shape == (21, 527) and targets.dtype == np.bool_
    assert targets.sum() == sum(len(s.labels) for s in segments)
    assert targets[0, labels.index("/m/09x0r")]


def test_unknown_label_in_csv_names_the_line(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text('# a\n# b\n# c\nabc, 0.000, 10.000, "/m/09x0r"\ndef, 0.000, 10.000, "/m/09x0r,/m/bogus"\n')
    with pytest.raises(ValueError, match=r"x.csv:5.*/m/bogus"):
        segment_targets(read_segments(csv), load_class_labels(), source=str(csv))


def test_class_labels_reader_rejects_gaps(tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text('index,mid,display_name\n0,/m/a,"A"\n2,/m/b,"B"\n')
    with pytest.raises(ValueError, match="expected 1"):
        read_class_labels(bad)
