"""E-PANNs pruning (reference §10): criteria, surgery, published sizes, checkpoints and the CLI."""

from pathlib import Path

import numpy as np
import pytest
import torch

from panns_lite.__main__ import main
from panns_lite.checkpoints import load_checkpoint, load_extra, save_checkpoint
from panns_lite.models import CNN10_WIDTHS, Cnn10, Cnn14, count_parameters, scaled_widths
from panns_lite.profile import ModelProfile, profile_model
from panns_lite.pruning import (
    CRITERIA,
    LAYERS,
    conv_layer,
    epanns_ratios,
    filter_importance,
    keep_count,
    layer_seed,
    parse_layers,
    prune,
    rebuild_pruned,
    register_criterion,
    select_filters,
    size_reduction,
)

NARROW = scaled_widths(1 / 8)  # (8, 8, 16, 16, …, 256, 256)


def noise(batch: int = 2, seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, round(seconds * 32000), generator=torch.Generator().manual_seed(seed)) * 2 - 1


def with_bn_stats(model: torch.nn.Module, waveform: torch.Tensor, seed: int = 0) -> torch.nn.Module:
    """Give every BN real running statistics (from ``waveform``) and random γ, β; returns it in eval mode.

    Random BN entries on top of xavier weights would saturate the sigmoid; statistics measured on
    the input keep activations in range, so a wrong slice or fold shows in the outputs.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: one pass sets the statistics of that batch
        model.train()(waveform)
        for bn in bns:
            bn.momentum = 0.1
            bn.weight.copy_(1 + 0.3 * torch.randn(bn.weight.shape, generator=generator))
            bn.bias.copy_(0.3 * torch.randn(bn.bias.shape, generator=generator))
    return model.eval()


@pytest.fixture(scope="module")
def narrow() -> Cnn14:
    torch.manual_seed(0)
    return with_bn_stats(Cnn14(widths=NARROW), noise())


def outputs(model: torch.nn.Module, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return model.eval()(waveform)


# --- criteria ---------------------------------------------------------------------------------


def keras_style_operator_norm(weight: np.ndarray) -> np.ndarray:
    """Independent re-derivation of reference §10.2 with numpy, channel by channel.

    Follows the Keras code: the direction is the first row of the rank-1 matrix σ₁u₁v₁ᵀ, normalised.
    """
    n, c = weight.shape[:2]
    scores = np.zeros(n)
    for channel in range(c):
        a = weight[:, channel].reshape(n, -1)
        centred = a - a.mean(axis=0)
        u, s, vt = np.linalg.svd(centred)
        rank1 = s[0] * np.outer(u[:, 0], vt[0])
        direction = rank1[0] / np.linalg.norm(rank1[0])
        for f in range(n):
            scores[f] += centred[f] @ direction
    return scores**2 / np.max(scores**2)


def test_operator_norm_matches_numpy_rederivation() -> None:
    weight = np.random.default_rng(3).standard_normal((7, 5, 3, 3))
    ours = filter_importance(torch.from_numpy(weight).float(), "operator_norm")
    np.testing.assert_allclose(ours.numpy(), keras_style_operator_norm(weight), rtol=1e-4, atol=1e-6)
    assert ours.max() == 1.0 and ours.dtype == torch.float64


def test_operator_norm_of_rank_one_filters_is_distance_from_mean() -> None:
    # W[n, c] = a_n · P_c: every centred channel matrix is (a − ā) P_cᵀ, so I_n ∝ (a_n − ā)².
    a = torch.tensor([3.0, 1.0, 0.0, 2.0, -1.0])
    patterns = torch.randn(4, 3, 3, generator=torch.Generator().manual_seed(1))
    weight = a[:, None, None, None] * patterns[None]
    expected = torch.tensor([1.0, 0.0, 0.25, 0.25, 1.0], dtype=torch.float64)
    torch.testing.assert_close(filter_importance(weight, "operator_norm"), expected, atol=1e-6, rtol=0)


def test_the_squares_variant_sums_squared_projections_and_ignores_their_signs() -> None:
    weight = np.random.default_rng(4).standard_normal((7, 5, 3, 3))
    n = weight.shape[0]
    expected = np.zeros(n)
    for channel in range(weight.shape[1]):
        centred = weight[:, channel].reshape(n, -1) - weight[:, channel].reshape(n, -1).mean(axis=0)
        _, s, vt = np.linalg.svd(centred)
        expected += (centred @ vt[0]) ** 2  # the sign of vt[0] no longer matters
    ours = filter_importance(torch.from_numpy(weight), "operator_norm_squares")
    np.testing.assert_allclose(ours.numpy(), expected / expected.max(), rtol=1e-9)
    # reordering the filters reorders the squares' scores; E-PANNs' sum depends on which filter is first
    order = np.roll(np.arange(n), 1)
    reordered = torch.from_numpy(weight[order])
    torch.testing.assert_close(filter_importance(reordered, "operator_norm_squares"), ours[order])
    assert not torch.allclose(
        filter_importance(reordered, "operator_norm"),
        filter_importance(torch.from_numpy(weight), "operator_norm")[order],
    )


def test_l1_orders_by_magnitude() -> None:
    weight = torch.ones(4, 2, 3, 3) * torch.tensor([3.0, -1.0, 2.0, 0.5])[:, None, None, None]
    scores = filter_importance(weight, "l1")
    torch.testing.assert_close(scores, torch.tensor([54.0, 18.0, 36.0, 9.0], dtype=torch.float64))
    assert torch.argsort(scores, descending=True).tolist() == [0, 2, 1, 3]


def test_random_is_deterministic_per_seed() -> None:
    weight = torch.zeros(32, 1, 3, 3)
    a, b, c = (filter_importance(weight, "random", seed=s) for s in (5, 5, 6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (32,) and 0 <= a.min() and a.max() < 1


def test_a_new_criterion_is_one_registered_function(narrow: Cnn14) -> None:
    @register_criterion("test_negative_l1")
    def negative_l1(weight: torch.Tensor, seed: int) -> torch.Tensor:
        return -CRITERIA["l1"](weight, seed)

    try:
        kept = select_filters(narrow, {"C7": 0.75}, criterion="test_negative_l1")
        l1 = filter_importance(conv_layer(narrow, "C7").weight, "l1")
        assert kept["C7"].tolist() == sorted(torch.argsort(l1)[:16].tolist())  # the smallest 16 of 64
        with pytest.raises(ValueError, match="already registered"):
            register_criterion("test_negative_l1")(negative_l1)
    finally:
        CRITERIA.pop("test_negative_l1")


# --- layer specs and ratios -------------------------------------------------------------------


def test_layer_specs() -> None:
    assert parse_layers("C7-C12") == LAYERS[6:]
    assert parse_layers("c9, C7,C9") == ("C7", "C9")
    assert parse_layers(["C12", "C1-C2"]) == ("C1", "C2", "C12")
    assert conv_layer(Cnn14(widths=NARROW), "C7").weight.shape == (64, 32, 3, 3)  # conv_block4.conv1
    assert epanns_ratios(0.5) == {f"C{i}": 0.5 for i in range(7, 13)}
    assert [keep_count(2048, p) for p in (0.25, 0.5, 0.75)] == [1536, 1024, 512]
    assert keep_count(10, 0.9) == 1 and keep_count(3, 0.9) == 1


@pytest.mark.parametrize("spec", ["C13", "C0", "C12-C7", "fc1", "", "C7-"])
def test_bad_layer_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="layer spec|no layers"):
        parse_layers(spec)


def test_bad_inputs(narrow: Cnn14) -> None:
    with pytest.raises(ValueError, match="unknown pruning criterion 'l2'.*operator_norm"):
        filter_importance(torch.zeros(4, 2, 3, 3), "l2")
    with pytest.raises(ValueError, match="unknown pruning criterion"):
        prune(narrow, epanns_ratios(0.5), criterion="l2")
    with pytest.raises(ValueError, match=r"\(N, C, kh, kw\), got \(4, 18\)"):
        filter_importance(torch.zeros(4, 18), "l1")
    for ratio in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            epanns_ratios(ratio)
    with pytest.raises(ValueError, match="unknown layer 'C13'"):
        prune(narrow, {"C13": 0.5})
    with pytest.raises(ValueError, match="works on a Cnn14, got Cnn10"):
        prune(Cnn10(widths=scaled_widths(1 / 8, CNN10_WIDTHS)), {"C1": 0.5})
    for bad in ([3, 1], [0, 0], [], [0, 64]):
        with pytest.raises(ValueError, match="strictly increasing subset of range\\(64\\)"):
            rebuild_pruned(narrow, {"C7": torch.tensor(bad, dtype=torch.long)})


# --- surgery ----------------------------------------------------------------------------------


def test_ratio_zero_is_the_identity(narrow: Cnn14) -> None:
    same = prune(narrow, epanns_ratios(0.0, "C1-C12"))
    assert same.architecture() == narrow.architecture()
    for key, tensor in narrow.state_dict().items():
        assert torch.equal(same.state_dict()[key], tensor), key
    waveform = noise(seed=1)
    for key, value in outputs(narrow, waveform).items():
        assert torch.equal(outputs(same, waveform)[key], value)


def test_removing_dead_filters_changes_nothing(narrow: Cnn14) -> None:
    """Filters whose channel is 0 after ReLU (zero weights, γ = 0, β < 0) can be cut without a trace.

    That needs the right filters kept, their BN entries, the next conv's in-channels and fc1's
    columns. L1 scores the dead filters 0, so it selects exactly them. C1+C2 and C11+C12 are
    pruned back to back to check in- and out-slicing of the same conv.
    """
    ratios = {"C1": 0.25, "C2": 0.5, "C4": 0.5, **epanns_ratios(0.5)}
    model = Cnn14(widths=NARROW)
    model.load_state_dict(narrow.state_dict())
    generator = torch.Generator().manual_seed(7)
    expected = {}
    with torch.no_grad():
        for name, ratio in ratios.items():
            conv = conv_layer(model, name)
            bn = model.get_submodule(
                f"conv_block{LAYERS.index(name) // 2 + 1}.bn{LAYERS.index(name) % 2 + 1}"
            )
            n = conv.out_channels
            dead = torch.randperm(n, generator=generator)[: n - keep_count(n, ratio)]
            conv.weight[dead] = 0
            bn.weight[dead], bn.bias[dead] = 0.0, -0.5
            expected[name] = sorted(set(range(n)) - set(dead.tolist()))
    assert {k: v.tolist() for k, v in select_filters(model, ratios, "l1").items()} == expected

    pruned = prune(model, ratios, criterion="l1")
    assert [conv_layer(pruned, n).out_channels for n in LAYERS] == [
        6,
        4,
        16,
        8,
        32,
        32,
        32,
        32,
        64,
        64,
        128,
        128,
    ]
    assert pruned.fc1.in_features == 128
    assert torch.equal(pruned.conv_block1.bn2.num_batches_tracked, model.conv_block1.bn2.num_batches_tracked)
    waveform = noise(seed=2)
    reference, ours = outputs(model, waveform), outputs(pruned, waveform)
    assert reference["clipwise_output"].std() > 1e-3  # not saturated: the comparison means something
    for key in reference:
        torch.testing.assert_close(ours[key], reference[key], atol=1e-5, rtol=1e-5)


def test_pruning_uses_kept_slices_and_leaves_the_input_alone(narrow: Cnn14) -> None:
    before = {k: v.clone() for k, v in narrow.state_dict().items()}
    kept = select_filters(narrow, {"C7": 0.5, "C8": 0.5, "C12": 0.75})
    pruned = rebuild_pruned(narrow, kept)
    c7, c8, c12 = kept["C7"], kept["C8"], kept["C12"]
    assert torch.equal(pruned.conv_block4.conv1.weight, narrow.conv_block4.conv1.weight[c7])
    assert torch.equal(pruned.conv_block4.conv2.weight, narrow.conv_block4.conv2.weight[c8][:, c7])
    assert torch.equal(pruned.conv_block5.conv1.weight, narrow.conv_block5.conv1.weight[:, c8])
    assert torch.equal(pruned.conv_block4.bn1.running_var, narrow.conv_block4.bn1.running_var[c7])
    assert torch.equal(pruned.fc1.weight, narrow.fc1.weight[:, c12])
    assert torch.equal(pruned.fc_audioset.weight, narrow.fc_audioset.weight)
    assert all(torch.equal(before[k], v) for k, v in narrow.state_dict().items())
    assert not pruned.training and pruned.spec_augment is None


def test_scoring_uses_each_layers_unpruned_weights(narrow: Cnn14) -> None:
    together = select_filters(narrow, epanns_ratios(0.5))
    for name in ("C8", "C12"):
        alone = select_filters(narrow, {name: 0.5})[name]
        assert torch.equal(together[name], alone)
        scores = filter_importance(conv_layer(narrow, name).weight, "operator_norm")
        dropped = sorted(set(range(len(scores))) - set(alone.tolist()))
        assert len(alone) == len(scores) // 2 and scores[alone].min() >= scores[dropped].max()


def test_pruned_model_checkpoint_round_trip(narrow: Cnn14, tmp_path: Path) -> None:
    pruned = prune(narrow, epanns_ratios(0.5))
    path = save_checkpoint(pruned, tmp_path / "pruned.pt", criterion="operator_norm")
    loaded = load_checkpoint(path)
    assert loaded.architecture()["kwargs"]["widths"] == list(NARROW[:6]) + [w // 2 for w in NARROW[6:]]
    waveform = noise(seed=3)
    for key, value in outputs(pruned, waveform).items():
        assert torch.equal(outputs(loaded, waveform)[key], value)


# --- published sizes (reference §10.4), full width ------------------------------------------


@pytest.fixture(scope="module")
def full_profiles() -> dict[str, ModelProfile]:
    """Profiles of CNN14 and of models pruned from it (sizes do not depend on the criterion: l1 is the
    cheapest)."""
    torch.manual_seed(0)
    full = Cnn14()
    configs = {
        "25%": epanns_ratios(0.25),
        "50%": epanns_ratios(0.5),
        "75%": epanns_ratios(0.75),
        "75% C7-C11": epanns_ratios(0.75, "C7-C11"),
    }
    profiles = {"CNN14": profile_model(full)}
    for label, ratios in configs.items():
        profiles[label] = profile_model(prune(full, ratios, criterion="l1"))
    return profiles


def test_released_epanns_size(full_profiles: dict[str, ModelProfile]) -> None:
    pruned = full_profiles["50%"]
    assert pruned.params == 23_205_839
    assert pruned.params_with_stft == 24_256_463
    assert [row.in_channels for row in pruned.layers[6:13]] == [256, 256, 256, 512, 512, 1024, 1024]
    reduction = size_reduction(full_profiles["CNN14"], pruned)
    assert round(100 * reduction.params, 1) == 71.3
    assert round(100 * reduction.params_with_stft, 1) == 70.3  # abstract: "70 % less memory"
    assert round(reduction.megabytes, 2) == 92.53  # torchsummary "Params size (MB)"
    assert round(100 * reduction.macs_with_dft, 1) == 36.1  # abstract: "36 % less computations"
    assert round(100 * reduction.macs, 1) == 38.1
    assert pruned.total_macs_dft / 1e9 == pytest.approx(13.50, abs=0.01)


def test_25_and_75_percent_sizes(full_profiles: dict[str, ModelProfile]) -> None:
    base = full_profiles["CNN14"]
    assert full_profiles["25%"].params == 47_408_591
    assert full_profiles["75%"].params == 8_145_359
    r25, r75 = size_reduction(base, full_profiles["25%"]), size_reduction(base, full_profiles["75%"])
    assert round(100 * r25.params, 1) == 41.3  # quoted 41 % ✓
    assert round(100 * r75.params, 1) == 89.9
    assert round(100 * r75.macs_with_dft, 1) == 45.8 and round(100 * r75.macs, 1) == 48.3  # quoted 46 % ✓
    # The quoted "24 % fewer MACs" at 25 % does not follow from uniform C7–C12 pruning in either convention.
    assert round(100 * r25.macs_with_dft, 1) == 20.8 and round(100 * r25.macs, 1) == 22.0


def test_quoted_75_percent_params_fit_c12_unpruned(full_profiles: dict[str, ModelProfile]) -> None:
    # The quoted "78 % fewer parameters" at 75 % fits C7–C11 pruned, C12 kept (reference §10.4).
    pruned = full_profiles["75% C7-C11"]
    assert pruned.params == 18_372_047 and pruned.layers[12].in_channels == 2048
    assert round(100 * size_reduction(full_profiles["CNN14"], pruned).params, 1) == 77.2


def test_size_reduction_needs_the_same_input(full_profiles: dict[str, ModelProfile]) -> None:
    short = profile_model(Cnn14(widths=NARROW), seconds=1.0)
    with pytest.raises(ValueError, match="different inputs"):
        size_reduction(full_profiles["CNN14"], short)


# --- CLI --------------------------------------------------------------------------------------


def test_cli_prune(narrow: Cnn14, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = save_checkpoint(narrow, tmp_path / "model.pt")
    out = tmp_path / "pruned.pt"
    args = [
        "prune",
        str(source),
        "--ratio",
        "0.5",
        "--layers",
        "C7-C12",
        "--criterion",
        "l1",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    pruned = load_checkpoint(out)
    expected = prune(narrow, epanns_ratios(0.5), criterion="l1")
    assert pruned.architecture() == expected.architecture()
    assert all(torch.equal(v, expected.state_dict()[k]) for k, v in pruned.state_dict().items())
    extra = load_extra(out)
    assert extra["ratios"] == epanns_ratios(0.5) and extra["criterion"] == "l1"
    assert extra["source_checkpoint"] == str(source) and extra["seed"] == 0
    printed = capsys.readouterr().out
    assert f"{count_parameters(narrow):,}" in printed and f"{count_parameters(pruned):,}" in printed


def test_cli_prune_errors(narrow: Cnn14, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = save_checkpoint(narrow, tmp_path / "model.pt")
    out = tmp_path / "pruned.pt"
    assert main(["prune", str(source), "--ratio", "1.0", "--out", str(out)]) == 2
    assert "--ratio: 1.0 is out of range: must be ≥ 0 and < 1" in capsys.readouterr().err
    assert main(["prune", str(source), "--ratio", "0.5", "--criterion", "l2", "--out", str(out)]) == 2
    assert main(["prune", str(tmp_path / "missing.pt"), "--ratio", "0.5", "--out", str(out)]) == 2
    assert not out.exists()


def test_layer_seed_differs_per_layer_and_follows_the_run_seed():
    seeds = [layer_seed(3, name) for name in LAYERS]
    assert len(set(seeds)) == len(LAYERS) and layer_seed(4, "C1") == layer_seed(3, "C1") + 1
