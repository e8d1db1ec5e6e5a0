"""The published numbers are typed once, in ``panns_lite.published``, and tabulated once more in the
book's reference appendix (§12 of ``book/reference.md``) with their sources. These tests keep the
two identical, entry for entry, and every source a key of the book's bibliography, so a reader who
follows a number from a chapter to the appendix finds the same value and where it was published.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from panns_lite.published import ALL, Published

BOOK = Path(__file__).resolve().parent.parent / "book"
TABLE_COLUMNS = ["table", "entry", "value", "source", "where in the source"]


def bibtex_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", (BOOK / "references.bib").read_text(encoding="utf-8"), re.M))


def published_rows(markdown: str) -> list[list[str]]:
    """The cells of each body row of the table in section 12 of the appendix (up to the next section)."""
    section = re.search(r"^## 12\.\s.*?(?=^## |\Z)", markdown, flags=re.M | re.S)
    assert section, "the appendix has no section 12"
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.group(0).splitlines()
        if line.startswith("|")
    ]
    assert rows and rows[0] == TABLE_COLUMNS and set("".join(rows[1])) <= set("-| ")
    return rows[2:]


def entry_label(key: object) -> str:
    """How the appendix writes a key: as printed, a tuple's parts joined by ", "."""
    return ", ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def parse_value(text: str) -> tuple[float, bool]:
    """A value cell → (number, read off a figure): "≈460,000" → (460000.0, True)."""
    return float(text.removeprefix("≈").replace(",", "")), text.startswith("≈")


@pytest.fixture(scope="module")
def rows() -> list[list[str]]:
    return published_rows((BOOK / "reference.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(ALL))
def test_each_table_names_a_bibliography_key_and_where(name: str) -> None:
    table = ALL[name]
    assert isinstance(table, Published) and len(table) > 0
    assert table.source in bibtex_keys(), f"{name}: {table.source!r} is not a key of book/references.bib"
    assert table.where.strip(), f"{name}: say where in {table.source} the numbers are"


def test_the_appendix_lists_every_published_number(rows: list[list[str]]) -> None:
    in_module = {
        (f"`{name}`", entry_label(key)): (float(value), table.approximate)
        for name, table in ALL.items()
        for key, value in table.items()
    }
    in_appendix = {(row[0], row[1]): parse_value(row[2]) for row in rows}
    assert len(in_appendix) == len(rows), "an entry is listed twice in the appendix"
    assert in_appendix == in_module


def test_the_appendix_gives_each_table_its_module_source(rows: list[list[str]]) -> None:
    cited: dict[str, set[str]] = {}
    for row in rows:
        cited.setdefault(row[0], set()).update(re.findall(r"\{cite:[pt]\}`([^`]+)`", row[3]))
    assert cited == {f"`{name}`": {table.source} for name, table in ALL.items()}


def test_the_value_parser_and_labels() -> None:
    assert parse_value("≈460,000") == (460000.0, True)
    assert parse_value("0.380") == (0.38, False)
    assert entry_label((0.25, "MACs")) == "0.25, MACs" and entry_label(0.5) == "0.5"
    with pytest.raises(AssertionError, match="no section 12"):
        published_rows("# Reference\n\n## 11. Other\n")
