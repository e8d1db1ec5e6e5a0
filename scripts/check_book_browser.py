"""Open the built HTML book in headless Chromium, with no network, and check what a reader sees.

A static build can pass ``-W`` and still show a reader raw ``\\( … \\)`` (MathJax failed to load),
broken images, blank widgets (the widget manager came from a CDN) or silent players. This script
loads every page of ``_toc.yml`` from ``_build/html`` over ``file://`` — exactly as someone reading
the book offline would — through the Chrome DevTools Protocol, and fails when on any page

* an ``<img>`` did not load (``naturalWidth`` 0),
* the page asked for anything outside the book (http/https requests are blocked and recorded),
* mathematics is present but some of it was not typeset, or ``\\(`` / ``\\[`` is left in the text,
* embedded widgets were not rendered by the widget manager,
* an ``<audio>`` element has no playable audio, or plays longer than the 5 s page budget,
* a page named with ``--expect PAGE=feature,…`` lacks one of ``audio``, ``math``, ``widgets``,
  ``images``, ``tagger``,
* a JavaScript exception was thrown;

and on a page expected to have the in-browser ``tagger`` (the "Try it" page, ``book/try_it.md``) it
uses it as a reader would: it gives the page's file input a recording (a shipped one, written at
32 kHz) of under 10 s, one of two chunks, then the page's own model as a reader's ``.onnx``, and
fails unless each time the page's top tags and frame-wise probabilities equal
:class:`panns_lite.inference.Tagger`'s on the same file with the same ONNX model (the one embedded in
the page) within ``TAGGER_TOLERANCE``; then it starts the microphone mode on
Chromium's fake microphone (playing the short recording) and fails unless windows are analysed with
no error (Chromium gets the fake-media flags only when a checked page expects ``tagger``);

and it saves a full-page screenshot of each page under ``_build/screenshots/``. Chromium is the
Debian package; ``--install`` installs it with apt when missing (as root, or with password-less
sudo). Run ``python scripts/check_book_browser.py`` after ``make book`` (``make book-check``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import websocket

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_book import REPO, TRY_IT, toc_documents  # noqa: E402  (sibling script)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FEATURES = ("audio", "math", "widgets", "images", "tagger")
MAX_AUDIO_SECONDS = 5.05  # display.MAX_SECONDS plus codec padding
PAGE_TIMEOUT = 60.0
TAGGER_TOLERANCE = 1e-4
TAGGER_TIMEOUT = 180.0  # the first analysis loads the runtime and the model
TAGGER_RECORDINGS = (
    "flare-bird-vocalization-bird-call-bird-song-bird-twitter-loop.ogg",
    "flare-caw-raven-loop.ogg",
    "flare-coin-dropping-inventory-coins.ogg",
)
"""data/sources/audio files: the first is the short clip (8.0 s, one chunk); the three end to end
are the long one (12.5 s: a 10 s chunk and a 2.5 s one)."""
MIC_WINDOWS = 3
KNOWN_EXCEPTIONS = (
    # sphinx-thebe 0.3.1 under Sphinx 7.4 adds its inline config script twice (once as filename None,
    # once as ''), so the second `const` declaration fails. Thebe is not enabled in this book.
    "Identifier 'THEBE_JS_URL' has already been declared",
)

# Runs in the page once it has loaded: waits for MathJax, the widget manager, images and audio
# metadata, then reports what is on the page. Text inside code blocks is not searched for "\(".
INSPECT = (
    r"""
