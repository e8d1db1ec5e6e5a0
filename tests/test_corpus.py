"""``embed FOLDER``: one HDF5 file of embeddings equal to Tagger's, resumable, unreadable files listed."""

import h5py
import numpy as np
import pytest
import soundfile as sf

from panns_lite import corpus
from panns_lite.__main__ import main
from panns_lite.inference import Tagger
from panns_lite.pretraining import pretrained


@pytest.fixture
def folder(tmp_path):
    """Five readable files (two rates, mono and stereo, a subfolder), one corrupt, one not audio."""
    rng = np.random.default_rng(0)
    root = tmp_path / "sounds"
    (root / "sub").mkdir(parents=True)
    for i, (rate, seconds, channels) in enumerate(
        [(32000, 3.0, 1), (44100, 1.5, 2), (16000, 2.0, 1), (32000, 0.7, 1), (48000, 2.5, 1)]
    ):
        x = 0.1 * rng.standard_normal((int(rate * seconds), channels)).astype(np.float32)
        sf.write(root / ("sub" if i % 2 else "") / f"clip{i}.{'flac' if i == 2 else 'wav'}", x, rate)
    (root / "broken.WAV").write_bytes(b"RIFF, but nothing else")
    (root / "notes.txt").write_text("not audio")
    return root


def read(path):
    with h5py.File(path, "r") as h5:
        data = {k: h5[k][()] for k in h5}
        data["name"] = h5["name"].asstr()[()].tolist()
        data["skipped"] = [tuple(s) for s in h5["skipped"].asstr()[()]]
        return data, dict(h5.attrs)


def test_rows_equal_tagger_embed_and_frame_embeddings_and_the_broken_file_is_listed(folder, tmp_path, capsys):
    out = tmp_path / "emb.h5"
    assert main(["embed", str(folder), "--out", str(out), "--frame-every", "32", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "embedded 5 files" in printed and "broken.WAV: cannot decode" in printed
    data, attrs = read(out)
    assert data["name"] == ["clip0.wav", "clip2.flac", "clip4.wav", "sub/clip1.wav", "sub/clip3.wav"]
    tagger = Tagger(pretrained())
    for i, name in enumerate(data["name"]):
        np.testing.assert_array_equal(data["embedding"][i], tagger.embed(folder / name))
        frames = data["frame_embedding"][data["frame_offset"][i] : data["frame_offset"][i + 1]]
        np.testing.assert_array_equal(frames, tagger.frame_embeddings(folder / name, every=32))
    assert [s[0] for s in data["skipped"]] == ["broken.WAV"]
    assert attrs["model"] == "pretrained" and attrs["embed_dim"] == data["embedding"].shape[1]
    assert attrs["frame_hop_seconds"] == pytest.approx(0.32) and "_done" not in attrs
    assert not (tmp_path / "emb.h5.partial").exists()


def test_an_interrupted_run_resumes_after_its_last_commit_and_ends_equal(folder, tmp_path, monkeypatch):
    whole = corpus.embed_folder(folder, tmp_path / "whole.h5")
    monkeypatch.setattr(corpus, "COMMIT_EVERY", 2)
    real_embed, calls = Tagger.embed, {"n": 0}

    def embed_then_stop(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_embed(self, *args, **kwargs)

    monkeypatch.setattr(Tagger, "embed", embed_then_stop)
    with pytest.raises(KeyboardInterrupt):
        corpus.embed_folder(folder, tmp_path / "cut.h5")
    assert not (tmp_path / "cut.h5").exists() and (tmp_path / "cut.h5.partial").exists()
    monkeypatch.setattr(Tagger, "embed", real_embed)
    resumed = corpus.embed_folder(folder, tmp_path / "cut.h5")
    assert resumed.resumed_files == 3 and resumed.embedded == whole.embedded == 5  # broken.WAV, clip0, clip2
    a, b = read(tmp_path / "whole.h5")[0], read(tmp_path / "cut.h5")[0]
    assert a["name"] == b["name"] and a["skipped"] == b["skipped"]
    np.testing.assert_array_equal(a["embedding"], b["embedding"])


def test_a_partial_file_of_other_files_is_started_afresh(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "COMMIT_EVERY", 1)
    monkeypatch.setattr(Tagger, "embed", lambda self, *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        corpus.embed_folder(folder, tmp_path / "emb.h5")
    monkeypatch.undo()
    (folder / "clip0.wav").unlink()
    report = corpus.embed_folder(folder, tmp_path / "emb.h5")
    assert report.resumed_files == 0 and report.embedded == 4


@pytest.mark.parametrize(
    "case, message",
    [
        ("exists", "emb.h5 exists; pass --overwrite to replace it"),
        ("no folder", "is not a folder; give the folder of audio files"),
        ("no audio", "holds no audio files"),
    ],
)
def test_bad_input_is_one_line_and_nothing_is_overwritten(folder, tmp_path, capsys, case, message):
    out = tmp_path / "emb.h5"
    target = folder
    if case == "exists":
        out.write_bytes(b"the user's file")
    elif case == "no folder":
        target = tmp_path / "absent"
    else:
        target = tmp_path / "empty"
        target.mkdir()
    assert main(["embed", str(target), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    if case == "exists":
        assert out.read_bytes() == b"the user's file"
