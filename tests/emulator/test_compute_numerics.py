"""Compute kernel configs and the device-arithmetic model of matmul / softmax / layernorm (runtime/emulator).

Sources of every modelled fact are in the docstrings of runtime/emulator/ttnn/compute_config.py and of the ops in
runtime/emulator/ttnn/operations.py; the bounds these tests measure are the ones those docstrings state.
"""

from __future__ import annotations

import math

import pytest
import torch

from runtime.emulator import formats
from runtime.emulator.errors import UnsupportedError
from runtime.emulator.ttnn import compute_config as cc
from runtime.emulator.ttnn import operations as ops

BF16_EPS = 2.0 ** -7      # bf16 ulp at 1.0


def bf16(x):
    return formats.exact_round_to_bfloat16(x)


def bfp8(x):
    return formats.exact_quantize_block_float(x, 7)


def ulps_bf16(a, b):
    """|a - b| in units of the bf16 ulp at max(|a|, |b|) (0 where both are 0)."""
    m = torch.maximum(a.abs(), b.abs()).clamp(min=1e-30)
    ulp = torch.exp2(torch.floor(torch.log2(m)) - 7)
    return ((a - b).abs() / ulp).max().item()


def ulps_rowmax(a, b):
    """max |a - b| in units of the bf16 ulp of each row's largest |b| (last dim = row)."""
    m = b.abs().amax(dim=-1, keepdim=True).clamp(min=1e-30)
    ulp = torch.exp2(torch.floor(torch.log2(m)) - 7)
    return ((a - b).abs() / ulp).max().item()


def settings(fid, *, fp32=False, approx=True, l1=False, arch="wormhole_b0"):
    return cc.ComputeSettings(fid, approx, fp32, l1, False, arch)


def dev_tensor(ttnn, device, x, dtype=None, layout=None):
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.TILE_LAYOUT, device=device)


# -----------------------------------------------------------------------------
# config classes


def test_wormhole_config_signature_and_defaults(ttnn):
    c = ttnn.WormholeComputeKernelConfig()
    # ttnn 0.81.1 defaults (nanobind signature of the wheel)
    assert c.math_fidelity == ttnn.MathFidelity.Invalid and c.math_approx_mode is True
    assert c.fp32_dest_acc_en is False and c.packer_l1_acc is False and c.dst_full_sync_en is False
    assert c.throttle_level == ttnn.ThrottleLevel.NO_THROTTLE
    c = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi, math_approx_mode=True,
                                         fp32_dest_acc_en=False, packer_l1_acc=False)
    assert c.math_fidelity == ttnn.MathFidelity.LoFi
    assert ttnn.WormholeComputeKernelConfig(math_fidelity=2).math_fidelity == ttnn.MathFidelity.HiFi2
    c.fp32_dest_acc_en = True   # def_readwrite
    assert c.fp32_dest_acc_en is True
    with pytest.raises(TypeError):
        c.fp32_dest_acc_en = 1          # nanobind bool: True/False only
    with pytest.raises(TypeError):
        ttnn.WormholeComputeKernelConfig(ttnn.MathFidelity.LoFi)    # keyword-only
    with pytest.raises(TypeError):
        ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi, fidelity=1)   # unknown keyword
    with pytest.raises(TypeError):
        ttnn.WormholeComputeKernelConfig(math_approx_mode=None)
    with pytest.raises(TypeError):
        ttnn.WormholeComputeKernelConfig(math_fidelity=1)           # no MathFidelity has value 1


def test_math_fidelity_and_throttle_enums(ttnn):
    assert {m.name: m.value for m in ttnn.MathFidelity} == {"LoFi": 0, "HiFi2": 2, "HiFi3": 3, "HiFi4": 4,
                                                           "Invalid": 255}
    assert [m.name for m in ttnn.ThrottleLevel] == ["NO_THROTTLE"] + [f"LEVEL_{i}" for i in range(1, 6)]
    assert repr(ttnn.MathFidelity.HiFi4) == "MathFidelity.HiFi4"