(async () => {
  const deadline = Date.now() + 30000;
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const widgetScripts = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
  while (widgetScripts.length && Date.now() < deadline &&
         document.querySelectorAll('.jupyter-widgets.widget-container, .jupyter-widgets .widget-slider, """
    r""".widget-image').length === 0) {
    await sleep(200);
  }
  const images = Array.from(document.images);
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  const audio = Array.from(document.querySelectorAll('audio'));
  await Promise.all(audio.map(a => a.readyState >= 1 ? null : new Promise(res => {
    a.addEventListener('loadedmetadata', res, {once: true});
    a.addEventListener('error', res, {once: true});
    a.preload = 'metadata'; a.load(); setTimeout(res, 10000);
  })));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement.closest('pre, code, script, style, textarea, mjx-container')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  const raw = [];
  while (walker.nextNode()) {
    const t = walker.currentNode.nodeValue;
    const i = Math.max(t.indexOf('\\('), t.indexOf('\\['));
    if (i >= 0) raw.push(t.slice(Math.max(0, i - 30), i + 40));
  }
  const math = Array.from(document.querySelectorAll('.math'));
  return JSON.stringify({
    title: document.title,
    images: images.map(i => ({src: i.currentSrc.slice(0, 120), loaded: i.complete && i.naturalWidth > 0})),
    audio: audio.map(a => ({duration: a.duration, ready: a.readyState, """
    r"""error: a.error ? a.error.code : null})),
    math: math.length,
    mathTypeset: math.filter(m => m.querySelector('mjx-container')).length,
    rawMath: raw,
    widgetScripts: widgetScripts.length,
    widgetsRendered: document.querySelectorAll('.jupyter-widgets').length,
    tagger: Boolean(document.getElementById('try-it') && window.panns_lite_try_it),
    height: Math.ceil(document.documentElement.scrollHeight),
  });
})()
"""
)


# The last result of the "Try it" page (book/assets/try_it/try_it.js), frame-wise as base64 float32.
TAGGER_RESULT = r"""
(() => {
  const r = window.panns_lite_try_it.last;
  const bytes = new Uint8Array(r.framewise.buffer, r.framewise.byteOffset, r.framewise.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return JSON.stringify({
    source: r.source, labels: r.labels, top: r.order.slice(0, r.labels.length),
    probabilities: r.probabilities, clipwise: Array.from(r.clipwise), chunks: r.chunks,
    frames: r.frames, classes: r.classes, framewise: btoa(binary), milliseconds: r.milliseconds,
    loadMilliseconds: window.panns_lite_try_it.loadMilliseconds,
  });
})()
"""


@dataclass
class PageReport:
    page: str
    problems: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ browser
def find_chromium(install: bool) -> str:
    """Path of a Chromium/Chrome binary; with ``install``, apt-get the Debian ``chromium`` if none."""
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    if not install:
        raise SystemExit(
            f"no Chromium found ({', '.join(BROWSERS)}); install the Debian package `chromium` "
            "or pass --install"
        )
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if prefix and not shutil.which("sudo"):
        raise SystemExit("installing Chromium needs root or sudo; install the Debian package `chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-dejavu-core"],
    ):
        subprocess.run(prefix + command, check=True, env=env)
    return find_chromium(install=False)


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, url: str) -> None:
        self.socket = websocket.create_connection(url, timeout=PAGE_TIMEOUT, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str, timeout: float = PAGE_TIMEOUT, **options: Any) -> Any:
        """The JSON value of a page expression that returns (a promise of) ``JSON.stringify(...)``;
        ``RuntimeError`` with the page's description when it throws. ``options`` go to
        ``Runtime.evaluate`` as they are (e.g. ``userGesture=True``)."""
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
            timeout=int(timeout * 1000),
            **options,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            description = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"{expression[:60]!r} raised {description}")
        return json.loads(result["result"]["value"])

    def navigate(self, path: Path, timeout: float = PAGE_TIMEOUT) -> None:
        """Open the local file ``path`` and wait for its load event (the Page domain must be enabled)."""
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired", timeout)

    def wait_for(self, event: str, timeout: float = PAGE_TIMEOUT) -> None:
        """Block until ``event`` arrives (events already received count)."""
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event} within {timeout:.0f} s")
            self.events.append(json.loads(self.socket.recv()))

    def close(self) -> None:
        self.socket.close()


