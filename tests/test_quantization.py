"""int8 export of the shipped tagger: front end float, convolutions int8, close to the float graph."""

import json

import numpy as np
import onnx
import pytest
import torch

from panns_lite.__main__ import main
from panns_lite.audio import fix_length, load_audio
from panns_lite.datasets import PackedDataset
from panns_lite.evaluation import evaluate_model, evaluate_runtime
from panns_lite.export import METADATA_KEY, OnnxModel, export_onnx
from panns_lite.inference import Tagger
from panns_lite.miniset import read_bank
from panns_lite.models import Cnn14, scaled_widths
from panns_lite.paths import SOURCES_DIR
from panns_lite.pretraining import pretrained
from panns_lite.quantization import calibration_clips, int8_accuracy, int8_pair, quantize_onnx

BANK = read_bank()
CALIBRATION, CHECKED = BANK[1::97][:10], BANK[::150]
"""Real recordings to calibrate on, and others (none in common) to compare the graphs on."""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("int8")
    float_path = export_onnx(pretrained(), folder / "float.onnx", framewise=True)
    clips = np.stack([fix_length(load_audio(SOURCES_DIR / item.file)) for item in CALIBRATION])
    return float_path, quantize_onnx(float_path, folder / "int8.onnx", clips, source="bank recordings")


def test_convolutions_are_int8_and_the_front_end_is_float(exported):
    float_path, int8_path = exported
    graph = onnx.load(str(int8_path)).graph
    first_conv = next(i for i, n in enumerate(graph.node) if n.op_type == "Conv")
    front = [n.op_type for n in graph.node[:first_conv]]
    assert "STFT" in front and "MatMul" in front
    producers = {out: n.op_type for n in graph.node for out in n.output}
    stft = next(n for n in graph.node if n.op_type == "STFT")
    assert all(producers.get(i) != "DequantizeLinear" for i in stft.input)
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert convs and all(producers.get(n.input[1]) == "DequantizeLinear" for n in convs)
    assert int8_path.stat().st_size < float_path.stat().st_size / 3
    record = json.loads({p.key: p.value for p in onnx.load(str(int8_path)).metadata_props}[METADATA_KEY])
    assert record["int8"]["calibration"] == "bank recordings" and record["int8"]["calibration_clips"] == 10


def test_the_int8_tagger_stays_close_to_the_float_one_on_real_recordings(exported):
    float_tagger, int8_tagger = (Tagger(OnnxModel(p, threads=2)) for p in exported)
    assert not {i.file for i in CALIBRATION} & {i.file for i in CHECKED}
    for item in CHECKED:
        a = float_tagger.analyze(SOURCES_DIR / item.file, framewise=True)
        b = int8_tagger.analyze(SOURCES_DIR / item.file, framewise=True)
        # guards against a broken graph (a quantized front end gives garbage); the accuracy cost is measured
        # as mAP on the evaluation splits by benchmarks/bench_int8.py
        assert np.abs(a.clipwise - b.clipwise).max() < 0.1
        assert np.abs(a.framewise.probabilities - b.framewise.probabilities).max() < 0.3
        assert (
            a.clipwise.max() - a.clipwise[np.argmax(b.clipwise)] < 0.02
        )  # the same top class, or a near tie


def test_cli_int8_export_needs_training_clips_and_a_waveform_graph(tiny_packed, tmp_path, capsys):
    out = tmp_path / "tagger-int8.onnx"
    assert main(["export", "pretrained", "--out", str(out), "--int8"]) == 2
    assert "--int8 needs --format onnx, --mode waveform and --calibration" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                "pretrained",
                "--out",
                str(out),
                "--int8",
                "--calibration",
                str(tiny_packed["train"]),
                "--calibration-clips",
                "4",
            ]
        )
        == 0
    )
    assert "(onnx, int8, waveform in;" in capsys.readouterr().out
    clip = SOURCES_DIR / BANK[0].file
    assert main(["tag", str(clip), "--checkpoint", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["tags"]


def test_a_log_mel_graph_is_refused(tmp_path):
    path = export_onnx(pretrained(), tmp_path / "logmel.onnx", mode="logmel")
    with pytest.raises(ValueError, match="needs a waveform-mode panns_lite ONNX file"):
        quantize_onnx(path, tmp_path / "int8.onnx", np.zeros((1, 32000), np.float32))


def test_evaluate_runtime_scores_an_export_like_evaluate_model(exported, tiny_packed):
    data = PackedDataset(tiny_packed["eval"])
    eager = evaluate_model(pretrained(), data, batch_size=5)
    onnx_float = evaluate_runtime(OnnxModel(exported[0], threads=2), data, batch_size=5)
    assert onnx_float.names == eager.names
    np.testing.assert_allclose(onnx_float.outputs, eager.outputs, atol=1e-4)
    with pytest.raises(ValueError, match="takes log-mels"):
        evaluate_runtime(
            OnnxModel(export_onnx(pretrained(), exported[0].with_name("lm.onnx"), mode="logmel")), data
        )


@pytest.mark.slow  # one export and one quantization of a 1/16-width CNN14, ~25 s
def test_an_int8_pair_is_scored_clip_by_clip_against_its_float_graph(tiny_packed, tmp_path):
    torch.manual_seed(0)
    model = Cnn14(widths=scaled_widths(1 / 16)).eval()
    calibration = calibration_clips(tiny_packed["train"], 4)
    graphs = int8_pair(model, tmp_path, "tiny", calibration, source="tiny train")
    assert graphs == {"float32": tmp_path / "tiny-float32.onnx", "int8": tmp_path / "tiny-int8.onnx"}
    data = PackedDataset(tiny_packed["eval"])
    accuracy = int8_accuracy(graphs, data, threads=1, resamples=50)
    for kind in graphs:
        alone = evaluate_runtime(OnnxModel(graphs[kind], threads=1), data)
        np.testing.assert_array_equal(getattr(accuracy, kind).outputs, alone.outputs)
    assert accuracy.paired.difference == pytest.approx(accuracy.int8.scores.mAP - accuracy.float32.scores.mAP)
    assert len(accuracy.paired.resampled) == 50
