"""Command-line options: out-of-range values are refused at parse time (exit 2, the option named)."""

import pytest

from panns_lite.__main__ import build_parser

TAG = ["tag", "clip.wav", "--checkpoint", "pretrained"]
TRAIN = ["train"]
PRUNE = ["prune", "model.pt", "--out", "p.pt"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (TAG + ["--median", "-1"], "--median: -1 is out of range: must be ≥ 0"),
        (TAG + ["--chunk-seconds", "0"], "--chunk-seconds: 0 is out of range: must be > 0"),
        (TAG + ["--chunk-seconds", "inf"], "--chunk-seconds: 'inf' is not a finite number"),
        (TAG + ["--chunk-seconds", "nan"], "--chunk-seconds: 'nan' is not a finite number"),
        (TAG + ["--top-k", "0"], "--top-k: 0 is out of range: must be ≥ 1"),
        (TAG + ["--top-k", "2.5"], "--top-k: '2.5' is not an integer"),
        (TRAIN + ["--micro-batches", "0"], "--micro-batches: 0 is out of range"),
        (TRAIN + ["--iterations", "-5"], "--iterations: -5 is out of range: must be ≥ 0"),
        (TRAIN + ["--batch-size", "0"], "--batch-size: 0 is out of range"),
        (TRAIN + ["--lr", "0"], "--lr: 0 is out of range: must be > 0"),
        (TRAIN + ["--dropout", "1"], "--dropout: 1 is out of range: must be ≥ 0 and < 1"),
        (TRAIN + ["--width", "-0.5"], "--width: -0.5 is out of range"),
        (TRAIN + ["--seed", "-1"], "--seed: -1 is out of range"),
        (PRUNE + ["--ratio", "1"], "--ratio: 1 is out of range: must be ≥ 0 and < 1"),
        (PRUNE + ["--ratio", "x"], "--ratio: 'x' is not a number"),
    ],
)
def test_out_of_range_options_are_refused_at_parse_time(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_in_range_options_parse_to_their_values():
    args = build_parser().parse_args(TAG + ["--median", "0", "--chunk-seconds", "2.5", "--top-k", "3"])
    assert (args.median, args.chunk_seconds, args.top_k) == (0.0, 2.5, 3)
    args = build_parser().parse_args(PRUNE + ["--ratio", "0"])
    assert args.ratio == 0.0


def test_an_output_that_would_overwrite_an_input_or_cannot_be_written_is_refused_before_any_work(
    tmp_path, capsys
):
    import torch

    from panns_lite.__main__ import main
    from panns_lite.checkpoints import save_checkpoint
    from panns_lite.models import Cnn14, scaled_widths

    torch.manual_seed(0)
    model = save_checkpoint(Cnn14(widths=scaled_widths(1 / 16)), tmp_path / "model.pt")
    before = model.read_bytes()
    csv = tmp_path / "eval_segments.csv"
    csv.write_text("# YTID, start_seconds, end_seconds, positive_labels\n")
    (tmp_path / "audio").mkdir()
    cases = [
        (
            ["prune", str(model), "--ratio", "0.5", "--out", str(tmp_path / "." / "model.pt")],
            "overwrite the input",
        ),
        (["export", str(model), "--out", str(model)], "overwrite the input"),
        (["pack", str(csv), str(tmp_path / "audio"), str(csv)], "overwrite the input"),
        (["pack", str(csv), str(tmp_path / "audio"), str(tmp_path / "audio")], "overwrite the input"),
        (["export", str(model), "--out", str(tmp_path)], "is a directory"),
        (
            ["prune", str(model), "--ratio", "0.5", "--out", str(tmp_path / "no" / "such" / "p.pt")],
            "does not exist",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert model.read_bytes() == before and csv.read_text().startswith("# YTID")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio", "eval_segments.csv", "model.pt"]


def test_a_device_this_machine_lacks_is_refused_at_parse_time_listing_what_it_has(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for argv in (TAG + ["--device", "cuda"], TRAIN + ["--device", "cuda:1"], TAG + ["--device", "tpu"]):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(argv)
        assert exit_.value.code == 2
        assert "is not available here (this machine has: cpu" in capsys.readouterr().err
    assert build_parser().parse_args(TRAIN + ["--device", "auto"]).device == "auto"


def fail_export(monkeypatch, cli, error: BaseException) -> None:
    """Make the ``export`` subcommand raise ``error`` (its handler replaced in the command table)."""

    def run(args):
        raise error

    commands = tuple(c._replace(run=run) if c.name == "export" else c for c in cli.COMMANDS)
    monkeypatch.setattr(cli, "COMMANDS", commands)


@pytest.mark.parametrize(
    "error, message",
    [
        (
            OSError(28, "No space left on device", "/data/out.h5"),
            "error: the disk is full (/data/out.h5); free some space",
        ),
        (PermissionError(13, "Permission denied", "/root/x.pt"), "error: /root/x.pt: permission denied"),
        (IsADirectoryError(21, "Is a directory", "runs"), "error: runs: is a directory; check the path"),
        (ValueError("clip.wav: NaN samples; fix the file"), "error: clip.wav: NaN samples; fix the file"),
    ],
)
def test_expected_failures_are_one_line_and_exit_2_and_debug_shows_the_traceback(
    error, message, capsys, monkeypatch
):
    from panns_lite import __main__ as cli

    fail_export(monkeypatch, cli, error)
    assert cli.main(["export", "model.pt", "--out", "model.onnx"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    with pytest.raises(type(error)):
        cli.main(["--debug", "export", "model.pt", "--out", "model.onnx"])
    monkeypatch.setenv("PANNS_LITE_DEBUG", "1")
    with pytest.raises(type(error)):
        cli.main(["export", "model.pt", "--out", "model.onnx"])


def test_an_unexpected_exception_keeps_its_traceback(monkeypatch):
    from panns_lite import __main__ as cli

    fail_export(monkeypatch, cli, ZeroDivisionError("a bug"))
    with pytest.raises(ZeroDivisionError):
        cli.main(["export", "model.pt", "--out", "model.onnx"])
