"""Compiled 16-bit-Dst matmul (numba): every MVMUL's 16-wide float32 dot product and its bf16 Dst rounding in
registers, instead of one bfloat16 ``addmm`` call per 16 of K and fidelity phase.

What each MVMUL computes (the model of ``dst16_matmul`` / ``compute_config``, unchanged): for output element
(i, j), fidelity step (ib, ia) and the 16-wide K face starting at f,
``Dst[i, j] = bf16_rne(Dst[i, j] + sum_{k<16} SrcB_ib[i, f+k] * SrcA_ia[f+k, j])``.
The operands are bfloat16 parts (at most 8 significant bits), so every product is exact in float32; only the
16-term sum and the add into Dst round, and their order decides the bits.  This kernel sums in the order of the
path it replaced -- torch's bfloat16 ``addmm`` on CPUs without bf16 matrix instructions
(ATen native/cpu/BlasKernel.cpp, ``gemm_notrans_`` for reduced-precision types with its ``sum`` helper): four
partial sums ``s_r = (((0 + p_r) + p_{r+4}) + p_{r+8}) + p_{r+12}``, then ``((s_0 + s_1) + s_2) + s_3``, then
``Dst + dot`` rounded to bfloat16 nearest-even (c10::BFloat16, NaN -> 0x7FC0).  Why that order: it is what the
replaced path computed on this project's CPUs (torch 2.13, AVX2 without bf16 matrix instructions); the sum order
inside the hardware's MVMUL is not documented, so the model fixes one.  Tests (tests/emulator/test_fast_paths.py):
bit for bit against a torch transcription of this order (any CPU) and against the frozen ``addmm`` loop
(tests/emulator/frozen_paths.py) on random, adversarial and order-sensitive inputs.

Where the old path was not machine-independent: on a CPU with AVX512-BF16 / AMX torch can route bfloat16 ``addmm``
to oneDNN (CPUBlas mkldnn_bf16_gemm), which sums the 16 products in another order, so the old path's bits depended on the CPU; this kernel's
do not.  The two orders differ only where float32 rounding of the 16-term sum differs: each differs from the exact
sum by at most 16 * 2**-24 * (|Dst| + sum |products|), so one MVMUL's bf16 results differ by at most one bf16 ulp
(only when the exact value lies that close to a rounding boundary; about 1 in 3e4 Dst writes for products spread
over 12 binades, none in most data).

Products exact in float32 also make an FMA contraction harmless, but numba compiles with ``fastmath=False``, so
LLVM keeps each add where it is written.  Work is split by rows over torch's thread count (nogil kernels on
compute_config's thread pool, as its SFPU kernels).
"""

from __future__ import annotations

import numpy as np
import torch

from .compute_config import _pool   # the SFPU kernels' thread pool (one pool for all compiled kernels)

try:  # numba is a declared dependency; without it dst16_matmul keeps the addmm loop
    import numba
except ImportError:  # pragma: no cover
    numba = None

_J_BLOCK = 256    # output columns per panel: a 16 x 256 float32 SrcA panel (16 KB) stays in L1
_I_BLOCK = 16     # output rows per tile (the Dst tile is 16 x 256 float32, 16 KB)

