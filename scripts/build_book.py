"""Build the HTML book: execute every chapter once with papermill, then render it with Jupyter Book.

Why this shape: the committed notebooks carry no outputs, and
Jupyter Book's own execution hides a failing cell unless ``-W`` is set and buries the traceback in
``reports/``. So this script

1. stages a copy of the book (``_config.yml``, ``_toc.yml``, ``book/``) under ``_build/src`` plus
   the offline JavaScript (MathJax, the ipywidgets HTML manager, RequireJS) from ``node_modules``
   and the "Try it" page's scripts (ONNX Runtime Web and the shipped tagger exported to ONNX,
   written by :mod:`panns_lite.book.web_demo`);
2. runs each notebook listed in ``_toc.yml`` with papermill into that copy (CI-sized defaults from
   its ``parameters`` cell, or ``-p name=value`` overrides), stopping at the first failing cell
   with the chapter's name and the error;
3. builds ``_build/html`` from the staged copy with ``jupyter-book build -W -n --keep-going``
   (execution off: the outputs are the ones papermill just produced);
4. writes the per-chapter wall times to ``_build/execution_times.json`` and ``.md``.

The sources in ``book/`` are never written to, so git only ever sees output-free notebooks.
Run from anywhere: ``python scripts/build_book.py`` (``make book`` does, after ``npm ci``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "_build"
STAGE = BUILD / "src"
KERNEL = "python3"
SOURCE_SUFFIXES = (".ipynb", ".md")

# node_modules path -> where it goes under the staged _vendor/offline/ (served as _static/offline/).
VENDORED: dict[str, str] = {
    "mathjax/es5/tex-mml-chtml.js": "mathjax/tex-mml-chtml.js",
    "mathjax/es5/input/tex/extensions": "mathjax/input/tex/extensions",
    "mathjax/es5/output/chtml/fonts/woff-v2": "mathjax/output/chtml/fonts/woff-v2",
    "mathjax/es5/a11y": "mathjax/a11y",
    "mathjax/es5/ui": "mathjax/ui",
    "requirejs/require.js": "require.js",
    "@jupyter-widgets/html-manager/dist/embed-amd.js": "html-manager/embed-amd.js",
}
# The widget manager's CSS pulls in Font Awesome by a relative URL; copy the font files beside it.
VENDORED_FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".svg")
# The "Try it" page's generated scripts, under the staged _vendor/offline/ (book/try_it.md loads them).
TRY_IT = "try_it"


# ------------------------------------------------------------------------------------ the toc
def toc_documents(root: Path = REPO) -> list[str]:
    """Every document of ``root/_toc.yml`` in reading order (root first), as toc ``file`` entries.

    Only ``file`` entries are supported (no ``glob``/``url``), so the list is exactly what is built.
    """
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    if not isinstance(toc, dict) or "root" not in toc:
        raise ValueError(f"{root / '_toc.yml'}: expected a mapping with a 'root' entry")
    documents = [str(toc["root"])]

    def walk(entries: Sequence[Mapping[str, Any]]) -> None:
        for entry in entries:
            if "glob" in entry or "url" in entry:
                raise ValueError(f"_toc.yml: only 'file' entries are supported, got {entry}")
            if "file" in entry:
                documents.append(str(entry["file"]))
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    duplicates = sorted({d for d in documents if documents.count(d) > 1})
    if duplicates:
        raise ValueError(f"_toc.yml lists {duplicates} more than once")
    return documents


def source_path(root: Path, document: str) -> Path:
    """The source file of a toc entry (``book/01_x`` → ``book/01_x.ipynb`` or ``.md``)."""
    candidates = (
        [root / document]
        if Path(document).suffix in SOURCE_SUFFIXES
        else [root / f"{document}{suffix}" for suffix in SOURCE_SUFFIXES]
    )
    found = [c for c in candidates if c.is_file()]
    if len(found) != 1:
        raise FileNotFoundError(
            f"_toc.yml entry {document!r}: expected one of {[str(c) for c in candidates]}, found {len(found)}"
        )
    return found[0]


def toc_notebooks(root: Path = REPO) -> list[Path]:
    """The ``.ipynb`` chapters of the toc, in reading order."""
    return [p for p in (source_path(root, d) for d in toc_documents(root)) if p.suffix == ".ipynb"]


# ---------------------------------------------------------------------------------- staging
def stage_book(root: Path, stage: Path, node_modules: Path) -> None:
    """Fresh copy of the book sources and the offline JavaScript under ``stage``."""
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage / name)
    shutil.copytree(
        root / "book", stage / "book", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_build")
    )
    vendor = stage / "_vendor" / "offline"
    missing = [src for src in VENDORED if not (node_modules / src).exists()]
    if missing:
        raise FileNotFoundError(f"{node_modules} lacks {missing}: run `npm ci` in {root} (make book does)")
    for src, dst in VENDORED.items():
        target = vendor / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (node_modules / src).is_dir() else shutil.copy2
        copy(node_modules / src, target)
    dist = node_modules / "@jupyter-widgets/html-manager/dist"
    for font in dist.iterdir():
        if font.suffix in VENDORED_FONT_SUFFIXES:
            shutil.copy2(font, vendor / "html-manager" / font.name)
    stage_try_it(vendor / TRY_IT, node_modules)


def stage_try_it(folder: Path, node_modules: Path) -> None:
    """The "Try it" page's runtime, model and labels (:func:`panns_lite.book.web_demo.write_assets`)."""
    from panns_lite.book.web_demo import write_assets

    start = time.perf_counter()
    sizes = write_assets(folder, node_modules)
    listed = ", ".join(f"{name} {size / 2**20:.2f} MiB" for name, size in sizes.items())
    print(f"staged the Try it page's scripts in {time.perf_counter() - start:.0f} s: {listed}", flush=True)


