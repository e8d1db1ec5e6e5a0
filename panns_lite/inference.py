"""Tag, localise and embed audio of any length, rate and channel count with a trained tagger.

PANNs' own inference package (reference §8) takes a (B, samples) array already at 32 kHz, runs a
long file through the network in one pass and gives no help with files, rates, short clips (the
"minimum input length" error, reference §11.1) or timestamps (reference §11.2). :class:`Tagger` wraps any
:class:`~panns_lite.models.AudioTagger` (or an exported ONNX graph, :mod:`panns_lite.export`) and:

* **reads** a file (anything soundfile decodes: WAV, FLAC, Ogg, MP3) or takes an array;
* **mixes to mono** (mean of the channels) and **resamples** to the model's rate with the same
  torchaudio sinc resampler as :func:`panns_lite.audio.resample`;
* **streams**: the file is read, resampled and analysed block by block, so memory is bounded by
  the chunk length (≈ 11 s of audio plus one chunk's activations), not by the file length;
* **chunks**: the model-rate signal is cut into consecutive, non-overlapping chunks of
  ``chunk_seconds`` (10 s by default, the PANNs training clip length, reference §5); a remainder shorter than
  :data:`MIN_TAIL_SECONDS` joins the previous chunk, so no chunk is a sliver of mostly padding.
  Each chunk goes through the model on its own.

How chunk results combine (exactly; tests check it):

* **clipwise** probabilities = element-wise **max over chunks**: a sound anywhere in the file is
  tagged as if the file were that chunk (mean would dilute a short event in a long recording);
* **embedding** = **mean over chunks weighted by chunk length** (a summary of the whole input);
* **framewise** probabilities = the chunks' framewise outputs **concatenated**: frame ``k`` of the
  result is centred at ``k · hop / sample_rate`` seconds of the input (10 ms at 32 kHz), and only
  frames centred inside the input are kept (``ceil(samples / hop)`` frames). Framewise output is the
  model's decision-level-max head (:meth:`~panns_lite.models.AudioTagger.forward_features`).

An input of at most ``chunk_seconds + MIN_TAIL_SECONDS`` is one chunk, so its results are exactly the
model's outputs for the whole input.

Edge cases:

* **short input** (down to one sample): the model's front end zero-pads it at the end to the
  network's minimum of 32 frames (0.31 s at 32 kHz, reference §2), the same end-padding PANNs
  applies to short training clips (reference §5); framewise output is cropped to the real frames;
* **silence** is valid audio: an all-zero input is a −100 dB log-mel (the ``amin`` floor,
  reference §1) and the result is whatever the model says about it (a trained AudioSet model ranks
  "Silence" first);
* **unusable input** raises, never returns garbage: :class:`~panns_lite.audio.AudioReadError` for a
  missing, empty or undecodable file, :class:`~panns_lite.audio.InvalidAudioError` for NaN/inf
  samples or samples beyond ±1000, an empty array, a non-float array or an ambiguous shape. Both are
  ``ValueError`` s with a one-line message naming the input.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch

from panns_lite.audio import AudioReadError, InvalidAudioError, check_samples, open_audio, resample, to_mono
from panns_lite.audioset import NUM_CLASSES, ClassLabels, load_class_labels
from panns_lite.checkpoints import load_checkpoint, load_extra
from panns_lite.models import AtPrecision, AudioTagger

if TYPE_CHECKING:
    from panns_lite.export import OnnxModel

MIN_TAIL_SECONDS = 1.0
"""A final remainder shorter than this is analysed together with the chunk before it."""

AudioInput = str | os.PathLike[str] | np.ndarray | torch.Tensor | Iterable[np.ndarray]
"""A file path, an array of samples, or a live stream: an iterable of sample blocks (a microphone)."""


class Tag(NamedTuple):
    """One ranked clip-level prediction."""

    label: str
    mid: str
    probability: float


class Window(NamedTuple):
    """One analysis of :meth:`Tagger.stream`: the input from ``start`` to ``end`` seconds."""

    start: float
    end: float
    clipwise: np.ndarray
    embedding: np.ndarray


class Framewise(NamedTuple):
    """Frame-level probabilities (frames, classes) and each frame's centre time in seconds (frames,)."""

    probabilities: np.ndarray
    times: np.ndarray


