"""ONNX and TorchScript export (panns_lite.export): equality with PyTorch eager, dynamic shapes, runtime use.

One pruned-shaped narrow CNN14 (per-layer widths that shrink and grow again, like E-PANNs' halved
C7–C12, reference §10.1) is exported once per mode (the log-mel one BN-folded); ONNX Runtime runs
the files. Every output is compared with the unfolded model in PyTorch eager.
"""

import json

import numpy as np
import onnx
import pytest
import soundfile as sf
import torch
from test_inference import calibrated_cnn14, signal

from panns_lite.__main__ import main
from panns_lite.export import ExportGraph, OnnxModel, export_onnx, export_torchscript, load_torchscript
from panns_lite.folding import fold_batchnorm
from panns_lite.inference import Tagger

pytestmark = pytest.mark.slow  # two ONNX exports (torch.export tracing) take ~10-20 s each

TOLERANCE = 1e-4
PRUNED_SHAPE = (8, 8, 16, 16, 32, 32, 16, 16, 32, 32, 64, 64)
SHAPES = [(1, 1), (1, 3200), (3, 9919), (2, 50000), (1, 320000)]
"""Batch and length: one sample, shorter than the 9,920-sample minimum, longer, a 10 s clip."""


@pytest.fixture(scope="module")
def model():
    return calibrated_cnn14(widths=PRUNED_SHAPE, embed_dim=96, seed=3)


@pytest.fixture(scope="module")
def waveform_onnx(model, tmp_path_factory):
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "waveform.onnx", framewise=True)


@pytest.fixture(scope="module")
def logmel_onnx(model, tmp_path_factory):
    """The BN-folded model (panns_lite.folding), so one export checks the log-mel mode and folding."""
    return export_onnx(fold_batchnorm(model), tmp_path_factory.mktemp("onnx") / "logmel.onnx", mode="logmel")


def batch(shape: tuple[int, int], seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.stack([signal(shape[1], seed=seed + i) for i in range(shape[0])]))


def eager(model, waveform: torch.Tensor) -> dict[str, np.ndarray]:
    with torch.no_grad():
        return {k: v.numpy() for k, v in model(waveform, framewise=True).items()}


