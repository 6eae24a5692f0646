"""runtime/omp_wait.py: importing runtime before torch makes OpenMP workers passive unless the user chose."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _policy(env_value=None, torch_first=False):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    pre = "import torch; " if torch_first else ""
    code = pre + "import os, runtime; print(os.environ.get('OMP_WAIT_POLICY', '-'))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                          cwd=ROOT).stdout.strip()


def test_passive_by_default_user_choice_kept_and_not_after_torch():
    assert _policy() == "PASSIVE"
    assert _policy("ACTIVE") == "ACTIVE"
    assert _policy(torch_first=True) == "-"    # too late to matter: left alone