if numba is not None:
    @numba.njit(inline="always")
    def _rne_bf16(v):
        """float32 -> the float32 of its bfloat16 nearest-even rounding (c10::BFloat16: NaN -> 0x7FC0)."""
        b = np.int64(np.float32(v).view(np.int32))
        if (b & 0x7FFFFFFF) > 0x7F800000:
            return np.int32(0x7FC00000).view(np.float32)
        return np.int32((b + 0x7FFF + ((b >> 16) & 1)) & -65536).view(np.float32)

    @numba.njit(nogil=True, cache=True, boundscheck=False, fastmath=False)
    def _nb_dst16(b_parts, a_panels, steps, lo, hi, src, has_src, d, q0, q1):
        """Row blocks [q0, q1) of ``d`` (G, M, N bfloat16 bits as uint16) = ``src`` (same layout; zeros when not
        ``has_src``: a cleared Dst) + the MVMULs of K in [lo, hi).

        b_parts: (P, G, M, K) SrcB parts of in0; a_panels: (P', Ga, N / J, K / 16, 16, J) SrcA parts of in1 in
        16 x J panels (``pack_in1``; Ga = 1: one weight for every g); steps: (S, 2) int64 (SrcB part, SrcA part)
        per fidelity phase.  Row block q is rows [16 q', 16 q' + 16) of matrix g, q = g * ceil(M / 16) + q'."""
        m = d.shape[1]
        n = d.shape[2]
        jw = a_panels.shape[5]
        per_g = (m + _I_BLOCK - 1) // _I_BLOCK
        single_a = a_panels.shape[1] == 1
        zero = np.float32(0.0)
        tile = np.empty((_I_BLOCK, jw), dtype=np.float32)   # the Dst tile, contiguous (no 4 KB set aliasing)
        for q in range(q0, q1):
            g = q // per_g
            i0 = (q - g * per_g) * _I_BLOCK
            nr = min(_I_BLOCK, m - i0)
            ga = 0 if single_a else g
            for jb in range(a_panels.shape[2]):
                j0 = jb * jw
                nj = min(jw, n - j0)
                for rr in range(nr):
                    for jj in range(nj):
                        v = np.float32(0.0)
                        if has_src:
                            v = np.int32(np.int32(src[g, i0 + rr, j0 + jj]) << 16).view(np.float32)
                        tile[rr, jj] = v
                for t in range(lo, hi, 32):
                    for s in range(steps.shape[0]):
                        ib = steps[s, 0]
                        x = b_parts[ib, g]
                        for f in range(t, min(t + 32, hi), 16):
                            w = a_panels[steps[s, 1], ga, jb, f // 16]
                            for rr in range(nr):
                                xr = x[i0 + rr]
                                dr = tile[rr]
                                x0 = xr[f]
                                x1 = xr[f + 1]
                                x2 = xr[f + 2]
                                x3 = xr[f + 3]
                                x4 = xr[f + 4]
                                x5 = xr[f + 5]
                                x6 = xr[f + 6]
                                x7 = xr[f + 7]
                                x8 = xr[f + 8]
                                x9 = xr[f + 9]
                                x10 = xr[f + 10]
                                x11 = xr[f + 11]
                                x12 = xr[f + 12]
                                x13 = xr[f + 13]
                                x14 = xr[f + 14]
                                x15 = xr[f + 15]
                                for j in range(nj):   # from 0: LLVM knows j >= 0 (no wraparound) and vectorises
                                    s0 = ((((zero + x0 * w[0, j]) + x4 * w[4, j]) + x8 * w[8, j]) + x12 * w[12, j])
                                    s1 = ((((zero + x1 * w[1, j]) + x5 * w[5, j]) + x9 * w[9, j]) + x13 * w[13, j])
                                    s2 = ((((zero + x2 * w[2, j]) + x6 * w[6, j]) + x10 * w[10, j]) + x14 * w[14, j])
                                    s3 = ((((zero + x3 * w[3, j]) + x7 * w[7, j]) + x11 * w[11, j]) + x15 * w[15, j])
                                    dr[j] = _rne_bf16(dr[j] + (((s0 + s1) + s2) + s3))
                for rr in range(nr):   # every tile value is a bfloat16: its top 16 bits are it
                    for jj in range(nj):
                        d[g, i0 + rr, j0 + jj] = np.uint16(np.float32(tile[rr, jj]).view(np.uint32) >> 16)


def available() -> bool:
    return numba is not None


def pack_in1(a_parts: np.ndarray) -> np.ndarray:
    """(P, Ga, K, N) SrcA parts -> (P, Ga, ceil(N / J), K / 16, 16, J) panels (zero columns past N)."""
    p, ga, k, n = a_parts.shape
    nb = -(-n // _J_BLOCK)
    if nb * _J_BLOCK != n:
        a_parts = np.concatenate([a_parts, np.zeros((p, ga, k, nb * _J_BLOCK - n), np.float32)], axis=3)
    return np.ascontiguousarray(a_parts.reshape(p, ga, k // 16, 16, nb, _J_BLOCK).transpose(0, 1, 4, 2, 3, 5))


def accumulate(src, b_parts: np.ndarray, a_panels: np.ndarray, steps: np.ndarray, lo: int, hi: int,
               out: np.ndarray) -> None:
    """``out`` (G, M, N bfloat16 bits, uint16) = the bf16 Dst ``src`` (same layout; None: cleared) after the 16-bit-Dst
    MVMULs of K in [lo, hi), on torch's thread count (``_nb_dst16`` describes the operands).  ``lo`` and ``hi`` are
    multiples of 16."""
    has_src = src is not None
    src = out if src is None else src
    blocks = out.shape[0] * -(-out.shape[1] // _I_BLOCK)
    work = out.shape[0] * out.shape[1] * out.shape[2] * (hi - lo) * len(steps)
    parts = max(1, min(torch.get_num_threads(), blocks, work // (1 << 22)))
    args = (b_parts, a_panels, steps, lo, hi, src, has_src, out)
    if parts == 1:
        _nb_dst16(*args, 0, blocks)
        return
    cuts = [blocks * p // parts for p in range(parts + 1)]
    futs = [_pool().submit(_nb_dst16, *args, a, b) for a, b in zip(cuts[1:-1], cuts[2:])]
    _nb_dst16(*args, cuts[0], cuts[1])
    for fu in futs:
        fu.result()
