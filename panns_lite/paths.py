"""Where the project's shipped data lives, found relative to the package (never the cwd).

Notebooks run from ``book/`` under Jupyter Book and from the caller's folder under papermill,
so every path the package needs is derived from this file's location.
"""

from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
DATA_DIR: Path = REPO_ROOT / "data"
AUDIOSET_DIR: Path = DATA_DIR / "audioset"
SOURCES_DIR: Path = DATA_DIR / "sources"
CLASS_LABELS_CSV: Path = AUDIOSET_DIR / "class_labels_indices.csv"
ONTOLOGY_JSON: Path = AUDIOSET_DIR / "ontology.json"
