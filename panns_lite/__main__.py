"""Command line: ``python -m panns_lite <command> …`` (also installed as ``panns-lite``).

Each command is a thin wrapper over the package API, so that what the CLI does is exactly what
notebooks and tests call.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

    from panns_lite.calibration import Thresholds
    from panns_lite.events import Event
    from panns_lite.inference import Tag, Tagger


def bounded(
    kind: type,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[str], Any]:
    """An argparse ``type`` that parses ``kind`` and rejects NaN, infinities and values outside the
    bounds at parse time (exit 2 with the option named), before any work starts."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a{'n integer' if kind is int else ' number'}"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            bounds = []
            if low is not None:
                bounds.append(f"{'>' if low_open else '≥'} {low:g}")
            if high is not None:
                bounds.append(f"{'<' if high_open else '≤'} {high:g}")
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {' and '.join(bounds)}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def device_option(text: str) -> str:
    """An argparse ``type`` for ``--device``: a device this machine lacks is refused at parse time."""
    from panns_lite.runtime import checked_device

    try:
        return checked_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


device_option.__name__ = "device"
POSITIVE_INT = bounded(int, 1)
COUNT = bounded(int, 0)
POSITIVE = bounded(float, 0, low_open=True)
NON_NEGATIVE = bounded(float, 0)
PROBABILITY = bounded(float, 0, 1, high_open=True)
PROBABILITY_CLOSED = bounded(float, 0, 1, low_open=True)


def output_file(out: Path, *inputs: Path) -> Path:
    """``out`` if a command may write it: refused before any work when it would overwrite one of its
    ``inputs`` (compared as resolved paths), is a directory, or sits in a folder that does not exist."""
    target = out.resolve()
    clash = next((i for i in inputs if i.exists() and i.resolve() == target), None)
    if clash is not None:
        raise ValueError(f"{out}: the output would overwrite the input {clash}; choose another output path")
    if out.is_dir():
        raise ValueError(f"{out} is a directory; give the output a file name")
    if not out.parent.is_dir():
        raise ValueError(f"{out}: the folder {out.parent} does not exist; create it first")
    return out