# -------------------------------------------------------------------------------- executing
def use_this_interpreter_kernel() -> None:
    """Make the ``python3`` kernel resolve to this interpreter's environment (the venv).

    A user-level ``~/.local/share/jupyter/kernels/python3`` would otherwise win over the venv's,
    and could point to another Python without panns_lite. ``JUPYTER_PATH`` comes first in
    Jupyter's search order; the check below fails loudly if the spec still points elsewhere.
    """
    share = str(Path(sys.prefix) / "share" / "jupyter")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (share, os.environ.get("JUPYTER_PATH")) if p)
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    program = spec.argv[0]
    # Compare unresolved paths: a venv's python is a symlink to the interpreter it was made from.
    same = program in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}") or (
        Path(program).absolute() == Path(sys.executable).absolute()
    )
    if not same:
        raise RuntimeError(
            f"the {KERNEL!r} kernelspec at {spec.resource_dir} runs {program}, not {sys.executable}; "
            f"run `{sys.executable} -m ipykernel install --sys-prefix`"
        )


@dataclass
class ChapterTime:
    notebook: str
    seconds: float
    status: str
    parameters: dict[str, Any] = field(default_factory=dict)


class ChapterError(RuntimeError):
    """A chapter whose execution failed; the message names the notebook, the cell and the error.

    ``times`` holds the chapters run so far, the failed one last, for the report.
    """

    def __init__(self, message: str, times: list[ChapterTime]) -> None:
        super().__init__(message)
        self.times = times


