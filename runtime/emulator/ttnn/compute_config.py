"""Compute kernel configs: ``ttnn.WormholeComputeKernelConfig``, ``ttnn.GrayskullComputeKernelConfig`` (API v0.55),
``ttnn.ThrottleLevel``, ``ttnn.init_device_compute_kernel_config``, and how the ops resolve them.

Sources
-------
* ttnn 0.81.1 wheel (``ttnn._ttnn.operations.core``): the nanobind signature
  ``WormholeComputeKernelConfig.__init__(self, *, math_fidelity=MathFidelity.Invalid, math_approx_mode=True,
  fp32_dest_acc_en=False, packer_l1_acc=False, dst_full_sync_en=False, throttle_level=ThrottleLevel.NO_THROTTLE)``,
  read-write attributes of the same names, and the per-attribute docstrings (quoted where a field is used);
  ``ThrottleLevel`` members NO_THROTTLE=0, LEVEL_1..LEVEL_5 = 1..5 ("Inserts NOP instructions into the compute
  kernel to reduce throughput"); ``init_device_compute_kernel_config(arch, device_kernel_config=None, *,
  math_fidelity=MathFidelity.LoFi, math_approx_mode=True, fp32_dest_acc_en=False, packer_l1_acc=False,
  dst_full_sync_en=False, throttle_level=ThrottleLevel.NO_THROTTLE)``.
* tt-metal ``ttnn/cpp/ttnn/operations/core/compute_kernel/compute_kernel_config.cpp``,
  ``init_device_compute_kernel_config``: a given config is returned unchanged (an ``Invalid`` fidelity is *not*
  replaced by the op's default), ``None`` gives the op's defaults; ``get_dest_reg_count``: 16 tiles of 32x32 in
  Dst, halved unless ``dst_full_sync_en``, halved again with ``fp32_dest_acc_en``.
* tt-metal v0.55 ``ttnn/cpp/ttnn/operations/core/compute_kernel/compute_kernel_config.hpp`` (struct
  ``GrayskullComputeKernelConfig { MathFidelity math_fidelity; bool math_approx_mode; }``) and its pybind
  (``py::kw_only(), py::arg("math_fidelity") = MathFidelity::Invalid, py::arg("math_approx_mode") = true``); the
  class does not exist in ttnn 0.81.1 (Grayskull support ended with v0.55).

Conversions follow nanobind: keyword-only; unknown keywords, positional arguments and wrong types raise
``TypeError`` (a ``bool`` field takes only ``True`` / ``False``; ``math_fidelity`` takes a ``MathFidelity`` or
its integer value; ``throttle_level`` a ``ThrottleLevel`` or its integer value).

What the ops do with a config (``resolve``)
-------------------------------------------
* ``None``: the op's defaults (each op's docstring names them and their source);
* a config of the wrong architecture (a Grayskull config on a Wormhole/Blackhole device or the reverse) and an
  ``Invalid`` fidelity are refused (``UnsupportedError``, rule ``compute_kernel_config``): ttnn passes the config
  through unchanged, so the kernel would be built with a fidelity the emulator cannot give a meaning;
* ``throttle_level`` only inserts NOPs (throughput), so every level is accepted and changes no value;
* ``dst_full_sync_en`` only changes how many tiles Dst holds (``dest_tiles``), which the ops check against
  ``out_subblock_h * out_subblock_w``; values are unchanged;
* ``math_fidelity``, ``fp32_dest_acc_en``, ``packer_l1_acc`` and ``math_approx_mode`` change values as documented
  in ``runtime/emulator/ttnn/operations.py``.

Device arithmetic (second half of this module; used by the ops)
---------------------------------------------------------------
Each function names its source: the matrix engine's fidelity phases and Dst (tt-isa-documentation WormholeB0
MVMUL.md, ELWMUL.md, SrcASrcB.md, Dst.md; tt-metal tech_reports/matrix_engine), the FPU reduce operand order
(tt-llk llk_unpack_AB_reduce.h), and the SFPU kernels shipped in the ttnn 0.81.1 wheel
(tt_metal/hw/ckernels/wormhole_b0/metal/llk_api/llk_sfpu/ckernel_sfpu_{gelu,exp,recip,sqrt}.h) with the
instruction semantics of SFPMAD.md, SFPLUTFP32.md, SFPSTOCHRND_FloatInt.md, SFPSTORE.md.  The 16-bit Dst and
packer rounding mode is assumed round-to-nearest-even (the ISA leaves the Dst mode open; for the packer,
tt-isa-documentation Packers/FormatConversion.md says ties away from zero while tt-llk llk_defs.h says nearest
even); sfpi's ``convert<vFloat16b>(.., Nearest)`` rounds ties away from zero
(ckernel_sfpu_recip.h).  The element-wise and per-row models run as numba kernels when numba is present; each
has a ``*_torch`` twin that tests compare bit for bit.  ``isa_matmul_reference`` is a slow transcription of the
MVMUL functional model the matmul tests measure the emulator against.
"""

from __future__ import annotations

import dataclasses
from .types import Arch, MathFidelity, _TTEnum

__all__ = [
    "ThrottleLevel",
    "WormholeComputeKernelConfig",
    "GrayskullComputeKernelConfig",
    "init_device_compute_kernel_config",
    "ComputeSettings",
    "resolve",
]


class ThrottleLevel(_TTEnum):
    """``ttnn.ThrottleLevel`` (ttnn 0.81.1, ttnn._ttnn.operations.core): NOPs to limit di/dt; no numeric effect."""

    NO_THROTTLE = 0
    LEVEL_1 = 1
    LEVEL_2 = 2
    LEVEL_3 = 3
    LEVEL_4 = 4
    LEVEL_5 = 5


def _enum(cls, name: str, v, owner: str):
    if isinstance(v, cls):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        try:
            return cls(v)
        except ValueError:
            pass
    raise TypeError(f"{owner}.__init__(): incompatible function arguments: {name} must be a ttnn.{cls.__name__}, "
                    f"got {v!r}")


def _bool(name: str, v, owner: str) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"{owner}.__init__(): incompatible function arguments: {name} must be a bool, got {v!r}")
    return v


class _KernelConfig:
    _fields: tuple = ()
    _types: dict = {}

    def __setattr__(self, name, value):
        # def_readwrite attributes: assignments are type-checked like the constructor's arguments
        if name not in self._fields:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        kind = self._types[name]
        if kind is bool:
            value = _bool(name, value, type(self).__name__)
        else:
            value = _enum(kind, name, value, type(self).__name__)
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        body = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({body})"


class WormholeComputeKernelConfig(_KernelConfig):
    """``ttnn.WormholeComputeKernelConfig`` (ttnn 0.81.1; also used for Blackhole): keyword-only, defaults of the
    0.81.1 nanobind signature.  See the module docstring for how the ops use each field."""

    _fields = ("math_fidelity", "math_approx_mode", "fp32_dest_acc_en", "packer_l1_acc", "dst_full_sync_en",
               "throttle_level")
    _types = {"math_fidelity": MathFidelity, "math_approx_mode": bool, "fp32_dest_acc_en": bool,
              "packer_l1_acc": bool, "dst_full_sync_en": bool, "throttle_level": ThrottleLevel}

    def __init__(self, *, math_fidelity: MathFidelity = MathFidelity.Invalid, math_approx_mode: bool = True,
                 fp32_dest_acc_en: bool = False, packer_l1_acc: bool = False, dst_full_sync_en: bool = False,
                 throttle_level: ThrottleLevel = ThrottleLevel.NO_THROTTLE) -> None:
        self.math_fidelity = math_fidelity
        self.math_approx_mode = math_approx_mode
        self.fp32_dest_acc_en = fp32_dest_acc_en
        self.packer_l1_acc = packer_l1_acc
        self.dst_full_sync_en = dst_full_sync_en
        self.throttle_level = throttle_level