def test_grayskull_config_is_v055_api(ttnn):
    c = ttnn.GrayskullComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2, math_approx_mode=False)
    assert c.math_fidelity == ttnn.MathFidelity.HiFi2 and c.math_approx_mode is False
    assert ttnn.GrayskullComputeKernelConfig().math_fidelity == ttnn.MathFidelity.Invalid
    assert "v0.55" in ttnn.GrayskullComputeKernelConfig.__doc__
    for kw in ("fp32_dest_acc_en", "packer_l1_acc", "dst_full_sync_en", "throttle_level"):
        with pytest.raises(TypeError):
            ttnn.GrayskullComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi, **{kw: False})


def test_init_device_compute_kernel_config(ttnn):
    c = ttnn.init_device_compute_kernel_config(ttnn.Arch.WORMHOLE_B0)
    assert c.math_fidelity == ttnn.MathFidelity.LoFi
    given = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi3)
    assert ttnn.init_device_compute_kernel_config(ttnn.Arch.WORMHOLE_B0, given) is given   # returned unchanged


def test_layernorm_program_config_fields(ttnn):
    pc = ttnn.LayerNormShardedMultiCoreProgramConfig(compute_with_storage_grid_size=(2, 2), subblock_w=1, block_h=1,
                                                     block_w=1, inplace=True, legacy_reduction=True,
                                                     use_welford=False)
    assert pc.legacy_reduction is True and pc.legacy_rsqrt is False and pc.use_welford is False
    # the 0.81.1 repr (checked on the wheel) omits the deprecated legacy_rsqrt
    assert repr(pc) == ("LayerNormShardedMultiCoreProgramConfig(compute_with_storage_grid_size=2-2,subblock_w=1,"
                        "block_h=1,block_w=1,inplace=1,legacy_reduction=1,use_welford=0)")


# -----------------------------------------------------------------------------
# refusals and accepted no-op settings


def _linear_setup(ttnn, device, k=64, n=64):
    g = torch.Generator().manual_seed(0)
    a = dev_tensor(ttnn, device, torch.randn(1, 1, 64, k, generator=g))
    w = dev_tensor(ttnn, device, torch.randn(k, n, generator=g) * 0.1, ttnn.bfloat8_b)
    return a, w


def test_refuses_unmodelled_settings(ttnn, device):
    a, w = _linear_setup(ttnn, device)
    with pytest.raises(UnsupportedError, match="Invalid"):
        ttnn.matmul(a, w, compute_kernel_config=ttnn.WormholeComputeKernelConfig())   # Invalid fidelity
    with pytest.raises(UnsupportedError, match="GrayskullComputeKernelConfig"):
        ttnn.matmul(a, w, compute_kernel_config=ttnn.GrayskullComputeKernelConfig(
            math_fidelity=ttnn.MathFidelity.LoFi))
    with pytest.raises(TypeError):
        ttnn.matmul(a, w, compute_kernel_config={"math_fidelity": "LoFi"})
    with pytest.raises(UnsupportedError, match="SILU"):
        ttnn.linear(a, w, activation=(ttnn.UnaryOpType.SILU))
    x = dev_tensor(ttnn, device, torch.randn(1, 1, 32, 64))
    with pytest.raises(UnsupportedError, match="use_welford"):
        ttnn.layer_norm(x, program_config=ttnn.LayerNormDefaultProgramConfig(use_welford=True))


def test_wormhole_config_refused_on_grayskull(ttnn):
    from tests.emulator.conftest import _open

    dev = _open("tiny", arch="grayskull", grid=(2, 2), l1_bytes=1 << 20, dram_banks=2)
    try:
        a, w = _linear_setup(ttnn, dev)
        with pytest.raises(UnsupportedError, match="grayskull"):
            ttnn.matmul(a, w, compute_kernel_config=ttnn.WormholeComputeKernelConfig(
                math_fidelity=ttnn.MathFidelity.LoFi))
        out = ttnn.matmul(a, w, compute_kernel_config=ttnn.GrayskullComputeKernelConfig(
            math_fidelity=ttnn.MathFidelity.HiFi4))
        assert out.shape == (1, 1, 64, 64)
    finally:
        ttnn.close_device(dev)
        import runtime.emulator as emulator

        emulator.set_device_spec("wormhole_n300")


