"""What ``pip install .`` gets: every import of the package declared, core paths free of extras, data
in the wheel."""

import ast
import subprocess
import sys
import tomllib
import zipfile

import pytest

from panns_lite.paths import PACKAGE_DIR, REPO_ROOT

DISTRIBUTION = {"sklearn": "scikit-learn", "IPython": "ipython"}
"""Import names that differ from their distribution's name."""
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def declared(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        name = requirement
        for sign in "<>=![; ":
            name = name.split(sign)[0]
        names.add(name.lower().replace("_", "-"))
    return names


def third_party_imports() -> dict[str, set[str]]:
    """Top-level third-party module → the package modules that import it (anywhere, lazy imports included)."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in {"panns_lite", "__future__"}:
                    found.setdefault(top, set()).add(path.relative_to(PACKAGE_DIR).as_posix())
    return found


def test_every_import_of_the_package_is_declared_in_pyproject():
    project = PYPROJECT["project"]
    available = declared(project["dependencies"]) | {
        n for extra in project["optional-dependencies"].values() for n in declared(extra)
    }
    missing = {
        module: sorted(users)
        for module, users in third_party_imports().items()
        if DISTRIBUTION.get(module, module).lower() not in available
    }
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_figures_and_widgets_are_imported_only_by_the_book_helpers():
    imports = third_party_imports()
    for module in ("matplotlib", "ipywidgets", "IPython"):
        outside = sorted(p for p in imports.get(module, ()) if not p.startswith("book/"))
        assert not outside, f"{module} imported outside panns_lite.book: {outside}"


def test_tagging_training_and_embedding_work_without_the_extras():
    """A plain ``pip install .`` (no extras) must run the command line, training, HEAR and calibration:
    their modules import with every extra made unimportable, as if it were not installed."""
    extras = {DISTRIBUTION.get(m, m) for m in third_party_imports()} - declared(
        PYPROJECT["project"]["dependencies"]
    )
    inverse = {v: k for k, v in DISTRIBUTION.items()}
    blocked = sorted(inverse.get(e, e) for e in extras)
    assert {"matplotlib", "pandas", "onnxruntime"} <= set(blocked)  # the check below is not vacuous
    modules = [
        "panns_lite.__main__",
        "panns_lite.inference",
        "panns_lite.train",
        "panns_lite.train_config",
        "panns_lite.runs",
        "panns_lite.distributed",
        "panns_lite.hear",
        "panns_lite.calibration",
        "panns_lite.pretraining",
        "panns_lite.sed",
        "panns_lite.pruning",
    ]
    code = f"""
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")

sys.meta_path.insert(0, NotInstalled())
for module in {modules!r}:
    __import__(module)
from panns_lite.__main__ import build_parser
build_parser()
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_the_wheel_carries_the_labels_and_the_pretrained_tagger(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("panns_lite-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in [
        "audioset/class_labels_indices.csv",
        "audioset/ontology.json",
        "models/pretrained.pt",
        "models/pretrained.json",
    ]:
        assert f"panns_lite/_data/{shipped}" in names
    assert "panns_lite/__main__.py" in names and "panns_lite/hear.py" in names
    assert not any("/sources/" in n for n in names)  # the source bank stays in the repository
