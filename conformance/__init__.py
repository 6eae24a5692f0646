"""Checks that prove emitted programs and emulator formats against the real ``ttnn`` package.

Everything in this package except :mod:`conformance.harness` runs inside the side
environment ``.venv-ttnn`` (CPython 3.10/3.12 with ``ttnn==0.81.1``, no torch); see
``scripts/setup_ttnn_env.sh``.  :mod:`conformance.harness` runs in the main environment
and drives the side environment through subprocesses.
"""

TTNN_VERSION = "0.81.1"