def cmd_build_miniset(args: argparse.Namespace) -> int:
    import time
    from dataclasses import replace

    from panns_lite.miniset import PRESETS, build_miniset

    config = PRESETS[args.preset] if args.seed is None else replace(PRESETS[args.preset], seed=args.seed)
    start = time.perf_counter()
    summary = build_miniset(args.out, config)
    splits = ("balanced_train", "validation", "eval")
    print(
        f"MiniSet '{args.preset}' (seed {config.seed}) -> {args.out}: "
        f"{' / '.join(str(summary.clips[s]) for s in splits)} train / validation / eval clips from "
        f"{' / '.join(str(summary.recordings[s]) for s in splits)} recordings, "
        f"{' / '.join(str(len(summary.class_counts[s])) for s in splits)} classes present; natural "
        f"validation / eval: {summary.clips['natural_validation']} / {summary.clips['natural_eval']} clips; "
        f"transfer set {summary.transfer_clips} clips, {len(summary.transfer_classes)} classes; "
        f"{time.perf_counter() - start:.1f} s"
    )
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    from panns_lite.packing import pack

    report = pack(
        args.csv,
        args.audio_dir,
        output_file(args.out, args.csv, args.audio_dir),
        unknown_labels="skip" if args.skip_unknown_labels else "error",
        resume=not args.restart,
        progress=not args.quiet,
    )
    print(report.summary())
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from panns_lite.miniset import prepare_miniset
    from panns_lite.paths import workspace

    out = args.out or workspace() / f"miniset-{args.preset}"
    for split, path in prepare_miniset(out, args.preset).items():
        print(f"{split}: {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from panns_lite.augment import AugmentConfig
    from panns_lite.miniset import prepare_miniset
    from panns_lite.paths import workspace
    from panns_lite.train import train
    from panns_lite.train_config import preset

    overrides = {
        k: v
        for k, v in {
            "train_data": args.train_data,
            "eval_data": args.eval_data,
            "natural_eval_data": args.natural_eval_data,
            "out_dir": args.out,
            "iterations": args.iterations,
            "eval_every": args.eval_every,
            "checkpoint_every": args.checkpoint_every,
            "width": args.width,
            "dropout": args.dropout,
            "head_dropout": args.head_dropout,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "lr_schedule": args.lr_schedule,
            "warmup_iterations": args.warmup,
            "sampler": args.sampler,
            "seed": args.seed,
            "init_checkpoint": args.init_checkpoint,
            "new_head": args.new_head,
            "micro_batches": args.micro_batches,
            "device": args.device,
            "teacher": args.teacher,
            "distill_label_weight": args.distill_label_weight,
        }.items()
        if v is not None
    }
    if args.freeze_base:
        overrides["freeze_base"] = True
    if args.no_mixup or args.no_spec_augment:
        overrides["augment"] = AugmentConfig(mixup=not args.no_mixup, spec_augment=not args.no_spec_augment)
    if args.no_progress:
        overrides["progress"] = False
    config = preset(args.preset, **overrides)
    if args.preset != "paper" and not (args.train_data or args.eval_data):
        prepare_miniset(workspace() / f"miniset-{args.preset}", args.preset)
    result = train(config, resume=args.resume, overwrite=args.overwrite)
    if result.model_path is not None:
        last = result.statistics[-1]
        natural = (
            f"; natural eval mAP {last['natural_mAP']:.4f} over {last['natural_classes']} classes"
            if "natural_mAP" in last
            else ""
        )
        print(
            f"iteration {result.iteration}: eval mAP {last['mAP']:.4f} over {last['classes']} classes, "
            f"mAUC {last['mAUC']:.4f}, d' {last['d_prime']:.3f}{natural}; {result.wall_seconds:.0f} s; "
            f"model saved to {result.model_path}"
        )
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from panns_lite.checkpoints import load_checkpoint, load_extra
    from panns_lite.models import count_parameters
    from panns_lite.pretraining import resolve_checkpoint
    from panns_lite.recovery import pruned_checkpoint

    checkpoint = resolve_checkpoint(args.checkpoint)
    out = output_file(args.out, checkpoint)
    path = pruned_checkpoint(checkpoint, args.ratio, args.criterion, args.layers, args.seed, out=out)
    before, after = count_parameters(load_checkpoint(checkpoint)), count_parameters(load_checkpoint(path))
    print(
        f"{checkpoint}: {before:,} params -> {path}: {after:,} params ({100 * (1 - after / before):.1f}% "
        f"fewer; {args.criterion}, {', '.join(load_extra(path)['ratios'])} at {args.ratio:g})"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from panns_lite.checkpoints import load_checkpoint
    from panns_lite.export import export_onnx, export_torchscript
    from panns_lite.folding import fold_batchnorm
    from panns_lite.pretraining import resolve_checkpoint

    checkpoint = resolve_checkpoint(args.checkpoint)
    out = output_file(args.out, checkpoint)
    model = load_checkpoint(checkpoint).eval()
    if args.fold_bn:
        model = fold_batchnorm(model)
    if args.int8:
        import tempfile

        from panns_lite.quantization import calibration_clips, quantize_onnx

        if args.format != "onnx" or args.mode != "waveform" or args.calibration is None:
            raise ValueError(
                "--int8 needs --format onnx, --mode waveform and --calibration TRAINING_CLIPS.h5 "
                "(a packed file of training clips, e.g. a MiniSet's packed/balanced_train.h5)"
            )
        clips = calibration_clips(args.calibration, args.calibration_clips)
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            float_path = export_onnx(
                model, Path(tmp) / "float.onnx", mode=args.mode, framewise=args.framewise
            )
            path = quantize_onnx(float_path, out, clips, source=str(args.calibration))
    else:
        export = export_onnx if args.format == "onnx" else export_torchscript
        path = export(model, out, mode=args.mode, framewise=args.framewise)
    print(
        f"{args.checkpoint} -> {path} ({args.format}{', int8' if args.int8 else ''}, {args.mode} in"
        f"{', BN folded' if args.fold_bn else ''}; {path.stat().st_size / 2**20:.1f} MiB)"
    )
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    import json

    from panns_lite.calibration import Thresholds
    from panns_lite.events import write_events_csv
    from panns_lite.inference import Tagger
    from panns_lite.pretraining import resolve_checkpoint
    from panns_lite.runtime import resolved_device

    if args.sed is None and (args.threshold or args.median is not None):
        raise ValueError("--threshold and --median only apply with --sed")
    if args.threshold and args.thresholds:
        raise ValueError("give either --threshold values or a --thresholds file, not both")
    checkpoint = resolve_checkpoint(args.checkpoint)
    if args.sed is not None:
        output_file(args.sed, checkpoint, *args.files, *([args.thresholds] if args.thresholds else []))
    tagger = Tagger(
        checkpoint,
        device=resolved_device(args.device),
        chunk_seconds=args.chunk_seconds,
        precision=args.precision,
    )
    calibrated = Thresholds.load(args.thresholds, tagger.labels) if args.thresholds else None
    reports, events, failures = _tag_files(args, tagger, calibrated)
    if args.sed is not None:
        write_events_csv(args.sed, events)
        if not args.json:
            print(f"{sum(map(len, events.values()))} events from {len(events)} files -> {args.sed}")
    if args.json:
        # strict JSON: a NaN would fail here, not in a reader
        print(json.dumps(reports, indent=1, allow_nan=False))
    return 2 if failures else 0  # bad input, as everywhere; the good files were still tagged


def _tag_files(
    args: argparse.Namespace, tagger: Tagger, calibrated: Thresholds | None
) -> tuple[list[dict], dict[str, list[Event]], int]:
    """Tag (and with ``--sed``, detect events in) every file of ``tag``: the per-file reports, the
    events by file, and how many files could not be read. A file that fails is reported and skipped,
    so one bad recording does not lose the others' tags."""
    from dataclasses import asdict

    from panns_lite.audio import AudioReadError
    from panns_lite.inference import InvalidAudioError
    from panns_lite.sed import EventDetector

    thresholds, median = _event_settings(args, tagger, calibrated)
    reports, events, failures = [], {}, 0
    for path in map(str, args.files):
        detector = EventDetector(tagger.frame_hop, tagger.labels, thresholds, **median) if args.sed else None
        try:
            analysis = tagger.analyze(path, frames_to=detector.push if detector else None)
        except (AudioReadError, InvalidAudioError) as err:  # report, then go on with the other files
            print(f"error: {err}", file=sys.stderr)
            reports.append({"file": path, "error": str(err)})
            failures += 1
            continue
        tags = tagger.ranked(analysis.clipwise, args.top_k)
        report = {
            "file": path,
            "duration_seconds": round(analysis.duration, 3),
            "chunks": analysis.chunks,
            "tags": [tag._asdict() for tag in tags],
        }
        if calibrated is not None:
            report["present"] = [tagger.labels.names[k] for k in calibrated.present(analysis.clipwise)]
        if detector is not None:
            events[path] = detector.finish(analysis.duration)
            report["events"] = [asdict(event) for event in events[path]]
        reports.append(report)
        if not args.json:
            _print_tags(path, analysis.duration, tags, report.get("present"), events.get(path))
    return reports, events, failures


def _event_settings(
    args: argparse.Namespace, tagger: Tagger, calibrated: Thresholds | None
) -> tuple[np.ndarray, dict[str, float]]:
    """The per-class event thresholds and median filter of ``tag --sed``: a ``--thresholds`` file's
    event thresholds with the median filter they were chosen with (unless ``--median`` is given),
    otherwise the ``--threshold`` values."""
    from panns_lite.sed import parse_thresholds

    if calibrated is not None and args.sed is not None and calibrated.event is None:
        raise ValueError(
            f"{args.thresholds} has no event thresholds (calibrate with --strong-labels) for --sed"
        )
    thresholds = (
        calibrated.event
        if calibrated is not None and args.sed
        else parse_thresholds(args.threshold, tagger.labels)
    )
    median = {} if args.median is None else {"median_seconds": args.median}
    if calibrated is not None and args.median is None:
        # the filter the event thresholds were chosen with
        median = {"median_seconds": calibrated.median_seconds}
    return thresholds, median


def _print_tags(
    path: str, duration: float, tags: list[Tag], present: list[str] | None, events: list[Event] | None
) -> None:
    """One file's tags as a reader sees them: ranked, with the calibrated classes present and the
    number of events where ``tag`` was asked for them."""
    print(f"{path}  ({duration:.2f} s)")
    for rank, tag in enumerate(tags, start=1):
        print(f"  {rank:>3}  {tag.probability:.3f}  {tag.label}  ({tag.mid})")
    if present is not None:
        print(f"  present (calibrated thresholds): {', '.join(present) or 'none'}")
    if events is not None:
        print(f"  {len(events)} events")


def cmd_calibrate(args: argparse.Namespace) -> int:
    from panns_lite.calibration import DEFAULT_CANDIDATES, calibrate
    from panns_lite.datasets import PackedDataset
    from panns_lite.events import read_strong_labels
    from panns_lite.inference import Tagger
    from panns_lite.pretraining import resolve_checkpoint
    from panns_lite.runtime import resolved_device

    checkpoint = resolve_checkpoint(args.checkpoint)
    output_file(args.out, checkpoint, args.clips, *([args.strong_labels] if args.strong_labels else []))
    if args.out.exists() and not args.overwrite:
        raise ValueError(f"{args.out} exists; choose another path or pass --overwrite")
    tagger = Tagger(checkpoint, device=resolved_device(args.device))
    clips = PackedDataset(args.clips)
    strong = read_strong_labels(args.strong_labels, tagger.labels) if args.strong_labels else None
    thresholds = calibrate(tagger, clips, strong, args.candidates or DEFAULT_CANDIDATES, args.median)
    thresholds.save(args.out)
    moved = int((thresholds.clip != 0.5).sum())
    print(
        f"clip thresholds of {len(thresholds.mids)} classes chosen on {len(clips)} clips "
        f"({moved} differ from 0.5)"
        + (
            ""
            if thresholds.event is None
            else f"; event thresholds on the {thresholds.chosen_on['clips_with_strong_labels']} "
            "with strong labels"
        )
        + f" -> {args.out}"
    )
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    from panns_lite.finetune import finetune, settings_from

    settings = settings_from(
        mode=args.mode,
        checkpoint=str(args.checkpoint),
        validation_share=args.validation_share,
        max_iterations=args.max_iterations,
        eval_every=args.eval_every,
        patience=args.patience,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
    )
    out = args.out if args.out is not None else Path(f"finetuned-{args.folder.resolve().name}")
    report = finetune(
        args.folder, out, settings, labels_csv=args.labels, overwrite=args.overwrite, progress=not args.quiet
    )
    print(report.summary())
    print(f"tag with: python -m panns_lite tag FILES --checkpoint {report.model_path}")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from panns_lite.corpus import embed_folder
    from panns_lite.runtime import resolved_device

    report = embed_folder(
        args.folder,
        args.out,
        checkpoint=args.checkpoint,
        frame_every=args.frame_every,
        overwrite=args.overwrite,
        device=resolved_device(args.device),
        progress=not args.quiet,
    )
    print(report.summary())
    return 0


def _build_miniset_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=["ci", "laptop", "pretrain"], default="ci")
    p.add_argument("--out", type=Path, required=True, help="output folder (replaced if it exists)")
    p.add_argument("--seed", type=COUNT, default=None, help="override the preset's seed")


def _prepare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=["ci", "laptop", "pretrain"], default="ci")
    p.add_argument("--out", type=Path, default=None, help="default: <workspace>/miniset-<preset>")


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=["ci", "laptop", "pretrain", "paper"], default="ci")
    again = p.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its checkpoint.pt"
    )
    again.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run that --out holds (without it, a folder holding a run is refused)",
    )
    p.add_argument("--train-data", help="packed HDF5 file (default: the preset's MiniSet)")
    p.add_argument("--eval-data", help="packed HDF5 file (default: the preset's MiniSet)")
    p.add_argument(
        "--natural-eval-data",
        help="packed HDF5 file of whole recordings, scored beside --eval-data "
        "(default: the preset's MiniSet, none with --eval-data or the paper preset; '' for none)",
    )
    p.add_argument("--out", help="run folder (checkpoint, statistics, model)")
    p.add_argument("--iterations", type=COUNT)
    p.add_argument("--eval-every", type=POSITIVE_INT)
    p.add_argument("--checkpoint-every", type=POSITIVE_INT)
    p.add_argument("--width", type=POSITIVE, help="width multiplier of the model's conv layers")
    p.add_argument(
        "--dropout", type=PROBABILITY, help="dropout after each conv block (PANNs: 0.2; ci preset: 0.1)"
    )
    p.add_argument(
        "--head-dropout", type=PROBABILITY, help="dropout before fc1 and on the embedding (PANNs: 0.5)"
    )
    p.add_argument("--batch-size", type=POSITIVE_INT, help="clips per step after mixup (PANNs: 32)")
    p.add_argument("--lr", type=POSITIVE)
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], help="PANNs: constant")
    p.add_argument("--warmup", type=COUNT, help="linear warm-up iterations")
    p.add_argument("--sampler", choices=["balanced", "shuffle", "alternate"])
    p.add_argument("--seed", type=COUNT)
    p.add_argument("--init-checkpoint", help="start from this checkpoint (official, E-PANNs or ours)")
    p.add_argument(
        "--new-head", type=POSITIVE_INT, help="replace the classifier by a fresh one with this many classes"
    )
    p.add_argument("--freeze-base", action="store_true", help="train the classifier only")
    p.add_argument(
        "--micro-batches", type=POSITIVE_INT, help="split each process's batch into this many passes"
    )
    p.add_argument(
        "--teacher",
        help="knowledge distillation from this checkpoint (run on the same input) or .npz of "
        "logits per training clip (panns_lite.distillation.write_teacher_logits)",
    )
    p.add_argument(
        "--distill-label-weight",
        type=bounded(float, 0, 1),
        help="with --teacher, the labels' share of the loss (EfficientAT: 0.1)",
    )
    p.add_argument("--device", type=device_option, help="auto (CUDA when there is one), cpu, cuda, cuda:N")
    p.add_argument("--no-mixup", action="store_true")
    p.add_argument("--no-spec-augment", action="store_true")
    p.add_argument("--no-progress", action="store_true")


