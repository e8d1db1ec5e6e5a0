"""The assets of the book's "Try it" page: the shipped tagger and ONNX Runtime, runnable from ``file://``.

The page (``book/try_it.md``) tags audio in the reader's browser with the tagger shipped in
``data/models``, exported waveform-in with its frame-wise output (:func:`panns_lite.export.export_onnx`,
``mode="waveform"``, ``framewise=True``: the log-mel front end is the graph's ``STFT``, reference §11.4).
It has to work when ``_build/html`` is opened from disk, with no server and no network. Under
``file://`` Chromium refuses ``fetch``/XHR of local files and ES-module imports of them, so nothing
the page needs may be fetched; only classic ``<script src>`` tags load. Hence what this module writes:

* ``ort.wasm.min.js``: onnxruntime-web's UMD build with only the WebAssembly backend (no WebGL, WebGPU
  or WebNN), copied from ``node_modules`` (``npm ci``; the version is pinned in ``package.json``:
  1.30.0, the newest whose dependencies npm has — 1.31.1 requires an unpublished onnxruntime-common).
  Its Emscripten glue (``ort-wasm-simd-threaded.mjs``, an ES module the runtime imports) and the
  WebAssembly binary are not bundled in any UMD build of this version, so both are embedded:
* ``ort-glue.js``, ``ort-wasm.js``, ``model.js``: classic scripts that each define one base64 string
  (:func:`base64_script`) of a gzip-compressed file (the glue, the ``.wasm``, the ``.onnx``). The
  page inflates them with ``DecompressionStream``, hands the ``.wasm`` bytes to
  ``ort.env.wasm.wasmBinary`` and the glue to ``ort.env.wasm.wasmPaths.mjs`` as a ``blob:`` URL, which
  the runtime may import. gzip shrinks the 14.2 MB ``.wasm`` about fourfold. That build is
  the multi-threaded one, run single-threaded (``numThreads = 1``, no proxy worker): threads need
  ``SharedArrayBuffer``, which a page from ``file://`` is not given (it is not cross-origin isolated).
* ``labels.js``: the 527 AudioSet class names of :func:`panns_lite.audioset.load_class_labels`.
* ``runtime.js``: the inverse of :func:`base64_script` in JavaScript, and the runtime's set-up
  (:func:`runtime_script`); the page and ``benchmarks/bench_browser.py`` both load it, so the
  benchmark times the page's own set-up.

float32, not int8: for this tagger static int8 is 3.7× smaller (11.4 → 3.1 MB) but neither more
accurate (natural-eval mAP 0.450 vs 0.452, a difference not established) nor faster (1.02× on one
thread; chapter 9 and ``benchmarks/results/bench_int8.md``), and it must be calibrated on training
clips that exist only after the chapters ran. The float32 export needs only the shipped checkpoint, so
the assets are written when the book is staged (``scripts/build_book.py``), before any chapter runs,
and the page's outputs equal :class:`panns_lite.inference.Tagger`'s on the same graph.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from panns_lite.audioset import NUM_CLASSES, ClassLabels, load_class_labels
from panns_lite.models import AudioTagger

ORT_PACKAGE = "onnxruntime-web"
ORT_SCRIPT = "ort.wasm.min.js"
"""The UMD build with only the WebAssembly backend; copied as it is."""
EMBEDDED: dict[str, str] = {
    "ort-glue.js": "ort-wasm-simd-threaded.mjs",
    "ort-wasm.js": "ort-wasm-simd-threaded.wasm",
}
"""Script written -> file of ``onnxruntime-web/dist`` it embeds (base64 of its gzip)."""
MODEL_SCRIPT, MODEL_NAME = "model.js", "model.onnx"
LABELS_SCRIPT = "labels.js"
RUNTIME_SCRIPT = "runtime.js"
GLOBAL = "panns_lite_assets"
"""The page-wide object (``window.panns_lite_assets``) the generated scripts add their values to."""
_ASSIGNMENT = re.compile(rf'^\(window\.{GLOBAL} \?\?= {{}}\)\["([^"]+)"\] = "([A-Za-z0-9+/=]*)";\n\Z')


def base64_script(name: str, data: bytes) -> str:
    """A classic script that sets ``window.panns_lite_assets[name]`` to the base64 of ``gzip(data)``.

    The gzip stream carries no time stamp, so the same bytes always give the same script.
    """
    if not name or '"' in name or "\\" in name:
        raise ValueError(f"asset name must be non-empty without quotes or backslashes, got {name!r}")
    encoded = base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")
    return f'(window.{GLOBAL} ??= {{}})["{name}"] = "{encoded}";\n'


def read_base64_script(path: str | Path) -> tuple[str, bytes]:
    """The (name, bytes) a :func:`base64_script` file embeds (``ValueError`` for any other text)."""
    match = _ASSIGNMENT.match(Path(path).read_text(encoding="ascii"))
    if match is None:
        raise ValueError(f"{path}: not a script written by base64_script")
    return match.group(1), gzip.decompress(base64.b64decode(match.group(2), validate=True))


def labels_script(labels: ClassLabels) -> str:
    """A classic script that sets ``window.panns_lite_assets.labels`` to the class display names."""
    if len(labels) != NUM_CLASSES:
        raise ValueError(f"expected the {NUM_CLASSES} AudioSet classes, got {len(labels)}")
    return f"(window.{GLOBAL} ??= {{}}).labels = {json.dumps(list(labels.names))};\n"


_RUNTIME = """(() => {
  "use strict";
  const assets = (window.GLOBAL ??= {});
  /** The bytes base64_script embedded under name: base64 -> gzip -> inflate. */
  assets.embedded = async (name) => {
    const text = atob(assets[name]);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    const inflated = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(inflated).arrayBuffer());
  };
  /** Point ONNX Runtime Web (loaded before) at the embedded glue and WebAssembly, on one thread. */
  assets.startRuntime = async () => {
    const glue = await assets.embedded("GLUE");
    ort.env.wasm.numThreads = 1; // no SharedArrayBuffer under file://
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmBinary = await assets.embedded("WASM");
    ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(new Blob([glue], { type: "text/javascript" })) };
  };
})();
"""


def runtime_script() -> str:
    """A classic script adding ``embedded(name)`` (the bytes a :func:`base64_script` holds) and
    ``startRuntime()`` (ONNX Runtime Web on the embedded glue and WebAssembly, one thread) to
    ``window.panns_lite_assets``; load it after ``ort.wasm.min.js`` and the embedded scripts."""
    return (
        _RUNTIME.replace("GLOBAL", GLOBAL)
        .replace("GLUE", EMBEDDED["ort-glue.js"])
        .replace("WASM", EMBEDDED["ort-wasm.js"])
    )


def ort_dist(node_modules: str | Path) -> Path:
    """``node_modules/onnxruntime-web/dist``, checked to hold the files the page needs."""
    dist = Path(node_modules) / ORT_PACKAGE / "dist"
    missing = [name for name in (ORT_SCRIPT, *EMBEDDED.values()) if not (dist / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{dist} lacks {missing}: run `npm ci` in the repository (make book does); "
            f"{ORT_PACKAGE} is pinned in package.json"
        )
    return dist


def export_page_model(model: AudioTagger) -> bytes:
    """The ``.onnx`` bytes the page runs: ``model`` waveform-in, with the frame-wise output."""
    from panns_lite.export import export_onnx

    with tempfile.TemporaryDirectory(prefix="try-it-") as folder:
        return export_onnx(model, Path(folder) / MODEL_NAME, mode="waveform", framewise=True).read_bytes()


def write_assets(
    folder: str | Path, node_modules: str | Path, model: AudioTagger | None = None
) -> dict[str, int]:
    """Write the page's scripts into ``folder`` (created); {file name: bytes written}.

    ``model`` defaults to the shipped tagger (:func:`panns_lite.pretrained`, sha256-checked).
    """
    dist = ort_dist(node_modules)
    if model is None:
        from panns_lite import pretrained

        model = pretrained()
    scripts: Mapping[str, str | bytes] = {
        ORT_SCRIPT: (dist / ORT_SCRIPT).read_bytes(),
        **{script: base64_script(name, (dist / name).read_bytes()) for script, name in EMBEDDED.items()},
        MODEL_SCRIPT: base64_script(MODEL_NAME, export_page_model(model)),
        LABELS_SCRIPT: labels_script(load_class_labels()),
        RUNTIME_SCRIPT: runtime_script(),
    }
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, content in scripts.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
        sizes[name] = len(data)
    return sizes