def test_throttle_and_dst_full_sync_change_no_values(ttnn, device):
    a, w = _linear_setup(ttnn, device)
    base = ttnn.to_torch(ttnn.matmul(a, w, compute_kernel_config=ttnn.WormholeComputeKernelConfig(
        math_fidelity=ttnn.MathFidelity.HiFi2)))
    for kw in (dict(throttle_level=ttnn.ThrottleLevel.LEVEL_5), dict(dst_full_sync_en=True)):
        got = ttnn.to_torch(ttnn.matmul(a, w, compute_kernel_config=ttnn.WormholeComputeKernelConfig(
            math_fidelity=ttnn.MathFidelity.HiFi2, **kw)))
        assert torch.equal(got, base)
    # dst_full_sync_en doubles the Dst capacity (get_dest_reg_count): 16 tiles, 8 with fp32_dest_acc_en
    full = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi, dst_full_sync_en=True)
    assert cc.dest_tiles(full) == 16 and cc.dest_tiles(None) == 8
    full.fp32_dest_acc_en = True
    assert cc.dest_tiles(full) == 8


def test_defaults_when_config_is_none(ttnn, device):
    """compute_kernel_config=None uses ttnn's defaults for the op (tt-metal create_matmul_attributes)."""
    bf = ttnn.bfloat16
    with_pc = ops._matmul_default_compute(object(), None, bf, bf, bf, "wormhole_b0")
    assert with_pc["math_fidelity"] == ttnn.MathFidelity.LoFi and with_pc["packer_l1_acc"] is True
    plain = ops._matmul_default_compute(None, None, bf, bf, bf, "wormhole_b0")
    assert plain["math_fidelity"] == ttnn.MathFidelity.HiFi2 and plain["math_approx_mode"] is False
    f32 = ops._matmul_default_compute(None, None, ttnn.float32, ttnn.float32, ttnn.float32, "wormhole_b0")
    assert f32["math_fidelity"] == ttnn.MathFidelity.HiFi3 and f32["fp32_dest_acc_en"] and not f32["packer_l1_acc"]
    a, w = _linear_setup(ttnn, device)
    got = ttnn.to_torch(ttnn.matmul(a, w))
    want = ttnn.to_torch(ttnn.matmul(a, w, compute_kernel_config=ttnn.WormholeComputeKernelConfig(
        math_fidelity=ttnn.MathFidelity.HiFi2, math_approx_mode=False, packer_l1_acc=True)))
    assert torch.equal(got, want)


# -----------------------------------------------------------------------------
# matmul: fidelity, Dst, K blocks


def test_fidelity_bits_on_identity_weights(ttnn, device):
    """in1 = identity (exact in SrcA's 4 bits): LoFi and HiFi2 give in0 with 6 mantissa bits (SrcB's phase-0/1
    part), HiFi3 and HiFi4 give in0 exactly (tt-metal test_matmul_X_tile.cpp masks 0xFFFE for LoFi/HiFi2 on
    Wormhole)."""
    x = bf16(torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(1)))
    a = dev_tensor(ttnn, device, x)
    eye = dev_tensor(ttnn, device, torch.eye(64))
    for fid, want in ((ttnn.MathFidelity.LoFi, cc.truncate_mantissa(x, 6)),
                      (ttnn.MathFidelity.HiFi2, cc.truncate_mantissa(x, 6)),
                      (ttnn.MathFidelity.HiFi3, x), (ttnn.MathFidelity.HiFi4, x)):
        out = ttnn.matmul(a, eye, compute_kernel_config=ttnn.WormholeComputeKernelConfig(math_fidelity=fid))
        assert torch.equal(ttnn.to_torch(out).float(), want), fid


