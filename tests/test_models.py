"""Model structure (reference §2, §3, §10.1), hooks and heads. Narrow widths wherever a forward runs."""

import math

import pytest
import torch
from torch import nn

from panns_lite.features import PANNS_16K
from panns_lite.models import (
    CNN14_WIDTHS,
    MOBILENET_V1_WIDTHS,
    Cnn6,
    Cnn10,
    Cnn14,
    MobileNetV1,
    count_parameters,
    head_parameters,
    mix_pairs,
    scaled_widths,
)

NARROW = scaled_widths(1 / 16)  # (4, 4, 8, 8, …, 128, 128)
PRUNED_50 = CNN14_WIDTHS[:6] + tuple(w // 2 for w in CNN14_WIDTHS[6:])  # E-PANNs: C7–C12 at 50 %


def noise(batch: int, seconds: float, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, round(seconds * 32000), generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (Cnn14, 80_753_615),
        (Cnn10, 5_219_279),
        (Cnn6, 4_837_455),
        (MobileNetV1, 4_796_303),
        (lambda: Cnn14(widths=PRUNED_50), 23_205_839),
    ],
    ids=["Cnn14", "Cnn10", "Cnn6", "MobileNetV1", "E-PANNs"],
)
def test_trainable_parameters_match_published_counts(build, expected: int) -> None:
    assert count_parameters(build()) == expected


def test_pruned_cnn14_fc1_takes_c12_width() -> None:
    model = Cnn14(widths=PRUNED_50)
    assert (model.fc1.in_features, model.fc1.out_features) == (1024, 2048)
    assert model.conv_block4.conv1.weight.shape == (256, 256, 3, 3)


def test_state_dict_uses_official_names_without_front_end() -> None:
    expected = {f"bn0.{s}" for s in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")}
    for i in range(1, 7):
        for j in (1, 2):
            expected.add(f"conv_block{i}.conv{j}.weight")
            expected |= {
                f"conv_block{i}.bn{j}.{s}"
                for s in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
            }
    expected |= {"fc1.weight", "fc1.bias", "fc_audioset.weight", "fc_audioset.bias"}
    keys = set(Cnn14(widths=NARROW).state_dict())
    assert keys == expected and len(keys) == 84 - 3


def test_front_end_contributes_no_parameters() -> None:
    model = Cnn14(widths=NARROW)
    assert list(model.logmel.parameters()) == []
    assert not any(key.startswith("logmel") for key in model.state_dict())


def test_panns_initialisation() -> None:
    model = Cnn14(widths=NARROW)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            fan_out = module.weight.shape[0] * module.weight[0, 0].numel()
            assert module.weight.abs().max() <= math.sqrt(6 / (fan_in + fan_out))  # xavier-uniform bound
            assert module.bias is None or torch.all(module.bias == 0)
        elif isinstance(module, nn.BatchNorm2d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)


def test_convs_have_no_bias_and_linears_do() -> None:
    for model in (
        Cnn14(widths=NARROW),
        Cnn6(widths=(4, 8, 16, 32)),
        MobileNetV1(widths=scaled_widths(1 / 8, MOBILENET_V1_WIDTHS)),
    ):
        assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))
        assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Linear))


@pytest.mark.parametrize(
    "model",
    [
        Cnn14(classes_num=5, widths=NARROW, embed_dim=32),
        Cnn10(classes_num=5, widths=(4, 4, 8, 8, 16, 16, 32, 32), embed_dim=32),
        Cnn6(classes_num=5, widths=(4, 8, 16, 32), embed_dim=32),
        MobileNetV1(classes_num=5, widths=scaled_widths(1 / 16, MOBILENET_V1_WIDTHS), embed_dim=32),
    ],
    ids=["Cnn14", "Cnn10", "Cnn6", "MobileNetV1"],
)
def test_forward_shapes_and_probabilities(model) -> None:
    out = model.eval()(noise(3, 1.0))
    assert out["clipwise_output"].shape == (3, 5)
    assert out["embedding"].shape == (3, 32)
    assert torch.all((out["clipwise_output"] > 0) & (out["clipwise_output"] < 1))


