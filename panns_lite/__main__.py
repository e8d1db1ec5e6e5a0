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


def cmd_prepare(args: argparse.Namespace) -> int:
    from panns_lite.miniset import prepare_miniset
    from panns_lite.train import workspace

    out = args.out or workspace() / f"miniset-{args.preset}"
    for split, path in prepare_miniset(out, args.preset).items():
        print(f"{split}: {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from panns_lite.augment import AugmentConfig
    from panns_lite.miniset import prepare_miniset
    from panns_lite.train import preset, train, workspace

    overrides = {k: v for k, v in {
        "train_data": args.train_data, "eval_data": args.eval_data, "out_dir": args.out,
        "iterations": args.iterations, "eval_every": args.eval_every, "checkpoint_every": args.checkpoint_every,
        "width": args.width, "batch_size": args.batch_size, "lr": args.lr, "sampler": args.sampler,
        "seed": args.seed, "init_checkpoint": args.init_checkpoint, "new_head": args.new_head,
        "micro_batches": args.micro_batches, "device": args.device,
    }.items() if v is not None}
    if args.freeze_base:
        overrides["freeze_base"] = True
    if args.no_mixup or args.no_spec_augment:
        overrides["augment"] = AugmentConfig(mixup=not args.no_mixup, spec_augment=not args.no_spec_augment)
    if args.no_progress:
        overrides["progress"] = False
    config = preset(args.preset, **overrides)
    if args.preset in ("ci", "laptop") and not (args.train_data or args.eval_data):
        prepare_miniset(workspace() / f"miniset-{args.preset}", args.preset)
    result = train(config, resume=args.resume)
    if result.model_path is not None:
        last = result.statistics[-1]
        print(f"iteration {result.iteration}: eval mAP {last['mAP']:.4f} over {last['classes']} classes, "
              f"mAUC {last['mAUC']:.4f}, d' {last['d_prime']:.3f}; {result.wall_seconds:.0f} s; "
              f"model saved to {result.model_path}")
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

    p = add("prepare", cmd_prepare, "Build (if needed) and pack a MiniSet preset; prints the HDF5 paths.")
    p.add_argument("--preset", choices=["ci", "laptop"], default="ci")
    p.add_argument("--out", type=Path, default=None, help="default: <workspace>/miniset-<preset>")

    p = add("train", cmd_train, "Train a tagger with a preset (ci, laptop, paper), optionally resuming.")
    p.add_argument("--preset", choices=["ci", "laptop", "paper"], default="ci")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    p.add_argument("--train-data", help="packed HDF5 file (default: the preset's MiniSet)")
    p.add_argument("--eval-data", help="packed HDF5 file (default: the preset's MiniSet)")
    p.add_argument("--out", help="run folder (checkpoint, statistics, model)")
    p.add_argument("--iterations", type=int)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--width", type=float, help="width multiplier of the model's conv layers")
    p.add_argument("--batch-size", type=int, help="clips per step after mixup (PANNs: 32)")
    p.add_argument("--lr", type=float)
    p.add_argument("--sampler", choices=["balanced", "shuffle", "alternate"])
    p.add_argument("--seed", type=int)
    p.add_argument("--init-checkpoint", help="start from this checkpoint (official, E-PANNs or ours)")
    p.add_argument("--new-head", type=int, help="replace the classifier by a fresh one with this many classes")
    p.add_argument("--freeze-base", action="store_true", help="train the classifier only")
    p.add_argument("--micro-batches", type=int, help="split each process's batch into this many passes")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--no-mixup", action="store_true")
    p.add_argument("--no-spec-augment", action="store_true")
    p.add_argument("--no-progress", action="store_true")

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