MEASURED_FIDELITY_ERR = {}   # filled by the test below (max |err| / max |exact|, FP32 Dst, K=1024)


def test_fidelity_error_ordering():
    """LoFi error > HiFi2 > HiFi3 > HiFi4 against the exact product (FP32 Dst isolates the operand bits).
    Measured on N(0,1) bf16 activations x N(0, 0.05) bfloat8_b weights, K = 1024 (max |err| / max |exact|):
    LoFi ~2.4e-2, HiFi2 ~4.6e-3, HiFi3 ~1.0e-4, HiFi4 ~1e-7 (float32 summation only)."""
    g = torch.Generator().manual_seed(0)
    a = bf16(torch.randn(64, 1024, generator=g))
    b = bfp8(torch.randn(1024, 64, generator=g) * 0.05)
    exact = a.double() @ b.double()
    errs = []
    for fid in (cc.MathFidelity.LoFi, cc.MathFidelity.HiFi2, cc.MathFidelity.HiFi3, cc.MathFidelity.HiFi4):
        out = ops._matmul_values(a, b, None, None, settings(fid, fp32=True), ops.DataType.BFLOAT16,
                                 ops.DataType.BFLOAT8_B, ops.DataType.FLOAT32, 4)
        errs.append(((out.double() - exact).abs().max() / exact.abs().max()).item())
    MEASURED_FIDELITY_ERR.update(zip(("LoFi", "HiFi2", "HiFi3", "HiFi4"), errs))
    assert errs[0] > errs[1] > errs[2] > errs[3]
    assert 1e-2 < errs[0] < 5e-2 and 1e-3 < errs[1] < 1e-2 and 1e-5 < errs[2] < 1e-3 and errs[3] < 1e-6
    # the 16-bit Dst rounds after every MVMUL: larger error, same ordering at the low end
    bf_errs = [((ops._matmul_values(a, b, None, None, settings(f), ops.DataType.BFLOAT16, ops.DataType.BFLOAT8_B,
                                    ops.DataType.FLOAT32, 4).double() - exact).abs().max() / exact.abs().max()).item()
               for f in (cc.MathFidelity.LoFi, cc.MathFidelity.HiFi4)]
    assert bf_errs[0] > bf_errs[1] > errs[3]


@pytest.mark.parametrize("fid,phases", [("LoFi", 1), ("HiFi2", 2), ("HiFi3", 3), ("HiFi4", 4)])
def test_matmul_matches_isa_model(fid, phases):
    """The emulator's matmul = tt-isa-documentation's MVMUL functional model (compute_config.isa_matmul_reference:
    per K tile, per phase, per 16-wide face Dst = bf16(Dst + products), bfloat8_b partials between K blocks).
    Documented bound: 1 bf16 ulp per Dst write where a float32 16-term sum or a tie rounds differently; measured:
    no element differs on this data."""
    g = torch.Generator().manual_seed(3)
    a = bf16(torch.randn(64, 512, generator=g))
    b = bfp8(torch.randn(512, 96, generator=g) * 0.05)
    bias = bfp8(torch.randn(96, generator=g) * 0.1)
    fidelity = getattr(cc.MathFidelity, fid)
    emu = ops._matmul_values(a, b, bias, None, settings(fidelity), ops.DataType.BFLOAT16, ops.DataType.BFLOAT8_B,
                             ops.DataType.BFLOAT8_B, 4)
    ref, mag = cc.isa_matmul_reference(a, b, phases=phases, fp32_dest=False, in0_block_w=4, interm_round=bfp8,
                                       bias_row=bias)
    diff = (emu - ref).abs()
    assert (diff > 0).float().mean().item() < 1e-3
    assert ulps_bf16(emu, ref) <= 1.0
    # the old model (float32 GEMM, one rounding) is off by far more than that: Dst rounding matters
    old = bf16(a @ b + bias)
    assert ulps_bf16(old, ref) > 2