def max_differences(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> dict[str, float]:
    assert {k: v.shape for k, v in got.items()} == {k: expected[k].shape for k in got}
    return {k: float(np.abs(v - expected[k]).max()) for k, v in got.items()}


def test_onnx_waveform_mode_matches_eager_for_any_batch_and_length(model, waveform_onnx):
    runtime = OnnxModel(waveform_onnx, threads=2)
    assert runtime.outputs == ["clipwise_output", "embedding", "framewise_output"]
    for shape in SHAPES:
        x = batch(shape)
        differences = max_differences(runtime.run(x.numpy()), eager(model, x))
        assert max(differences.values()) < TOLERANCE, (shape, differences)


def test_onnx_logmel_mode_of_the_folded_model_matches_eager(model, logmel_onnx):
    runtime = OnnxModel(logmel_onnx)
    assert (runtime.mode, runtime.outputs) == ("logmel", ["clipwise_output", "embedding"])
    for shape in SHAPES[2:]:
        with torch.no_grad():
            logmel = model.logmel(batch(shape, seed=7))
            expected = {k: v.numpy() for k, v in model.forward_features(logmel).items()}
        differences = max_differences(runtime.run(logmel.numpy()), expected)
        assert max(differences.values()) < TOLERANCE, (shape, differences)


def test_onnx_graph_has_named_dynamic_axes_and_metadata(model, waveform_onnx):
    graph = onnx.load(str(waveform_onnx)).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert graph.input[0].name == "waveform" and all(
        isinstance(d, str) for d in dims
    )  # batch, samples symbolic
    assert [o.name for o in graph.output] == ["clipwise_output", "embedding", "framewise_output"]
    metadata = OnnxModel(waveform_onnx).metadata
    assert metadata["architecture"] == json.loads(json.dumps(model.architecture()))
    sizes = (metadata["sample_rate"], metadata["hop_length"], metadata["classes_num"], metadata["embed_dim"])
    assert sizes == (32000, 320, 527, 96)


@pytest.mark.parametrize("mode", ["waveform", "logmel"])
def test_torchscript_matches_eager_with_dynamic_shapes(model, tmp_path, mode):
    path = export_torchscript(model, tmp_path / f"{mode}.pt", mode=mode, framewise=mode == "waveform")
    module, metadata = load_torchscript(path)
    assert metadata["mode"] == mode
    for shape in SHAPES if mode == "waveform" else SHAPES[2:]:
        x = batch(shape, seed=11)
        with torch.no_grad():
            expected = (
                eager(model, x)
                if mode == "waveform"
                else {k: v.numpy() for k, v in model.forward_features(model.logmel(x)).items()}
            )
            got = dict(
                zip(
                    metadata["outputs"],
                    (t.numpy() for t in module(x if mode == "waveform" else model.logmel(x))),
                )
            )
        assert max(max_differences(got, expected).values()) < TOLERANCE, shape


def test_tagger_runs_the_onnx_export_like_the_model(model, waveform_onnx):
    x = signal(int(23.4 * 32000), seed=12)  # 3 chunks
    expected = Tagger(model).analyze(x, framewise=True)
    for backend in (waveform_onnx, OnnxModel(waveform_onnx, threads=1)):
        got = Tagger(backend).analyze(x, framewise=True)
        assert got.chunks == expected.chunks == 3
        np.testing.assert_allclose(got.clipwise, expected.clipwise, atol=TOLERANCE)
        np.testing.assert_allclose(got.embedding, expected.embedding, atol=TOLERANCE)
        np.testing.assert_allclose(
            got.framewise.probabilities, expected.framewise.probabilities, atol=TOLERANCE
        )


def test_cli_tags_with_an_onnx_file(model, waveform_onnx, tmp_path, capsys):
    path = tmp_path / "clip.wav"
    sf.write(path, signal(48000, seed=13, rate=48000), 48000, subtype="FLOAT")
    assert main(["tag", str(path), "--checkpoint", str(waveform_onnx), "--json", "--top-k", "3"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    expected = Tagger(model).tag(path, top_k=3)
    assert [t["mid"] for t in report["tags"]] == [t.mid for t in expected]
    assert [t["probability"] for t in report["tags"]] == pytest.approx(
        [t.probability for t in expected], abs=TOLERANCE
    )


def test_cli_exports_a_checkpoint_to_torchscript(model, tmp_path, capsys):
    from panns_lite.checkpoints import save_checkpoint

    checkpoint = save_checkpoint(model, tmp_path / "model.pt")
    out = tmp_path / "model.ts"
    assert main(["export", str(checkpoint), "--format", "torchscript", "--fold-bn", "--out", str(out)]) == 0
    assert "BN folded" in capsys.readouterr().out
    module, metadata = load_torchscript(out)
    x = batch((2, 40000), seed=21)
    with torch.no_grad():
        got = dict(zip(metadata["outputs"], (t.numpy() for t in module(x))))
    expected = {k: v for k, v in eager(model, x).items() if k in got}
    assert max(max_differences(got, expected).values()) < TOLERANCE
    assert main(["export", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "x.onnx")]) == 2


def test_export_and_runtime_errors(model, logmel_onnx, tmp_path):
    with pytest.raises(ValueError, match="mode must be one of"):
        ExportGraph(model, mode="spectrogram")
    training = calibrated_cnn14(seed=1).train()
    with pytest.raises(ValueError, match="eval mode"):
        export_torchscript(training, tmp_path / "t.pt")
    with pytest.raises(ValueError, match="takes log-mels"):
        Tagger(logmel_onnx).tag(signal(32000))
    with pytest.raises(FileNotFoundError):
        OnnxModel(tmp_path / "missing.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match="cannot load ONNX model"):
        OnnxModel(corrupt)
    foreign = tmp_path / "foreign.onnx"
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    value = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph(
        [node], "g", [value("x", onnx.TensorProto.FLOAT, [1])], [value("y", onnx.TensorProto.FLOAT, [1])]
    )
    onnx.save(
        onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=10),
        foreign,
    )
    with pytest.raises(ValueError, match="not a panns_lite export"):
        OnnxModel(foreign)
