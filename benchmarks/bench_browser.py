"""The book's in-browser tagger against ONNX Runtime and PyTorch in Python, per 10 s clip, one thread.

The "Try it" page tags audio with ONNX Runtime Web (WebAssembly, one thread: a page opened from disk
gets no ``SharedArrayBuffer``) in the reader's browser. How much slower is that than tagging in
Python? Measured here side by side, in one run, on the same 10 s clip (the first 10 s of the book
check's three shipped recordings end to end, 32 kHz, batch 1), with the shipped pretrained tagger:

* **browser**: the page's own assets (:func:`panns_lite.book.web_demo.write_assets`: the runtime, its
  glue and ``.wasm``, the waveform-in graph with frame-wise output) loaded over ``file://`` in headless
  Chromium by a small harness page that sets up the runtime as the page does (``numThreads = 1``, no
  proxy worker) and times ``session.run`` inside the page (``performance.now``);
* **ONNX Runtime (Python)**: the same ``.onnx`` bytes, one intra-op thread, spinning off;
* **PyTorch eager**: the same weights in float32 (:class:`panns_lite.inference.TorchBackend`, frame-wise
  output too, as the graph computes it), one thread;

and, when a packed file of training clips is at hand for calibration (``--calibration``; default: the
workspace's copy of the pretrain MiniSet's training split), the static int8 graph of
``panns_lite.quantization`` (64 calibration clips) in both ONNX runtimes. The candidates run one after
another in alternating order (``interleaved_medians``' scheme, each timed by itself: the browser's
runs in the page, so the DevTools round trip is left out), after warm-up rounds that let V8 tier the
WebAssembly up to optimised code; the first run of each is recorded too (what the page's first
analysis costs after the model loaded). Python waits on the browser's websocket while the page runs
and Chromium sits idle while Python runs, so no candidate competes with another for a core.

The comparison is of one computation: the clip-wise outputs of the browser and of ONNX Runtime in
Python on the timed clip are compared (max |Δ|), for each graph, and PyTorch's with ONNX Runtime's.
Recorded with the timings: CPU, load average (1, 5, 15 min) at start and end, torch, onnxruntime,
onnxruntime-web (``node_modules``) and Chromium versions, date.

Run ``.venv/bin/python benchmarks/bench_browser.py [--repeats N] [--calibration PATH]`` after
``npm ci`` (2–3 minutes on 2 idle cores); writes ``benchmarks/results/bench_browser.{json,md}``,
or into ``--out FOLDER``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import onnxruntime
from bench_int8 import session
from common import environment, environment_line, write_results

from panns_lite.audio import load_audio
from panns_lite.audioset import load_class_labels
from panns_lite.book.web_demo import (
    EMBEDDED,
    MODEL_SCRIPT,
    ORT_PACKAGE,
    ORT_SCRIPT,
    RUNTIME_SCRIPT,
    base64_script,
    read_base64_script,
    write_assets,
)
from panns_lite.checkpoints import atomic_write
from panns_lite.inference import TorchBackend
from panns_lite.paths import REPO_ROOT, SOURCES_DIR
from panns_lite.pretraining import pretrained, pretrained_config
from panns_lite.quantization import calibration_clips, quantize_onnx
from panns_lite.runtime import configure_cpu

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from check_book_browser import (  # noqa: E402  (a script, not a package)
    TAGGER_RECORDINGS,
    event_problems,
    find_chromium,
    headless_chromium,
)

STEM = "bench_browser"
REPEATS = 300
WARMUP = 5
CLIP_SECONDS = 10
CALIBRATION_CLIPS = 64
PAGE_SECONDS = 300.0  # longest wait for one DevTools answer (setting up the runtime compiles the .wasm)
CLIP_NAME, INT8_SCRIPT, INT8_NAME, CLIP_SCRIPT = "clip.f32", "model-int8.js", "model-int8.onnx", "clip.js"
BROWSER, PYTHON, TORCH = "browser (ONNX Runtime Web, WebAssembly)", "ONNX Runtime (Python)", "PyTorch eager"
BASELINE = (PYTHON, "float32")
K = TypeVar("K", bound=Hashable)
Candidate = tuple[str, str]
"""(runtime, precision)."""

# The harness: the page's runtime set-up (web_demo.runtime_script, as the Try it page), then sessions
# for the named models and one timed session.run per call on the embedded clip.
HARNESS = r"""<!doctype html>
<meta charset="utf-8">
<title>panns_lite: browser benchmark</title>
SCRIPTS
<script>
(() => {
  "use strict";
  const embedded = (name) => window.panns_lite_assets.embedded(name);
  const sessions = {};
  const last = {};
  let clip = null;
  window.bench = {
    async setup(models) {
      let start = performance.now();
      await window.panns_lite_assets.startRuntime();
      clip = new Float32Array((await embedded("CLIP_NAME")).buffer);
      const report = { inflateMilliseconds: performance.now() - start, sessionMilliseconds: {}, errors: {} };
      for (const [key, name] of Object.entries(models)) {
        start = performance.now();
        try {
          const bytes = await embedded(name);
          sessions[key] = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
          report.sessionMilliseconds[key] = performance.now() - start;
        } catch (err) {
          report.errors[key] = String(err && err.message ? err.message : err);
        }
      }
      report.samples = clip.length;
      report.numThreads = ort.env.wasm.numThreads;
      report.crossOriginIsolated = window.crossOriginIsolated;
      report.userAgent = navigator.userAgent;
      return JSON.stringify(report);
    },
    async run(key) {
      const start = performance.now();
      const out = await sessions[key].run({ waveform: new ort.Tensor("float32", clip, [1, clip.length]) });
      const milliseconds = performance.now() - start;
      last[key] = out.clipwise_output.data;
      return JSON.stringify(milliseconds);
    },
    clipwise(key) {
      return JSON.stringify(Array.from(last[key]));
    },
  };
})();
</script>
"""


# ---------------------------------------------------------------------------------- pure helpers
def interleaved_times(
    candidates: Mapping[K, Callable[[], float]], repeats: int, warmup: int
) -> tuple[dict[K, list[float]], dict[K, float]]:
    """Seconds of each of ``repeats`` rounds per candidate, and of each one's first call.

    Each candidate times itself (returns its seconds). ``warmup`` rounds run first (the first call of
    each is returned apart); then the rounds alternate the order, as ``interleaved_medians`` does, so
    the machine's drift hits all candidates alike.
    """
    if repeats < 1 or warmup < 1:
        raise ValueError(f"repeats and warmup must be ≥ 1, got {repeats} and {warmup}")
    first: dict[K, float] = {}
    for round_ in range(warmup):
        for name, run in candidates.items():
            seconds = run()
            if round_ == 0:
                first[name] = seconds
    times: dict[K, list[float]] = {name: [] for name in candidates}
    order = list(candidates)
    for i in range(repeats):
        for name in order if i % 2 == 0 else reversed(order):
            times[name].append(candidates[name]())
    return times, first


def summary(seconds: list[float]) -> dict[str, float]:
    """Median and quartiles (seconds) of one candidate's timed runs."""
    if len(seconds) < 2:
        return {"median": seconds[0], "q1": seconds[0], "q3": seconds[0]}
    q1, median, q3 = statistics.quantiles(seconds, n=4, method="inclusive")
    return {"median": statistics.median(seconds), "q1": q1, "q3": q3}