class GrayskullComputeKernelConfig(_KernelConfig):
    """``ttnn.GrayskullComputeKernelConfig(*, math_fidelity=MathFidelity.Invalid, math_approx_mode=True)``.

    **API v0.55 only** (tt-metal v0.55 compute_kernel_config.hpp + pybind; absent from ttnn 0.81.1): for programs
    that target Grayskull at that API level.  Grayskull has no FP32 Dst accumulation, so there is no
    ``fp32_dest_acc_en`` (nor packer_l1_acc / dst_full_sync_en / throttle_level) keyword: passing one raises
    ``TypeError``.
    """

    _fields = ("math_fidelity", "math_approx_mode")
    _types = {"math_fidelity": MathFidelity, "math_approx_mode": bool}

    def __init__(self, *, math_fidelity: MathFidelity = MathFidelity.Invalid, math_approx_mode: bool = True) -> None:
        self.math_fidelity = math_fidelity
        self.math_approx_mode = math_approx_mode


def init_device_compute_kernel_config(arch, device_kernel_config=None, *, math_fidelity=MathFidelity.LoFi,
                                      math_approx_mode: bool = True, fp32_dest_acc_en: bool = False,
                                      packer_l1_acc: bool = False, dst_full_sync_en: bool = False,
                                      throttle_level=ThrottleLevel.NO_THROTTLE) -> WormholeComputeKernelConfig:
    """``ttnn.init_device_compute_kernel_config`` (ttnn 0.81.1 signature; tt-metal compute_kernel_config.cpp):
    the given config unchanged, or a ``WormholeComputeKernelConfig`` of the keyword defaults."""
    if not isinstance(arch, Arch):
        raise TypeError("init_device_compute_kernel_config(): incompatible function arguments: arch must be a "
                        f"ttnn.device.Arch, got {arch!r}")
    if device_kernel_config is not None:
        if not isinstance(device_kernel_config, WormholeComputeKernelConfig):
            raise TypeError("init_device_compute_kernel_config(): device_kernel_config must be a "
                            "ttnn.WormholeComputeKernelConfig")
        return device_kernel_config
    return WormholeComputeKernelConfig(math_fidelity=math_fidelity, math_approx_mode=math_approx_mode,
                                       fp32_dest_acc_en=fp32_dest_acc_en, packer_l1_acc=packer_l1_acc,
                                       dst_full_sync_en=dst_full_sync_en, throttle_level=throttle_level)


# -----------------------------------------------------------------------------
# resolution by the ops

_PHASES = {MathFidelity.LoFi: 1, MathFidelity.HiFi2: 2, MathFidelity.HiFi3: 3, MathFidelity.HiFi4: 4}


@dataclasses.dataclass(frozen=True)
class ComputeSettings:
    """What an op's kernel is built with (after ``resolve``)."""

    math_fidelity: MathFidelity
    math_approx_mode: bool
    fp32_dest_acc_en: bool
    packer_l1_acc: bool
    dst_full_sync_en: bool
    arch: str

    @property
    def phases(self) -> int:
        """Fidelity phases the matrix engine runs (LoFi 1, HiFi2 2, HiFi3 3, HiFi4 4; the enum's docstring)."""
        return _PHASES[self.math_fidelity]

    @property
    def dest_tiles(self) -> int:
        """Tiles Dst holds (tt-metal compute_kernel_config.cpp get_dest_reg_count): 16, /2 unless
        dst_full_sync_en, /2 with fp32_dest_acc_en."""
        n = 16
        if not self.dst_full_sync_en:
            n //= 2
        if self.fp32_dest_acc_en:
            n //= 2
        return n


def resolve(cfg, op: str, arch: str, *, math_fidelity: MathFidelity, math_approx_mode: bool,
            fp32_dest_acc_en: bool = False, packer_l1_acc: bool = False) -> ComputeSettings:
    """The settings an op runs with: ``cfg`` as given, or the op's defaults (keywords) when ``cfg`` is None.

    Refusals (``UnsupportedError``, rule ``compute_kernel_config``): a config of the other architecture family,
    ``math_fidelity=MathFidelity.Invalid``; a value that is no compute kernel config raises ``TypeError``.
    """
    from ..errors import UnsupportedError

    if cfg is None:
        if arch == "grayskull":
            fp32_dest_acc_en = packer_l1_acc = False
        return ComputeSettings(math_fidelity, bool(math_approx_mode), bool(fp32_dest_acc_en), bool(packer_l1_acc),
                               False, arch)
    if isinstance(cfg, GrayskullComputeKernelConfig):
        if arch != "grayskull":
            raise UnsupportedError(
                f"compute_kernel_config is a GrayskullComputeKernelConfig (API v0.55) but the device is {arch}: "
                "v0.55's init_device_compute_kernel_config asserts the config matches the arch", op=op,
                rule="compute_kernel_config")
        settings = ComputeSettings(cfg.math_fidelity, cfg.math_approx_mode, False, False, False, arch)
    elif isinstance(cfg, WormholeComputeKernelConfig):
        if arch == "grayskull":
            raise UnsupportedError(
                "compute_kernel_config is a WormholeComputeKernelConfig but the device is grayskull (use "
                "GrayskullComputeKernelConfig, API v0.55)", op=op, rule="compute_kernel_config")
        settings = ComputeSettings(cfg.math_fidelity, cfg.math_approx_mode, cfg.fp32_dest_acc_en, cfg.packer_l1_acc,
                                   cfg.dst_full_sync_en, arch)
    else:
        raise TypeError(f"{op}: compute_kernel_config must be a ttnn.WormholeComputeKernelConfig (or, API v0.55, "
                        f"ttnn.GrayskullComputeKernelConfig), got {type(cfg).__name__}")
    if settings.math_fidelity not in _PHASES:
        raise UnsupportedError(
            f"compute_kernel_config.math_fidelity={settings.math_fidelity!r}: ttnn passes a given config through "
            "unchanged (init_device_compute_kernel_config), so the kernel would be built with an invalid fidelity; "
            "pass LoFi, HiFi2, HiFi3 or HiFi4", op=op, rule="compute_kernel_config")
    return settings


def dest_tiles(cfg) -> int:
    """Dst capacity in tiles for a raw config (None: 8, the default half-sync bf16 Dst)."""
    fp32 = bool(getattr(cfg, "fp32_dest_acc_en", False)) if cfg is not None else False
    full = bool(getattr(cfg, "dst_full_sync_en", False)) if cfg is not None else False
    n = 16 if full else 8
    return n // 2 if fp32 else n


# =============================================================================
# device arithmetic (used by the ops in operations.py)
#
# Every function takes and returns float32 torch tensors holding the values the device holds.

import math  # noqa: E402

import numpy as _np  # noqa: E402
import torch  # noqa: E402

from .. import formats as _formats  # noqa: E402


def truncate_mantissa(x: torch.Tensor, bits: int) -> torch.Tensor:
    """``x`` with all but the top ``bits`` explicit mantissa bits cleared (truncation toward zero)."""
    if bits >= 23:
        return x
    mask = (0xFFFFFFFF << (23 - bits)) & 0xFFFFFFFF
    mask = mask - (1 << 32) if mask >= (1 << 31) else mask
    return torch.bitwise_and(x.contiguous().view(torch.int32), mask).view(torch.float32)


def bf16_rne(x: torch.Tensor) -> torch.Tensor:
    """Round to bfloat16, nearest even (the packer / host conversion, formats.exact_round_to_bfloat16)."""
    return _formats.exact_round_to_bfloat16(x)


def bf16_rne_(x: torch.Tensor) -> torch.Tensor:
    """``bf16_rne`` in place on a contiguous float32 tensor the caller owns (same bits as torch's conversion,
    NaN -> 0xFFFF); returns ``x``."""
    if _nb is None or x.numel() < _NB_MIN or not x.is_contiguous() or x.dtype != torch.float32:
        return bf16_rne(x)
    _run(_nb_bf16_rne, x, x)
    return x


def bf16_sfpstore(x: torch.Tensor) -> torch.Tensor:
    """What ``SFPSTORE`` writes into a 16-bit (bf16) Dst: denormals flushed to zero, mantissa truncated toward zero
    (tt-isa-documentation WormholeB0 SFPSTORE.md, ``ToBF16``)."""
    bits = x.contiguous().view(torch.int32)
    exp = torch.bitwise_and(bits, 0x7F800000)
    out = torch.bitwise_and(bits, -65536)  # 0xFFFF0000
    out = torch.where(exp == 0, torch.bitwise_and(bits, -2147483648), out)  # keep the sign of a flushed zero
    return out.view(torch.float32)


