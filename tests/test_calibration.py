"""panns_lite.calibration and the ``calibrate`` command: per-class thresholds chosen on validation clips."""

import json

import numpy as np
import pytest
from conftest import make_tiny_split
from test_inference import calibrated_cnn14

from panns_lite.__main__ import main
from panns_lite.audioset import load_class_labels, read_segments
from panns_lite.calibration import Thresholds, calibrate, clip_f1, decision_counts, f1_thresholds
from panns_lite.checkpoints import save_checkpoint
from panns_lite.datasets import PackedDataset
from panns_lite.events import read_strong_labels
from panns_lite.inference import Tagger

LABELS = load_class_labels()


def test_each_class_gets_its_best_f1_candidate_ties_to_the_higher_and_unseen_classes_the_highest():
    targets = np.array([[1, 0, 1, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=bool)
    outputs = np.array(
        [
            [0.7, 0.1, 0.25, 0.9],
            [0.6, 0.35, 0.1, 0.2],  # class 1: a negative at 0.35
            [0.3, 0.45, 0.9, 0.1],  # class 1's positive at 0.45; class 2: positives 0.25, 0.9
            [0.1, 0.2, 0.4, 0.3],
        ]
    )  # class 2: a negative at 0.4
    chosen = f1_thresholds(targets, outputs, [0.2, 0.5, 0.4, 0.8])
    # class 0: 0.4 and 0.5 both separate (F1 1) -> the higher; class 1: only 0.4 separates;
    # class 2: 0.2 keeps both positives and the negative (F1 0.8), 0.8 keeps one (F1 0.667): 0.2;
    # class 3: no positive -> the highest candidate
    np.testing.assert_array_equal(chosen, [0.5, 0.4, 0.2, 0.8])


def test_clip_f1_is_micro_over_clip_class_pairs():
    targets = np.array([[1, 0], [1, 1], [0, 0]], dtype=bool)
    outputs = np.array([[0.9, 0.6], [0.2, 0.7], [0.1, 0.4]])
    # decisions at 0.5: (0,0) TP, (0,1) FP, (1,0) FN, (1,1) TP -> F1 = 2·2 / (2·2 + 1 + 1)
    assert clip_f1(targets, outputs, 0.5) == pytest.approx(4 / 6)
    assert clip_f1(targets, outputs, np.array([0.1, 0.65])) == pytest.approx(2 * 3 / (2 * 3 + 1 + 0))


@pytest.mark.parametrize("candidates", [[], [0.0, 0.5], [0.5, 1.5]])
def test_candidates_outside_the_unit_interval_are_refused(candidates):
    with pytest.raises(ValueError, match="candidate thresholds"):
        f1_thresholds(np.zeros((2, 2), bool), np.zeros((2, 2)), candidates)


@pytest.fixture(scope="module")
def validation(tmp_path_factory):
    """Eight tiny clips and strong labels covering each labelled class over the whole clip."""
    root = tmp_path_factory.mktemp("calib")
    packed = make_tiny_split(root, "validation", 8, 5)
    rows = ["segment_id\tstart_time_seconds\tend_time_seconds\tlabel"]
    for segment in read_segments(root / "validation_segments.csv"):
        rows += [f"{segment.ytid}_0\t0.000\t10.000\t{mid}" for mid in segment.labels]
    strong = root / "strong_labels.tsv"
    strong.write_text("\n".join(rows) + "\n")
    return packed, strong


@pytest.fixture(scope="module")
def network():
    return calibrated_cnn14()


@pytest.fixture(scope="module")
def thresholds(network, validation):
    packed, strong = validation
    return calibrate(Tagger(network), PackedDataset(packed), read_strong_labels(strong), [0.1, 0.3, 0.5, 0.7])


def test_calibrate_chooses_clip_thresholds_on_the_taggers_clip_outputs(network, validation, thresholds):
    packed, _ = validation
    data = PackedDataset(packed)
    outputs = np.stack(
        [Tagger(network).analyze(data[i][0], data.sample_rate).clipwise for i in range(len(data))]
    )
    np.testing.assert_array_equal(thresholds.clip, f1_thresholds(data.targets, outputs, [0.1, 0.3, 0.5, 0.7]))
    assert thresholds.chosen_on["clips"] == thresholds.chosen_on["clips_with_strong_labels"] == 8


def test_event_thresholds_are_candidates_and_unlabelled_classes_get_the_highest(thresholds):
    assert thresholds.event is not None and set(thresholds.event) <= {0.1, 0.3, 0.5, 0.7}
    assert np.all(thresholds.event[3:] == 0.7)  # the tiny clips carry only the first three classes


def test_thresholds_survive_a_round_trip(thresholds, tmp_path):
    loaded = Thresholds.load(thresholds.save(tmp_path / "t.json"), LABELS)
    np.testing.assert_array_equal(loaded.clip, thresholds.clip)
    np.testing.assert_array_equal(loaded.event, thresholds.event)
    assert loaded.median_seconds == thresholds.median_seconds and loaded.candidates == thresholds.candidates


def test_present_lists_classes_over_their_threshold_most_probable_first(thresholds):
    clipwise = np.zeros(len(LABELS))
    clipwise[[4, 9, 20]] = [0.95, 0.99, 0.2]
    assert thresholds.present(clipwise).tolist() == [9, 4]


def test_a_thresholds_file_for_other_classes_or_not_one_is_refused(thresholds, tmp_path):
    path = thresholds.save(tmp_path / "t.json")
    other = load_class_labels().__class__(LABELS.mids[:10], LABELS.names[:10])
    with pytest.raises(ValueError, match="t.json: thresholds for 527 other classes"):
        Thresholds.load(path, other)
    (tmp_path / "bad.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="bad.json: not a thresholds file"):
        Thresholds.load(tmp_path / "bad.json", LABELS)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Thresholds.load(tmp_path / "missing.json", LABELS)


def test_calibrate_needs_strong_labels_for_these_clips(network, validation, tmp_path):
    packed, _ = validation
    strong = {"Ysomeotherclip": []}
    with pytest.raises(ValueError, match="none of the 8 calibration clips has strong labels"):
        calibrate(Tagger(network), PackedDataset(packed), strong)


def test_cli_calibrate_then_tag_with_the_thresholds(network, validation, tmp_path, capsys):
    packed, strong = validation
    checkpoint = save_checkpoint(network, tmp_path / "model.pt")
    out = tmp_path / "thresholds.json"
    args = [
        "calibrate",
        str(packed),
        "--checkpoint",
        str(checkpoint),
        "--strong-labels",
        str(strong),
        "--out",
        str(out),
        "--candidates",
        "0.1",
        "0.3",
        "0.5",
        "0.7",
    ]
    assert main(args) == 0
    assert "event thresholds on the 8 with strong labels" in capsys.readouterr().out
    assert main(args) == 2  # never overwrites without --overwrite
    assert "exists; choose another path or pass --overwrite" in capsys.readouterr().err
    clip = validation[0].parent / "audios" / "validation" / "Ytinyv000000.wav"
    events = tmp_path / "events.csv"
    assert (
        main(
            [
                "tag",
                str(clip),
                "--checkpoint",
                str(checkpoint),
                "--thresholds",
                str(out),
                "--sed",
                str(events),
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)[0]
    saved = Thresholds.load(out, LABELS)
    tagger = Tagger(checkpoint)
    expected = [LABELS.names[k] for k in saved.present(tagger.analyze(str(clip)).clipwise)]
    assert report["present"] == expected
    assert events.is_file()


def test_cli_tag_refuses_mixed_or_unusable_thresholds(network, validation, tmp_path, capsys):
    packed, _ = validation
    checkpoint = save_checkpoint(network, tmp_path / "model.pt")
    clip_only = tmp_path / "clip_only.json"
    assert main(["calibrate", str(packed), "--checkpoint", str(checkpoint), "--out", str(clip_only)]) == 0
    clip = validation[0].parent / "audios" / "validation" / "Ytinyv000000.wav"
    cases = {
        "give either --threshold values or a --thresholds file": [
            "--thresholds",
            str(clip_only),
            "--sed",
            str(tmp_path / "e.csv"),
            "--threshold",
            "0.3",
        ],
        "has no event thresholds (calibrate with --strong-labels)": [
            "--thresholds",
            str(clip_only),
            "--sed",
            str(tmp_path / "e.csv"),
        ],
        "not a thresholds file": ["--thresholds", str(clip)],
    }
    for message, extra in cases.items():
        capsys.readouterr()
        assert main(["tag", str(clip), "--checkpoint", str(checkpoint), *extra]) == 2, message
        assert message in capsys.readouterr().err


def test_decision_counts_per_clip():
    targets = np.array([[1, 0, 1], [0, 0, 1]], dtype=bool)
    outputs = np.array([[0.9, 0.6, 0.2], [0.1, 0.7, 0.8]])
    # clip 0 at 0.5: decides classes 0, 1 → TP 1 (class 0), FP 1 (class 1), FN 1 (class 2)
    # clip 1: decides 1, 2 → TP 1, FP 1, FN 0
    assert decision_counts(targets, outputs, 0.5).tolist() == [[1, 1, 1], [1, 1, 0]]
    per_class = np.array([0.5, 0.65, 0.1])  # class 1 needs 0.65: clip 0 no longer flags it
    assert decision_counts(targets, outputs, per_class).tolist() == [[2, 0, 0], [1, 1, 0]]
    with pytest.raises(ValueError, match="one shape"):
        decision_counts(targets, outputs[:, :2], 0.5)
