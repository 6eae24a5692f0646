"""scripts/setup_ttnn_env.sh: fast when the venv is there, loud when no interpreter is."""
from __future__ import annotations

import os
import shutil
import subprocess

from conformance.harness import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "setup_ttnn_env.sh"


def test_rerun_is_a_fast_no_op(ttnn_python):
    ttnn_python()
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "already set up" in proc.stdout and "ttnn 0.81." in proc.stdout


def test_no_interpreter_fails_loudly(tmp_path):
    bin_dir = tmp_path / "bin"  # the tools the script needs, and no python3.12 / python3.10
    bin_dir.mkdir()
    for tool in ("dirname", "date", "awk", "rm", "du", "cut", "cat"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "TTNN_VENV_DIR": str(tmp_path / "venv"),
    }
    bash = "/bin/bash" if os.path.exists("/bin/bash") else "bash"
    proc = subprocess.run([bash, str(SCRIPT)], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1
    assert "no usable CPython 3.12 or 3.10" in proc.stderr and "pyenv install 3.12" in proc.stderr
    assert not (tmp_path / "venv").exists()