def chapter_parameters(notebook: Path, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides this notebook's ``parameters`` cell declares (others are not injected)."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    return {k: v for k, v in overrides.items() if k in declared}


def execute_chapters(
    root: Path, stage: Path, notebooks: Sequence[Path], overrides: Mapping[str, Any], timeout: int
) -> list[ChapterTime]:
    """Run each notebook into ``stage`` (same relative path), in its staged folder; stop at the first error.

    Raises :class:`ChapterError` naming the notebook and carrying the times so far.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    use_this_interpreter_kernel()
    undeclared = set(overrides) - {k for nb in notebooks for k in papermill.inspect_notebook(str(nb))}
    if undeclared:
        raise ValueError(f"no chapter declares the parameters {sorted(undeclared)}")
    times: list[ChapterTime] = []
    for i, notebook in enumerate(notebooks, start=1):
        relative = notebook.relative_to(root)
        target = stage / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        parameters = chapter_parameters(notebook, overrides)
        print(f"[{i}/{len(notebooks)}] executing {relative} {parameters or ''}", flush=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook),
                str(target),
                parameters=parameters,
                kernel_name=KERNEL,
                cwd=str(target.parent),
                progress_bar=False,
                execution_timeout=timeout,
            )
        except PapermillExecutionError as err:
            times.append(
                ChapterTime(str(relative), round(time.perf_counter() - start, 2), "failed", parameters)
            )
            raise ChapterError(
                f"{relative}: cell {err.cell_index} raised {err.ename}: {err.evalue} "
                f"(executed copy with the traceback: {target})",
                times,
            ) from None
        seconds = round(time.perf_counter() - start, 2)
        times.append(ChapterTime(str(relative), seconds, "ok", parameters))
        print(f"      {relative}: {seconds:.1f} s", flush=True)
    return times


# ------------------------------------------------------------------------------ build + report
def build_html(stage: Path, output: Path) -> int:
    """``jupyter-book build -W -n --keep-going`` of the staged book into ``output/_build/html``; its
    exit code."""
    for stale in (output / "_build" / "html", output / "_build" / ".doctrees"):
        shutil.rmtree(stale, ignore_errors=True)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [
        str(jupyter_book),
        "build",
        "-W",
        "-n",
        "--keep-going",
        str(stage),
        "--path-output",
        str(output),
    ]
    print("$", " ".join(command), flush=True)
    return subprocess.run(command).returncode


def write_report(path: Path, times: Sequence[ChapterTime], build_seconds: float | None) -> None:
    """``path`` (.json) and the same as a Markdown table beside it (.md)."""
    executed = round(sum(t.seconds for t in times), 2)
    report = {
        "chapters": [asdict(t) for t in times],
        "execution_seconds": executed,
        "build_seconds": build_seconds,
        "total_seconds": round(executed + (build_seconds or 0.0), 2),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    lines = ["| chapter | status | seconds |", "|---|---|---:|"]
    lines += [f"| {t.notebook} | {t.status} | {t.seconds:.1f} |" for t in times]
    lines.append(f"| **all chapters** | | **{executed:.1f}** |")
    if build_seconds is not None:
        lines.append(f"| jupyter-book build | | {build_seconds:.1f} |")
    path.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``name=value`` pairs, values read as YAML (``n=3`` is an int, ``preset=laptop`` a string)."""
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"expected name=value, got {pair!r}")
        overrides[name] = yaml.safe_load(value)
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter in every chapter that declares it (e.g. -p preset=laptop)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=1800,
        help="seconds allowed per cell (default 1800: the ci training is one cell)",
    )
    parser.add_argument("--no-build", action="store_true", help="execute the chapters only")
    args = parser.parse_args(argv)

    report = BUILD / "execution_times.json"
    stage_book(REPO, STAGE, REPO / "node_modules")
    try:
        times = execute_chapters(
            REPO, STAGE, toc_notebooks(REPO), parse_overrides(args.parameter), args.timeout
        )
    except ChapterError as err:
        write_report(report, err.times, None)
        print(f"\nBOOK FAILED: {err}", file=sys.stderr)
        return 1
    build_seconds = None
    if not args.no_build:
        start = time.perf_counter()
        code = build_html(STAGE, REPO)
        build_seconds = round(time.perf_counter() - start, 2)
        if code:
            write_report(report, times, build_seconds)
            print(
                f"\nBOOK FAILED: jupyter-book build exited with {code} (warnings are errors)", file=sys.stderr
            )
            return 1
    write_report(report, times, build_seconds)
    print("\n" + report.with_suffix(".md").read_text(encoding="utf-8"))
    print(f"HTML: {REPO / '_build' / 'html' / 'index.html'}; times: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
