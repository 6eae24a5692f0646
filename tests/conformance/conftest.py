"""Helpers for the conformance tests (main environment; the real ttnn runs in .venv-ttnn).

For tests elsewhere: ``from conformance.harness import run_program_check`` and call
``run_program_check([path, ...])`` -> dict summary (raises AssertionError on any problem,
or with "run: bash scripts/setup_ttnn_env.sh" when the venv is missing).  Inside this
directory the same is available as the ``program_check`` fixture.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from conformance import harness  # noqa: E402
from conformance.harness import (  # noqa: E402,F401  (re-exported for tests)
    SETUP_HINT,
    TTNNEnvMissing,
    run_in_venv,
    run_program_check,
    venv_python,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def ttnn_python():
    """Deferred lookup of the ttnn venv's python: call it inside the test.

    A missing venv must FAIL the tests (not error or skip them), so the lookup happens in the
    test body, where TTNNEnvMissing (an AssertionError) is reported as a failure with
    "run: bash scripts/setup_ttnn_env.sh".
    """
    return venv_python


@pytest.fixture(scope="session")
def program_check():
    """run_program_check(paths, expect_ok=True) -> summary dict (call it in the test body)."""
    return run_program_check


@functools.lru_cache(maxsize=1)
def _load_formats_dump():
    import json

    import numpy as np

    path = harness.formats_npz()
    data = dict(np.load(path))
    meta = json.loads(str(data.pop("meta")))
    return path, data, meta


@pytest.fixture(scope="session")
def formats_dump():
    """Callable -> (npz path, arrays, meta) of ttnn's own conversions (cached by script hash)."""
    return _load_formats_dump
