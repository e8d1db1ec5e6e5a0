"""Bad input through the real command line, one process per case, as a user meets it (README,
"When something is wrong"): every case exits 2 with one line naming the file or option and what
to do, shows no traceback, and leaves every file the user made as it was."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from panns_lite.audioset import Segment, write_segments
from panns_lite.checkpoints import save_checkpoint
from panns_lite.models import Cnn14, scaled_widths
from panns_lite.train import train
from panns_lite.train_config import preset

SR = 32000


@pytest.fixture(scope="module")
def files(tiny_packed, tmp_path_factory) -> dict[str, Path]:
    """A user's folder: audio (good and bad), CSVs, checkpoints (good and damaged), a finished run."""
    root = tmp_path_factory.mktemp("user")
    audio = root / "audio"
    audio.mkdir()
    rng = np.random.default_rng(0)
    good = rng.uniform(-0.3, 0.3, SR).astype(np.float32)
    sf.write(audio / "Ygoodclip__1.wav", good, SR, subtype="FLOAT")
    for name, value in (("nan", np.nan), ("inf", np.inf), ("loud", 4e3)):
        x = good.copy()
        x[SR // 2] = value
        sf.write(root / f"{name}.wav", x, SR, subtype="FLOAT")
    csv = root / "segments.csv"
    write_segments(csv, [Segment("goodclip__1", 0.0, 10.0, ("/m/09x0r",))], "by the test suite")
    twice = root / "twice.csv"
    write_segments(
        twice,
        [Segment("goodclip__1", 0.0, 10.0, ("/m/09x0r",)), Segment("goodclip__1", 0.0, 10.0, ("/m/04rlf",))],
        "by the test suite",
    )
    torch.manual_seed(0)
    model = Cnn14(widths=scaled_widths(1 / 16))
    checkpoint = save_checkpoint(model, root / "model.pt")
    with torch.no_grad():
        model.conv_block5.conv1.weight[0, 0, 0, 0] = float("inf")
    poisoned = save_checkpoint(model, root / "poisoned.pt")
    payload = torch.load(checkpoint, weights_only=True)
    payload["architecture"]["kwargs"]["widths"] = [10**6] * 12
    huge = root / "huge.pt"
    torch.save(payload, huge)
    (root / "empty.pt").touch()
    truncated = root / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:5000])
    (root / "empty.onnx").touch()
    run = root / "run"
    train(
        preset(
            "ci",
            train_data=str(tiny_packed["train"]),
            eval_data=str(tiny_packed["eval"]),
            out_dir=str(run),
            width=1 / 16,
            batch_size=4,
            iterations=2,
            eval_every=2,
            progress=False,
            threads=2,
        )
    )
    return {
        "root": root,
        "audio": audio,
        "csv": csv,
        "twice": twice,
        "model": checkpoint,
        "poisoned": poisoned,
        "huge": huge,
        "empty": root / "empty.pt",
        "truncated": truncated,
        "onnx": root / "empty.onnx",
        "run": run,
        **{k: root / f"{k}.wav" for k in ("nan", "inf", "loud")},
        **tiny_packed,
    }


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".train.lock"
    }