def _prune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        type=Path,
        help="'pretrained' (the shipped model) or a CNN14 checkpoint file (official, E-PANNs or ours)",
    )
    p.add_argument(
        "--ratio", type=PROBABILITY, required=True, help="fraction of filters removed per layer, in [0, 1)"
    )
    p.add_argument("--layers", default="C7-C12", help="conv layers, e.g. C7-C12 (E-PANNs) or C7,C9")
    p.add_argument("--criterion", default="operator_norm", help="operator_norm (E-PANNs), l1 or random")
    p.add_argument("--seed", type=COUNT, default=0, help="seed of the random criterion")
    p.add_argument("--out", type=Path, required=True, help="output checkpoint (written atomically)")


def _tag_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, help="audio files (WAV, FLAC, Ogg, MP3 …)")
    p.add_argument(
        "--checkpoint",
        type=Path,
        required=True,
        help="'pretrained' (the shipped model), a checkpoint file (official PANNs, E-PANNs or ours) "
        "or a waveform-mode .onnx export",
    )
    p.add_argument("--top-k", type=POSITIVE_INT, default=5, help="classes listed per file")
    p.add_argument("--json", action="store_true", help="print one JSON list instead of tables")
    p.add_argument("--sed", type=Path, help="detect sound events and write them to this CSV")
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="[CLASS=]P",
        help="event threshold P for every class (default 0.5), or CLASS=P for one class "
        "(mid or display name); repeatable",
    )
    p.add_argument(
        "--thresholds",
        type=Path,
        help="per-class thresholds written by `calibrate`: lists the classes "
        "present in each file and, with --sed, detects events with the event thresholds",
    )
    p.add_argument(
        "--median",
        type=NON_NEGATIVE,
        help="median filter length for --sed, seconds (default 0.5, "
        "or the one --thresholds were chosen with)",
    )
    p.add_argument(
        "--chunk-seconds", type=POSITIVE, default=10.0, help="long inputs are analysed in chunks this long"
    )
    p.add_argument(
        "--device",
        type=device_option,
        default="cpu",
        help="torch device for checkpoints (cpu, auto, cuda, cuda:N)",
    )
    p.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),  # panns_lite.runtime.PRECISIONS, without importing torch here
        default="float32",
        help="the network's precision for checkpoints: bfloat16 is faster on CPUs with native bf16 "
        "(README, 'Fast tagging'); the front end stays float32",
    )


