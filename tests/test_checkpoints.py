"""Checkpoint loading (official PANNs, E-PANNs, panns_lite) and atomic saving (reference §1, §2, §10.1)."""

from pathlib import Path

import librosa
import pytest
import torch
from test_features import torchlibrosa_frontend
from torch.nn import functional as F

from panns_lite import checkpoints
from panns_lite.checkpoints import CheckpointError, load_checkpoint, load_extra, save_checkpoint
from panns_lite.features import PANNS_8K, PANNS_16K, PANNS_32K, FrontEndConfig
from panns_lite.models import CNN14_WIDTHS, Cnn10, Cnn14, count_parameters, scaled_widths

NARROW = scaled_widths(1 / 8)
PRUNED_50 = CNN14_WIDTHS[:6] + tuple(w // 2 for w in CNN14_WIDTHS[6:])


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Perturb BN affine parameters, BN running stats and biases so a wrong key mapping shows.

    Conv/linear weights are already random (xavier) and keep their scale, so outputs stay unsaturated.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            noise = torch.randn(tensor.shape, generator=generator) * 0.1
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                tensor.copy_(noise)
            elif name.endswith("weight") and tensor.dim() == 1:  # BN γ
                tensor.copy_(1 + noise)
    return model


def official_layout(model: Cnn14, cfg: FrontEndConfig = PANNS_32K) -> dict[str, torch.Tensor]:
    """Our body tensors plus the front-end tensors exactly as torchlibrosa builds them."""
    frontend = torchlibrosa_frontend(cfg).state_dict()
    state = {
        "spectrogram_extractor.stft.conv_real.weight": frontend["0.stft.conv_real.weight"],
        "spectrogram_extractor.stft.conv_imag.weight": frontend["0.stft.conv_imag.weight"],
        "logmel_extractor.melW": frontend["1.melW"],
    }
    state.update({k: v.clone() for k, v in model.state_dict().items()})
    return state


def reference_cnn14(
    state: dict[str, torch.Tensor], waveform: torch.Tensor, cfg: FrontEndConfig
) -> torch.Tensor:
    """Clipwise output of CNN14 in eval mode, written from reference §2 with torchlibrosa's front end."""
    frontend = torchlibrosa_frontend(cfg)
    frontend[0].stft.conv_real.weight.data = state["spectrogram_extractor.stft.conv_real.weight"]
    frontend[0].stft.conv_imag.weight.data = state["spectrogram_extractor.stft.conv_imag.weight"]
    frontend[1].melW.data = state["logmel_extractor.melW"]

    def bn(x: torch.Tensor, prefix: str) -> torch.Tensor:
        return F.batch_norm(
            x,
            state[f"{prefix}.running_mean"],
            state[f"{prefix}.running_var"],
            state[f"{prefix}.weight"],
            state[f"{prefix}.bias"],
            training=False,
            eps=1e-5,
        )

    x = frontend(waveform)  # (B, 1, T, mel)
    x = bn(x.transpose(1, 3), "bn0").transpose(1, 3)
    for i in range(1, 7):
        for j in (1, 2):
            x = F.conv2d(x, state[f"conv_block{i}.conv{j}.weight"], padding=1)
            x = F.relu(bn(x, f"conv_block{i}.bn{j}"))
        if i < 6:
            x = F.avg_pool2d(x, kernel_size=2)
    x = x.mean(dim=3)
    x = x.max(dim=2).values + x.mean(dim=2)
    x = F.relu(F.linear(x, state["fc1.weight"], state["fc1.bias"]))
    return torch.sigmoid(F.linear(x, state["fc_audioset.weight"], state["fc_audioset.bias"]))


@pytest.mark.parametrize(
    "widths", [NARROW, pytest.param(CNN14_WIDTHS, marks=pytest.mark.slow)], ids=["narrow", "full"]
)
def test_official_layout_matches_an_independent_forward_pass(widths: tuple[int, ...]) -> None:
    state = official_layout(randomised(Cnn14(classes_num=527, widths=widths)))
    assert len(state) == 84
    waveform = torch.rand(2, 320000, generator=torch.Generator().manual_seed(3)) * 2 - 1
    model = load_checkpoint({"model": state, "iteration": 660000})
    with torch.no_grad():
        ours = model(waveform)["clipwise_output"]
        reference = reference_cnn14(state, waveform, PANNS_32K)
    assert not model.training
    assert reference.std() > 0.01 and 0.01 < reference.min() and reference.max() < 0.99  # not saturated
    assert (ours - reference).abs().max().item() <= 1e-5


def test_full_width_official_layout_loads_every_tensor() -> None:
    source = Cnn14()
    state = official_layout(source)
    model = load_checkpoint(state, expected_sample_rate=32000, classes_num=527)
    assert count_parameters(model) == 80_753_615
    assert model.logmel.config == PANNS_32K
    assert torch.equal(model.conv_block6.conv2.weight, source.conv_block6.conv2.weight)


def test_epanns_layout_infers_pruned_widths() -> None:
    source = randomised(Cnn14(widths=PRUNED_50))
    model = load_checkpoint(official_layout(source))
    assert count_parameters(model) == 23_205_839
    assert [
        model.get_submodule(f"conv_block{i}.conv{j}").out_channels for i in range(1, 7) for j in (1, 2)
    ] == list(PRUNED_50)
    assert model.fc1.in_features == 1024
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize("cfg", [PANNS_16K, PANNS_8K], ids=["16k", "8k"])
def test_front_end_preset_is_inferred_from_kernel_shapes(cfg: FrontEndConfig) -> None:
    state = official_layout(Cnn14(widths=NARROW, frontend=cfg), cfg)
    assert state["logmel_extractor.melW"].shape == (cfg.n_fft // 2 + 1, 64)
    assert load_checkpoint(state).logmel.config == cfg


def test_16k_checkpoint_into_32k_expectation_is_refused() -> None:
    state = official_layout(Cnn14(widths=NARROW, frontend=PANNS_16K), PANNS_16K)
    with pytest.raises(CheckpointError, match="16000 Hz.*expected 32000 Hz"):
        load_checkpoint(state, expected_sample_rate=32000)


def test_wrong_class_count_is_refused() -> None:
    state = official_layout(Cnn14(classes_num=10, widths=NARROW))
    with pytest.raises(CheckpointError, match="10 classes, expected classes_num=527"):
        load_checkpoint(state, classes_num=527)


def test_cnn10_file_is_not_a_cnn14() -> None:
    state = {k: v for k, v in official_layout(Cnn14(widths=NARROW)).items() if not k.startswith("conv_block")}
    state.update(Cnn10().state_dict())
    with pytest.raises(CheckpointError, match=r"not a CNN14 layout: found conv blocks \[1, 2, 3, 4\]"):
        load_checkpoint(state)


def test_random_dict_is_refused() -> None:
    with pytest.raises(CheckpointError, match="not a CNN14 layout"):
        load_checkpoint({"weight": torch.zeros(3), "bias": torch.zeros(3)})


def test_non_tensor_entries_are_refused() -> None:
    with pytest.raises(CheckpointError, match=r"non-tensor entries \['epoch'\]"):
        load_checkpoint({"epoch": 3, "weights": torch.zeros(1)})


def test_missing_key_is_named() -> None:
    state = official_layout(Cnn14(widths=NARROW))
    del state["conv_block3.bn1.running_mean"]
    with pytest.raises(CheckpointError, match=r"missing \['conv_block3.bn1.running_mean'\]"):
        load_checkpoint(state)


def test_unexpected_key_is_named() -> None:
    state = official_layout(Cnn14(widths=NARROW))
    state["att_block.att.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"unexpected \['att_block.att.weight'\]"):
        load_checkpoint(state)


def test_inconsistent_shapes_are_named() -> None:
    state = official_layout(Cnn14(widths=NARROW))
    state["conv_block2.conv1.weight"] = torch.zeros(16, 5, 3, 3)  # in-channels ≠ C2 width (8)
    with pytest.raises(CheckpointError, match="conv_block2.conv1.weight"):
        load_checkpoint(state)


def test_front_end_from_other_settings_is_refused() -> None:
    state = official_layout(Cnn14(widths=NARROW))
    mel = librosa.filters.mel(sr=32000, n_fft=1024, n_mels=64, fmin=0, fmax=16000).T
    state["logmel_extractor.melW"] = torch.from_numpy(mel)
    with pytest.raises(CheckpointError, match="logmel_extractor.melW differs"):
        load_checkpoint(state)


def test_unknown_n_fft_is_refused() -> None:
    state = official_layout(Cnn14(widths=NARROW))
    state["spectrogram_extractor.stft.conv_real.weight"] = torch.zeros(1025, 1, 2048)
    with pytest.raises(CheckpointError, match="n_fft=2048 matches no PANNs preset"):
        load_checkpoint(state)


def test_without_front_end_tensors_the_sample_rate_must_be_given() -> None:
    state = {
        k: v for k, v in official_layout(Cnn14(widths=NARROW)).items() if k not in checkpoints.FRONTEND_KEYS
    }
    with pytest.raises(CheckpointError, match="pass expected_sample_rate"):
        load_checkpoint(state)
    assert load_checkpoint(state, expected_sample_rate=16000).logmel.config == PANNS_16K


def test_official_file_on_disk_loads(tmp_path: Path) -> None:
    path = tmp_path / "Cnn14_narrow.pth"
    torch.save({"model": official_layout(Cnn14(widths=NARROW)), "iteration": 10}, path)
    assert load_checkpoint(path).fc1.in_features == NARROW[-1]
    assert load_extra(path) == {}


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "not_a_checkpoint.pth"
    path.write_bytes(b"definitely not a torch file")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)


def test_own_format_round_trip_rebuilds_without_knowing_the_architecture(tmp_path: Path) -> None:
    source = randomised(
        Cnn10(classes_num=12, widths=(4, 4, 8, 8, 16, 16, 32, 32), embed_dim=24, frontend=PANNS_16K)
    )
    path = save_checkpoint(source, tmp_path / "model.pt", iteration=7, metrics={"mAP": 0.25})
    model = load_checkpoint(path)
    assert type(model) is Cnn10 and model.architecture() == source.architecture()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.state_dict().items())
    assert load_extra(path) == {"iteration": 7, "metrics": {"mAP": 0.25}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_own_format_checks_expectations(tmp_path: Path) -> None:
    path = save_checkpoint(Cnn14(classes_num=3, widths=NARROW), tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="3 classes"):
        load_checkpoint(path, classes_num=527)


def test_interrupted_save_leaves_the_old_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_checkpoint(Cnn14(classes_num=3, widths=NARROW), tmp_path / "model.pt", iteration=1)
    before = path.read_bytes()

    def failing_save(obj, handle) -> None:
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(Cnn14(classes_num=3, widths=NARROW), path, iteration=2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_extra(path) == {"iteration": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_saved_files_get_the_umask_permissions_not_owner_only(tmp_path) -> None:
    import os

    previous = os.umask(0o027)
    try:
        path = save_checkpoint(Cnn14(widths=scaled_widths(1 / 16)), tmp_path / "model.pt")
        assert path.stat().st_mode & 0o777 == 0o640
        os.umask(0o022)
        checkpoints.atomic_write(tmp_path / "notes.json", lambda fh: fh.write(b"{}"))
        assert (tmp_path / "notes.json").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(previous)
    assert not list(tmp_path.glob(".*.tmp"))


def test_non_finite_weights_are_refused_at_load_naming_the_tensor(tmp_path: Path) -> None:
    model = Cnn14(classes_num=3, widths=NARROW)
    with torch.no_grad():
        model.conv_block4.conv2.weight[0, 0, 1, 1] = float("nan")
    path = save_checkpoint(model, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"model.pt: tensor 'conv_block4.conv2.weight' holds NaN"):
        load_checkpoint(path)
    official = official_layout(Cnn14(widths=NARROW))
    official["fc1.bias"][3] = float("inf")
    with pytest.raises(CheckpointError, match=r"tensor 'fc1.bias' holds NaN or infinite"):
        load_checkpoint(official)


def test_declared_widths_are_checked_against_the_tensors_before_a_model_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_checkpoint(Cnn14(classes_num=3, widths=NARROW), tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    payload["architecture"]["kwargs"]["widths"] = [10**6] * 12  # a real build would need terabytes
    built, build = [], Cnn14.__init__

    def recording_build(self, *args, **kwargs):
        built.append(torch.get_default_device())
        build(self, *args, **kwargs)

    monkeypatch.setattr(Cnn14, "__init__", recording_build)
    with pytest.raises(
        CheckpointError,
        match=r"shape mismatch: \['fc1.weight \(2048, 256\) vs model "
        r"\(2048, 1000000\)', .*\] and 58 more$",
    ):
        load_checkpoint(payload)
    assert built == [torch.device("meta")]  # only the dry build ran


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda p: p["architecture"].update(name="Cnn99"),
            r"malformed architecture record \(KeyError: 'Cnn99'\)",
        ),
        (lambda p: p["architecture"]["kwargs"].update(depth=3), r"malformed architecture record \(TypeError"),
        (
            lambda p: p["architecture"]["kwargs"]["frontend"].update(n_fft=10**9),
            "front end .* is out of range",
        ),
        (lambda p: p.update(state_dict=[1, 2]), "holds no state dict"),
        (lambda p: p.pop("architecture"), r"malformed architecture record \(TypeError"),
    ],
)
def test_a_damaged_architecture_record_is_one_checkpoint_error(damage, message, tmp_path: Path) -> None:
    path = save_checkpoint(Cnn14(classes_num=3, widths=NARROW), tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    damage(payload)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(payload)


def test_a_folder_an_empty_or_a_truncated_file_is_one_checkpoint_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=rf"{tmp_path} is a folder; give the checkpoint file inside it"):
        load_checkpoint(tmp_path)
    empty = tmp_path / "empty.pt"
    empty.touch()
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint .*empty.pt: the file is empty"):
        load_checkpoint(empty)
    whole = save_checkpoint(Cnn14(classes_num=3, widths=NARROW), tmp_path / "model.pt").read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(
        CheckpointError, match=r"cannot read checkpoint .*truncated.pt: .*restore it or train again"
    ):
        load_checkpoint(truncated)
    with pytest.raises(FileNotFoundError, match="missing.pt does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
