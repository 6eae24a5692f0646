"""OpenMP wait policy for emulated runs: passive unless the user chose one (``OMP_WAIT_POLICY``).

An emulated forward issues thousands of short torch ops (one bf16 ``addmm`` per 16 of K and fidelity phase,
small per-row passes), each an OpenMP parallel region.  With libgomp's default policy the workers spin after
every region, so between regions they take the cores from the thread doing the next op (and from numba's
kernels): on a 2-core machine shared with other jobs an emulated bert-base forward took 4x the wall time and
5x the CPU time of the same forward with ``OMP_WAIT_POLICY=PASSIVE`` (HF's forward, a few large GEMMs, was
unaffected or faster).  libgomp reads the variable once, when torch loads it, so this must run before
``import torch``; ``runtime/__init__.py`` calls it.
"""

from __future__ import annotations

import os
import sys


def apply() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` if unset and torch is not loaded yet; returns whether the policy in
    effect is passive."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"
