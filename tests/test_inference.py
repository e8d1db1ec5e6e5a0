"""Tagger (panns_lite.inference) and the ``tag`` command: every input kind, chunking, bad input.

A 1/16-width CNN14 with BatchNorm statistics calibrated on noise stands in for a trained model: its
probabilities spread over (0.1, 0.9), so equalities below are not trivially met by saturated outputs.
"""

import copy
import json
import math
import re
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from panns_lite.__main__ import main
from panns_lite.audio import AudioReadError, float_to_int16, load_audio, open_audio, resample
from panns_lite.audioset import load_class_labels
from panns_lite.checkpoints import save_checkpoint
from panns_lite.events import read_events_csv
from panns_lite.inference import MIN_TAIL_SECONDS, InvalidAudioError, Tagger
from panns_lite.models import Cnn14, scaled_widths
from panns_lite.runtime import PRECISIONS, cpu_bf16
from panns_lite.sed import detect_events

SR = 32000
ATOL = 1e-5
SMALL = scaled_widths(1 / 16)


def calibrated_cnn14(
    widths: tuple[int, ...] = SMALL, embed_dim: int = 64, classes_num: int = 527, seed: int = 0
) -> Cnn14:
    """A random CNN14 whose BatchNorm running statistics are those of noise (unsaturated outputs)."""
    torch.manual_seed(seed)
    model = Cnn14(classes_num=classes_num, widths=widths, embed_dim=embed_dim)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batch
    with torch.no_grad():
        model.train()(torch.from_numpy(signal(4 * SR, seed=seed + 100, channels=4).T.copy()))
    return model.eval()


