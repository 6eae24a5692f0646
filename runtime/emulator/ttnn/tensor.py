"""Emulated ``ttnn.Tensor``: values, layout, dtype, placement and L1 footprint.

Values are kept as a torch tensor of the *logical* shape, already rounded to
the tensor's dtype (float32 for bfloat16 / bfloat8_b / bfloat4_b / float32,
int64 for the integer dtypes).  Tile padding is metadata only
(``padded_shape``); it matters for placement checks and L1 accounting.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np
import torch

from .. import formats
from ..device import Buffer, Device
from ..errors import DeallocatedTensorError, EmulatorError, OpInputError, PlacementError, UnsupportedError
from .types import (
    DRAM_MEMORY_CONFIG,
    BufferType,
    DataType,
    Layout,
    MemoryConfig,
    Shape,
    ShardOrientation,
    StorageType,
    TensorMemoryLayout,
)

TILE = 32

TILE_BYTES = {
    DataType.BFLOAT16: 2048,
    DataType.BFLOAT8_B: 1088,
    DataType.BFLOAT4_B: 576,
    DataType.FLOAT32: 4096,
    DataType.UINT32: 4096,
    DataType.INT32: 4096,
    DataType.UINT16: 2048,
    DataType.UINT8: 1024,
}
ELEMENT_BYTES = {
    DataType.BFLOAT16: 2,
    DataType.FLOAT32: 4,
    DataType.UINT32: 4,
    DataType.INT32: 4,
    DataType.UINT16: 2,
    DataType.UINT8: 1,
}
BLOCK_FLOAT_DTYPES = (DataType.BFLOAT8_B, DataType.BFLOAT4_B)
INTEGER_DTYPES = (DataType.UINT32, DataType.INT32, DataType.UINT16, DataType.UINT8)
FLOAT_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B)
BF16_EXACT_DTYPES = (DataType.BFLOAT16,) + BLOCK_FLOAT_DTYPES   # every value they hold is a bfloat16
_INT_RANGES = {
    DataType.UINT32: (0, 2 ** 32),
    DataType.INT32: (-(2 ** 31), 2 ** 31),
    DataType.UINT16: (0, 2 ** 16),
    DataType.UINT8: (0, 2 ** 8),
}


# -----------------------------------------------------------------------------
# values


def round_to_dtype(values: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Values a tensor of ``dtype`` holds (float32, or int64 for integer dtypes).

    May return ``values`` itself for float32; callers must not mutate inputs.
    """
    if dtype == DataType.BFLOAT16:
        return formats.round_to_bfloat16(values)
    if dtype == DataType.BFLOAT8_B:
        return formats.quantize_bfloat8_b(values)
    if dtype == DataType.BFLOAT4_B:
        return formats.quantize_bfloat4_b(values)
    if dtype == DataType.FLOAT32:
        return values if values.dtype == torch.float32 else values.to(torch.float32)
    if dtype in INTEGER_DTYPES:
        if values.is_floating_point():
            values = torch.trunc(values)
        v = values.to(torch.int64)
        lo, hi = _INT_RANGES[dtype]
        span = hi - lo
        return torch.remainder(v - lo, span) + lo  # wrap like a C cast
    raise UnsupportedError(f"dtype {dtype} is not emulated", rule="dtype")


def torch_dtype_of(dtype: DataType) -> torch.dtype:
    """torch dtype that ``ttnn.to_torch`` returns for a tensor of ``dtype``."""
    return {
        DataType.BFLOAT16: torch.bfloat16,
        DataType.FLOAT32: torch.float32,
        DataType.BFLOAT8_B: torch.float32,
        DataType.BFLOAT4_B: torch.float32,
        DataType.UINT32: torch.int32,
        DataType.INT32: torch.int32,
        DataType.UINT16: torch.int32,
        DataType.UINT8: torch.uint8,
    }[dtype]


