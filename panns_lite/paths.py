"""Where the project's shipped data lives, found relative to the package (never the cwd).

Notebooks run from ``book/`` under Jupyter Book and from the caller's folder under papermill,
so every path the package needs is derived from this file's location. In a checkout (or an
editable install) that is the repository's ``data/``; a wheel installed with ``pip install``
carries the part of it needed at run time (labels, ontology, the pretrained tagger) as
``panns_lite/_data`` (see ``pyproject.toml``), and the source bank only exists in a checkout.

What the project writes (MiniSets, caches, runs) goes to the :func:`workspace`, which the
environment can move (``$PANNS_LITE_WORKSPACE``) and which is otherwise found the same way.
"""

import os
from pathlib import Path

PACKAGE_DIR: Path = Path(__file__).resolve().parent
REPO_ROOT: Path = PACKAGE_DIR.parent
IN_CHECKOUT: bool = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "data").is_dir()
"""True when the package runs from the repository (not from an installed wheel)."""
DATA_DIR: Path = REPO_ROOT / "data" if IN_CHECKOUT else PACKAGE_DIR / "_data"
AUDIOSET_DIR: Path = DATA_DIR / "audioset"
SOURCES_DIR: Path = DATA_DIR / "sources"
CLASS_LABELS_CSV: Path = AUDIOSET_DIR / "class_labels_indices.csv"
ONTOLOGY_JSON: Path = AUDIOSET_DIR / "ontology.json"
DEFAULT_WORKSPACE: Path = REPO_ROOT / "workspace" if IN_CHECKOUT else Path("workspace")
"""MiniSets, caches and runs: ``<repo>/workspace`` in a checkout, else ``./workspace``."""


def workspace() -> Path:
    """Where MiniSets, caches and runs go: ``$PANNS_LITE_WORKSPACE``, else ``<repo>/workspace`` in a
    checkout and ``./workspace`` for an installed package."""
    return Path(os.environ.get("PANNS_LITE_WORKSPACE", DEFAULT_WORKSPACE))


def workspace_relative(value: object) -> str:
    """A setting as the book prints it: a path under the :func:`workspace` relative to it (the
    reader's workspace lies elsewhere), anything else as ``str(value)``."""
    if isinstance(value, str | Path) and Path(value).is_relative_to(workspace()):
        return str(Path(value).relative_to(workspace()))
    return str(value)
