"""LogMel against the torchlibrosa front end PANNs uses (reference §1), plus padding and input rules."""

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.nn import functional as F
from torchlibrosa.stft import LogmelFilterBank, Spectrogram

from panns_lite.features import (
    PANNS_8K,
    PANNS_16K,
    PANNS_32K,
    FrontEndConfig,
    LogMel,
    mel_centre_frequencies,
    slaney_mel_matrix,
)
from panns_lite.paths import SOURCES_DIR

FLOOR_DB = -100.0  # 10·log10(amin=1e-10)
TOLERANCE_DB = 1e-3


@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def torchlibrosa_frontend(cfg: FrontEndConfig) -> torch.nn.Sequential:
    """The PANNs front end exactly as Cnn14 builds it (ref 1.0, amin 1e-10, top_db None)."""
    spectrogram = Spectrogram(
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.n_fft,
        window="hann",
        center=True,
        pad_mode="reflect",
        freeze_parameters=True,
    )
    logmel = LogmelFilterBank(
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        n_mels=cfg.n_mels,
        fmin=cfg.f_min,
        fmax=cfg.f_max,
        ref=1.0,
        amin=1e-10,
        top_db=None,
        freeze_parameters=True,
    )
    return torch.nn.Sequential(spectrogram, logmel).eval()


