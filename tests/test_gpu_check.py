"""scripts/gpu_check.sh on a machine without a (visible) GPU: one line saying so, exit status 2."""

import os
import subprocess

from panns_lite.paths import REPO_ROOT


def test_gpu_check_without_cuda_says_so_and_exits_2():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # hides any GPU, so this holds on GPU machines too
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "gpu_check.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("gpu_check: no CUDA device here") and result.stderr.count("\n") == 1