def bf16_round_away(x: torch.Tensor) -> torch.Tensor:
    """sfpi ``convert<vFloat16b>(v, RoundMode::Nearest)``: bf16 nearest, ties away from zero (SFPSTOCHRND
    deterministic mode, tt-isa-documentation; the 0.81.1 ckernel_sfpu_recip.h comment "nearest with ties away from
    zero")."""
    bits = x.contiguous().view(torch.int32)
    exp = torch.bitwise_and(bits, 0x7F800000)
    up = torch.bitwise_and(bits + 0x8000, -65536)
    out = torch.where(exp == 0x7F800000, torch.bitwise_and(bits, -65536), up)   # inf/NaN: no carry
    return out.view(torch.float32)


def sfpu_mad(a, b, c) -> torch.Tensor:
    """``SFPMAD`` ``a * b + c`` with one round-to-nearest-even to float32 (the product kept exact: float64
    holds the product of two float32 exactly).  tt-isa-documentation SFPMAD.md: "partially fused ... a single
    rounding step"; its bit-perfect model differs from this only where float64 already rounds the sum (operands'
    exponents 29+ apart), i.e. by at most 1 float32 ulp in such cases."""
    a64 = a.double() if isinstance(a, torch.Tensor) else a
    b64 = b.double() if isinstance(b, torch.Tensor) else b
    c64 = c.double() if isinstance(c, torch.Tensor) else c
    return (a64 * b64 + c64).float()


# --- matrix engine: fidelity phases ------------------------------------------
#
# tt-isa-documentation WormholeB0 SrcASrcB.md "Fidelity phases (floating-point)" and MVMUL.md
# (SrcAFidelityBits / SrcBFidelityBits): Dst += SrcB @ SrcA; per phase p the multiplier takes from SrcA the
# implicit 1 + the top 4 mantissa bits (p even) or the next 5 bits (p odd; the TF32 LSB is never used), and from
# SrcB the implicit 1 + the top 6 mantissa bits (p < 2) or the next 4 bits (p >= 2).  LoFi runs phase 0, HiFi2
# phases 0-1, HiFi3 0-2, HiFi4 0-3 (ttnn.MathFidelity docstring; matrix_engine.md).  tt-metal
# llk_unpack_AB_matmul_api.h: "In0 -> srcB, In1 -> srcA", so in0 (the activations) is SrcB and in1 (the
# weights) SrcA.  Products of the selected bits are exact in float32.  FLOAT32 operands are modelled as TF32
# in Src (SrcASrcB.md: "FP32 can be converted to TF32 ... throwing away the low 13 bits").

def fidelity_terms(in0: torch.Tensor, in1: torch.Tensor, phases: int, in0_bf16_exact: bool,
                   in1_bf16_exact: bool):
    """[(in0 part, in1 part), ...] whose products, summed, are what the fidelity phases multiply."""
    b10 = in0 if in0_bf16_exact else truncate_mantissa(in0, 10)   # SrcB as TF32
    a9 = in1 if in1_bf16_exact else truncate_mantissa(in1, 9)     # SrcA: TF32 without its LSB
    if phases >= 4:
        return [(b10, a9)]
    b6 = truncate_mantissa(in0, 6)
    if phases == 1:
        return [(b6, truncate_mantissa(in1, 4))]
    if phases == 2:
        return [(b6, a9)]
    a4 = truncate_mantissa(in1, 4)
    return [(b6, a9), (b10 - b6, a4)]   # phases 0+1 (SrcB hi x all of SrcA) + phase 2 (SrcB lo x SrcA hi)


def fidelity_parts(in0: torch.Tensor, in1: torch.Tensor, in0_bf16_exact: bool, in1_bf16_exact: bool):
    """([SrcB hi, SrcB lo] of in0, [SrcA hi, SrcA lo] of in1): phase p multiplies SrcB[p >= 2] by SrcA[p & 1].
    Every part has at most 7 significant bits, so it is exact in bfloat16."""
    b10 = in0 if in0_bf16_exact else truncate_mantissa(in0, 10)
    a9 = in1 if in1_bf16_exact else truncate_mantissa(in1, 9)
    b6 = truncate_mantissa(in0, 6)
    a4 = truncate_mantissa(in1, 4)
    return [b6, b10 - b6], [a4, a9 - a4]


def _eltwise_parts(a: torch.Tensor, b: torch.Tensor, phases: int):
    ah = truncate_mantissa(a, 4)
    al = truncate_mantissa(a, 9) - ah
    bh = truncate_mantissa(b, 6)
    bl = truncate_mantissa(b, 10) - bh
    return [(ah, bh), (al, bh), (ah, bl), (al, bl)][:phases]


def eltwise_mul(a: torch.Tensor, b: torch.Tensor, phases: int, fp32_dest: bool) -> torch.Tensor:
    """FPU ``mul_tiles`` (ELWMUL, SrcA = ``a``, SrcB = ``b``, broadcasting like torch): one ELWMUL per fidelity
    phase, each ``Dst += SrcA_p * SrcB_p`` (ELWMUL.md) rounded to bf16 (nearest even assumed) with a 16-bit Dst,
    accumulated in float32 with an FP32 Dst.  The phase products are exact in float32."""
    fast = _eltwise_mul_fast(a, b, phases, fp32_dest)
    if fast is not None:
        return fast
    return eltwise_mul_torch(a, b, phases, fp32_dest)


def eltwise_mul_torch(a: torch.Tensor, b: torch.Tensor, phases: int, fp32_dest: bool) -> torch.Tensor:
    """Torch version of ``eltwise_mul``."""
    parts = _eltwise_parts(a, b, phases)
    d = parts[0][0] * parts[0][1]
    if not fp32_dest:
        d = bf16_rne(d)
    for x, y in parts[1:]:
        d = d + x * y
        if not fp32_dest:
            d = bf16_rne(d)
    return d


def reduce_row(data: torch.Tensor, scaler: float, phases: int, fp32_dest: bool) -> torch.Tensor:
    """FPU ``reduce<SUM/AVG, REDUCE_ROW>`` of ``data`` along its last dim with a scalar scaler tile (tt-llk
    llk_unpack_AB_reduce.h: the scaler in SrcA, the data in SrcB; MVMUL): for every 32-wide tile, every fidelity
    phase, both 16-wide faces, ``Dst = R(Dst + sum_16 SrcB_p * SrcA_p)`` with R = bf16 (16-bit Dst) or float32.
    The 16-term sums are float32 sums (their order inside the instruction is not documented).  Returns the
    reduced values with a trailing dim of 1."""
    fast = _reduce_row_fast(data, scaler, phases, fp32_dest)
    if fast is not None:
        return fast
    return reduce_row_torch(data, scaler, phases, fp32_dest)


def reduce_row_torch(data: torch.Tensor, scaler: float, phases: int, fp32_dest: bool) -> torch.Tensor:
    """Torch version of ``reduce_row``."""
    w = data.shape[-1]
    pad = (-w) % 16
    if pad:
        data = torch.nn.functional.pad(data, (0, pad))
    sc = torch.tensor(float(scaler))
    parts = _eltwise_parts(sc, data, phases)   # (scaler part, data part) per phase
    chunk = [(x, y.reshape(y.shape[:-1] + (-1, 16)).double().sum(-1).float()) for x, y in parts]
    nf = chunk[0][1].shape[-1]
    d = torch.zeros(data.shape[:-1])
    for t in range(0, nf, 2):
        for x, y in chunk:
            for f in (t, t + 1):
                if f < nf:
                    d = d + (y[..., f] * x).float()
                    if not fp32_dest:
                        d = bf16_rne(d)
    return d.unsqueeze(-1)


# --- SFPU: GELU ----------------------------------------------------------------
#
# ttnn 0.81.1 wheel: tt_metal/hw/ckernels/wormhole_b0/metal/llk_api/llk_sfpu/ckernel_sfpu_gelu.h.

def _lut16(v: float) -> float:
    # sfpi vLut16ss / vLut16ii: an FP16 table entry (Lut16ToFp32, tt-isa-documentation SFPLUTFP32.md; 0.0 is
    # encoded with the all-ones exponent, which decodes to 0)
    return 0.0 if v == 0.0 else float(_np.float16(v))