@contextmanager
def headless_chromium(binary: str, flags: Sequence[str] = ()) -> Iterator[DevTools]:
    """Chromium with DevTools on a free local port and every host name unresolvable (offline); ``flags``
    are added to the command line."""
    profile = tempfile.mkdtemp(prefix="book-check-")
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--mute-audio",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        "--window-size=1280,900",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        *flags,
        "about:blank",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Chromium did not start ({' '.join(command)})")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            page = next(t for t in json.load(response) if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        try:
            yield tools
        finally:
            tools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


# ------------------------------------------------------------------------------------- checks
def check_page(tools: DevTools, html: Path, page: str, expected: set[str], screenshots: Path) -> PageReport:
    """Load one page, inspect it, save its screenshot; the report lists what is wrong."""
    report = PageReport(page)
    path = html / f"{page}.html"
    if not path.is_file():
        report.problems.append(f"{path} does not exist")
        return report
    tools.events.clear()
    tools.call(
        "Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False
    )
    tools.navigate(path)
    try:
        seen = tools.evaluate(INSPECT)
    except RuntimeError as err:
        report.problems.append(f"inspection failed: {err}")
        return report
    broken = [i["src"] for i in seen["images"] if not i["loaded"]]
    if broken:
        report.problems.append(f"{len(broken)} image(s) did not load: {broken[:3]}")
    report.problems += event_problems(tools.events)
    if seen["math"] != seen["mathTypeset"]:
        report.problems.append(
            f"{seen['math'] - seen['mathTypeset']} of {seen['math']} math elements not typeset"
        )
    if seen["rawMath"]:
        report.problems.append(f"raw LaTeX left in the text: {seen['rawMath'][:3]}")
    if seen["widgetScripts"] and not seen["widgetsRendered"]:
        report.problems.append(f"{seen['widgetScripts']} widget view(s) not rendered")
    for i, a in enumerate(seen["audio"]):
        duration = a["duration"]
        if a["error"] is not None or a["ready"] < 1 or not duration or duration != duration:
            report.problems.append(f"audio {i} is not playable (readyState {a['ready']}, error {a['error']})")
        elif duration > MAX_AUDIO_SECONDS:
            report.problems.append(f"audio {i} lasts {duration:.2f} s, over the {MAX_AUDIO_SECONDS} s budget")
    present = {
        "audio": bool(seen["audio"]),
        "math": seen["math"] > 0,
        "widgets": seen["widgetsRendered"] > 0,
        "images": bool(seen["images"]),
        "tagger": seen["tagger"],
    }
    report.problems += [
        f"expected {feature} on this page, found none" for feature in sorted(expected) if not present[feature]
    ]

    target = save_screenshot(tools, seen["height"], screenshots / f"{page.replace('/', '__')}.png")
    report.summary = {
        "images": len(seen["images"]),
        "audio": len(seen["audio"]),
        "math": seen["math"],
        "widgets": seen["widgetsRendered"],
        "screenshot": str(target.relative_to(REPO)) if target.is_relative_to(REPO) else str(target),
    }
    return report


def save_screenshot(tools: DevTools, height: int, target: Path) -> Path:
    """A full-page PNG of the current page (``height`` CSS pixels, clamped to 900–16000) at ``target``."""
    tools.call(
        "Emulation.setDeviceMetricsOverride",
        width=1280,
        height=min(max(height, 900), 16000),
        deviceScaleFactor=1,
        mobile=False,
    )
    shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    target.write_bytes(base64.b64decode(shot["data"]))
    return target


