"""The HEAR 2021 common API over any panns-lite tagger: embeddings for benchmark suites.

HEAR (Turian et al., "HEAR: Holistic Evaluation of Audio Representations", PMLR 176, 2022) scores
an audio representation on many tasks through three calls on a module, which this one provides::

    from panns_lite import hear
    model = hear.load_model()                  # the shipped pretrained tagger; or a checkpoint path
    scene = hear.get_scene_embeddings(audio, model)           # (n_sounds, embedding size)
    frames, ms = hear.get_timestamp_embeddings(audio, model)  # (n_sounds, n_times, size), (n_sounds, n_times)

``audio`` is a (n_sounds, n_samples) float tensor at ``model.sample_rate``. What the choices are and why:

* **Sample rate.** HEAR 2021 feeds 16, 22.05, 44.1 or 48 kHz audio; PANNs models run at 32 kHz.
  The model declares 48 kHz, which keeps the whole band the log-mel reads (up to 14 kHz, chapter 2),
  and resamples inside, with the resampler every input of :class:`~panns_lite.inference.Tagger` goes
  through.
* **Scene embedding** = :meth:`Tagger.embed <panns_lite.inference.Tagger.embed>`: ReLU(fc1) of the
  pooled feature map (the vector the clip head classifies), averaged over 10 s chunks by length.
* **Timestamp embeddings**: ReLU(fc1) of each segment of the decision-level head (the vector the
  frame-wise head classifies; ``segment_embedding`` of
  :meth:`~panns_lite.models.AudioTagger.forward_features`), repeated to the 10 ms frames as the
  frame-wise output is, and taken every :data:`FRAMES_PER_TIMESTAMP` frames: one every 50 ms, the
  largest hop HEAR recommends. The model's own time resolution is one segment (32 frames, 320 ms for
  CNN14); the hop samples it, it does not sharpen it.
* **Timestamps** are in **milliseconds**, HEAR's unit (the official PANNs wrapper for HEAR returned
  seconds), the centre of the frame: ``k · 50 ms``, computed from the integer index in float64, so
  20 minutes of audio end exactly where they should (no accumulated rounding). Long inputs go
  through the network in the Tagger's 10 s chunks, so memory does not grow with their length.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from panns_lite.checkpoints import load_checkpoint
from panns_lite.inference import Tagger
from panns_lite.models import AudioTagger
from panns_lite.pretraining import pretrained

HEAR_SAMPLE_RATE = 48_000
"""The input rate the model declares to HEAR (one HEAR 2021 allows; the 32 kHz model resamples)."""
FRAMES_PER_TIMESTAMP = 5
"""Model frames (10 ms at 32 kHz) between timestamp embeddings: 50 ms."""


class HearModel(nn.Module):
    """A tagger with the attributes HEAR reads: ``sample_rate``, ``scene_embedding_size``,
    ``timestamp_embedding_size`` (both the model's ``embed_dim``: 2048 for CNN14 at every width).

    An ``nn.Module`` so that HEAR's ``model.to(device)`` moves the network; embeddings are computed
    on the device its parameters are on.
    """

    def __init__(self, network: AudioTagger, chunk_seconds: float = 10.0) -> None:
        super().__init__()
        self.network = network.eval()
        self.chunk_seconds = chunk_seconds
        self.sample_rate = HEAR_SAMPLE_RATE
        self.scene_embedding_size = int(network.fc1.out_features)
        self.timestamp_embedding_size = int(network.fc1.out_features)
        config = network.logmel.config
        self.timestamp_hop_ms = FRAMES_PER_TIMESTAMP * config.hop_length * 1000 / config.sample_rate

    def _inference(self) -> Tagger:
        return Tagger(
            self.network, device=next(self.network.parameters()).device, chunk_seconds=self.chunk_seconds
        )

    def scene_embedding(self, waveform: np.ndarray) -> np.ndarray:
        """(samples,) at 48 kHz → (embed_dim,)."""
        return self._inference().embed(waveform, HEAR_SAMPLE_RATE)

    def timestamp_embeddings(self, waveform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(samples,) at 48 kHz → (n_times, embed_dim) embeddings and their (n_times,) centres in ms
        (:meth:`Tagger.frame_embeddings <panns_lite.inference.Tagger.frame_embeddings>` every
        :data:`FRAMES_PER_TIMESTAMP` frames)."""
        embeddings = self._inference().frame_embeddings(
            waveform, HEAR_SAMPLE_RATE, every=FRAMES_PER_TIMESTAMP
        )
        return embeddings, np.arange(len(embeddings), dtype=np.float64) * self.timestamp_hop_ms


def load_model(model_file_path: str | os.PathLike[str] = "") -> HearModel:
    """HEAR's entry point: the shipped pretrained tagger (``""``), or any checkpoint that
    :func:`~panns_lite.checkpoints.load_checkpoint` reads (official PANNs, E-PANNs, ours)."""
    if not str(model_file_path):
        return HearModel(pretrained())
    return HearModel(load_checkpoint(model_file_path))


def _sounds(audio: torch.Tensor, model: HearModel) -> list[np.ndarray]:
    if not isinstance(model, HearModel):
        raise TypeError(f"model must come from panns_lite.hear.load_model, got {type(model).__name__}")
    if (
        not isinstance(audio, torch.Tensor)
        or audio.ndim != 2
        or not audio.is_floating_point()
        or audio.shape[1] < 1
    ):
        shape = tuple(audio.shape) if isinstance(audio, torch.Tensor) else type(audio).__name__
        raise ValueError(
            f"audio must be a (n_sounds, n_samples) float tensor at {model.sample_rate} Hz, got {shape}"
        )
    return [row for row in audio.detach().float().cpu().numpy()]


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """(n_sounds, n_samples) at ``model.sample_rate`` → (n_sounds, scene_embedding_size) float32."""
    embeddings = np.stack([model.scene_embedding(sound) for sound in _sounds(audio, model)])
    return torch.from_numpy(embeddings.astype(np.float32)).to(audio.device)


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_sounds, n_samples) → embeddings (n_sounds, n_times, timestamp_embedding_size) float32 and
    timestamps (n_sounds, n_times) in milliseconds, one every 50 ms from 0."""
    results = [model.timestamp_embeddings(sound) for sound in _sounds(audio, model)]
    embeddings = torch.from_numpy(np.stack([e for e, _ in results]).astype(np.float32)).to(audio.device)
    timestamps = torch.from_numpy(np.stack([t for _, t in results])).to(audio.device)
    return embeddings, timestamps
