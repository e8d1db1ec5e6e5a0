"""Reading audio the way PANNs expects it: mono float32 in [-1, 1] at a fixed sample rate.

Every caller (the MiniSet builder, HDF5 packing) loads through ``load_audio``, and inference streams
long files block by block through the same ``to_mono`` and ``resample``, so that decoding,
down-mixing and resampling are done one way. soundfile (libsndfile 1.2) reads
WAV/FLAC/Ogg/MP3 with no ffmpeg; resampling uses torchaudio's windowed-sinc resampler.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import soundfile as sf

PANNS_SAMPLE_RATE = 32000
CLIP_SECONDS = 10.0
CLIP_SAMPLES = int(PANNS_SAMPLE_RATE * CLIP_SECONDS)  # 320,000 (reference §5)


MAX_ABS_AMPLITUDE = 1e3
"""Decoded samples beyond ±1000 are refused: float files may exceed ±1 a little (headroom), but
values this large are a broken encoder or raw data read as audio, and would pass silently
through the log-mel front end as a wrong but finite answer."""


class AudioReadError(ValueError):
    """A file that is missing, empty or cannot be decoded."""


class InvalidAudioError(AudioReadError):
    """Audio samples that cannot be analysed: NaN/inf or absurd values, no samples, non-float or
    ambiguous shape."""


def check_samples(x: np.ndarray, name: str, rate: int, offset: int = 0) -> None:
    """Raise :class:`InvalidAudioError` at the first NaN, infinite or out-of-range (|x| > 1000) sample
    of mono block ``x``, which starts ``offset`` samples into ``name``, saying where it is."""
    bad = ~np.isfinite(x) | (np.abs(x) > MAX_ABS_AMPLITUDE)
    if bad.any():
        i = int(bad.argmax())
        at = offset + i
        raise InvalidAudioError(
            f"{name}: sample {at} ({at / rate:.3f} s) is {x[i]:g}; audio must be finite and "
            f"within ±{MAX_ABS_AMPLITUDE:g} (repair or re-encode the file)"
        )


def to_mono(x: np.ndarray) -> np.ndarray:
    """(samples,) or (samples, channels) -> (samples,) by averaging channels."""
    return x if x.ndim == 1 else x.mean(axis=1)


def resample(x: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Band-limited resampling (torchaudio sinc interpolation); a no-op when the rates match."""
    if orig_rate == new_rate:
        return x.astype(np.float32, copy=False)
    import torch

    with torch.no_grad():
        y = _resampler(orig_rate, new_rate)(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return y.numpy()


@functools.cache
def _resampler(orig_rate: int, new_rate: int):  # -> torchaudio.transforms.Resample (imported lazily)
    """One resampler per rate pair: ``torchaudio.functional.resample`` rebuilds its sinc kernel on every
    call (~0.25 s for 44.1 → 32 kHz, 15x the filtering itself); this float32 kernel is the same one, so
    the output is bit-identical."""
    import torch
    import torchaudio.transforms as T

    return T.Resample(orig_rate, new_rate, dtype=torch.float32)


def load_audio(path: str | Path, sample_rate: int = PANNS_SAMPLE_RATE) -> np.ndarray:
    """Decode any soundfile-readable file to mono float32 at ``sample_rate``.

    Raises ``AudioReadError`` (naming the file) when it is missing, unreadable or has no samples,
    and its subclass ``InvalidAudioError`` when a sample is NaN, infinite or beyond ±1000.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioReadError(f"{path}: no such file")
    try:
        x, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioReadError(f"{path}: cannot decode ({err})") from None
    if x.size == 0:
        raise AudioReadError(f"{path}: the file has no samples")
    x = to_mono(x)
    check_samples(x, str(path), rate)
    return resample(x, rate, sample_rate)


def fix_length(x: np.ndarray, length: int = CLIP_SAMPLES) -> np.ndarray:
    """Zero-pad at the end or truncate to exactly ``length`` samples (PANNs' 10 s clips)."""
    if len(x) >= length:
        return x[:length]
    return np.concatenate([x, np.zeros(length - len(x), dtype=x.dtype)])


def float_to_int16(x: np.ndarray) -> np.ndarray:
    """[-1, 1] float -> int16 as PANNs stores waveforms (×32767, clipped)."""
    return (np.clip(x, -1.0, 1.0) * 32767.0).round().astype(np.int16)


def int16_to_float(x: np.ndarray) -> np.ndarray:
    """Inverse of ``float_to_int16`` (÷32767), as PANNs reads waveforms back."""
    return x.astype(np.float32) / 32767.0