def test_forward_is_front_end_then_forward_features() -> None:
    model = Cnn14(classes_num=7, widths=NARROW).eval()
    waveform = noise(2, 1.0)
    with torch.no_grad():
        direct = model(waveform)
        cached = model.forward_features(model.logmel(waveform))
    assert torch.equal(direct["clipwise_output"], cached["clipwise_output"])
    assert torch.equal(direct["embedding"], cached["embedding"])


def test_inputs_shorter_than_the_minimum_still_run() -> None:
    model = Cnn14(classes_num=3, widths=NARROW).eval()
    with torch.no_grad():
        out = model(noise(1, 1.0)[:, :100], framewise=True)
    assert out["clipwise_output"].shape == (1, 3)
    assert out["framewise_output"].shape == (1, 32, 3)


def test_16k_model_gives_1001_frames_for_10_s() -> None:
    model = Cnn14(classes_num=3, widths=NARROW, frontend=PANNS_16K).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 160000), framewise=True)
    assert out["framewise_output"].shape == (1, 1001, 3)


def test_framewise_output_for_10_s_and_its_max_over_time() -> None:
    model = Cnn14(classes_num=4, widths=NARROW).eval()
    with torch.no_grad():
        out = model(noise(2, 10.0), framewise=True)
    frames, segments = out["framewise_output"], out["segmentwise_output"]
    assert frames.shape == (2, 1001, 4) and segments.shape == (2, 31, 4)
    # Each of the 31 segments covers 32 frames; the 9 frames left over repeat the last segment.
    assert torch.equal(frames[:, :992], segments.repeat_interleave(32, dim=1))
    assert torch.equal(frames[:, 992:], segments[:, -1:].expand(-1, 9, -1))
    assert torch.equal(frames.amax(dim=1), segments.amax(dim=1))


def test_framewise_head_is_off_by_default() -> None:
    out = Cnn14(classes_num=3, widths=NARROW).eval()(noise(1, 1.0))
    assert set(out) == {"clipwise_output", "embedding"}


def test_classifier_sees_the_undropped_embedding_in_training() -> None:
    model = Cnn14(classes_num=3, widths=NARROW, embed_dim=64).train()
    seen = []
    model.fc_audioset.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0]))
    torch.manual_seed(0)
    embedding = model(noise(4, 1.0))["embedding"]
    classifier_input = seen[0]
    dropped = embedding == 0
    assert dropped.any() and not torch.all(classifier_input[dropped] == 0)
    torch.testing.assert_close(embedding[~dropped], 2 * classifier_input[~dropped])


def test_mix_pairs_is_the_panns_formula() -> None:
    x = torch.randn(4, 1, 5, 3)
    lam = torch.tensor([0.3, 0.7, 0.9, 0.1])
    mixed = mix_pairs(x, lam)
    torch.testing.assert_close(mixed[0], 0.3 * x[0] + 0.7 * x[1])
    torch.testing.assert_close(mixed[1], 0.9 * x[2] + 0.1 * x[3])


def test_mixup_halves_the_batch_and_one_zero_lambdas_pick_one_clip() -> None:
    model = Cnn14(classes_num=6, widths=NARROW).eval()
    waveform = noise(4, 1.0)
    with torch.no_grad():
        mixed = model(waveform, mixup_lambda=torch.tensor([1.0, 0.0, 0.0, 1.0]))["clipwise_output"]
        alone = model(waveform[[0, 3]])["clipwise_output"]
    assert mixed.shape == (2, 6)
    torch.testing.assert_close(mixed, alone, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("batch", "lam"), [(4, [0.5, 0.5]), (3, [1.0, 0.0, 0.5])], ids=["wrong length", "odd batch"]
)
def test_mixup_rejects_bad_lambda(batch: int, lam: list[float]) -> None:
    model = Cnn14(classes_num=2, widths=NARROW).eval()
    with pytest.raises(ValueError, match="mixup_lambda"):
        model(noise(batch, 1.0), mixup_lambda=torch.tensor(lam))


class RecordingAugment:
    """A SpecAugment stand-in that records what it sees and zeroes the input."""

    def __init__(self) -> None:
        self.inputs: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.detach().clone())
        return torch.zeros_like(x)