def event_problems(events: Sequence[dict[str, Any]]) -> list[str]:
    """Requests outside the book and JavaScript exceptions (bar ``KNOWN_EXCEPTIONS``) in DevTools events."""
    problems = []
    external = sorted(
        {
            e["params"]["request"]["url"]
            for e in events
            if e.get("method") == "Network.requestWillBeSent"
            and e["params"]["request"]["url"].startswith(("http:", "https:"))
        }
    )
    if external:
        problems.append(f"requests outside the book: {external[:5]}")
    for e in events:
        if e.get("method") != "Runtime.exceptionThrown":
            continue
        details = e["params"]["exceptionDetails"]
        description = details.get("exception", {}).get("description") or details.get("text", "")
        first_line = description.splitlines()[0] if description else str(details)
        if not any(known in first_line for known in KNOWN_EXCEPTIONS):
            problems.append(f"JavaScript exception: {first_line}")
    return problems


# --------------------------------------------------------------------- the in-browser tagger
@dataclass(frozen=True)
class TaggerClips:
    """The recordings the tagger check feeds the page: 32 kHz mono, so no resampler is involved."""

    short: Path  # float WAV: Chromium and soundfile decode it to the same samples
    long: Path
    microphone: Path  # 16-bit PCM WAV, for Chromium's fake microphone


def write_tagger_clips(folder: Path) -> TaggerClips:
    """The :data:`TAGGER_RECORDINGS` resampled to 32 kHz mono and written under ``folder``."""
    import soundfile as sf

    from panns_lite.audio import PANNS_SAMPLE_RATE, load_audio
    from panns_lite.paths import SOURCES_DIR

    parts = [load_audio(SOURCES_DIR / "audio" / name) for name in TAGGER_RECORDINGS]
    clips = TaggerClips(folder / "short.wav", folder / "long.wav", folder / "microphone.wav")
    sf.write(clips.short, parts[0], PANNS_SAMPLE_RATE, subtype="FLOAT")
    sf.write(clips.long, np.concatenate(parts), PANNS_SAMPLE_RATE, subtype="FLOAT")
    sf.write(clips.microphone, parts[0], PANNS_SAMPLE_RATE, subtype="PCM_16")
    return clips


def fake_media_flags(clips: TaggerClips) -> list[str]:
    """Chromium flags: grant microphone access without asking, and play ``clips.microphone`` into it."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={clips.microphone}",
    ]


def wait_for_tagger(tools: DevTools, condition: str, timeout: float = TAGGER_TIMEOUT) -> str | None:
    """Poll until the JavaScript ``condition`` on ``r = window.panns_lite_try_it`` holds; the page's
    error message if it reported one first (``TimeoutError`` if neither happens)."""
    expression = (
        "(() => { const r = window.panns_lite_try_it; "
        f"return JSON.stringify({{error: r.error, ready: Boolean({condition})}}); }})()"
    )
    deadline = time.monotonic() + timeout
    while True:
        state = tools.evaluate(expression)
        if state["error"] or state["ready"]:
            return state["error"]
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page did not reach {condition!r} within {timeout:.0f} s")
        time.sleep(0.25)


def choose_file(tools: DevTools, selector: str, path: Path) -> None:
    """Set the file of the page's ``<input type=file>`` as a reader choosing it would (fires change)."""
    node = tools.call("Runtime.evaluate", expression=f"document.querySelector({json.dumps(selector)})")
    if "objectId" not in node["result"]:
        raise RuntimeError(f"no {selector} on the page")
    tools.call("DOM.setFileInputFiles", files=[str(path.resolve())], objectId=node["result"]["objectId"])


