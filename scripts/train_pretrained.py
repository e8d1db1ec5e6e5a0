"""Train the shipped pretrained tagger from scratch (``make pretrained``), or replay its first steps (CI).

    python scripts/train_pretrained.py             # prepare the pretrain MiniSet, train, export to
                                                   # data/models
    python scripts/train_pretrained.py --replay    # CI: retrain the first 20 steps, compare the losses
                                                   # bit for bit

Training takes about 2.5 hours on 2 CPU cores (the ``pretrain`` preset of :mod:`panns_lite.train_config`).
An interrupted run resumes exactly where its last checkpoint left it (every 250 steps), so the work
can span several sittings; each sitting is recorded (git commit, CPU, threads, iterations, wall
time, load average) in ``<run>/provenance.json`` and copied into the record. The run folder is
``<workspace>/runs/pretrain``; ``--fresh`` deletes it first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from panns_lite.miniset import prepare_miniset
from panns_lite.paths import REPO_ROOT, workspace
from panns_lite.pretraining import PRESET, REPLAY_STEPS, export_pretrained, replay
from panns_lite.runs import CHECKPOINT_NAME
from panns_lite.runtime import cpu_model
from panns_lite.train import train
from panns_lite.train_config import preset

PROVENANCE = "provenance.json"


def git_state() -> dict[str, object]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD") or None,
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def run_training(fresh: bool) -> int:
    config = preset(PRESET)
    out = Path(config.out_dir)
    if fresh and out.exists():
        shutil.rmtree(out)
    prepare_miniset(workspace() / f"miniset-{PRESET}", PRESET)
    out.mkdir(parents=True, exist_ok=True)
    log = out / PROVENANCE
    segments = json.loads(log.read_text()) if log.is_file() else []
    resume = (out / CHECKPOINT_NAME).is_file()
    segment = {
        **git_state(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "threads": config.threads,
        "device": config.device,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "resumed": resume,
    }
    log.write_text(json.dumps(segments + [segment], indent=1))
    started = time.perf_counter()
    result = train(config, resume=resume, overwrite=not resume)  # a run killed before its first checkpoint
    segment.update(
        end_iteration=result.iteration,
        segment_seconds=round(time.perf_counter() - started, 1),
        load_average_at_end=[round(v, 2) for v in os.getloadavg()],
    )
    log.write_text(json.dumps(segments + [segment], indent=1))
    weights = export_pretrained(out, provenance={"segments": segments + [segment]})
    print(f"{result.iteration} iterations, {result.wall_seconds / 3600:.2f} h of training -> {weights}")
    return 0


def run_replay(steps: int) -> int:
    result = replay(steps=steps)
    print(f"compared with the losses of {result.source}")
    for i, (a, b) in enumerate(zip(result.recorded, result.replayed)):
        print(
            f"step {i:>3}: recorded {float.fromhex(a):.10f}  replayed {float.fromhex(b):.10f}"
            f"{'' if a == b else '  DIFFERENT'}"
        )
    if not result.equal:
        print(
            f"error: the replay differs from the record from step {result.first_difference()} on",
            file=sys.stderr,
        )
        return 1
    print(f"the first {steps} losses match the record bit for bit")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--replay",
        nargs="?",
        type=int,
        const=REPLAY_STEPS,
        metavar="STEPS",
        help=f"retrain the first STEPS (default {REPLAY_STEPS}) iterations and compare with the record",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="delete an interrupted run instead of resuming it"
    )
    args = parser.parse_args()
    try:
        return run_replay(args.replay) if args.replay is not None else run_training(args.fresh)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