@dataclass(frozen=True)
class Analysis:
    """Everything one pass over an input yields (see the module docstring for how chunks combine)."""

    clipwise: np.ndarray
    """(classes,) probabilities, max over chunks."""
    embedding: np.ndarray
    """(embed_dim,) length-weighted mean over chunks."""
    framewise: Framewise | None
    """Only when requested: concatenated over chunks, frames centred inside the input."""
    duration: float
    """Seconds of audio analysed (at the model's sample rate)."""
    chunks: int
    frame_hop: float
    """Seconds between consecutive frames (hop_length / sample_rate)."""


@runtime_checkable
class Backend(Protocol):
    """What :class:`Tagger` needs from a model: its front-end settings and a waveform → outputs call.

    ``infer`` takes a (1, samples) float32 array at ``sample_rate`` of any length ≥ 1 and returns
    ``clipwise_output`` (1, classes), ``embedding`` (1, embed_dim) and, when ``framewise`` is true,
    ``framewise_output`` (1, frames, classes) with ``samples // hop_length + 1`` frames or more.
    Implemented by the PyTorch path here and by :class:`panns_lite.export.OnnxModel`.
    """

    sample_rate: int
    hop_length: int
    classes_num: int

    def infer(self, waveform: np.ndarray, framewise: bool) -> dict[str, np.ndarray]: ...


class TorchBackend:
    """An :class:`AudioTagger` in eval mode on ``device``, run under ``torch.inference_mode``.

    The network runs at ``precision`` (:class:`~panns_lite.models.AtPrecision`: the front end stays
    float32), in channels-last layout for bfloat16.
    """

    def __init__(
        self, model: AudioTagger, device: str | torch.device = "cpu", precision: str = "float32"
    ) -> None:
        self.device = torch.device(device)
        memory = torch.channels_last if precision == "bfloat16" else torch.preserve_format
        self.net = AtPrecision(model.eval().to(self.device, memory_format=memory), precision)
        self.model = model
        self.sample_rate = model.logmel.config.sample_rate
        self.hop_length = model.logmel.config.hop_length
        self.classes_num = model.fc_audioset.out_features

    def infer(self, waveform: np.ndarray, framewise: bool) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            out = self.net(torch.from_numpy(waveform).to(self.device), framewise=framewise)
        return {k: v.float().cpu().numpy() for k, v in out.items()}


