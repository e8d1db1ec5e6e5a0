"""Load PANNs / E-PANNs checkpoints and save our own, never partially.

Three layouts are accepted (reference §2, §3, §10.1):

* **official PANNs Cnn14** — 84 keys: body keys named as in :class:`panns_lite.models.Cnn14` plus the
  torchlibrosa front end (``spectrogram_extractor.stft.conv_real/conv_imag.weight``,
  ``logmel_extractor.melW``), bare or wrapped as ``{'model': state_dict, 'iteration': n}``;
* **E-PANNs** — the same keys with narrower C7–C12 and fc1 (bare state dict);
* **panns_lite** — written by :func:`save_checkpoint`: ``{'format': 'panns_lite', 'version': 1,
  'architecture': {'name': <class>, 'kwargs': {...plain data...}}, 'state_dict': ..., 'extra': {...}}``.

For the first two, widths, classes and embedding size come from the tensor shapes and the front
end from the STFT kernel / mel matrix sizes; the stored front-end tensors are then checked against
what our :class:`~panns_lite.features.LogMel` computes, since our model does not store them.
"""

import os
import pickle
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import torch

from panns_lite.features import PRESETS, FrontEndConfig, LogMel
from panns_lite.models import MODELS, AudioTagger, Cnn14

FORMAT = "panns_lite"
FORMAT_VERSION = 1
CONV_REAL = "spectrogram_extractor.stft.conv_real.weight"
CONV_IMAG = "spectrogram_extractor.stft.conv_imag.weight"
MEL_W = "logmel_extractor.melW"
FRONTEND_KEYS = (CONV_REAL, CONV_IMAG, MEL_W)
FRONTEND_RTOL = 1e-4
"""Tolerance on stored front-end tensors, relative to their max (float32 round-off is ~1e-7)."""
CNN14_BLOCKS = 6
MAX_N_FFT = 1 << 16
"""The largest STFT a checkpoint may declare (the released front ends use 256–1024)."""

PathLike = str | os.PathLike[str]


class CheckpointError(ValueError):
    """A checkpoint that does not fit the requested or inferred model; the message names the mismatch."""


def save_checkpoint(model: AudioTagger, path: PathLike, **extra: Any) -> Path:
    """Write ``model`` with its architecture description so :func:`load_checkpoint` can rebuild it.

    ``extra`` (iteration, metrics, optimizer state…) must be plain data and tensors: files are read
    back with ``weights_only=True``. The write is atomic (see :func:`atomic_write`).
    """
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "architecture": model.architecture(),
        "state_dict": model.state_dict(),
        "extra": extra,
    }
    return atomic_write(path, lambda handle: torch.save(payload, handle))


def atomic_write(path: PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write`` on a temporary file in ``path``'s folder, then rename it over ``path``.

    Readers see the old file or the complete new one, never a partial write; if ``write`` raises,
    the temporary file is removed and the old file is left intact. The file gets the permissions
    any new file gets under the process's umask (``mkstemp`` alone would leave it readable by its
    owner only), like the HDF5 files h5py writes.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~current_umask())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def load_extra(path: PathLike) -> dict[str, Any]:
    """The ``extra`` fields stored by :func:`save_checkpoint` (empty for official/E-PANNs files)."""
    payload = read_payload(path)
    return dict(payload.get("extra", {})) if payload.get("format") == FORMAT else {}


def load_checkpoint(
    source: PathLike | Mapping[str, Any],
    *,
    expected_sample_rate: int | None = None,
    classes_num: int | None = None,
) -> AudioTagger:
    """Rebuild the model a checkpoint describes and load every tensor, returned in eval mode.

    ``source`` is a file path or an already loaded object. ``expected_sample_rate`` and
    ``classes_num`` are optional expectations; any mismatch, an unknown layout, or a missing,
    unexpected or mis-shaped key raises :class:`CheckpointError` naming it.
    """
    payload = read_payload(source) if isinstance(source, (str, os.PathLike)) else source
    name = str(source) if isinstance(source, (str, os.PathLike)) else "checkpoint"
    if not isinstance(payload, Mapping):
        raise CheckpointError(f"{name}: a checkpoint must be a dict, got {type(payload).__name__}")
    if payload.get("format") == FORMAT:
        model, state_dict = _build_own(payload, name)
    else:
        wrapped = payload.get("model")
        state_dict = wrapped if isinstance(wrapped, Mapping) else payload
        _check_finite(state_dict, name)
        model, state_dict = _build_cnn14(state_dict, expected_sample_rate)
    _check_expectations(model, expected_sample_rate, classes_num)
    _strict_load(model, state_dict)
    return model.eval()


