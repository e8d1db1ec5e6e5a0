#!/usr/bin/env bash
# What a user of the package gets: `pip install .` (no extras) into a fresh virtual environment, then
# `python -m panns_lite tag` on a shipped recording with the shipped tagger, run from outside the
# repository so that only the installed package can answer. CI step (`make install-check`): a few
# minutes, most of them downloading torch; the environment is deleted afterwards.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3.11}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install --quiet --upgrade pip
# the pins of requirements.txt as constraints: the same torch as the project's tests, not the newest
"$py" -m pip install --quiet --constraint "$repo/requirements.txt" "$repo"
recordings=("$repo"/data/sources/audio/*)  # a glob, not `ls | head`: under pipefail that pipe can die of SIGPIPE
clip="${recordings[0]}"
cd "$work"
"$py" -m panns_lite tag "$clip" --checkpoint pretrained --top-k 3 --json > tags.json
"$py" - "$repo" tags.json <<'PY'
import json, sys
from pathlib import Path

import panns_lite

repo, report = Path(sys.argv[1]).resolve(), json.loads(Path(sys.argv[2]).read_text())
where = Path(panns_lite.__file__).resolve()
assert repo not in where.parents, f"panns_lite was imported from the repository ({where}), not the install"
tags = report[0]["tags"]
assert len(tags) == 3 and all(0 <= t["probability"] <= 1 for t in tags), report
print(f"installed package at {where.parent} tagged {Path(report[0]['file']).name}: "
      + ", ".join(f"{t['label']} {t['probability']:.2f}" for t in tags))
PY
