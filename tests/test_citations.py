"""Citations a reader can follow: every ``reference §N`` resolves to a section of the book's appendix.

Docstrings, comments, tests, benchmarks, the README and the chapters justify constants and recipes
by citing the book's reference appendix (``book/reference.md``) as ``reference §N``. A citation of
a section that does not exist, or was renumbered, sends the reader nowhere, so every one is resolved
here against the appendix's numbered headings; each heading must carry its stable MyST label
(``ref-10-4`` for 10.4), unique on the page, so the chapters can link to it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APPENDIX = Path("book") / "reference.md"
CITING_DIRS = ("panns_lite", "tests", "benchmarks", "scripts")
NUMBER = r"\d+(?:\.\d+)?"
# "reference §2", "reference §2, §4", "reference §4–7", "reference §10.2 and §10.3".
CITATION = re.compile(rf"reference §({NUMBER})((?:(?:,\s*|\s+and\s+)§{NUMBER}|[–-]§?{NUMBER})*)")
CONTINUATION = re.compile(rf"(,\s*|\s+and\s+|[–-])§?({NUMBER})")
HEADING = re.compile(rf"^#{{1,6}}\s+({NUMBER})\.?\s")
LABEL = re.compile(r"^\((?P<label>[^)\s]+)\)=\s*$")
# Joined at run time (a literal "a" + "b" would be folded into the bytecode) so that neither this
# file nor its compiled form mentions the private notes it guards against: the old notes file and
# the folder of notes that lives beside the repository, not in it.
OLD_NOTES = ("_".join(("panns", "facts")), "/".join(("shared", "reference")))


@dataclass(frozen=True)
class Citation:
    where: str  # "path:line" or "book/x.ipynb cell N line M"
    section: str


def cited_sections(first: str, rest: str) -> list[str]:
    """The sections one citation names: a list adds sections, an integer range ``4–7`` spans them."""
    sections = [first]
    for joiner, number in CONTINUATION.findall(rest):
        previous = sections[-1]
        if joiner in "–-" and number.isdigit() and previous.isdigit():
            sections += [str(n) for n in range(int(previous) + 1, int(number) + 1)]
        else:
            sections.append(number)
    return sections


def citations_in(text: str, where: str) -> list[Citation]:
    """Every section cited in ``text``, with ``where`` plus the line number (1-based)."""
    return [
        Citation(f"{where}{line_no}", section)
        for line_no, line in enumerate(text.splitlines(), start=1)
        for match in CITATION.finditer(line)
        for section in cited_sections(match.group(1), match.group(2))
    ]


def citing_texts(root: Path) -> list[tuple[str, str]]:
    """(where-prefix, text) of every place citations may sit: the README, every UTF-8 file under
    the package, tests, benchmarks and scripts, and each cell of the chapters (``book/*.ipynb``)."""
    files = [root / "README.md"] + [
        path
        for folder in CITING_DIRS
        for path in sorted((root / folder).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]
    texts = []
    for path in files:
        try:
            texts.append((f"{path.relative_to(root)}:", path.read_text(encoding="utf-8")))
        except (FileNotFoundError, UnicodeDecodeError):
            continue  # no README in a scratch tree, or a binary file: nothing a reader reads as text
    for notebook in sorted((root / "book").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells, start=1):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            texts.append((f"{notebook.relative_to(root)} cell {index} line ", source))
    return texts


def appendix_sections(root: Path) -> dict[str, str | None]:
    """Section number → the MyST label on the line right above its heading (None when missing)."""
    lines = (root / APPENDIX).read_text(encoding="utf-8").splitlines()
    sections: dict[str, str | None] = {}
    for i, line in enumerate(lines):
        if heading := HEADING.match(line):
            label = LABEL.match(lines[i - 1]) if i > 0 else None
            sections[heading.group(1)] = label.group("label") if label else None
    return sections


def unresolved(root: Path) -> list[str]:
    """One message per citation whose section the appendix lacks, naming the file and line."""
    sections = appendix_sections(root)
    return [
        f"{c.where}: reference §{c.section} is not a section of {APPENDIX}"
        for where, text in citing_texts(root)
        for c in citations_in(text, where)
        if c.section not in sections
    ]


def test_every_citation_resolves_to_a_section_of_the_appendix() -> None:
    found = [c for where, text in citing_texts(REPO) for c in citations_in(text, where)]
    assert len(found) > 100, "the collector found too few citations: is the pattern still the one in use?"
    assert unresolved(REPO) == []


def test_the_private_notes_are_never_cited() -> None:
    texts = citing_texts(REPO) + [
        (f"{p.relative_to(REPO)}:", p.read_text(encoding="utf-8"))
        for p in sorted((REPO / "book").glob("*.md"))
    ]
    mentions = [
        f"{where}{n}"
        for where, text in texts
        for n, line in enumerate(text.splitlines(), start=1)
        if any(old in line for old in OLD_NOTES)
    ]
    assert mentions == [], f"cite the book's appendix as `reference §N` instead: {mentions}"


def test_every_numbered_heading_has_its_own_unique_label() -> None:
    lines = (REPO / APPENDIX).read_text(encoding="utf-8").splitlines()
    labels = Counter(m.group("label") for line in lines if (m := LABEL.match(line)))
    assert [label for label, n in labels.items() if n > 1] == []
    sections = appendix_sections(REPO)
    assert {"1", "2", "10", "10.4", "12"} <= set(sections)
    wrong = {n: label for n, label in sections.items() if label != "ref-" + n.replace(".", "-")}
    assert wrong == {}, "each numbered heading needs the label ref-N-M right above it"
    assert set(labels) == set(sections.values()), "a label that labels no numbered heading"


def test_the_appendix_cites_only_entries_of_the_bibliography() -> None:
    bib = (REPO / "book" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", bib, flags=re.M))
    cited = set(re.findall(r"\{cite:[pt]\}`([^`]+)`", (REPO / APPENDIX).read_text(encoding="utf-8")))
    cited = {key.strip() for group in cited for key in group.split(",")}
    assert cited and cited <= keys, sorted(cited - keys)


def test_cited_sections_reads_lists_and_ranges() -> None:
    assert citations_in("see reference §2, §4 and reference §10.2.", "f:") == [
        Citation("f:1", "2"),
        Citation("f:1", "4"),
        Citation("f:1", "10.2"),
    ]
    assert [c.section for c in citations_in("(reference §4–7)", "f:")] == ["4", "5", "6", "7"]
    assert [c.section for c in citations_in("(reference §10.2 and §10.3)", "f:")] == ["10.2", "10.3"]
    # A number after a comma is not a section unless it has its own §: "reference §2, 9,920 samples".
    assert [c.section for c in citations_in("(reference §2, 9,920 samples)", "f:")] == ["2"]


def test_the_resolver_reports_a_missing_section_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    (tmp_path / APPENDIX).write_text(
        "# Reference\n\n(ref-1)=\n## 1. One\n\n(ref-1-1)=\n### 1.1 Sub\n", encoding="utf-8"
    )
    (tmp_path / "panns_lite").mkdir()
    cite = "reference " + "§"  # split so that this test file cites no section itself
    (tmp_path / "panns_lite" / "mod.py").write_text(
        f'"""Fine ({cite}1.1).\n\nAlso fine ({cite}1).\n"""\nX = 1  # {cite}2, §1\n', encoding="utf-8"
    )
    cells = [{"cell_type": "markdown", "source": ["Intro.\n", f"See {cite}1–3.\n"]}]
    (tmp_path / "book" / "ch.ipynb").write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert unresolved(tmp_path) == [
        f"panns_lite/mod.py:5: {cite}2 is not a section of {APPENDIX}",
        f"book/ch.ipynb cell 1 line 2: {cite}2 is not a section of {APPENDIX}",
        f"book/ch.ipynb cell 1 line 2: {cite}3 is not a section of {APPENDIX}",
    ]
