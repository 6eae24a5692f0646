"""Frozen copies of emulator code paths as they were before issue 16's fast paths (the references the
bit-identity tests in test_fast_paths.py compare the current code with).  Do not optimise."""

from __future__ import annotations

import math

import torch

from runtime.emulator import formats
from runtime.emulator.ttnn import compute_config as cc
from runtime.emulator.ttnn.operations import TILE, _apply_activation, _ceil_div
from runtime.emulator.ttnn.tensor import BF16_EXACT_DTYPES, BLOCK_FLOAT_DTYPES
from runtime.emulator.ttnn.types import DataType


def matmul_values(av: torch.Tensor, bv: torch.Tensor, bias_row, act_kind, settings: cc.ComputeSettings,
                   a_dtype: DataType, b_dtype: DataType, out_dtype: DataType, in0_block_w) -> torch.Tensor:
    """The values the matmul kernel packs (before the output rounding, which ``new_tensor`` does).

    See ``matmul``'s docstring for the model and its sources.
    """
    k = av.shape[-1]
    single = math.prod(bv.shape[:-2]) == 1
    if single:   # one weight matrix: one GEMM over all rows of A (fused batch)
        batch = tuple(torch.broadcast_shapes(av.shape[:-2], bv.shape[:-2]))
        a2 = av.reshape(-1, k)
        b2 = bv.reshape(bv.shape[-2], bv.shape[-1])
    else:        # batched: one GEMM per batch entry
        batch = tuple(torch.broadcast_shapes(av.shape[:-2], bv.shape[:-2]))
        a2 = av.expand(batch + tuple(av.shape[-2:])).reshape((-1,) + tuple(av.shape[-2:]))
        b2 = bv.expand(batch + tuple(bv.shape[-2:])).reshape((-1,) + tuple(bv.shape[-2:]))

    def finish(x):
        return x.reshape(batch + (av.shape[-2], bv.shape[-1]))

    def mm(x0, x1, out=None):
        if single:
            return torch.mm(x0, x1) if out is None else torch.addmm(out, x0, x1, out=out)
        return torch.bmm(x0, x1) if out is None else torch.baddbmm(out, x0, x1, out=out)

    if formats.fp32_numerics():
        out = torch.mm(a2, b2) if single else torch.matmul(av, bv)
        if bias_row is not None:
            out = out + bias_row
        return finish(_apply_activation(out, act_kind, True))

    fp32_dest = settings.fp32_dest_acc_en
    kt = _ceil_div(k, TILE)
    nb = kt // in0_block_w if in0_block_w else 1
    block_k = (in0_block_w or kt) * TILE
    has_bias = bias_row is not None
    # tt-metal matmul_multicore_reuse_mcast_{1d,2d}_program_factory.cpp: packer_l1_acc_en and interm0_data_format
    l1_acc = settings.packer_l1_acc and ((has_bias and nb > 1) or nb > 2)
    interm = DataType.FLOAT32 if fp32_dest else (DataType.BFLOAT16 if l1_acc else out_dtype)

    if fp32_dest:
        # FP32 Dst: every MVMUL accumulates in float32, so a K block is a float32 GEMM of the fidelity terms
        terms = cc.fidelity_terms(a2, b2, settings.phases, a_dtype in BF16_EXACT_DTYPES,
                                  b_dtype in BF16_EXACT_DTYPES)

        def block(lo: int, hi: int, acc):
            out = acc                                  # the reloaded partials are consumed
            for x0, x1 in terms:
                out = mm(x0[..., lo:hi], x1[..., lo:hi, :], out)
            return out

        def q_interm(v):                               # interm0 is Float32 with fp32_dest_acc_en
            return v

        def plus(part, acc):                           # packer L1 accumulation in Float32
            return part.add_(acc)
    else:
        # 16-bit Dst: Dst = bf16(Dst + SrcB_p @ SrcA_p) after every MVMUL (16 of K, one fidelity phase; per K tile
        # the phase loop is outside the two K faces, Dst.md).  The phase parts are bf16 values, so a bfloat16 GEMM
        # with float32 accumulation and one rounding per call is that instruction.  Dst and the partials are kept
        # as bfloat16 tensors (every value they hold is a bf16).
        b_parts, a_parts = cc.fidelity_parts(a2, b2, a_dtype in BF16_EXACT_DTYPES, b_dtype in BF16_EXACT_DTYPES)
        used_b = {p >= 2 for p in range(settings.phases)}
        used_a = {p & 1 for p in range(settings.phases)}
        b_parts = [t.to(torch.bfloat16) if i in used_b else None for i, t in enumerate(b_parts)]
        a_parts = [t.to(torch.bfloat16).contiguous() if i in used_a else None for i, t in enumerate(a_parts)]
        steps = [(p >= 2, p & 1) for p in range(settings.phases)]

        def block(lo: int, hi: int, acc):
            d = torch.zeros(a2.shape[:-1] + (b2.shape[-1],), dtype=torch.bfloat16) if acc is None else acc
            for t in range(lo, hi, TILE):
                for ib, ia in steps:
                    x0, x1 = b_parts[ib], a_parts[ia]
                    for f in (t, t + 16):
                        if f < hi:
                            e = min(f + 16, hi)
                            mm(x0[..., f:e], x1[..., f:e, :], d)
            return d

        def q_interm(v):                               # the bf16 Dst packed into interm0 (and unpacked)
            if interm in BLOCK_FLOAT_DTYPES:
                return cc.block_float_bf16_(v, 7 if interm == DataType.BFLOAT8_B else 3)
            return v                                   # Float16_b / Float32 hold a bf16 Dst exactly

        def plus(part, acc):                           # packer L1 accumulation into Float16_b
            return torch.add(part, acc, out=part)

    acc = None   # the partials in the intermediate CB (interm format)
    d = None     # the last Dst contents
    for blk in range(nb):
        lo, hi = blk * block_k, min(k, (blk + 1) * block_k)
        last = blk == nb - 1
        if l1_acc and (has_bias or not last):      # the block in Dst, packed with L1 accumulation
            part = block(lo, hi, None)
            acc = q_interm(part if acc is None else plus(part, acc))
            continue
        d = block(lo, hi, acc)                      # reload the partials (if any) into Dst, accumulate the block
        acc = None
        if has_bias or not last:
            acc = q_interm(d)                       # spill to the intermediate CB
    if not fp32_dest:   # add_tiles_bcast_rows(mm_partials, bias) into Dst, the SFPU activation, its Dst store
        return finish(cc.matmul_epilogue_bf16(acc if has_bias else d, bias_row, act_kind))
    if has_bias:   # the Float32 partials are read through SrcA as TF32 (add_tiles_bcast_rows)
        d = cc.truncate_mantissa(acc, 10) + bias_row
    return finish(_apply_activation(d, act_kind, fp32_dest))
