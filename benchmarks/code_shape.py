"""The shape of the code at two revisions: function lengths, notebook code against prose.

Issue "one home per concept" asks for evidence that a clean-up made the package and the book easier
to read: the longest functions before and after, and the chapters' lines of code against their
lines of prose. This reads both revisions from git (nothing is imported or run), so any two commits
can be compared. Repeated blocks are counted by the ``duplicates`` tool where it exists (not part of
this project); its counts go in the closing note of the issue.

Run ``.venv/bin/python benchmarks/code_shape.py --before REV [--after REV]``; writes
``benchmarks/results/code_shape.{json,md}``.
"""

import argparse
import ast
import io
import json
import statistics
import subprocess
import tarfile
from pathlib import Path

from common import environment, environment_line, write_results

REPO = Path(__file__).resolve().parent.parent
LONG = 60
"""A function longer than this many lines is counted as long (the issue's threshold)."""
REMOVED = {"remove-cell", "remove-input"}
TOGGLED = {"hide-input", "hide-cell"}
"""Jupyter Book's cell tags: code not on the page, and code behind a toggle."""


def tree(revision: str) -> dict[str, bytes]:
    """Every file of ``revision`` under panns_lite/ and book/, by path."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "panns_lite", "book"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def functions(files: dict[str, bytes]) -> list[tuple[str, int]]:
    """(module:qualified name, lines) of every function and method of the package."""
    out = []
    for path, data in sorted(files.items()):
        if path.startswith("panns_lite/") and path.endswith(".py"):
            module = Path(path).with_suffix("").as_posix().replace("/", ".")
            out += [(f"{module}:{name}", n) for name, n in _definitions(ast.parse(data), "")]
    return out


def _definitions(node: ast.AST, prefix: str) -> list[tuple[str, int]]:
    found = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = f"{prefix}{child.name}"
            found.append((name, child.end_lineno - child.lineno + 1))
            found += _definitions(child, f"{name}.")
        elif isinstance(child, ast.ClassDef):
            found += _definitions(child, f"{prefix}{child.name}.")
    return found


def notebook_lines(files: dict[str, bytes]) -> dict[str, int]:
    """Non-blank lines of code and of Markdown over the chapters, and cells printing Markdown.

    The code lines are also split by what a reader of the book sees of them: shown, behind a
    "show code" toggle (``hide-input``/``hide-cell``), or not on the page at all (``remove-cell``/
    ``remove-input``: the cells that only compute values glued into the prose)."""
    counts = dict.fromkeys(("code", "shown", "toggle", "removed", "prose", "printed"), 0)
    for path, data in files.items():
        if not path.endswith(".ipynb"):
            continue
        for cell in json.loads(data)["cells"]:
            lines = [line for line in "".join(cell["source"]).splitlines() if line.strip()]
            tags = set(cell.get("metadata", {}).get("tags", []))
            if cell["cell_type"] == "code":
                counts["code"] += len(lines)
                seen = "removed" if tags & REMOVED else "toggle" if tags & TOGGLED else "shown"
                counts[seen] += len(lines)
                counts["printed"] += "display(Markdown(" in "".join(cell["source"])
            elif cell["cell_type"] == "markdown":
                counts["prose"] += len(lines)
    return {
        "code_lines": counts["code"],
        "code_lines_shown": counts["shown"],
        "code_lines_behind_toggle": counts["toggle"],
        "code_lines_removed": counts["removed"],
        "prose_lines": counts["prose"],
        "display_markdown_cells": counts["printed"],
    }


def shape(revision: str) -> dict:
    files = tree(revision)
    lengths = functions(files)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", revision], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    modules = [p for p in files if p.startswith("panns_lite/") and p.endswith(".py")]
    train_functions = [n for n in lengths if n[0].startswith("panns_lite.train:")]
    return {
        "revision": revision,
        "commit": commit,
        "modules": len(modules),
        "functions": len(lengths),
        "median_function_lines": statistics.median(n for _, n in lengths),
        f"functions_over_{LONG}_lines": sum(n > LONG for _, n in lengths),
        "longest": sorted(lengths, key=lambda f: -f[1])[:8],
        "train_py_lines": files["panns_lite/train.py"].count(b"\n"),
        "train_py_longest": max(train_functions, key=lambda f: f[1]),
        **notebook_lines(files),
    }


def to_markdown(results: dict) -> str:
    before, after = results["before"], results["after"]
    rows = [
        ("modules in panns_lite", "modules"),
        ("functions and methods", "functions"),
        ("median function length (lines)", "median_function_lines"),
        (f"functions over {LONG} lines", f"functions_over_{LONG}_lines"),
        ("train.py lines", "train_py_lines"),
        ("chapters: lines of code", "code_lines"),
        ("… shown on the page", "code_lines_shown"),
        ('… behind a "show code" toggle', "code_lines_behind_toggle"),
        ("… not on the page (computing glued values)", "code_lines_removed"),
        ("chapters: lines of prose (Markdown)", "prose_lines"),
        ("chapters: cells printing Markdown", "display_markdown_cells"),
    ]
    lines = [
        "# The shape of the code: before and after",
        "",
        environment_line(results["environment"]),
        "",
        f"| | before ({before['commit']}) | after ({after['commit']}) |",
        "|---|---:|---:|",
        *(f"| {label} | {before[key]} | {after[key]} |" for label, key in rows),
        "| train.py's longest function | {} ({} lines) | {} ({} lines) |".format(
            *before["train_py_longest"], *after["train_py_longest"]
        ),
        "",
        "Longest functions:",
        "",
        "| before | lines | after | lines |",
        "|---|---:|---|---:|",
    ]
    lines += [
        f"| `{b[0]}` | {b[1]} | `{a[0]}` | {a[1]} |" for b, a in zip(before["longest"], after["longest"])
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the revision before the clean-up")
    parser.add_argument("--after", default="HEAD", help="the revision after it (default: HEAD)")
    args = parser.parse_args()
    results = {"environment": environment(), "before": shape(args.before), "after": shape(args.after)}
    write_results("code_shape", results, to_markdown(results))


if __name__ == "__main__":
    main()
