"""Bit-exact host versions of TT-NN's number formats (vectorised torch).

All functions take a torch tensor and return **float32 values** that a tensor
of the target format holds after ttnn's host conversion (``ttnn.from_torch`` /
``ttnn.Tensor(...)``) and back.  The results are bit-exact against ttnn
0.81.1's host packer (``tests/emulator/data/ttnn_golden_formats.npz`` was
produced by the real wheel; ``tests/emulator/test_formats.py`` checks it).

bfloat16
    Round to nearest, ties to even, from float32 (``round_to_bfloat16``).
    Values beyond the bfloat16 range become +-inf, NaN stays NaN.

bfloat8_b / bfloat4_b (``quantize_bfloat8_b`` / ``quantize_bfloat4_b``)
    A 32x32 tile is four 16x16 faces; every 16 consecutive values of a face
    row share one 8-bit exponent.  For a row-major view of a tensor whose last
    two dims are tile padded this is simply: along the last dim, in chunks of
    16 starting at multiples of 16.  Per group:

    * shared exponent E = the largest fp32 exponent field in the group
      (zeros and subnormals have exponent 0, so they never win);
    * each value's 24-bit mantissa (hidden 1 included) is aligned to E by a
      *truncating* right shift of (E - e) bits;
    * the aligned mantissa is rounded to nearest-even down to 7 bits (bfp8) or
      3 bits (bfp4), hidden bit included, and saturated at 127 (7);
    * a value whose own exponent is 0 (zero, subnormal) becomes 0; the sign is
      kept apart and dropped when the mantissa is 0 (so the result is +0.0).

    Decoded value = sign * m * 2**(E - 126 - w) with w = 7 or 3.

    The input is quantised from whatever it holds: a float32 tensor from its
    float32 values, a bfloat16 tensor from its bfloat16 values (ttnn's
    ``fp32 and bf16 inputs quantize differently``: converting fp32 to bf16
    first would round twice).

Speed: one compiled pass per tensor (``block_float_kernel``, numba) when
numba is present, else ~8 torch passes.  The fast path works on float values
with power-of-two scaling only (every step is exact); groups whose shared exponent is tiny
(1..23) or huge (>= 238, incl. inf/nan) go through an exact integer
implementation of the packer (``_quantize_groups_exact``), which is also the
reference the fast path is tested against.  Call ``tune_allocator()`` once in a
process that quantises large tensors: it keeps glibc from returning big blocks
to the OS after every op (page faults otherwise dominate).

Numerics mode (``set_numerics`` / ``get_numerics`` / ``numerics``, environment
``TT_EMULATOR_NUMERICS``):

* ``"faithful"`` (default): the conversions above, and the ops model the device's
  arithmetic as documented in runtime/emulator/ttnn/operations.py;
* ``"fp32"``: every float tensor is *stored* in float32 whatever its dtype
  (``round_to_bfloat16`` / ``quantize_block_float`` / ``quantize_bfloat8_b`` /
  ``quantize_bfloat4_b`` return their input as float32, unrounded) and the ops
  compute in float32 with full-precision products (no fidelity truncation, no
  16-bit Dst, no intermediate circular-buffer formats).  Layouts, shard specs,
  L1 accounting (by dtype), head splits, the GELU form a program picks, softmax
  without max subtraction and all other op semantics are unchanged: it checks a
  program against the documented semantics apart from rounding.  The exact
  conversions stay available as ``exact_round_to_bfloat16`` /
  ``exact_quantize_block_float`` in both modes.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import time
from typing import Sequence, Tuple

import torch

from . import block_float_kernel

__all__ = [
    "TILE",
    "FACE",
    "round_to_bfloat16",
    "quantize_bfloat8_b",
    "quantize_bfloat4_b",
    "quantize_block_float",
    "pad_to_tiles",
    "padded_shape",
    "tile_padded_shape",
    "crop_to_shape",
    "tune_allocator",
    "use_compiled_kernel",
    "set_numerics",
    "get_numerics",
    "numerics",
    "fp32_numerics",
    "exact_round_to_bfloat16",
    "exact_quantize_block_float",
    "NUMERICS_MODES",
]

TILE = 32
FACE = 16
_GROUP = 16

# constants of the fast path ------------------------------------------------
# Values are scaled so that the truncation point of the aligned 24-bit mantissa
# is at 1.0: y = x * 2**(150 - E) = +-(mantissa >> (E - e)) exactly.
# Rounding to the w-bit grid (= 2**(24 - w) units) with ties-to-even is done by
# adding and subtracting C = 1.5 * 2**(23 + 24 - w), which is exact and uses
# the FPU's round-to-nearest-even on both signs (|y| < 2**24 << C / 2).
_FAST_E_MIN = 24  # below: 2**(150-E) overflows / subnormal inputs could survive
_FAST_E_MAX = 237  # above: (y +- C) * 2**(E-150) overflows
_P_MIN = 2.0 ** (_FAST_E_MIN - 127)
_P_MAX = 2.0 ** (_FAST_E_MAX - 127)
_USE_KERNEL = block_float_kernel.AVAILABLE


# -----------------------------------------------------------------------------
# numerics mode

NUMERICS_MODES = ("faithful", "fp32")
_numerics_override = None   # set_numerics(); None: the environment decides


def _env_numerics() -> str:
    v = os.environ.get("TT_EMULATOR_NUMERICS", "").strip().lower() or "faithful"
    if v not in NUMERICS_MODES:
        raise ValueError(f"TT_EMULATOR_NUMERICS={v!r}: expected one of {', '.join(NUMERICS_MODES)}")
    return v


_env_mode = _env_numerics()


def get_numerics() -> str:
    """The current numerics mode: ``"faithful"`` (default) or ``"fp32"`` (see the module docstring)."""
    return _numerics_override if _numerics_override is not None else _env_mode


def set_numerics(mode) -> str:
    """Set the numerics mode (``"faithful"``, ``"fp32"``, or None: back to ``TT_EMULATOR_NUMERICS``); returns the
    previous mode.  Tensors already created keep the values they hold."""
    global _numerics_override, _env_mode
    old = get_numerics()
    if mode is None:
        _numerics_override = None
        _env_mode = _env_numerics()
        return old
    mode = str(mode).lower()
    if mode not in NUMERICS_MODES:
        raise ValueError(f"numerics mode {mode!r}: expected one of {', '.join(NUMERICS_MODES)}")
    _numerics_override = mode
    return old


@contextlib.contextmanager
def numerics(mode):
    """``with numerics("fp32"): ...`` — the mode for the block, restored afterwards."""
    global _numerics_override
    saved = _numerics_override
    set_numerics(mode)
    try:
        yield
    finally:
        _numerics_override = saved


def fp32_numerics() -> bool:
    """True in the ``"fp32"`` numerics mode."""
    return get_numerics() == "fp32"


def _unrounded(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32, copy=True)


def round_to_bfloat16(x: torch.Tensor) -> torch.Tensor:
    """float32 values of ``x`` rounded to bfloat16 (nearest even); in the fp32 numerics mode ``x`` as float32."""
    if fp32_numerics():
        return _unrounded(x)
    return exact_round_to_bfloat16(x)


def exact_round_to_bfloat16(x: torch.Tensor) -> torch.Tensor:
    """float32 values of ``x`` rounded to bfloat16 (nearest even), whatever the numerics mode."""
    if x.dtype == torch.bfloat16:
        return x.to(torch.float32)
    if x.dtype != torch.float32:
        x = x.to(torch.float32)
    with _elementwise_threads(x.numel()):
        return x.to(torch.bfloat16).to(torch.float32)


# -----------------------------------------------------------------------------
# threads for the memory-bound passes
#
# Each torch op is a parallel region; when the machine runs more threads than it
# has cores (other jobs), every region waits for a descheduled worker (~ms each),
# and the format conversions are many short passes.  They then run on one thread,
# which is faster in that situation.  TT_EMULATOR_ELEMENTWISE_THREADS=N forces N.

_load_cache = [-1e9, False]


def _oversubscribed() -> bool:
    now = time.monotonic()
    if now - _load_cache[0] > 2.0:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
        _load_cache[0] = now
        _load_cache[1] = load > (os.cpu_count() or 1) + 0.5
    return _load_cache[1]


@contextlib.contextmanager
def _elementwise_threads(numel: int):
    forced = os.environ.get("TT_EMULATOR_ELEMENTWISE_THREADS")
    want = int(forced) if forced else (1 if _oversubscribed() else 0)
    have = torch.get_num_threads()
    if want <= 0 or want == have:
        yield
        return
    torch.set_num_threads(want)
    try:
        yield
    finally:
        torch.set_num_threads(have)


def padded_shape(shape: Sequence[int], multiple: int = TILE) -> Tuple[int, ...]:
    """Shape with the last two dims rounded up to ``multiple`` (rank >= 1)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return (multiple, multiple)
    if len(shape) == 1:
        return (multiple, _ceil_to(shape[0], multiple))
    return shape[:-2] + (_ceil_to(shape[-2], multiple), _ceil_to(shape[-1], multiple))


