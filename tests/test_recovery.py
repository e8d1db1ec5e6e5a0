"""Recovery fine-tuning of pruned models: the pruned file, the run's recipe, and the cache."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from panns_lite.checkpoints import load_checkpoint, load_extra, save_checkpoint
from panns_lite.recovery import file_digest, pruned_checkpoint, recover, recovery_config
from panns_lite.runs import trained
from panns_lite.train_config import preset

TINY = dict(
    width=1 / 8, batch_size=4, iterations=2, eval_every=2, checkpoint_every=2, progress=False, threads=2
)


def base_config(tiny_packed, out: Path):
    return preset(
        "ci",
        train_data=str(tiny_packed["train"]),
        eval_data=str(tiny_packed["eval"]),
        out_dir=str(out / "base"),
        **TINY,
    )


def test_recover_prunes_the_trained_model_and_fine_tunes_it(tiny_packed, tmp_path):
    base = base_config(tiny_packed, tmp_path)
    model_path = recover(base, 0.5, iterations=2, eval_every=1)
    run = model_path.parent
    assert run.name == "base-pruned-operator_norm-C7-C12-50"
    statistics = load_extra(model_path)
    assert statistics["iteration"] == 2
    tuned, original = load_checkpoint(model_path), load_checkpoint(tmp_path / "base" / "model.pt")
    widths, full = tuned.architecture()["kwargs"]["widths"], original.architecture()["kwargs"]["widths"]
    assert list(widths[:6]) == list(full[:6]) and [2 * w for w in widths[6:]] == list(full[6:])
    pruned = tmp_path / "base" / "pruned-operator_norm-C7-C12-50.pt"
    assert load_extra(pruned)["ratios"] == {f"C{i}": 0.5 for i in range(7, 13)}
    stamp = model_path.stat().st_mtime_ns
    assert recover(base, 0.5, iterations=2, eval_every=1) == model_path  # cached: nothing is retrained
    assert model_path.stat().st_mtime_ns == stamp


def test_pruned_checkpoint_is_deterministic_and_named_by_its_recipe(tiny_packed, tmp_path):
    base = base_config(tiny_packed, tmp_path)
    model_path = trained(base)
    a = pruned_checkpoint(model_path, 0.25, "l1", "C9-C12")
    assert a.name == "pruned-l1-C9-C12-25.pt"
    first = load_checkpoint(a).state_dict()
    a.unlink()
    second = load_checkpoint(pruned_checkpoint(model_path, 0.25, "l1", "C9-C12")).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert (
        pruned_checkpoint(model_path, 0.25, "random", "C9-C12", seed=3).name
        == "pruned-random-C9-C12-25-seed3.pt"
    )


def test_pruned_checkpoint_is_reused_only_while_its_record_matches(tiny_packed, tmp_path):
    model_path = trained(base_config(tiny_packed, tmp_path))
    pruned = pruned_checkpoint(model_path, 0.5)
    stamp = pruned.stat().st_mtime_ns
    assert pruned_checkpoint(model_path, 0.5) == pruned and pruned.stat().st_mtime_ns == stamp  # reused
    retrained = load_checkpoint(model_path)
    with torch.no_grad():
        retrained.fc1.weight.mul_(
            -1.0
        )  # the base model changed (say, retrained): the cache must not be reused
    save_checkpoint(retrained, model_path, **load_extra(model_path))
    before = load_checkpoint(pruned).fc1.weight.clone()
    again = pruned_checkpoint(model_path, 0.5)
    assert again == pruned and again.stat().st_mtime_ns != stamp
    assert load_extra(again)["source_sha256"] == file_digest(model_path)
    assert not torch.equal(load_checkpoint(again).fc1.weight, before)


def test_recovery_config_keeps_the_recipe_and_rejects_zero_iterations(tiny_packed, tmp_path):
    base = base_config(tiny_packed, tmp_path)
    config = recovery_config(base, tmp_path / "pruned-x.pt", iterations=5)
    assert (config.lr, config.sampler, config.seed, config.augment) == (
        base.lr,
        base.sampler,
        base.seed,
        base.augment,
    )
    assert config.init_checkpoint.endswith("pruned-x.pt") and config.out_dir.endswith("base-pruned-x")
    with pytest.raises(ValueError, match="at least one iteration"):
        recovery_config(base, tmp_path / "pruned-x.pt", iterations=0)


def test_recover_from_a_given_model_keeps_the_pruned_file_in_the_runs_folder(tiny_packed, tmp_path):
    base = base_config(tiny_packed, tmp_path)
    shipped = tmp_path / "shipped" / "model.pt"  # stands in for the read-only data/models/pretrained.pt
    shipped.parent.mkdir()
    shipped.write_bytes(trained(replace(base, out_dir=str(tmp_path / "elsewhere"))).read_bytes())
    fine_tuned = recover(
        replace(base, out_dir=str(tmp_path / "runs" / "pretrained")), 0.5, iterations=2, base_model=shipped
    )
    assert sorted(p.name for p in shipped.parent.iterdir()) == ["model.pt"]  # nothing written beside it
    pruned = tmp_path / "runs" / "pretrained" / "pruned-operator_norm-C7-C12-50.pt"
    assert load_extra(pruned)["source_sha256"] == file_digest(shipped)
    assert fine_tuned.parent.name == "pretrained-pruned-operator_norm-C7-C12-50"
    control = recover(
        replace(base, out_dir=str(tmp_path / "runs" / "pretrained")), 0.0, iterations=2, base_model=shipped
    )  # ratio 0: the unpruned model, trained for the same steps
    kept = load_checkpoint(tmp_path / "runs" / "pretrained" / "pruned-operator_norm-C7-C12-0.pt").state_dict()
    original = load_checkpoint(shipped).state_dict()
    assert all(torch.equal(kept[k], original[k]) for k in original)
    assert control.is_file()


def test_recovery_with_a_teacher_or_another_seed_gets_its_own_run_folder(tiny_packed, tmp_path):
    base = base_config(tiny_packed, tmp_path)
    taught = recovery_config(
        base, tmp_path / "pruned-x.pt", iterations=5, teacher=tmp_path / "parent.pt", seed=3
    )
    assert taught.out_dir.endswith("base-pruned-x-seed3-distilled")
    assert (taught.teacher, taught.seed) == (str(tmp_path / "parent.pt"), 3)
    plain_config = recovery_config(base, tmp_path / "pruned-x.pt", iterations=5, seed=base.seed)
    assert plain_config.out_dir.endswith("base-pruned-x") and plain_config.teacher == ""


def test_distilled_recovery_learns_from_the_unpruned_parent(tiny_packed, tmp_path):
    base = base_config(tiny_packed, tmp_path)
    plain_path = recover(base, 0.5, iterations=2, eval_every=1)
    taught_path = recover(base, 0.5, iterations=2, eval_every=1, distill=True)
    assert taught_path.parent.name == "base-pruned-operator_norm-C7-C12-50-distilled"
    extra = load_extra(taught_path)
    assert extra["config"]["teacher"] == str(tmp_path / "base" / "model.pt")
    plain_losses = load_extra(plain_path.parent / "checkpoint.pt")["step_losses"]
    taught_losses = load_extra(taught_path.parent / "checkpoint.pt")["step_losses"]
    assert plain_losses[0] != taught_losses[0]  # the same first batch, another loss: the teacher's share