def _check_finite(state_dict: Mapping[str, Any], name: str) -> None:
    """Refuse NaN or infinite weights, naming the first such tensor: they would load and predict NaN."""
    for key, value in state_dict.items():
        if (
            isinstance(value, torch.Tensor)
            and value.is_floating_point()
            and not bool(torch.isfinite(value).all())
        ):
            raise CheckpointError(
                f"{name}: tensor {key!r} holds NaN or infinite values; the file is damaged, "
                "restore it or train again"
            )


def read_payload(path: PathLike) -> Any:
    """A checkpoint file's content, loaded safely (``weights_only``: no pickled code runs).

    The one reader of checkpoint files (models, training checkpoints on resume, records): a folder,
    an empty, truncated or poisoned file is one :class:`CheckpointError` naming it; a missing file
    stays ``FileNotFoundError``."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a folder; give the checkpoint file inside it (e.g. {path / 'model.pt'})"
        )
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; check the checkpoint path")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as err:
        reason = "the file is empty" if path.stat().st_size == 0 else str(err).splitlines()[0]
        raise CheckpointError(f"cannot read checkpoint {path}: {reason}; restore it or train again") from None


def _build_own(payload: Mapping[str, Any], name: str) -> tuple[AudioTagger, dict]:
    """Our layout: the model its architecture record declares, after a dry build on the ``meta`` device.

    The dry build allocates nothing, so a damaged or hostile record (widths of 10⁶, say) is refused
    by comparing its shapes with the stored tensors before a real model is built."""
    if payload.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{name}: unsupported {FORMAT} checkpoint version {payload.get('version')!r}")
    arch, state_dict = payload.get("architecture"), payload.get("state_dict")
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"{name}: the checkpoint holds no state dict")
    _check_finite(state_dict, name)
    try:
        cls = MODELS[arch["name"]]
        kwargs = dict(arch["kwargs"])
        kwargs["frontend"] = frontend = FrontEndConfig(**kwargs["frontend"])
        if not (
            0 < frontend.n_fft <= MAX_N_FFT
            and 0 < frontend.n_mels <= frontend.n_fft // 2 + 1
            and 0 < frontend.hop_length
            and 0 < frontend.sample_rate
        ):
            raise ValueError(
                f"front end {frontend} is out of range (n_fft ≤ {MAX_N_FFT}, n_mels ≤ n_fft/2+1)"
            )
        with torch.device("meta"):
            skeleton = cls(**kwargs)
    except (KeyError, TypeError, ValueError) as err:
        known = f"; known models: {sorted(MODELS)}" if isinstance(err, KeyError) else ""
        raise CheckpointError(
            f"{name}: malformed architecture record ({type(err).__name__}: {err}){known}; "
            "the file is damaged, restore it or train again"
        ) from None
    _check_keys_and_shapes(skeleton, state_dict, name)
    return cls(**kwargs), dict(state_dict)


def _build_cnn14(state_dict: Mapping[str, Any], expected_sample_rate: int | None) -> tuple[Cnn14, dict]:
    """Infer a Cnn14 (full or pruned) from an official / E-PANNs state dict and check its front end."""
    not_tensors = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f"not a state dict: non-tensor entries {not_tensors}")
    blocks = sorted({int(m.group(1)) for k in state_dict if (m := re.match(r"conv_block(\d+)\.", k))})
    if blocks != list(range(1, CNN14_BLOCKS + 1)):
        raise CheckpointError(
            f"not a CNN14 layout: found conv blocks {blocks}, CNN14 has blocks 1-{CNN14_BLOCKS}"
        )
    width_keys = [f"conv_block{i}.conv{j}.weight" for i in range(1, CNN14_BLOCKS + 1) for j in (1, 2)]
    missing = [
        k for k in (*width_keys, "bn0.weight", "fc1.weight", "fc_audioset.weight") if k not in state_dict
    ]
    if missing:
        raise CheckpointError(f"not a CNN14 layout: missing keys {missing}")
    kernels = {tuple(state_dict[k].shape[2:]) for k in width_keys}
    if kernels != {(3, 3)}:
        raise CheckpointError(f"not a CNN14 layout: conv kernels {sorted(kernels)}, CNN14 uses 3x3 only")
    frontend = _infer_frontend(state_dict, expected_sample_rate, n_mels=state_dict["bn0.weight"].shape[0])
    model = Cnn14(
        classes_num=state_dict["fc_audioset.weight"].shape[0],
        widths=[state_dict[k].shape[0] for k in width_keys],
        embed_dim=state_dict["fc1.weight"].shape[0],
        frontend=frontend,
    )
    _verify_frontend(model.logmel, state_dict)
    return model, {k: v for k, v in state_dict.items() if k not in FRONTEND_KEYS}


def _infer_frontend(
    state_dict: Mapping[str, Any], expected_sample_rate: int | None, n_mels: int
) -> FrontEndConfig:
    """Pick the PANNs preset whose n_fft matches the stored kernels (513 bins → 32 kHz, 257 → 16k,
    129 → 8k)."""
    if CONV_REAL in state_dict:
        n_fft = state_dict[CONV_REAL].shape[-1]
    elif MEL_W in state_dict:
        n_fft = 2 * (state_dict[MEL_W].shape[0] - 1)
    elif expected_sample_rate in PRESETS:
        return replace(PRESETS[expected_sample_rate], n_mels=n_mels)
    else:
        raise CheckpointError(
            f"no front-end tensors ({', '.join(FRONTEND_KEYS)}) to infer the sample rate from; "
            f"pass expected_sample_rate, one of {sorted(PRESETS)}"
        )
    by_n_fft = {cfg.n_fft: cfg for cfg in PRESETS.values()}
    if n_fft not in by_n_fft:
        raise CheckpointError(
            f"front end with n_fft={n_fft} matches no PANNs preset (n_fft {sorted(by_n_fft)})"
        )
    return replace(by_n_fft[n_fft], n_mels=n_mels)


def _expected_frontend(logmel: LogMel) -> dict[str, torch.Tensor]:
    """torchlibrosa's DFT kernels (window·cos, −window·sin) and melW for our settings (reference §1)."""
    n_fft = logmel.config.n_fft
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, :]
    angle = 2.0 * torch.pi * k * n / n_fft
    window = logmel.window.to(torch.float64)
    return {
        CONV_REAL: (window * torch.cos(angle))[:, None, :],
        CONV_IMAG: (-window * torch.sin(angle))[:, None, :],
        MEL_W: logmel.mel_fb.to(torch.float64),
    }


