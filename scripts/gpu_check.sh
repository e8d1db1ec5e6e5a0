#!/usr/bin/env bash
# GPU readiness: a few hundred steps of the `paper` preset (full-width CNN14, bf16 autocast, batch 32
# per step, mixup) on the CI MiniSet, on one GPU and with torchrun + NCCL on every GPU present;
# clips/s and peak memory to benchmarks/results/gpu_check.{json,md}. On a machine without CUDA it
# says so and exits with status 2. Options: see `benchmarks/gpu_check.py --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PY:-.venv/bin/python}" benchmarks/gpu_check.py "$@"
