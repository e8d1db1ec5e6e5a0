"""``finetune FOLDER``: a labelled folder of real recordings from the source bank, three farm animals
under the user's own class names, with every third recording (by group) kept out as a test set."""

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from panns_lite import finetune as ft
from panns_lite import train as panns_train
from panns_lite.__main__ import main
from panns_lite.audioset import load_class_labels
from panns_lite.checkpoints import load_checkpoint
from panns_lite.inference import Tagger
from panns_lite.miniset import read_bank
from panns_lite.paths import SOURCES_DIR
from panns_lite.pretraining import pretrained_path

CLASSES = {"Sheep": "sheep", "Pig": "pig", "Chicken, rooster": "hen"}
"""AudioSet class of the bank recordings -> the name the user gives it."""
QUICK = dict(max_iterations=10, eval_every=5, batch_size=8, threads=2)


@pytest.fixture(scope="module")
def farm(tmp_path_factory) -> dict:
    """``folder`` (labels.csv with groups, plus an unreadable and an absent file) and ``test`` (path,
    name)."""
    root = tmp_path_factory.mktemp("farm")
    folder = root / "my recordings"
    folder.mkdir()
    labels = load_class_labels()
    wanted = {labels.mid_of_name(c): name for c, name in CLASSES.items()}
    by_class = defaultdict(list)
    for item in read_bank():
        mine = [wanted[m] for m in item.labels if m in wanted]
        if len(mine) == 1:
            by_class[mine[0]].append(item)
    rows, test = [], []
    for name, items in sorted(by_class.items()):
        groups = sorted({it.group or it.file for it in items})
        for it in items:
            path = SOURCES_DIR / it.file
            if groups.index(it.group or it.file) % 3 == 0:
                test.append((path, name))
            else:
                (folder / Path(it.file).name).symlink_to(path)
                rows.append([Path(it.file).name, name, it.group or it.file])
    (folder / "broken.wav").write_bytes(b"RIFF not really audio")
    rows += [["broken.wav", "pig", "broken"], ["absent.ogg", "sheep", "absent"]]
    with open(folder / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["file", "labels", "group"], *rows])
    return {"folder": folder, "test": test, "rows": rows}


def write_csv(folder: Path, rows: list[list[str]], header=("file", "labels")) -> Path:
    path = folder / "labels.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([list(header), *rows])
    return path