def signal(samples: int, seed: int = 0, rate: int = SR, channels: int = 1) -> np.ndarray:
    """Tones that change every second plus noise, (samples,) or (samples, channels), float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate
    out = []
    for _ in range(channels):
        freqs = rng.uniform(200, 3000, size=int(t[-1]) + 1 if samples else 1)
        x = 0.3 * np.sin(2 * np.pi * freqs[t.astype(int)] * t) + 0.05 * rng.standard_normal(samples)
        out.append(x * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t)))
    x = np.stack(out, axis=1).astype(np.float32)
    return x[:, 0] if channels == 1 else x


def model_outputs(model: Cnn14, x: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        return {k: v[0].numpy() for k, v in model(torch.from_numpy(x)[None], framewise=True).items()}


@pytest.fixture(scope="module")
def model() -> Cnn14:
    return calibrated_cnn14()


@pytest.fixture(scope="module")
def tagger(model) -> Tagger:
    return Tagger(model)


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "model.pt")


# ------------------------------------------------------------------------------ arrays and files
def test_one_chunk_equals_the_model(tagger, model):
    x = signal(3 * SR)
    analysis = tagger.analyze(x, framewise=True)
    expected = model_outputs(model, x)
    np.testing.assert_allclose(analysis.clipwise, expected["clipwise_output"], atol=ATOL)
    np.testing.assert_allclose(analysis.embedding, expected["embedding"], atol=ATOL)
    assert analysis.framewise.probabilities.shape == (300, 527)  # ceil(96000 / 320) frames centred inside
    np.testing.assert_allclose(
        analysis.framewise.probabilities, expected["framewise_output"][:300], atol=ATOL
    )
    np.testing.assert_allclose(analysis.framewise.times, np.arange(300) * 0.01)
    assert (analysis.duration, analysis.chunks, analysis.frame_hop) == (3.0, 1, 0.01)
    assert 0.05 < analysis.clipwise.min() and analysis.clipwise.max() < 0.95  # not saturated


def test_bfloat16_runs_the_network_in_bf16_and_the_front_end_in_float32(model):
    fast_model = copy.deepcopy(model)
    seen = {}

    def record(name: str):
        def hook(module, inputs, output) -> None:
            seen.setdefault(name, output.dtype)

        return hook

    fast_model.logmel.register_forward_hook(record("front end"))
    fast_model.conv_block2.conv1.register_forward_hook(record("network"))
    fast = Tagger(fast_model, precision="bfloat16")
    x = signal(3 * SR, seed=5)
    gap = np.abs(fast.analyze(x).clipwise - Tagger(model).analyze(x).clipwise).max()
    assert seen["front end"] == torch.float32
    assert seen["network"] == (torch.bfloat16 if cpu_bf16() else torch.float32)
    assert gap < 0.02 and (gap > 1e-5) == cpu_bf16()


def test_precision_is_checked_and_applies_to_pytorch_models_only(model, tmp_path):
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16, got 'float16'"):
        Tagger(copy.deepcopy(model), precision="float16")
    with pytest.raises(ValueError, match="applies to PyTorch models"):
        Tagger(tmp_path / "model.onnx", precision="bfloat16")


def test_tag_ranks_with_labels_and_mids(tagger):
    x = signal(2 * SR, seed=3)
    tags = tagger.tag(x, top_k=7)
    clipwise = tagger.analyze(x).clipwise
    labels = load_class_labels()
    assert len(tags) == 7
    assert [t.probability for t in tags] == sorted(clipwise, reverse=True)[:7]
    for tag in tags:
        assert labels.name_of(tag.mid) == tag.label
        assert tag.probability == pytest.approx(clipwise[labels.index(tag.mid)])
    with pytest.raises(ValueError, match="top_k"):
        tagger.tag(x, top_k=0)


def test_embed_has_the_model_embedding_size(tagger):
    assert tagger.embed(signal(SR)).shape == (64,)
    big = Tagger(calibrated_cnn14(embed_dim=2048))
    assert big.embed(signal(SR)).shape == (2048,)


@pytest.mark.parametrize(("suffix", "subtype"), [(".wav", "PCM_16"), (".flac", "PCM_16"), (".ogg", "VORBIS")])
def test_files_of_each_format(tagger, tmp_path, suffix, subtype):
    x = float_to_int16(signal(2 * SR, seed=5))  # integers, so WAV and FLAC hold exactly the same samples
    wav = tmp_path / "ref.wav"
    sf.write(wav, x, SR, subtype="PCM_16")
    path = tmp_path / f"clip{suffix}"
    sf.write(path, x, SR, subtype=subtype)
    decoded, _ = sf.read(path, dtype="float32")
    from_file = tagger.analyze(path)
    np.testing.assert_allclose(from_file.clipwise, tagger.analyze(decoded).clipwise, atol=ATOL)
    assert from_file.duration == pytest.approx(2.0, abs=0.01)
    if subtype == "PCM_16":  # lossless: the same as the WAV
        np.testing.assert_allclose(from_file.clipwise, tagger.analyze(wav).clipwise, atol=ATOL)
    else:  # lossy, but the same sound
        assert np.abs(from_file.clipwise - tagger.analyze(wav).clipwise).max() < 0.05


def test_stereo_is_mixed_to_mono(tagger, tmp_path):
    x = signal(2 * SR, seed=6, channels=2)
    path = tmp_path / "stereo.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    mono = x.mean(axis=1)
    expected = tagger.analyze(mono).clipwise
    np.testing.assert_allclose(tagger.analyze(path).clipwise, expected, atol=ATOL)
    np.testing.assert_allclose(tagger.analyze(x).clipwise, expected, atol=ATOL)
    np.testing.assert_allclose(tagger.analyze(torch.from_numpy(x)).clipwise, expected, atol=ATOL)


@pytest.mark.parametrize("rate", [8000, 44100])
def test_other_sample_rates_are_resampled(tagger, tmp_path, rate):
    x = signal(23 * rate // 2, seed=7, rate=rate)  # 11.5 s: two chunks, resampled across the boundary
    path = tmp_path / f"r{rate}.wav"
    sf.write(path, x, rate, subtype="FLOAT")
    whole = resample(x, rate, SR)  # the one-piece resampling that the stream must reproduce
    expected = tagger.analyze(whole, framewise=True)
    for source, sample_rate in ((path, None), (x, rate)):
        got = tagger.analyze(source, sample_rate, framewise=True)
        assert got.duration == pytest.approx(11.5, abs=1 / SR)
        np.testing.assert_allclose(got.clipwise, expected.clipwise, atol=ATOL)
        np.testing.assert_allclose(got.framewise.probabilities, expected.framewise.probabilities, atol=ATOL)


def test_short_input_is_zero_padded(tagger, model):
    x = signal(800, seed=8, rate=8000)  # 0.1 s at 8 kHz = 3,200 samples at 32 kHz
    analysis = tagger.analyze(x, 8000, framewise=True)
    resampled = resample(x, 8000, SR)
    padded = np.concatenate([resampled, np.zeros(model.logmel.min_samples - len(resampled), np.float32)])
    expected = model_outputs(model, padded)  # padding at the end to 0.31 s changes nothing
    np.testing.assert_allclose(analysis.clipwise, expected["clipwise_output"], atol=ATOL)
    assert analysis.framewise.probabilities.shape == (10, 527)
    assert analysis.duration == pytest.approx(0.1)
    one_sample = tagger.analyze(np.array([0.1], np.float32), framewise=True)
    assert one_sample.framewise.probabilities.shape == (1, 527)


def test_silence_is_analysed_as_audio(tagger, model):
    analysis = tagger.analyze(np.zeros(2 * SR, np.float32), framewise=True)
    expected = model_outputs(model, np.zeros(2 * SR, np.float32))
    np.testing.assert_allclose(analysis.clipwise, expected["clipwise_output"], atol=ATOL)
    assert np.isfinite(analysis.framewise.probabilities).all() and np.isfinite(analysis.embedding).all()


# ------------------------------------------------------------------------------ chunking
@pytest.mark.parametrize(
    ("seconds", "chunks"), [(10.5, 1), (20.5, 2), pytest.param(125.25, 13, marks=pytest.mark.slow)]
)
def test_long_input_combines_chunks_as_documented(tagger, model, seconds, chunks):
    x = signal(round(seconds * SR), seed=9)
    analysis = tagger.analyze(x, framewise=True)
    assert analysis.chunks == chunks
    size = 10 * SR
    bounds = [i * size for i in range(chunks)] + [len(x)]  # the last chunk takes a remainder < 1 s
    pieces = [x[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    assert all(len(p) == size for p in pieces[:-1]) and len(pieces[-1]) < size + MIN_TAIL_SECONDS * SR
    outputs = [model_outputs(model, p) for p in pieces]
    np.testing.assert_allclose(
        analysis.clipwise, np.max([o["clipwise_output"] for o in outputs], axis=0), atol=ATOL
    )
    weights = np.array([len(p) for p in pieces]) / len(x)
    np.testing.assert_allclose(
        analysis.embedding, sum(w * o["embedding"] for w, o in zip(weights, outputs)), atol=ATOL
    )
    frames = np.concatenate(
        [o["framewise_output"][: math.ceil(len(p) / 320)] for p, o in zip(pieces, outputs)]
    )
    np.testing.assert_allclose(analysis.framewise.probabilities, frames, atol=ATOL)
    assert len(frames) == math.ceil(len(x) / 320)
    np.testing.assert_allclose(analysis.framewise.times[-1], (len(frames) - 1) * 0.01)


def test_chunk_length_is_configurable(model):
    x = signal(9 * SR // 2, seed=10)
    analysis = Tagger(model, chunk_seconds=2.0).analyze(x)
    assert analysis.chunks == 2  # 2 s, then 2.5 s (the 0.5 s remainder joins it)
    first, second = model_outputs(model, x[: 2 * SR]), model_outputs(model, x[2 * SR :])
    expected = np.maximum(first["clipwise_output"], second["clipwise_output"])
    np.testing.assert_allclose(analysis.clipwise, expected, atol=ATOL)
    with pytest.raises(ValueError, match="chunk_seconds"):
        Tagger(model, chunk_seconds=0.5)


@pytest.mark.slow
def test_long_file_is_streamed_with_bounded_memory(tagger, tmp_path):
    rate, seconds = 44100, 180
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as handle:
        for i in range(seconds // 10):
            handle.write(signal(10 * rate, seed=i, rate=rate))
    whole_file_bytes = seconds * rate * 4  # float32, what reading it in one piece would hold
    tracemalloc.start()
    try:
        analysis = tagger.analyze(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert analysis.chunks == 18 and analysis.duration == pytest.approx(seconds, abs=1e-4)
    chunk_bytes = (10 + MIN_TAIL_SECONDS) * rate * 4  # the longest chunk, at the (higher) file rate
    assert peak < min(8 * chunk_bytes, whole_file_bytes / 2), f"peak {peak / 1e6:.1f} MB"


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_rejected(tagger, tmp_path, value):
    x = signal(2 * SR)
    x[40000] = value
    with pytest.raises(InvalidAudioError, match=r"input array: sample 40000 \(1\.250 s\) is"):
        tagger.tag(x)
    path = tmp_path / "nan.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    with pytest.raises(InvalidAudioError, match=rf"{path.name}: sample 40000"):
        tagger.tag(path)


def test_unreadable_files_raise_audio_read_error(tagger, tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SR)
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    cases = [
        (empty, "no samples"),
        (zero_bytes, "cannot decode"),
        (corrupt, "cannot decode"),
        (tmp_path / "missing.wav", "no such file"),
        (tmp_path, "no such file"),
    ]
    for path, message in cases:
        with pytest.raises(AudioReadError, match=message) as info:
            tagger.tag(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_open_audio_decodes_whole_or_in_blocks_and_refuses_unusable_files(tmp_path):
    """``open_audio`` is where every module opens files: mono float32 read whole or in blocks (the same
    samples), and one message per kind of unusable file, raised at opening or, for a body that stops
    decoding, while reading."""
    path = tmp_path / "stereo.wav"
    x = signal(SR + 123, seed=3, channels=2)
    sf.write(path, x, SR, subtype="FLOAT")
    with open_audio(path) as audio:
        whole = audio.read()
    assert audio.sample_rate == SR and whole.dtype == np.float32
    np.testing.assert_array_equal(whole, x.mean(axis=1))
    blocks = list(open_audio(str(path)).blocks(1000))
    assert [len(b) for b in blocks] == [1000] * 32 + [123]
    np.testing.assert_array_equal(np.concatenate(blocks), whole)

    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SR)
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    missing = tmp_path / "missing.wav"
    for bad, message in [
        (missing, f"{missing}: no such file"),
        (tmp_path, f"{tmp_path}: no such file"),
        (empty, f"{empty}: the file has no samples"),
        (zero_bytes, f"{zero_bytes}: cannot decode ("),
    ]:
        for read in (open_audio, load_audio):
            with pytest.raises(AudioReadError) as info:
                read(bad)
            assert str(info.value).startswith(message) and "\n" not in str(info.value)

    broken = tmp_path / "broken.flac"  # a valid header, then a body that loses the decoder's sync
    sf.write(broken, signal(2 * SR, seed=4), SR, subtype="PCM_16")
    data = bytearray(broken.read_bytes())
    data[len(data) // 3 :] = bytes((7 * b + 13) % 256 for b in data[len(data) // 3 :])
    broken.write_bytes(bytes(data))
    audio = open_audio(broken)
    with pytest.raises(AudioReadError, match=rf"^{re.escape(str(broken))}: cannot decode \("):
        list(audio.blocks(SR // 2))
    with pytest.raises(AudioReadError, match=rf"^{re.escape(str(broken))}: cannot decode \("):
        load_audio(broken)


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros(0, np.float32), "no samples"),
        (np.zeros((2, SR), np.float32), "transpose"),
        (np.zeros((1, 2, SR), np.float32), r"\(samples,\) or \(samples, channels\)"),
        (np.zeros(SR, np.int16), "float samples"),
    ],
)
def test_bad_arrays_raise_invalid_audio_error(tagger, audio, message):
    with pytest.raises(InvalidAudioError, match=message):
        tagger.tag(audio)


def test_sample_rate_arguments_are_checked(tagger, tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, signal(SR), SR)
    with pytest.raises(ValueError, match="only for arrays"):
        tagger.tag(path, sample_rate=SR)
    for bad in (0, -8000, 44100.5):
        with pytest.raises(ValueError, match="sample_rate"):
            tagger.tag(signal(SR), sample_rate=bad)


# ------------------------------------------------------------------------------ models and labels
def test_checkpoint_path_and_model_agree(tagger, checkpoint):
    x = signal(SR, seed=11)
    np.testing.assert_allclose(Tagger(checkpoint).analyze(x).clipwise, tagger.analyze(x).clipwise, atol=ATOL)


def test_other_class_counts_get_generic_or_given_labels(tmp_path):
    model = calibrated_cnn14(classes_num=3)
    assert [t.label for t in Tagger(model).tag(signal(SR), top_k=3)] != []
    assert Tagger(model).labels.names == ("class_0", "class_1", "class_2")
    with pytest.raises(ValueError, match="527 labels for a model with 3 classes"):
        Tagger(model, labels=load_class_labels())
    with pytest.raises(TypeError, match="checkpoint path"):
        Tagger(42)


# ------------------------------------------------------------------------------ command line
@pytest.fixture
def audio_files(tmp_path):
    files = []
    for i, (rate, seconds) in enumerate([(SR, 3.0), (44100, 1.5)]):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, signal(int(seconds * rate), seed=20 + i, rate=rate), rate)
        files.append(path)
    return files


def test_cli_table(checkpoint, audio_files, capsys):
    assert main(["tag", *map(str, audio_files), "--checkpoint", str(checkpoint), "--top-k", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    tags = Tagger(checkpoint).tag(audio_files[1], top_k=3)
    assert out[0] == f"{audio_files[0]}  (3.00 s)" and out[4] == f"{audio_files[1]}  (1.50 s)"
    assert out[5:8] == [f"  {i:>3}  {t.probability:.3f}  {t.label}  ({t.mid})" for i, t in enumerate(tags, 1)]


def test_cli_json_and_sed(checkpoint, audio_files, tmp_path, capsys):
    out_csv = tmp_path / "events.csv"
    argv = [
        "tag",
        *map(str, audio_files),
        "--checkpoint",
        str(checkpoint),
        "--json",
        "--sed",
        str(out_csv),
        "--threshold",
        "0.6",
        "--threshold",
        "Speech=0.3",
        "--median",
        "0.3",
    ]
    assert main(argv) == 0
    reports = json.loads(capsys.readouterr().out)
    tagger = Tagger(checkpoint)
    thresholds = np.full(527, 0.6)
    thresholds[load_class_labels().index_of_name("Speech")] = 0.3
    written = read_events_csv(out_csv)
    assert [r["file"] for r in reports] == [str(p) for p in audio_files]
    for report, path in zip(reports, audio_files):
        analysis = tagger.analyze(path, framewise=True)
        assert report["tags"][0]["probability"] == pytest.approx(float(analysis.clipwise.max()), abs=ATOL)
        assert len(report["tags"]) == 5 and report["duration_seconds"] == pytest.approx(analysis.duration)
        events = detect_events(
            analysis.framewise.probabilities,
            analysis.frame_hop,
            tagger.labels,
            thresholds,
            median_seconds=0.3,
            duration=analysis.duration,
        )
        assert events, "the test needs some events to compare"
        in_json = [(e["label"], e["onset"], e["offset"]) for e in report["events"]]
        assert in_json == [(e.label, e.onset, e.offset) for e in events]
        assert [(e.mid, e.onset, e.offset) for e in written[str(path)]] == [
            (e.mid, round(e.onset, 3), round(e.offset, 3)) for e in events
        ]


def test_cli_reports_bad_files_and_goes_on(checkpoint, audio_files, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF not really a wav file")
    missing = tmp_path / "missing.wav"
    poisoned = tmp_path / "nan.wav"
    x = np.zeros(SR, np.float32)
    x[100] = np.nan
    sf.write(poisoned, x, SR, subtype="FLOAT")
    argv = [
        "tag",
        str(missing),
        str(audio_files[0]),
        str(corrupt),
        str(poisoned),
        "--checkpoint",
        str(checkpoint),
        "--json",
    ]
    assert main(argv) == 2
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert errors == [f"error: {missing}: no such file", errors[1], errors[2]] and str(corrupt) in errors[1]
    assert errors[2].startswith(f"error: {poisoned}: sample 100 (0.003 s) is nan; audio must be finite")
    reports = json.loads(captured.out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert [("error" in r, r["file"]) for r in reports] == [
        (True, str(missing)),
        (False, str(audio_files[0])),
        (True, str(corrupt)),
        (True, str(poisoned)),
    ]


def test_cli_precision_tags_with_a_bf16_network(checkpoint, audio_files, capsys):
    argv = ["tag", str(audio_files[0]), "--checkpoint", str(checkpoint), "--json", "--top-k", "3"]
    assert main([*argv, "--precision", "bfloat16"]) == 0
    fast = json.loads(capsys.readouterr().out)
    tags = Tagger(checkpoint).tag(audio_files[0], top_k=3)
    np.testing.assert_allclose(
        [t["probability"] for t in fast[0]["tags"]], [t.probability for t in tags], atol=0.02
    )
    assert main([*argv, "--precision", "float16"]) == 2
    assert "invalid choice: 'float16'" in capsys.readouterr().err


def test_cli_precision_choices_are_the_runtime_precisions():
    from panns_lite.__main__ import build_parser

    tag = build_parser()._subparsers._group_actions[0].choices["tag"]
    choices = next(a.choices for a in tag._actions if a.dest == "precision")
    assert tuple(choices) == PRECISIONS


def test_cli_rejects_bad_options(checkpoint, audio_files, tmp_path, capsys):
    assert main(["tag", str(audio_files[0]), "--checkpoint", str(checkpoint), "--threshold", "0.3"]) == 2
    assert "only apply with --sed" in capsys.readouterr().err
    argv = [
        "tag",
        str(audio_files[0]),
        "--checkpoint",
        str(checkpoint),
        "--sed",
        str(tmp_path / "e.csv"),
        "--threshold",
        "Nope=0.3",
    ]
    assert main(argv) == 2
    assert "'Nope'" in capsys.readouterr().err
    assert main(["tag", str(audio_files[0]), "--checkpoint", str(tmp_path / "none.pt")]) == 2


def test_absurd_amplitudes_are_rejected_in_arrays_and_files(tagger, tmp_path):
    x = signal(2 * SR)
    x[8000] = -2e3  # beyond ±1000: raw data read as audio, or a broken encoder
    with pytest.raises(
        InvalidAudioError,
        match=r"input array: sample 8000 \(0\.250 s\) is -2000; audio must be "
        r"finite and within ±1000",
    ):
        tagger.tag(x)
    path = tmp_path / "loud.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    with pytest.raises(InvalidAudioError, match=rf"{path.name}: sample 8000"):
        tagger.tag(path)
    x[8000] = 1.5  # float files may exceed ±1 a little: that is still audio
    assert all(np.isfinite(tag.probability) for tag in tagger.tag(x))


# ------------------------------------------------------------------------------ streaming
def test_stream_equals_the_offline_sliding_window_on_a_minute(tagger, model):
    """Every window of a 60.5 s stream, fed in blocks of odd sizes, is the model's output on that slice."""
    x = signal(int(60.5 * SR), seed=11)
    sizes = np.random.default_rng(0).integers(1, 20000, size=400)
    blocks = np.split(x, np.cumsum(sizes)[np.cumsum(sizes) < len(x)])
    windows = list(tagger.stream(iter(blocks), SR, window_seconds=10.0, hop_seconds=1.0))
    ends = [w.end for w in windows]
    assert ends == [float(k) for k in range(1, 61)] + [60.5]
    for w in windows:
        start, end = round(w.start * SR), round(w.end * SR)
        assert start == max(0, end - 10 * SR)
        expected = model_outputs(model, x[start:end])
        np.testing.assert_allclose(w.clipwise, expected["clipwise_output"], atol=ATOL)
        np.testing.assert_allclose(w.embedding, expected["embedding"], atol=ATOL)


