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
    elif kind == "order":   # exponents close enough that 16-term float32 sums round often near a bf16 boundary
        x = x * torch.exp2(torch.randint(-6, 6, shape, generator=gen).float())
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


def _stated_order_reference(b_parts, a_parts, steps, lo, hi, d):
    """dst16_kernel's documented arithmetic, written out with torch float32 ops (independent of the kernel and of
    torch's GEMM backend): per K tile, step, 16-wide face: four partial sums s_r = (((0 + p_r) + p_r+4) + p_r+8)
    + p_r+12, dot = ((s_0 + s_1) + s_2) + s_3, Dst = bf16_rne(Dst + dot)."""
    d = d.clone()
    for t in range(lo, hi, 32):
        for ib, ia in steps:
            x, w = b_parts[ib], a_parts[ia]
            for f in range(t, min(t + 32, hi), 16):
                p = [x[..., :, f + k:f + k + 1] * w[..., f + k:f + k + 1, :] for k in range(16)]
                s = []
                for r in range(4):
                    acc = torch.zeros_like(d)
                    for k in range(r, 16, 4):
                        acc = acc + p[k]
                    s.append(acc)
                d = formats.exact_round_to_bfloat16(d + (((s[0] + s[1]) + s[2]) + s[3]))
    return d


@pytest.mark.parametrize("kind", ["normal", "spread", "edge", "order"])
@pytest.mark.parametrize("phases,batched", [(1, False), (2, False), (4, False), (3, True), (1, True)])
def test_dst16_kernel_equals_its_stated_sum_order(kind, phases, batched):
    """The compiled kernel gives the bits of the order its docstring states, on any CPU: ragged N (not a multiple
    of the 256-column panel), M not a multiple of the 16-row tile, a nonzero starting Dst, a K range from the middle
    of K, and NaN / inf from overflowing products."""
    from runtime.emulator.ttnn import dst16_kernel

    gen = torch.Generator().manual_seed(hash((kind, phases, batched)) % 2 ** 31)
    g, m, k, n = (3, 40, 96, 72) if batched else (1, 72, 128, 300)
    if kind == "order":   # enough sums that another order shows (~1 in 3e4 Dst writes differs)
        g, m, k, n = (4, 120, 96, 288) if batched else (1, 456, 128, 520)
    steps = [(int(p >= 2), p & 1) for p in range(phases)]
    b_parts = [_values((g, m, k), kind, DT.BFLOAT16, gen) for _ in range(2)]
    a_parts = [_values((g if batched else 1, k, n), kind, DT.BFLOAT16, gen) for _ in range(2)]
    if kind == "edge":
        b_parts[0][0, 0, 32:48] = 2.0 ** 120               # products overflow: column 1 sums to inf, column 0
        a_parts[0][0, 32:48, 1] = 2.0 ** 120               # alternates +inf / -inf (NaN)
        a_parts[0][0, 32:48, 0] = torch.tensor([2.0 ** 120, -(2.0 ** 120)]).repeat(8)
    d0 = _values((g, m, n), kind, DT.BFLOAT16, gen)
    lo, hi = 32, k
    want = _stated_order_reference(b_parts, a_parts, steps, lo, hi, d0)
    out = torch.empty((g, m, n), dtype=torch.bfloat16)
    bits = lambda t: t.view(torch.int16).numpy().view("uint16")   # noqa: E731
    dst16_kernel.accumulate(bits(d0.bfloat16()), torch.stack(b_parts).numpy(),
                            dst16_kernel.pack_in1(torch.stack(a_parts).numpy()),
                            torch.tensor(steps, dtype=torch.int64).numpy(), lo, hi, bits(out))
    d = out.float()
    nan = torch.isnan(want)
    assert torch.equal(torch.isnan(d), nan)
    _same(torch.where(nan, 0.0, d), torch.where(nan, 0.0, want))
    if kind == "edge":
        assert nan.any() and torch.isinf(want).any()


@pytest.mark.parametrize("fid", [F.LoFi, F.HiFi4])
def test_matmul_values_order_sensitive_sums_bit_identical(fid):
    """Inputs whose float32 16-term sums round often enough that another summation order than the ``addmm`` loop's
    changes some output bits (test_dst16_kernel_equals_its_stated_sum_order shows that it does)."""
    gen = torch.Generator().manual_seed(11 + fid.value)
    a = _values((384, 256), "order", DT.BFLOAT16, gen)
    w = _values((256, 320), "order", DT.BFLOAT16, gen)
    st = cc.ComputeSettings(fid, False, False, False, False, "wormhole_b0")
    _same(ops._matmul_values(a, w, None, None, st, DT.BFLOAT16, DT.BFLOAT16, DT.BFLOAT16, 2),
          frozen_paths.matmul_values(a, w, None, None, st, DT.BFLOAT16, DT.BFLOAT16, DT.BFLOAT16, 2))


@pytest.mark.parametrize("w", [1, 5, 16, 33, 96])
def test_reduce_row_small_inputs_compiled_equals_torch(w):
    """Small reductions (the layernorm's per-block partials are (rows, 1)) take the compiled kernel now; same bits as
    the torch version for every fidelity and Dst mode, signed zeros and spread exponents included."""
    gen = torch.Generator().manual_seed(w)
    for kind in ("normal", "spread", "edge"):
        x = _values((7, 40, w), kind, DT.BFLOAT16, gen)
        for ph in (1, 2, 3, 4):
            for f32 in (False, True):
                _same(cc.reduce_row(x, 1 / 3, ph, f32), cc.reduce_row_torch(x, 1 / 3, ph, f32))
