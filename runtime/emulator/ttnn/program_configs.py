"""Program config classes with ttnn 0.81.1's constructor signatures.

All are keyword-only; a missing required field or an unknown keyword raises
``TypeError`` (Python's own keyword checking, as nanobind does in ttnn).
``compute_with_storage_grid_size`` accepts a ``CoreCoord`` or an ``(x, y)``
tuple and is stored as a ``CoreCoord``.  ``fused_activation`` accepts a
``UnaryWithParam``, a ``UnaryOpType`` or an ``(op, param)`` tuple such as
``(ttnn.UnaryOpType.GELU, True)`` and is stored as a ``UnaryWithParam``.
``out_block_h`` / ``out_block_w`` default to ``per_core_M`` / ``per_core_N``
like in ttnn.  Validation against operands happens in the ops.
"""

from __future__ import annotations

from typing import Optional

from .types import CoreCoord, CoreRangeSet, UnaryWithParam

__all__ = [
    "MatmulMultiCoreReuseMultiCastProgramConfig",
    "MatmulMultiCoreReuseProgramConfig",
    "LayerNormShardedMultiCoreProgramConfig",
    "LayerNormDefaultProgramConfig",
    "SoftmaxShardedMultiCoreProgramConfig",
    "SoftmaxDefaultProgramConfig",
]


def _int(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"__init__(): incompatible function arguments: {name} must be an int, got {v!r}")
    if v < 0:
        raise TypeError(f"__init__(): incompatible function arguments: {name} must be unsigned, got {v}")
    return int(v)


def _bool(name: str, v) -> bool:
    if not isinstance(v, (bool, int)):
        raise TypeError(f"__init__(): incompatible function arguments: {name} must be a bool, got {v!r}")
    return bool(v)


def _grid(v) -> CoreCoord:
    try:
        return CoreCoord.coerce(v)
    except TypeError as e:
        raise TypeError(f"__init__(): incompatible function arguments: compute_with_storage_grid_size: {e}") from None


def _fmt(v) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if v is None:
        return "std::nullopt"
    return str(v)


class _Config:
    _fields: tuple = ()

    def __repr__(self) -> str:
        body = ",".join(f"{f}={_fmt(getattr(self, f))}" for f in self._fields)
        return f"{type(self).__name__}({body})"

    def __eq__(self, other):
        return type(self) is type(other) and all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __hash__(self):
        return hash((type(self).__name__,) + tuple(repr(getattr(self, f)) for f in self._fields))


class MatmulMultiCoreReuseMultiCastProgramConfig(_Config):
    _fields = (
        "compute_with_storage_grid_size", "in0_block_w", "out_subblock_h", "out_subblock_w", "out_block_h",
        "out_block_w", "per_core_M", "per_core_N", "transpose_mcast", "fused_activation", "fuse_batch",
        "allowed_worker_cores",
    )

    def __init__(
        self,
        *,
        compute_with_storage_grid_size,
        in0_block_w: int,
        out_subblock_h: int,
        out_subblock_w: int,
        out_block_h: Optional[int] = None,
        out_block_w: Optional[int] = None,
        per_core_M: int,
        per_core_N: int,
        transpose_mcast: bool,
        fused_activation=None,
        fuse_batch: bool = True,
        allowed_worker_cores: Optional[CoreRangeSet] = None,
    ) -> None:
        self.compute_with_storage_grid_size = _grid(compute_with_storage_grid_size)
        self.in0_block_w = _int("in0_block_w", in0_block_w)
        self.out_subblock_h = _int("out_subblock_h", out_subblock_h)
        self.out_subblock_w = _int("out_subblock_w", out_subblock_w)
        self.per_core_M = _int("per_core_M", per_core_M)
        self.per_core_N = _int("per_core_N", per_core_N)
        self.out_block_h = self.per_core_M if out_block_h is None else _int("out_block_h", out_block_h)
        self.out_block_w = self.per_core_N if out_block_w is None else _int("out_block_w", out_block_w)
        self.transpose_mcast = _bool("transpose_mcast", transpose_mcast)
        try:
            self.fused_activation = UnaryWithParam.coerce(fused_activation)
        except TypeError as e:
            raise TypeError(f"__init__(): incompatible function arguments: fused_activation: {e}") from None
        self.fuse_batch = _bool("fuse_batch", fuse_batch)
        if allowed_worker_cores is not None and not isinstance(allowed_worker_cores, CoreRangeSet):
            raise TypeError("__init__(): incompatible function arguments: allowed_worker_cores must be a CoreRangeSet")
        self.allowed_worker_cores = allowed_worker_cores


