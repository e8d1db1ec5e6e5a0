"""The trainer: the recipe runs, resumes bit for bit after SIGKILL, matches DDP, fails loudly."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_split

from panns_lite.augment import AugmentConfig
from panns_lite.checkpoints import load_checkpoint, load_extra
from panns_lite.datasets import PackedDataset
from panns_lite.evaluation import evaluate_checkpoint
from panns_lite.models import Cnn14, scaled_widths
from panns_lite.runs import CHECKPOINT_NAME, read_statistics, recipe_changes, trained
from panns_lite.train import build_model, learning_rate, micro_batches, train
from panns_lite.train_config import TrainConfig, dropout_rates, plain, preset, shown_settings

TINY = dict(width=1 / 16, batch_size=4, lr=1e-3, eval_every=4, checkpoint_every=2, progress=False, threads=2)


def config(tiny_packed, out: Path, **overrides) -> TrainConfig:
    """The ci preset (what ``cli`` runs too) on the tiny data, with a tiny model."""
    return preset(
        "ci",
        train_data=str(tiny_packed["train"]),
        eval_data=str(tiny_packed["eval"]),
        out_dir=str(out),
        **{**TINY, "iterations": 6, **overrides},
    )


@pytest.fixture(scope="module")
def natural_packed(tmp_path_factory) -> Path:
    """A third tiny split (other clips than eval's) standing in for a MiniSet's natural evaluation split."""
    return make_tiny_split(tmp_path_factory.mktemp("natural"), "natural_eval", 8, 2)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_checkpoint(path).state_dict().items()}


def cli(tiny_packed, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "panns_lite",
        "train",
        "--preset",
        "ci",
        "--train-data",
        str(tiny_packed["train"]),
        "--eval-data",
        str(tiny_packed["eval"]),
        "--out",
        str(out),
        "--width",
        str(TINY["width"]),
        "--batch-size",
        str(TINY["batch_size"]),
        "--no-progress",
        *extra,
    ]


def test_a_short_run_writes_statistics_checkpoint_and_model(tiny_packed, tmp_path):
    result = train(config(tiny_packed, tmp_path))
    assert [s["iteration"] for s in result.statistics] == [0, 4, 6]
    for name in (CHECKPOINT_NAME, "statistics.json", "statistics.csv", "model.pt"):
        assert (tmp_path / name).is_file()
    last = result.statistics[-1]
    assert last["classes"] == 3 and 0 <= last["mAP"] <= 1 and len(last["ap"]) == 527
    assert result.statistics[1]["train_loss"] > 0
    rows = (tmp_path / "statistics.csv").read_text().splitlines()
    assert rows[0] == "iteration,mAP,classes,mAUC,d_prime,train_loss,wall_seconds" and len(rows) == 4
    model = load_checkpoint(tmp_path / "model.pt")
    assert model.fc_audioset.out_features == 527
    # no natural split: no natural keys, and the run is recorded as runs were before that split existed
    assert not any(k.startswith("natural") for entry in result.statistics for k in entry)
    extra = load_extra(tmp_path / "model.pt")
    assert extra["data"] == {
        "train_data": PackedDataset(tiny_packed["train"]).fingerprint(),
        "eval_data": PackedDataset(tiny_packed["eval"]).fingerprint(),
    }
    assert "natural_eval_data" not in extra["config"] and "natural_mAP" not in extra


def test_a_run_with_a_natural_split_reports_both_evaluation_splits(tiny_packed, natural_packed, tmp_path):
    result = train(
        config(
            tiny_packed,
            tmp_path,
            iterations=2,
            eval_every=2,
            natural_eval_data=str(natural_packed),
            cache_dtype="float32",
        )
    )  # float32 cache: the trainer's scores equal evaluation.py's
    statistics = read_statistics(tmp_path)
    assert statistics == json.loads((tmp_path / "statistics.json").read_text())
    assert [entry["iteration"] for entry in statistics] == [0, 2]
    for entry in statistics:
        assert {"mAP", "classes", "mAUC", "d_prime", "ap", "auc"} <= entry.keys()
        assert 0 <= entry["natural_mAP"] <= 1 and len(entry["natural_ap"]) == len(entry["natural_auc"]) == 527
    rows = [row.split(",") for row in (tmp_path / "statistics.csv").read_text().splitlines()]
    assert rows[0] == [
        "iteration",
        "mAP",
        "classes",
        "mAUC",
        "d_prime",
        "natural_mAP",
        "natural_classes",
        "natural_mAUC",
        "natural_d_prime",
        "train_loss",
        "wall_seconds",
    ]
    last = statistics[-1]
    assert rows[-1][5:7] == [str(last["natural_mAP"]), str(last["natural_classes"])]
    extra = load_extra(result.model_path)
    assert (extra["natural_mAP"], extra["natural_classes"]) == (last["natural_mAP"], last["natural_classes"])
    assert extra["data"]["natural_eval_data"] == PackedDataset(natural_packed).fingerprint()
    for prefix, split in (
        ("", tiny_packed["eval"]),
        ("natural_", natural_packed),
    ):  # each split, its own file
        scores = evaluate_checkpoint(result.model_path, split).scores
        assert scores.mAP == pytest.approx(last[f"{prefix}mAP"], abs=1e-6)
        assert scores.classes_ap == last[f"{prefix}classes"]


def test_same_seed_same_weights_other_seed_other_weights(tiny_packed, tmp_path):
    a = train(config(tiny_packed, tmp_path / "a", iterations=3))
    b = train(config(tiny_packed, tmp_path / "b", iterations=3))
    c = train(config(tiny_packed, tmp_path / "c", iterations=3, seed=1))
    wa, wb, wc = weights(a.model_path), weights(b.model_path), weights(c.model_path)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_training_learns_the_tiny_task(tiny_packed, tmp_path):
    result = train(
        config(
            tiny_packed,
            tmp_path,
            iterations=40,
            eval_every=40,
            lr=3e-3,
            augment=AugmentConfig(mixup=False, spec_augment=False),
        )
    )
    first, last = result.statistics[0], result.statistics[-1]
    assert last["train_loss"] < 0.2 and last["mAP"] > first["mAP"]


def test_resume_after_sigkill_is_bit_exact(tiny_packed, tmp_path):
    reference = train(config(tiny_packed, tmp_path / "ref", iterations=8))
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        cli(tiny_packed, killed, "--iterations", "1000", "--checkpoint-every", "2", "--eval-every", "4"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 120
    while not (killed / CHECKPOINT_NAME).is_file():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = torch.load(killed / CHECKPOINT_NAME, weights_only=True)["extra"]["iteration"]
    assert 2 <= done < 8, "the run must be killed mid-way for this test to mean anything"
    subprocess.run(
        cli(
            tiny_packed,
            killed,
            "--iterations",
            "8",
            "--checkpoint-every",
            "2",
            "--eval-every",
            "4",
            "--resume",
        ),
        check=True,
        capture_output=True,
    )
    got, want = weights(killed / "model.pt"), weights(reference.model_path)
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want), (
        "resumed weights differ from the uninterrupted run"
    )


def test_stop_at_interrupts_a_run_that_then_resumes_to_the_same_losses_and_weights(tiny_packed, tmp_path):
    reference = train(config(tiny_packed, tmp_path / "ref", iterations=6, lr_schedule="cosine"))
    run = config(tiny_packed, tmp_path / "run", iterations=6, lr_schedule="cosine")
    first = train(run, stop_at=3)
    assert first.iteration == 3 and first.model_path is None and not (tmp_path / "run" / "model.pt").exists()
    assert first.step_losses == reference.step_losses[:3]  # the schedule still spans 6 iterations
    second = train(run, resume=True)
    assert second.step_losses == reference.step_losses and len(second.step_losses) == 6
    got, want = weights(second.model_path), weights(reference.model_path)
    assert all(torch.equal(got[k], want[k]) for k in want)
    extra = torch.load(tmp_path / "run" / CHECKPOINT_NAME, weights_only=True)["extra"]
    assert [row["iteration"] for row in extra["statistics"]] == [0, 4, 6]  # saved after the last evaluation
    assert extra["step_losses"] == reference.step_losses


def test_config_round_trips_through_plain_data():
    ci = preset("ci")
    assert TrainConfig.from_plain(plain(ci)) == ci
    custom = replace(ci, widths=(8, 16, 32, 64, 128, 256), augment=AugmentConfig(mixup=True, mixup_alpha=0.5))
    assert TrainConfig.from_plain(json.loads(json.dumps(plain(custom)))) == custom


def test_shown_settings_flatten_the_augmentation_and_shorten_workspace_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("PANNS_LITE_WORKSPACE", str(tmp_path))
    config = preset("ci", train_data=str(tmp_path / "hdf5s" / "train.h5"), eval_data="/elsewhere/eval.h5")
    shown = shown_settings(config)
    assert shown["train_data"] == "hdf5s/train.h5" and shown["eval_data"] == "/elsewhere/eval.h5"
    assert shown["augment.mixup"] == str(config.augment.mixup) and "augment" not in shown
    assert shown["lr"] == str(config.lr) and all(isinstance(v, str) for v in shown.values())
    assert len(shown) == len(plain(config)) - 1 + len(plain(config)["augment"])


def test_bf16_autocast_runs_and_stays_deterministic(tiny_packed, tmp_path):
    a = train(config(tiny_packed, tmp_path / "a", iterations=2, amp=True))
    b = train(config(tiny_packed, tmp_path / "b", iterations=2, amp=True))
    wa, wb = weights(a.model_path), weights(b.model_path)
    assert all(torch.isfinite(v).all() for v in wa.values() if v.is_floating_point())
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_refuses_another_recipe(tiny_packed, tmp_path):
    train(config(tiny_packed, tmp_path, iterations=2))
    with pytest.raises(ValueError, match="lr"):
        train(config(tiny_packed, tmp_path, iterations=4, lr=5e-4), resume=True)
    with pytest.raises(FileNotFoundError):
        train(config(tiny_packed, tmp_path / "nothing", iterations=4), resume=True)


def test_two_gloo_processes_equal_one_process_with_two_micro_batches(tiny_packed, tmp_path):
    single = train(config(tiny_packed, tmp_path / "single", iterations=3, micro_batches=2))
    ddp = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        "-m",
        "panns_lite",
        *cli(tiny_packed, ddp, "--iterations", "3", "--device", "cpu")[3:],
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(command, check=True, capture_output=True, env=env)
    a, b = load_checkpoint(single.model_path), load_checkpoint(ddp / "model.pt")
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(pb, pa, rtol=1e-4, atol=1e-6, msg=name)


def test_a_runs_dropout_rates_apply_to_a_loaded_model_and_are_saved(tiny_packed, tmp_path):
    base = train(config(tiny_packed, tmp_path / "base", iterations=1))
    assert load_checkpoint(base.model_path).dropout_rates() == {
        "dropout": 0.1,
        "head_dropout": 0.25,
    }  # the ci preset's
    tuned = train(
        config(
            tiny_packed, tmp_path / "tuned", iterations=1, init_checkpoint=str(base.model_path), dropout=0.0
        )
    )
    assert load_checkpoint(tuned.model_path).dropout_rates() == {"dropout": 0.0, "head_dropout": 0.25}


def test_cli_sets_the_dropout_rates(tiny_packed, tmp_path):
    from panns_lite.__main__ import main

    assert (
        main(cli(tiny_packed, tmp_path, "--iterations", "1", "--dropout", "0", "--head-dropout", "0.3")[3:])
        == 0
    )
    assert load_checkpoint(tmp_path / "model.pt").dropout_rates() == {"dropout": 0.0, "head_dropout": 0.3}
    assert main(cli(tiny_packed, tmp_path / "bad", "--iterations", "1", "--dropout", "1")[3:]) == 2


def test_cli_scores_the_natural_split_it_is_given(tiny_packed, natural_packed, tmp_path, capsys):
    from panns_lite.__main__ import main

    assert (
        main(cli(tiny_packed, tmp_path, "--iterations", "1", "--natural-eval-data", str(natural_packed))[3:])
        == 0
    )
    assert "natural eval mAP" in capsys.readouterr().out
    assert load_extra(tmp_path / "model.pt")["config"]["natural_eval_data"] == str(natural_packed)


def test_fine_tuning_with_a_new_frozen_head(tiny_packed, tmp_path):
    base = train(config(tiny_packed, tmp_path / "base", iterations=2))
    tuned = train(
        config(
            tiny_packed,
            tmp_path / "tuned",
            iterations=2,
            init_checkpoint=str(base.model_path),
            new_head=527,
            freeze_base=True,
        )
    )
    before, after = weights(base.model_path), weights(tuned.model_path)
    for k in before:
        if k.startswith("fc_audioset"):
            assert not torch.equal(before[k], after[k])
        elif "running" not in k and "num_batches" not in k:  # BN statistics still update, as in PANNs
            assert torch.equal(before[k], after[k]), k


def test_non_finite_input_is_a_clear_error(tiny_packed, tmp_path, monkeypatch):
    from panns_lite import datasets

    original = datasets.ClipDataset.get_batch

    def poisoned(self, indices):  # NaN in the training clips only (24 of them; eval has 12)
        x, y, names = original(self, indices)
        if len(self) == 24:
            x[1] = float("nan")
        return x, y, names

    monkeypatch.setattr(datasets.ClipDataset, "get_batch", poisoned)
    with pytest.raises(ValueError, match=r"training step 0: non-finite input values in clips \['Ytiny"):
        train(config(tiny_packed, tmp_path, iterations=1, eval_every=100))
    assert not (tmp_path / CHECKPOINT_NAME).exists()


def test_eval_set_without_positives_is_an_error(tiny_packed, tmp_path, monkeypatch):
    """The metric convention needs >= 1 positive class in the eval set (classes without are skipped)."""
    from panns_lite import datasets

    original = datasets.PackedDataset.__init__

    def no_positives(self, path):
        original(self, path)
        if len(self) == 12:
            self.targets = np.zeros_like(self.targets)

    monkeypatch.setattr(datasets.PackedDataset, "__init__", no_positives)
    with pytest.raises(ValueError, match="no class has a positive"):
        train(config(tiny_packed, tmp_path, iterations=1))


def test_learning_rate_schedules(tiny_packed, tmp_path):
    constant = config(tiny_packed, tmp_path, iterations=100, lr_schedule="constant")
    assert {learning_rate(constant, t) for t in range(100)} == {1e-3}
    cosine = replace(constant, lr_schedule="cosine", warmup_iterations=10)
    lrs = [learning_rate(cosine, t) for t in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)  # linear warm-up to the peak
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[-1] < 1e-5  # then a monotone decay to ~0
    assert lrs[55] == pytest.approx(0.5e-3)  # half-way through the decay: half the peak
    with pytest.raises(ValueError, match="lr_schedule"):
        replace(constant, lr_schedule="step")
    with pytest.raises(ValueError, match="warmup"):
        replace(constant, warmup_iterations=-1)


def test_cosine_run_cannot_be_resumed_with_another_length(tiny_packed, tmp_path):
    train(config(tiny_packed, tmp_path, iterations=2, lr_schedule="cosine"))
    with pytest.raises(ValueError, match="iterations"):
        train(config(tiny_packed, tmp_path, iterations=4, lr_schedule="cosine"), resume=True)


def test_trained_reuses_a_finished_run_and_refuses_another_recipe(tiny_packed, tmp_path):
    first = trained(config(tiny_packed, tmp_path, iterations=2))
    stamp = first.stat().st_mtime_ns
    assert (
        trained(config(tiny_packed, tmp_path, iterations=2, threads=1)) == first
    )  # same recipe: no retraining
    assert first.stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="another recipe"):
        trained(config(tiny_packed, tmp_path, iterations=2, lr=5e-4))


def test_the_run_cache_and_resume_know_data_by_fingerprint_not_path(tiny_packed, tmp_path):
    first = trained(config(tiny_packed, tmp_path / "run", iterations=2))
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    copies = {k: moved / p.name for k, p in tiny_packed.items()}
    for k, p in tiny_packed.items():
        shutil.copy(p, copies[k])
    same_data = config(copies, tmp_path / "run", iterations=2)
    assert trained(same_data) == first  # the same MiniSet under another path: the same run
    train(replace(same_data, iterations=4), resume=True)  # and it resumes there
    with pytest.raises(ValueError, match="eval_data"):  # other data under any path: another run
        trained(
            config(
                {"train": tiny_packed["train"], "eval": tiny_packed["train"]}, tmp_path / "run", iterations=4
            )
        )


def test_the_run_cache_and_resume_know_the_natural_split_by_fingerprint(
    tiny_packed, natural_packed, tmp_path
):
    natural = tmp_path / "natural_eval.h5"
    shutil.copy(natural_packed, natural)
    run = config(tiny_packed, tmp_path / "run", iterations=2, natural_eval_data=str(natural))
    first = trained(run)
    assert trained(run) == first
    with pytest.raises(
        ValueError, match="natural_eval_data"
    ):  # the same run without its natural split: another
        trained(config(tiny_packed, tmp_path / "run", iterations=2))
    shutil.copy(tiny_packed["eval"], natural)  # other recordings under the same path
    with pytest.raises(ValueError, match="another recipe \\(other natural_eval_data\\)"):
        trained(run)
    with pytest.raises(ValueError, match="cannot resume .* other natural_eval_data"):
        train(replace(run, iterations=4), resume=True)


def test_preset_run_folders_are_keyed_by_recipe():
    base = preset("ci")
    assert Path(base.out_dir).name == "ci"
    assert preset("ci", threads=1, progress=False).out_dir == base.out_dir  # bookkeeping only: same run
    shorter, other_lr = preset("ci", iterations=10), preset("ci", lr=5e-4)
    assert len({base.out_dir, shorter.out_dir, other_lr.out_dir}) == 3
    assert preset("ci", iterations=10).out_dir == shorter.out_dir  # deterministic key
    assert preset("ci", lr=5e-4, out_dir="x").out_dir == "x"
    # a run without a natural split keeps the folder it had before that split existed: still in the cache
    assert Path(preset("paper", train_data="a.h5", eval_data="b.h5").out_dir).name == "paper-87d64bbe"


def test_a_removed_setting_loads_at_its_inert_value_and_refuses_any_other():
    recorded = plain(preset("ci")) | {"ema_decay": 0.0}  # the shipped record holds it
    assert TrainConfig.from_plain(recorded) == preset("ci")
    with pytest.raises(ValueError, match="ema_decay=0.99"):
        TrainConfig.from_plain(recorded | {"ema_decay": 0.99})
    saved = {"config": recorded | {"ema_decay": 0.99}}
    assert recipe_changes(saved, preset("ci"), {}, set()) == ["ema_decay"]
    assert recipe_changes({"config": recorded}, preset("ci"), {}, set()) == []


def test_micro_batches_keep_mixup_pairs():
    assert micro_batches(8, 2, even=True) == [slice(0, 4), slice(4, 8)]
    with pytest.raises(ValueError, match="even"):
        micro_batches(6, 2, even=True)
    with pytest.raises(ValueError):
        micro_batches(8, 3, even=False)


def test_presets_and_bad_config():
    ci = preset("ci")
    assert (
        ci.model == "Cnn14" and ci.batch_size == 32 and ci.clips_per_step == 32
    )  # no mixup on the ci budget
    assert build_model(ci).dropout_rates() == {"dropout": 0.1, "head_dropout": 0.25}  # PANNs' rates halved
    for bad in (dict(dropout=1.0), dict(head_dropout=-0.5)):
        with pytest.raises(ValueError, match="dropout"):
            replace(ci, **bad)
    paper = preset("paper", train_data="a.h5", eval_data="b.h5")
    assert build_model(paper).dropout_rates() == {"dropout": 0.2, "head_dropout": 0.5}  # PANNs' own
    assert (paper.width, paper.iterations, paper.eval_every, paper.lr) == (1.0, 600_000, 2000, 1e-3)
    assert (
        paper.sampler == "balanced" and paper.augment.mixup and paper.clips_per_step == 64
    )  # PANNs: 64 -> 32
    assert (
        ci.natural_eval_data.endswith("miniset-ci/packed/natural_eval.h5") and paper.natural_eval_data == ""
    )
    assert (
        preset("ci", eval_data="e.h5").natural_eval_data == ""
    )  # the MiniSet's natural split goes with its eval
    assert preset("ci", eval_data="e.h5", natural_eval_data="n.h5").natural_eval_data == "n.h5"
    with pytest.raises(ValueError, match="unknown training preset"):
        preset("huge")
    with pytest.raises(ValueError, match="unknown model"):
        replace(ci, model="ResNet1000")


def test_a_folder_holding_a_run_is_refused_unless_resume_or_overwrite(tiny_packed, tmp_path):
    first = train(config(tiny_packed, tmp_path, iterations=2, eval_every=2))
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()
    with pytest.raises(ValueError, match="holds a run .*--resume.*--overwrite"):
        train(config(tiny_packed, tmp_path, iterations=2, eval_every=2, seed=1))
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before  # nothing of the first run was touched
    again = train(config(tiny_packed, tmp_path, iterations=2, eval_every=2, seed=1), overwrite=True)
    assert again.step_losses != first.step_losses
    assert load_extra(tmp_path / "model.pt")["config"]["seed"] == 1
    with pytest.raises(ValueError, match="exclude each other"):
        train(config(tiny_packed, tmp_path, iterations=2), resume=True, overwrite=True)


def test_the_cli_refuses_a_folder_holding_a_run(tiny_packed, tmp_path):
    train(config(tiny_packed, tmp_path, iterations=1, eval_every=1))
    done = subprocess.run(cli(tiny_packed, tmp_path, "--iterations", "1"), capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "holds a run" in done.stderr and "--overwrite" in done.stderr
    done = subprocess.run(
        cli(tiny_packed, tmp_path, "--resume", "--overwrite"), capture_output=True, text=True
    )
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


def test_a_second_process_on_a_locked_run_folder_fails_at_once_and_the_lock_dies_with_its_holder(
    tiny_packed, tmp_path
):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time\nfrom pathlib import Path\n"
                "from panns_lite.runs import claimed_run_folder\n"
                f"with claimed_run_folder(Path({str(tmp_path)!r}), False, False):\n"
                "    print('locked', flush=True)\n    time.sleep(600)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = subprocess.run(
            cli(tiny_packed, tmp_path, "--iterations", "1"), capture_output=True, text=True, timeout=300
        )  # a process that waited for the lock would time out here
        assert done.returncode == 2
        assert f"in use by another training process (pid {holder.pid})" in done.stderr
        assert not (tmp_path / CHECKPOINT_NAME).exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    result = train(config(tiny_packed, tmp_path, iterations=1, eval_every=1))  # SIGKILL released the lock
    assert result.model_path is not None


def test_resuming_from_a_truncated_or_foreign_checkpoint_is_one_line_exit_2(tiny_packed, tmp_path):
    train(config(tiny_packed, tmp_path, iterations=2, eval_every=2))
    checkpoint = tmp_path / CHECKPOINT_NAME
    whole = checkpoint.read_bytes()
    checkpoint.write_bytes(whole[: len(whole) // 3])
    done = subprocess.run(
        cli(tiny_packed, tmp_path, "--iterations", "4", "--resume"), capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f"cannot read checkpoint {checkpoint}" in done.stderr
    shutil.copy(tmp_path / "model.pt", checkpoint)  # a model file is not a training checkpoint
    done = subprocess.run(
        cli(tiny_packed, tmp_path, "--iterations", "4", "--resume"), capture_output=True, text=True
    )
    assert done.returncode == 2 and "is not a training checkpoint" in done.stderr


def test_data_and_model_at_different_sample_rates_are_refused(tiny_packed, tmp_path):
    import h5py

    from panns_lite.checkpoints import save_checkpoint
    from panns_lite.features import PANNS_16K

    relabelled = tmp_path / "train16k.h5"
    shutil.copy(tiny_packed["train"], relabelled)
    with h5py.File(relabelled, "r+") as h5:
        h5.attrs["sample_rate"] = np.int32(16000)
    with pytest.raises(
        ValueError, match=r"train16k.h5 holds 16000 Hz audio but the model expects 32000 Hz; pack"
    ):
        train(config({**tiny_packed, "train": relabelled}, tmp_path / "a", iterations=1))
    narrow16k = save_checkpoint(Cnn14(widths=scaled_widths(1 / 16), frontend=PANNS_16K), tmp_path / "16k.pt")
    with pytest.raises(
        ValueError, match=rf"holds 32000 Hz audio but the model \({narrow16k}\) expects 16000 Hz"
    ):
        train(config(tiny_packed, tmp_path / "b", iterations=1, init_checkpoint=str(narrow16k)))


def test_dropout_rates_fill_unset_rates_with_the_models_defaults():
    assert dropout_rates(preset("ci")) == {"dropout": 0.1, "head_dropout": 0.25}  # the ci preset's own
    assert dropout_rates(preset("laptop")) == {"dropout": 0.2, "head_dropout": 0.5}  # PANNs' (Cnn14's)
    assert dropout_rates(preset("laptop", model="MobileNetV1", head_dropout=0.3)) == {"head_dropout": 0.3}


def test_reading_the_statistics_of_a_folder_without_a_run_names_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"statistics\.json: no such file; is .* a training run"):
        read_statistics(tmp_path)