TRAIN = [
    "train",
    "--preset",
    "ci",
    "--width",
    "0.0625",
    "--batch-size",
    "4",
    "--iterations",
    "2",
    "--no-progress",
]
CASES = {
    # data loss
    "pack onto its own CSV": (
        lambda f: ["pack", f["csv"], f["audio"], f["csv"]],
        "would overwrite the input",
    ),
    "prune onto its input": (
        lambda f: ["prune", f["model"], "--ratio", "0.5", "--out", f["model"]],
        "would overwrite the input",
    ),
    "export into a folder path": (lambda f: ["export", f["model"], "--out", f["root"]], "is a directory"),
    "export into a missing folder": (
        lambda f: ["export", f["model"], "--out", f["root"] / "no" / "m.onnx"],
        "does not exist; create it first",
    ),
    "tag --sed onto the audio it reads": (
        lambda f: [
            "tag",
            f["audio"] / "Ygoodclip__1.wav",
            "--checkpoint",
            f["model"],
            "--sed",
            f["audio"] / "Ygoodclip__1.wav",
        ],
        "would overwrite the input",
    ),
    "train into a folder holding a run": (
        lambda f: [*TRAIN, "--train-data", f["train"], "--eval-data", f["eval"], "--out", f["run"]],
        "holds a run",
    ),
    "train with --out a file": (
        lambda f: [*TRAIN, "--train-data", f["train"], "--eval-data", f["eval"], "--out", f["csv"]],
        "is a file, not a run folder",
    ),
    "embed onto an existing file": (
        lambda f: ["embed", f["audio"], "--out", f["csv"]],
        "exists; pass --overwrite to replace it",
    ),
    "embed into a missing folder": (
        lambda f: ["embed", f["audio"], "--out", f["root"] / "no" / "e.h5"],
        "give a file name in an existing folder",
    ),
    "finetune a folder without labels": (
        lambda f: ["finetune", f["audio"], "--out", f["root"] / "ft"],
        "labels.csv does not exist; write it with the columns file,labels",
    ),
    "int8 export without training clips": (
        lambda f: ["export", f["model"], "--out", f["root"] / "q.onnx", "--int8"],
        "--int8 needs --format onnx, --mode waveform and --calibration",
    ),
    # silently wrong results
    "tag NaN audio": (
        lambda f: ["tag", f["nan"], "--checkpoint", f["model"]],
        "is nan; audio must be finite",
    ),
    "tag infinite audio": (
        lambda f: ["tag", f["inf"], "--checkpoint", f["model"], "--json"],
        "is inf; audio must",
    ),
    "tag absurd amplitudes": (
        lambda f: ["tag", f["loud"], "--checkpoint", f["model"]],
        "is 4000; audio must be",
    ),
    "checkpoint with an infinite weight": (
        lambda f: ["tag", f["nan"], "--checkpoint", f["poisoned"]],
        "tensor 'conv_block5.conv1.weight' holds NaN or infinite values",
    ),
    "segment CSV listing a clip twice": (
        lambda f: ["pack", f["twice"], f["audio"], f["root"] / "out.h5"],
        "is listed twice (lines 4 and 5)",
    ),
    "median out of range": (
        lambda f: ["tag", f["nan"], "--checkpoint", "pretrained", "--sed", "e.csv", "--median", "-1"],
        "--median: -1 is out of range",
    ),
    "chunk of NaN seconds": (
        lambda f: ["tag", f["nan"], "--checkpoint", "pretrained", "--chunk-seconds", "nan"],
        "is not a finite number",
    ),
    "zero micro-batches": (lambda f: [*TRAIN, "--micro-batches", "0"], "--micro-batches: 0 is out of range"),
    # tracebacks
    "a device this machine lacks": (
        lambda f: ["tag", f["nan"], "--checkpoint", f["model"], "--device", "cuda:7"],
        "is not available here (this machine has: cpu",
    ),
    "a folder as checkpoint": (lambda f: ["export", f["root"], "--out", f["root"] / "x.onnx"], "is a folder"),
    "an empty checkpoint": (
        lambda f: ["prune", f["empty"], "--ratio", "0.5", "--out", f["root"] / "p.pt"],
        "the file is empty",
    ),
    "a truncated checkpoint": (
        lambda f: ["tag", f["nan"], "--checkpoint", f["truncated"]],
        "cannot read checkpoint",
    ),
    "widths that disagree with the tensors": (
        lambda f: ["tag", f["nan"], "--checkpoint", f["huge"]],
        "shape mismatch",
    ),
    "an empty ONNX file": (lambda f: ["tag", f["nan"], "--checkpoint", f["onnx"]], "cannot load ONNX model"),
    "a missing checkpoint": (
        lambda f: ["tag", f["nan"], "--checkpoint", f["root"] / "nope.pt"],
        "does not exist",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_2_and_nothing_is_lost(case, files):
    build, message = CASES[case]
    before = snapshot(files["root"])
    argv = [sys.executable, "-m", "panns_lite", *map(str, build(files))]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        cwd=files["root"],
        timeout=600,
        env={**os.environ, "PANNS_LITE_DEBUG": "0", "CUDA_VISIBLE_DEVICES": ""},
    )
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(errors) == 1 and message in errors[0], done.stderr
    assert snapshot(files["root"]) == before
