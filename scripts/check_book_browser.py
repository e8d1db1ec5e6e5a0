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
  ``images``,
* a JavaScript exception was thrown;

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

import websocket

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_book import REPO, toc_documents  # noqa: E402  (sibling script)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FEATURES = ("audio", "math", "widgets", "images")
MAX_AUDIO_SECONDS = 5.05  # display.MAX_SECONDS plus codec padding
PAGE_TIMEOUT = 60.0
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
    height: Math.ceil(document.documentElement.scrollHeight),
  });
})()
"""
)


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
def headless_chromium(binary: str) -> Iterator[DevTools]:
    """Chromium with DevTools on a free local port and every host name unresolvable (offline)."""
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
    tools.call("Page.navigate", url=path.resolve().as_uri())
    tools.wait_for("Page.loadEventFired")
    result = tools.call(
        "Runtime.evaluate",
        expression=INSPECT,
        awaitPromise=True,
        returnByValue=True,
        timeout=int(PAGE_TIMEOUT * 1000),
    )
    if "exceptionDetails" in result:
        report.problems.append(f"inspection failed: {result['exceptionDetails'].get('text')}")
        return report
    seen = json.loads(result["result"]["value"])
    external = sorted(
        {
            e["params"]["request"]["url"]
            for e in tools.events
            if e.get("method") == "Network.requestWillBeSent"
            and e["params"]["request"]["url"].startswith(("http:", "https:"))
        }
    )
    exceptions = [
        e["params"]["exceptionDetails"] for e in tools.events if e.get("method") == "Runtime.exceptionThrown"
    ]

    broken = [i["src"] for i in seen["images"] if not i["loaded"]]
    if broken:
        report.problems.append(f"{len(broken)} image(s) did not load: {broken[:3]}")
    if external:
        report.problems.append(f"requests outside the book: {external[:5]}")
    for details in exceptions:
        description = details.get("exception", {}).get("description") or details.get("text", "")
        first_line = description.splitlines()[0] if description else str(details)
        if not any(known in first_line for known in KNOWN_EXCEPTIONS):
            report.problems.append(f"JavaScript exception: {first_line}")
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
    }
    report.problems += [
        f"expected {feature} on this page, found none" for feature in sorted(expected) if not present[feature]
    ]

    height = min(max(seen["height"], 900), 16000)
    tools.call(
        "Emulation.setDeviceMetricsOverride", width=1280, height=height, deviceScaleFactor=1, mobile=False
    )
    shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    target = screenshots / f"{page.replace('/', '__')}.png"
    target.write_bytes(base64.b64decode(shot["data"]))
    report.summary = {
        "images": len(seen["images"]),
        "audio": len(seen["audio"]),
        "math": seen["math"],
        "widgets": seen["widgetsRendered"],
        "screenshot": str(target.relative_to(REPO)) if target.is_relative_to(REPO) else str(target),
    }
    return report


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
    parser.add_argument("--install", action="store_true", help="apt-get install chromium when it is missing")
    args = parser.parse_args(argv)

    if not (args.html / "index.html").is_file():
        raise SystemExit(f"no book in {args.html}: run `make book` first")
    pages = [str(Path(d).with_suffix("")) for d in toc_documents(REPO)]
    if len(pages) < args.min_pages:
        raise SystemExit(f"_toc.yml lists {len(pages)} pages, fewer than --min-pages {args.min_pages}")
    expected = parse_expectations(args.expect, pages)
    args.screenshots.mkdir(parents=True, exist_ok=True)
    binary = find_chromium(args.install)
    reports = []
    with headless_chromium(binary) as tools:
        for domain in ("Page", "Runtime", "Network"):
            tools.call(f"{domain}.enable")
        for page in pages:
            reports.append(check_page(tools, args.html, page, expected.get(page, set()), args.screenshots))
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
