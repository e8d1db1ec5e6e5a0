"""Knowledge distillation (panns_lite.distillation) in the trainer: the loss, both kinds of teacher,
bad input."""

import numpy as np
import pytest
import torch
from test_train import config

from panns_lite.checkpoints import save_checkpoint
from panns_lite.datasets import PackedDataset
from panns_lite.distillation import LogitsTeacher, distillation_loss, write_teacher_logits
from panns_lite.models import Cnn14, scaled_widths
from panns_lite.train import train
from panns_lite.train_config import plain


def test_the_loss_weighs_labels_by_lambda_and_the_teacher_by_the_rest():
    student = torch.tensor([[0.9, 0.2], [0.4, 0.7]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    teacher = torch.tensor([[0.8, 0.3], [0.1, 0.6]])
    bce = torch.nn.functional.binary_cross_entropy
    expected = 0.1 * bce(student, labels) + 0.9 * bce(student, teacher)
    assert distillation_loss(student, labels, teacher).item() == pytest.approx(expected.item(), rel=1e-6)
    assert distillation_loss(student, labels, teacher, 1.0).item() == pytest.approx(
        bce(student, labels).item(), rel=1e-6
    )


@pytest.fixture(scope="module")
def teacher_checkpoint(tmp_path_factory):
    torch.manual_seed(3)
    return save_checkpoint(
        Cnn14(widths=scaled_widths(1 / 16)).eval(), tmp_path_factory.mktemp("teacher") / "t.pt"
    )


def test_with_all_weight_on_the_labels_a_teacher_changes_no_step(tiny_packed, teacher_checkpoint, tmp_path):
    """λ = 1: the teacher runs every step but its share is 0, so the losses equal a run without it, bit
    for bit: the teacher draws no random numbers and leaves the student's computation alone."""
    plain_run = train(config(tiny_packed, tmp_path / "a", iterations=4))
    taught = train(
        config(
            tiny_packed,
            tmp_path / "b",
            iterations=4,
            teacher=str(teacher_checkpoint),
            distill_label_weight=1.0,
        )
    )
    assert plain_run.step_losses == taught.step_losses


def test_a_logits_file_teaches_what_the_model_it_came_from_teaches(tiny_packed, teacher_checkpoint, tmp_path):
    """Without mixup, cache or bf16 the model teacher sees the clean clips in fp32, as the file was written,
    so stored logits give the same losses."""
    from panns_lite.checkpoints import load_checkpoint

    logits = write_teacher_logits(
        load_checkpoint(teacher_checkpoint), PackedDataset(tiny_packed["train"]), tmp_path / "logits.npz"
    )
    common = dict(
        iterations=4, cache_logmel=False, amp=False, distill_label_weight=0.1
    )  # fp32: as the file was written
    live = train(config(tiny_packed, tmp_path / "live", teacher=str(teacher_checkpoint), **common))
    stored = train(config(tiny_packed, tmp_path / "stored", teacher=str(logits), **common))
    plain_run = train(config(tiny_packed, tmp_path / "plain", iterations=4, cache_logmel=False, amp=False))
    np.testing.assert_allclose(stored.step_losses, live.step_losses, rtol=1e-5)
    assert not np.allclose(
        live.step_losses, plain_run.step_losses, rtol=1e-3
    )  # the teacher does change the loss


def test_a_config_without_a_teacher_is_recorded_as_before_teachers_existed(tiny_packed, tmp_path):
    recorded = plain(config(tiny_packed, tmp_path))
    assert "teacher" not in recorded and "distill_label_weight" not in recorded
    assert plain(config(tiny_packed, tmp_path, teacher="t.pt"))["teacher"] == "t.pt"


def test_bad_teachers_are_refused_with_the_reason(tiny_packed, teacher_checkpoint, tmp_path):
    names = PackedDataset(tiny_packed["train"]).names
    np.savez(
        tmp_path / "short.npz", names=np.array(names[:-1]), logits=np.zeros((len(names) - 1, 527), np.float32)
    )
    with pytest.raises(ValueError, match=f"short.npz: no teacher logits for clip '{names[-1]}'"):
        LogitsTeacher(tmp_path / "short.npz", 527).probabilities(torch.zeros(1), None, names[-1:])
    np.savez(tmp_path / "narrow.npz", names=np.array(names), logits=np.zeros((len(names), 10), np.float32))
    with pytest.raises(ValueError, match="the student has 527 classes"):
        LogitsTeacher(tmp_path / "narrow.npz", 527)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a teacher logits file"):
        LogitsTeacher(tmp_path / "junk.npz", 527)
    other = save_checkpoint(Cnn14(classes_num=10, widths=scaled_widths(1 / 16)), tmp_path / "ten.pt")
    with pytest.raises(ValueError, match="the teacher predicts 10 classes, the student 527"):
        train(config(tiny_packed, tmp_path / "run", teacher=str(other)))
    with pytest.raises(ValueError, match="distill_label_weight must be in"):
        config(tiny_packed, tmp_path, distill_label_weight=1.5)