def test_spec_augment_runs_after_bn0_before_mixup_in_training_only() -> None:
    augment = RecordingAugment()
    model = Cnn14(classes_num=2, widths=NARROW, spec_augment=augment)
    logmel = model.logmel(noise(4, 1.0))
    model.eval().forward_features(logmel)
    assert augment.inputs == []
    model.train().forward_features(logmel, mixup_lambda=torch.tensor([0.5, 0.5, 0.5, 0.5]))
    (seen,) = augment.inputs
    assert seen.shape == logmel.shape  # full batch: before mixup
    # bn0 in training normalises each mel bin over batch × time
    torch.testing.assert_close(seen.mean(dim=(0, 1, 2)), torch.zeros(64), rtol=0, atol=1e-4)


def test_scaled_widths() -> None:
    assert scaled_widths(0.25) == (16, 16, 32, 32, 64, 64, 128, 128, 256, 256, 512, 512)
    assert scaled_widths(1e-4) == (1,) * 12
    assert scaled_widths(0.5, base=(64, 128, 256, 512)) == (32, 64, 128, 256)
    with pytest.raises(ValueError, match="multiplier"):
        scaled_widths(0)


def test_wrong_number_of_widths_is_rejected() -> None:
    with pytest.raises(ValueError, match="12 positive widths"):
        Cnn14(widths=(64, 64))
    with pytest.raises(ValueError, match="positive widths"):
        Cnn10(widths=(64, 64, 128, 128, 256, 256, 512, 0))


def test_architecture_is_plain_data() -> None:
    arch = Cnn14(classes_num=10, widths=NARROW, embed_dim=32, frontend=PANNS_16K).architecture()
    assert arch == {
        "name": "Cnn14",
        "kwargs": {
            "widths": list(NARROW),
            "classes_num": 10,
            "embed_dim": 32,
            "frontend": {
                "sample_rate": 16000,
                "n_fft": 512,
                "hop_length": 160,
                "n_mels": 64,
                "f_min": 50.0,
                "f_max": 8000.0,
            },
            "dropout": 0.2,
            "head_dropout": 0.5,
        },
    }


def test_dropout_rates_are_arguments_that_only_matter_in_training() -> None:
    torch.manual_seed(0)
    published = Cnn14(classes_num=4, widths=NARROW, embed_dim=16)
    light = Cnn14(classes_num=4, widths=NARROW, embed_dim=16, dropout=0.0, head_dropout=0.0)
    light.load_state_dict(published.state_dict())
    assert light.architecture()["kwargs"]["dropout"] == 0.0 and light.dropout_rates() == {
        "dropout": 0.0,
        "head_dropout": 0.0,
    }
    x = torch.randn(2, 1, 64, 64)
    published.eval(), light.eval()
    torch.testing.assert_close(
        light.forward_features(x)["clipwise_output"], published.forward_features(x)["clipwise_output"]
    )  # eval: no dropout at all
    light.train()
    a, b = light.forward_features(x)["clipwise_output"], light.forward_features(x)["clipwise_output"]
    torch.testing.assert_close(a, b)  # rate 0: training is deterministic too (batch norm uses batch stats)
    published.train()
    assert not torch.equal(
        published.forward_features(x)["clipwise_output"], published.forward_features(x)["clipwise_output"]
    )
    assert MobileNetV1(head_dropout=0.1).dropout_rates() == {"head_dropout": 0.1}
    published.set_dropout(dropout=0.05)
    assert published.architecture()["kwargs"]["dropout"] == 0.05  # what a checkpoint of it records
    with pytest.raises(ValueError, match="has no dropout"):
        MobileNetV1().set_dropout(dropout=0.1)
    with pytest.raises(ValueError, match="head_dropout"):
        published.set_dropout(head_dropout=1.5)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="dropout"):
            Cnn14(widths=NARROW, dropout=bad)
        with pytest.raises(ValueError, match="head_dropout"):
            Cnn10(head_dropout=bad)


def test_head_parameters_are_fc1_and_the_classifier():
    model = Cnn14(widths=NARROW, classes_num=10)
    features, embedding = NARROW[-1], 2048  # fc1: last block's channels → the 2048-d embedding
    assert (model.fc1.in_features, model.fc1.out_features) == (features, embedding)
    assert head_parameters(model) == (features * embedding + embedding) + (embedding * 10 + 10)
    assert head_parameters(model) < count_parameters(model)
