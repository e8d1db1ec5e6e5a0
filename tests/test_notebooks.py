"""The book's notebooks stay runnable and reviewable: hygiene rules, the toc, and the executor.

Rules for every chapter listed in ``_toc.yml`` (the why is in the README's book section):
committed without outputs; exactly one cell tagged ``parameters`` holding only literal
assignments (so papermill can override them); all imports in the first code cell and nowhere
else; no ``!pip``/``%pip`` or other shell escapes; no absolute or cwd-relative paths (data is
found through the package); the ``python3`` kernel; prose with computed numbers in Markdown cells
through myst-nb ``glue`` (a paragraph built by ``display(Markdown(...))`` shows up twice on the
page, as code and as text), and every ``{glue:...}`` name a Markdown cell uses glued by a code cell;
every cell that draws a figure (other than a slider explorer) numbered and captioned (myst-nb's
``mystnb.figure`` cell metadata: ``caption`` and a ``name`` to refer to it), names unique in the book.
"""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import build_book  # noqa: E402  (a script, imported from scripts/)

GLUE_REFERENCE = re.compile(r"\{glue(?::[a-z]+)?\}`([^`]+)`")
GLUED_NAME = re.compile(r"""\bglue\(\s*f?["']([^"']+)["']""")
DRAWS_FIGURE = re.compile(r"\b(plot_\w+|subplots)\(")
SHELL_ESCAPE = re.compile(r"^\s*(!|%pip\b|%conda\b|%%(bash|sh|script)\b|%system\b)", re.MULTILINE)
WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def parse(cell: nbformat.NotebookNode) -> ast.Module | None:
    """The cell's Python AST; None when it is not valid Python (a problem reported elsewhere)."""
    try:
        return ast.parse(cell.source)
    except SyntaxError:
        return None


def bad_path(text: str) -> bool:
    """An absolute path, a home path, or one relative to the working directory."""
    if "\n" in text or len(text) < 2 or text[1].isspace():
        return False
    if text.startswith(("/", "~/", "./", "../", "file://")) or WINDOWS_ABSOLUTE.match(text):
        return True
    return "/" in text and text.split("/")[0] in ("data", "workspace", "book")


def notebook_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Everything that breaks the book's notebook rules (empty when the notebook is clean)."""
    problems = []
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as err:
        problems.append(f"invalid notebook: {err.message}")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append("kernelspec must be python3")
    cells = code_cells(nb)
    for i, cell in enumerate(cells):
        if cell.get("outputs") or cell.get("execution_count") is not None:
            problems.append(f"code cell {i} has outputs or an execution count")
        if SHELL_ESCAPE.search(cell.source):
            problems.append(f"code cell {i} uses a shell escape or %pip")
        tree = parse(cell)
        if tree is None:
            problems.append(f"code cell {i} is not valid Python")
            continue
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        if i == 0 and (not imports or len(imports) != len(tree.body)):
            problems.append("the first code cell must hold the imports and nothing else")
        if i > 0 and imports:
            problems.append(f"code cell {i} imports (all imports belong in the first code cell)")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and bad_path(node.value):
                problems.append(f"code cell {i} has the path {node.value!r}; find data through panns_lite")
    if not cells:
        problems.append("no code cells")
    problems += [
        f"code cell {i} builds prose with display(Markdown(...)); use a Markdown cell and glue"
        for i, cell in enumerate(cells)
        if "display(Markdown(" in cell.source
    ]
    glued = [glued_pattern(name) for cell in cells for name in GLUED_NAME.findall(cell.source)]
    used = {
        name
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for name in GLUE_REFERENCE.findall(cell.source)
    }
    problems += [
        f"Markdown uses {{glue}}`{name}` but no code cell glues it"
        for name in sorted(used)
        if not any(p.fullmatch(name) for p in glued)
    ]
    problems += [
        f"code cell {i} draws a figure without a caption (mystnb.figure caption and name)"
        for i, cell in enumerate(cells)
        if DRAWS_FIGURE.search(cell.source)
        and "slider_explorer(" not in cell.source  # an interactive widget, not a numbered figure
        and not {"caption", "name"} <= set(cell.metadata.get("mystnb", {}).get("figure", {}))
    ]
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        problems.append(f"{len(tagged)} cells are tagged 'parameters' (need exactly one)")
    elif tagged[0].cell_type != "code" or (tree := parse(tagged[0])) is None:
        problems.append("the parameters cell must be a Python code cell")
    else:
        problems += [
            f"parameters cell line {s.lineno}: only `name = literal` assignments"
            for s in tree.body
            if not literal_assignment(s)
        ]
    return problems


