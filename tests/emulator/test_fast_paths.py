"""Issue 16's fast paths give the same bits as the paths they replaced (frozen in frozen_paths.py).

Inputs: random values rounded to the operand dtypes, plus adversarial ones (exponents spread over 2**+-40 so that
16-term float32 sums round, zeros of both signs, float32 subnormals, values at bf16 ties).
"""

from __future__ import annotations

import itertools

import pytest
import torch

from runtime.emulator import formats
from runtime.emulator.ttnn import compute_config as cc
from runtime.emulator.ttnn import operations as ops
from runtime.emulator.ttnn.types import DataType as DT

from . import frozen_paths

F = cc.MathFidelity


def _values(shape, kind, dtype, gen):
    x = torch.randn(shape, generator=gen)
    if kind == "spread":
        x = x * torch.exp2(torch.randint(-40, 40, shape, generator=gen).float())
    elif kind == "edge":
        pick = torch.randint(0, 6, shape, generator=gen)
        x = torch.where(pick == 0, torch.zeros(shape), x)
        x = torch.where(pick == 1, torch.full(shape, -0.0), x)
        x = torch.where(pick == 2, x * 2.0 ** -130, x)                 # float32 subnormals
        x = torch.where(pick == 3, 1.0 + torch.randint(0, 256, shape, generator=gen) * 2.0 ** -8, x)  # bf16 ties
    if dtype == DT.BFLOAT16:
        return formats.exact_round_to_bfloat16(x)
    if dtype == DT.BFLOAT8_B:
        return formats.exact_quantize_block_float(x, 7)
    return x


def _same(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    assert torch.equal(a.contiguous().view(torch.int32), b.contiguous().view(torch.int32)), \
        f"{(a.view(torch.int32) != b.view(torch.int32)).sum().item()} of {a.numel()} values differ"


CASES = list(itertools.product(
    (F.LoFi, F.HiFi2, F.HiFi3, F.HiFi4),
    (False, True),                  # fp32_dest_acc_en
    (False, True),                  # packer_l1_acc
    (None, 1, 3),                   # in0_block_w
    ("normal", "spread", "edge"),
))


@pytest.mark.parametrize("fid,fp32,l1,blk,kind", CASES)
def test_matmul_values_single_weight_bit_identical(fid, fp32, l1, blk, kind):
    gen = torch.Generator().manual_seed(hash((fid.value, fp32, l1, blk, kind)) % 2 ** 31)
    m, k, n = 64, 96 * (blk or 1) if blk != 3 else 192, 96
    a = _values((2, m, k), kind, DT.BFLOAT8_B, gen)
    w = _values((k, n), kind, DT.BFLOAT8_B, gen)
    bias = _values((n,), "normal", DT.BFLOAT16, gen)
    st = cc.ComputeSettings(fid, False, fp32, l1, False, "wormhole_b0")
    for b_row, act, out_dt in ((None, None, DT.BFLOAT16), (bias, "gelu_fast", DT.BFLOAT8_B), (bias, "relu", DT.BFLOAT16),
                               (bias, "gelu", DT.BFLOAT8_B)):
        old = frozen_paths.matmul_values(a, w, b_row, act, st, DT.BFLOAT8_B, DT.BFLOAT8_B, out_dt, blk)
        new = ops._matmul_values(a, w, b_row, act, st, DT.BFLOAT8_B, DT.BFLOAT8_B, out_dt, blk)
        _same(new, old)
        # weights stored as bfloat16 (how a Session holds them) give the same values
        new_b = ops._matmul_values(a, w.to(torch.bfloat16), b_row, act, st, DT.BFLOAT8_B, DT.BFLOAT8_B, out_dt, blk)
        _same(new_b, old)


@pytest.mark.parametrize("fid,fp32,kind", list(itertools.product((F.LoFi, F.HiFi2, F.HiFi4), (False, True),
                                                                  ("normal", "spread", "edge"))))
@pytest.mark.parametrize("a_dt,b_dt", [(DT.BFLOAT16, DT.BFLOAT16), (DT.FLOAT32, DT.BFLOAT8_B),
                                       (DT.BFLOAT8_B, DT.FLOAT32)])
def test_matmul_values_batched_and_dtypes_bit_identical(fid, fp32, kind, a_dt, b_dt):
    gen = torch.Generator().manual_seed(hash((fid.value, fp32, kind, a_dt.value, b_dt.value)) % 2 ** 31)
    a = _values((3, 4, 64, 64), kind, a_dt, gen)       # attention-like: Q @ K^T per head
    b = _values((3, 4, 64, 96), kind, b_dt, gen)
    st = cc.ComputeSettings(fid, True, fp32, False, False, "wormhole_b0")
    old = frozen_paths.matmul_values(a, b, None, None, st, a_dt, b_dt, DT.BFLOAT16, None)
    new = ops._matmul_values(a, b, None, None, st, a_dt, b_dt, DT.BFLOAT16, None)
    _same(new, old)


def test_matmul_values_ragged_k_falls_back_bit_identical():
    gen = torch.Generator().manual_seed(5)
    a = _values((40, 40), "normal", DT.BFLOAT16, gen)
    b = _values((40, 24), "normal", DT.BFLOAT16, gen)
    st = cc.ComputeSettings(F.HiFi2, True, False, False, False, "wormhole_b0")
    _same(ops._matmul_values(a, b, None, None, st, DT.BFLOAT16, DT.BFLOAT16, DT.BFLOAT16, None),
          frozen_paths.matmul_values(a, b, None, None, st, DT.BFLOAT16, DT.BFLOAT16, DT.BFLOAT16, None))


@pytest.mark.parametrize("phases", [1, 2, 3, 4])
def test_phase_parts_equal_fidelity_parts(phases):
    """The bf16-bit parts equal compute_config.fidelity_parts for every bf16 bit pattern (exhaustive)."""
    from runtime.emulator.ttnn import dst16_matmul

    allbf = torch.arange(-2 ** 15, 2 ** 15, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)
    finite = allbf[torch.isfinite(allbf.float())]
    x = finite.float().reshape(-1, 16)
    b_ref, a_ref = cc.fidelity_parts(x, x, True, True)
    for side, ref in (("in0", b_ref), ("in1", a_ref)):
        got = dst16_matmul.phase_parts(finite.reshape(-1, 16), True, side, phases)
        for g, r in zip(got, ref):
            if g is not None:
                _same(g.float(), r.to(torch.bfloat16).float())