def _calibrate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "clips",
        type=Path,
        help="packed HDF5 of labelled clips the thresholds are chosen on "
        "(e.g. a MiniSet's packed/validation.h5), never the clips they will be judged on",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        required=True,
        help="'pretrained' (the shipped model) or a checkpoint file (official PANNs, E-PANNs or ours)",
    )
    p.add_argument(
        "--strong-labels",
        type=Path,
        help="AudioSet strong-label TSV of these clips: also choose event thresholds (for tag --sed)",
    )
    p.add_argument("--out", type=Path, required=True, help="thresholds JSON (for tag --thresholds)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--candidates",
        type=PROBABILITY_CLOSED,
        nargs="+",
        help="thresholds tried for every class (default 0.05 0.1 0.15 0.2 0.3 … 0.8)",
    )
    p.add_argument(
        "--median", type=NON_NEGATIVE, default=0.5, help="median filter before event thresholds, seconds"
    )
    p.add_argument(
        "--device", type=device_option, default="cpu", help="torch device (cpu, auto, cuda, cuda:N)"
    )


def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        type=Path,
        help="'pretrained' (the shipped model) or a checkpoint file (official PANNs, E-PANNs or ours)",
    )
    p.add_argument("--out", type=Path, required=True, help="output file (.onnx or .pt)")
    p.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    p.add_argument(
        "--mode",
        choices=["waveform", "logmel"],
        default="waveform",
        help="waveform in (front end inside the graph) or log-mel in (front end left to the caller)",
    )
    p.add_argument("--framewise", action="store_true", help="also output frame-wise probabilities")
    p.add_argument("--fold-bn", action="store_true", help="fold batch norm into the convolutions first")
    p.add_argument(
        "--int8",
        action="store_true",
        help="static int8 quantization (QDQ, per-channel weights), front "
        "end kept in float; needs --calibration",
    )
    p.add_argument(
        "--calibration",
        type=Path,
        help="with --int8: packed HDF5 of TRAINING clips to calibrate on (never the clips you evaluate on)",
    )
    p.add_argument(
        "--calibration-clips",
        type=POSITIVE_INT,
        default=64,
        help="with --int8: clips drawn for calibration (default 64)",
    )


