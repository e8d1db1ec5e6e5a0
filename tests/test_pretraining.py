"""The pretrained tagger's machinery: export to float16 with a record, sha256-checked loading,
bit-exact replay."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import panns_lite
from panns_lite import pretraining as pretrained_module
from panns_lite.__main__ import main
from panns_lite.checkpoints import CheckpointError, load_checkpoint
from panns_lite.pretraining import (
    RECORD_NAME,
    WEIGHTS_NAME,
    export_pretrained,
    pretrained,
    pretrained_path,
    read_record,
    replay,
    resolve_checkpoint,
)
from panns_lite.recovery import file_digest
from panns_lite.train import train
from panns_lite.train_config import TrainConfig, plain, preset


@pytest.fixture(scope="module")
def finished_run(tiny_packed, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    train(
        preset(
            "ci",
            train_data=str(tiny_packed["train"]),
            eval_data=str(tiny_packed["eval"]),
            out_dir=str(out),
            width=1 / 16,
            batch_size=4,
            iterations=6,
            eval_every=3,
            checkpoint_every=2,
            lr_schedule="cosine",
            progress=False,
            threads=2,
        )
    )
    return out


@pytest.fixture
def models(finished_run, tmp_path) -> Path:
    export_pretrained(finished_run, tmp_path / "models", provenance={"segments": [{"commit": "abc"}]})
    return tmp_path / "models"


def data_of(tiny_packed) -> dict[str, str]:
    return {
        "train_data": str(tiny_packed["train"]),
        "eval_data": str(tiny_packed["eval"]),
        "natural_eval_data": "",
    }


def test_export_writes_float16_weights_and_a_record(finished_run, models):
    record = read_record(models)
    raw = torch.load(models / WEIGHTS_NAME, weights_only=True)["state_dict"]
    assert {v.dtype for v in raw.values() if v.is_floating_point()} == {torch.float16}
    assert record["sha256"] == file_digest(models / WEIGHTS_NAME)
    assert record["bytes"] == (models / WEIGHTS_NAME).stat().st_size and record["iterations"] == 6
    assert [row["iteration"] for row in record["statistics"]] == [0, 3, 6]
    assert not any(k.endswith(("ap", "auc")) for row in record["statistics"] for k in row)  # scalars only
    assert len(record["first_losses"]) == 6 and all(float.fromhex(v) > 0 for v in record["first_losses"])
    assert record["provenance"] == {"segments": [{"commit": "abc"}]}
    assert record["replay"]["threads"] == 2 and record["replay"]["torch"] == torch.__version__
    assert 0 <= record["shipped_scores"]["mAP"] <= 1 and record["shipped_scores"]["classes"] == 3
    # loading gives the trained weights rounded to float16, as float32
    trained_weights = load_checkpoint(finished_run / "model.pt").state_dict()
    loaded = pretrained(models).state_dict()
    assert all(torch.equal(loaded[k], v.half().to(v.dtype)) for k, v in trained_weights.items())
    assert TrainConfig.from_plain(record["config"]) == TrainConfig.from_plain(
        plain(TrainConfig.from_plain(record["config"]))
    )


def test_pretrained_config_is_the_recorded_recipe_on_this_workspaces_miniset(models, tmp_path, monkeypatch):
    monkeypatch.setenv("PANNS_LITE_WORKSPACE", str(tmp_path / "ws"))
    record, config = read_record(models), pretrained_module.pretrained_config(models)
    assert config.train_data == str(tmp_path / "ws" / "miniset-pretrain" / "packed" / "balanced_train.h5")
    assert config.out_dir == str(tmp_path / "ws" / "runs" / "pretrained")
    recorded = TrainConfig.from_plain(record["config"])
    assert replace(config, train_data="", eval_data="", natural_eval_data="", out_dir="") == replace(
        recorded, train_data="", eval_data="", natural_eval_data="", out_dir=""
    )


def test_export_refuses_an_unfinished_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="has not finished"):
        export_pretrained(tmp_path, tmp_path / "models")


def test_loading_checks_the_files_sha256(models):
    assert pretrained_path(models) == models / WEIGHTS_NAME
    data = bytearray((models / WEIGHTS_NAME).read_bytes())
    data[-100] ^= 1
    (models / WEIGHTS_NAME).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 .* differs from the record"):
        pretrained(models)
    (models / WEIGHTS_NAME).unlink()
    with pytest.raises(FileNotFoundError, match="make pretrained"):
        pretrained(models)
    (models / RECORD_NAME).write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        pretrained(models)
    (models / RECORD_NAME).unlink()
    with pytest.raises(FileNotFoundError, match="make pretrained"):
        pretrained(models)


def test_the_word_pretrained_names_the_shipped_model(models, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(pretrained_module, "MODELS_DIR", models)
    assert resolve_checkpoint("pretrained") == models / WEIGHTS_NAME
    assert panns_lite.pretrained().state_dict().keys() == pretrained(models).state_dict().keys()
    assert resolve_checkpoint("runs/x/model.pt") == Path("runs/x/model.pt")
    out = tmp_path / "pretrained.onnx"
    assert main(["export", "pretrained", "--out", str(out)]) == 0 and out.is_file()
    (models / WEIGHTS_NAME).write_bytes(b"not a checkpoint")
    assert main(["export", "pretrained", "--out", str(tmp_path / "again.onnx")]) == 2
    assert "sha256" in capsys.readouterr().err


def test_replay_reproduces_the_recorded_losses_bit_for_bit(models, tiny_packed):
    result = replay(models, steps=4, data=data_of(tiny_packed))
    assert result.equal and len(result.replayed) == 4 and result.first_difference() is None
    record = read_record(models)
    record["first_losses"][2] = (float.fromhex(record["first_losses"][2]) * (1 + 2**-40)).hex()
    (models / RECORD_NAME).write_text(json.dumps(record))
    tampered = replay(models, steps=4, data=data_of(tiny_packed))
    assert not tampered.equal and tampered.first_difference() == 2


def test_replay_refuses_another_environment_or_other_data(models, tiny_packed):
    record = read_record(models)
    record["replay"]["threads"] = 7
    (models / RECORD_NAME).write_text(json.dumps(record))
    with pytest.raises(ValueError, match="cannot replay .*threads"):
        replay(models, steps=2, data=data_of(tiny_packed))
    with pytest.raises(ValueError, match=r"steps must be in \[1, 6\]"):
        replay(models, steps=7, data=data_of(tiny_packed))
    record["replay"]["threads"] = 2
    (models / RECORD_NAME).write_text(json.dumps(record))
    swapped = {**data_of(tiny_packed), "train_data": str(tiny_packed["eval"])}
    with pytest.raises(ValueError, match="cannot replay .*fingerprints"):
        replay(models, steps=2, data=swapped)


def test_on_other_bf16_kernels_the_replay_is_compared_with_the_reference_recorded_for_them(
    models, tiny_packed
):
    """A record trained where AMX was (not) used holds a reference for the other kind; without one the
    replay refuses, naming the difference."""
    record = read_record(models)
    here = dict(record["replay"])
    record["replay"]["cpu_amx"] = not here["cpu_amx"]
    (models / RECORD_NAME).write_text(json.dumps(record))
    with pytest.raises(ValueError, match="cannot replay .*cpu_amx"):
        replay(models, steps=2, data=data_of(tiny_packed))
    own = record["first_losses"]
    record["first_losses"] = [(float.fromhex(v) * 1.5).hex() for v in own]  # the other machine's losses
    record["replay_references"] = [{"environment": here, "losses": own, "source": "a replay on this kind"}]
    (models / RECORD_NAME).write_text(json.dumps(record))
    result = replay(models, steps=3, data=data_of(tiny_packed))
    assert result.equal and result.source == "a replay on this kind"
    del record["replay"]["cpu_amx"], record["replay_references"]  # a record from before the key: no AMX
    record["first_losses"] = own
    (models / RECORD_NAME).write_text(json.dumps(record))
    if not here["cpu_amx"]:
        assert replay(models, steps=2, data=data_of(tiny_packed)).equal
    else:
        with pytest.raises(ValueError, match="cpu_amx"):
            replay(models, steps=2, data=data_of(tiny_packed))


def test_the_shipped_model_loads_checked_and_its_record_says_how_it_was_made():
    record = read_record()
    path = pretrained_path()  # sha256 checked against the record
    assert path.stat().st_size == record["bytes"] <= 25 * 2**20
    payload = torch.load(path, weights_only=True)
    assert {v.dtype for v in payload["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    model = pretrained()
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == record["parameters"]
    assert record["iterations"] == record["config"]["iterations"] == record["statistics"][-1]["iteration"]
    assert all(
        key in record["statistics"][-1] for key in ("mAP", "natural_mAP", "classes", "natural_classes")
    )
    assert len(record["first_losses"]) == 20 and all(
        segment["commit"] for segment in record["provenance"]["segments"]
    )
    assert record["wall_seconds"] <= 2.5 * 3600