# gelu_init<APPROXIMATION_MODE=true>: slopes LReg0/1/2 and intercepts LReg4/5/6 (lo half first); the values equal
# tt-llk's _init_gelu_ hex constants 0x322B 0x37E7 / 0x86D8 0xB122 / 0x38F3 0x38E1 / 0xB479 0xB437 /
# 0x3852 0x3800 / 0xAFA4 0x7C00.
_GELU_LUT_BOUNDS = (0.5, 1.0, 1.5, 2.0, 3.0)   # SFPLUTFP32 FP16_6ENTRY_TABLE1 segments of |x|
_GELU_LUT_SLOPE = tuple(_lut16(v) for v in (0.1928, 0.4939, 0.6188, 0.6099, 0.5402, 0.5))
_GELU_LUT_ICPT = tuple(_lut16(v) for v in (-0.00010443, -0.1604, -0.2796, -0.2635, -0.1194, 0.0))


def gelu_approx(x: torch.Tensor, store_bf16: bool = False) -> torch.Tensor:
    """``calculate_gelu_appx``: ``0.5*x + (a_i*|x| + b_i)`` with the 6-segment FP16 LUT above (``sfpi::lut`` with
    ``LutSign::Update``: the LUT result keeps its own sign), in float32 (SFPMAD rounding as ``sfpu_mad``).
    ``store_bf16``: then SFPSTORE into a 16-bit Dst (``bf16_sfpstore``).  Exact up to ``sfpu_mad``'s caveat."""
    out = _compiled(_nb_gelu_approx if _nb is not None else None, x, 1 if store_bf16 else 0)
    if out is not None:
        return out
    y = gelu_approx_torch(x)
    return bf16_sfpstore(y) if store_bf16 else y


def gelu_approx_torch(x: torch.Tensor) -> torch.Tensor:
    """Torch version of ``gelu_approx`` (the reference the compiled kernel is tested against)."""
    ax = x.abs()
    idx = torch.bucketize(ax, torch.tensor(_GELU_LUT_BOUNDS, dtype=torch.float32), right=True)
    slope = torch.tensor(_GELU_LUT_SLOPE, dtype=torch.float64)[idx]
    icpt = torch.tensor(_GELU_LUT_ICPT, dtype=torch.float64)[idx]
    lut = (slope * ax.double() + icpt).float()
    return x * 0.5 + lut


_GELU_CDF = tuple(float(_np.float32(v)) for v in (
    5.000000000e-01, 3.9894227818e-01, -6.6361041488e-02, 9.7720050615e-03, -1.0717806322e-03, 8.1812159812e-05,
    -3.8082057209e-06, 7.9821413868e-08))


def gelu_accurate_bf16(x: torch.Tensor) -> torch.Tensor:
    """See ``gelu_accurate_bf16_torch`` (this runs the same arithmetic compiled when numba is present)."""
    out = _compiled(_nb_gelu_accurate_bf16 if _nb is not None else None, x)
    if out is None:
        return gelu_accurate_bf16_torch(x)
    _gelu_tail_fix(x, out)
    return out


def _gelu_tail(x: torch.Tensor) -> torch.Tensor:
    # the kernel's exp region reproduces torch's float32 GELU staircase ("0 BF16 ULP for almost all of it")
    return bf16_round_away(torch.nn.functional.gelu(x.to(torch.float32)))


def _gelu_tail_fix(x: torch.Tensor, out: torch.Tensor) -> None:
    xf = x.reshape(-1)
    sel = ((xf > -5.54259443) & (xf < -3.125)).nonzero().view(-1)
    if sel.numel():
        out.view(-1)[sel] = _gelu_tail(xf[sel])


def gelu_accurate_bf16_torch(x: torch.Tensor) -> torch.Tensor:
    """``calculate_gelu`` accurate mode with a 16-bit Dst: ``calculate_gelu_piecewise`` rounded to bf16 (nearest,
    ties away from zero: ``bf16_round_away``).

    Modelled exactly: x >= 2.78125 -> x; -3.125 <= x < 2.78125 -> x * (C0 + x * P(x^2)) with the degree-13 CDF
    polynomial (Horner, SFPMAD rounding); x <= -5.54259443 -> 0.  The exp region (-5.54259443, -3.125) is
    torch's float32 GELU rounded to bf16: the kernel's Moroz exp_21f * correction polynomial there is fitted to
    reproduce torch's float32 staircase ("ULP <= 1 across the tail (0 ULP for almost all of it)"), so emulator and
    device differ by at most 1 bf16 ulp there (the kernel's own claim; not reproduced bit for bit)."""
    x2 = x * x
    p = torch.full_like(x, _GELU_CDF[7])
    for c in reversed(_GELU_CDF[1:7]):
        p = sfpu_mad(p, x2, c)
    phi = sfpu_mad(x, p, _GELU_CDF[0])
    core = x * phi
    out = torch.where(x >= 2.78125, x, torch.where(x >= -3.125, core, torch.zeros_like(x)))
    out = bf16_round_away(out)   # convert<vFloat16b>(result, RoundMode::Nearest)
    tail = (x > -5.54259443) & (x < -3.125)
    return torch.where(tail, _gelu_tail(x), out)


def gelu_accurate_fp32(x: torch.Tensor) -> torch.Tensor:
    """``calculate_gelu`` accurate mode with an FP32 Dst: ``x * (0.5 + 0.5*erf(x/sqrt 2))`` (the kernel's rational
    erf has "MaxULP=1 vs FP64"; computed here from float64 erf: within 2 float32 ulps of the device), 0 for
    x <= -5.54259443."""
    xd = x.double()
    y = (xd * (0.5 + 0.5 * torch.erf(xd / 2.0 ** 0.5))).float()
    return torch.where((x > -5.54259443) | torch.isnan(x), y, torch.zeros_like(y))   # NaN propagates (x - x)


# --- SFPU: exp -------------------------------------------------------------------
#
# ttnn 0.81.1 wheel: tt_metal/hw/ckernels/wormhole_b0/metal/llk_api/llk_sfpu/ckernel_sfpu_exp.h,
# calculate_exponential<APPROXIMATION_MODE=true, CLAMP_NEGATIVE=true> and exp_init (Schraudolph).

_EXP_A = float(_np.float32(256.0 * float(_np.float32(1.4426950408889634))))   # 369.329925537109375
_EXP_B_MINUS_C = 32500.818359375
_EXP_THRESHOLD = -88.5


def exp_approx(x: torch.Tensor, store_bf16: bool = False) -> torch.Tensor:
    """Approximate exp: y = max(x, -88.5); t = A*y + (B-C) (SFPMAD); i = SFP_STOCH_RND(t) to uint16 with
    deterministic rounding (round half away from zero, |t| < 0.5 -> 0, magnitude taken, saturated at 65535;
    tt-isa-documentation SFPSTOCHRND_FloatInt.md); result bits = i << 15, a denormal result (x below about -87.3)
    flushed to zero (MVMUL.md / ELWMUL.md: "Denormals will be flushed to zero"; SFPSTORE flushes them into a 16-bit
    Dst).  ``store_bf16``: then SFPSTORE into a 16-bit Dst.  Exact up to ``sfpu_mad``'s caveat."""
    out = _compiled(_nb_exp_approx if _nb is not None else None, x, 1 if store_bf16 else 0)
    if out is not None:
        return out
    y = exp_approx_torch(x)
    return bf16_sfpstore(y) if store_bf16 else y


def exp_approx_torch(x: torch.Tensor) -> torch.Tensor:
    """Torch version of ``exp_approx``."""
    y = torch.clamp(x, min=_EXP_THRESHOLD)
    t = sfpu_mad(y, _EXP_A, _EXP_B_MINUS_C).abs()
    i = torch.floor(t.double() + 0.5)
    i = torch.where(t < 0.5, torch.zeros_like(i), i).clamp_(max=65535.0).to(torch.int32)
    i = torch.where(i < 256, torch.zeros_like(i), i)   # a denormal result is flushed to zero
    return torch.bitwise_left_shift(i, 15).view(torch.float32)


