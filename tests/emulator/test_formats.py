"""Number formats: bit-exact against ttnn 0.81.1's host packer and hand-computed cases."""

import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.emulator import formats as F

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "ttnn_golden_formats.npz")


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.int32)


def assert_bit_equal(got: torch.Tensor, want: torch.Tensor):
    got, want = got.contiguous(), want.contiguous()
    assert got.shape == want.shape
    nan = torch.isnan(want)
    assert torch.equal(torch.isnan(got), nan)
    mism = (bits(got) != bits(want)) & ~nan
    assert int(mism.sum()) == 0, f"{int(mism.sum())} mismatches, e.g. got {got[mism][:5]} want {want[mism][:5]}"


def q8(values, cols=16):
    """Quantise one row of values (padded with zeros to ``cols``) through bfloat8_b."""
    x = torch.zeros(1, cols)
    x[0, : len(values)] = torch.tensor(values, dtype=torch.float32)
    return F.quantize_bfloat8_b(x)[0, : len(values)].tolist()


@pytest.fixture(params=["numba-kernel", "torch-passes"], autouse=True)
def quantizer(request):
    """Every test runs on both implementations of the block-float round trip."""
    if request.param == "numba-kernel" and not F.block_float_kernel.AVAILABLE:
        pytest.fail("numba is a declared dependency but is not importable")
    old = F.use_compiled_kernel(request.param == "numba-kernel")
    yield request.param
    F.use_compiled_kernel(old)


# --- golden data from the real ttnn wheel -------------------------------------------------------

golden = np.load(GOLDEN)
CASES = sorted(k[3:] for k in golden.files if k.startswith("in_"))


@pytest.mark.parametrize("case", CASES)
def test_golden_bfloat16(case):
    x = torch.from_numpy(golden[f"in_{case}"])
    assert_bit_equal(F.round_to_bfloat16(x), torch.from_numpy(golden[f"bf16_{case}"]))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt,fn", [("bfp8", F.quantize_bfloat8_b), ("bfp4", F.quantize_bfloat4_b)])
def test_golden_block_float_from_fp32(case, fmt, fn):
    x = torch.from_numpy(golden[f"in_{case}"])
    assert_bit_equal(fn(x), torch.from_numpy(golden[f"{fmt}_{case}"]))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt,fn", [("bfp8", F.quantize_bfloat8_b), ("bfp4", F.quantize_bfloat4_b)])
def test_golden_block_float_from_bf16(case, fmt, fn):
    """A bfloat16 tensor quantises from its bfloat16 values (not from the fp32 it came from)."""
    x = torch.from_numpy(golden[f"in_{case}"]).to(torch.bfloat16)
    assert_bit_equal(fn(x), torch.from_numpy(golden[f"{fmt}frombf16_{case}"]))


def test_fp32_and_bf16_inputs_differ():
    x = torch.from_numpy(golden["in_normal"])
    a = F.quantize_bfloat8_b(x)
    b = F.quantize_bfloat8_b(x.to(torch.bfloat16))
    assert not torch.equal(a, b)


# --- bfloat16 ------------------------------------------------------------------------------------

def test_bfloat16_matches_torch_rne():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4096, generator=g) * torch.exp(8 * torch.randn(4096, generator=g))
    ties = (torch.arange(1, 257, dtype=torch.float32) * 2 ** -8 + 1.0)  # many exact bf16 ties
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), 3.3961e38, -3.3961e38, 1e-40, -1e-45])
    for t in (x, ties, special):
        assert_bit_equal(F.round_to_bfloat16(t), t.to(torch.bfloat16).to(torch.float32))
    assert torch.isnan(F.round_to_bfloat16(torch.tensor([float("nan")]))).all()


def test_bfloat16_tie_to_even():
    one_ulp = 2.0 ** -7
    x = torch.tensor([1.0 + one_ulp / 2, 1.0 + 3 * one_ulp / 2])
    assert F.round_to_bfloat16(x).tolist() == [1.0, 1.0 + 2 * one_ulp]


# --- bfloat8_b hand-computed ---------------------------------------------------------------------

def test_bfp8_exact_values_survive():
    assert q8([1.0, 0.5, -0.25, 1.5, 0.0]) == [1.0, 0.5, -0.25, 1.5, 0.0]


def test_bfp8_rounding_ties_to_even():
    # E = 127 (max 1.x): grid 2**-6.  1 + 2**-7 is a tie between 64 and 65 -> 64 (even);
    # 1 + 3 * 2**-7 is a tie between 65 and 66 -> 66.
    assert q8([1.0 + 2 ** -7, 1.0 + 3 * 2 ** -7]) == [1.0, 66 / 64]


def test_bfp8_truncating_shift_before_rounding():
    # 0.5 + 2**-7 + 2**-24 in a group whose exponent is that of 1.0: the alignment shift drops the
    # 2**-24 bit, leaving an exact tie 32.5 (in 2**-6 units) that rounds to even 32 -> 0.5.
    # Plain round-to-nearest would have given 33 * 2**-6.
    v = 0.5 + 2 ** -7 + 2 ** -24
    assert np.float32(v) == v
    assert q8([1.0, v]) == [1.0, 0.5]


def test_bfp8_rounds_above_tie():
    assert q8([1.0, 0.5 + 2 ** -7 + 2 ** -20]) == [1.0, 33 / 64]


def test_bfp8_saturation():
    # 1.9921875 = 127.5 units -> tie -> 128 (even) -> saturated to 127; 1.999 -> 128 -> 127
    assert q8([1.9921875, 1.999, -1.999]) == [127 / 64, 127 / 64, -127 / 64]


