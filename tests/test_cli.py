"""Command-line options: out-of-range values are refused at parse time (exit 2, the option named)."""

import pytest

from panns_lite.__main__ import build_parser

TAG = ["tag", "clip.wav", "--checkpoint", "pretrained"]
TRAIN = ["train"]
PRUNE = ["prune", "model.pt", "--out", "p.pt"]


@pytest.mark.parametrize("argv, message", [
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
])
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