def _verify_frontend(logmel: LogMel, state_dict: Mapping[str, torch.Tensor]) -> None:
    for key, expected in _expected_frontend(logmel).items():
        if key not in state_dict:
            continue
        stored = state_dict[key].to(torch.float64)
        if stored.shape != expected.shape:
            raise CheckpointError(
                f"front-end tensor {key} has shape {tuple(stored.shape)}, expected {tuple(expected.shape)} "
                f"for {logmel.config}"
            )
        scale = max(expected.abs().max().item(), 1e-12)
        err = (stored - expected).abs().max().item() / scale
        if err > FRONTEND_RTOL:
            raise CheckpointError(
                f"front-end tensor {key} differs from LogMel({logmel.config}) by {err:.2e} (relative to "
                "its max); the checkpoint was trained with a different front end"
            )


def _check_expectations(
    model: AudioTagger, expected_sample_rate: int | None, classes_num: int | None
) -> None:
    sample_rate = model.logmel.config.sample_rate
    if expected_sample_rate is not None and sample_rate != expected_sample_rate:
        raise CheckpointError(
            f"checkpoint front end is {sample_rate} Hz (n_fft {model.logmel.config.n_fft}), "
            f"expected {expected_sample_rate} Hz"
        )
    n_classes = model.fc_audioset.out_features
    if classes_num is not None and n_classes != classes_num:
        raise CheckpointError(f"checkpoint has {n_classes} classes, expected classes_num={classes_num}")


def _check_keys_and_shapes(model: AudioTagger, state_dict: Mapping[str, torch.Tensor], name: str) -> None:
    own = model.state_dict()
    missing = sorted(own.keys() - state_dict.keys())
    unexpected = sorted(state_dict.keys() - own.keys())
    if missing or unexpected:
        raise CheckpointError(
            f"{name}: {type(model).__name__} keys do not match: missing {missing}, unexpected {unexpected}"
        )
    mismatched = [
        f"{k} {tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__} vs model "
        f"{tuple(own[k].shape)}"
        for k, v in state_dict.items()
        if not isinstance(v, torch.Tensor) or v.shape != own[k].shape
    ]
    if mismatched:
        more = f" and {len(mismatched) - 3} more" if len(mismatched) > 3 else ""
        raise CheckpointError(f"{name}: {type(model).__name__} shape mismatch: {mismatched[:3]}{more}")


def _strict_load(model: AudioTagger, state_dict: Mapping[str, torch.Tensor]) -> None:
    _check_keys_and_shapes(model, state_dict, "checkpoint")
    model.load_state_dict(state_dict, strict=True)