def compare_with_tagger(page: dict[str, Any], tagger: Any, clip: Path) -> tuple[list[str], dict[str, Any]]:
    """Problems where the page's result differs from ``tagger.analyze(clip, framewise=True)``, and the
    largest differences. A top tag may differ only by a tie within the tolerance."""
    expected = tagger.analyze(clip, framewise=True)
    framewise = np.frombuffer(base64.b64decode(page["framewise"]), dtype="<f4")
    framewise = framewise.reshape(page["frames"], page["classes"])
    clipwise = np.asarray(page["clipwise"], dtype=np.float32)
    if framewise.shape != expected.framewise.probabilities.shape or page["chunks"] != expected.chunks:
        return [
            f"{clip.name}: page gave {page['chunks']} chunk(s), frame-wise {framewise.shape}; Tagger "
            f"{expected.chunks}, {expected.framewise.probabilities.shape}"
        ], {}
    differences = {
        "clipwise": float(np.abs(clipwise - expected.clipwise).max()),
        "framewise": float(np.abs(framewise - expected.framewise.probabilities).max()),
    }
    problems = [
        f"{clip.name}: {name} differs from Tagger by {value:.2e} > {TAGGER_TOLERANCE:g}"
        for name, value in differences.items()
        if value > TAGGER_TOLERANCE
    ]
    ranked = np.sort(expected.clipwise)[::-1]
    for rank, (index, label) in enumerate(zip(page["top"], page["labels"])):
        if (
            label != tagger.labels.names[index]
            or abs(expected.clipwise[index] - ranked[rank]) > TAGGER_TOLERANCE
        ):
            problems.append(f"{clip.name}: top tag {rank + 1} is {label!r}, not Tagger's")
    return problems, {"top": page["labels"][0], "ms": round(page["milliseconds"]), **differences}


def check_tagger(tools: DevTools, html: Path, clips: TaggerClips, screenshot: Path) -> tuple[list[str], dict]:
    """Use the page's tagger on the clips, then its microphone mode; (problems, summary)."""
    tools.events.clear()
    try:
        return use_tagger(tools, html, clips, screenshot)
    except (TimeoutError, RuntimeError) as err:
        return [f"the tagger check stopped: {err}", *event_problems(tools.events)], {}


def use_tagger(tools: DevTools, html: Path, clips: TaggerClips, screenshot: Path) -> tuple[list[str], dict]:
    """:func:`check_tagger`'s steps; a page that never answers raises ``TimeoutError``.

    The short clip, the long one, then the page's own model given back to it as a reader's ``.onnx``
    (the page analyses the last clip again with it), each compared with Tagger; then the microphone.
    """
    from panns_lite.book.web_demo import MODEL_SCRIPT, read_base64_script
    from panns_lite.inference import Tagger

    name, model = read_base64_script(html / "_static" / "offline" / TRY_IT / MODEL_SCRIPT)
    onnx = clips.short.parent / name
    onnx.write_bytes(model)
    tagger = Tagger(onnx)
    steps = [
        ("audio", clips.short, f"r.last.source === {json.dumps(clips.short.name)}", clips.short),
        ("audio", clips.long, f"r.last.source === {json.dumps(clips.long.name)}", clips.long),
        ("model", onnx, f"r.last.model === {json.dumps(onnx.name)}", clips.long),
    ]
    problems: list[str] = []
    summary: dict[str, Any] = {}
    for role, path, condition, clip in steps:
        choose_file(tools, f"#try-it input[data-role={role}]", path)
        error = wait_for_tagger(tools, f"r.last && {condition}")
        if error:
            return problems + [f"{path.name}: the page reported {error!r}"], summary
        page = tools.evaluate(TAGGER_RESULT)
        summary.setdefault("load_ms", round(page["loadMilliseconds"]))
        found, summary[path.stem] = compare_with_tagger(page, tagger, clip)
        problems += found
    height = tools.evaluate("JSON.stringify(document.documentElement.scrollHeight)")
    save_screenshot(tools, height, screenshot)
    found, summary["microphone"] = use_microphone(tools)
    return problems + found + event_problems(tools.events), summary


