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

import numpy as np
import torch

from . import compute_config as cc
from . import dst16_kernel

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


class Operands:
    """One matmul's 16-bit-Dst operands, prepared once for all its K blocks: the fidelity parts the phases use, as
    the compiled kernel's float32 arrays (``dst16_kernel``), or face-major bfloat16 tensors for the ``addmm``
    loop where numba is absent.  ``a2`` is in0 ((M, K), or (G, M, K) when not ``single``), ``b2`` in1 ((K, N) or
    (G, K, N)); K is a multiple of 16."""

    def __init__(self, a2: torch.Tensor, b2: torch.Tensor, a_exact: bool, b_exact: bool, phases: int,
                 single: bool):
        self.steps = [(int(p >= 2), p & 1) for p in range(phases)]
        self.single = single
        self.out_shape = a2.shape[:-1] + (b2.shape[-1],)
        b_parts = phase_parts(a2, a_exact, "in0", phases)
        a_parts = phase_parts(b2, b_exact, "in1", phases)
        if dst16_kernel.available():
            used_b = sorted({ib for ib, _ in self.steps})
            used_a = sorted({ia for _, ia in self.steps})
            lead = 1 if single else a2.shape[0]
            self.b_np = np.stack([b_parts[i].float().reshape(lead, a2.shape[-2], a2.shape[-1]).numpy()
                                  for i in used_b])
            self.a_np = dst16_kernel.pack_in1(np.stack([a_parts[i].float().reshape(
                -1, b2.shape[-2], b2.shape[-1]).numpy() for i in used_a]))
            self.steps_np = np.array([(used_b.index(ib), used_a.index(ia)) for ib, ia in self.steps], np.int64)
        else:   # pragma: no cover - numba is a declared dependency
            self.b_faces = [None if t is None else faces_in0(t, single) for t in b_parts]
            self.a_faces = [None if t is None else faces_in1(t, single) for t in a_parts]

    def accumulate(self, acc, lo: int, hi: int) -> torch.Tensor:
        """The bf16 Dst after the MVMULs of K in [lo, hi), starting from the reloaded partials ``acc`` (a bfloat16
        tensor, or None for a cleared Dst)."""
        if not dst16_kernel.available():   # pragma: no cover
            d = torch.zeros(self.out_shape, dtype=torch.bfloat16) if acc is None else acc
            return accumulate(d, self.b_faces, self.a_faces, self.steps, lo, hi, self.single)
        g = self.b_np.shape[1]
        out = torch.empty(self.out_shape, dtype=torch.bfloat16)
        bits = (lambda t: t.contiguous().view(torch.int16).numpy().view(np.uint16).reshape(g, -1, self.out_shape[-1]))
        dst16_kernel.accumulate(None if acc is None else bits(acc), self.b_np, self.a_np, self.steps_np, lo, hi,
                                bits(out))
        return out