def test_k_blocks_and_intermediate_format():
    """Partials spill to interm0 between K blocks: bfloat8_b output (and interm) -> the block count changes
    values; packer_l1_acc -> Float16_b partials accumulated by the packer; FP32 Dst -> Float32 partials (the block
    count changes float32 rounding only)."""
    g = torch.Generator().manual_seed(4)
    a = bf16(torch.randn(64, 1024, generator=g))
    b = bfp8(torch.randn(1024, 64, generator=g) * 0.05)
    dt = ops.DataType

    def run(w, **kw):
        return ops._matmul_values(a, b, None, None, settings(cc.MathFidelity.HiFi4, **kw), dt.BFLOAT16,
                                  dt.BFLOAT8_B, dt.BFLOAT8_B, w)

    one, eight = run(32), run(4)
    assert not torch.equal(one, eight)
    ref8, _ = cc.isa_matmul_reference(a, b, phases=4, fp32_dest=False, in0_block_w=4, interm_round=bfp8)
    assert ulps_bf16(eight, ref8) <= 1.0
    l1 = run(4, l1=True)
    assert not torch.equal(l1, eight)
    f1, f8 = run(32, fp32=True), run(4, fp32=True)
    assert (f1 - f8).abs().max().item() <= 1e-5 * f1.abs().max().item()


def test_matmul_interm_requantisation_is_visible_end_to_end(ttnn, device):
    """Through ttnn.linear with a program config: in0_block_w = 1 vs 2 changes a bfloat8_b result."""
    g = torch.Generator().manual_seed(5)
    x = dev_tensor(ttnn, device, torch.randn(1, 1, 64, 64, generator=g), ttnn.bfloat8_b)
    w = dev_tensor(ttnn, device, torch.randn(64, 64, generator=g) * 0.1, ttnn.bfloat8_b)
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4)
    outs = []
    for ibw in (1, 2):
        pc = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
            compute_with_storage_grid_size=(2, 2), in0_block_w=ibw, out_subblock_h=1, out_subblock_w=1,
            per_core_M=1, per_core_N=1, transpose_mcast=False, fused_activation=None)
        outs.append(ttnn.to_torch(ttnn.linear(x, w, program_config=pc, dtype=ttnn.bfloat8_b,
                                              compute_kernel_config=cfg)))
    assert not torch.equal(outs[0], outs[1])


# -----------------------------------------------------------------------------
# GELU


def test_gelu_fast_vs_erf_documented_amount():
    """The fast LUT GELU (gelu_approx) against the erf GELU: max |difference| over [-8, 8] is 0.0236, near
    |x| = 0.25 (the [0, 0.5) segment is linear where GELU is quadratic); 0 for x >= 3."""
    x = torch.linspace(-8, 8, 160001)
    fast = cc.gelu_approx(x)
    erf = torch.nn.functional.gelu(x.double()).float()
    d = (fast - erf).abs()
    assert 0.0230 < d.max().item() < 0.0240
    assert abs(abs(x[d.argmax()].item()) - 0.25) < 0.05
    big = x >= 3
    assert (fast[big] == x[big]).all()
    # hand-checked segment: x = 1.25 -> 0.625 + (0.61865234375 * 1.25 - 0.279541015625)
    assert cc.gelu_approx(torch.tensor([1.25])).item() == pytest.approx(0.625 + 0.61865234375 * 1.25
                                                                         - 0.279541015625, abs=1e-7)


def test_gelu_accurate_model():
    """Accurate GELU (16-bit Dst): within 1 bf16 ulp of bf16(torch's float32 GELU) everywhere, the kernel's own
    documented accuracy ("MaxULP = 0.87 < 1" in the core, "ULP <= 1 across the tail")."""
    x = bf16(torch.linspace(-7, 7, 300001))
    acc = cc.gelu_accurate_bf16(x)
    ref = bf16(torch.nn.functional.gelu(x))
    assert ulps_bf16(acc, ref) <= 1.0
    assert (acc[x <= -5.54259443] == 0).all() and torch.equal(acc[x >= 2.78125], x[x >= 2.78125])