def glued_pattern(name: str) -> re.Pattern:
    """The names a ``glue(...)`` call can give: itself, or, for an f-string such as ``f"ci_{key}"``,
    any text in place of each ``{...}``."""
    return re.compile(".+".join(re.escape(part) for part in re.split(r"\{[^}]*\}", name)))


def literal_assignment(statement: ast.stmt) -> bool:
    """``name = <literal>``: what papermill can override with ``-p name value``."""
    if not (isinstance(statement, ast.Assign) and all(isinstance(t, ast.Name) for t in statement.targets)):
        return False
    try:
        ast.literal_eval(statement.value)
    except (ValueError, TypeError, SyntaxError):
        return False
    return True


# --------------------------------------------------------------------------- the real chapters
CHAPTERS = build_book.toc_notebooks(REPO)


def test_the_toc_has_chapters_and_every_notebook_is_listed() -> None:
    assert len(CHAPTERS) >= 3
    listed = {p.resolve() for p in CHAPTERS}
    stray = [p for p in sorted((REPO / "book").glob("*.ipynb")) if p.resolve() not in listed]
    assert not stray, f"notebooks missing from _toc.yml: {stray}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_follows_the_notebook_rules(path: Path) -> None:
    assert notebook_problems(nbformat.read(path, as_version=4)) == []


# A value glued by a chapter, shown on another page (the landing page's results table). The role's
# text must end in a format spec (":s"): myst-nb splits a trailing ":…" off as one, so without it the
# key of "page.ipynb::key" would be cut at its last colon.
CROSS_PAGE_GLUE = re.compile(r"\{glue(?::[a-z]+)?\}`([^`]*\.ipynb)::([^`]*)`")


def figure_names(nb: nbformat.NotebookNode) -> list[str]:
    return [
        c.metadata["mystnb"]["figure"]["name"]
        for c in code_cells(nb)
        if "name" in c.metadata.get("mystnb", {}).get("figure", {})
    ]


