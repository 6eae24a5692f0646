"""The compiled block-float kernel's own threads (its numbers are checked in test_formats.py)."""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from runtime.emulator import block_float_kernel
from runtime.emulator import formats as F


def test_kernel_is_in_use():
    assert block_float_kernel.AVAILABLE, "numba is a declared dependency but is not importable"
    assert F._USE_KERNEL


def test_kernel_survives_fork_and_threads():
    """Usable from several Python threads at once and in a forked child (numba's OpenMP layer aborts there)."""
    x = torch.randn(256, 1024) * 5
    want = F._quantize_groups_exact(x.view(-1, 16), 7).view(x.shape).numpy().view(np.int32)
    assert np.array_equal(F.quantize_bfloat8_b(x).numpy().view(np.int32), want)   # starts the workers here
    with ThreadPoolExecutor(3) as pool:
        for got in pool.map(lambda _: F.quantize_bfloat8_b(x), range(6)):
            assert np.array_equal(got.numpy().view(np.int32), want)
    pid = os.fork()
    if pid == 0:   # child: numpy only around the call (torch's own OpenMP pool is not fork-safe)
        os._exit(0 if np.array_equal(F.quantize_bfloat8_b(x).numpy().view(np.int32), want) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
