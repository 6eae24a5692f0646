"""The 16-bit-Dst matmul inner loop: the fidelity-phase operand parts and the per-MVMUL ``addmm`` calls.

Same calls as the loop it replaced (one bfloat16 ``addmm`` / ``baddbmm`` per 16 of K and fidelity phase, in the
kernel's order, into the same bf16 Dst tensor), with less work around them:

* only the parts the phases use are made (LoFi needs one part of each operand, not four);
* parts of bf16-exact operands come from the bfloat16 bits directly: truncating a bfloat16 value's mantissa to
  6 (4) bits is ``bits & 0xFFFE`` (``& 0xFFF8``), the same bits ``truncate_mantissa`` leaves in float32, and
  the rest ``x - hi`` is exact in bfloat16 (at most 3 significant bits), so bf16 arithmetic gives it exactly;
* operands are laid out face-major (each 16-wide K face one contiguous matrix), so oneDNN reads contiguous
  operands instead of copying a strided slice on every call.

tests/emulator/test_fast_paths.py compares the result bit for bit with the loop as it was
(tests/emulator/frozen_paths.py) on random and adversarial inputs.
"""

from __future__ import annotations

import torch

from . import compute_config as cc

_KEEP = {6: -2, 4: -8}   # int16 masks keeping the top 6 / 4 of a bfloat16's 7 mantissa bits


def _bf16_exact_parts(x: torch.Tensor, hi_bits: int, need: set):
    xb = x if x.dtype == torch.bfloat16 else x.to(torch.bfloat16)   # exact: the values are bfloat16s
    hi = torch.bitwise_and(xb.view(torch.int16), _KEEP[hi_bits]).view(torch.bfloat16)
    return [hi if 0 in need else None, (xb - hi) if 1 in need else None]


def _float_parts(x: torch.Tensor, hi_bits: int, all_bits: int, need: set):
    x = x.float() if x.dtype != torch.float32 else x
    hi = cc.truncate_mantissa(x, hi_bits)
    lo = (cc.truncate_mantissa(x, all_bits) - hi) if 1 in need else None
    return [hi.to(torch.bfloat16) if 0 in need else None, lo.to(torch.bfloat16) if lo is not None else None]


def phase_parts(x: torch.Tensor, exact: bool, side: str, phases: int):
    """[hi, lo] bfloat16 parts of ``x`` that ``phases`` fidelity phases use (None where unused), equal to
    ``compute_config.fidelity_parts``: in0 (SrcB) hi = 6 mantissa bits, all = TF32's 10; in1 (SrcA) hi = 4,
    all = 9."""
    if side == "in0":
        need, hi_bits, all_bits = {int(p >= 2) for p in range(phases)}, 6, 10
    else:
        need, hi_bits, all_bits = {p & 1 for p in range(phases)}, 4, 9
    if exact:
        return _bf16_exact_parts(x, hi_bits, need)
    return _float_parts(x, hi_bits, all_bits, need)


def faces_in0(x: torch.Tensor, single: bool) -> torch.Tensor:
    """(.., M, K) -> (K/16, .., M, 16) contiguous: face f is in0[..., 16f:16f+16]."""
    k = x.shape[-1]
    lead = x.shape[:-1]
    y = x.reshape(lead + (k // 16, 16))
    return y.movedim(-2, 0).contiguous()


def faces_in1(x: torch.Tensor, single: bool) -> torch.Tensor:
    """(.., K, N) -> (K/16, .., 16, N): face f is in1[..., 16f:16f+16, :] (a view when 2D)."""
    k, n = x.shape[-2], x.shape[-1]
    y = x.reshape(x.shape[:-2] + (k // 16, 16, n))
    if single:
        return y
    return y.movedim(-3, 0).contiguous()


def accumulate(d: torch.Tensor, b_faces, a_faces, steps, lo: int, hi: int, single: bool) -> torch.Tensor:
    """``Dst = bf16(Dst + SrcB_p @ SrcA_p)`` for every K tile in [lo, hi), phase step (outer) and 16-wide face
    (inner), into ``d`` in place (Dst.md's order, as the kernel issues the MVMULs)."""
    mm = torch.addmm if single else torch.baddbmm
    for t in range(lo, hi, 32):
        for ib, ia in steps:
            x0, x1 = b_faces[ib], a_faces[ia]
            for f in (t, t + 16):
                if f < hi:
                    mm(d, x0[f // 16], x1[f // 16], out=d)
    return d