def test_figure_names_are_unique_in_the_book() -> None:
    names = [name for path in CHAPTERS for name in figure_names(nbformat.read(path, as_version=4))]
    assert names and len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_chapters_import_cell_imports() -> None:
    """The names a chapter imports exist (a moved function fails here, not 40 minutes into the book)."""
    cells = {
        path.name: next(c.source for c in code_cells(nbformat.read(path, as_version=4))) for path in CHAPTERS
    }
    code = "\n".join(
        f"try:\n    exec(compile({src!r}, {name!r}, 'exec'), {{}})\n"
        f"except ImportError as err:\n    print({name!r}, err)"
        for name, src in cells.items()
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0 and not result.stdout, result.stdout + result.stderr


def test_values_glued_from_other_pages_exist_in_those_chapters() -> None:
    references = [
        (page.name, notebook, key)
        for page in sorted((REPO / "book").glob("*.md"))
        for notebook, key in CROSS_PAGE_GLUE.findall(page.read_text(encoding="utf-8"))
    ]
    assert references, "the landing page shows values glued by the chapters"
    for page, notebook, key_format in references:
        key, _, fmt = key_format.rpartition(":")
        assert key and fmt, f"{page}: {notebook}::{key_format} needs a format spec, e.g. ::{key_format}:s"
        cells = code_cells(nbformat.read(REPO / "book" / notebook, as_version=4))
        glued = [glued_pattern(name) for cell in cells for name in GLUED_NAME.findall(cell.source)]
        assert any(p.fullmatch(key) for p in glued), f"{page}: {notebook} glues no {key!r}"


# ------------------------------------------------------------------------- the rules themselves
def make_notebook(*cells: tuple[str, str, list[str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source, tags in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


GOOD = [
    ("markdown", "# Title", []),
    ("code", "import numpy as np", []),
    ("code", "n = 3\nname = 'ci'\nsizes = [1, 2]", ["parameters"]),
    ("code", "print(np.arange(n))", []),
]


def test_a_clean_notebook_has_no_problems() -> None:
    assert notebook_problems(make_notebook(*GOOD)) == []


def test_a_captioned_figure_cell_is_clean() -> None:
    nb = make_notebook(*GOOD, ("code", "fig, ax = subplots()\nfig", []))
    nb.cells[-1].metadata["mystnb"] = {"figure": {"caption": "A figure.", "name": "fig-a"}}
    assert notebook_problems(nb) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda nb: nb.cells[3].outputs.append(nbformat.v4.new_output("stream", text="x")), "outputs"),
        (lambda nb: nb.cells[3].__setitem__("execution_count", 4), "execution count"),
        (lambda nb: nb.cells[3].__setitem__("source", "!pip install torch"), "shell escape"),
        (lambda nb: nb.cells[3].__setitem__("source", "%pip install torch"), "shell escape"),
        (lambda nb: nb.cells[3].__setitem__("source", "import os\nprint(os.sep)"), "imports"),
        (lambda nb: nb.cells[3].__setitem__("source", "def f():\n    from x import y"), "imports"),
        (lambda nb: nb.cells[1].__setitem__("source", "import numpy as np\nx = 1"), "first code cell"),
        (lambda nb: nb.cells[3].__setitem__("source", "open('/home/me/clip.wav')"), "/home/me/clip.wav"),
        (lambda nb: nb.cells[3].__setitem__("source", "open('/home/me/my clip.wav')"), "my clip.wav"),
        (lambda nb: nb.cells[3].__setitem__("source", "open('C:\\\\data\\\\x.wav')"), "path"),
        (lambda nb: nb.cells[3].__setitem__("source", "open('../data/x.csv')"), "../data/x.csv"),
        (lambda nb: nb.cells[3].__setitem__("source", "open('workspace/miniset-ci/a.csv')"), "workspace/"),
        (lambda nb: nb.cells[2].metadata.__setitem__("tags", []), "0 cells are tagged"),
        (lambda nb: nb.cells[3].metadata.__setitem__("tags", ["parameters"]), "2 cells are tagged"),
        (lambda nb: nb.cells[2].__setitem__("source", "n = len('abc')"), "only `name = literal`"),
        (lambda nb: nb.metadata.__setitem__("kernelspec", {"name": "julia"}), "kernelspec"),
        (lambda nb: nb.cells[3].__setitem__("source", "print((("), "not valid Python"),
        (lambda nb: nb.cells[3].__setitem__("source", "display(Markdown(f'{n} clips'))"), "display(Markdown"),
        (lambda nb: nb.cells[3].__setitem__("source", "plot_logmel(x)"), "without a caption"),
        (
            lambda nb: nb.cells[0].__setitem__("source", "# T\n{glue:text}`clips` clips"),
            "no code cell glues it",
        ),
    ],
)
def test_each_rule_is_enforced(change, expected: str) -> None:
    nb = make_notebook(*GOOD)
    change(nb)
    problems = notebook_problems(nb)
    assert any(expected in p for p in problems), problems


def test_plain_strings_with_slashes_are_not_paths() -> None:
    nb = make_notebook(*GOOD[:3], ("code", "print('a/b ratio', '/', 'x / y', 'km/h', '/ 2', 'book')", []))
    assert notebook_problems(nb) == []


# ------------------------------------------------------------------------------------ the toc
def write_toc(root: Path, text: str) -> None:
    (root / "_toc.yml").write_text(text, encoding="utf-8")


def test_toc_documents_in_reading_order(tmp_path: Path) -> None:
    write_toc(
        tmp_path,
        "format: jb-book\nroot: book/intro\nparts:\n"
        "  - caption: A\n    chapters:\n      - file: book/a\n        sections:\n"
        "          - file: book/a1\n      - file: book/b\n"
        "  - caption: B\n    chapters:\n      - file: book/c.ipynb\n",
    )
    assert build_book.toc_documents(tmp_path) == ["book/intro", "book/a", "book/a1", "book/b", "book/c.ipynb"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("format: jb-book\nroot: a\nchapters:\n  - glob: book/*\n", "only 'file'"),
        ("format: jb-book\nroot: a\nchapters:\n  - file: b\n  - file: b\n", "more than once"),
        ("- just a list\n", "root"),
    ],
)
def test_toc_rejects_what_it_cannot_build(tmp_path: Path, text: str, match: str) -> None:
    write_toc(tmp_path, text)
    with pytest.raises(ValueError, match=match):
        build_book.toc_documents(tmp_path)


