"""ttnn value types: enums, core coordinates, shard specs, memory configs, Shape."""

from __future__ import annotations

import enum
from typing import Iterable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "DataType",
    "Layout",
    "TensorMemoryLayout",
    "BufferType",
    "ShardOrientation",
    "StorageType",
    "Arch",
    "UnaryOpType",
    "UnaryWithParam",
    "EmbeddingsType",
    "TileReshapeMapMode",
    "DumpTensorMode",
    "CoreCoord",
    "CoreRange",
    "CoreRangeSet",
    "CoreGrid",
    "ShardSpec",
    "MemoryConfig",
    "Shape",
    "DRAM_MEMORY_CONFIG",
    "L1_MEMORY_CONFIG",
    "L1_HEIGHT_SHARDED_MEMORY_CONFIG",
    "L1_WIDTH_SHARDED_MEMORY_CONFIG",
    "L1_BLOCK_SHARDED_MEMORY_CONFIG",
]


class _TTEnum(enum.Enum):
    """Enum whose str/repr match nanobind's (``DataType.BFLOAT16``)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __str__ = __repr__


# values are those of ttnn 0.81.1
class DataType(_TTEnum):
    BFLOAT16 = 0
    FLOAT32 = 1
    UINT32 = 2
    BFLOAT8_B = 3
    BFLOAT4_B = 4
    UINT8 = 5
    UINT16 = 6
    INT32 = 7
    INT8 = 8
    FP8_E4M3 = 9
    INVALID = 10


class Layout(_TTEnum):
    ROW_MAJOR = 0
    TILE = 1
    INVALID = 2


class TensorMemoryLayout(_TTEnum):
    INTERLEAVED = 0
    HEIGHT_SHARDED = 2
    WIDTH_SHARDED = 3
    BLOCK_SHARDED = 4
    ND_SHARDED = 5


class BufferType(_TTEnum):
    DRAM = 0
    L1 = 1
    SYSTEM_MEMORY = 2
    L1_SMALL = 3
    TRACE = 4


class ShardOrientation(_TTEnum):
    ROW_MAJOR = 0
    COL_MAJOR = 1


class StorageType(_TTEnum):
    HOST = 0
    DEVICE = 1


class Arch(_TTEnum):
    # ttnn 0.81 has no GRAYSKULL member (support ended with tt-metal v0.55);
    # the emulator keeps it for programs targeting that API level.
    GRAYSKULL = 1
    WORMHOLE_B0 = 2
    BLACKHOLE = 3
    QUASAR = 4


class EmbeddingsType(_TTEnum):
    GENERIC = 0
    PADDED = 1
    BINARY = 2


class TileReshapeMapMode(_TTEnum):
    CACHE = 0
    RECREATE = 1


class DumpTensorMode(_TTEnum):
    DISTRIBUTED_GATHER = 0
    REPLICATED = 1


_UNARY_OPS = {
    'ABS': 16, 'ABS_INT32': 17, 'ACOS': 37, 'ACOSH': 38, 'ADD_UNARY_SFPU': 62, 'ALT_COMPLEX_ROTATE90': 92,
    'ASIN': 36, 'ASINH': 42, 'ATAN': 41, 'ATANH': 43, 'BITCAST': 74, 'BITWISE_AND': 77, 'BITWISE_NOT': 76,
    'BITWISE_OR': 78, 'BITWISE_XOR': 75, 'CBRT': 111, 'CEIL': 81, 'CELU': 107, 'CLAMP_TSS': 108, 'COS': 13,
    'COSH': 14, 'DIGAMMA': 116, 'DIV_UNARY_SFPU': 65, 'DROPOUT': 88, 'ELU': 31, 'EQZ': 20, 'ERF': 44,
    'ERFC': 45, 'ERFINV': 52, 'EXP': 0, 'EXP2': 32, 'EXPM1': 34, 'FILL': 89, 'FLOOR': 80, 'FMOD': 87,
    'FRAC': 83, 'GELU': 2, 'GELU_TANH': 3, 'GEZ': 24, 'GTZ': 22, 'HARDMISH': 94, 'HARDSHRINK': 100,
    'HARDSIGMOID': 102, 'HARDSWISH': 103, 'HARDTANH': 101, 'HEAVISIDE': 33, 'I0': 53, 'I1': 54,
    'IDENTITY': 60, 'ISFINITE': 51, 'ISINF': 46, 'ISNAN': 49, 'ISNEGINF': 48, 'ISPOSINF': 47,
    'LEAKY_RELU': 30, 'LEFT_SHIFT': 85, 'LEZ': 25, 'LGAMMA': 115, 'LOG': 7, 'LOG10': 11, 'LOG1P': 8,
    'LOG2': 10, 'LOGICAL_NOT_UNARY': 50, 'LOGIT': 113, 'LOGSIGMOID': 112, 'LTZ': 23, 'MAC_TSS': 105,
    'MAXIMUM': 95, 'MINIMUM': 96, 'MISH': 93, 'MUL_UNARY_SFPU': 64, 'NEG': 61, 'NEZ': 21, 'POLYGAMMA': 117,
    'POWER': 28, 'POWER_ITERATIVE': 29, 'PRELU_SFPU': 90, 'RDIV': 57, 'RECIP': 1, 'RELU': 4, 'RELU6': 40,
    'RELU_MAX': 26, 'RELU_MIN': 27, 'REMAINDER': 86, 'RIGHT_SHIFT': 79, 'ROUND': 84, 'RPOW': 110,
    'RSQRT': 39, 'RSUB': 56, 'SELU': 109, 'SIGMOID': 6, 'SIGN': 18, 'SIGNBIT': 35, 'SILU': 58, 'SIN': 12,
    'SINH': 15, 'SOFTCAP': 118, 'SOFTPLUS': 59, 'SOFTSHRINK': 99, 'SOFTSIGN': 106, 'SQRT': 5, 'SQUARE': 19,
    'SUB_UNARY_SFPU': 63, 'TAN': 55, 'TANH': 9, 'TANHSHRINK': 97, 'THRESHOLD': 98, 'TILED_PROD': 72,
    'TRUNC': 82, 'TYPECAST': 73, 'UNARY_EQ': 67, 'UNARY_GE': 70, 'UNARY_GT': 68, 'UNARY_LE': 71,
    'UNARY_LT': 69, 'UNARY_NE': 66, 'WHERE_TSS': 104, 'XIELU': 114, 'ZERO_POINT': 91,
}

UnaryOpType = _TTEnum("UnaryOpType", _UNARY_OPS)
UnaryOpType.__module__ = __name__


class UnaryWithParam:
    """``UnaryWithParam(op)``, ``(op, p)``, ``(op, p0, p1)`` or from an ``(op, p)`` tuple."""

    __slots__ = ("op_type", "params")

    def __init__(self, *args):
        if len(args) == 1 and isinstance(args[0], tuple):
            args = args[0]
        if not args or not isinstance(args[0], UnaryOpType) or len(args) > 3:
            raise TypeError(
                "__init__(): incompatible function arguments: UnaryWithParam(op_type: UnaryOpType[, float[, float]])"
            )
        params = []
        for p in args[1:]:
            if isinstance(p, (bool, int, float)):
                params.append(float(p))
            else:
                raise TypeError(f"UnaryWithParam parameter must be a number, got {type(p).__name__}")
        self.op_type = args[0]
        self.params = params

    @classmethod
    def coerce(cls, value) -> Optional["UnaryWithParam"]:
        if value is None or isinstance(value, UnaryWithParam):
            return value
        if isinstance(value, UnaryOpType):
            return cls(value)
        if isinstance(value, tuple):
            return cls(value)
        raise TypeError(f"cannot convert {value!r} to UnaryWithParam")

    def __eq__(self, other):
        return isinstance(other, UnaryWithParam) and (self.op_type, self.params) == (other.op_type, other.params)

    def __hash__(self):
        return hash((self.op_type, tuple(self.params)))

    def __repr__(self) -> str:
        ps = ", ".join(f"{p:g}" for p in self.params)
        return f"UnaryWithParam(op_type=UnaryOpType::{self.op_type.name}, params=[{ps}])"


# -----------------------------------------------------------------------------
# cores


class CoreCoord:
    """``CoreCoord(x, y)`` or ``CoreCoord((x, y))`` (positional only, like ttnn)."""

    __slots__ = ("x", "y")

    def __init__(self, *args):
        if len(args) == 1 and isinstance(args[0], (tuple, list)) and len(args[0]) == 2:
            args = tuple(args[0])
        if len(args) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            raise TypeError("__init__(): incompatible function arguments: CoreCoord(x: int, y: int)")
        if args[0] < 0 or args[1] < 0:
            raise TypeError("CoreCoord coordinates are unsigned")
        self.x, self.y = int(args[0]), int(args[1])

    @classmethod
    def coerce(cls, value) -> "CoreCoord":
        if isinstance(value, CoreCoord):
            return value
        if isinstance(value, (tuple, list)):
            return cls(tuple(value))
        raise TypeError(f"expected CoreCoord or (x, y), got {value!r}")

    def __eq__(self, other):
        if isinstance(other, CoreCoord):
            return self.x == other.x and self.y == other.y
        if isinstance(other, tuple) and len(other) == 2:
            return (self.x, self.y) == other
        return NotImplemented

    def __hash__(self):
        return hash((self.x, self.y))

    def __iter__(self):
        return iter((self.x, self.y))

    def __repr__(self) -> str:
        return f"{self.x}-{self.y}"

    __str__ = __repr__


class CoreRange:
    """Inclusive rectangle of cores ``CoreRange(start, end)``."""

    __slots__ = ("start", "end")

    def __init__(self, start, end):
        start = CoreCoord.coerce(start)
        end = CoreCoord.coerce(end)
        if end.x < start.x or end.y < start.y:
            raise RuntimeError(
                f"TT_FATAL: Invalid core range for start_coord: {start}, end_coord: {end} "
                "(end_coord.x >= start_coord.x and end_coord.y >= start_coord.y)"
            )
        self.start, self.end = start, end

    @property
    def start_coord(self) -> CoreCoord:
        return self.start

    @property
    def end_coord(self) -> CoreCoord:
        return self.end

    def grid_size(self) -> CoreCoord:
        return CoreCoord(self.end.x - self.start.x + 1, self.end.y - self.start.y + 1)

    def num_cores(self) -> int:
        g = self.grid_size()
        return g.x * g.y

    def size(self) -> int:
        return self.num_cores()

    def contains(self, other) -> bool:
        if isinstance(other, CoreCoord):
            return self.start.x <= other.x <= self.end.x and self.start.y <= other.y <= self.end.y
        if isinstance(other, CoreRange):
            return self.contains(other.start) and self.contains(other.end)
        if isinstance(other, CoreRangeSet):
            return all(self.contains(r) for r in other.ranges())
        raise TypeError(f"cannot test containment of {other!r}")

    def intersects(self, other: "CoreRange") -> bool:
        return not (
            other.end.x < self.start.x or other.start.x > self.end.x or other.end.y < self.start.y
            or other.start.y > self.end.y
        )

    def cores(self) -> List[CoreCoord]:
        return [CoreCoord(x, y) for y in range(self.start.y, self.end.y + 1) for x in range(self.start.x, self.end.x + 1)]

    def __eq__(self, other):
        return isinstance(other, CoreRange) and self.start == other.start and self.end == other.end

    def __hash__(self):
        return hash((self.start, self.end))

    def __repr__(self) -> str:
        return f"[{self.start} - {self.end}]"

    __str__ = __repr__


class CoreRangeSet:
    """Set of non-overlapping core ranges ``CoreRangeSet({CoreRange(...), ...})``."""

    __slots__ = ("_ranges",)

    def __init__(self, core_ranges: Union[Sequence[CoreRange], Iterable[CoreRange], CoreRange]):
        if isinstance(core_ranges, CoreRange):
            core_ranges = [core_ranges]
        ranges = list(core_ranges)
        for r in ranges:
            if not isinstance(r, CoreRange):
                raise TypeError(f"CoreRangeSet expects CoreRange items, got {type(r).__name__}")
        for i, a in enumerate(ranges):
            for b in ranges[i + 1:]:
                if a.intersects(b):
                    raise RuntimeError(
                        f"TT_THROW: Cannot create CoreRangeSet with specified core ranges because core ranges {a} and {b} overlap!"
                    )
        ranges.sort(key=lambda r: (r.start.y, r.start.x))
        self._ranges = tuple(ranges)

    def ranges(self) -> List[CoreRange]:
        return list(self._ranges)

    def num_cores(self) -> int:
        return sum(r.num_cores() for r in self._ranges)

    def size(self) -> int:
        return len(self._ranges)

    def empty(self) -> bool:
        return not self._ranges

    def bounding_box(self) -> CoreRange:
        if not self._ranges:
            raise RuntimeError("bounding_box of an empty CoreRangeSet")
        return CoreRange(
            CoreCoord(min(r.start.x for r in self._ranges), min(r.start.y for r in self._ranges)),
            CoreCoord(max(r.end.x for r in self._ranges), max(r.end.y for r in self._ranges)),
        )

    def contains(self, other) -> bool:
        if isinstance(other, CoreCoord):
            return any(r.contains(other) for r in self._ranges)
        if isinstance(other, CoreRange):
            return all(self.contains(c) for c in other.cores())
        if isinstance(other, CoreRangeSet):
            return all(self.contains(r) for r in other.ranges())
        raise TypeError(f"cannot test containment of {other!r}")

    def cores(self, row_major: bool = True) -> List[CoreCoord]:
        cs = [c for r in self._ranges for c in r.cores()]
        if row_major:
            cs.sort(key=lambda c: (c.y, c.x))
        else:
            cs.sort(key=lambda c: (c.x, c.y))
        return cs

    def merge(self, other: "CoreRangeSet") -> "CoreRangeSet":
        return CoreRangeSet(list(self._ranges) + list(other.ranges()))

    def __eq__(self, other):
        return isinstance(other, CoreRangeSet) and self._ranges == other._ranges

    def __hash__(self):
        return hash(self._ranges)

    def __repr__(self) -> str:
        return "{" + ", ".join(repr(r) for r in self._ranges) + "}"

    __str__ = __repr__


class CoreGrid:
    """``CoreGrid(*, x, y)`` (keyword only, like ttnn)."""

    __slots__ = ("x", "y")

    def __init__(self, *, x: int, y: int):
        self.x, self.y = int(x), int(y)

    @property
    def num_cores(self) -> int:
        return self.x * self.y

    def __repr__(self) -> str:
        return f"ttnn.CoreGrid(x={self.x}, y={self.y})"


# -----------------------------------------------------------------------------
# memory configs


class ShardSpec:
    """``ShardSpec(grid, shard_shape, shard_orientation)``."""

    __slots__ = ("grid", "shape", "orientation")

    def __init__(self, grid: CoreRangeSet, shard_shape: Sequence[int], shard_orientation: ShardOrientation):
        if not isinstance(grid, CoreRangeSet):
            raise TypeError("ShardSpec grid must be a CoreRangeSet")
        shape = list(shard_shape)
        if len(shape) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise TypeError("__init__(): incompatible function arguments: ShardSpec(grid, shard_shape: [h, w], orientation)")
        if not isinstance(shard_orientation, ShardOrientation):
            raise TypeError("ShardSpec orientation must be a ttnn.ShardOrientation")
        self.grid = grid
        self.shape = [int(shape[0]), int(shape[1])]
        self.orientation = shard_orientation

    def num_cores(self) -> int:
        return self.grid.num_cores()

    def __eq__(self, other):
        return (
            isinstance(other, ShardSpec)
            and self.grid == other.grid
            and list(self.shape) == list(other.shape)
            and self.orientation == other.orientation
        )

    def __hash__(self):
        return hash((self.grid, tuple(self.shape), self.orientation))

    def __repr__(self) -> str:
        return f"ShardSpec{{grid={self.grid}, shape={list(self.shape)}, orientation=ShardOrientation::{self.orientation.name}}}"


class MemoryConfig:
    """``MemoryConfig(memory_layout=INTERLEAVED, buffer_type=DRAM, shard_spec=None)``."""

    __slots__ = ("_memory_layout", "_buffer_type", "_shard_spec")

    def __init__(
        self,
        memory_layout: TensorMemoryLayout = TensorMemoryLayout.INTERLEAVED,
        buffer_type: BufferType = BufferType.DRAM,
        shard_spec: Optional[ShardSpec] = None,
    ):
        if not isinstance(memory_layout, TensorMemoryLayout):
            raise TypeError(f"memory_layout must be a ttnn.TensorMemoryLayout, got {memory_layout!r}")
        if not isinstance(buffer_type, BufferType):
            raise TypeError(f"buffer_type must be a ttnn.BufferType, got {buffer_type!r}")
        if shard_spec is not None and not isinstance(shard_spec, ShardSpec):
            raise TypeError(f"shard_spec must be a ttnn.ShardSpec or None, got {shard_spec!r}")
        self._memory_layout = memory_layout
        self._buffer_type = buffer_type
        self._shard_spec = shard_spec

    @property
    def memory_layout(self) -> TensorMemoryLayout:
        return self._memory_layout

    @property
    def buffer_type(self) -> BufferType:
        return self._buffer_type

    @property
    def shard_spec(self) -> Optional[ShardSpec]:
        return self._shard_spec

    @property
    def nd_shard_spec(self):
        return None

    @property
    def interleaved(self) -> bool:
        return self._memory_layout == TensorMemoryLayout.INTERLEAVED

    def is_sharded(self) -> bool:
        return self._memory_layout != TensorMemoryLayout.INTERLEAVED

    def with_shard_spec(self, shard_spec: Optional[ShardSpec]) -> "MemoryConfig":
        return MemoryConfig(self._memory_layout, self._buffer_type, shard_spec)

    def __eq__(self, other):
        return (
            isinstance(other, MemoryConfig)
            and self._memory_layout == other._memory_layout
            and self._buffer_type == other._buffer_type
            and self._shard_spec == other._shard_spec
        )

    def __hash__(self):
        return hash((self._memory_layout, self._buffer_type, self._shard_spec))

    def __repr__(self) -> str:
        ss = "std::nullopt" if self._shard_spec is None else repr(self._shard_spec)
        return (
            f"MemoryConfig(memory_layout=TensorMemoryLayout::{self._memory_layout.name},"
            f"buffer_type=BufferType::{self._buffer_type.name},shard_spec={ss})"
        )


DRAM_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
L1_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.L1)
L1_HEIGHT_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1)
L1_WIDTH_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.WIDTH_SHARDED, BufferType.L1)
L1_BLOCK_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.BLOCK_SHARDED, BufferType.L1)


class Shape:
    """ttnn.Shape: an immutable sequence of ints (index, len, iter, ==); no slicing, as in ttnn."""

    __slots__ = ("_dims",)

    def __init__(self, dims: Iterable[int]):
        self._dims = tuple(int(d) for d in dims)

    @property
    def rank(self) -> int:
        return len(self._dims)

    def to_rank(self, rank: int) -> "Shape":
        d = self._dims
        if rank >= len(d):
            return Shape((1,) * (rank - len(d)) + d)
        if any(x != 1 for x in d[: len(d) - rank]):
            raise RuntimeError(f"cannot reduce {self} to rank {rank}")
        return Shape(d[len(d) - rank:])

    def __getitem__(self, i):
        if not isinstance(i, int):
            raise TypeError("__getitem__(): incompatible function arguments: Shape[int]")
        return self._dims[i]

    def __len__(self) -> int:
        return len(self._dims)

    def __iter__(self):
        return iter(self._dims)

    def __eq__(self, other):
        if isinstance(other, Shape):
            return self._dims == other._dims
        if isinstance(other, (tuple, list)):
            return self._dims == tuple(other)
        return NotImplemented

    def __hash__(self):
        return hash(self._dims)

    def __repr__(self) -> str:
        return f"Shape({list(self._dims)})"

    def volume(self) -> int:
        v = 1
        for d in self._dims:
            v *= d
        return v

    def as_tuple(self) -> Tuple[int, ...]:
        return self._dims


class MathFidelity(_TTEnum):
    """``ttnn.MathFidelity`` (ttnn 0.81.1: module ttnn._ttnn.tensor; values as in the wheel).

    Number of fidelity phases (passes through the 5b x 7b multiplier array) a matmul runs; see
    ``runtime/emulator/ttnn/compute_config.py`` for what each phase consumes of each operand.
    """

    LoFi = 0
    HiFi2 = 2
    HiFi3 = 3
    HiFi4 = 4
    Invalid = 255


# -----------------------------------------------------------------------------
# dispatch cores (ttnn 0.81.1: ttnn._ttnn.device.DispatchCoreType / DispatchCoreAxis, values as in the wheel;
# ttnn.DispatchCoreConfig is the Python class in the wheel's ttnn/device.py)


class DispatchCoreType(_TTEnum):
    WORKER = 0
    ETH = 1


class DispatchCoreAxis(_TTEnum):
    ROW = 0
    COL = 1


class DispatchCoreConfig:
    """``ttnn.DispatchCoreConfig(type=None, axis=None, fabric_tensix_config=None)`` (ttnn 0.81.1 ``ttnn/device.py``).

    The real constructor resolves missing fields through ``_ttnn.device.create_dispatch_core_config``
    ("cluster/arch-aware DispatchCoreConfig (TTNN default that prefers maximum available worker cores)").
    Emulated: ``type=None`` becomes the current device spec's ``dispatch_core_type`` (the placement that gives the
    spec's whole grid); ``axis=None`` becomes COL on Blackhole and ROW otherwise
    (tt-metal ``tt_metal/impl/dispatch/dispatch_core_common.cpp``, ``DispatchCoreConfig::get_default_axis``).
    ``fabric_tensix_config`` is not emulated.
    """

    __slots__ = ("type", "axis")

    def __init__(self, type: Optional[DispatchCoreType] = None, axis: Optional[DispatchCoreAxis] = None,
                 fabric_tensix_config=None):
        from ..device import get_device_spec
        from ..errors import UnsupportedError

        if fabric_tensix_config is not None:
            raise UnsupportedError("DispatchCoreConfig(fabric_tensix_config=...) is not emulated",
                                   op="ttnn.DispatchCoreConfig", rule="unsupported_argument")
        if type is not None and not isinstance(type, DispatchCoreType):
            raise TypeError(f"type must be a ttnn.DispatchCoreType or None, got {type!r}")
        if axis is not None and not isinstance(axis, DispatchCoreAxis):
            raise TypeError(f"axis must be a ttnn.DispatchCoreAxis or None, got {axis!r}")
        spec = get_device_spec()
        self.type = type if type is not None else DispatchCoreType[spec.dispatch_core_type]
        self.axis = axis if axis is not None else (
            DispatchCoreAxis.COL if spec.arch == "blackhole" else DispatchCoreAxis.ROW)

    def __eq__(self, other):
        return isinstance(other, DispatchCoreConfig) and (self.type, self.axis) == (other.type, other.axis)

    def __hash__(self):
        return hash((self.type, self.axis))

    def __repr__(self) -> str:
        return f"DispatchCoreConfig(type={self.type}, axis={self.axis})"
