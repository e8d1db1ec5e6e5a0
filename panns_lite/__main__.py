"""Command line: ``python -m panns_lite <command> …`` (also installed as ``panns-lite``).

Each command is a thin wrapper over the package API, so that what the CLI does is exactly what
notebooks and tests call.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def cmd_build_miniset(args: argparse.Namespace) -> int:
    from dataclasses import replace
    import time

    from panns_lite.miniset import PRESETS, build_miniset

    config = PRESETS[args.preset] if args.seed is None else replace(PRESETS[args.preset], seed=args.seed)
    start = time.perf_counter()
    summary = build_miniset(args.out, config)
    print(f"MiniSet '{args.preset}' (seed {config.seed}) -> {args.out}: "
          f"{summary.clips['balanced_train']} train / {summary.clips['eval']} eval clips from "
          f"{summary.recordings['balanced_train']} / {summary.recordings['eval']} recordings, "
          f"{len(summary.class_counts['balanced_train'])} / {len(summary.class_counts['eval'])} classes present; "
          f"transfer set {summary.transfer_clips} clips, {len(summary.transfer_classes)} classes; "
          f"{time.perf_counter() - start:.1f} s")
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    from panns_lite.packing import pack

    report = pack(args.csv, args.audio_dir, args.out, unknown_labels="skip" if args.skip_unknown_labels else "error",
                  resume=not args.restart, progress=not args.quiet)
    print(report.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="panns_lite", description="PANNs and E-PANNs, reproduced end to end.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    p = add("build-miniset", cmd_build_miniset, "Build the MiniSet (AudioSet layout) from the shipped source bank.")
    p.add_argument("--preset", choices=["ci", "laptop"], default="ci")
    p.add_argument("--out", type=Path, required=True, help="output folder (replaced if it exists)")
    p.add_argument("--seed", type=int, default=None, help="override the preset's seed")

    p = add("pack", cmd_pack, "Pack a segment CSV and its audio folder into a PANNs-layout HDF5 file.")
    p.add_argument("csv", type=Path, help="AudioSet segment CSV (e.g. balanced_train_segments.csv)")
    p.add_argument("audio_dir", type=Path, help="folder with Y<YTID>.wav (or any soundfile-readable) files")
    p.add_argument("out", type=Path, help="output .h5 file (written atomically)")
    p.add_argument("--skip-unknown-labels", action="store_true",
                   help="skip (and report) rows with label ids outside the 527 classes instead of failing")
    p.add_argument("--restart", action="store_true", help="ignore a partial file left by an interrupted run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