def use_microphone(tools: DevTools) -> tuple[list[str], dict[str, Any] | None]:
    """Start the page's microphone mode (a reader's click), wait for ``MIC_WINDOWS`` windows, stop it."""
    tools.evaluate("document.querySelector('#try-it [data-role=mic]').click(); 'null'", userGesture=True)
    error = wait_for_tagger(tools, f"r.mic && r.mic.windows >= {MIC_WINDOWS}", timeout=PAGE_TIMEOUT)
    mic = tools.evaluate(
        "(() => { const m = window.panns_lite_try_it.mic; window.panns_lite_try_it.stopMic(); "
        "return JSON.stringify(m && m.last && {windows: m.windows, top: m.last.labels[0], "
        "seconds: m.last.duration}); })()",
    )
    return ([f"microphone: {error or 'no window analysed'}"] if error or not mic else []), mic


def parse_expectations(pairs: Sequence[str], pages: Sequence[str]) -> dict[str, set[str]]:
    """``PAGE=feature,feature`` pairs → {page: features}; pages and features are validated."""
    expected: dict[str, set[str]] = {}
    for pair in pairs:
        page, sep, features = pair.partition("=")
        wanted = {f.strip() for f in features.split(",") if f.strip()}
        if not sep or not wanted or not wanted <= set(FEATURES):
            raise SystemExit(f"--expect {pair!r}: use PAGE=feature[,feature] with features from {FEATURES}")
        if page not in pages:
            raise SystemExit(f"--expect {pair!r}: {page} is not in _toc.yml")
        expected.setdefault(page, set()).update(wanted)
    return expected


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=REPO / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, default=REPO / "_build" / "screenshots")
    parser.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="PAGE=FEATURES",
        help=f"features a page must have, from {FEATURES} (repeatable)",
    )
    parser.add_argument(
        "--min-pages", type=int, default=4, help="fail if _toc.yml lists fewer pages (default 4)"
    )
    parser.add_argument(
        "--page",
        action="append",
        default=[],
        metavar="PAGE",
        help="check only this page of _toc.yml (repeatable; default: every page)",
    )
    parser.add_argument("--install", action="store_true", help="apt-get install chromium when it is missing")
    args = parser.parse_args(argv)

    if not (args.html / "index.html").is_file():
        raise SystemExit(f"no book in {args.html}: run `make book` first")
    pages = [str(Path(d).with_suffix("")) for d in toc_documents(REPO)]
    if len(pages) < args.min_pages:
        raise SystemExit(f"_toc.yml lists {len(pages)} pages, fewer than --min-pages {args.min_pages}")
    if unknown := sorted(set(args.page) - set(pages)):
        raise SystemExit(f"--page {unknown}: not in _toc.yml")
    expected = parse_expectations(args.expect, pages)
    pages = [p for p in pages if not args.page or p in args.page]
    args.screenshots.mkdir(parents=True, exist_ok=True)
    binary = find_chromium(args.install)
    reports = []
    with tempfile.TemporaryDirectory(prefix="book-check-clips-") as folder:
        wanted = any("tagger" in expected.get(page, set()) for page in pages)
        clips = write_tagger_clips(Path(folder)) if wanted else None
        with headless_chromium(binary, fake_media_flags(clips) if clips else ()) as tools:
            for domain in ("Page", "Runtime", "Network"):
                tools.call(f"{domain}.enable")
            for page in pages:
                report = check_page(tools, args.html, page, expected.get(page, set()), args.screenshots)
                if clips and "tagger" in expected.get(page, set()) and report.summary:
                    shot = args.screenshots / f"{page.replace('/', '__')}__tagged.png"
                    problems, report.summary["tagger"] = check_tagger(tools, args.html, clips, shot)
                    report.problems += problems
                reports.append(report)
    for report in reports:
        status = "ok" if not report.problems else "FAILED"
        print(f"{status:6} {report.page}: {json.dumps(report.summary)}")
        for problem in report.problems:
            print(f"       - {problem}")
    failed = [r.page for r in reports if r.problems]
    print(f"{len(reports) - len(failed)}/{len(reports)} pages passed in {Path(binary).name} (offline)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