def _finetune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "folder",
        type=Path,
        help="folder of audio files with labels.csv: columns file, labels (names "
        "separated by ';'), optional group (clips of one recording) and split (train/validation)",
    )
    p.add_argument("--labels", type=Path, help="the labels CSV (default: FOLDER/labels.csv)")
    p.add_argument(
        "--mode",
        choices=["probe", "frozen", "all"],
        default="all",
        help="probe: logistic regression on the frozen embedding; frozen: train a new head (PANNs' "
        "freeze_base); all: train every weight (default)",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("pretrained"),
        help="the model to start from: 'pretrained' (the shipped model, default) or a checkpoint file",
    )
    p.add_argument(
        "--out", type=Path, help="output folder (default: ./finetuned-<FOLDER name>); rerun to resume"
    )
    p.add_argument("--overwrite", action="store_true", help="replace another fine-tuning job held in --out")
    p.add_argument(
        "--validation-share",
        type=bounded(float, 0, 1, low_open=True, high_open=True),
        help="share of each class's groups held out for validation without a split column (default 0.2)",
    )
    p.add_argument("--max-iterations", type=POSITIVE_INT, help="at most this many steps (default 1000)")
    p.add_argument("--eval-every", type=POSITIVE_INT, help="validate every this many steps (default 50)")
    p.add_argument(
        "--patience",
        type=POSITIVE_INT,
        help="stop after this many validations without a better mAP (default 4)",
    )
    p.add_argument("--batch-size", type=POSITIVE_INT, help="clips per step (default 16)")
    p.add_argument("--lr", type=POSITIVE, help="learning rate (default 1e-4 for all, 1e-3 for frozen)")
    p.add_argument("--seed", type=COUNT, help="seed of the validation draw and of training (default 0)")
    p.add_argument("--threads", type=POSITIVE_INT, help="CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _embed_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, help="folder of audio files (searched recursively)")
    p.add_argument(
        "--out", type=Path, required=True, help="output .h5 (datasets name, embedding; see panns_lite.corpus)"
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("pretrained"),
        help="'pretrained' (the shipped model, "
        "default) or a checkpoint file (official PANNs, E-PANNs or ours)",
    )
    p.add_argument(
        "--frame-every",
        type=POSITIVE_INT,
        help="also store the embedding of every N-th 10 ms frame (32: one per CNN14 segment, 320 ms)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--device", type=device_option, default="cpu", help="torch device (cpu, auto, cuda, cuda:N)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _pack_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("csv", type=Path, help="AudioSet segment CSV (e.g. balanced_train_segments.csv)")
    p.add_argument("audio_dir", type=Path, help="folder with Y<YTID>.wav (or any soundfile-readable) files")
    p.add_argument("out", type=Path, help="output .h5 file (written atomically)")
    p.add_argument(
        "--skip-unknown-labels",
        action="store_true",
        help="skip (and report) rows with label ids outside the 527 classes instead of failing",
    )
    p.add_argument("--restart", action="store_true", help="ignore a partial file left by an interrupted run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


class Command(NamedTuple):
    """A subcommand: its name, the function that runs it, its one-line help (also its description),
    and the function that declares its arguments."""

    name: str
    run: Callable[[argparse.Namespace], int]
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]


COMMANDS: tuple[Command, ...] = (
    Command(
        "build-miniset",
        cmd_build_miniset,
        "Build the MiniSet (AudioSet layout) from the shipped source bank.",
        _build_miniset_arguments,
    ),
    Command(
        "prepare",
        cmd_prepare,
        "Build (if needed) and pack a MiniSet preset; prints the HDF5 paths.",
        _prepare_arguments,
    ),
    Command(
        "train",
        cmd_train,
        "Train a tagger with a preset (ci, laptop, pretrain, paper), optionally resuming.",
        _train_arguments,
    ),
    Command(
        "prune",
        cmd_prune,
        "Prune a CNN14 checkpoint's filters the E-PANNs way and save the smaller model.",
        _prune_arguments,
    ),
    Command(
        "tag",
        cmd_tag,
        "Tag audio files of any format, rate and length; optionally detect sound events.",
        _tag_arguments,
    ),
    Command(
        "calibrate",
        cmd_calibrate,
        "Choose per-class thresholds (best F1) on labelled validation clips.",
        _calibrate_arguments,
    ),
    Command(
        "export",
        cmd_export,
        "Export a checkpoint to ONNX or TorchScript (outputs checked in tests/test_export.py).",
        _export_arguments,
    ),
    Command(
        "finetune",
        cmd_finetune,
        "Fine-tune a tagger on your own folder of labelled audio (file,labels CSV).",
        _finetune_arguments,
    ),
    Command(
        "embed",
        cmd_embed,
        "Embed every audio file of a folder into one HDF5 file (resumable).",
        _embed_arguments,
    ),
    Command(
        "pack",
        cmd_pack,
        "Pack a segment CSV and its audio folder into a PANNs-layout HDF5 file.",
        _pack_arguments,
    ),
)
"""Every subcommand, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="panns_lite", description="PANNs and E-PANNs, reproduced end to end."
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of any failure (PANNS_LITE_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        p.set_defaults(func=command.run)
        command.arguments(p)
    return parser


def failure_message(err: BaseException) -> str | None:
    """One line for an expected failure (bad input, a missing or damaged file, a full disk), or None
    for anything else: a bug, which keeps its traceback."""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        where = f" ({err.filename})" if err.filename else ""
        return f"the disk is full{where}; free some space or write elsewhere, then run the command again"
    if isinstance(err, PermissionError):
        return (
            f"{err.filename or 'a file'}: permission denied; choose a path you can write, "
            "or fix its permissions"
        )
    if isinstance(err, (IsADirectoryError, NotADirectoryError)):
        return f"{err.filename}: {err.strerror.lower()}; check the path"
    if isinstance(err, (ValueError, FileNotFoundError, KeyError)):
        return str(err).strip("'\"") if isinstance(err, KeyError) else str(err)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; an expected failure prints one line ``error: …`` and returns 2.

    ``--debug`` (before the command) or ``PANNS_LITE_DEBUG=1`` lets every exception through with
    its traceback."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse printed the usage and the error (status 2), or the help (0)
        return int(exit_.code or 0)
    if args.debug or os.environ.get("PANNS_LITE_DEBUG", "") not in ("", "0"):
        return args.func(args)
    try:
        return args.func(args)
    except Exception as err:
        message = failure_message(err)
        if message is None:
            raise
        print(f"error: {message.splitlines()[0] if message else type(err).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