def ratio_rows(medians: Mapping[Candidate, float]) -> list[dict[str, Any]]:
    """The ratios the report gives, ``a ÷ b`` of median seconds, for the candidates that were timed."""
    pairs = [
        ((BROWSER, "float32"), (PYTHON, "float32")),
        ((BROWSER, "float32"), (TORCH, "float32")),
        ((TORCH, "float32"), (PYTHON, "float32")),
        ((BROWSER, "int8"), (PYTHON, "int8")),
        ((BROWSER, "int8"), (BROWSER, "float32")),
        ((PYTHON, "int8"), (PYTHON, "float32")),
    ]
    rows = []
    for a, b in pairs:
        if a in medians and b in medians:
            rows.append({"a": " ".join(a), "b": " ".join(b), "ratio": medians[a] / medians[b]})
    return rows


def harness_html(scripts: list[str]) -> str:
    """The benchmark page: ``scripts`` (classic, in order) then the timing code (``window.bench``)."""
    tags = "\n".join(f'<script src="{name}"></script>' for name in scripts)
    return HARNESS.replace("SCRIPTS", tags).replace("CLIP_NAME", CLIP_NAME)


# ------------------------------------------------------------------------------------ the clip
def ten_second_clip() -> tuple[np.ndarray, str]:
    """(1, samples) float32: the first ``CLIP_SECONDS`` of the shipped recordings end to end, 32 kHz."""
    x = np.concatenate([load_audio(SOURCES_DIR / "audio" / name) for name in TAGGER_RECORDINGS])
    samples = CLIP_SECONDS * 32000
    if len(x) < samples:
        raise RuntimeError(f"the recordings last {len(x) / 32000:.1f} s, under {CLIP_SECONDS} s")
    return np.ascontiguousarray(x[None, :samples], dtype=np.float32), " + ".join(TAGGER_RECORDINGS)


def chromium_version(binary: str) -> str:
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    return result.stdout.strip() or result.stderr.strip()