class MatmulMultiCoreReuseProgramConfig(_Config):
    _fields = (
        "compute_with_storage_grid_size", "in0_block_w", "out_subblock_h", "out_subblock_w", "per_core_M",
        "per_core_N", "allowed_worker_cores",
    )

    def __init__(
        self,
        *,
        compute_with_storage_grid_size,
        in0_block_w: int,
        out_subblock_h: int,
        out_subblock_w: int,
        per_core_M: int,
        per_core_N: int,
        allowed_worker_cores: Optional[CoreRangeSet] = None,
    ) -> None:
        self.compute_with_storage_grid_size = _grid(compute_with_storage_grid_size)
        self.in0_block_w = _int("in0_block_w", in0_block_w)
        self.out_subblock_h = _int("out_subblock_h", out_subblock_h)
        self.out_subblock_w = _int("out_subblock_w", out_subblock_w)
        self.per_core_M = _int("per_core_M", per_core_M)
        self.per_core_N = _int("per_core_N", per_core_N)
        if allowed_worker_cores is not None and not isinstance(allowed_worker_cores, CoreRangeSet):
            raise TypeError("__init__(): incompatible function arguments: allowed_worker_cores must be a CoreRangeSet")
        self.allowed_worker_cores = allowed_worker_cores


class LayerNormShardedMultiCoreProgramConfig(_Config):
    """ttnn 0.81.1 signature ``(*, compute_with_storage_grid_size, subblock_w, block_h, block_w, inplace,
    legacy_reduction=False, legacy_rsqrt=False, use_welford=False)``.

    ``legacy_rsqrt`` "is deprecated, has no effect, and will be removed in a future release (issue #56336)"
    (0.81.1 docstring of LayerNormDefaultProgramConfig); like the wheel's repr, ours omits it.  How
    ``ttnn.layer_norm`` treats ``legacy_reduction`` / ``use_welford`` is documented there (API v0.55 had neither
    field: conformance/api_levels.py).
    """

    _fields = (
        "compute_with_storage_grid_size", "subblock_w", "block_h", "block_w", "inplace", "legacy_reduction",
        "use_welford",
    )

    def __init__(
        self,
        *,
        compute_with_storage_grid_size,
        subblock_w: int,
        block_h: int,
        block_w: int,
        inplace: bool,
        legacy_reduction: bool = False,
        legacy_rsqrt: bool = False,
        use_welford: bool = False,
    ) -> None:
        self.compute_with_storage_grid_size = _grid(compute_with_storage_grid_size)
        self.subblock_w = _int("subblock_w", subblock_w)
        self.block_h = _int("block_h", block_h)
        self.block_w = _int("block_w", block_w)
        self.inplace = _bool("inplace", inplace)
        self.legacy_reduction = _bool("legacy_reduction", legacy_reduction)
        self.legacy_rsqrt = _bool("legacy_rsqrt", legacy_rsqrt)
        self.use_welford = _bool("use_welford", use_welford)


class LayerNormDefaultProgramConfig(_Config):
    """ttnn 0.81.1 signature ``(*, legacy_reduction=False, legacy_rsqrt=False, use_welford=False)``; see
    ``LayerNormShardedMultiCoreProgramConfig``."""

    _fields = ("legacy_reduction", "use_welford")

    def __init__(self, *, legacy_reduction: bool = False, legacy_rsqrt: bool = False, use_welford: bool = False) -> None:
        self.legacy_reduction = _bool("legacy_reduction", legacy_reduction)
        self.legacy_rsqrt = _bool("legacy_rsqrt", legacy_rsqrt)
        self.use_welford = _bool("use_welford", use_welford)


class SoftmaxShardedMultiCoreProgramConfig(_Config):
    _fields = ("compute_with_storage_grid_size", "subblock_w", "block_h", "block_w")

    def __init__(self, *, compute_with_storage_grid_size, subblock_w: int, block_h: int, block_w: int) -> None:
        self.compute_with_storage_grid_size = _grid(compute_with_storage_grid_size)
        self.subblock_w = _int("subblock_w", subblock_w)
        self.block_h = _int("block_h", block_h)
        self.block_w = _int("block_w", block_w)

    def __repr__(self) -> str:
        return (
            f"SoftmaxShardedMultiCoreProgramConfig(compute_with_storage_grid_size={self.compute_with_storage_grid_size}, "
            f"subblock_w={self.subblock_w}, block_h={self.block_h}, block_w={self.block_w})"
        )


class SoftmaxDefaultProgramConfig(_Config):
    _fields = ()

    def __init__(self) -> None:
        pass