def test_bfp8_zero_and_subnormal_handling():
    out = F.quantize_bfloat8_b(torch.tensor([[1e-40, -1e-40, 0.0, -0.0, 1.0] + [0.0] * 11]))
    assert out[0, :5].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert int(bits(out[0, 3:4])) == 0  # -0.0 becomes +0.0
    # all-subnormal group: nothing survives
    assert F.quantize_bfloat8_b(torch.full((1, 16), 1e-40)).abs().max().item() == 0.0
    # a subnormal never sets the shared exponent: tiny normal stays representable
    assert q8([2.0 ** -126, 1e-40]) == [2.0 ** -126, 0.0]


def test_bfp8_sign_kept_apart_and_dropped_on_zero():
    out = F.quantize_bfloat8_b(torch.tensor([[1.0, -1.5, -2.0 ** -8] + [0.0] * 13]))
    assert out[0, :2].tolist() == [1.0, -1.5]
    assert int(bits(out[0, 2:3])) == 0  # -2**-8 is 0.25 units -> 0 -> +0.0


def test_bfp8_group_boundaries():
    x = torch.ones(2, 64)
    x[0, 0] = 1024.0  # group 0 of row 0 gets exponent of 1024: 1.0 (1/16 of a unit) vanishes
    x[1, 47] = 1024.0  # group 2 of row 1
    out = F.quantize_bfloat8_b(x)
    assert out[0, 0] == 1024.0 and (out[0, 1:16] == 0).all() and (out[0, 16:] == 1).all()
    assert (out[1, :32] == 1).all() and (out[1, 32:47] == 0).all() and out[1, 47] == 1024.0
    assert (out[1, 48:] == 1).all()


def test_bfp8_groups_follow_tile_faces_not_columns():
    # 16-groups run along rows; values in one column but different rows never interact
    x = torch.ones(32, 32)
    x[:, 0] = 1024.0
    out = F.quantize_bfloat8_b(x)
    assert (out[:, 1:16] == 0).all() and (out[:, 16:] == 1).all()


def test_bfp4_cases():
    x = torch.zeros(1, 16)
    x[0, :4] = torch.tensor([1.0, 1.1, 1.875, -0.6])
    out = F.quantize_bfloat4_b(x)[0, :4].tolist()
    # E = 127, grid 2**-2: 1.1 -> 4.4 -> 4; 1.875 -> 7.5 -> tie -> 8 -> saturate 7; -0.6 -> -2.4 -> -2
    assert out == [1.0, 1.0, 1.75, -0.5]


# --- shapes ---------------------------------------------------------------------------------------

def test_any_shape_and_ragged_last_dim():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, 40, 50, generator=g)
    out = F.quantize_bfloat8_b(x)
    assert out.shape == x.shape
    padded = F.pad_to_tiles(x)
    assert padded.shape == (3, 5, 64, 64)
    assert torch.equal(F.crop_to_shape(F.quantize_bfloat8_b(padded), x.shape), out)
    assert F.quantize_bfloat8_b(torch.tensor(3.0)).item() == 3.0
    assert F.quantize_bfloat8_b(torch.empty(0, 16)).shape == (0, 16)


def test_padding_helpers():
    assert F.padded_shape((2, 384, 1024)) == (2, 384, 1024)
    assert F.padded_shape((1, 1, 1, 2)) == (1, 1, 32, 32)
    assert F.padded_shape((7,)) == (32, 32)
    x = torch.ones(1, 33)
    p = F.pad_to_tiles(x, value=-1.0)
    assert p.shape == (32, 64) and p[0, 33] == -1.0 and p[1, 0] == -1.0


def test_input_not_modified():
    x = torch.randn(64, 64)
    y = x.clone()
    F.quantize_bfloat8_b(x)
    F.round_to_bfloat16(x)
    assert torch.equal(x, y)


# --- fast path == exact integer transcription -----------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=16, max_size=16),
       st.sampled_from([7, 3]))
def test_fast_path_equals_exact(values, w):
    x = torch.tensor([values], dtype=torch.float32)
    fast = F.quantize_block_float(x, w)
    exact = F._quantize_groups_exact(x, w)
    assert_bit_equal(fast, exact)


def test_fast_path_equals_exact_random_wide():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(512, 256, generator=g) * torch.exp(20 * torch.randn(512, 256, generator=g))
    for w in (7, 3):
        assert_bit_equal(F.quantize_block_float(x, w), F._quantize_groups_exact(x.view(-1, 16), w).view(x.shape))


def test_exponent_edges_equal_exact():
    """Groups outside the fast path's exponent window (zeros, subnormals, near-overflow, inf, NaN)."""
    edges = torch.tensor([0.0, -0.0, 1e-40, -1e-45, 3e38, float("inf"), float("-inf"), float("nan"), 1e-38, 2e-38,
                          1.0, -1.0, 65504.0, 1e-30, 5.0, 7.0], dtype=torch.float32)
    g = torch.Generator().manual_seed(5)
    groups = [edges, edges.flip(0), edges[torch.randperm(16, generator=g)]]
    groups += [torch.randn(16, generator=g) * scale for scale in (1e-37, 2e-38, 1e-44, 1e37, 3e38)]
    x = torch.stack(groups).repeat(8, 1)
    for w in (7, 3):
        want = F._quantize_groups_exact(x, w)
        assert_bit_equal(F.quantize_block_float(x, w), want)