def test_fused_gelu_choice_in_linear(ttnn, device):
    """(GELU, True) is the fast LUT, (GELU, False) / "gelu" the accurate one; "gelu_approx" is the fast one
    (ttnn 0.81.1 string_to_unary_with_param)."""
    g = torch.Generator().manual_seed(6)
    x = dev_tensor(ttnn, device, torch.randn(1, 1, 64, 64, generator=g) * 2)
    w = dev_tensor(ttnn, device, torch.eye(64))
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4)
    xv = ttnn.to_torch(x).float()
    fast = ttnn.to_torch(ttnn.linear(x, w, activation="gelu_approx", compute_kernel_config=cfg)).float()
    accurate = ttnn.to_torch(ttnn.linear(x, w, activation="gelu", compute_kernel_config=cfg)).float()
    assert torch.equal(fast, bf16(cc.gelu_approx(xv, store_bf16=True)))
    assert torch.equal(accurate, bf16(cc.gelu_accurate_bf16(xv)))
    assert (fast - accurate).abs().max().item() > 0.01


# -----------------------------------------------------------------------------
# softmax / layernorm


def test_softmax_numeric_stable_false_overflows(ttnn, device):
    """numeric_stable=False (the 0.81.1 default) subtracts no row max, like the kernel: exp of large scores
    overflows (approximate exp: saturated NaN pattern; accurate: inf) while numeric_stable=True stays finite."""
    x = torch.full((1, 1, 32, 64), 100.0)
    for approx in (True, False):
        cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, math_approx_mode=approx)
        t = dev_tensor(ttnn, device, x)
        out = ttnn.to_torch(ttnn.scale_mask_softmax_in_place(t, compute_kernel_config=cfg)).float()
        assert not torch.isfinite(out).all()
        t = dev_tensor(ttnn, device, x)
        out = ttnn.to_torch(ttnn.scale_mask_softmax_in_place(t, compute_kernel_config=cfg,
                                                             numeric_stable=True)).float()
        assert torch.isfinite(out).all() and torch.allclose(out, torch.full_like(out, 1 / 64), rtol=1e-2)


def _ties_away_model(fn):
    """Run ``fn`` with the torch paths and Dst / packer rounding ties-away-from-zero instead of nearest even."""
    saved = (cc._nb, cc.bf16_rne, cc.bf16_rne_)
    cc._nb = None
    cc.bf16_rne = cc.bf16_rne_ = cc.bf16_round_away
    try:
        return fn()
    finally:
        cc._nb, cc.bf16_rne, cc.bf16_rne_ = saved


def test_softmax_model_bound():
    """The softmax model against the same model with the open choice flipped (Dst / packer rounding ties away
    from zero instead of nearest even; torch reference paths): within 3 bf16 ulps of each row's largest output
    (measured 2-3 over seeds); approximate exp vs exact softmax: within 6% relative (measured 5.4%)."""
    g = torch.Generator().manual_seed(7)
    v = bf16(torch.randn(2, 4, 64, 384, generator=g) * 3)
    mask = bf16(torch.where(torch.rand(2, 1, 1, 384, generator=g) < 0.2, -1e4, 0.0))
    for approx in (True, False):
        a = bf16(cc.softmax_rows(v, mask, 0.125, approx, 4, False, False))
        b = bf16(_ties_away_model(lambda: cc.softmax_rows(v, mask, 0.125, approx, 4, False, False)))
        assert ulps_rowmax(a, b) <= 3.0
    ref = torch.softmax(v * 0.125 + mask, -1)
    y = cc.softmax_rows(v, mask, 0.125, True, 4, False, False)
    assert ((y - ref).abs() / ref.clamp(min=1e-4)).max().item() < 0.06