# --- compiled versions (numba; the same arithmetic in one pass) --------------

try:  # numba is a declared dependency (runtime/emulator/block_float_kernel.py); torch fallback without it
    import numba as _nb
except ImportError:  # pragma: no cover
    _nb = None

_NB_MIN = 1 << 14   # below: the torch versions (no compile / hand-off cost)

if _nb is not None:
    _SLOPES = _np.array(_GELU_LUT_SLOPE, dtype=_np.float64)
    _ICPTS = _np.array(_GELU_LUT_ICPT, dtype=_np.float64)

    @_nb.njit(nogil=True, cache=True, boundscheck=False)
    def _nb_gelu_approx(x, out, out_bits, store16):
        for i in range(x.size):
            v = x[i]
            a = abs(v)
            k = (_np.int64(a >= 0.5) + _np.int64(a >= 1.0) + _np.int64(a >= 1.5) + _np.int64(a >= 2.0)
                 + _np.int64(a >= 3.0))
            lut = _np.float32(_SLOPES[k] * _np.float64(a) + _ICPTS[k])
            out[i] = _np.float32(v * _np.float32(0.5)) + lut
            if store16:
                b = out_bits[i]
                if (b & 0x7F800000) == 0:
                    out_bits[i] = b & -2147483648
                else:
                    out_bits[i] = b & -65536

    # the SFPU's fast exp of one element, as bits: _nb_exp_approx and the fused softmax kernel below share it
    @_nb.njit(inline="always")
    def _exp_apx(y):
        if y < _EXP_THRESHOLD:
            y = _np.float32(_EXP_THRESHOLD)
        t = abs(_np.float32(_np.float64(y) * _EXP_A + _EXP_B_MINUS_C))
        if t < 0.5:
            m = 0
        elif t >= 65535.0 or t != t:
            m = 65535
        else:
            m = int(_np.floor(_np.float64(t) + 0.5))
            if m > 65535:
                m = 65535
        return _np.int64(m << 15)

    @_nb.njit(nogil=True, cache=True, boundscheck=False)
    def _nb_exp_approx(x, out, out_bits, store16):
        for i in range(x.size):
            b = _exp_apx(x[i])
            if (b & 0x7F800000) == 0:
                b = 0                        # denormal: flushed (the FPU and packers keep no denormals)
            elif store16:
                b = b & 0x7FFF0000
            out_bits[i] = b


if _nb is not None:
    import math as _math

    _C = _np.array(_GELU_CDF, dtype=_np.float64)

    @_nb.njit(nogil=True, cache=True, boundscheck=False)
    def _nb_gelu_accurate_bf16(x, out, out_bits):
        for i in range(x.size):
            v = x[i]
            if v >= 2.78125:
                r = v
            elif v >= -3.125:
                x2 = _np.float32(v * v)
                p = _np.float32(_C[7])
                for j in range(6, 0, -1):
                    p = _np.float32(_np.float64(p) * _np.float64(x2) + _C[j])
                phi = _np.float32(_np.float64(v) * _np.float64(p) + _C[0])
                r = _np.float32(v * phi)
            elif v > -5.54259443:
                vd = _np.float64(v)
                h = 0.5 * _math.erfc(-vd / _math.sqrt(2.0))
                r = _np.float32(vd * (_np.round(h * 2.0 ** 25) * 2.0 ** -25))
            else:
                r = _np.float32(0.0)                     # also NaN: the piecewise default result
            out[i] = r
            b = out_bits[i]
            if (b & 0x7F800000) != 0x7F800000:          # bf16_round_away
                out_bits[i] = (b + 0x8000) & -65536
            else:
                out_bits[i] = b & -65536


if _nb is not None:
    @_nb.njit(nogil=True, cache=True, boundscheck=False)
    def _nb_bf16_rne(x, out, out_bits):
        xb = x.view(_np.int32)
        for i in range(x.size):
            b = _np.int64(xb[i])
            if (b & 0x7FFFFFFF) > 0x7F800000:
                out_bits[i] = -65536                    # NaN: 0xFFFF, as torch's conversion gives here
            else:
                out_bits[i] = (b + 0x7FFF + ((b >> 16) & 1)) & -65536


