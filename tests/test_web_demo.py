"""The "Try it" page's assets (panns_lite.book.web_demo): embedded bytes come back unchanged, the labels
are the 527 classes, a missing ``npm ci`` is named, and the model is a waveform-in export with frame-wise
output. The page itself is checked in Chromium by scripts/check_book_browser.py (make book-check)."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_inference import calibrated_cnn14, signal

from panns_lite.audioset import ClassLabels, load_class_labels
from panns_lite.book import web_demo
from panns_lite.book.web_demo import (
    EMBEDDED,
    LABELS_SCRIPT,
    MODEL_NAME,
    MODEL_SCRIPT,
    ORT_SCRIPT,
    RUNTIME_SCRIPT,
    base64_script,
    labels_script,
    read_base64_script,
    runtime_script,
    write_assets,
)


def fake_node_modules(root: Path) -> Path:
    """A node_modules with stand-ins for the three onnxruntime-web files the page uses."""
    dist = root / "onnxruntime-web" / "dist"
    dist.mkdir(parents=True)
    (dist / ORT_SCRIPT).write_text("var ort = {};\n")
    for i, name in enumerate(EMBEDDED.values()):
        (dist / name).write_bytes(bytes(range(256)) * (i + 1))
    return root


@pytest.mark.parametrize("data", [b"", b"\x00\xff" * 1000, bytes(range(256))])
def test_a_base64_script_gives_back_the_same_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "asset.js"
    path.write_text(base64_script("x.wasm", data), encoding="ascii")
    assert read_base64_script(path) == ("x.wasm", data)


def test_a_base64_script_is_the_same_for_the_same_bytes() -> None:
    assert base64_script("m.onnx", b"model" * 100) == base64_script("m.onnx", b"model" * 100)


@pytest.mark.parametrize("name", ["", 'a"b', "a\\b"])
def test_an_asset_name_that_would_break_the_script_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="asset name"):
        base64_script(name, b"x")


def test_a_script_not_written_by_base64_script_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.js"
    path.write_text("console.log('hello');\n")
    with pytest.raises(ValueError, match="not a script written by base64_script"):
        read_base64_script(path)


def test_the_labels_script_holds_the_527_class_names_in_order() -> None:
    text = labels_script(load_class_labels())
    prefix = "(window.panns_lite_assets ??= {}).labels = "
    assert text.startswith(prefix) and text.endswith(";\n") and text.isascii()
    names = json.loads(text[len(prefix) : -2])
    assert len(names) == 527 and names == list(load_class_labels().names)


def test_labels_for_another_class_count_are_refused() -> None:
    with pytest.raises(ValueError, match="527"):
        labels_script(ClassLabels(("/m/a", "/m/b"), ("a", "b")))


def test_a_node_modules_without_onnxruntime_web_says_to_run_npm_ci(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="npm ci"):
        write_assets(tmp_path / "out", tmp_path / "node_modules", model=calibrated_cnn14())


def test_write_assets_writes_the_runtime_the_embedded_files_the_model_and_the_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_demo, "export_page_model", lambda model: b"an onnx file")
    node_modules = fake_node_modules(tmp_path / "node_modules")
    out = tmp_path / "out" / "try_it"
    sizes = write_assets(out, node_modules, model=calibrated_cnn14())
    dist = node_modules / "onnxruntime-web" / "dist"
    assert sizes == {p.name: p.stat().st_size for p in out.iterdir()}
    assert set(sizes) == {ORT_SCRIPT, *EMBEDDED, MODEL_SCRIPT, LABELS_SCRIPT, RUNTIME_SCRIPT}
    assert (out / RUNTIME_SCRIPT).read_text() == runtime_script()
    assert (out / ORT_SCRIPT).read_bytes() == (dist / ORT_SCRIPT).read_bytes()
    for script, name in EMBEDDED.items():
        assert read_base64_script(out / script) == (name, (dist / name).read_bytes())
    assert read_base64_script(out / MODEL_SCRIPT) == (MODEL_NAME, b"an onnx file")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (make book installs it)")
def test_the_runtime_script_unpacks_what_base64_script_embeds_and_starts_the_runtime_on_one_thread(
    tmp_path: Path,
) -> None:
    glue, wasm = EMBEDDED["ort-glue.js"], EMBEDDED["ort-wasm.js"]
    data = {glue: b"export default 1;", wasm: bytes(range(256)) * 3}
    page = tmp_path / "page.js"
    page.write_text(
        "globalThis.window = globalThis;\n"
        "globalThis.ort = { env: { wasm: {} } };\n"
        + "".join(base64_script(name, content) for name, content in data.items())
        + runtime_script()
        + "(async () => {\n"
        "  const assets = window.panns_lite_assets;\n"
        f"  const glue = Buffer.from(await assets.embedded({json.dumps(glue)})).toString('hex');\n"
        "  await assets.startRuntime();\n"
        "  const w = ort.env.wasm;\n"
        "  console.log(JSON.stringify({glue, wasm: Buffer.from(w.wasmBinary).toString('hex'),\n"
        "    threads: w.numThreads, proxy: w.proxy, mjs: w.wasmPaths.mjs}));\n"
        "})();\n"
    )
    out = json.loads(subprocess.run(["node", str(page)], capture_output=True, text=True, check=True).stdout)
    assert bytes.fromhex(out["glue"]) == data[glue] and bytes.fromhex(out["wasm"]) == data[wasm]
    assert out["threads"] == 1 and out["proxy"] is False and out["mjs"].startswith("blob:")


@pytest.mark.slow  # one ONNX export (torch.export tracing), ~20 s
def test_the_page_model_is_a_waveform_export_with_framewise_output(tmp_path: Path) -> None:
    from panns_lite.export import OnnxModel

    model = calibrated_cnn14()
    path = tmp_path / MODEL_NAME
    path.write_bytes(web_demo.export_page_model(model))
    onnx = OnnxModel(path)
    assert onnx.mode == "waveform" and onnx.sample_rate == 32000 and onnx.hop_length == 320
    assert onnx.outputs == ["clipwise_output", "embedding", "framewise_output"]
    out = onnx.infer(signal(32000)[None], framewise=True)
    assert out["clipwise_output"].shape == (1, 527) and out["framewise_output"].shape[2] == 527
    assert np.all((out["framewise_output"] >= 0) & (out["framewise_output"] <= 1))
