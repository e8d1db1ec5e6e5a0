"""Workspace paths as the book prints them (panns_lite.paths.workspace_relative)."""

from pathlib import Path

from panns_lite.paths import workspace, workspace_relative


def test_paths_under_the_workspace_print_relative_and_the_rest_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("PANNS_LITE_WORKSPACE", str(tmp_path / "ws"))
    assert workspace() == tmp_path / "ws"
    assert workspace_relative(str(tmp_path / "ws" / "runs" / "ci")) == "runs/ci"
    assert workspace_relative(tmp_path / "ws" / "hdf5s") == "hdf5s"
    assert workspace_relative(str(tmp_path / "elsewhere")) == str(tmp_path / "elsewhere")
    assert workspace_relative("hdf5s/eval.h5") == "hdf5s/eval.h5"  # relative already: not under it
    assert workspace_relative(0.25) == "0.25" and workspace_relative(None) == "None"
    assert workspace_relative(Path("x")) == "x"