def test_toc_entry_must_resolve_to_one_source(tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.md").write_text("# a")
    assert build_book.source_path(tmp_path, "book/a") == tmp_path / "book" / "a.md"
    with pytest.raises(FileNotFoundError):
        build_book.source_path(tmp_path, "book/missing")
    (tmp_path / "book" / "a.ipynb").write_text("{}")
    with pytest.raises(FileNotFoundError, match="found 2"):
        build_book.source_path(tmp_path, "book/a")


def test_parameter_overrides_are_parsed_as_yaml() -> None:
    assert build_book.parse_overrides(["n=3", "preset=laptop", "sizes=[1, 2]"]) == {
        "n": 3,
        "preset": "laptop",
        "sizes": [1, 2],
    }
    with pytest.raises(ValueError):
        build_book.parse_overrides(["no-equals-sign"])


# ------------------------------------------------------------------------------- the executor
@pytest.mark.slow
def test_executor_injects_parameters_times_chapters_and_names_the_failure(tmp_path: Path) -> None:
    root, stage = tmp_path / "src", tmp_path / "stage"
    (root / "book").mkdir(parents=True)
    good = make_notebook(
        ("code", "import math", []),
        ("code", "n = 1", ["parameters"]),
        ("code", "print('n is', n, math.pi > 3)", []),
    )
    bad = make_notebook(
        ("code", "import math", []),
        ("code", "n = 1", ["parameters"]),
        ("code", "raise ValueError(f'broken with n={n}')", []),
    )
    nbformat.write(good, root / "book" / "good.ipynb")
    nbformat.write(bad, root / "book" / "bad.ipynb")

    times = build_book.execute_chapters(root, stage, [root / "book" / "good.ipynb"], {"n": 7}, timeout=60)
    assert [(t.notebook, t.status, t.parameters) for t in times] == [("book/good.ipynb", "ok", {"n": 7})]
    executed = nbformat.read(stage / "book" / "good.ipynb", as_version=4)
    assert "n is 7 True" in executed.cells[-1].outputs[0].text
    assert (
        nbformat.read(root / "book" / "good.ipynb", as_version=4).cells[-1].outputs == []
    )  # source untouched

    with pytest.raises(ValueError, match="declares"):
        build_book.execute_chapters(root, stage, [root / "book" / "good.ipynb"], {"typo": 1}, timeout=60)
    notebooks = [root / "book" / "good.ipynb", root / "book" / "bad.ipynb"]
    with pytest.raises(
        build_book.ChapterError, match=r"book/bad.ipynb: cell \d+ raised ValueError: broken with n=1"
    ) as err:
        build_book.execute_chapters(root, stage, notebooks, {}, timeout=60)
    assert [(t.notebook, t.status) for t in err.value.times] == [
        ("book/good.ipynb", "ok"),
        ("book/bad.ipynb", "failed"),
    ]

    report = tmp_path / "times.json"
    build_book.write_report(report, err.value.times, None)
    data = json.loads(report.read_text())
    assert [c["status"] for c in data["chapters"]] == ["ok", "failed"] and data["build_seconds"] is None
    assert "| book/bad.ipynb | failed |" in report.with_suffix(".md").read_text()