tile_padded_shape = padded_shape


def _ceil_to(n: int, m: int) -> int:
    return ((int(n) + m - 1) // m) * m


def pad_to_tiles(x: torch.Tensor, value: float = 0.0, multiple: int = TILE) -> torch.Tensor:
    """Pad the last two dims of ``x`` (rank >= 2) up to multiples of ``multiple``."""
    if x.dim() < 2:
        raise ValueError("pad_to_tiles needs a tensor of rank >= 2")
    h, w = x.shape[-2], x.shape[-1]
    ph, pw = _ceil_to(h, multiple) - h, _ceil_to(w, multiple) - w
    if ph == 0 and pw == 0:
        return x
    return torch.nn.functional.pad(x, (0, pw, 0, ph), value=value)


def crop_to_shape(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Inverse of ``pad_to_tiles``: slice the last two dims back to ``shape``."""
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    return x[..., : shape[-2], : shape[-1]]


# -----------------------------------------------------------------------------
# block float


def quantize_bfloat8_b(x: torch.Tensor) -> torch.Tensor:
    """float32 values of ``x`` after a round trip through bfloat8_b."""
    return quantize_block_float(x, 7)


def quantize_bfloat4_b(x: torch.Tensor) -> torch.Tensor:
    """float32 values of ``x`` after a round trip through bfloat4_b."""
    return quantize_block_float(x, 3)


def quantize_block_float(x: torch.Tensor, mantissa_bits: int) -> torch.Tensor:
    """Round trip through a shared-exponent block format (7: bfp8_b, 3: bfp4_b).

    ``x`` may have any shape (rank 0 and 1 are treated as one row); groups are
    16 consecutive values of the last dim, starting at multiples of 16 (a
    ragged last dim is zero padded, which never changes a shared exponent).
    Returns a new contiguous float32 tensor of the same shape (in the fp32
    numerics mode: ``x`` as float32, unrounded).
    """
    if fp32_numerics():
        return _unrounded(x)
    return exact_quantize_block_float(x, mantissa_bits)


def exact_quantize_block_float(x: torch.Tensor, mantissa_bits: int) -> torch.Tensor:
    """``quantize_block_float`` whatever the numerics mode."""
    if mantissa_bits not in (7, 3, 1):
        raise ValueError("mantissa_bits must be 7 (bfp8_b), 3 (bfp4_b) or 1 (bfp2_b)")
    shape = tuple(x.shape)
    if x.dtype != torch.float32:
        x = x.to(torch.float32)  # exact for bf16 / fp16 / ints < 2**24
    if x.numel() == 0:
        return torch.empty(shape, dtype=torch.float32)
    with _elementwise_threads(x.numel()):
        return _quantize_any(x, shape, mantissa_bits)


def use_compiled_kernel(enabled: bool) -> bool:
    """Choose the numba kernel (default when numba is present) or the torch passes; returns the old choice."""
    global _USE_KERNEL
    old, _USE_KERNEL = _USE_KERNEL, bool(enabled) and block_float_kernel.AVAILABLE
    return old


def _quantize_any(x: torch.Tensor, shape, mantissa_bits: int) -> torch.Tensor:
    w = shape[-1] if len(shape) else 1
    if w % _GROUP:
        x2 = x.reshape(-1, w)
        x2 = torch.nn.functional.pad(x2, (0, _GROUP - w % _GROUP))
        out = _quantize_groups(x2.reshape(-1, _GROUP), mantissa_bits)
        return out.reshape(-1, x2.shape[-1])[:, :w].reshape(shape).contiguous()
    xg = x.contiguous().view(-1, _GROUP)
    return _quantize_groups(xg, mantissa_bits).view(shape)


def _quantize_groups(xg: torch.Tensor, w: int) -> torch.Tensor:
    """Quantise a contiguous (n, 16) float32 tensor, one group per row."""
    if _USE_KERNEL:
        out = torch.empty_like(xg)
        block_float_kernel.quantize_groups_into(xg.numpy().reshape(-1), out.numpy().reshape(-1), w,
                                                torch.get_num_threads())
        return out
    return _quantize_groups_torch(xg, w)


def _quantize_groups_torch(xg: torch.Tensor, w: int) -> torch.Tensor:
    """The same in torch passes (the fallback without numba)."""
    out = torch.abs(xg)
    # shared exponent: the largest magnitude has the largest exponent field; an
    # int32 max over non-negative float bit patterns is exact and faster than a
    # float max (NaN, whose bits exceed inf's, gives exponent 255 like ttnn).
    gmax = out.view(torch.int32).amax(dim=1, keepdim=True)
    # 2**(E-127) as a float (exponent bits only); E == 0 gives 0.0, E == 255 inf
    p = (gmax & 0x7F800000).view(torch.float32)
    lo_hi = torch.aminmax(p)
    in_window = float(lo_hi.min) >= _P_MIN and float(lo_hi.max) <= _P_MAX
    p_fast = p if in_window else p.clamp(_P_MIN, _P_MAX)
    s_in = torch.reciprocal(p_fast).mul_(2.0 ** 23)  # 2**(150 - E), exact (powers of two)
    s_out = p_fast * 2.0 ** -23  # 2**(E - 150)
    c = 1.5 * 2.0 ** (47 - w)
    lim = (2 ** w - 1) * 2.0 ** (24 - w)
    torch.mul(xg, s_in, out=out)  # +-(mantissa >> (E - e)), plus the shifted-out bits as a fraction
    out.sub_(torch.frac(out))  # the truncating shift: trunc(y) = y - frac(y) (torch.trunc is slow)
    out.add_(c)  # rounds to the w-bit grid, ties to even, on both signs (-0.0 becomes +0.0)
    out.clamp_(c - lim, c + lim)  # saturation at 2**w - 1
    out.sub_(c)
    out.mul_(s_out)  # exact power-of-two scaling back
    # groups outside the fast path's exponent window (E == 0 is fine: all zero)
    if not in_window:
        odd = (p != p_fast) & (p != 0)
        if bool(odd.any()):
            rows = odd.view(-1).nonzero().view(-1)
            out[rows] = _quantize_groups_exact(xg[rows], w)
    return out


def _quantize_groups_exact(xg: torch.Tensor, w: int) -> torch.Tensor:
    """Integer transcription of ttnn's packer + unpacker for (n, 16) float32 groups."""
    shift = 24 - w
    bits = xg.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    sign = (bits >> 31) & 1
    e = (bits >> 23) & 0xFF
    man = (bits & 0x7FFFFF) | 0x800000
    e_shared = e.amax(dim=1, keepdim=True)
    diff = (e_shared - e).clamp(max=63)
    man = man >> diff
    round_value = man & ((1 << shift) - 1)
    tie = 1 << (shift - 1)
    m = man >> shift
    up = (round_value > tie) | ((round_value == tie) & ((m & 1) == 1))
    m = (m + up.to(torch.int64)).clamp(max=(1 << w) - 1)
    m = torch.where(e == 0, torch.zeros_like(m), m)
    # decode: sign * m * 2**(E - 126 - w); the unpacker normalises m into an fp32
    # with exponent E - (w - 1 - p) (p = index of m's top bit).  Where that
    # exponent is a normal one, build the bits exactly like it does (this also
    # reproduces inf/NaN for E == 255); elsewhere use exact float64 arithmetic.
    mf = m.to(torch.float32)
    mbits = mf.view(torch.int32).to(torch.int64)
    biased = ((mbits >> 23) & 0xFF) + (e_shared - 126 - w)
    normal = (biased >= 1) & (biased <= 255) & (m != 0)
    fbits = (mbits & 0x7FFFFF) | (biased.clamp(0, 255) << 23)
    val_bits = fbits.to(torch.int32).view(torch.float32)
    val_small = (m.to(torch.float64) * torch.exp2((e_shared - 126 - w).to(torch.float64))).to(torch.float32)
    val = torch.where(normal, val_bits, val_small)
    val = torch.where(m == 0, torch.zeros_like(val), val)
    return torch.where((sign == 1) & (m != 0), -val, val)


# -----------------------------------------------------------------------------
# allocator tuning

_ALLOCATOR_TUNED = False


def tune_allocator() -> bool:
    """Keep freed large blocks in the heap (glibc ``mallopt``); returns success.

    Every emulated op allocates outputs of up to ~45 MB.  With glibc's default
    ``mmap`` threshold each of those is a fresh mapping that page-faults on
    first touch, which costs more than the arithmetic.  Disabling mmap for
    large blocks and raising the trim threshold makes torch reuse heap memory.
    Process-wide and harmless; a no-op on non-glibc systems.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return True
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        ok = libc.mallopt(m_mmap_max, 0) == 1
        ok = (libc.mallopt(m_trim_threshold, 1 << 30) == 1) and ok
    except OSError:
        return False
    _ALLOCATOR_TUNED = ok
    return ok


def block_float_exponent_bytes_per_tile() -> int:
    """Exponent section of one bfp tile (64 shared exponents)."""
    return (TILE * TILE) // _GROUP


def _self_check() -> None:  # pragma: no cover - debugging helper
    x = torch.randn(64, 64)
    a = quantize_bfloat8_b(x)
    b = _quantize_groups_exact(x.view(-1, 16), 7).view(64, 64)
    assert torch.equal(a.view(torch.int32), b.view(torch.int32))
    assert math.isfinite(float(a.abs().max()))