def dtype_from_torch(t: torch.dtype) -> DataType:
    m = {
        torch.float32: DataType.FLOAT32,
        torch.bfloat16: DataType.BFLOAT16,
        torch.int32: DataType.INT32,
        torch.uint8: DataType.UINT8,
        torch.int16: DataType.UINT16,
    }
    if t not in m:
        raise OpInputError(f"cannot infer a ttnn dtype from torch dtype {t}; pass dtype=", op="ttnn.from_torch",
                           rule="dtype_inference")
    return m[t]


# -----------------------------------------------------------------------------
# shapes and placement


def padded_shape_of(shape: Tuple[int, ...], layout: Layout) -> Tuple[int, ...]:
    if layout == Layout.TILE:
        return formats.padded_shape(shape, TILE)
    return tuple(shape)


def view_2d(padded: Tuple[int, ...]) -> Tuple[int, int]:
    """(height, width) of the 2D view: product of all dims but the last, last dim."""
    if len(padded) == 0:
        return 1, 1
    h = 1
    for d in padded[:-1]:
        h *= int(d)
    return h, int(padded[-1])


def _ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def validate_placement(shape: Tuple[int, ...], layout: Layout, dtype: DataType, memory_config: MemoryConfig,
                       device: Device, op: str, what: str = "tensor") -> Tuple[Optional[np.ndarray], int]:
    """Check a placement as the device would; return (L1 bytes per core [y, x] or None, DRAM bytes).

    Rules (rule ids in brackets):
      [memory_config_type] memory_config must be a ttnn.MemoryConfig
      [layout_for_block_float] bfloat8_b / bfloat4_b need TILE layout
      [buffer_type] only DRAM and L1 buffers are emulated
      [interleaved_with_shard_spec] an interleaved config carries no shard spec
      [shard_spec_missing] a sharded config needs a shard spec here
      [dram_sharding_unsupported] DRAM sharding is not emulated
      [shard_grid_outside_device] shard grid inside the device compute grid
      [shard_shape_zero] shard dims > 0
      [shard_shape_not_tile_aligned] tile tensors: shard dims multiples of 32
      [height_shard_width] HEIGHT_SHARDED: shard width == tensor width
      [width_shard_height] WIDTH_SHARDED: shard height == tensor height
      [block_shard_grid_not_rectangle] BLOCK_SHARDED: the grid is one rectangle
      [shard_coverage] the shards (one per core) cover the 2D view
    """
    if not isinstance(memory_config, MemoryConfig):
        raise PlacementError(f"{what}: memory_config must be a ttnn.MemoryConfig, got {memory_config!r}", op=op,
                             rule="memory_config_type")
    if dtype in BLOCK_FLOAT_DTYPES and layout != Layout.TILE:
        raise PlacementError(f"{what}: {dtype} requires TILE layout, got {layout}", op=op,
                             rule="layout_for_block_float")
    if dtype not in TILE_BYTES:
        raise UnsupportedError(f"{what}: dtype {dtype} is not emulated", op=op, rule="dtype")
    bt = memory_config.buffer_type
    if bt not in (BufferType.DRAM, BufferType.L1):
        raise UnsupportedError(f"{what}: buffer type {bt} is not emulated", op=op, rule="buffer_type")
    padded = padded_shape_of(tuple(shape), layout)
    h2, w2 = view_2d(padded)
    tile_layout = layout == Layout.TILE
    if tile_layout:
        pages = (h2 // TILE) * (w2 // TILE)
        page_bytes = TILE_BYTES[dtype]
    else:
        pages = h2
        page_bytes = w2 * ELEMENT_BYTES[dtype]
    total_bytes = pages * page_bytes
    gx, gy = device.spec.grid
    ml = memory_config.memory_layout
    if ml == TensorMemoryLayout.INTERLEAVED:
        if memory_config.shard_spec is not None:
            raise PlacementError(f"{what}: an INTERLEAVED memory config must not carry a shard_spec", op=op,
                                 rule="interleaved_with_shard_spec")
        if bt == BufferType.DRAM:
            return None, total_bytes
        ncores = gx * gy
        per_core = np.full((gy, gx), _ceil_div(pages, ncores) * page_bytes if pages else 0, dtype=np.int64)
        return per_core, 0
    if ml not in (TensorMemoryLayout.HEIGHT_SHARDED, TensorMemoryLayout.WIDTH_SHARDED,
                  TensorMemoryLayout.BLOCK_SHARDED):
        raise UnsupportedError(f"{what}: memory layout {ml} is not emulated", op=op, rule="memory_layout")
    ss = memory_config.shard_spec
    if ss is None:
        raise PlacementError(f"{what}: {ml} memory config needs a shard_spec", op=op, rule="shard_spec_missing")
    if bt == BufferType.DRAM:
        raise UnsupportedError(f"{what}: DRAM sharding is not emulated", op=op, rule="dram_sharding_unsupported")
    if ss.orientation not in (ShardOrientation.ROW_MAJOR, ShardOrientation.COL_MAJOR):
        raise PlacementError(f"{what}: bad shard orientation {ss.orientation!r}", op=op, rule="shard_orientation")
    bbox = ss.grid.bounding_box()
    if bbox.end.x >= gx or bbox.end.y >= gy:
        raise PlacementError(
            f"{what}: shard grid {ss.grid} must lie within the device compute grid ({gx}, {gy}) "
            f"(cores x 0..{gx - 1}, y 0..{gy - 1})", op=op, rule="shard_grid_outside_device")
    sh, sw = int(ss.shape[0]), int(ss.shape[1])
    if sh <= 0 or sw <= 0:
        raise PlacementError(f"{what}: shard shape {ss.shape} must be positive", op=op, rule="shard_shape_zero")
    if tile_layout and (sh % TILE or sw % TILE):
        raise PlacementError(
            f"{what}: shard shape [{sh}, {sw}] of a TILE tensor must be multiples of 32 (tile aligned)", op=op,
            rule="shard_shape_not_tile_aligned")
    ncores = ss.grid.num_cores()
    shards_h = _ceil_div(h2, sh)
    shards_w = _ceil_div(w2, sw)
    if ml == TensorMemoryLayout.HEIGHT_SHARDED:
        if sw != w2:
            raise PlacementError(
                f"{what}: HEIGHT_SHARDED shard width {sw} must equal the tensor width {w2} "
                f"(2D view {h2}x{w2} of padded shape {list(padded)})", op=op, rule="height_shard_width")
        if shards_h > ncores:
            raise PlacementError(
                f"{what}: {shards_h} height shards of {sh} rows are needed to cover {h2} rows but the grid has "
                f"{ncores} cores", op=op, rule="shard_coverage")
    elif ml == TensorMemoryLayout.WIDTH_SHARDED:
        if sh != h2:
            raise PlacementError(
                f"{what}: WIDTH_SHARDED shard height {sh} must equal the tensor height {h2} "
                f"(2D view {h2}x{w2} of padded shape {list(padded)})", op=op, rule="width_shard_height")
        if shards_w > ncores:
            raise PlacementError(
                f"{what}: {shards_w} width shards of {sw} columns are needed to cover {w2} columns but the grid has "
                f"{ncores} cores", op=op, rule="shard_coverage")
    else:  # BLOCK
        if ss.grid.size() != 1:
            raise PlacementError(f"{what}: BLOCK_SHARDED needs a single rectangular core range, got {ss.grid}",
                                 op=op, rule="block_shard_grid_not_rectangle")
        g = bbox.grid_size()
        if ss.orientation == ShardOrientation.ROW_MAJOR:
            cols, rows, cname, rname = g.x, g.y, "x (columns)", "y (rows)"
        else:
            cols, rows, cname, rname = g.y, g.x, "y (COL_MAJOR: columns of the tensor)", "x"
        if shards_w > cols or shards_h > rows:
            raise PlacementError(
                f"{what}: BLOCK_SHARDED {h2}x{w2} with shard [{sh}, {sw}] needs {shards_h} x {shards_w} shards "
                f"(rows x columns) but the {ss.orientation.name} grid {g.x}x{g.y} offers {rows} along {rname} and "
                f"{cols} along {cname}", op=op, rule="shard_coverage")
    if tile_layout:
        shard_bytes = (sh // TILE) * (sw // TILE) * TILE_BYTES[dtype]
    else:
        shard_bytes = sh * sw * ELEMENT_BYTES[dtype]
    per_core = np.zeros((gy, gx), dtype=np.int64)
    for r in ss.grid.ranges():
        per_core[r.start.y:r.end.y + 1, r.start.x:r.end.x + 1] += shard_bytes
    return per_core, 0


def l1_bytes_per_core(shape, layout, dtype, memory_config, device) -> int:
    """Bytes a placement costs on its most loaded core (0 for DRAM)."""
    per_core, _ = validate_placement(tuple(shape), layout, dtype, memory_config, device, op="l1_bytes_per_core")
    return 0 if per_core is None else int(per_core.max())


# -----------------------------------------------------------------------------
# Tensor


class Tensor:
    """Emulated ttnn tensor (host or device)."""

    __slots__ = ("_buffer", "_shape", "dtype", "layout", "_memory_config", "_device", "_detached", "__weakref__")

    def __init__(self, tensor=None, data_type: Optional[DataType] = None, *, device=None, layout=None,
                 mem_config=None, tile=None, cq_id=None, pad_value=None, mesh_mapper=None, **unused):
        """``ttnn.Tensor(torch_or_numpy, dtype, layout=..., device=..., mem_config=...)``."""
        from .operations import from_torch

        if tensor is None:
            raise TypeError("ttnn.Tensor(...) needs a torch tensor or numpy array")
        t = from_torch(tensor, data_type, layout=layout, device=device, memory_config=mem_config, tile=tile,
                       pad_value=pad_value, mesh_mapper=mesh_mapper)
        self._buffer, self._shape = t._buffer, t._shape
        self.dtype, self.layout = t.dtype, t.layout
        self._memory_config, self._device, self._detached = t._memory_config, t._device, False
        t._buffer.owners.add(self)

    # internal constructor ---------------------------------------------------
    @classmethod
    def _create(cls, buffer: Buffer, shape: Tuple[int, ...], dtype: DataType, layout: Layout,
                memory_config: Optional[MemoryConfig], device: Optional[Device]) -> "Tensor":
        t = object.__new__(cls)
        t._buffer = buffer
        t._shape = tuple(int(s) for s in shape)
        t.dtype = dtype
        t.layout = layout
        t._memory_config = memory_config
        t._device = device
        t._detached = False
        buffer.owners.add(t)
        return t

    # ttnn API ---------------------------------------------------------------
    @property
    def shape(self) -> Shape:
        return Shape(self._shape)

    @property
    def logical_shape(self) -> Shape:
        return Shape(self._shape)

    @property
    def padded_shape(self) -> Shape:
        return Shape(padded_shape_of(self._shape, self.layout))

    def get_dtype(self) -> DataType:
        return self.dtype

    def get_layout(self) -> Layout:
        return self.layout

    def memory_config(self) -> MemoryConfig:
        return self._memory_config if self._memory_config is not None else DRAM_MEMORY_CONFIG

    def storage_type(self) -> StorageType:
        return StorageType.DEVICE if self._device is not None else StorageType.HOST

    def device(self) -> Optional[Device]:
        return self._device

    def buffer_address(self) -> Optional[int]:
        """``Tensor.buffer_address()``: the L1 address the allocator gave the buffer (None in DRAM / on the host)."""
        return self._buffer.address if self.is_allocated() else None

    def is_allocated(self) -> bool:
        return (not self._detached) and self._buffer.allocated

    def is_sharded(self) -> bool:
        return self._device is not None and self.memory_config().is_sharded()

    def deallocate(self, force: bool = True) -> None:
        from .operations import deallocate

        deallocate(self, force)

    def reshape(self, *shape, **kwargs) -> "Tensor":
        from .operations import reshape

        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        return reshape(self, shape, **kwargs)

    def to_torch(self) -> torch.Tensor:
        from .operations import to_torch

        return to_torch(self)

    def cpu(self, blocking: bool = True, cq_id=None) -> "Tensor":
        from .operations import from_device

        return from_device(self) if self._device is not None else self

    def to(self, target, memory_config: Optional[MemoryConfig] = None, *args, **kwargs) -> "Tensor":
        from .operations import to_device, to_layout

        if isinstance(target, Layout):
            return to_layout(self, target)
        return to_device(self, target, memory_config)

    def volume(self) -> int:
        return math.prod(padded_shape_of(self._shape, self.layout))

    def logical_volume(self) -> int:
        return math.prod(self._shape)

    def element_size(self) -> int:
        return ELEMENT_BYTES.get(self.dtype, 1)

    def __repr__(self) -> str:
        storage = "DEVICE" if self._device is not None else "HOST"
        state = "" if self.is_allocated() else ", deallocated"
        mc = f", memory_config={self.memory_config()!r}" if self._device is not None else ""
        return (f"ttnn.Tensor(shape={self.shape}, dtype={self.dtype}, layout={self.layout}, "
                f"storage={storage}{mc}{state})")

    def __len__(self) -> int:
        return self._shape[0] if self._shape else 0

    # emulator internals -----------------------------------------------------
    def _values(self, op: str = "ttnn", name: str = "tensor") -> torch.Tensor:
        """Current values (logical shape) as float32 / int64; raises if deallocated or the device is closed."""
        data = self._stored(op, name)
        if data.dtype == torch.bfloat16:   # compact storage of host data (weights): widened per use
            data = data.float()
        return data

    def _stored(self, op: str = "ttnn", name: str = "tensor") -> torch.Tensor:
        """The buffer's storage as is (see Buffer), in the logical shape: for moving, not computing."""
        if not self.is_allocated():
            raise DeallocatedTensorError(f"{name} {self.shape} was deallocated", op=op, rule="use_after_deallocate")
        if self._device is not None and not self._device.is_open():
            raise EmulatorError(f"{name} lives on a closed device", op=op, rule="device_open")
        data = self._buffer.data
        if tuple(data.shape) != self._shape:
            data = data.reshape(self._shape)
        return data

    def _set_values(self, values: torch.Tensor) -> None:
        """In-place update (all tensors sharing the buffer see it, as on device)."""
        self._buffer.data = values.reshape(self._buffer.data.shape)


def new_tensor(values: torch.Tensor, dtype: DataType, layout: Layout, device: Optional[Device],
               memory_config: Optional[MemoryConfig], op: str, what: str = "output",
               already_rounded: bool = False) -> Tensor:
    """Create a tensor (allocating on the device if given) holding ``values`` rounded to ``dtype``."""
    shape = tuple(values.shape)
    if dtype in BLOCK_FLOAT_DTYPES and layout != Layout.TILE:
        raise PlacementError(f"{what}: {dtype} requires TILE layout, got {layout}", op=op,
                             rule="layout_for_block_float")
    if device is not None:
        device._check_open(op)
        mc = memory_config if memory_config is not None else DRAM_MEMORY_CONFIG
        per_core, dram_bytes = validate_placement(shape, layout, dtype, mc, device, op, what)
    else:
        mc, per_core, dram_bytes = None, None, 0
    if not already_rounded:
        values = round_to_dtype(values, dtype)
    buf = Buffer(values, device, per_core, dram_bytes, what=f"{what} {list(shape)} {dtype.name}", op=op,
                 layout=mc.memory_layout.name if mc is not None else "INTERLEAVED")
    if device is not None:
        device._count(op)
    return Tensor._create(buf, shape, dtype, layout, mc, device)
