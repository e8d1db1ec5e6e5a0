"""Reading audio the way PANNs expects it: mono float32 in [-1, 1] at a fixed sample rate.

Files are opened in one place, :func:`open_audio`: the MiniSet builder and HDF5 packing load whole
files through ``load_audio``, inference streams long files block by block, and the folder dataset
checks headers, all through it, so that opening, decoding, down-mixing, resampling and the errors
for unusable files are done one way. soundfile (libsndfile 1.2) reads WAV/FLAC/Ogg/MP3 with no
ffmpeg; resampling uses torchaudio's windowed-sinc resampler.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
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


class AudioFile:
    """A file opened by :func:`open_audio`, decoded as mono float32 at its own ``sample_rate``, whole
    (:meth:`read`) or block by block (:meth:`blocks`). It wraps soundfile's handle so that a decoding
    error raises the same ``AudioReadError`` naming the file however the file is read."""

    def __init__(self, path: Path, handle: sf.SoundFile) -> None:
        self.path = path
        self.sample_rate: int = handle.samplerate
        self._handle = handle

    def read(self) -> np.ndarray:
        """All the (remaining) samples; raises ``AudioReadError`` if none can be read although the
        header announced some."""
        x = self._read(-1)
        if not len(x):
            raise _no_samples(self.path)
        return x

    def blocks(self, block: int) -> Iterator[np.ndarray]:
        """Consecutive blocks of ``block`` samples (the last one shorter) to the end of the file, then
        close it: memory is bounded by the block, not by the file, for streaming long recordings."""
        with self:
            while len(x := self._read(block)):
                yield x

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> AudioFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read(self, frames: int) -> np.ndarray:
        try:
            x = self._handle.read(frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise _cannot_decode(self.path, err) from None
        return to_mono(x)


def open_audio(path: str | Path) -> AudioFile:
    """Open any soundfile-readable file for decoding; the one place audio files are opened.

    Raises ``AudioReadError`` (naming the file) at once when it is missing, cannot be opened or its
    header announces no samples, so every caller refuses an unusable file before any work, with the
    same message. Close the result (or use it as a context manager); :meth:`AudioFile.blocks` closes it
    at the end.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioReadError(f"{path}: no such file")
    try:
        handle = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise _cannot_decode(path, err) from None
    if handle.frames == 0:
        handle.close()
        raise _no_samples(path)
    return AudioFile(path, handle)


def _cannot_decode(path: Path, err: Exception) -> AudioReadError:
    return AudioReadError(f"{path}: cannot decode ({err})")


def _no_samples(path: Path) -> AudioReadError:
    return AudioReadError(f"{path}: the file has no samples")


def load_audio(path: str | Path, sample_rate: int = PANNS_SAMPLE_RATE) -> np.ndarray:
    """Decode any soundfile-readable file to mono float32 at ``sample_rate``.

    Raises ``AudioReadError`` (naming the file) when it is missing, unreadable or has no samples,
    and its subclass ``InvalidAudioError`` when a sample is NaN, infinite or beyond ±1000.
    """
    with open_audio(path) as audio:
        x = audio.read()
    check_samples(x, str(audio.path), audio.sample_rate)
    return resample(x, audio.sample_rate, sample_rate)


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
