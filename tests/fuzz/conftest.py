"""Hostile-input fuzzing: case counts per file kind, `--slow` for many more cases.

`--slow` is registered in tests/conftest.py (a root-level option must live in the rootdir conftest).
"""
import collections

import pytest

CASES = collections.Counter()


@pytest.fixture(scope="session")
def fuzz_scale(request):
    """Multiplier of the default example counts: 1 by default, 10 under --slow."""
    return 10 if request.config.getoption("--slow", default=False) else 1


@pytest.fixture(scope="session")
def case_counter():
    return CASES


def pytest_terminal_summary(terminalreporter):
    if CASES:
        total = sum(CASES.values())
        line = ", ".join(f"{k} {v}" for k, v in sorted(CASES.items()))
        terminalreporter.write_line(f"fuzz: {total} generated cases ({line})")
