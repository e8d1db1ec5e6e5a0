"""The PANNs log-mel front end, computed with an FFT instead of a DFT convolution.

PANNs (torchlibrosa) computes the STFT as two ``Conv1d`` layers holding the windowed DFT matrix and
stores those kernels, plus the mel matrix, as frozen parameters (reference §1). The maths is an
ordinary STFT, so here it is ``torch.stft`` (an FFT, ~20x fewer operations) followed by the same
Slaney mel matrix and the same dB conversion. Window and mel matrix are *non-persistent* buffers:
they are derived from the settings, so they never enter a state dict and are never trained.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio
from torch import nn
from torch.nn import functional as F

AMIN: float = 1e-10
"""Power floor before the log (reference §1: amin=1e-10, ref=1.0, so the floor is −100 dB)."""

DEFAULT_MIN_FRAMES: int = 32
"""Frames CNN14 needs to survive five 2× time poolings (reference §2: 2^5 = 32)."""


@dataclass(frozen=True)
class FrontEndConfig:
    """Front-end settings of one PANNs model family (reference §1: 32 kHz and the 16k/8k variants)."""

    sample_rate: int = 32000
    n_fft: int = 1024
    hop_length: int = 320
    n_mels: int = 64
    f_min: float = 50.0
    f_max: float = 14000.0


PANNS_32K = FrontEndConfig()
PANNS_16K = FrontEndConfig(sample_rate=16000, n_fft=512, hop_length=160, n_mels=64, f_min=50.0, f_max=8000.0)
PANNS_8K = FrontEndConfig(sample_rate=8000, n_fft=256, hop_length=80, n_mels=64, f_min=50.0, f_max=4000.0)
PRESETS: dict[int, FrontEndConfig] = {cfg.sample_rate: cfg for cfg in (PANNS_32K, PANNS_16K, PANNS_8K)}
"""The three released front ends, keyed by sample rate (each gives 1001 frames for 10 s)."""


def slaney_mel_matrix(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> torch.Tensor:
    """(n_fft//2+1, n_mels) Slaney-scale, Slaney-normalised mel filters, as librosa builds them.

    ``melscale_fbanks`` works in torch's default dtype; in float32 the tiny weights at the filter
    edges are off by up to 0.2 %, which moves quiet bands by ~0.05 dB against librosa. Like librosa,
    build in float64 and round once to float32 (the default dtype is restored afterwards). The result
    is returned in the caller's default dtype, so a LogMel built under a float64 default is a
    float64 oracle with the same float32-rounded mel weights as torchlibrosa.
    """
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        with torch.device(
            "cpu"
        ):  # on CPU even under a ``meta`` default device (the checkpoint loader's dry build)
            mel_fb = torchaudio.functional.melscale_fbanks(
                n_freqs=n_fft // 2 + 1,
                f_min=f_min,
                f_max=f_max,
                n_mels=n_mels,
                sample_rate=sample_rate,
                norm="slaney",
                mel_scale="slaney",
            )
    finally:
        torch.set_default_dtype(previous)
    return mel_fb.to(torch.float32).to(dtype=previous, device=torch.get_default_device())


def hz_to_slaney_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, used by PANNs): linear to 1 kHz, logarithmic above."""
    linear, log_step = hz / (200.0 / 3), np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-12) / 1000.0) / log_step, linear)


def slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """The inverse of :func:`hz_to_slaney_mel`."""
    log_step = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(log_step * (mel - 15.0)), mel * 200.0 / 3)


def mel_centre_frequencies(frontend: FrontEndConfig = PANNS_32K) -> np.ndarray:
    """Centre frequency (Hz) of each mel band: the y-axis of a log-mel plot (chapter 2).

    The centres are evenly spaced on the Slaney mel scale between ``f_min`` and ``f_max`` (band
    ``m`` peaks at point ``m + 1`` of ``n_mels + 2``), so they are defined even for settings where
    a band is narrower than an FFT bin and its filter is empty.
    """
    if not 0 <= frontend.f_min < frontend.f_max:
        raise ValueError(f"need 0 <= f_min < f_max, got {frontend.f_min}, {frontend.f_max}")
    edges = np.linspace(*hz_to_slaney_mel(np.array([frontend.f_min, frontend.f_max])), frontend.n_mels + 2)
    return slaney_mel_to_hz(edges[1:-1])