def chirp_plus_noise(seconds: float, sample_rate: int) -> torch.Tensor:
    """A 100 Hz → Nyquist·0.9 linear chirp at 0.5 plus white noise at 0.01: a realistic dynamic range."""
    t = torch.arange(round(seconds * sample_rate), dtype=torch.float64) / sample_rate
    f1 = 0.9 * sample_rate / 2
    phase = 2 * math.pi * (100 * t + (f1 - 100) / (2 * seconds) * t**2)
    noise = torch.randn(t.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return (0.5 * torch.sin(phase) + 0.01 * noise)[None]


def white_noise(seconds: float, sample_rate: int, batch: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(batch, round(seconds * sample_rate), generator=generator, dtype=torch.float64) * 2 - 1


def real_clip() -> torch.Tensor:
    """First shipped .ogg (mono mix), at least 1 s long; skips when the source bank is absent."""
    for path in sorted(SOURCES_DIR.rglob("*.ogg")):
        audio, _ = sf.read(path, dtype="float64", always_2d=True)
        if audio.shape[0] >= 32000:
            return torch.from_numpy(audio.mean(axis=1))[None]
    pytest.skip(f"no .ogg of ≥ 1 s under {SOURCES_DIR}")


def max_db_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    """Max |difference| in dB over bins where the reference is above the −100 dB floor."""
    above_floor = reference > FLOOR_DB + 1e-6
    assert above_floor.any()
    return (ours - reference).abs()[above_floor].max().item()


SIGNALS = {
    "white_noise": lambda: white_noise(10, 32000),
    "chirp_plus_noise": lambda: chirp_plus_noise(10, 32000),
    "real_clip": real_clip,
}


@pytest.mark.parametrize("signal", list(SIGNALS))
def test_matches_torchlibrosa_in_float64(signal: str) -> None:
    waveform = SIGNALS[signal]()
    with default_dtype(torch.float64):
        ours, reference = LogMel(), torchlibrosa_frontend(PANNS_32K)
    with torch.no_grad():
        assert max_db_error(ours(waveform), reference(waveform)) <= TOLERANCE_DB


@pytest.mark.parametrize("signal", ["white_noise", "chirp_plus_noise"])
def test_matches_torchlibrosa_in_float32_on_dense_audio(signal: str) -> None:
    """float32 holds ~7 digits, so only audio without near-floor bins is compared at 1e-3 dB here."""
    waveform = SIGNALS[signal]().float()
    with torch.no_grad():
        assert max_db_error(LogMel()(waveform), torchlibrosa_frontend(PANNS_32K)(waveform)) <= TOLERANCE_DB


@pytest.mark.parametrize("cfg", [PANNS_16K, PANNS_8K], ids=["16k", "8k"])
def test_presets_match_torchlibrosa_and_give_1001_frames(cfg: FrontEndConfig) -> None:
    waveform = white_noise(10, cfg.sample_rate, batch=1)
    with default_dtype(torch.float64):
        ours, reference = LogMel.from_config(cfg), torchlibrosa_frontend(cfg)
    with torch.no_grad():
        out = ours(waveform)
        assert out.shape == (1, 1, 1001, 64)
        assert max_db_error(out, reference(waveform)) <= TOLERANCE_DB


def test_window_and_mel_are_not_state() -> None:
    logmel = LogMel()
    assert logmel.state_dict() == {}
    assert list(logmel.parameters()) == []
    assert {name for name, _ in logmel.named_buffers()} == {"window", "mel_fb"}


def test_silence_is_the_minus_100_db_floor() -> None:
    assert torch.all(LogMel()(torch.zeros(1, 32000)) == FLOOR_DB)


@pytest.mark.parametrize("num_samples", [100, 3200, 9919], ids=["100 samples", "0.1 s", "one short"])
def test_short_input_is_zero_padded_to_the_minimum(num_samples: int) -> None:
    logmel = LogMel()
    waveform = white_noise(1, 32000, batch=1).float()[:, :num_samples]
    padded = F.pad(waveform, (0, 9920 - num_samples))
    assert torch.equal(logmel(waveform), logmel(padded))
    assert logmel(waveform).shape == (1, 1, 32, 64)


def test_minimum_length_gives_exactly_32_frames_and_derives_from_hop() -> None:
    assert LogMel().min_samples == 31 * 320 == 9920
    assert LogMel.from_config(PANNS_16K).min_samples == 31 * 160
    assert LogMel()(torch.zeros(2, 9920)).shape == (2, 1, 32, 64)
    assert LogMel()(torch.zeros(1, 9920 + 320)).shape == (1, 1, 33, 64)


def test_min_frames_is_configurable_but_positive() -> None:
    assert LogMel(min_frames=16)(torch.zeros(1, 10)).shape[2] == 16
    with pytest.raises(ValueError, match="min_frames"):
        LogMel(min_frames=0)


def test_num_frames_matches_the_output() -> None:
    logmel = LogMel()
    for num_samples in (100, 9920, 32000, 320000):
        assert logmel(torch.zeros(1, num_samples)).shape[2] == logmel.num_frames(num_samples)


def test_one_dimensional_input_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"waveform\[None\]"):
        LogMel()(torch.zeros(32000))


def test_integer_input_is_rejected() -> None:
    with pytest.raises(TypeError, match="float"):
        LogMel()(torch.zeros(1, 32000, dtype=torch.int16))


@pytest.mark.filterwarnings("ignore:At least one mel filterbank has all zero values")
@pytest.mark.parametrize("cfg", [PANNS_32K, PANNS_16K, FrontEndConfig(n_fft=256, n_mels=128)])
def test_mel_centres_are_where_the_filters_peak(cfg: FrontEndConfig) -> None:
    hz = mel_centre_frequencies(cfg)
    assert len(hz) == cfg.n_mels
    assert np.all(np.diff(hz) > 0) and cfg.f_min < hz[0] and hz[-1] < cfg.f_max
    fb = slaney_mel_matrix(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max).numpy()
    filled = fb.sum(axis=0) > 0  # with n_fft 256 some bands are narrower than a bin and stay empty
    peaks = fb.argmax(axis=0) * cfg.sample_rate / cfg.n_fft
    assert np.all(np.abs(peaks - hz)[filled] <= cfg.sample_rate / cfg.n_fft)


def test_mel_centres_reject_an_empty_band() -> None:
    with pytest.raises(ValueError):
        mel_centre_frequencies(FrontEndConfig(f_min=500.0, f_max=100.0))
