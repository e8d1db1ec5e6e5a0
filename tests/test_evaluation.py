"""Scoring a saved checkpoint on a packed evaluation file: the outputs are the model's, the scores sklearn's."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from panns_lite.audio import int16_to_float
from panns_lite.checkpoints import save_checkpoint
from panns_lite.evaluation import evaluate_checkpoint
from panns_lite.models import Cnn14, scaled_widths

WIDTHS = scaled_widths(1 / 16)


def checkpoint(path: Path, classes_num: int = 527, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    return save_checkpoint(Cnn14(classes_num=classes_num, widths=WIDTHS), path)


def test_outputs_are_the_model_run_on_the_waveforms_and_scores_match_sklearn(tiny_packed, tmp_path) -> None:
    path = checkpoint(tmp_path / "model.pt")
    result = evaluate_checkpoint(path, tiny_packed["eval"], batch_size=5)  # 12 clips: batches 5, 5, 2

    with h5py.File(tiny_packed["eval"], "r") as h5:
        waveforms = int16_to_float(h5["waveform"][:])
        targets = h5["target"][:]
        names = [n.decode() for n in h5["audio_name"][:]]
    torch.manual_seed(0)
    model = Cnn14(widths=WIDTHS)
    model.load_state_dict(torch.load(path, weights_only=True)["state_dict"])
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(waveforms))["clipwise_output"].numpy()

    assert result.names == names
    np.testing.assert_array_equal(result.targets, targets)
    np.testing.assert_allclose(result.outputs, expected, rtol=1e-4, atol=1e-6)
    present = np.flatnonzero(targets.any(axis=0))
    assert result.scores.classes_ap == len(present) == 3
    ap = [average_precision_score(targets[:, k], result.outputs[:, k]) for k in present]
    assert result.scores.mAP == pytest.approx(np.mean(ap))
    assert np.isnan(result.scores.ap[np.setdiff1d(np.arange(527), present)]).all()


def test_a_head_with_other_classes_is_refused(tiny_packed, tmp_path) -> None:
    path = checkpoint(tmp_path / "head12.pt", classes_num=12)
    with pytest.raises(ValueError, match="12 classes"):
        evaluate_checkpoint(path, tiny_packed["eval"])


def test_missing_files_are_named(tiny_packed, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.h5"):
        evaluate_checkpoint(checkpoint(tmp_path / "m.pt"), tmp_path / "nothing.h5")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        evaluate_checkpoint(tmp_path / "missing.pt", tiny_packed["eval"])