class LogMel(nn.Module):
    """Waveform (B, L) in [−1, 1] → log-mel power in dB, shape (B, 1, T, n_mels).

    Matches torchlibrosa ``Spectrogram`` + ``LogmelFilterBank`` as PANNs configures them
    (reference §1): periodic Hann window of length ``n_fft``, centred frames with reflect padding
    of ``n_fft // 2``, power spectrum |X|², Slaney-scale mel filters with Slaney area normalisation,
    ``10·log10(max(x, 1e-10))``, no top_db clipping. T = L // hop_length + 1.

    Short inputs are zero-padded at the end (not rejected) to ``(min_frames − 1)·hop_length``
    samples, so the output has at least ``min_frames`` frames (CNN14 needs 32: reference §2,
    9,920 samples at 32 kHz) and the reflect pad always has enough samples.

    Computation runs in the buffers' dtype (float32 normally). Window and mel matrix are built in
    float64 and rounded once to torch's default dtype, so a LogMel constructed under
    ``torch.set_default_dtype(torch.float64)`` is a float64 reference (used by the tests).

    1-D input is rejected rather than guessed to be a batch of one, so a (L,) tensor never silently
    turns into a differently shaped result.
    """

    window: torch.Tensor
    mel_fb: torch.Tensor

    def __init__(
        self,
        sample_rate: int = 32000,
        n_fft: int = 1024,
        hop_length: int = 320,
        n_mels: int = 64,
        f_min: float = 50.0,
        f_max: float = 14000.0,
        min_frames: int = DEFAULT_MIN_FRAMES,
    ) -> None:
        super().__init__()
        if min_frames < 1:
            raise ValueError(f"min_frames must be ≥ 1, got {min_frames}")
        self.config = FrontEndConfig(sample_rate, n_fft, hop_length, n_mels, f_min, f_max)
        self.min_frames = min_frames
        self.min_samples = max((min_frames - 1) * hop_length, n_fft // 2 + 1)
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64).to(torch.get_default_dtype())
        self.register_buffer("window", window, persistent=False)
        mel_fb = slaney_mel_matrix(sample_rate, n_fft, n_mels, f_min, f_max)
        self.register_buffer("mel_fb", mel_fb, persistent=False)  # (n_freqs, n_mels)

    @classmethod
    def from_config(cls, config: FrontEndConfig, min_frames: int = DEFAULT_MIN_FRAMES) -> "LogMel":
        """Build the front end for a preset such as ``PANNS_16K``."""
        return cls(
            config.sample_rate,
            config.n_fft,
            config.hop_length,
            config.n_mels,
            config.f_min,
            config.f_max,
            min_frames,
        )

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for an input of ``num_samples`` (after the minimum-length padding)."""
        return max(num_samples, self.min_samples) // self.config.hop_length + 1

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.dim() != 2:
            raise ValueError(
                f"LogMel expects a (batch, samples) waveform, got shape {tuple(waveform.shape)}; "
                "add a batch axis with waveform[None] for a single clip"
            )
        if not waveform.is_floating_point():
            raise TypeError(f"LogMel expects float audio in [-1, 1], got dtype {waveform.dtype}")
        short = self.min_samples - waveform.shape[1]
        if short > 0:
            waveform = F.pad(waveform, (0, short))
        # One clip at a time: a whole batch's STFT intermediates are tens of MB, freshly allocated
        # on every call, and on CPU faulting those pages in costs more than the FFT itself
        # (16 × 10 s on 2 cores: ~3× faster per clip than in one go; see benchmarks/).
        return torch.cat([self._clip_logmel(clip) for clip in waveform.split(1)])

    def _clip_logmel(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            waveform,
            n_fft=self.config.n_fft,
            hop_length=self.config.hop_length,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )  # (1, n_freqs, T)
        power = spec.real.square().addcmul_(spec.imag, spec.imag)
        mel = torch.matmul(power.transpose(1, 2), self.mel_fb)  # (1, T, n_mels)
        return (10.0 * torch.log10(mel.clamp_min(AMIN))).unsqueeze(1)
