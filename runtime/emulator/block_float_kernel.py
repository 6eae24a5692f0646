"""One-pass compiled bfloat8_b / bfloat4_b round trip (numba), used by ``formats`` when numba is present.

Same arithmetic as ``formats._quantize_groups`` (see the format description there), in one loop per
16-value group instead of ~8 full-tensor torch passes, which made quantisation a fifth of an emulated
forward.  Written with numba because torch has no fused elementwise kernel on the CPU short of
``torch.compile``, whose C++ flags (``-ffast-math`` family) would be free to break the exact
add-and-subtract rounding this relies on; numba keeps strict IEEE semantics (``fastmath=False``).

Runs on ``threads`` threads (contiguous runs of groups), the calling thread included.

* groups whose shared exponent E lies in [24, 237] take the float fast path: scale by 2**(150 - E),
  truncate, round to the w-bit grid by adding and subtracting 1.5 * 2**(47 - w), saturate, scale back
  (every step exact; LLVM vectorises it);
* other groups (tiny or huge exponents, inf, NaN) take an integer transcription of ttnn's packer and
  unpacker, the same as ``formats._quantize_groups_exact``.

Tests compare both paths bit for bit with ``_quantize_groups_exact`` and with the real ttnn's output.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:  # numba is a declared dependency; without it formats falls back to the torch passes
    import numba
except ImportError:  # pragma: no cover - exercised only on platforms without numba wheels
    numba = None

__all__ = ["AVAILABLE", "quantize_groups_into"]

AVAILABLE = numba is not None

_FAST_E_MIN = 24   # below: 2**(150 - E) is not a normal float32
_FAST_E_MAX = 237  # above: (y + C) * 2**(E - 150) could overflow


if AVAILABLE:
    @numba.njit(cache=True, boundscheck=False, inline="always")
    def _exact_group(bits, out_bits, base, emax, w):
        """Integer packer + unpacker for the 16 values at ``base`` (any exponent)."""
        shift = 24 - w
        half = 1 << (shift - 1)
        low = (1 << shift) - 1
        mmax = (1 << w) - 1
        for i in range(16):
            b = np.int64(bits[base + i]) & 0xFFFFFFFF
            e = (b >> 23) & 0xFF
            d = emax - e
            if e == 0 or d > 24:           # zero / subnormal, or shifted out entirely
                out_bits[base + i] = 0
                continue
            man = ((b & 0x7FFFFF) | 0x800000) >> d
            m = man >> shift
            r = man & low
            if r > half or (r == half and (m & 1) == 1):
                m += 1
            if m > mmax:
                m = mmax
            if m == 0:                     # the sign is dropped with a zero mantissa
                out_bits[base + i] = 0
                continue
            top = 0                        # index of m's highest set bit
            while (m >> (top + 1)) != 0:
                top += 1
            sign = b & 0x80000000
            biased = emax + 1 + top - w    # the unpacker's fp32 exponent field for sign * m * 2**(E - 126 - w)
            if biased >= 1:                # normal (255 gives inf or NaN, as on the chip)
                value = sign | (biased << 23) | ((m << (23 - top)) & 0x7FFFFF)
            else:                          # a float32 subnormal: exact through float64
                value = sign | np.int64(np.float32(m * 2.0 ** (emax - 126 - w)).view(np.int32))
            out_bits[base + i] = np.int32(np.uint32(value).view(np.int32))

    @numba.njit(nogil=True, cache=True, boundscheck=False)
    def _quantize_groups(x, bits, out, out_bits, w):
        c = np.float32(1.5 * 2.0 ** (47 - w))
        lim = np.float32((2 ** w - 1) * 2.0 ** (24 - w))
        lo = c - lim
        hi = c + lim
        for g in range(x.size // 16):
            base = g * 16
            emax = 0
            for i in range(16):
                emax = max(emax, (bits[base + i] >> 23) & 0xFF)
            if _FAST_E_MIN <= emax <= _FAST_E_MAX:
                s_in = np.int32((277 - emax) << 23).view(np.float32)   # 2**(150 - E)
                s_out = np.int32((emax - 23) << 23).view(np.float32)   # 2**(E - 150)
                for i in range(16):
                    y = min(max(np.trunc(x[base + i] * s_in) + c, lo), hi) - c
                    out[base + i] = y * s_out
            elif emax == 0:
                for i in range(16):
                    out[base + i] = 0.0
            else:
                _exact_group(bits, out_bits, base, emax, w)


# Threads of our own rather than numba's parallel layers: the kernel releases the GIL, and this stays
# safe across fork() (numba's GNU OpenMP layer aborts a forked child) and from several Python threads.
_pool: tuple[int, ThreadPoolExecutor] | None = None
_MIN_SPLIT = 1 << 16      # values; below this one thread is faster than a hand-off


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None or _pool[0] != os.getpid():     # a forked child inherits no worker threads
        _pool = (os.getpid(), ThreadPoolExecutor(max(1, (os.cpu_count() or 1) - 1), thread_name_prefix="bfp"))
    return _pool[1]


def quantize_groups_into(x: np.ndarray, out: np.ndarray, mantissa_bits: int, threads: int) -> None:
    """Quantise contiguous float32 ``x`` (size a multiple of 16, one group per 16 values) into ``out``."""
    bits, out_bits = x.view(np.int32), out.view(np.int32)
    parts = max(1, min(threads, x.size // _MIN_SPLIT))
    if parts == 1:
        _quantize_groups(x, bits, out, out_bits, mantissa_bits)
        return
    cuts = [(x.size // 16) * k // parts * 16 for k in range(parts + 1)]
    spans = [slice(a, b) for a, b in zip(cuts, cuts[1:])]
    rest = [_executor().submit(_quantize_groups, x[s], bits[s], out[s], out_bits[s], mantissa_bits) for s in spans[1:]]
    _quantize_groups(x[spans[0]], bits[spans[0]], out[spans[0]], out_bits[spans[0]], mantissa_bits)
    for f in rest:
        f.result()