def test_a_linear_probe_names_the_users_classes_and_beats_chance_on_recordings_it_never_met(
    farm, tmp_path, capsys
):
    out = tmp_path / "probe"
    assert main(["finetune", str(farm["folder"]), "--mode", "probe", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "broken.wav:" in printed and "absent.ogg: no such file in the folder" in printed
    tagger = Tagger(out / "model.pt")
    assert tagger.labels.names == ("hen", "pig", "sheep")
    correct = sum(tagger.tag(path, top_k=1)[0].label == name for path, name in farm["test"])
    # chance is 1/3 per recording: "clearly" = a one-sided binomial test at the 1 % level
    assert binomtest(correct, len(farm["test"]), 1 / 3, alternative="greater").pvalue < 0.01
    assert main(["tag", str(farm["test"][0][0]), "--checkpoint", str(out / "model.pt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["tags"][0]["label"] in ("hen", "pig", "sheep")


def test_the_probe_head_folds_the_standardisation_in(farm, tmp_path):
    """The saved head applied to raw embeddings must give the scores the probe was chosen on."""
    report = ft.finetune(farm["folder"], tmp_path / "probe", ft.FineTuneSettings(mode="probe"))
    extra = torch.load(report.model_path, map_location="cpu", weights_only=True)["extra"]
    assert (
        extra["class_names"] == ["hen", "pig", "sheep"] and report.validation_mAP == extra["validation_mAP"]
    )
    assert report.validation_mAP > report.chance_mAP
    assert report.chosen.startswith("C = ")


def test_validation_never_splits_a_group_and_holds_every_class(farm):
    data = ft.read_labelled_folder(farm["folder"])
    mask = ft.validation_mask(data, 0.2, seed=0)
    groups = np.array(data.groups)
    assert not set(groups[mask]) & set(groups[~mask])
    assert data.targets[mask].any(0).all() and data.targets[~mask].any(0).all()
    assert ft.validation_mask(data, 0.2, seed=1).tolist() != mask.tolist()  # the seed draws the groups
    assert [f for f, _ in data.missing] == ["absent.ogg"]


def test_a_split_column_chooses_the_validation_clips(tmp_path):
    for name in "abcd":
        (tmp_path / f"{name}.wav").write_bytes(b"")
    write_csv(
        tmp_path,
        [
            ["a.wav", "x", "train"],
            ["b.wav", "y", "train"],
            ["c.wav", "x;y", "validation"],
            ["d.wav", "y", "validation"],
        ],
        header=("file", "labels", "split"),
    )
    data = ft.read_labelled_folder(tmp_path)
    assert data.classes == ("x", "y") and data.targets[2].all()  # multi-label
    assert ft.validation_mask(data, 0.5, 0).tolist() == [False, False, True, True]


@pytest.mark.parametrize(
    "rows, header, message",
    [
        ([["a.wav", "x"]], ("name", "labels"), "the header must name the columns file and labels"),
        ([["a.wav", ""]], ("file", "labels"), "labels.csv:2: every row needs a file and at least one label"),
        ([["a.wav", "x"], ["a.wav", "y"]], ("file", "labels"), "labels.csv:3: a.wav is listed twice"),
        (
            [["a.wav", "x", "test"]],
            ("file", "labels", "split"),
            "labels.csv:2: split must be train or validation",
        ),
        ([["a.wav", "x"]], ("file", "labels"), "a tagger needs at least 2 classes"),
        ([["a.wav", "x"], ["b.wav", "y"], ["c.wav", "y"]], ("file", "labels"), "class 'x' has 1 group(s)"),
    ],
)
def test_a_bad_labels_csv_is_one_line_naming_the_file_and_line(tmp_path, capsys, rows, header, message):
    for name in "abc":
        (tmp_path / f"{name}.wav").write_bytes(b"")
    write_csv(tmp_path, rows, header)
    assert main(["finetune", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_folder_without_labels_csv_says_how_to_write_one(tmp_path, capsys):
    assert main(["finetune", str(tmp_path)]) == 2
    assert "labels.csv does not exist; write it with the columns file,labels" in capsys.readouterr().err


def test_early_stopping_keeps_the_best_evaluation_after_the_fresh_head():
    rows = [{"iteration": i, "mAP": m} for i, m in [(0, 0.9), (10, 0.5), (20, 0.7), (30, 0.7), (40, 0.6)]]
    assert (
        ft.best_evaluation(rows)["iteration"] == 20
    )  # iteration 0 (a random head) never counts; ties: earliest
    assert ft.stopped(rows, patience=2) and not ft.stopped(rows, patience=3)


def test_frozen_mode_trains_only_the_head_and_resumes_an_interrupted_job_exactly(farm, tmp_path, monkeypatch):
    settings = ft.FineTuneSettings(mode="frozen", **QUICK)
    whole = ft.finetune(farm["folder"], tmp_path / "whole", settings)
    calls = {"n": 0}
    real_train = panns_train.train

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr("panns_lite.train.train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ft.finetune(farm["folder"], tmp_path / "cut", settings)
    monkeypatch.setattr("panns_lite.train.train", real_train)
    resumed = ft.finetune(farm["folder"], tmp_path / "cut", settings)
    a, b = (load_checkpoint(r.model_path).state_dict() for r in (whole, resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (resumed.chosen, resumed.validation_mAP) == (whole.chosen, whole.validation_mAP)
    base = load_checkpoint(pretrained_path()).state_dict()
    convs = [k for k in base if k.startswith("conv_block") and k.endswith("weight")]
    assert all(torch.equal(a[k], base[k]) for k in convs) and a["fc_audioset.weight"].shape[0] == 3


def test_all_mode_trains_the_base_and_a_finished_job_is_returned_not_retrained(farm, tmp_path, monkeypatch):
    settings = ft.FineTuneSettings(mode="all", **{**QUICK, "max_iterations": 5})
    report = ft.finetune(farm["folder"], tmp_path / "all", settings)
    assert report.chosen == "iteration 5" and {f for f, _ in report.skipped} == {"broken.wav", "absent.ogg"}
    tuned, base = (
        load_checkpoint(report.model_path).state_dict(),
        load_checkpoint(pretrained_path()).state_dict(),
    )
    assert not torch.equal(tuned["conv_block1.conv1.weight"], base["conv_block1.conv1.weight"])
    monkeypatch.setattr(
        "panns_lite.train.train", lambda *a, **k: pytest.fail("a finished job was trained again")
    )
    assert ft.finetune(farm["folder"], tmp_path / "all", settings) == report
    with pytest.raises(ValueError, match="holds another fine-tuning job"):
        ft.finetune(farm["folder"], tmp_path / "all", ft.FineTuneSettings(mode="probe"))