class Tagger:
    """Audio tagging, sound event localisation and embeddings for inputs of any length.

    ``checkpoint_or_model`` is a checkpoint file (official PANNs, E-PANNs or ours, read by
    :func:`~panns_lite.checkpoints.load_checkpoint`), a ``.onnx`` file written by
    :func:`panns_lite.export.export_onnx` in waveform mode (run with ONNX Runtime), an in-memory
    :class:`~panns_lite.models.AudioTagger` or an :class:`~panns_lite.export.OnnxModel`.
    ``device`` and ``precision`` apply to PyTorch models: ``precision="bfloat16"`` runs the network
    under bf16 autocast where the CPU (or GPU) has native bf16, the front end in float32
    (:func:`panns_lite.runtime.network_precision`; its speed and mAP cost: README, "Fast tagging").
    ``labels`` defaults to the 527 AudioSet classes; a model
    with another class count (a fine-tuned head) gets the class names its checkpoint records
    (:mod:`panns_lite.finetune` writes them), else ``class_0 …``, unless labels are given.

    Every method takes a file path, or an array (samples,) / (samples, channels) — the layout
    soundfile returns — with its ``sample_rate`` (``None`` means the model's own rate). For a file
    the rate comes from the file and ``sample_rate`` must be ``None``. See the module docstring for
    chunking, padding, silence and errors.
    """

    def __init__(
        self,
        checkpoint_or_model: str | os.PathLike[str] | AudioTagger | OnnxModel | Backend,
        device: str | torch.device = "cpu",
        chunk_seconds: float = 10.0,
        labels: ClassLabels | None = None,
        precision: str = "float32",
    ) -> None:
        self.backend = _backend(checkpoint_or_model, device, precision)
        rate, hop = self.backend.sample_rate, self.backend.hop_length
        if chunk_seconds < 1.0:
            raise ValueError(f"chunk_seconds must be ≥ 1 s, got {chunk_seconds}")
        self.chunk_samples = round(chunk_seconds * rate / hop) * hop  # whole frames, so chunk frames tile
        self.min_tail_samples = round(MIN_TAIL_SECONDS * rate)
        self.labels = (
            labels if labels is not None else _recorded_labels(checkpoint_or_model, self.backend.classes_num)
        )
        if len(self.labels) != self.backend.classes_num:
            raise ValueError(f"{len(self.labels)} labels for a model with {self.backend.classes_num} classes")

    @property
    def sample_rate(self) -> int:
        return self.backend.sample_rate

    def analyze(
        self,
        audio: AudioInput,
        sample_rate: int | None = None,
        framewise: bool = False,
        frames_to: Callable[[np.ndarray], object] | None = None,
    ) -> Analysis:
        """One streaming pass: clipwise (max over chunks), embedding (weighted mean), optional framewise.

        ``frames_to`` receives each chunk's (frames, classes) probabilities as they are computed,
        instead of keeping them (``framewise`` is then implied and the result's ``framewise`` is
        None): memory stays flat however long the input (``tag --sed`` feeds a
        :class:`~panns_lite.sed.EventDetector`)."""
        hop = self.backend.hop_length
        framewise = framewise or frames_to is not None
        clipwise: np.ndarray | None = None
        embedding_sum: np.ndarray | None = None
        frames: list[np.ndarray] = []
        total = chunks = 0
        for chunk in self.chunks(audio, sample_rate):
            out = self.backend.infer(chunk[None], framewise)
            clip, emb = out["clipwise_output"][0], out["embedding"][0].astype(np.float64)
            clipwise = clip if clipwise is None else np.maximum(clipwise, clip)
            embedding_sum = emb * len(chunk) if embedding_sum is None else embedding_sum + emb * len(chunk)
            if framewise:
                chunk_frames = out["framewise_output"][0][: -(-len(chunk) // hop)]
                if frames_to is None:
                    frames.append(chunk_frames)
                else:
                    frames_to(chunk_frames)
            total += len(chunk)
            chunks += 1
        assert clipwise is not None and embedding_sum is not None  # an input without samples has raised
        frame_hop = self.frame_hop
        framewise_result = None
        if framewise and frames_to is None:
            probabilities = np.concatenate(frames)
            framewise_result = Framewise(probabilities, np.arange(len(probabilities)) * frame_hop)
        return Analysis(
            clipwise=clipwise,
            embedding=(embedding_sum / total).astype(np.float32),
            framewise=framewise_result,
            duration=total / self.sample_rate,
            chunks=chunks,
            frame_hop=frame_hop,
        )

    def stream(
        self,
        audio: AudioInput,
        sample_rate: int | None = None,
        window_seconds: float = 10.0,
        hop_seconds: float = 1.0,
    ) -> Iterator[Window]:
        """Every ``hop_seconds``, the model's view of the last ``window_seconds``: live tagging.

        ``audio`` may be a live stream (an iterable of (samples,) or (samples, channels) float blocks
        at ``sample_rate``, of any sizes): each window is analysed as soon as its last sample arrives.
        Window ``k`` ends at ``(k + 1) · hop`` (in samples at the model's rate) and starts ``window``
        earlier, or at 0 while the stream is younger than a window; a last window ends at the end of
        a finite input when that is not on the hop grid. Its ``clipwise`` and ``embedding`` are
        exactly the model's outputs on that slice of the (resampled) input, as an offline sliding
        window would compute them. Memory holds one window, one hop and one block, whatever the length.
        """
        rate = self.sample_rate
        window, hop = round(window_seconds * rate), round(hop_seconds * rate)
        if window < 1 or hop < 1:
            raise ValueError(
                f"window_seconds and hop_seconds must be at least one sample, got {window_seconds}, "
                f"{hop_seconds}"
            )
        source_rate, blocks = _open(audio, sample_rate, rate, hop)
        buffer, offset, end = np.zeros(0, dtype=np.float32), 0, hop  # buffer = samples [offset, offset + len)
        for x in _stream_resample(blocks, source_rate, rate):
            buffer = np.concatenate([buffer, x])
            while offset + len(buffer) >= end:
                yield self._window(buffer, offset, max(0, end - window), end)
                end += hop
            drop = max(
                0, end - hop - window - offset
            )  # samples no later window (nor a last, shorter hop) reads
            buffer, offset = buffer[drop:], offset + drop
        total = offset + len(buffer)
        if total > end - hop:
            yield self._window(buffer, offset, max(0, total - window), total)

    def _window(self, buffer: np.ndarray, offset: int, start: int, end: int) -> Window:
        out = self.backend.infer(buffer[start - offset : end - offset][None], framewise=False)
        return Window(
            start / self.sample_rate, end / self.sample_rate, out["clipwise_output"][0], out["embedding"][0]
        )

    @property
    def frame_hop(self) -> float:
        """Seconds between frame-wise outputs (10 ms for the 32 kHz models)."""
        return self.backend.hop_length / self.sample_rate

    def frame_embeddings(
        self, audio: AudioInput, sample_rate: int | None = None, every: int = 1
    ) -> np.ndarray:
        """(n, embed_dim): the embedding of every ``every``-th model frame, frame ``k · every`` first.

        A frame's embedding is ReLU(fc1) of the segment of the decision-level head that covers it (the
        vector the frame-wise head classifies; ``segment_embedding`` of
        :meth:`~panns_lite.models.AudioTagger.forward_features`), so the model's own time resolution is
        one segment (32 frames, 320 ms for CNN14); ``every`` samples it. Row ``i`` is centred at
        ``i · every · frame_hop`` seconds. Chunk by chunk, the frames of a chunk being those centred
        inside it, so chunks tile the input's frames and memory does not grow with its length.
        PyTorch models only (the ONNX export has no segment output)."""
        if every < 1:
            raise ValueError(f"every must be ≥ 1 frame, got {every}")
        if not isinstance(self.backend, TorchBackend):
            raise ValueError("frame embeddings need a PyTorch model (a checkpoint), not an ONNX export")
        network, hop = self.backend.model, self.backend.hop_length
        parts, first_frame = [], 0
        for chunk in self.chunks(audio, sample_rate):
            frames = -(-len(chunk) // hop)
            with torch.inference_mode():
                out = network(torch.from_numpy(chunk[None]).to(self.backend.device), framewise=True)
                embedding = network.frames_from_segments(out["segment_embedding"], frames)[0]
            parts.append(embedding[(-first_frame) % every :: every].float().cpu().numpy())
            first_frame += frames
        return np.concatenate(parts)

    def tag(self, audio: AudioInput, sample_rate: int | None = None, top_k: int = 10) -> list[Tag]:
        """The ``top_k`` most probable classes, most probable first."""
        return self.ranked(self.analyze(audio, sample_rate).clipwise, top_k)

    def framewise(self, audio: AudioInput, sample_rate: int | None = None) -> Framewise:
        """(frames, classes) probabilities and frame centre times (seconds), over the whole input."""
        result = self.analyze(audio, sample_rate, framewise=True).framewise
        assert result is not None
        return result

    def embed(self, audio: AudioInput, sample_rate: int | None = None) -> np.ndarray:
        """The (embed_dim,) embedding, ReLU(fc1) of the pooled features (2048-d; reference §2, §11.3)."""
        return self.analyze(audio, sample_rate).embedding

    def ranked(self, probabilities: np.ndarray, top_k: int) -> list[Tag]:
        """Classes sorted by probability (ties by class index), at most ``top_k``."""
        if top_k < 1:
            raise ValueError(f"top_k must be ≥ 1, got {top_k}")
        order = np.argsort(-probabilities, kind="stable")[:top_k]
        return [Tag(self.labels.names[i], self.labels.mids[i], float(probabilities[i])) for i in order]

    def chunks(self, audio: AudioInput, sample_rate: int | None = None) -> Iterator[np.ndarray]:
        """Model-rate mono float32 chunks of ``chunk_samples`` (the last one up to + min tail), streamed:
        the units every method analyses one at a time (see the module docstring)."""
        source_rate, blocks = _open(audio, sample_rate, self.sample_rate, self.chunk_samples)
        resampled = _stream_resample(blocks, source_rate, self.sample_rate)
        return _rechunk(resampled, self.chunk_samples, self.min_tail_samples)


def _backend(source: object, device: str | torch.device, precision: str) -> Backend:
    if isinstance(source, AudioTagger):
        return TorchBackend(source, device, precision)
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() != ".onnx":
        return TorchBackend(load_checkpoint(source), device, precision)
    if precision != "float32":
        raise ValueError(
            f"precision={precision!r} applies to PyTorch models; an ONNX model runs as it was exported "
            "(float32, or int8 with export --int8)"
        )
    if isinstance(source, (str, os.PathLike)):
        from panns_lite.export import OnnxModel

        return OnnxModel(source)
    if isinstance(source, Backend):
        return source
    raise TypeError(
        "expected a checkpoint path, an .onnx path, an AudioTagger or an OnnxModel, "
        f"got {type(source).__name__}"
    )


def _recorded_labels(source: object, classes_num: int) -> ClassLabels:
    """The class names a checkpoint file records (a model from ``finetune``), else :func:`_default_labels`."""
    if (
        classes_num != NUM_CLASSES
        and isinstance(source, (str, os.PathLike))
        and Path(source).suffix.lower() != ".onnx"
    ):
        names = load_extra(source).get("class_names")
        if isinstance(names, list) and len(names) == classes_num:
            return ClassLabels(tuple(names), tuple(names))
    return _default_labels(classes_num)


def _default_labels(classes_num: int) -> ClassLabels:
    if classes_num == NUM_CLASSES:
        return load_class_labels()
    names = tuple(f"class_{i}" for i in range(classes_num))
    return ClassLabels(names, names)


# ------------------------------------------------------------------------------ reading
def _open(
    audio: AudioInput, sample_rate: int | None, model_rate: int, block: int
) -> tuple[int, Iterator[np.ndarray]]:
    """(source rate, iterator of mono float32 blocks at that rate); errors on opening raise here."""
    if isinstance(audio, (str, os.PathLike)):
        if sample_rate is not None:
            raise ValueError("sample_rate is only for arrays; a file's rate is read from the file")
        return _open_file(Path(audio), block)
    rate = model_rate if sample_rate is None else _check_rate(sample_rate)
    if isinstance(audio, (np.ndarray, torch.Tensor)):
        return rate, _checked(_array_blocks(_as_array(audio), block), rate, "input array")
    if isinstance(audio, Iterable):
        if sample_rate is None:
            raise ValueError("a stream of sample blocks needs its sample_rate")
        return rate, _checked(_stream_blocks(audio), rate, "input stream")
    raise TypeError(
        f"expected a file path, an array or an iterable of sample blocks, got {type(audio).__name__}"
    )


def _check_rate(sample_rate: float) -> int:
    if sample_rate <= 0 or int(sample_rate) != sample_rate:
        raise ValueError(f"sample_rate must be a positive whole number of Hz, got {sample_rate}")
    return int(sample_rate)


def _open_file(path: Path, block: int) -> tuple[int, Iterator[np.ndarray]]:
    audio = open_audio(path)
    return audio.sample_rate, _checked(audio.blocks(block), audio.sample_rate, str(path))


def _as_array(audio: np.ndarray | torch.Tensor) -> np.ndarray:
    x = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    if not np.issubdtype(x.dtype, np.floating):
        raise InvalidAudioError(f"input array: audio must be float samples in [-1, 1], got dtype {x.dtype}")
    if x.size == 0:
        raise InvalidAudioError(f"input array: no samples (shape {x.shape})")
    if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[1] > x.shape[0]):
        raise InvalidAudioError(
            f"input array: audio must be (samples,) or (samples, channels) as soundfile returns it, "
            f"got shape {x.shape}" + ("; transpose a (channels, samples) array" if x.ndim == 2 else "")
        )
    return x


def _array_blocks(x: np.ndarray, block: int) -> Iterator[np.ndarray]:
    for start in range(0, len(x), block):
        yield to_mono(x[start : start + block]).astype(np.float32, copy=False)


def _stream_blocks(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Mono float32 blocks of a live stream; empty blocks (a microphone with nothing new) are skipped."""
    for block in blocks:
        if np.size(block):
            yield to_mono(_as_array(block)).astype(np.float32, copy=False)


def _checked(blocks: Iterable[np.ndarray], rate: int, name: str) -> Iterator[np.ndarray]:
    """Pass blocks through, raising on the first non-finite or absurd sample or when there were none."""
    seen = 0
    for x in blocks:
        check_samples(x, name, rate, seen)
        seen += len(x)
        yield x
    if seen == 0:  # a file whose header announces samples that cannot be read
        raise AudioReadError(f"{name}: no samples could be read")


# ------------------------------------------------------------------------------ streaming
def _stream_resample(blocks: Iterable[np.ndarray], orig: int, new: int) -> Iterator[np.ndarray]:
    """Resample a stream block by block, equal (to float rounding) to resampling it in one piece.

    :func:`panns_lite.audio.resample` (torchaudio) maps each period of ``orig/g`` input samples to
    ``new/g`` outputs (g = gcd) with a windowed-sinc kernel reaching a few periods to each side. So
    the stream is cut at period boundaries and each piece is resampled with ``context`` extra input
    samples on both sides (covering the kernel: 6 zero crossings at 0.99 roll-off, plus one period),
    whose outputs are dropped. At the very start and end the zero padding is the same as for the
    whole signal. Memory: one block plus ``2·context`` samples.
    """
    if orig == new:
        yield from blocks
        return
    g = math.gcd(orig, new)
    unit_in, unit_out = orig // g, new // g
    context = unit_in * (2 + math.ceil(8 / min(unit_in, unit_out)))
    buffer = np.zeros(0, dtype=np.float32)
    left = 0  # input samples of already-emitted context at the start of buffer (a multiple of unit_in)
    for x in blocks:
        buffer = np.concatenate([buffer, x])
        ready = (len(buffer) - left - context) // unit_in * unit_in
        if ready <= 0:
            continue
        out = resample(buffer[: left + ready + context], orig, new)
        start = left // unit_in * unit_out
        yield out[start : start + ready // unit_in * unit_out]
        keep = min(context, left + ready)
        buffer = buffer[left + ready - keep :]
        left = keep
    if len(buffer) > left:
        yield resample(buffer, orig, new)[left // unit_in * unit_out :]


def _rechunk(blocks: Iterable[np.ndarray], size: int, min_tail: int) -> Iterator[np.ndarray]:
    """Cut a stream into ``size``-sample chunks; a last remainder < ``min_tail`` joins the chunk before."""
    pending: list[np.ndarray] = []
    count = 0
    for x in blocks:
        pending.append(x)
        count += len(x)
        if count >= size + min_tail:
            buffer = np.concatenate(pending)
            while len(buffer) >= size + min_tail:
                yield buffer[:size]
                buffer = buffer[size:]
            pending, count = [buffer], len(buffer)
    if count:
        yield np.concatenate(pending)
