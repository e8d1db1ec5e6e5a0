"""Batch-norm folding (panns_lite.folding): same eval outputs, no block BNs left, input untouched."""

import pytest
import torch
from test_pruning import NARROW, noise, outputs, with_bn_stats
from torch import nn

from panns_lite.folding import fold_batchnorm, fold_conv_bn
from panns_lite.models import CNN6_WIDTHS, Cnn6, Cnn14, FeaturesPath, MobileNetV1, scaled_widths
from panns_lite.pruning import epanns_ratios, prune


def assert_same_outputs(model: nn.Module, folded: nn.Module, waveform: torch.Tensor) -> None:
    reference, ours = outputs(model, waveform), outputs(folded, waveform)
    assert reference["clipwise_output"].std() > 1e-3  # not saturated
    for key in reference:
        torch.testing.assert_close(ours[key], reference[key], atol=1e-5, rtol=1e-5)


def block_batchnorms(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d) and name != "bn0"]


@pytest.fixture(scope="module")
def narrow() -> Cnn14:
    torch.manual_seed(1)
    return with_bn_stats(Cnn14(widths=NARROW), noise(seed=4), seed=1)


def test_folded_cnn14_matches(narrow: Cnn14) -> None:
    before = {k: v.clone() for k, v in narrow.state_dict().items()}
    narrow.train()
    folded = fold_batchnorm(narrow)
    assert narrow.training and not folded.training
    assert all(torch.equal(before[k], v) for k, v in narrow.state_dict().items())
    assert len(block_batchnorms(narrow)) == 12 and block_batchnorms(folded) == []
    assert all(
        folded.get_submodule(f"conv_block{i}.conv{j}").bias is not None for i in range(1, 7) for j in (1, 2)
    )
    assert isinstance(folded.bn0, nn.BatchNorm2d)  # kept: a per-mel-bin scale cannot move into C1
    assert_same_outputs(narrow, folded, noise(seed=5))


def test_folded_pruned_model_matches(narrow: Cnn14) -> None:
    pruned = prune(narrow, epanns_ratios(0.5))
    folded = fold_batchnorm(pruned)
    assert folded.conv_block6.conv2.weight.shape == pruned.conv_block6.conv2.weight.shape
    assert_same_outputs(pruned, folded, noise(seed=6))


def test_folded_cnn6_matches() -> None:
    torch.manual_seed(2)
    model = with_bn_stats(Cnn6(widths=scaled_widths(1 / 8, CNN6_WIDTHS)), noise(seed=7), seed=2)
    folded = fold_batchnorm(model)
    assert folded.conv_block1.conv1.kernel_size == (5, 5) and block_batchnorms(folded) == []
    assert_same_outputs(model, folded, noise(seed=8))


def test_folding_twice_changes_nothing(narrow: Cnn14) -> None:
    once = fold_batchnorm(narrow)
    twice = fold_batchnorm(once)
    assert once.state_dict().keys() == twice.state_dict().keys()
    assert all(torch.equal(v, twice.state_dict()[k]) for k, v in once.state_dict().items())


def test_folded_model_exports(narrow: Cnn14) -> None:
    folded = fold_batchnorm(narrow)
    logmel = folded.logmel(noise(batch=1, seed=9))
    exported = torch.export.export(FeaturesPath(folded), (logmel,)).module()
    with torch.no_grad():
        expected = folded.forward_features(logmel)["clipwise_output"]
        torch.testing.assert_close(exported(logmel)["clipwise_output"], expected)


def test_fold_conv_bn_keeps_conv_bias_and_settings() -> None:
    generator = torch.Generator().manual_seed(3)
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=True)
    bn = nn.BatchNorm2d(4).eval()
    with torch.no_grad():
        for tensor in (conv.bias, bn.weight, bn.bias, bn.running_mean):
            tensor.copy_(torch.randn(tensor.shape, generator=generator))
        bn.running_var.copy_(torch.rand(4, generator=generator) + 0.5)
    x = torch.randn(2, 3, 9, 9, generator=generator)
    folded = fold_conv_bn(conv, bn)
    assert folded.stride == (2, 2) and folded.padding == (1, 1)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), bn(conv(x)), atol=1e-6, rtol=1e-6)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="MobileNetV1 has no ConvBlock"):
        fold_batchnorm(MobileNetV1(widths=[8] * 14))
    with pytest.raises(ValueError, match="running statistics"):
        fold_conv_bn(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False))
    with pytest.raises(ValueError, match="BN has 3 channels, the conv 2"):
        fold_conv_bn(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(3))