def test_layernorm_model_bound(ttnn):
    """The layernorm model against the same model with ties-away Dst rounding: within 4 bf16 ulps of each row's
    largest output with a 16-bit Dst (measured 3-4 over seeds), identical with an FP32 Dst; against float32 torch
    LN the bf16 stages cost <= 4 such ulps (measured 3.1-3.4), the FP32-Dst model <= 1."""
    g = torch.Generator().manual_seed(8)
    x = bf16(torch.randn(4, 64, 1024, generator=g))
    r = bf16(torch.randn(4, 64, 1024, generator=g))
    gamma = bf16(1 + 0.1 * torch.randn(1024, generator=g))
    beta = bf16(0.1 * torch.randn(1024, generator=g))
    for fp32 in (False, True):
        st = settings(cc.MathFidelity.HiFi4, fp32=fp32, approx=False)
        a = bf16(ops._layernorm_values(x, r, gamma, beta, 1e-12, st, 8))
        b = bf16(_ties_away_model(lambda: ops._layernorm_values(x, r, gamma, beta, 1e-12, st, 8)))
        assert ulps_rowmax(a, b) <= (4.0 if not fp32 else 0.0)
        ref = torch.nn.functional.layer_norm(x + r, (1024,), gamma, beta, 1e-12)
        assert ulps_rowmax(a, ref) <= (4.0 if not fp32 else 1.0)


def test_recip_and_rsqrt_models():
    """sfpu_recip precise with a 16-bit Dst rounds every bf16 input correctly (the 0.81.1 source's claim, which
    this transcription reproduces); the approximate forms are within their documented error."""
    x = bf16(torch.linspace(1, 2, 129)[:-1])
    assert torch.equal(cc.sfpu_recip(x, False, False), bf16(1 / x.double()).float())
    xs = bf16(torch.rand(10000) * 100 + 1e-3)
    assert ((cc.sfpu_recip(xs, True, False) * xs - 1).abs().max().item()) < 2e-4
    assert ((cc.sfpu_recip(xs, False, True) * xs - 1).abs().max().item()) < 3e-7
    assert ((cc.sfpu_rsqrt(xs, False, True) * xs.sqrt() - 1).abs().max().item()) < 3e-7
    assert ((cc.sfpu_rsqrt(xs, True, True) * xs.sqrt() - 1).abs().max().item()) < 1e-3


# -----------------------------------------------------------------------------
# compiled kernels = torch references (bit for bit)


def test_compiled_kernels_match_torch_references():
    g = torch.Generator().manual_seed(9)
    x = torch.cat([torch.randn(1 << 17, generator=g) * 4, torch.tensor([0.0, -0.0, 0.5, 3.0, -3.0, 1e-40, 100.0,
                                                                         -100.0, float("inf")])])
    xb = bf16(x)
    same = lambda a, b: torch.equal(a.view(torch.int32), b.view(torch.int32))  # noqa: E731
    assert same(cc.gelu_approx(x, True), cc.bf16_sfpstore(cc.gelu_approx_torch(x)))
    assert same(cc.gelu_accurate_bf16(x), cc.gelu_accurate_bf16_torch(x))
    assert same(cc.exp_approx(x * 10, True), cc.bf16_sfpstore(cc.exp_approx_torch(x * 10)))
    assert same(cc.bf16_rne_(x.clone()), bf16(x)) or torch.isnan(x).any()
    big = torch.randn(1 << 17, generator=g) * torch.exp2(torch.randint(-120, 120, (1 << 17,), generator=g).float())
    for w in (7, 3):
        assert same(cc.block_float_bf16_(big.bfloat16(), w).float(), formats.exact_quantize_block_float(bf16(big), w))
    m = xb[: 1 << 17].reshape(128, 1024)
    for ph in (1, 2, 3, 4):
        for f32 in (False, True):
            assert same(cc.eltwise_mul(m, m[:, :1], ph, f32), cc.eltwise_mul_torch(m, m[:, :1], ph, f32))
            assert same(cc.reduce_row(m, 1 / 128, ph, f32), cc.reduce_row_torch(m, 1 / 128, ph, f32))
    v = bf16(torch.randn(2, 2, 64, 128, generator=g) * 3)
    mask = bf16(torch.where(torch.rand(2, 1, 1, 128, generator=g) < 0.2, -1e4, 0.0))
    for approx in (True, False):
        for f32 in (False, True):
            for stable in (False, True):
                assert same(cc.softmax_rows(v, mask, 0.125, approx, 4, f32, stable),
                            cc.softmax_rows_torch(v, mask, 0.125, approx, 4, f32, stable))
    accb = bf16(torch.randn(64, 1024, generator=g) * 3).bfloat16()
    bias = bf16(torch.randn(1024, generator=g))
    for kind in (None, "relu", "gelu_fast", "gelu"):
        got = cc.matmul_epilogue_bf16(accb, bias, kind)
        xx = bf16(accb.float() + bias)
        want = {None: xx, "relu": torch.relu(xx), "gelu_fast": cc.bf16_sfpstore(cc.gelu_approx_torch(xx)),
                "gelu": cc.gelu_accurate_bf16_torch(xx)}[kind]
        assert same(got, want), kind


