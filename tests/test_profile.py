"""Parameter/MAC profiles against the published counts (reference §2, §3, §10.4)."""

import pytest

from panns_lite.models import CNN14_WIDTHS, Cnn6, Cnn10, Cnn14, MobileNetV1, scaled_widths
from panns_lite.profile import ModelProfile, profile_model

G = 1e9
PRUNED_50 = CNN14_WIDTHS[:6] + tuple(w // 2 for w in CNN14_WIDTHS[6:])
# reference §2 table: MACs per conv for a 10 s clip, in G.
CNN14_CONV_MACS = (0.037, 2.362, 1.180, 2.359, 1.180, 2.359, 1.180, 2.359, 1.170, 2.340, 1.170, 2.340)


@pytest.fixture(scope="module")
def cnn14() -> ModelProfile:
    return profile_model(Cnn14())


def paper_multi_adds(profile: ModelProfile) -> float:
    """PANNs ``count_flops`` convention (reference §2): 2 per conv/fc MAC, the STFT convs, 2·numel per BN."""
    stft_macs = 2 * 513 * 1024 * profile.frames
    bn_numel = profile.frames * 64 + sum(
        row.out_channels * int(row.output_map.split("×")[0]) * int(row.output_map.split("×")[1])
        for row in profile.layers
        if row.name.startswith("C")
    )
    return 2 * (profile.macs + stft_macs) + 2 * bn_numel


def test_cnn14_totals(cnn14: ModelProfile) -> None:
    assert cnn14.params == 80_753_615
    assert cnn14.frames == 1001
    assert cnn14.macs / G == pytest.approx(20.04, abs=0.01)
    assert cnn14.total_macs_dft / G == pytest.approx(21.13, abs=0.01)
    assert cnn14.paper_multi_adds() / G == pytest.approx(42.22, rel=2e-3)


def test_cnn14_layer_table(cnn14: ModelProfile) -> None:
    assert [row.name for row in cnn14.layers] == [f"C{i}" for i in range(1, 13)] + ["fc1", "fc"]
    convs = cnn14.layers[:12]
    assert [round(row.macs / G, 3) for row in convs] == list(CNN14_CONV_MACS)
    assert [row.output_map for row in convs[::2]] == ["1001×64", "500×32", "250×16", "125×8", "62×4", "31×2"]
    assert (convs[0].params, convs[1].params, convs[11].params) == (576, 36_864, 37_748_736)
    fc1, fc = cnn14.layers[12:]
    assert (fc1.params, fc.params) == (4_196_352, 1_079_823)
    assert (fc1.macs, fc.macs) == (2048 * 2048, 2048 * 527)


@pytest.mark.parametrize(
    ("build", "published"), [(Cnn14, 42.220), (Cnn10, 28.166), (Cnn6, 21.986)], ids=["Cnn14", "Cnn10", "Cnn6"]
)
def test_published_multi_adds_are_reproduced(build, published: float) -> None:
    assert paper_multi_adds(profile_model(build())) / G == pytest.approx(published, abs=0.001)


def test_epanns_profile() -> None:
    profile = profile_model(Cnn14(widths=PRUNED_50))
    assert profile.params == 23_205_839
    assert profile.macs / G == pytest.approx(12.42, abs=0.01)
    assert profile.total_macs_dft / G == pytest.approx(13.50, abs=0.01)
    assert profile.layers[12].in_channels == 1024  # fc1 takes C12's width


def test_mobilenet_profile() -> None:
    profile = profile_model(MobileNetV1())
    assert profile.params == 4_796_303
    assert len([row for row in profile.layers if row.name.startswith("C")]) == 27
    # The stem conv runs at full resolution; its 2×2 pool (instead of stride 2) halves the next conv's map.
    assert [row.output_map for row in profile.layers[:2]] == ["1001×64", "500×32"]


def test_front_end_counts(cnn14: ModelProfile) -> None:
    # reference §2: STFT convs 1.052 G + mel matmul 0.033 G for 10 s
    assert cnn14.frontend_macs_dft / G == pytest.approx(1.052 + 0.033, abs=0.001)
    assert cnn14.frontend_macs_fft < cnn14.frontend_macs_dft / 10
    assert cnn14.total_macs_fft == cnn14.macs + cnn14.frontend_macs_fft


@pytest.mark.parametrize(("seconds", "frames"), [(0.1, 32), (1.0, 101), (30.0, 3001)])
def test_any_length(seconds: float, frames: int) -> None:
    profile = profile_model(Cnn14(widths=scaled_widths(1 / 16)), seconds=seconds)
    assert profile.frames == frames
    assert profile.layers[0].output_map == f"{frames}×64"


def test_profiling_leaves_the_model_unchanged() -> None:
    model = Cnn14(widths=scaled_widths(1 / 16)).train()
    keys = list(model.state_dict())
    profile_model(model)
    assert list(model.state_dict()) == keys
    assert model.training


def test_renderings(cnn14: ModelProfile) -> None:
    table = cnn14.layers_dataframe()
    assert table.shape == (14, 8) and table["params"].iloc[11] == 37_748_736
    markdown = cnn14.to_markdown()
    assert "80,753,615" in markdown and "| C12 | `conv_block6.conv2` | 2048 → 2048 | 3×3 | 31×2 |" in markdown


def test_bad_arguments() -> None:
    model = Cnn14(widths=scaled_widths(1 / 16))
    with pytest.raises(ValueError, match="32000 Hz"):
        profile_model(model, sample_rate=16000)
    with pytest.raises(ValueError, match="seconds"):
        profile_model(model, seconds=0)
    assert profile_model(model, sample_rate=32000).sample_rate == 32000


def test_profiling_keeps_the_model_mode():
    model = Cnn14(widths=scaled_widths(1 / 16)).eval()
    profile_model(model, seconds=1.0)
    assert not any(m.training for m in model.modules())
    profile_model(model.train(), seconds=1.0)
    assert all(m.training for m in model.modules())