def test_stream_of_a_file_at_another_rate_matches_the_resampled_input(tagger, model, tmp_path):
    x = signal(int(12.3 * 44100), seed=12, rate=44100)
    path = tmp_path / "stream.wav"
    sf.write(path, x, 44100, subtype="FLOAT")
    at_model_rate = resample(x, 44100, SR)
    windows = list(tagger.stream(path, window_seconds=5.0, hop_seconds=2.0))
    assert [w.end for w in windows] == [
        2.0,
        4.0,
        6.0,
        8.0,
        10.0,
        12.0,
        pytest.approx(len(at_model_rate) / SR),
    ]
    for w in windows:
        start, end = round(w.start * SR), round(w.end * SR)
        np.testing.assert_allclose(
            w.clipwise, model_outputs(model, at_model_rate[start:end])["clipwise_output"], atol=1e-4
        )


def test_stream_memory_does_not_grow_with_its_length(tagger):
    def blocks(seconds: int):
        for i in range(seconds):
            yield signal(SR, seed=i)

    peaks = []
    for seconds in (20, 80):
        tracemalloc.start()
        try:
            count = sum(1 for _ in tagger.stream(blocks(seconds), SR, window_seconds=10.0, hop_seconds=1.0))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert count == seconds
        peaks.append(peak)
    assert peaks[1] < 1.2 * peaks[0], (
        f"peaks {peaks[0] / 1e6:.1f} MB for 30 s, {peaks[1] / 1e6:.1f} MB for 120 s"
    )


def test_stream_refuses_what_it_cannot_use(tagger):
    with pytest.raises(ValueError, match="needs its sample_rate"):
        next(tagger.stream(iter([signal(SR)])))
    with pytest.raises(ValueError, match="at least one sample"):
        next(tagger.stream(signal(SR), hop_seconds=0.0))
    with pytest.raises(InvalidAudioError, match="input stream: sample"):
        list(tagger.stream(iter([signal(SR), np.full(100, np.nan, dtype=np.float32)]), SR))
    with pytest.raises(TypeError, match="iterable of sample blocks"):
        next(tagger.stream(12345))