# ---------------------------------------------------------------------------------------- main
def default_calibration() -> Path | None:
    """The workspace's training split of the pretrain MiniSet, when it has been built."""
    path = Path(pretrained_config().train_data)
    return path if path.is_file() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"timed rounds (default {REPEATS})")
    parser.add_argument("--warmup", type=int, default=WARMUP, help=f"warm-up rounds (default {WARMUP})")
    parser.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="packed file of training clips for the int8 graph (default: the workspace's pretrain "
        "MiniSet training split; none: no int8 rows)",
    )
    parser.add_argument("--node-modules", type=Path, default=REPO_ROOT / "node_modules")
    parser.add_argument(
        "--out", type=Path, default=None, help="write the results into this folder instead of results/"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    configure_cpu(1)
    env = environment()
    env["load_average"] = {"start": [round(v, 2) for v in os.getloadavg()]}
    binary = find_chromium(install=False)
    package = json.loads((args.node_modules / ORT_PACKAGE / "package.json").read_text())
    env["versions"] = {
        "onnxruntime": onnxruntime.__version__,
        "onnxruntime-web": package["version"],
        "chromium": chromium_version(binary),
    }
    calibration = args.calibration or default_calibration()
    if calibration is not None and not calibration.is_file():
        raise SystemExit(f"--calibration {calibration}: no such file")
    clip, clip_source = ten_second_clip()
    model = pretrained().eval()
    results: dict[str, Any] = {
        "environment": env,
        "clip": {"source": clip_source, "seconds": CLIP_SECONDS, "samples": clip.shape[1]},
        "repeats": args.repeats,
        "warmup_rounds": args.warmup,
        "int8": None,
    }
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        folder = Path(tmp)
        write_assets(folder, args.node_modules, model)
        _, float_bytes = read_base64_script(folder / MODEL_SCRIPT)
        graphs = {"float32": folder / "float32.onnx"}
        graphs["float32"].write_bytes(float_bytes)
        scripts = {"float32": MODEL_SCRIPT}
        if calibration is None:
            results["int8_skipped"] = (
                "no packed file of training clips to calibrate it on: pass --calibration"
            )
            print(results["int8_skipped"])
        else:
            clips = calibration_clips(calibration, CALIBRATION_CLIPS)
            graphs["int8"] = quantize_onnx(
                graphs["float32"], folder / INT8_NAME, clips, source=str(calibration)
            )
            (folder / INT8_SCRIPT).write_text(base64_script(INT8_NAME, graphs["int8"].read_bytes()))
            scripts["int8"] = INT8_SCRIPT
            results["int8"] = {"calibration": f"{len(clips)} clips of {calibration}"}
        results["MB"] = {k: p.stat().st_size / 1e6 for k, p in graphs.items()}
        (folder / CLIP_SCRIPT).write_text(base64_script(CLIP_NAME, clip.tobytes()))
        html = folder / "bench.html"
        page_scripts = [ORT_SCRIPT, *EMBEDDED, RUNTIME_SCRIPT, *scripts.values(), CLIP_SCRIPT]
        html.write_text(harness_html(page_scripts))

        runtimes = {precision: session(path, 1) for precision, path in graphs.items()}
        eager = TorchBackend(model)

        def timed(call: Callable[[], object]) -> Callable[[], float]:
            def run() -> float:
                start = time.perf_counter()
                call()
                return time.perf_counter() - start

            return run

        with headless_chromium(binary) as tools:
            tools.socket.settimeout(PAGE_SECONDS)
            for domain in ("Page", "Runtime"):
                tools.call(f"{domain}.enable")
            tools.navigate(html, PAGE_SECONDS)

            def page(expression: str) -> Any:
                return tools.evaluate(expression, PAGE_SECONDS)

            names = {p: read_base64_script(folder / s)[0] for p, s in scripts.items()}
            setup = page(f"bench.setup({json.dumps(names)})")
            results["browser_setup"] = setup
            candidates: dict[Candidate, Callable[[], float]] = {}
            for precision in graphs:
                if precision in setup["sessionMilliseconds"]:
                    candidates[BROWSER, precision] = lambda p=precision: (
                        page(f"bench.run({json.dumps(p)})") / 1e3
                    )
                else:
                    print(f"the browser could not load the {precision} graph: {setup['errors'][precision]}")
            for precision, runtime in runtimes.items():
                candidates[PYTHON, precision] = timed(lambda r=runtime: r.run(clip))
            candidates[TORCH, "float32"] = timed(lambda: eager.infer(clip, framewise=True))
            times, first = interleaved_times(candidates, args.repeats, args.warmup)
            browser_clipwise = {
                p: np.asarray(page(f"bench.clipwise({json.dumps(p)})"), dtype=np.float32)
                for p in graphs
                if (BROWSER, p) in candidates
            }
            problems = event_problems(tools.events)
        env["load_average"]["end"] = [round(v, 2) for v in os.getloadavg()]

        python_clipwise = {p: r.run(clip)["clipwise_output"][0] for p, r in runtimes.items()}
        torch_clipwise = eager.infer(clip, framewise=True)["clipwise_output"][0]
    results["page_problems"] = problems
    results["seconds_per_clip"] = [
        {"runtime": runtime, "precision": precision, **summary(values), "first": first[runtime, precision]}
        for (runtime, precision), values in times.items()
    ]
    results["ratios"] = ratio_rows({name: statistics.median(values) for name, values in times.items()})
    results["seconds"] = {" ".join(name): values for name, values in times.items()}
    results["max_abs_difference"] = {
        f"browser vs ONNX Runtime (Python), {p}": float(np.abs(c - python_clipwise[p]).max())
        for p, c in browser_clipwise.items()
    } | {
        "PyTorch eager vs ONNX Runtime (Python), float32": float(
            np.abs(torch_clipwise - python_clipwise["float32"]).max()
        )
    }
    names = load_class_labels().names
    results["top_tags"] = [
        [names[i], float(python_clipwise["float32"][i])] for i in np.argsort(-python_clipwise["float32"])[:3]
    ]
    results["run_seconds"] = round(time.perf_counter() - started, 1)
    markdown = to_markdown(results, quick=args.repeats < REPEATS)
    if args.out is None:
        write_results(STEM, results, markdown)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / STEM
        atomic_write(
            path.with_suffix(".json"), lambda f: f.write(json.dumps(results, indent=2).encode() + b"\n")
        )
        atomic_write(path.with_suffix(".md"), lambda f: f.write(markdown.encode()))
        print(markdown)


def to_markdown(results: dict, quick: bool = False) -> str:
    env = results["environment"]
    versions, load = env["versions"], env["load_average"]
    clip = results["clip"]
    setup = results["browser_setup"]
    baseline = next(
        r["median"] for r in results["seconds_per_clip"] if (r["runtime"], r["precision"]) == BASELINE
    )
    lines = [
        "# The in-browser tagger against ONNX Runtime and PyTorch in Python, one thread",
        "",
        environment_line(env, threads=1, quick=quick),
        "",
        f"onnxruntime {versions['onnxruntime']} (Python), onnxruntime-web {versions['onnxruntime-web']} "
        f"(WebAssembly, {setup['numThreads']} thread) in headless {versions['chromium']}. Load average "
        f"(1, 5, 15 min) {', '.join(map(str, load['start']))} at start, {', '.join(map(str, load['end']))} "
        "at end.",
        "",
        f"The shipped pretrained tagger on one {clip['seconds']} s clip ({clip['samples']:,} "
        f"samples of {clip['source']}; batch 1, front end included, frame-wise output too): "
        f"medians of {results['repeats']} interleaved rounds after {results['warmup_rounds']} warm-up "
        "rounds; the browser's runs are timed inside the page. Quartiles in brackets.",
        "",
        "| runtime | precision | ms per clip | quartiles ms | first run ms | × real time | ÷ ONNX Runtime "
        "(Python) float32 |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for s in results["seconds_per_clip"]:
        lines.append(
            f"| {s['runtime']} | {s['precision']} | {1e3 * s['median']:.1f} "
            f"| [{1e3 * s['q1']:.1f}, {1e3 * s['q3']:.1f}] | {1e3 * s['first']:.0f} "
            f"| {clip['seconds'] / s['median']:.0f}× "
            f"| {s['median'] / baseline:.2f} |"
        )
    lines += ["", "| ratio of medians | ratio |", "|---|---:|"]
    lines += [f"| {r['a']} ÷ {r['b']} | {r['ratio']:.2f} |" for r in results["ratios"]]
    lines += [
        "",
        "Same computation — max |Δ| of the clip-wise probabilities on the timed clip: "
        + "; ".join(f"{name} {value:.1e}" for name, value in results["max_abs_difference"].items())
        + ". Top tags (ONNX Runtime, float32): "
        + ", ".join(f"{name} {p:.2f}" for name, p in results["top_tags"])
        + ".",
        "",
        f"Browser set-up: {setup['inflateMilliseconds']:.0f} ms to inflate the runtime and clip, session "
        "creation "
        + ", ".join(f"{p} {ms:.0f} ms" for p, ms in setup["sessionMilliseconds"].items())
        + f". Graph sizes: {', '.join(f'{p} {mb:.1f} MB' for p, mb in results['MB'].items())}.",
    ]
    if results["int8"]:
        lines += [
            "",
            f"int8: static QDQ (`panns_lite.quantization`), calibrated on {results['int8']['calibration']}.",
        ]
    else:
        lines += ["", f"int8: not measured ({results.get('int8_skipped', 'skipped')})."]
    if setup["errors"]:
        lines += ["", "Not run in the browser: " + "; ".join(f"{p}: {e}" for p, e in setup["errors"].items())]
    if results["page_problems"]:
        lines += ["", "Page problems: " + "; ".join(results["page_problems"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