# -----------------------------------------------------------------------------
# fp32 numerics mode


def test_fp32_mode_gives_float32_results(ttnn, device):
    g = torch.Generator().manual_seed(10)
    x = torch.randn(1, 1, 64, 128, generator=g)
    w = torch.randn(128, 96, generator=g) * 0.1
    b = torch.randn(96, generator=g) * 0.1
    old = formats.set_numerics("fp32")
    try:
        assert formats.get_numerics() == "fp32"
        tx = dev_tensor(ttnn, device, x, ttnn.bfloat8_b)
        tw = dev_tensor(ttnn, device, w, ttnn.bfloat8_b)
        tb = dev_tensor(ttnn, device, b.reshape(1, 1, 1, -1), ttnn.bfloat8_b)
        assert tx.dtype == ttnn.bfloat8_b and torch.equal(ttnn.to_torch(tx), x)    # stored unrounded
        cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi)
        y = ttnn.to_torch(ttnn.linear(tx, tw, bias=tb, compute_kernel_config=cfg, dtype=ttnn.bfloat8_b))
        ref = x @ w + b
        assert (y - ref).abs().max().item() < 1e-5 * ref.abs().max().item()        # full-precision products
        # the GELU choice is kept: (GELU, True) is the LUT, in float32
        yg = ttnn.to_torch(ttnn.linear(tx, tw, bias=tb, activation="gelu_approx", compute_kernel_config=cfg))
        assert torch.allclose(yg, cc.gelu_approx(ref), atol=1e-5)
        t = dev_tensor(ttnn, device, x)
        ln = ttnn.to_torch(ttnn.layer_norm(t, epsilon=1e-5))
        assert torch.allclose(ln, torch.nn.functional.layer_norm(x, (128,), eps=1e-5), atol=1e-5)
        t = dev_tensor(ttnn, device, x)
        sm = ttnn.to_torch(ttnn.scale_mask_softmax_in_place(t, compute_kernel_config=ttnn.WormholeComputeKernelConfig(
            math_fidelity=ttnn.MathFidelity.HiFi4, math_approx_mode=False)))
        assert torch.allclose(sm, torch.softmax(x, -1), atol=1e-6)
    finally:
        formats.set_numerics(old)
    assert formats.get_numerics() == "faithful"


def test_fp32_mode_env_and_context(monkeypatch):
    monkeypatch.setenv("TT_EMULATOR_NUMERICS", "fp32")
    formats.set_numerics(None)
    try:
        assert formats.get_numerics() == "fp32"
        with formats.numerics("faithful"):
            assert formats.get_numerics() == "faithful"
            assert formats.quantize_bfloat8_b(torch.tensor([1.001])).item() != 1.001
        assert formats.quantize_bfloat8_b(torch.tensor([1.001])).item() == torch.tensor([1.001]).item()
    finally:
        monkeypatch.delenv("TT_EMULATOR_NUMERICS")
        formats.set_numerics(None)
    assert formats.get_numerics() == "faithful"
    with pytest.raises(ValueError):
        formats.set_numerics("fp16")
    assert math.isfinite(BF16_EPS)