if _nb is not None:
    @_nb.njit(nogil=True, cache=True, boundscheck=False)
    def _nb_bf16_block_float_inplace(hb, w, odd):
        """bf16 bits ``hb`` (int16 view) -> the block-float packer's fast path per 16-value group, written back as
        bf16 bits (block-float values have <= 7 significant bits); other groups: odd[g] = 1, left unchanged."""
        c = _np.float32(1.5 * 2.0 ** (47 - w))
        lim = _np.float32((2 ** w - 1) * 2.0 ** (24 - w))
        lo = c - lim
        hi = c + lim
        tf = _np.empty(16, _np.float32)
        tb = tf.view(_np.int32)
        for g in range(hb.size // 16):
            base = g * 16
            emax = 0
            for i in range(16):
                r = (_np.int32(hb[base + i]) & 0xFFFF) << 16
                tb[i] = r
                emax = max(emax, (r >> 23) & 0xFF)
            if 24 <= emax <= 237:
                s_in = _np.int32((277 - emax) << 23).view(_np.float32)
                s_out = _np.int32((emax - 23) << 23).view(_np.float32)
                for i in range(16):
                    y = (min(max(_np.trunc(tf[i] * s_in) + c, lo), hi) - c) * s_out
                    hb[base + i] = _np.int16((_np.float32(y).view(_np.int32) >> 16) & 0xFFFF)
                odd[g] = 0
            elif emax == 0:
                for i in range(16):
                    hb[base + i] = 0
                odd[g] = 0
            else:
                odd[g] = 1


def block_float_bf16_(x: torch.Tensor, mantissa_bits: int) -> torch.Tensor:
    """``formats.exact_quantize_block_float`` of a contiguous bfloat16 tensor, in place (returns ``x``): a 16-bit
    Dst packed into a bfloat8_b / bfloat4_b circular buffer and unpacked again.  Bit-identical (tested)."""
    if (_nb is None or x.dtype != torch.bfloat16 or not x.is_contiguous() or x.numel() < _NB_MIN
            or x.shape[-1] % 16):
        return _formats.exact_quantize_block_float(x.float(), mantissa_bits).to(x.dtype)
    hb = x.view(torch.int16).numpy().reshape(-1)
    odd = _np.empty(hb.size // 16, dtype=_np.uint8)
    ng = hb.size // 16
    parts = max(1, min(torch.get_num_threads(), hb.size // (1 << 16)))
    cuts = [ng * k // parts * 16 for k in range(parts + 1)]
    futs = [_pool().submit(_nb_bf16_block_float_inplace, hb[a:b], mantissa_bits, odd[a // 16:b // 16])
            for a, b in zip(cuts[1:-1], cuts[2:])]
    _nb_bf16_block_float_inplace(hb[cuts[0]:cuts[1]], mantissa_bits, odd[cuts[0] // 16:cuts[1] // 16])
    for f in futs:
        f.result()
    if odd.any():
        g = x.view(-1, 16)
        rows = torch.from_numpy(odd).nonzero().view(-1)
        g[rows] = _formats.exact_quantize_block_float(g[rows].float(), mantissa_bits).to(torch.bfloat16)
    return x


def _pool():
    from concurrent.futures import ThreadPoolExecutor
    global _POOL
    if _POOL is None or _POOL[0] != _os.getpid():   # a forked child inherits no worker threads
        _POOL = (_os.getpid(), ThreadPoolExecutor(max(1, (_os.cpu_count() or 1) - 1), thread_name_prefix="sfpu"))
    return _POOL[1]


if _nb is not None:
    @_nb.njit(inline="always")
    def _rne16(b):
        if (b & 0x7FFFFFFF) > 0x7F800000:
            return -65536
        return (b + 0x7FFF + ((b >> 16) & 1)) & -65536

    @_nb.njit(inline="always")
    def _gelu_fast_bits(v):
        a = abs(v)
        k = (_np.int64(a >= 0.5) + _np.int64(a >= 1.0) + _np.int64(a >= 1.5) + _np.int64(a >= 2.0)
             + _np.int64(a >= 3.0))
        lut = _np.float32(_SLOPES[k] * _np.float64(a) + _ICPTS[k])
        r = _np.float32(v * _np.float32(0.5)) + lut
        b = _np.int64(_np.float32(r).view(_np.int32))
        if (b & 0x7F800000) == 0:
            return b & -2147483648
        return b & -65536

    @_nb.njit(nogil=True, cache=True, boundscheck=False)
    def _nb_epilogue(acc_h, out_bits, bias, has_bias, kind, n):
        """acc (bf16 bits) [+ bias[col], rounded to bf16] -> activation (0 none, 1 relu, 2 fast GELU with its
        16-bit Dst store) -> float32 bits."""
        for i in range(acc_h.size):
            b = (_np.int64(acc_h[i]) & 0xFFFF) << 16
            if has_bias:
                v = _np.float32(_np.int32(b).view(_np.float32) + bias[i % n])
                b = _rne16(_np.int64(v.view(_np.int32)))
            v = _np.int32(b).view(_np.float32)
            if kind == 1:
                if v < 0:
                    b = 0
            elif kind == 2:
                b = _gelu_fast_bits(v)
            out_bits[i] = b


    @_nb.njit(inline="always")
    def _f(bits):
        return _np.int32(bits).view(_np.float32)

    @_nb.njit(inline="always")
    def _bits(v):
        return _np.int64(_np.float32(v).view(_np.int32))

    @_nb.njit(inline="always")
    def _r16(v, fp32):
        if fp32:
            return _np.float32(v)
        return _f(_rne16(_bits(v)))

    @_nb.njit(inline="always")
    def _mul_ph(a, b, phases, fp32):
        """eltwise_mul for one element (a = SrcA, b = SrcB)."""
        ab = _bits(a)
        bb = _bits(b)
        ah = _f(ab & -524288)                # 0xFFF80000: hidden 1 + 4 mantissa bits
        al = _f(ab & -16384) - ah            # 0xFFFFC000: + the next 5 bits
        bh = _f(bb & -131072)                # 0xFFFE0000: hidden 1 + 6 mantissa bits
        bl = _f(bb & -8192) - bh             # 0xFFFFE000: + the next 4 bits
        d = _r16(ah * bh, fp32)
        if phases >= 2:
            d = _r16(d + al * bh, fp32)
        if phases >= 3:
            d = _r16(d + ah * bl, fp32)
        if phases >= 4:
            d = _r16(d + al * bl, fp32)
        return d

    @_nb.njit(inline="always")
    def _mad(a, b, c):
        return _np.float32(_np.float64(a) * _np.float64(b) + _np.float64(c))

    @_nb.njit(inline="always")
    def _recip(x, approx, fp32):
        k0, k1, k2 = _RECIP_SEED_MINIMAX
        iters, rnd = 1, False
        if not approx and fp32:
            iters = 2
        elif not approx:
            k0, k1, k2 = _RECIP_SEED_BF16
            rnd = True
        b = _bits(x)
        e = (b >> 23) & 0xFF
        negm = -_f((b & 0x007FFFFF) | 0x3F800000)
        y = _mad(k0, negm, k1)
        y = _mad(y, negm, k2)
        for _ in range(iters):
            t = _mad(negm, y, 1.0)
            y = _mad(y, t, y)
        if rnd:
            yb = _bits(y)
            y = _f((yb + 0x8000) & -65536)
        r = _np.float32(y * _np.float32(2.0 ** (127 - e)))
        return r if x >= 0 else -r

    @_nb.njit(nogil=True, cache=True, boundscheck=False)
    def _nb_softmax(v, m, midx, out, w, has_scale, scale, has_mask, stable, approx, phases, fp32):
        z = _np.empty(w, _np.float32)
        nf = (w + 15) // 16
        for r in range(v.size // w):
            base = r * w
            mb = midx[r] * w
            for j in range(w):
                x = v[base + j]
                if has_scale:
                    x = _mul_ph(x, scale, phases, fp32)
                if has_mask:
                    if fp32:                         # a Float32 CB is read through SrcA as TF32
                        x = _f(_bits(x) & -8192)
                    x = _r16(x + m[mb + j], fp32)
                z[j] = x
            if stable:
                mx = z[0]
                for j in range(1, w):
                    mx = max(mx, z[j])
                for j in range(w):
                    zz = z[j]
                    mxx = mx
                    if fp32:
                        zz = _f(_bits(zz) & -8192)
                        mxx = _f(_bits(mx) & -8192)
                    z[j] = _r16(zz - mxx, fp32)
            for j in range(w):
                if approx:
                    eb = _exp_apx(z[j])
                    if (eb & 0x7F800000) == 0:
                        eb = 0
                    elif not fp32:
                        eb = eb & 0x7FFF0000
                    z[j] = _f(eb)
                else:
                    ev = _np.float32(_math.exp(_np.float64(z[j])))
                    z[j] = ev if fp32 else _f(_rne16(_bits(ev)))
            d = _np.float32(0.0)                  # reduce SUM: ones in SrcA (hi 1.0, lo 0), exps in SrcB
            for t in range(0, nf, 2):
                for p in range(phases):
                    if p & 1:
                        continue                      # the scaler's low part is 0: Dst + 0 leaves Dst unchanged
                    for f in (t, t + 1):
                        if f < nf:
                            acc = 0.0
                            for j in range(f * 16, min(f * 16 + 16, w)):
                                eb = _bits(z[j])
                                bh = _f(eb & -131072)
                                part = bh if p < 2 else _f(eb & -8192) - bh
                                if p & 1:
                                    part = _np.float32(0.0)   # the scaler's low part: 1.0 has none
                                acc += _np.float64(part)
                            d = _r16(d + _np.float32(acc), fp32)
            rcp = _recip(d, approx and not fp32, fp32)
            if not fp32:
                rb = _bits(rcp)
                rcp = _f(0 if (rb & 0x7F800000) == 0 else rb & -65536)   # SFPSTORE
            for j in range(w):
                out[base + j] = _mul_ph(z[j], rcp, phases, fp32)


if _nb is not None:
    @_nb.njit(nogil=True, cache=True, boundscheck=False)
    def _nb_eltwise_mul(a, out, out_bits, b, mode, n, phases, fp32):
        """mode 0: b elementwise; 1: b[row] (one value per row of n); 2: b[col]; 3: b[0]."""
        for i in range(a.size):
            if mode == 0:
                bv = b[i]
            elif mode == 1:
                bv = b[i // n]
            elif mode == 2:
                bv = b[i % n]
            else:
                bv = b[0]
            out[i] = _mul_ph(a[i], bv, phases, fp32)


    @_nb.njit(nogil=True, cache=True, boundscheck=False)
    def _nb_reduce_row(x, out, out_bits, w, s_hi, s_lo, phases, fp32):
        nf = (w + 15) // 16
        for r in range(x.size // w):
            base = r * w
            d = _np.float32(0.0)
            for t in range(0, nf, 2):
                for p in range(phases):
                    sp = s_lo if (p & 1) else s_hi
                    if sp == 0.0:
                        continue                      # adds exact zeros: Dst unchanged
                    for f in (t, t + 1):
                        if f < nf:
                            acc = 0.0
                            for j in range(f * 16, min(f * 16 + 16, w)):
                                eb = _bits(x[base + j])
                                bh = _f(eb & -131072)
                                part = bh if p < 2 else _f(eb & -8192) - bh
                                acc += _np.float64(part)
                            d = _r16(d + _np.float32(_np.float32(acc) * sp), fp32)
            out[r] = d


def _reduce_row_fast(data: torch.Tensor, scaler: float, phases: int, fp32_dest: bool):
    w = data.shape[-1]
    if _nb is None or data.numel() == 0:   # (small inputs too: the layernorm's per-block partials, w = 1, ran
        return None                        # ~0.3 s of torch passes per call; one thread, no hand-off, here)
    sc = torch.tensor(float(scaler))
    s_hi = float(truncate_mantissa(sc, 4))
    s_lo = float(truncate_mantissa(sc, 9)) - s_hi
    x = data.to(torch.float32).contiguous()
    rows = x.numel() // w
    out = torch.empty(rows, dtype=torch.float32)
    xs = x.numpy().reshape(-1)
    on = out.numpy()
    args = (w, _np.float32(s_hi), _np.float32(s_lo), int(phases), bool(fp32_dest))
    parts = max(1, min(torch.get_num_threads(), xs.size // (1 << 16)))
    cuts = [rows * k // parts for k in range(parts + 1)]
    futs = [_pool().submit(_nb_reduce_row, xs[a * w:b * w], on[a:b], on[a:b].view(_np.int32), *args)
            for a, b in zip(cuts[1:-1], cuts[2:])]
    _nb_reduce_row(xs[cuts[0] * w:cuts[1] * w], on[cuts[0]:cuts[1]], on[cuts[0]:cuts[1]].view(_np.int32), *args)
    for f in futs:
        f.result()
    return out.reshape(data.shape[:-1] + (1,))


def _eltwise_mul_fast(a: torch.Tensor, b: torch.Tensor, phases: int, fp32_dest: bool) -> torch.Tensor:
    shape = torch.broadcast_shapes(a.shape, b.shape)
    if _nb is None or math.prod(shape) < _NB_MIN or tuple(a.shape) != tuple(shape):
        return None
    n = shape[-1] if len(shape) else 1
    if b.numel() == 1:
        mode, bb = 3, b.reshape(1)
    elif tuple(b.shape) == tuple(shape):
        mode, bb = 0, b
    elif b.shape[-1] == 1 and tuple(torch.broadcast_shapes(b.shape, shape[:-1] + (1,))) == tuple(shape[:-1]) + (1,) \
            and b.numel() == math.prod(shape[:-1]):
        mode, bb = 1, b
    elif b.numel() == n and b.shape[-1] == n:
        mode, bb = 2, b
    else:
        mode, bb = 0, b.expand(shape)
    a = a.to(torch.float32).contiguous()
    bb = bb.to(torch.float32).contiguous().reshape(-1)
    out = torch.empty(shape, dtype=torch.float32)
    xs = a.numpy().reshape(-1)
    os_ = out.numpy().reshape(-1)
    ob = os_.view(_np.int32)
    bn = bb.numpy()
    rows = xs.size // n
    parts = max(1, min(torch.get_num_threads(), xs.size // (1 << 16)))
    cuts = [rows * k // parts * n for k in range(parts + 1)]

    def sub(lo, hi):
        if mode == 0:
            return bn[lo:hi], 0
        if mode == 1:
            return bn[lo // n:hi // n], 1
        return bn, mode

    futs = []
    for lo, hi in zip(cuts[1:-1], cuts[2:]):
        bsub, md = sub(lo, hi)
        futs.append(_pool().submit(_nb_eltwise_mul, xs[lo:hi], os_[lo:hi], ob[lo:hi], bsub, md, n, int(phases),
                                   bool(fp32_dest)))
    bsub, md = sub(cuts[0], cuts[1])
    _nb_eltwise_mul(xs[cuts[0]:cuts[1]], os_[cuts[0]:cuts[1]], ob[cuts[0]:cuts[1]], bsub, md, n, int(phases),
                    bool(fp32_dest))
    for f in futs:
        f.result()
    return out


def softmax_rows(v: torch.Tensor, mask, scale, approx: bool, phases: int, fp32_dest: bool,
                 stable: bool) -> torch.Tensor:
    """The sharded/interleaved softmax kernels' arithmetic (see operations.scale_mask_softmax_in_place), one pass
    per row when numba is present; ``softmax_rows_torch`` is the same model in torch passes."""
    w = v.shape[-1]
    if _nb is None or v.numel() < _NB_MIN:
        return softmax_rows_torch(v, mask, scale, approx, phases, fp32_dest, stable)
    vs = v.to(torch.float32).contiguous()
    rows = vs.numel() // w
    if mask is not None:
        mshape = mask.shape
        m2 = mask.to(torch.float32).reshape(-1, w).contiguous()
        lead = torch.arange(m2.shape[0]).reshape(mshape[:-1])
        midx = lead.expand(v.shape[:-1]).reshape(-1).contiguous().numpy()
        mn = m2.numpy().reshape(-1)
    else:
        midx = _np.zeros(rows, _np.int64)
        mn = _np.zeros(w, _np.float32)
    out = torch.empty_like(vs)
    vn = vs.numpy().reshape(-1)
    on = out.numpy().reshape(-1)
    sc = _np.float32(0.0 if scale is None else float(scale))
    args = (w, scale is not None, sc, mask is not None, bool(stable), bool(approx), int(phases), bool(fp32_dest))
    parts = max(1, min(torch.get_num_threads(), vn.size // (1 << 16)))
    cuts = [rows * k // parts for k in range(parts + 1)]
    futs = [_pool().submit(_nb_softmax, vn[a * w:b * w], mn, midx[a:b], on[a * w:b * w], *args)
            for a, b in zip(cuts[1:-1], cuts[2:])]
    _nb_softmax(vn[cuts[0] * w:cuts[1] * w], mn, midx[cuts[0]:cuts[1]], on[cuts[0] * w:cuts[1] * w], *args)
    for f in futs:
        f.result()
    return out


def softmax_rows_torch(v, mask, scale, approx: bool, phases: int, fp32_dest: bool, stable: bool) -> torch.Tensor:
    """Torch version of ``softmax_rows`` (the reference its compiled kernel is tested against)."""
    q = (lambda t: t) if fp32_dest else bf16_rne
    tf = (lambda t: truncate_mantissa(t, 10)) if fp32_dest else (lambda t: t)   # Float32 CB read via Src: TF32
    z = v
    if scale is not None:   # mul_tiles_bcast_scalar(in0, fused_scale)
        z = eltwise_mul(v, torch.tensor(float(scale)), phases, fp32_dest)
    if mask is not None:    # add_tiles_bcast_rows(scale_mask, mask)
        z = q(tf(z) + mask)
    if stable:              # reduce MAX (exact), sub_tiles_bcast_cols
        zz = tf(z)
        z = q(zz - zz.amax(dim=-1, keepdim=True))
    e = exp_approx(z, store_bf16=not fp32_dest) if approx else exp_accurate(z, fp32_dest)
    s = reduce_row(e, 1.0, phases, fp32_dest)
    r = sfpu_recip(s, approx and not fp32_dest, fp32_dest)
    if not fp32_dest:
        r = bf16_sfpstore(r)
    return eltwise_mul(e, r, phases, fp32_dest)   # mul_tiles_bcast_cols(exps, recip)


_KIND = {None: 0, "relu": 1, "gelu_fast": 2}


def matmul_epilogue_bf16(acc: torch.Tensor, bias, kind) -> torch.Tensor:
    """The 16-bit-Dst matmul epilogue in one pass: ``acc`` (bfloat16 partials) ``+ bias`` (rounded to bf16, the
    FPU add into Dst), then the SFPU activation and its Dst store, as float32.  Same values as the unfused path
    (bf16_rne / gelu_approx(store_bf16) / gelu_accurate_bf16 / relu); tested."""
    n = acc.shape[-1]
    if _nb is None or acc.numel() < _NB_MIN or acc.dtype != torch.bfloat16 or not acc.is_contiguous():
        x = acc.float()
        if bias is not None:
            x = bf16_rne(x + bias)
        if kind == "relu":
            return torch.relu(x)
        if kind == "gelu_fast":
            return gelu_approx(x, store_bf16=True)
        if kind == "gelu":
            return gelu_accurate_bf16(x)
        if kind == "tanh":
            return bf16_sfpstore(torch.tanh(x))
        return x
    if kind == "gelu":   # the exp-region tail needs torch's GELU (see gelu_accurate_bf16): two passes
        return gelu_accurate_bf16(matmul_epilogue_bf16(acc, bias, None))
    if kind == "tanh":   # the pooler's tanh (modelled as the exact function): on the unfused result
        return bf16_sfpstore(torch.tanh(matmul_epilogue_bf16(acc, bias, None)))
    out = torch.empty(acc.shape, dtype=torch.float32)
    hb = acc.view(torch.int16).numpy().reshape(-1)
    ob = out.numpy().reshape(-1).view(_np.int32)
    bias_np = (bias.to(torch.float32).contiguous().numpy().reshape(-1) if bias is not None
               else _np.zeros(1, _np.float32))
    has_bias = bias is not None
    rows = hb.size // n
    parts = max(1, min(torch.get_num_threads(), hb.size // (1 << 16)))
    cuts = [rows * k // parts * n for k in range(parts + 1)]
    futs = [_pool().submit(_nb_epilogue, hb[a:b], ob[a:b], bias_np, has_bias, _KIND[kind], n)
            for a, b in zip(cuts[1:-1], cuts[2:])]
    _nb_epilogue(hb[cuts[0]:cuts[1]], ob[cuts[0]:cuts[1]], bias_np, has_bias, _KIND[kind], n)
    for f in futs:
        f.result()
    return out


def _compiled(kernel, x: torch.Tensor, *args) -> torch.Tensor | None:
    """``kernel`` run over ``x`` into a new float32 tensor, or None where numba is absent or ``x`` too small to pay
    for the call (the caller then runs its torch version)."""
    if kernel is None or x.numel() < _NB_MIN:
        return None
    out = torch.empty_like(x, dtype=torch.float32).contiguous()
    _run(kernel, x, out, *args)
    return out


def _run(kernel, x: torch.Tensor, out: torch.Tensor, *args) -> None:
    """Run an elementwise numba kernel over contiguous float32 ``x`` into ``out`` on torch's thread count."""
    xs = x.detach().to(torch.float32).contiguous().numpy().reshape(-1)
    os_ = out.numpy().reshape(-1)
    ob = os_.view(_np.int32)
    parts = max(1, min(torch.get_num_threads(), xs.size // (1 << 16)))
    if parts == 1:
        kernel(xs, os_, ob, *args)
        return
    cuts = [xs.size * k // parts for k in range(parts + 1)]
    futs = [_pool().submit(kernel, xs[a:b], os_[a:b], ob[a:b], *args) for a, b in zip(cuts[1:-1], cuts[2:])]
    kernel(xs[cuts[0]:cuts[1]], os_[cuts[0]:cuts[1]], ob[cuts[0]:cuts[1]], *args)
    for f in futs:
        f.result()


_POOL = None
import os as _os  # noqa: E402


# --- SFPU: reciprocal, rsqrt -------------------------------------------------------
#
# ttnn 0.81.1 wheel: .../llk_sfpu/ckernel_sfpu_recip.h (sfpu_reciprocal_iter, recip_init) with
# api/compute/eltwise_unary/recip.h (recip_tile: approximate = APPROX by default; on Wormhole the BF16-rounding seed
# when neither approximate nor FP32 Dst), and .../llk_sfpu/ckernel_sfpu_sqrt.h (_calculate_sqrt_body_, sqrt_init)
# with rsqrt.h (rsqrt_tile follows APPROX).  Modelled for positive finite normal inputs (row sums, variances);
# each step is one SFPMAD / SFPMUL rounded to float32 (``sfpu_mad``).

_RECIP_SEED_MINIMAX = (0.3232325017452239990234375, 1.4545459747314453125, 2.121212482452392578125)
_RECIP_SEED_BF16 = (0.32133400440216064453125, 1.4514148235321044921875, 2.1200883388519287109375)


def sfpu_recip(x: torch.Tensor, approx: bool, fp32_dest: bool) -> torch.Tensor:
    """``calculate_reciprocal``: APPROX -> 1 Newton step, minimax seed, no rounding (then SFPSTORE); FP32 Dst ->
    2 steps; else 1 step with the BF16 seed and ``bf16_round_away`` before the power-of-two scaling."""
    if approx:
        iters, seed, rnd = 1, _RECIP_SEED_MINIMAX, False
    elif fp32_dest:
        iters, seed, rnd = 2, _RECIP_SEED_MINIMAX, False
    else:
        iters, seed, rnd = 1, _RECIP_SEED_BF16, True
    bits = x.contiguous().view(torch.int32)
    e = torch.bitwise_and(torch.bitwise_right_shift(bits, 23), 0xFF)
    neg_m = (torch.bitwise_or(torch.bitwise_and(bits, 0x007FFFFF), 0x3F800000).view(torch.float32)).neg()
    y = sfpu_mad(seed[0], neg_m, seed[1])
    y = sfpu_mad(y, neg_m, seed[2])
    for _ in range(iters):
        t = sfpu_mad(neg_m, y, 1.0)
        y = sfpu_mad(y, t, y)
    if rnd:
        y = bf16_round_away(y)
    scale = torch.exp2((127 - e).to(torch.float64)).float()   # biased exponent 254 - E: setman(~in, 0) * 0.5
    return torch.copysign(y * scale, x)


def sfpu_rsqrt(x: torch.Tensor, approx: bool, fp32_dest: bool) -> torch.Tensor:
    """``calculate_rsqrt``: bit-trick seed then SQRT_10-bits (APPROX) or SQRT_23-bits + one Newton step
    (accurate); with a 16-bit Dst the result is ``bf16_round_away``-ed (convert<vFloat16b>, Nearest)."""
    bits = x.contiguous().view(torch.int32)
    half = torch.bitwise_right_shift(bits, 1)      # uint >> 1 (x positive)
    if approx:
        y = (0x5F0B3892 - half).view(torch.float32)
        c = x * y
        t = sfpu_mad(-y, c, 1.89099014875)
        y = y * t
    else:
        y = (0x5F1110A0 - half).view(torch.float32)
        xy = x * y
        c = (-y) * xy
        y = y * sfpu_mad(c, c + 2.2533049, 2.2825186)
        xy = x * y
        one_minus = sfpu_mad(-y, xy, 1.0)
        y = sfpu_mad(one_minus, y * 0.5, y)
    return y if fp32_dest else bf16_round_away(y)


def exp_accurate(x: torch.Tensor, fp32_dest: bool) -> torch.Tensor:
    """Accurate exp: float32 exp (the kernel's exp_21f / Cody-Waite polynomial are not transcribed), then with a
    16-bit Dst the kernel's SFPSTOCHRND round-to-nearest-even to bf16.  Bound: <= 1 bf16 ulp from the device
    (the kernel is "bfloat16-accurate"); with FP32 Dst a few float32 ulps."""
    y = torch.exp(x.double()).float()
    return y if fp32_dest else bf16_rne(y)


# --- reference model of the matrix engine (tests) -----------------------------

def isa_matmul_reference(in0: torch.Tensor, in1: torch.Tensor, *, phases: int, fp32_dest: bool, in0_block_w: int,
                         interm_round, out_round=None, bias_row=None):
    """Slow reference of MVMUL.md's functional model for one matmul (2D operands, K a multiple of 32):
    per K block of ``in0_block_w`` tiles, Dst starts from the reloaded partial (``interm_round`` of the previous
    block), then for every K tile, every fidelity phase (outer, Dst.md) and both 16-wide K faces,
    ``Dst = R(Dst + SrcB_p @ SrcA_p)`` with R = bf16 nearest-even (16-bit Dst) or identity (FP32 Dst).
    Returns (output before the output rounding, sum over all Dst writes of |Dst|) for bounding the emulator."""
    rnd = (lambda v: v) if fp32_dest else bf16_rne
    m, k = in0.shape
    n = in1.shape[1]
    b_parts = (truncate_mantissa(in0, 6), in0 - truncate_mantissa(in0, 6))
    a_parts = (truncate_mantissa(in1, 4), in1 - truncate_mantissa(in1, 4))
    acc = torch.zeros(m, n)
    mag = torch.zeros(m, n)
    kt = k // 32
    nb = kt // in0_block_w
    for blk in range(nb):
        d = acc.clone()
        for t in range(blk * in0_block_w, (blk + 1) * in0_block_w):
            for p in range(phases):
                bp, ap = b_parts[1 if p >= 2 else 0], a_parts[p & 1]
                for f in range(2):
                    ks = slice(t * 32 + f * 16, t * 32 + f * 16 + 16)
                    d = rnd(d + bp[:, ks] @ ap[ks, :])
                    mag += d.abs()
        acc = interm_round(d) if (blk < nb - 1 or bias_row is not None) else d
    if bias_row is not None:
        acc = rnd(acc + bias_row)
    return acc, mag
