"""Emulated ttnn 0.81 functions and ops (same names, parameters and defaults).

Numerics (see also runtime/emulator/formats.py and runtime/emulator/ttnn/compute_config.py):

* two modes (``formats.set_numerics`` / ``TT_EMULATOR_NUMERICS``): ``"faithful"`` (default) models the
  device's arithmetic as below; ``"fp32"`` stores every float tensor in float32 and computes every op in
  float32 with full-precision products, keeping all op semantics (layouts, head splits, the GELU form a
  program picks, the approximate SFPU exp when ``math_approx_mode``, softmax without max subtraction);
* results are rounded to the output dtype by the packer (bfloat16: nearest-even; bfloat8_b / bfloat4_b:
  ttnn's block-float packer on the tile layout, formats.py), assumed equal to ttnn's host conversion;
* compute kernel configs: ``compute_config.resolve`` (``None`` gives each op's ttnn defaults, listed in the
  op's docstring; Invalid fidelity and configs of the other arch are refused);
* matmul / linear (``matmul`` docstring): tt-isa-documentation's MVMUL model — the fidelity phases' operand
  bits (in0 = SrcB: 6 / +4 mantissa bits, in1 = SrcA: 4 / +5), exact products, a 16-bit Dst rounded to
  bfloat16 after every MVMUL (16 of K, one phase) or an FP32 Dst; the partials spilled between K blocks of
  ``in0_block_w`` tiles in the intermediate CB format (interm0_data_format: output dtype, Float16_b with
  packer_l1_acc, Float32 with fp32_dest_acc_en), in the order of the kernel
  bmm_large_block_zm_fused_bias_activation.cpp; bias add, then the SFPU activation; bounded (not bit exact):
  the order of the 16 float32 additions inside an MVMUL and the rounding mode of Dst writes;
* fused GELU: ``(GELU, True)`` / ``"gelu_approx"`` is the SFPU's fast GELU (the 6-piece FP16 LUT of
  ckernel_sfpu_gelu.h, modelled exactly; it differs from the erf GELU by up to 0.0236 absolute, near
  |x| = 0.25); ``(GELU, False)`` / ``"gelu"`` is the accurate kernel (the CDF polynomial, modelled exactly on
  [-3.125, 2.78125), identity above, 0 below -5.5426, torch's float32 GELU in between as the kernel is fitted
  to it: <= 1 bf16 ulp from the device everywhere);
* layer_norm / scale_mask_softmax_in_place: the kernels' stages (FPU multiplies under fidelity, bfloat16 Dst
  and intermediate CBs, SFPU exp / rsqrt / reciprocal) with the bounds in their docstrings;
  ``numeric_stable=False`` (the default) does not subtract the row max, like the kernel;
* data movement (split / concat heads, (inter)leaved<->sharded) is exact;
  bfloat8_b outputs are re-packed where the op changes the 16-value groups
  (e.g. the transposed K).
"""

from __future__ import annotations

import inspect
import math
import os
from typing import Optional, Tuple

import numpy as np
import torch

from .. import formats
from ..device import Device, get_device_spec
from ..errors import (
    DeallocatedTensorError,
    OpInputError,
    PlacementError,
    ProgramConfigError,
    UnsupportedError,
)
from . import circular_buffers as _cbs
from . import compute_config as cc
from . import dst16_matmul
from .program_configs import (
    LayerNormDefaultProgramConfig,
    LayerNormShardedMultiCoreProgramConfig,
    MatmulMultiCoreReuseMultiCastProgramConfig,
    MatmulMultiCoreReuseProgramConfig,
    SoftmaxDefaultProgramConfig,
    SoftmaxShardedMultiCoreProgramConfig,
)
from .tensor import (
    BF16_EXACT_DTYPES,
    BLOCK_FLOAT_DTYPES,
    FLOAT_DTYPES,
    INTEGER_DTYPES,
    TILE,
    Tensor,
    dtype_from_torch,
    new_tensor,
    padded_shape_of,
    round_to_dtype,
    torch_dtype_of,
    validate_placement,
    view_2d,
)
from .types import (
    DRAM_MEMORY_CONFIG,
    BufferType,
    CoreCoord,
    CoreRange,
    CoreRangeSet,
    DataType,
    DumpTensorMode,
    EmbeddingsType,
    Layout,
    MathFidelity,
    MemoryConfig,
    Shape,
    ShardOrientation,
    ShardSpec,
    TensorMemoryLayout,
    TileReshapeMapMode,
    UnaryOpType,
    UnaryWithParam,
)

DEFAULT_L1_SMALL_SIZE = 0
DEFAULT_TRACE_REGION_SIZE = 0

_open_devices = {}


# -----------------------------------------------------------------------------
# helpers


def _ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def _device_tensor(t, op: str, name: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise OpInputError(f"{name} must be a ttnn.Tensor, got {type(t).__name__}", op=op, rule="operand_type")
    if t.device() is None:
        raise OpInputError(f"{name} {t.shape} must be on device (use ttnn.to_device)", op=op, rule="operand_on_device")
    if not t.is_allocated():
        raise DeallocatedTensorError(f"{name} {t.shape} was deallocated", op=op, rule="use_after_deallocate")
    t.device()._check_open(op)
    return t


def _same_device(op: str, *tensors: Optional[Tensor]) -> Device:
    devs = {id(t.device()): t.device() for t in tensors if t is not None}
    if len(devs) != 1:
        raise OpInputError("operands live on different devices", op=op, rule="same_device")
    return next(iter(devs.values()))


def _require_tile(t: Tensor, op: str, name: str) -> None:
    if t.layout != Layout.TILE:
        raise OpInputError(f"{name} must be in TILE layout, got {t.layout}", op=op, rule="tile_layout")


def _unsupported_if(cond: bool, what: str, op: str) -> None:
    if cond:
        raise UnsupportedError(f"{what} is not emulated", op=op, rule="unsupported_argument")


def _dest_regs(compute_kernel_config) -> int:
    """Dst capacity in tiles (compute_config.dest_tiles: 8, 16 with dst_full_sync_en, halved with fp32 Dst)."""
    return cc.dest_tiles(compute_kernel_config)


def _grid_check(grid: CoreCoord, device: Device, op: str, cfg_name: str) -> None:
    gx, gy = device.spec.grid
    if grid.x <= 0 or grid.y <= 0:
        raise ProgramConfigError(f"{cfg_name}.compute_with_storage_grid_size must be non-zero, got ({grid.x}, {grid.y})",
                                 op=op, rule="program_grid_nonzero")
    if grid.x > gx or grid.y > gy:
        raise ProgramConfigError(
            f"{cfg_name}.compute_with_storage_grid_size ({grid.x}, {grid.y}) must fit within the device grid ({gx}, {gy})",
            op=op, rule="program_grid_outside_device")


def _full_grid(x: int, y: int) -> CoreRangeSet:
    return CoreRangeSet({CoreRange(CoreCoord(0, 0), CoreCoord(x - 1, y - 1))})


def _resolve_output_shard(op: str, memory_config: MemoryConfig, expected: ShardSpec, what: str) -> MemoryConfig:
    """Use the op's computed shard spec; a given one must agree with it."""
    given = memory_config.shard_spec
    if given is None:
        return memory_config.with_shard_spec(expected)
    if list(given.shape) != list(expected.shape):
        raise ProgramConfigError(
            f"{what} shard shape {list(given.shape)} does not match the shard shape the op produces "
            f"{list(expected.shape)} (ttnn would silently use the computed one)", op=op, rule="output_shard_shape")
    if given.grid.num_cores() < expected.grid.num_cores():
        raise ProgramConfigError(
            f"{what} shard grid {given.grid} has {given.grid.num_cores()} cores but the op writes "
            f"{expected.grid.num_cores()} shards", op=op, rule="output_shard_grid")
    return memory_config


def _as_shape(shape) -> Tuple[int, ...]:
    if isinstance(shape, Shape):
        return shape.as_tuple()
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(s) for s in shape)


def _check_kwargs_signature(fn, op: str, args, kwargs):
    try:
        return inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{op}(): incompatible function arguments: {e}") from None


# -----------------------------------------------------------------------------
# device


def open_device(*, device_id: int = 0, l1_small_size: int = DEFAULT_L1_SMALL_SIZE,
                trace_region_size: int = DEFAULT_TRACE_REGION_SIZE, dispatch_core_config=None,
                worker_l1_size: Optional[int] = None) -> Device:
    """Open the emulated device described by ``set_device_spec`` (returns the open one if any).

    ttnn 0.81.1 ``open_device(*, device_id, l1_small_size, trace_region_size, dispatch_core_config,
    worker_l1_size)``: "If the device is already open, return the existing device".  Its docstring says the
    dispatch_core_config default is "a hardware-specific value", which is why the compiler always passes one at
    API 0.81; emulated, ``None`` means ``DispatchCoreConfig(DispatchCoreType.WORKER)``.

    The spec's ``grid`` is what it offers with ``spec.dispatch_core_type`` dispatch.  An ETH-dispatch spec opened
    with WORKER dispatch (on the ROW axis) loses one row of worker cores, grid (x, y - 1) (tt-bert-reference: N300
    8x8 with dispatch on ethernet cores, 8x7 with dispatch on Tensix); a WORKER spec opened with ETH dispatch keeps
    its grid.  WORKER dispatch on the COL axis of an ETH spec is not emulated.
    """
    dev = _open_devices.get(int(device_id))
    if dev is not None and dev.is_open():
        return dev
    dev = _open_chip(device_id, l1_small_size, dispatch_core_config, worker_l1_size)
    _open_devices[int(device_id)] = dev
    return dev


def _open_chip(device_id: int, l1_small_size: int, dispatch_core_config, worker_l1_size) -> Device:
    """One chip of the current spec opened with ``dispatch_core_config`` (``open_device``, ``open_mesh_device``)."""
    import dataclasses

    from ..errors import EmulatorError
    from .types import DispatchCoreAxis, DispatchCoreConfig, DispatchCoreType

    spec = get_device_spec()
    if dispatch_core_config is None:
        dispatch_core_config = DispatchCoreConfig(DispatchCoreType.WORKER)
    if not isinstance(dispatch_core_config, DispatchCoreConfig):
        raise TypeError(f"dispatch_core_config must be a ttnn.DispatchCoreConfig, got {dispatch_core_config!r}")
    kind = dispatch_core_config.type.name
    if kind != spec.dispatch_core_type:
        if kind == "WORKER":
            _unsupported_if(dispatch_core_config.axis != DispatchCoreAxis.ROW,
                            "WORKER dispatch on the COL axis of an ETH-dispatch device spec", "ttnn.open_device")
            gx, gy = spec.grid
            if gy < 2:
                raise EmulatorError(f"grid {spec.grid} has no worker row to give to dispatch", op="ttnn.open_device",
                                    rule="dispatch_grid")
            spec = dataclasses.replace(spec, grid=(gx, gy - 1), dispatch_core_type="WORKER")
        else:
            spec = dataclasses.replace(spec, dispatch_core_type="ETH")
    if worker_l1_size:
        spec = dataclasses.replace(spec, l1_bytes=int(worker_l1_size))
    return Device(spec, int(device_id), dispatch_core_config=dispatch_core_config)


def close_device(device: Device) -> None:
    """ttnn 0.81.1 ``close_device(device)``: "Close the device and remove it from the device cache" (a mesh: every
    chip, as ``close_mesh_device``)."""
    from .multi_device import MeshDevice, close_mesh_device

    if isinstance(device, MeshDevice):
        return close_mesh_device(device)
    device._open = False
    if _open_devices.get(device.device_id) is device:
        del _open_devices[device.device_id]


def synchronize_device(device: Device, *args, **kwargs) -> None:
    return None


# -----------------------------------------------------------------------------
# host <-> device


def from_torch(tensor, dtype: Optional[DataType] = None, *, spec=None, tile=None, pad_value: Optional[float] = None,
               layout: Optional[Layout] = None, device: Optional[Device] = None,
               memory_config: Optional[MemoryConfig] = None, mesh_mapper=None, cq_id: Optional[int] = None,
               preserve_nan_values: bool = False, col_tilize: bool = False,
               enable_bfloat_opt: bool = False) -> Optional[Tensor]:
    op = "ttnn.from_torch"
    if tensor is None:
        return None
    _unsupported_if(spec is not None, "from_torch(spec=...)", op)
    _unsupported_if(tile is not None, "from_torch(tile=...)", op)
    _unsupported_if(bool(col_tilize), "from_torch(col_tilize=True)", op)
    _unsupported_if(bool(enable_bfloat_opt), "from_torch(enable_bfloat_opt=True)", op)
    if isinstance(tensor, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(tensor))
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{op}: expected a torch.Tensor or numpy array, got {type(tensor).__name__}")
    tensor = tensor.detach()
    if mesh_mapper is not None:   # one part per chip (multi_device.py), each converted as a tensor of its own
        from .multi_device import from_mesh_mapper

        return from_mesh_mapper(tensor, mesh_mapper, device, memory_config, lambda part, chip: from_torch(
            part, dtype, pad_value=pad_value, layout=layout, device=chip, memory_config=memory_config))
    if dtype is None:
        dtype = dtype_from_torch(tensor.dtype)
    if not isinstance(dtype, DataType):
        raise TypeError(f"{op}: dtype must be a ttnn.DataType, got {dtype!r}")
    if layout is None:
        layout = Layout.ROW_MAJOR
    if not isinstance(layout, Layout):
        raise TypeError(f"{op}: layout must be a ttnn.Layout, got {layout!r}")
    if dtype in BLOCK_FLOAT_DTYPES and layout != Layout.TILE:
        raise PlacementError(f"Layout must be Layout::TILE for bfloat8_b or bfloat4_b! (got {layout})", op=op,
                             rule="layout_for_block_float")
    if memory_config is not None and memory_config.is_sharded() and memory_config.shard_spec is None:
        raise PlacementError("Shard spec must not be None for sharded tensors", op=op, rule="shard_spec_missing")
    if dtype in INTEGER_DTYPES:
        values = round_to_dtype(tensor, dtype)
        if values is tensor:
            values = values.clone()
    else:
        src = tensor if tensor.is_floating_point() else tensor.to(torch.float32)
        values = round_to_dtype(src, dtype)
        if dtype in BF16_EXACT_DTYPES and not formats.fp32_numerics():
            values = values.to(torch.bfloat16)   # exact; see Buffer: compact host storage (fp32 numerics: float32)
        if values is tensor or values.data_ptr() == tensor.data_ptr():
            values = values.clone()
    values = values.contiguous()
    host = new_tensor(values, dtype, layout, None, None, op, "host tensor", already_rounded=True)
    if device is not None:
        return to_device(host, device, memory_config)
    return host


def to_torch(tensor: Tensor, dtype: Optional[torch.dtype] = None, *, torch_rank: Optional[int] = None,
             mesh_composer=None, device=None, cq_id: Optional[int] = None) -> torch.Tensor:
    op = "ttnn.to_torch"
    from .multi_device import MeshTensor, compose

    if isinstance(tensor, MeshTensor) and mesh_composer is None and len(tensor.tensors) == 1:
        tensor = tensor.tensors[0]   # a 1x1 mesh: its one shard
    if mesh_composer is not None or isinstance(tensor, MeshTensor):
        if mesh_composer is None:
            raise OpInputError("a multi-device tensor needs mesh_composer= (e.g. ttnn.concat_mesh_to_tensor_composer)",
                               op=op, rule="mesh_composer")
        return compose(tensor, mesh_composer, lambda t: to_torch(t, dtype, torch_rank=torch_rank))
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a ttnn.Tensor, got {type(tensor).__name__}")
    values = tensor._values(op, "tensor")
    tdt = torch_dtype_of(tensor.dtype)
    if tdt == torch.bfloat16 and formats.fp32_numerics():
        tdt = torch.float32   # fp32 numerics: the stored float32 values, not rounded on the way out
    out = values.to(tdt)
    if out.data_ptr() == values.data_ptr():
        out = out.clone()
    if torch_rank is not None:
        while out.dim() > torch_rank:
            if out.shape[0] != 1:
                raise RuntimeError(f"{op}: cannot squeeze dim of size {out.shape[0]} to reach rank {torch_rank}")
            out = out[0]
    if dtype is not None:
        out = out.to(dtype)
    return out


def to_device(tensor: Tensor, device: Device, memory_config: Optional[MemoryConfig] = None, *,
              queue_id=None) -> Tensor:
    op = "ttnn.to_device"
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a ttnn.Tensor, got {type(tensor).__name__}")
    if not isinstance(device, Device):
        raise TypeError(f"{op}: expected an emulated device from ttnn.open_device, got {device!r}")
    if tensor.device() is not None:
        if tensor.device() is device:
            return tensor
        raise OpInputError("tensor already lives on another device", op=op, rule="same_device")
    values = tensor._stored(op)
    mc = memory_config if memory_config is not None else DRAM_MEMORY_CONFIG
    return new_tensor(values, tensor.dtype, tensor.layout, device, mc, op, "tensor", already_rounded=True)


def from_device(tensor: Tensor, blocking: bool = True, *, queue_id=None) -> Tensor:
    op = "ttnn.from_device"
    if tensor.device() is None:
        return tensor
    values = tensor._stored(op)
    return new_tensor(values.clone(), tensor.dtype, tensor.layout, None, None, op, "host tensor",
                      already_rounded=True)


def to_layout(tensor: Tensor, layout: Layout, dtype: Optional[DataType] = None,
              memory_config: Optional[MemoryConfig] = None, sub_core_grids=None, pad_value: float = 0.0) -> Tensor:
    op = "ttnn.to_layout"
    values = tensor._values(op)
    out_dtype = dtype if dtype is not None else tensor.dtype
    if out_dtype in BLOCK_FLOAT_DTYPES and layout != Layout.TILE:
        raise PlacementError(f"{out_dtype} requires TILE layout; pass dtype=ttnn.bfloat16 to untilize", op=op,
                             rule="layout_for_block_float")
    if layout == tensor.layout and out_dtype == tensor.dtype and memory_config in (None, tensor.memory_config()):
        return tensor
    device = tensor.device()
    mc = None
    if device is not None:
        mc = memory_config if memory_config is not None else tensor.memory_config()
    same = out_dtype == tensor.dtype or (tensor.dtype in BLOCK_FLOAT_DTYPES and out_dtype == DataType.BFLOAT16)
    return new_tensor(values.clone() if same else values, out_dtype, layout, device, mc, op,
                      already_rounded=same)


def deallocate(tensor: Tensor, force: bool = True) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"ttnn.deallocate: expected a ttnn.Tensor, got {type(tensor).__name__}")
    buf = tensor._buffer
    if not buf.allocated:
        return
    others = [t for t in list(buf.owners) if t is not tensor and not t._detached]
    if force or not others:
        buf.free()
    else:
        tensor._detached = True


def dump_tensor(file_name, tensor: Tensor, *, mode: DumpTensorMode = DumpTensorMode.DISTRIBUTED_GATHER) -> None:
    """Save a tensor (emulator format, torch.save based; not ttnn's .tensorbin flatbuffer)."""
    values = tensor._values("ttnn.dump_tensor")
    mc = tensor.memory_config() if tensor.device() is not None else None
    ss = None
    if mc is not None and mc.shard_spec is not None:
        s = mc.shard_spec
        ss = {
            "ranges": [((r.start.x, r.start.y), (r.end.x, r.end.y)) for r in s.grid.ranges()],
            "shape": list(s.shape),
            "orientation": s.orientation.name,
        }
    payload = {
        "format": "tt-emulator-tensor-v1",
        "shape": list(tensor.shape),
        "dtype": tensor.dtype.name,
        "layout": tensor.layout.name,
        # bfloat16 / bfloat8_b / bfloat4_b values are all exact in bf16: store half the bytes.
        "values": (values.to(torch.bfloat16) if tensor.dtype in BF16_EXACT_DTYPES and not formats.fp32_numerics()
                   else values.clone()),
        "memory_config": None if mc is None else {
            "memory_layout": mc.memory_layout.name, "buffer_type": mc.buffer_type.name, "shard_spec": ss},
    }
    torch.save(payload, os.fspath(file_name))


def load_tensor(file_name, *, device: Optional[Device] = None) -> Tensor:
    payload = torch.load(os.fspath(file_name), weights_only=False)
    if not isinstance(payload, dict) or payload.get("format") != "tt-emulator-tensor-v1":
        raise OpInputError(f"{file_name} is not an emulator tensor file", op="ttnn.load_tensor", rule="file_format")
    dtype = DataType[payload["dtype"]]
    layout = Layout[payload["layout"]]
    values = payload["values"]
    host = new_tensor(values, dtype, layout, None, None,
                      "ttnn.load_tensor", "host tensor",
                      already_rounded=True)
    if device is None:
        return host
    mcd = payload["memory_config"]
    mc = DRAM_MEMORY_CONFIG
    if mcd is not None:
        ss = None
        if mcd["shard_spec"] is not None:
            s = mcd["shard_spec"]
            ss = ShardSpec(CoreRangeSet([CoreRange(CoreCoord(*a), CoreCoord(*b)) for a, b in s["ranges"]]),
                           s["shape"], ShardOrientation[s["orientation"]])
        mc = MemoryConfig(TensorMemoryLayout[mcd["memory_layout"]], BufferType[mcd["buffer_type"]], ss)
    return to_device(host, device, mc)


# -----------------------------------------------------------------------------
# reshape


def _reshape_impl(input_tensor: Tensor, shape, padded_shape=None, memory_config=None, pad_value=None,
                  reshape_tile_mode=TileReshapeMapMode.CACHE, sub_core_grids=None, skip_padding_fill=False):
    op = "ttnn.reshape"
    values = input_tensor._stored(op, "input_tensor")
    new = list(_as_shape(shape))
    if new.count(-1) > 1:
        raise OpInputError(f"at most one -1 in shape {new}", op=op, rule="reshape_shape")
    if -1 in new:
        known = math.prod(d for d in new if d != -1)
        new[new.index(-1)] = values.numel() // known if known else 0
    new = tuple(new)
    if math.prod(new) != values.numel():
        raise OpInputError(f"cannot reshape {list(input_tensor.shape)} ({values.numel()} values) to {list(new)}",
                           op=op, rule="reshape_volume")
    if padded_shape is not None and tuple(_as_shape(padded_shape)) != padded_shape_of(new, input_tensor.layout):
        raise UnsupportedError(f"reshape with a custom padded_shape {list(_as_shape(padded_shape))}", op=op,
                               rule="unsupported_argument")
    device = input_tensor.device()
    if device is None:
        t = Tensor._create(input_tensor._buffer, new, input_tensor.dtype, input_tensor.layout, None, None)
        return t
    old_mc = input_tensor.memory_config()
    mc = memory_config if memory_config is not None else old_mc
    same_view = (
        mc == old_mc
        and view_2d(padded_shape_of(new, input_tensor.layout)) == view_2d(input_tensor.padded_shape.as_tuple())
    )
    if same_view:
        # a view: same buffer, no allocation (the 2D view, hence shards / pages, is unchanged)
        validate_placement(new, input_tensor.layout, input_tensor.dtype, mc, device, op, "output")
        return Tensor._create(input_tensor._buffer, new, input_tensor.dtype, input_tensor.layout, mc, device)
    return new_tensor(values.reshape(new).clone(), input_tensor.dtype, input_tensor.layout, device, mc, op,
                      already_rounded=True)


def reshape(input_tensor: Tensor, *args, **kwargs) -> Tensor:
    """``reshape(t, shape, *, memory_config, pad_value, reshape_tile_mode, sub_core_grids, skip_padding_fill)``
    or ``reshape(t, logical_shape, padded_shape, *, ...)``."""
    if "logical_shape" in kwargs or (len(args) >= 2):
        def _overload(logical_shape, padded_shape, *, memory_config=None, pad_value=None,
                      reshape_tile_mode=TileReshapeMapMode.CACHE, sub_core_grids=None, skip_padding_fill=False):
            pass

        b = _check_kwargs_signature(_overload, "ttnn.reshape", args, kwargs)
        b.apply_defaults()
        a = dict(b.arguments)
        return _reshape_impl(input_tensor, a.pop("logical_shape"), **a)

    def _overload1(shape, *, memory_config=None, pad_value=None, reshape_tile_mode=TileReshapeMapMode.CACHE,
                   sub_core_grids=None, skip_padding_fill=False):
        pass

    b = _check_kwargs_signature(_overload1, "ttnn.reshape", args, kwargs)
    b.apply_defaults()
    return _reshape_impl(input_tensor, **b.arguments)


reshape._ttnn_keywords = [
    "input_tensor", "shape", "memory_config", "pad_value", "reshape_tile_mode", "sub_core_grids",
    "skip_padding_fill", "logical_shape", "padded_shape",
]


# -----------------------------------------------------------------------------
# embedding / add


def embedding(input_tensor: Tensor, weight: Tensor, *, padding_idx: Optional[int] = None,
              layout: Optional[Layout] = None, embeddings_type: EmbeddingsType = EmbeddingsType.GENERIC,
              dtype: Optional[DataType] = None, memory_config: Optional[MemoryConfig] = None,
              output_tensor: Optional[Tensor] = None) -> Tensor:
    op = "ttnn.embedding"
    ids = _device_tensor(input_tensor, op, "input_tensor")
    table = _device_tensor(weight, op, "weight")
    device = _same_device(op, ids, table)
    _unsupported_if(output_tensor is not None, "embedding(output_tensor=...)", op)
    _unsupported_if(embeddings_type == EmbeddingsType.BINARY, "embeddings_type=BINARY", op)
    if ids.dtype not in (DataType.UINT32, DataType.INT32):
        raise OpInputError(f"input_tensor (indices) must be uint32, got {ids.dtype}", op=op, rule="index_dtype")
    if table.layout != Layout.ROW_MAJOR:
        raise OpInputError(f"weight must be ROW_MAJOR, got {table.layout}", op=op, rule="weight_layout")
    if table.dtype not in (DataType.BFLOAT16, DataType.FLOAT32):
        raise OpInputError(f"weight must be bfloat16 or float32, got {table.dtype}", op=op, rule="weight_dtype")
    tshape = tuple(table.shape)
    if len(tshape) < 2 or any(d != 1 for d in tshape[:-2]):
        raise OpInputError(f"weight must be [vocab, hidden] (or [1, 1, vocab, hidden]), got {list(tshape)}", op=op,
                           rule="weight_shape")
    vocab, hidden = tshape[-2], tshape[-1]
    idx = ids._values(op, "input_tensor")
    tab = table._stored(op, "weight").reshape(vocab, hidden)   # rows gathered first, widened after
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= vocab):
        raise OpInputError(f"index {int(idx.max())} out of range for a table of {vocab} rows", op=op,
                           rule="index_out_of_range")
    ishape = tuple(ids.shape)
    if len(ishape) == 4 and ishape[1] == 1 and ishape[2] == 1:
        out_shape = (ishape[0], 1, ishape[3], hidden)
    else:
        out_shape = ishape + (hidden,)
    out = torch.nn.functional.embedding(idx.reshape(-1), tab).float()
    if padding_idx is not None:
        out[idx.reshape(-1) == int(padding_idx)] = 0.0
    out = out.reshape(out_shape)
    out_dtype = dtype if dtype is not None else table.dtype
    out_layout = layout if layout is not None else Layout.ROW_MAJOR
    mc = memory_config if memory_config is not None else (
        ids.memory_config() if not ids.memory_config().is_sharded() else DRAM_MEMORY_CONFIG)
    return new_tensor(out, out_dtype, out_layout, device, mc, op, already_rounded=(out_dtype == table.dtype))


def add(input_tensor_a, input_tensor_b, *, fast_and_approximate_mode: bool = True,
        dtype: Optional[DataType] = None, memory_config: Optional[MemoryConfig] = None,
        output_tensor: Optional[Tensor] = None, activations=(), input_tensor_a_activations=(),
        input_tensor_b_activations=(), sub_core_grids=None, sub_device_id=None) -> Tensor:
    op = "ttnn.add"
    _unsupported_if(output_tensor is not None, "add(output_tensor=...)", op)
    _unsupported_if(bool(activations) or bool(input_tensor_a_activations) or bool(input_tensor_b_activations),
                    "add(...activations=...)", op)
    if not isinstance(input_tensor_a, Tensor):
        input_tensor_a, input_tensor_b = input_tensor_b, input_tensor_a
    a = _device_tensor(input_tensor_a, op, "input_tensor_a")
    av = a._values(op, "input_tensor_a")
    if isinstance(input_tensor_b, Tensor):
        b = _device_tensor(input_tensor_b, op, "input_tensor_b")
        _same_device(op, a, b)
        if a.layout != b.layout:
            raise OpInputError(f"operands must have the same layout ({a.layout} vs {b.layout})", op=op,
                               rule="layout_mismatch")
        bv = b._values(op, "input_tensor_b")
        try:
            out_shape = torch.broadcast_shapes(av.shape, bv.shape)
        except RuntimeError:
            raise OpInputError(f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast", op=op,
                               rule="broadcast") from None
        if tuple(out_shape) != tuple(av.shape):
            raise OpInputError(f"input_tensor_b {list(b.shape)} may only broadcast into input_tensor_a "
                               f"{list(a.shape)}", op=op, rule="broadcast")
        out = av + bv
    elif isinstance(input_tensor_b, (int, float)):
        out = av + float(input_tensor_b)
    else:
        raise TypeError(f"{op}: input_tensor_b must be a ttnn.Tensor or a number")
    out_dtype = dtype if dtype is not None else a.dtype
    mc = memory_config if memory_config is not None else a.memory_config()
    return new_tensor(out, out_dtype, a.layout, a.device(), mc, op)


# -----------------------------------------------------------------------------
# layer norm


def _gamma_vector(t: Optional[Tensor], name: str, a: Tensor, op: str) -> Optional[torch.Tensor]:
    if t is None:
        return None
    t = _device_tensor(t, op, name)
    w = a.padded_shape[-1]
    logical_w = a.shape[-1]
    pad = t.padded_shape
    if t.layout == Layout.TILE:
        if pad[-1] != w or pad[-2] != TILE:
            raise OpInputError(f"{name} in TILE layout must have padded shape [..., 32, {w}], got {list(pad)}",
                               op=op, rule="gamma_shape")
        v = t._values(op, name).reshape(-1, t.shape[-1])[0]
    else:
        if pad[-1] != TILE or t.logical_volume() // TILE != w // TILE:
            raise OpInputError(
                f"{name} in ROW_MAJOR layout must be [1, 1, {w // TILE}, 32] (width/32 rows of 32), got {list(t.shape)}",
                op=op, rule="gamma_shape")
        if t.dtype not in (DataType.BFLOAT16, DataType.FLOAT32):
            raise OpInputError(f"row-major {name} must be bfloat16 or float32, got {t.dtype}", op=op,
                               rule="gamma_dtype")
        v = t._values(op, name).reshape(-1)
    return v[:logical_w]


def layer_norm(input_tensor: Tensor, *, epsilon: float = 1e-12, weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, residual_input_tensor: Optional[Tensor] = None,
               memory_config: Optional[MemoryConfig] = None, program_config=None, compute_kernel_config=None,
               recip_tensor: Optional[Tensor] = None) -> Tensor:
    """LayerNorm of ``input_tensor`` (+ ``residual_input_tensor``) with gamma / beta (ttnn 0.81.1 golden:
    ``torch.nn.functional.layer_norm(input + residual, (W,), weight, bias, eps)``).

    Faithful numerics: the stages of the 0.81.1 kernel ``layernorm_sharded.cpp`` (the interleaved
    ``layernorm.cpp`` has the same stages with one partial per row): pre-add (FPU add), E[x] by
    ``reduce<AVG, REDUCE_ROW>`` (the scaler tile 1/(block_w*32) in SrcA, the data in SrcB: per-core partials of
    ``block_w`` tiles, combined with scaler 1/num_blocks), x - E[x], (x - E[x])^2 (``mul_tiles``), Var by the same
    reduce, + eps (the eps CB is Float16_b), ``rsqrt_tile`` (SFPU, ``compute_config.sfpu_rsqrt``: the 0.81.1
    ckernel_sfpu_sqrt.h algorithm, approximate when math_approx_mode), * rsqrt, * gamma, + beta.  Each FPU op writes
    Dst (bf16, or FP32 with fp32_dest_acc_en) and its result goes to an intermediate CB (Float16_b, or Float32 read
    back through SrcA/SrcB as TF32); multiplies and reduces use the fidelity phases (``compute_config.eltwise_mul``
    / ``reduce_row``, MVMUL.md / ELWMUL.md).  Sources: the kernel (in the wheel) and, for the host side (scalers
    1/(block_w*32) and 1/num_blocks as bf16, the Float16_b eps CB, Float16_b / Float32 intermediate CBs), tt-metal
    normalization/layernorm/device/layernorm_op_multi_core_sharded (program factory, not in the wheel).

    ``compute_kernel_config=None``: HiFi4, math_approx_mode False, fp32_dest_acc_en True, packer_l1_acc False
    (tt-metal normalization/layernorm/layernorm.cpp, the version whose messages the 0.81.1 .so contains).
    ``legacy_reduction``: not read by the sharded kernel (no effect, modelled exactly); for the interleaved kernel
    it only selects float32_reduction = fp32_dest_acc_en && !legacy_reduction, whose effect is host-side and not
    modelled (bound below).  ``legacy_rsqrt``: deprecated, no effect.  ``use_welford=True``: refused (needs
    ``recip_tensor``).

    Not bit exact, bounded: the order of the 16 additions inside each reduce MVMUL (here float64 then float32),
    the Dst / packer rounding mode (nearest even assumed; the ISA leaves the Dst mode open): flipping it to ties
    away from zero moves outputs by <= 4 bf16 ulps of the row's largest |output| with a 16-bit Dst and not at all
    with an FP32 Dst (tests/emulator/test_compute_numerics.py::test_layernorm_model_bound); scaler x data products
    for scalers that are not powers of two (here the data sum times the scaler; BERT's 1/W are powers of two).
    """
    op = "ttnn.layer_norm"
    a = _device_tensor(input_tensor, op, "input_tensor")
    r = _device_tensor(residual_input_tensor, op, "residual_input_tensor") if residual_input_tensor is not None else None
    device = _same_device(op, a, r)
    _unsupported_if(recip_tensor is not None, "layer_norm(recip_tensor=...)", op)
    _require_tile(a, op, "input_tensor")
    if a.dtype not in FLOAT_DTYPES:
        raise OpInputError(f"input_tensor must be a float type, got {a.dtype}", op=op, rule="dtype")
    if r is not None:
        _require_tile(r, op, "residual_input_tensor")
        if tuple(r.shape) != tuple(a.shape):
            raise OpInputError(f"residual {list(r.shape)} must match input {list(a.shape)}", op=op,
                               rule="residual_shape")
    gamma = _gamma_vector(weight, "weight", a, op)
    beta = _gamma_vector(bias, "bias", a, op)
    if weight is not None and bias is not None and weight.layout != bias.layout:
        raise OpInputError("weight (gamma) and bias (beta) must have the same layout", op=op, rule="gamma_layout")
    a_mc = a.memory_config()
    out_mc = memory_config if memory_config is not None else a_mc
    inplace = False
    padded = a.padded_shape.as_tuple()
    h2, w2 = view_2d(padded)
    if isinstance(program_config, LayerNormShardedMultiCoreProgramConfig):
        cfg = "LayerNormShardedMultiCoreProgramConfig"
        if not a_mc.is_sharded():
            raise ProgramConfigError(f"{cfg} needs a sharded input, got {a_mc.memory_layout}", op=op,
                                     rule="sharded_config_needs_sharded_input")
        if a_mc.memory_layout == TensorMemoryLayout.HEIGHT_SHARDED:
            raise ProgramConfigError("HEIGHT_SHARDED inputs are not supported", op=op, rule="height_sharded_input")
        if not out_mc.is_sharded() or out_mc.memory_layout == TensorMemoryLayout.HEIGHT_SHARDED:
            raise ProgramConfigError(f"sharded inputs require a (block/width) sharded output, got {out_mc.memory_layout}",
                                     op=op, rule="sharded_output")
        if out_mc.buffer_type != a_mc.buffer_type or out_mc.memory_layout != a_mc.memory_layout:
            raise ProgramConfigError(
                f"output {out_mc.memory_layout}/{out_mc.buffer_type} must match input {a_mc.memory_layout}/{a_mc.buffer_type}",
                op=op, rule="output_matches_input_placement")
        if r is not None and r.memory_config() != a_mc:
            raise ProgramConfigError("residual_input_tensor must have the same memory config (shard spec) as the input",
                                     op=op, rule="residual_shard_spec")
        pc = program_config
        _grid_check(pc.compute_with_storage_grid_size, device, op, cfg)
        ss = a_mc.shard_spec
        if pc.subblock_w == 0 or pc.block_w % pc.subblock_w:
            raise ProgramConfigError(f"block_w ({pc.block_w}) must be divisible by subblock_w ({pc.subblock_w})",
                                     op=op, rule="block_w_divisible_by_subblock_w")
        if h2 % TILE or w2 % TILE:
            raise ProgramConfigError(f"M ({h2}) and K ({w2}) must be tile multiples", op=op, rule="tile_multiple")
        bbox = ss.grid.bounding_box()
        g = pc.compute_with_storage_grid_size
        if bbox.end.x - bbox.start.x >= g.x or bbox.end.y - bbox.start.y >= g.y:
            raise ProgramConfigError(
                f"shard grid {ss.grid} must fit in compute_with_storage_grid_size ({g.x}, {g.y})", op=op,
                rule="shard_grid_vs_program_grid")
        mt, kt = h2 // TILE, w2 // TILE
        if pc.block_h * TILE != ss.shape[0]:
            raise ProgramConfigError(
                f"block_h*32 ({pc.block_h}*32 = {pc.block_h * TILE}) must equal the shard height {ss.shape[0]}",
                op=op, rule="block_h_vs_shard_height")
        if pc.block_w * TILE != ss.shape[1]:
            raise ProgramConfigError(
                f"block_w*32 ({pc.block_w}*32 = {pc.block_w * TILE}) must equal the shard width {ss.shape[1]}",
                op=op, rule="block_w_vs_shard_width")
        if h2 == pc.block_h * TILE:  # 1D multicast
            if _ceil_div(kt, ss.num_cores()) != pc.block_w:
                raise ProgramConfigError(f"block_w ({pc.block_w}) must equal K tiles / cores ({kt}/{ss.num_cores()})",
                                         op=op, rule="block_w_vs_cores")
        else:
            row_wise = ss.orientation == ShardOrientation.ROW_MAJOR
            ncols = bbox.end.x + 1 if row_wise else bbox.end.y + 1
            nrows = bbox.end.y + 1 if row_wise else bbox.end.x + 1
            if _ceil_div(kt, ncols) != pc.block_w:
                raise ProgramConfigError(
                    f"block_w ({pc.block_w}) must equal K tiles / grid columns ({kt}/{ncols})", op=op,
                    rule="block_w_vs_grid")
            if mt // nrows != pc.block_h:
                raise ProgramConfigError(
                    f"block_h ({pc.block_h}) must equal M tiles / grid rows ({mt}/{nrows})", op=op,
                    rule="block_h_vs_grid")
        inplace = bool(pc.inplace)
        if not inplace and out_mc.shard_spec is None:
            out_mc = out_mc.with_shard_spec(ss)
    elif program_config is None or isinstance(program_config, LayerNormDefaultProgramConfig):
        if a_mc.is_sharded():
            raise ProgramConfigError("a sharded input needs LayerNormShardedMultiCoreProgramConfig", op=op,
                                     rule="sharded_input_needs_sharded_config")
        if r is not None and r.memory_config().is_sharded():
            raise ProgramConfigError("residual_input_tensor must be interleaved like the input", op=op,
                                     rule="residual_shard_spec")
    else:
        raise TypeError(f"{op}: program_config must be a LayerNorm program config, got {type(program_config).__name__}")

    if getattr(program_config, "use_welford", False):
        raise UnsupportedError(
            "use_welford=True: ttnn 0.81.1 requires a recip_tensor for the Welford kernels (\"Welford algorithm "
            "requires recip_tensor\") and the emulator does not model them", op=op, rule="unsupported_argument")
    settings = _compute_settings(op, compute_kernel_config, device, LAYERNORM_DEFAULT_COMPUTE)
    x = a._values(op, "input_tensor")
    rv = r._values(op, "residual_input_tensor") if r is not None else None
    blocks = 1
    if isinstance(program_config, LayerNormShardedMultiCoreProgramConfig):
        blocks = max(1, (w2 // TILE) // program_config.block_w)
    y = _layernorm_values(x, rv, gamma, beta, float(epsilon), settings, blocks)
    if inplace:
        if isinstance(program_config, LayerNormShardedMultiCoreProgramConfig):
            _cbs.layernorm_sharded(op, device, program_config, a, r, weight, bias, a, settings)
        a._set_values(round_to_dtype(y, a.dtype))
        device._count(op)
        return a
    result = new_tensor(y, a.dtype, Layout.TILE, device, out_mc, op)
    if isinstance(program_config, LayerNormShardedMultiCoreProgramConfig):
        _cbs.layernorm_sharded(op, device, program_config, a, r, weight, bias, result, settings)
    return result


def _layernorm_values(x: torch.Tensor, r: Optional[torch.Tensor], gamma, beta, eps: float,
                      settings: cc.ComputeSettings, blocks: int = 1) -> torch.Tensor:
    """What the layernorm kernel packs (before the output rounding); see ``layer_norm``.

    ``blocks``: the row is reduced in that many equal parts (the sharded kernel's per-core partials of block_w
    tiles, combined with scaler 1/blocks), 1 for the interleaved kernel.
    """
    if formats.fp32_numerics():
        if r is not None:
            x = x + r
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), gamma, beta, eps)
    fp32_dest = settings.fp32_dest_acc_en
    q = (lambda t: t) if fp32_dest else cc.bf16_rne_     # (in place: every argument is a fresh temporary)
    ph = settings.phases
    w = x.shape[-1]
    # with an FP32 Dst the intermediate CBs are Float32, which the FPU reads through SrcA/SrcB as TF32
    tf = (lambda t: cc.truncate_mantissa(t, 10)) if fp32_dest else (lambda t: t)
    if r is not None:                      # FUSE_PRE_ADD: add_tiles(in, residual)
        x = q(x + r)
    if w % blocks or (w // blocks) % TILE:
        blocks = 1
    winv = float(cc.bf16_rne(torch.tensor(1.0 / (w // blocks))))   # scaler tiles (bf16)
    cinv = float(cc.bf16_rne(torch.tensor(1.0 / blocks)))

    def mean(t):   # reduce<AVG, REDUCE_ROW> per part (block_w tiles), then the global AVG over the parts
        parts = cc.reduce_row(t.reshape(t.shape[:-1] + (blocks, w // blocks)), winv, ph, fp32_dest)[..., 0]
        if blocks == 1:
            return parts
        d = None
        for j in range(blocks):   # the partials accumulate into Dst one tile at a time
            term = cc.reduce_row(parts[..., j:j + 1], cinv, ph, fp32_dest)
            d = term if d is None else q(d + term)
        return d

    ex = mean(x)
    xmm = q(tf(x) - tf(ex))                                     # sub_tiles_bcast_cols
    var = mean(cc.eltwise_mul(xmm, xmm, ph, fp32_dest))         # mul_tiles
    eps_b = float(cc.bf16_rne(torch.tensor(eps)))              # the eps CB is Float16_b
    rstd = cc.sfpu_rsqrt(q(tf(var) + eps_b), settings.math_approx_mode, fp32_dest)   # add_tiles(ex2, eps), rsqrt
    y = cc.eltwise_mul(xmm, rstd, ph, fp32_dest)               # mul_tiles_bcast_cols
    if gamma is not None:
        y = cc.eltwise_mul(y, gamma, ph, fp32_dest)            # mul_tiles_bcast_rows
    if beta is not None:
        y = q(tf(y) + beta)                                    # add_tiles_bcast_rows
    return y


# -----------------------------------------------------------------------------
# sharding conversions


def _interleaved_to_sharded_impl(input_tensor: Tensor, sharded_memory_config: MemoryConfig,
                                 output_dtype: Optional[DataType]) -> Tensor:
    op = "ttnn.interleaved_to_sharded"
    x = _device_tensor(input_tensor, op, "input_tensor")
    if x.memory_config().is_sharded():
        raise OpInputError(f"input must be interleaved, got {x.memory_config().memory_layout}", op=op,
                           rule="input_not_interleaved")
    if not isinstance(sharded_memory_config, MemoryConfig) or not sharded_memory_config.is_sharded():
        raise PlacementError(f"sharded_memory_config must be a sharded ttnn.MemoryConfig, got {sharded_memory_config!r}",
                             op=op, rule="output_not_sharded")
    if sharded_memory_config.shard_spec is None:
        raise PlacementError("sharded_memory_config needs a shard_spec", op=op, rule="shard_spec_missing")
    out_dtype = output_dtype if output_dtype is not None else x.dtype
    v = x._values(op, "input_tensor")
    same = out_dtype == x.dtype
    out = new_tensor(v.clone() if same else v, out_dtype, x.layout, x.device(), sharded_memory_config, op,
                     already_rounded=same)
    _cbs.to_sharded(op, x.device(), x, out)
    return out


def interleaved_to_sharded(input_tensor: Tensor, *args, **kwargs) -> Tensor:
    """``interleaved_to_sharded(t, sharded_memory_config, output_dtype=None, *, keep_l1_aligned, preallocated_output)``
    or ``interleaved_to_sharded(t, grid, shard_shape, shard_scheme, shard_orientation, output_dtype=None, *, keep_l1_aligned)``."""
    op = "ttnn.interleaved_to_sharded"
    if "sharded_memory_config" in kwargs or (args and isinstance(args[0], MemoryConfig)):
        def _overload(sharded_memory_config, output_dtype=None, *, keep_l1_aligned=False, preallocated_output=None):
            pass

        b = _check_kwargs_signature(_overload, op, args, kwargs)
        b.apply_defaults()
        _unsupported_if(b.arguments["preallocated_output"] is not None, "preallocated_output", op)
        return _interleaved_to_sharded_impl(input_tensor, b.arguments["sharded_memory_config"],
                                            b.arguments["output_dtype"])

    def _overload2(grid, shard_shape, shard_scheme, shard_orientation, output_dtype=None, *, keep_l1_aligned=False):
        pass

    b = _check_kwargs_signature(_overload2, op, args, kwargs)
    b.apply_defaults()
    a = b.arguments
    grid = a["grid"]
    if isinstance(grid, CoreCoord):
        grid = _full_grid(grid.x, grid.y)
    elif isinstance(grid, tuple):
        grid = _full_grid(*grid)
    if not isinstance(grid, CoreRangeSet):
        raise TypeError(f"{op}: grid must be a CoreCoord or CoreRangeSet")
    mc = MemoryConfig(a["shard_scheme"], BufferType.L1, ShardSpec(grid, list(a["shard_shape"]), a["shard_orientation"]))
    return _interleaved_to_sharded_impl(input_tensor, mc, a["output_dtype"])


interleaved_to_sharded._ttnn_keywords = [
    "input_tensor", "grid", "shard_shape", "shard_scheme", "shard_orientation", "output_dtype", "keep_l1_aligned",
    "sharded_memory_config", "preallocated_output",
]


def sharded_to_interleaved(input_tensor: Tensor, memory_config: Optional[MemoryConfig] = None,
                           output_dtype: Optional[DataType] = None) -> Tensor:
    op = "ttnn.sharded_to_interleaved"
    x = _device_tensor(input_tensor, op, "input_tensor")
    if not x.memory_config().is_sharded():
        raise OpInputError("input must be sharded", op=op, rule="input_not_sharded")
    mc = memory_config if memory_config is not None else DRAM_MEMORY_CONFIG
    if mc.is_sharded():
        raise PlacementError(f"memory_config must be interleaved, got {mc.memory_layout}", op=op,
                             rule="output_not_interleaved")
    out_dtype = output_dtype if output_dtype is not None else x.dtype
    v = x._values(op, "input_tensor")
    same = out_dtype == x.dtype
    out = new_tensor(v.clone() if same else v, out_dtype, x.layout, x.device(), mc, op, already_rounded=same)
    _cbs.to_interleaved(op, x.device(), x, out)
    return out


# -----------------------------------------------------------------------------
# matmul / linear


# ttnn's compute settings when compute_kernel_config is None: the op's init_device_compute_kernel_config(arch,
# compute_kernel_config, <defaults>) call in its host code (not in the wheel; the tt-metal versions whose messages
# the 0.81.1 _ttnncpp.so contains): softmax_device_operation.cpp (softmax), normalization/layernorm/layernorm.cpp
# (layernorm), matmul_device_operation.cpp create_matmul_attributes (matmul, _matmul_default_compute).
SOFTMAX_DEFAULT_COMPUTE = dict(math_fidelity=MathFidelity.HiFi4, math_approx_mode=True, fp32_dest_acc_en=False,
                               packer_l1_acc=False)
LAYERNORM_DEFAULT_COMPUTE = dict(math_fidelity=MathFidelity.HiFi4, math_approx_mode=False, fp32_dest_acc_en=True,
                                 packer_l1_acc=False)


def _matmul_default_compute(program_config, core_grid, a_dtype: DataType, b_dtype: DataType, out_dtype: DataType,
                            arch: str) -> dict:
    """tt-metal matmul_device_operation.cpp ``create_matmul_attributes``: HiFi3 (Wormhole) / HiFi4 when both inputs
    are FLOAT32; else HiFi2 without program config and core grid unless both inputs are block-float, LoFi
    otherwise; math_approx_mode False; fp32_dest_acc_en = (output FLOAT32); packer_l1_acc = not that."""
    bfp = (DataType.BFLOAT8_B, DataType.BFLOAT4_B)
    if a_dtype == DataType.FLOAT32 and b_dtype == DataType.FLOAT32:
        fid = MathFidelity.HiFi3 if arch == "wormhole_b0" else MathFidelity.HiFi4
    elif program_config is None and core_grid is None and not (a_dtype in bfp and b_dtype in bfp):
        fid = MathFidelity.HiFi2
    else:
        fid = MathFidelity.LoFi
    f32 = out_dtype == DataType.FLOAT32
    return dict(math_fidelity=fid, math_approx_mode=False, fp32_dest_acc_en=f32, packer_l1_acc=not f32)


def _compute_settings(op: str, cfg, device: Device, defaults: dict) -> cc.ComputeSettings:
    return cc.resolve(cfg, op, device.spec.arch, **defaults)


# activation strings of ttnn 0.81.1 (ttnn._ttnn.activation.string_to_unary_with_param, checked on the wheel):
# "gelu" -> (GELU, 0.0) accurate, "gelu_approx" -> (GELU, 1.0) fast, "relu" -> RELU, "tanh" -> (TANH, 0) (accurate).
_ACTIVATION_STRINGS = {"gelu": (UnaryOpType.GELU, 0.0), "gelu_approx": (UnaryOpType.GELU, 1.0),
                       "relu": (UnaryOpType.RELU,), "tanh": (UnaryOpType.TANH, 0.0)}


def _activation_fn(act, op: str):
    """The fused activation's kind: None, "relu", "gelu" (accurate) or "gelu_fast".

    ``(GELU, p)``: PARAM0 selects the kernel, "0 = accurate, non-zero = fast" (ttnn 0.81.1 wheel,
    ttnn/cpp/ttnn/operations/matmul/device/kernels/compute/bmm_fused_activation.hpp), independently of
    ``math_approx_mode``; a GELU without parameter is PARAM0 = 0.  Other activations (SILU, ...) are refused:
    their SFPU kernels are not modelled.
    """
    if act is None:
        return None
    if isinstance(act, str):
        key = act.lower()
        if key not in _ACTIVATION_STRINGS:
            raise UnsupportedError(f"activation {act!r} (emulated: {', '.join(_ACTIVATION_STRINGS)})", op=op,
                                   rule="unsupported_argument")
        act = UnaryWithParam(*_ACTIVATION_STRINGS[key])
    act = UnaryWithParam.coerce(act)
    if act.op_type == UnaryOpType.GELU:
        return "gelu_fast" if (act.params and act.params[0] != 0.0) else "gelu"
    if act.op_type == UnaryOpType.RELU:
        return "relu"
    if act.op_type == UnaryOpType.TANH and not (act.params and act.params[0] != 0.0):
        return "tanh"
    raise UnsupportedError(f"fused activation {act!r} (its SFPU kernel is not modelled; emulated: GELU, RELU, "
                           f"accurate TANH)",
                           op=op, rule="unsupported_argument")


def _apply_activation(x: torch.Tensor, kind: Optional[str], fp32_dest: bool) -> torch.Tensor:
    """The SFPU activation on Dst values ``x`` and what it stores back into Dst (see ``_activation_fn``).

    fast GELU: ``compute_config.gelu_approx`` (the 6-piece LUT of ckernel_sfpu_gelu.h), then SFPSTORE (bf16 Dst:
    truncation); accurate GELU: ``gelu_accurate_bf16`` (16-bit Dst) / ``gelu_accurate_fp32`` (FP32 Dst); RELU:
    max(x, 0), exact.  In the fp32 numerics mode the same functions run without the Dst store rounding.
    """
    if kind is None:
        return x
    if kind == "relu":
        return torch.relu(x)
    fp32 = fp32_dest or formats.fp32_numerics()
    if kind == "tanh":   # the pooler's tanh: modelled as the exact function, stored as Dst stores it
        y = torch.tanh(x)
        return y if fp32 else cc.bf16_sfpstore(y)
    if kind == "gelu_fast":
        y = cc.gelu_approx(x)
        return y if fp32 else cc.bf16_sfpstore(y)
    return cc.gelu_accurate_fp32(x) if fp32 else cc.gelu_accurate_bf16(x)


def _validate_mcast(op: str, pc: MatmulMultiCoreReuseMultiCastProgramConfig, a: Tensor, b: Tensor,
                    out_mc: MemoryConfig, device: Device, regs: int) -> MemoryConfig:
    cfg = "MatmulMultiCoreReuseMultiCastProgramConfig"
    g = pc.compute_with_storage_grid_size
    _grid_check(g, device, op, cfg)
    a_pad, b_pad = a.padded_shape.as_tuple(), b.padded_shape.as_tuple()
    kt = a_pad[-1] // TILE
    nt = b_pad[-1] // TILE
    mt = (view_2d(a_pad)[0] if pc.fuse_batch else a_pad[-2]) // TILE
    for f in ("in0_block_w", "per_core_M", "per_core_N", "out_subblock_h", "out_subblock_w", "out_block_h",
              "out_block_w"):
        if getattr(pc, f) == 0:
            raise ProgramConfigError(f"{f} is 0, which is not valid", op=op, rule=f"{f}_nonzero")
    if kt % pc.in0_block_w:
        raise ProgramConfigError(f"K tiles ({kt}) must be divisible by in0_block_w ({pc.in0_block_w})", op=op,
                                 rule="k_tiles_divisible_by_in0_block_w")
    if pc.per_core_M % pc.out_subblock_h:
        raise ProgramConfigError(
            f"per_core_M ({pc.per_core_M}) must be divisible by out_subblock_h ({pc.out_subblock_h})", op=op,
            rule="per_core_M_divisible_by_out_subblock_h")
    if pc.per_core_N % pc.out_subblock_w:
        raise ProgramConfigError(
            f"per_core_N ({pc.per_core_N}) must be divisible by out_subblock_w ({pc.out_subblock_w})", op=op,
            rule="per_core_N_divisible_by_out_subblock_w")
    if pc.out_block_h % pc.out_subblock_h or pc.per_core_M % pc.out_block_h:
        raise ProgramConfigError(
            f"out_block_h ({pc.out_block_h}) must divide per_core_M ({pc.per_core_M}) and be divisible by "
            f"out_subblock_h ({pc.out_subblock_h})", op=op, rule="out_block_h")
    if pc.out_block_w % pc.out_subblock_w or pc.per_core_N % pc.out_block_w:
        raise ProgramConfigError(
            f"out_block_w ({pc.out_block_w}) must divide per_core_N ({pc.per_core_N}) and be divisible by "
            f"out_subblock_w ({pc.out_subblock_w})", op=op, rule="out_block_w")
    if pc.out_subblock_h * pc.out_subblock_w > regs:
        raise ProgramConfigError(
            f"out_subblock_h*out_subblock_w = {pc.out_subblock_h}*{pc.out_subblock_w} = "
            f"{pc.out_subblock_h * pc.out_subblock_w} must be at most {regs} (dest registers)", op=op,
            rule="out_subblock_fits_dest")
    blocks_m = _ceil_div(mt, pc.per_core_M)
    blocks_n = _ceil_div(nt, pc.per_core_N)
    if pc.transpose_mcast:
        cols_avail, rows_avail, ax_n, ax_m = g.y, g.x, "rows (transpose_mcast)", "columns (transpose_mcast)"
    else:
        cols_avail, rows_avail, ax_n, ax_m = g.x, g.y, "columns", "rows"
    if blocks_n > cols_avail:
        raise ProgramConfigError(
            f"per_core_N ({pc.per_core_N}) x grid {ax_n} ({cols_avail}) = {pc.per_core_N * cols_avail} tiles does not "
            f"cover N = {nt} tiles", op=op, rule="per_core_N_covers_N")
    if blocks_m > rows_avail:
        raise ProgramConfigError(
            f"per_core_M ({pc.per_core_M}) x grid {ax_m} ({rows_avail}) = {pc.per_core_M * rows_avail} tiles does not "
            f"cover M = {mt} tiles", op=op, rule="per_core_M_covers_M")
    a_mc = a.memory_config()
    if a_mc.is_sharded():
        ss = a_mc.shard_spec
        if not pc.fuse_batch:
            raise ProgramConfigError("fuse_batch must be True when input A is sharded", op=op,
                                     rule="fuse_batch_with_sharded_input")
        bbox = ss.grid.bounding_box()
        if bbox.end.x >= g.x or bbox.end.y >= g.y:
            raise ProgramConfigError(
                f"input A shard grid {ss.grid} must lie within the program grid ({g.x}, {g.y})", op=op,
                rule="in0_shard_grid_vs_program_grid")
        sh_t, sw_t = ss.shape[0] // TILE, ss.shape[1] // TILE
        if a_mc.memory_layout == TensorMemoryLayout.BLOCK_SHARDED:
            want = ShardOrientation.COL_MAJOR if pc.transpose_mcast else ShardOrientation.ROW_MAJOR
            if ss.orientation != want:
                raise ProgramConfigError(
                    f"input A shard orientation {ss.orientation.name} must be {want.name} when transpose_mcast="
                    f"{pc.transpose_mcast}", op=op, rule="shard_orientation_vs_transpose_mcast")
            if out_mc.is_sharded() and (out_mc.buffer_type != a_mc.buffer_type
                                        or out_mc.memory_layout != a_mc.memory_layout):
                raise ProgramConfigError(
                    f"sharded output ({out_mc.memory_layout}, {out_mc.buffer_type}) must match input A "
                    f"({a_mc.memory_layout}, {a_mc.buffer_type})", op=op, rule="output_matches_input_placement")
            k_slices = _ceil_div(kt, sw_t)
            if k_slices != blocks_n:
                raise ProgramConfigError(
                    f"block-sharded input A splits K = {kt} tiles into {k_slices} shard columns of {sw_t} tiles, but "
                    f"the output uses {blocks_n} grid {ax_n} (N {nt} tiles / per_core_N {pc.per_core_N}); in0 is "
                    f"multicast along the grid {ax_n}, so both counts must agree", op=op,
                    rule="in0_shard_columns_vs_grid")
        elif a_mc.memory_layout == TensorMemoryLayout.HEIGHT_SHARDED:
            if pc.transpose_mcast:
                raise ProgramConfigError("transpose_mcast is not supported with a HEIGHT_SHARDED input A", op=op,
                                         rule="height_sharded_transpose_mcast")
            if kt != pc.in0_block_w or sw_t != pc.in0_block_w:
                raise ProgramConfigError(
                    f"HEIGHT_SHARDED input A needs K tiles ({kt}) == in0_block_w ({pc.in0_block_w}) == shard width "
                    f"tiles ({sw_t})", op=op, rule="height_sharded_in0_block_w")
            if bbox.start.x != bbox.end.x:
                raise ProgramConfigError("HEIGHT_SHARDED input A needs a single-column shard grid", op=op,
                                         rule="height_sharded_single_column")
        else:
            raise ProgramConfigError(f"input A memory layout {a_mc.memory_layout} is not supported (BLOCK or HEIGHT)",
                                     op=op, rule="in0_memory_layout")
        if pc.per_core_M != sh_t:
            raise ProgramConfigError(
                f"per_core_M ({pc.per_core_M}) must equal the input A shard height in tiles ({ss.shape[0]}/32 = {sh_t})",
                op=op, rule="per_core_M_vs_shard_height")
        if sw_t % pc.in0_block_w:
            raise ProgramConfigError(
                f"input A shard width in tiles ({ss.shape[1]}/32 = {sw_t}) must be divisible by in0_block_w "
                f"({pc.in0_block_w})", op=op, rule="shard_width_vs_in0_block_w")
    if b.memory_config().is_sharded():
        raise UnsupportedError("a sharded input B with MatmulMultiCoreReuseMultiCastProgramConfig", op=op,
                               rule="unsupported_argument")
    if out_mc.is_sharded():
        if out_mc.memory_layout != TensorMemoryLayout.BLOCK_SHARDED:
            raise ProgramConfigError(f"a sharded output must be BLOCK_SHARDED, got {out_mc.memory_layout}", op=op,
                                     rule="output_must_be_block_sharded")
        if not (pc.out_subblock_w == pc.per_core_N or pc.out_subblock_h == 1):
            raise ProgramConfigError(
                f"with a sharded output out_subblock_w ({pc.out_subblock_w}) must equal per_core_N ({pc.per_core_N}) "
                f"or out_subblock_h ({pc.out_subblock_h}) must be 1", op=op, rule="sharded_output_subblock")
        if not (pc.out_block_w == pc.per_core_N or pc.out_block_h == 1):
            raise ProgramConfigError("with a sharded output out_block_w must equal per_core_N or out_block_h must be 1",
                                     op=op, rule="sharded_output_block")
        nx, ny = (blocks_m, blocks_n) if pc.transpose_mcast else (blocks_n, blocks_m)
        expected = ShardSpec(_full_grid(nx, ny), [pc.per_core_M * TILE, pc.per_core_N * TILE],
                             ShardOrientation.COL_MAJOR if pc.transpose_mcast else ShardOrientation.ROW_MAJOR)
        out_mc = _resolve_output_shard(op, out_mc, expected, "output")
        obox = out_mc.shard_spec.grid.bounding_box()
        if obox.end.x >= g.x or obox.end.y >= g.y:
            raise ProgramConfigError(f"output shard grid {out_mc.shard_spec.grid} must lie within the program grid "
                                     f"({g.x}, {g.y})", op=op, rule="output_shard_grid_outside_program_grid")
    return out_mc


def _validate_reuse(op: str, pc: MatmulMultiCoreReuseProgramConfig, a: Tensor, b: Tensor, out_mc: MemoryConfig,
                    device: Device, regs: int) -> MemoryConfig:
    cfg = "MatmulMultiCoreReuseProgramConfig"
    a_pad, b_pad = a.padded_shape.as_tuple(), b.padded_shape.as_tuple()
    if len(a_pad) != len(b_pad):
        raise ProgramConfigError(f"{cfg} needs operands of equal rank, got {list(a.shape)} and {list(b.shape)}",
                                 op=op, rule="batch_rank")
    batch_a = math.prod(a_pad[:-2])
    batch_b = math.prod(b_pad[:-2])
    if batch_a > 1 and batch_b == 1:
        raise ProgramConfigError("batch broadcasting of input B is not supported by this program config", op=op,
                                 rule="batch_broadcast_unsupported")
    if tuple(a_pad[:-2]) != tuple(b_pad[:-2]):
        raise ProgramConfigError(f"batch dims must match: {list(a.shape)} vs {list(b.shape)}", op=op,
                                 rule="batch_mismatch")
    _grid_check(pc.compute_with_storage_grid_size, device, op, cfg)
    for f in ("in0_block_w", "per_core_M", "per_core_N", "out_subblock_h", "out_subblock_w"):
        if getattr(pc, f) == 0:
            raise ProgramConfigError(f"{f} is 0, which is not valid", op=op, rule=f"{f}_nonzero")
    m = a_pad[-2] // TILE
    total_m = view_2d(a_pad)[0] // TILE
    n = b_pad[-1] // TILE
    k = a_pad[-1]
    kt = k // TILE
    if kt % pc.in0_block_w:
        raise ProgramConfigError(f"K tiles ({kt}) must be divisible by in0_block_w ({pc.in0_block_w})", op=op,
                                 rule="k_tiles_divisible_by_in0_block_w")
    if pc.per_core_M % pc.out_subblock_h:
        raise ProgramConfigError(
            f"per_core_M ({pc.per_core_M}) must be divisible by out_subblock_h ({pc.out_subblock_h})", op=op,
            rule="per_core_M_divisible_by_out_subblock_h")
    if pc.per_core_N % pc.out_subblock_w:
        raise ProgramConfigError(
            f"per_core_N ({pc.per_core_N}) must be divisible by out_subblock_w ({pc.out_subblock_w})", op=op,
            rule="per_core_N_divisible_by_out_subblock_w")
    if pc.out_subblock_h * pc.out_subblock_w > regs:
        raise ProgramConfigError(
            f"out_subblock_h*out_subblock_w = {pc.out_subblock_h * pc.out_subblock_w} must be at most {regs} "
            f"(dest registers)", op=op, rule="out_subblock_fits_dest")
    if pc.per_core_M > m:
        if pc.per_core_M % m or total_m % pc.per_core_M:
            raise ProgramConfigError(
                f"per_core_M ({pc.per_core_M}) > M ({m} tiles per batch) must be a multiple of M and divide the total "
                f"height ({total_m} tiles)", op=op, rule="per_core_M_vs_M")
    elif m % pc.per_core_M:
        raise ProgramConfigError(f"per_core_M ({pc.per_core_M}) must divide M ({m} tiles per batch)", op=op,
                                 rule="per_core_M_vs_M")
    if n != pc.per_core_N:
        raise ProgramConfigError(f"N ({n} tiles) must equal per_core_N ({pc.per_core_N})", op=op,
                                 rule="per_core_N_equals_N")
    if batch_a > 1 and batch_b > 1 and m % pc.out_subblock_h:
        raise ProgramConfigError(f"out_subblock_h ({pc.out_subblock_h}) must divide M ({m})", op=op,
                                 rule="out_subblock_h_divides_M")
    a_mc, b_mc = a.memory_config(), b.memory_config()
    sharded_grid = None
    expected_orientation = ShardOrientation.ROW_MAJOR
    if a_mc.is_sharded():
        ss = a_mc.shard_spec
        if a_mc.memory_layout == TensorMemoryLayout.WIDTH_SHARDED:
            raise ProgramConfigError("input A must not be WIDTH_SHARDED", op=op, rule="in0_memory_layout")
        if k != ss.shape[1]:
            raise ProgramConfigError(f"K ({k}) must equal the input A shard width ({ss.shape[1]})", op=op,
                                     rule="in0_shard_width_equals_K")
        if ss.shape[1] != pc.in0_block_w * TILE:
            raise ProgramConfigError(
                f"input A shard width ({ss.shape[1]}) must equal in0_block_w*32 ({pc.in0_block_w}*32 = "
                f"{pc.in0_block_w * TILE})", op=op, rule="in0_shard_width_vs_in0_block_w")
        if pc.per_core_M * TILE != ss.shape[0]:
            raise ProgramConfigError(
                f"per_core_M*32 ({pc.per_core_M}*32 = {pc.per_core_M * TILE}) must equal the input A shard height "
                f"({ss.shape[0]})", op=op, rule="per_core_M_vs_shard_height")
        if b_mc.is_sharded():
            sb = b_mc.shard_spec
            if (b_mc.buffer_type != a_mc.buffer_type or b_mc.memory_layout != a_mc.memory_layout
                    or sb.grid != ss.grid or sb.orientation != ss.orientation):
                raise ProgramConfigError("sharded inputs A and B must share buffer type, memory layout, grid and "
                                         "orientation", op=op, rule="in0_in1_shard_match")
        if out_mc.is_sharded() and (out_mc.buffer_type != a_mc.buffer_type
                                    or out_mc.memory_layout != a_mc.memory_layout):
            raise ProgramConfigError(
                f"sharded output ({out_mc.memory_layout}, {out_mc.buffer_type}) must match input A "
                f"({a_mc.memory_layout}, {a_mc.buffer_type})", op=op, rule="output_matches_input_placement")
        sharded_grid, expected_orientation = ss.grid, ss.orientation
    if b_mc.is_sharded():
        sb = b_mc.shard_spec
        if pc.per_core_M % m:
            raise ProgramConfigError(f"per_core_M ({pc.per_core_M}) must be a multiple of M ({m}) when input B is "
                                     f"sharded", op=op, rule="per_core_M_vs_M")
        if b_mc.memory_layout == TensorMemoryLayout.WIDTH_SHARDED:
            raise ProgramConfigError("input B must not be WIDTH_SHARDED", op=op, rule="in1_memory_layout")
        if sb.shape[1] != b_pad[-1]:
            raise ProgramConfigError(f"input B shard width ({sb.shape[1]}) must equal its padded width ({b_pad[-1]})",
                                     op=op, rule="in1_shard_width")
        if pc.per_core_N * TILE != sb.shape[1]:
            raise ProgramConfigError(
                f"per_core_N*32 ({pc.per_core_N * TILE}) must equal the input B shard width ({sb.shape[1]})", op=op,
                rule="per_core_N_vs_in1_shard_width")
        if sb.shape[0] % k:
            raise ProgramConfigError(f"input B shard height ({sb.shape[0]}) must be a multiple of K ({k})", op=op,
                                     rule="in1_shard_height_vs_K")
        if sharded_grid is None:
            sharded_grid, expected_orientation = sb.grid, sb.orientation
    if sharded_grid is not None:
        blocks = (batch_a * m // pc.per_core_M) * (n // pc.per_core_N)
        if blocks % sharded_grid.num_cores():
            raise ProgramConfigError(
                f"num_output_blocks ({blocks}) must be evenly divisible by the number of cores in the input shard grid "
                f"({sharded_grid.num_cores()})", op=op, rule="output_blocks_vs_cores")
    if out_mc.is_sharded():
        if out_mc.memory_layout == TensorMemoryLayout.WIDTH_SHARDED:
            raise ProgramConfigError("output must not be WIDTH_SHARDED", op=op, rule="output_memory_layout")
        grid = sharded_grid
        if grid is None:
            g = pc.compute_with_storage_grid_size
            nblocks = (batch_a * m // pc.per_core_M) * (n // pc.per_core_N)
            grid = CoreRangeSet(_cores_to_ranges(nblocks, g.x, g.y))
        expected = ShardSpec(grid, [pc.per_core_M * TILE, pc.per_core_N * TILE], expected_orientation)
        out_mc = _resolve_output_shard(op, out_mc, expected, "output")
    return out_mc


def _cores_to_ranges(n: int, gx: int, gy: int):
    rows, rem = divmod(n, gx)
    ranges = []
    if rows:
        ranges.append(CoreRange(CoreCoord(0, 0), CoreCoord(gx - 1, rows - 1)))
    if rem:
        ranges.append(CoreRange(CoreCoord(0, rows), CoreCoord(rem - 1, rows)))
    return ranges


def _matmul_impl(op: str, input_tensor_a, input_tensor_b, bias, transpose_a, transpose_b, memory_config, dtype,
                 program_config, activation, compute_kernel_config, core_grid, output_tile, optional_output_tensor,
                 global_cb, sub_device_id, prefetcher_pipes, in0_column_offset=None):
    a = _device_tensor(input_tensor_a, op, "input_tensor_a")
    b = _device_tensor(input_tensor_b, op, "input_tensor_b")
    bias_t = _device_tensor(bias, op, "bias") if bias is not None else None
    device = _same_device(op, a, b, bias_t)
    _unsupported_if(output_tile is not None, "output_tile", op)
    _unsupported_if(optional_output_tensor is not None, "optional_output_tensor", op)
    _unsupported_if(global_cb is not None, "global_cb", op)
    _unsupported_if(bool(prefetcher_pipes), "prefetcher_pipes", op)
    _unsupported_if(in0_column_offset is not None, "in0_column_offset", op)
    _require_tile(a, op, "input_tensor_a")
    _require_tile(b, op, "input_tensor_b")
    if a.dtype not in FLOAT_DTYPES or b.dtype not in FLOAT_DTYPES:
        raise OpInputError(f"matmul operands must be float types, got {a.dtype} and {b.dtype}", op=op, rule="dtype")
    av = _matmul_operand(a, op, "input_tensor_a")
    bv = _matmul_operand(b, op, "input_tensor_b")
    if transpose_a:
        av = av.transpose(-1, -2)
    if transpose_b:
        bv = bv.transpose(-1, -2)
    if bv.dim() < 2:
        raise OpInputError(f"input_tensor_b must have rank >= 2, got {list(b.shape)}", op=op, rule="rank")
    if av.shape[-1] != bv.shape[-2]:
        raise OpInputError(
            f"the width of the first tensor must equal the height of the second: {list(av.shape)} x {list(bv.shape)}",
            op=op, rule="inner_dim")
    if transpose_a or transpose_b:
        _unsupported_if(program_config is not None, "transpose_a/transpose_b with a program config", op)
    out_mc = memory_config if memory_config is not None else DRAM_MEMORY_CONFIG
    if not isinstance(out_mc, MemoryConfig):
        raise TypeError(f"{op}: memory_config must be a ttnn.MemoryConfig")
    out_dtype = dtype if dtype is not None else a.dtype
    settings = _compute_settings(op, compute_kernel_config, device, _matmul_default_compute(
        program_config, core_grid, a.dtype, b.dtype, out_dtype, device.spec.arch))
    regs = settings.dest_tiles
    act = activation
    if isinstance(program_config, MatmulMultiCoreReuseMultiCastProgramConfig):
        out_mc = _validate_mcast(op, program_config, a, b, out_mc, device, regs)
        if program_config.fused_activation is not None:
            if act is not None:
                raise OpInputError("both activation= and program_config.fused_activation are set", op=op,
                                   rule="activation_twice")
            act = program_config.fused_activation
    elif isinstance(program_config, MatmulMultiCoreReuseProgramConfig):
        if bias_t is not None:
            raise ProgramConfigError("bias is not supported with MatmulMultiCoreReuseProgramConfig", op=op,
                                     rule="bias_unsupported")
        out_mc = _validate_reuse(op, program_config, a, b, out_mc, device, regs)
    elif program_config is None:
        if out_mc.is_sharded() and out_mc.shard_spec is None:
            raise UnsupportedError("a sharded output without shard_spec and without program_config", op=op,
                                   rule="unsupported_argument")
    else:
        raise UnsupportedError(f"program config {type(program_config).__name__}", op=op, rule="unsupported_argument")
    bias_row = None
    if bias_t is not None:
        _require_tile(bias_t, op, "bias")
        bp, bs = bias_t.padded_shape.as_tuple(), bias_t.shape.as_tuple()
        if math.prod(bp[:-2]) != 1:
            raise OpInputError(f"bias batch size must be 1, got {list(bs)}", op=op, rule="bias_shape")
        if bp[-2] != TILE:
            raise OpInputError(f"bias padded height must be one tile (32), got {bp[-2]} (shape {list(bs)})", op=op,
                               rule="bias_shape")
        if bp[-1] != b.padded_shape[-1] or bs[-1] < bv.shape[-1]:
            raise OpInputError(f"bias width {bs[-1]} (padded {bp[-1]}) must match N = {bv.shape[-1]} "
                               f"(padded {b.padded_shape[-1]})", op=op, rule="bias_shape")
        bias_row = bias_t._values(op, "bias").reshape(-1, bs[-1])[0, : bv.shape[-1]]
    act_kind = _activation_fn(act, op)
    if av.dim() < 2:
        raise OpInputError(f"input_tensor_a must have rank >= 2, got {list(a.shape)}", op=op, rule="rank")
    in0_block_w = getattr(program_config, "in0_block_w", None)
    out = _matmul_values(av, bv, bias_row, act_kind, settings, a.dtype, b.dtype, out_dtype, in0_block_w)
    result = new_tensor(out, out_dtype, Layout.TILE, device, out_mc, op)
    # the program's CBs must fit below the lowest buffer, the output included (kernels/matmul.py)
    if isinstance(program_config, MatmulMultiCoreReuseMultiCastProgramConfig):
        _cbs.linear(op, device, program_config, a, b, bias_t, result, settings)
    elif isinstance(program_config, MatmulMultiCoreReuseProgramConfig):
        _cbs.batched(op, device, program_config, a, b, result, settings)
    return result


def _matmul_operand(t: Tensor, op: str, name: str) -> torch.Tensor:
    """The operand's values; bfloat16 storage (weights) as is, as the 16-bit-Dst path takes its fidelity parts
    from the bfloat16 bits (``_matmul_values`` widens it where it needs float32)."""
    data = t._stored(op, name)
    return data if data.dtype == torch.bfloat16 else t._values(op, name)


def _matmul_values(av: torch.Tensor, bv: torch.Tensor, bias_row, act_kind, settings: cc.ComputeSettings,
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

    fp32_dest = settings.fp32_dest_acc_en
    if formats.fp32_numerics() or fp32_dest:   # float32 operands (bfloat16 storage widened exactly)
        av, bv, a2, b2 = (x.float() for x in (av, bv, a2, b2))
    if formats.fp32_numerics():
        out = torch.mm(a2, b2) if single else torch.matmul(av, bv)
        if bias_row is not None:
            out = out + bias_row
        return finish(_apply_activation(out, act_kind, True))

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
        steps = [(int(p >= 2), p & 1) for p in range(settings.phases)]
        a_exact, b_exact = a_dtype in BF16_EXACT_DTYPES, b_dtype in BF16_EXACT_DTYPES
        if k % 16 == 0:   # only the parts the phases use, prepared once (dst16_matmul: the compiled kernel)
            operands = dst16_matmul.Operands(a2, b2, a_exact, b_exact, settings.phases, single)

            def block(lo: int, hi: int, acc):
                return operands.accumulate(acc, lo, hi)
        else:
            a2f, b2f = a2.float(), b2.float()
            b_parts, a_parts = cc.fidelity_parts(a2f, b2f, a_exact, b_exact)
            used_b = {ib for ib, _ in steps}
            used_a = {ia for _, ia in steps}
            b_parts = [t.to(torch.bfloat16) if i in used_b else None for i, t in enumerate(b_parts)]
            a_parts = [t.to(torch.bfloat16).contiguous() if i in used_a else None for i, t in enumerate(a_parts)]

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
            return part + acc                          # (out of place: torch's in-place bf16 add is 2x slower)

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


def linear(input_tensor_a, input_tensor_b, *, bias=None, transpose_a: bool = False, transpose_b: bool = False,
           memory_config: Optional[MemoryConfig] = None, dtype: Optional[DataType] = None, program_config=None,
           activation=None, compute_kernel_config=None, core_grid=None, output_tile=None,
           optional_output_tensor=None, global_cb=None, sub_device_id=None, prefetcher_pipes=(),
           in0_column_offset=None) -> Tensor:
    """``input_tensor_a @ input_tensor_b + bias``, then ``activation`` (ttnn 0.81.1 golden: ``a @ b + bias``, then
    the activation).  Numerics as ``matmul``.

    ``bias`` must be a TILE tensor whose padded shape is ``[1, .., 1, 32, Np]``
    (Np = padded N of ``input_tensor_b``), e.g. logical ``[1, 1, 1, N]``; only
    its row 0 is used (the device broadcasts the first row of the bias tile).
    """
    return _matmul_impl("ttnn.linear", input_tensor_a, input_tensor_b, bias, transpose_a, transpose_b,
                        memory_config, dtype, program_config, activation, compute_kernel_config, core_grid,
                        output_tile, optional_output_tensor, global_cb, sub_device_id, prefetcher_pipes,
                        in0_column_offset)


def matmul(input_tensor_a, input_tensor_b, *, transpose_a: bool = False, transpose_b: bool = False,
           memory_config: Optional[MemoryConfig] = None, dtype: Optional[DataType] = None, program_config=None,
           activation=None, compute_kernel_config=None, core_grid=None, output_tile=None,
           optional_output_tensor=None, global_cb=None, sub_device_id=None, prefetcher_pipes=()) -> Tensor:
    """``input_tensor_a @ input_tensor_b`` (ttnn 0.81.1 golden), then the fused activation.

    Faithful numerics (the kernel bmm_large_block_zm_fused_bias_activation.cpp of the 0.81.1 wheel, the matrix
    engine of tt-isa-documentation WormholeB0 MVMUL.md / SrcASrcB.md / Dst.md, tt-llk
    llk_unpack_AB_matmul_api.h "In0 -> srcB, In1 -> srcA"):

    * fidelity: phase p multiplies SrcB's part (in0: hidden 1 + top 6 mantissa bits for p < 2, the next 4 bits
      for p >= 2) by SrcA's part (in1: hidden 1 + top 4 bits for even p, the next 5 bits for odd p); LoFi runs
      phase 0, HiFi2 0-1, HiFi3 0-2, HiFi4 0-3.  Parts are masks (truncation), products exact; FLOAT32 operands
      enter Src as TF32 (13 low bits dropped);
    * 16-bit Dst (fp32_dest_acc_en False): every MVMUL (16 of K, one phase; per K tile the phase loop is outside
      the two K faces) does ``Dst = bf16(Dst + sum of 16 products)``; FP32 Dst: float32 accumulation;
    * K blocks of ``program_config.in0_block_w`` tiles: between blocks the partials go to the intermediate CB in
      interm0_data_format (output dtype; Float16_b with packer_l1_acc; Float32 with fp32_dest_acc_en) and are
      reloaded (or, with packer_l1_acc, accumulated there by the packer); tt-metal's matmul program factories:
      packer_l1_acc_en = packer_l1_acc and ((bias and blocks > 1) or blocks > 2);
    * bias: the last block's partials in the intermediate CB + the bias row (FPU add into Dst; Float32 partials
      read as TF32), then the SFPU activation (``_activation_fn``) and its Dst store, then the packer.

    ``compute_kernel_config=None``: ``_matmul_default_compute`` (LoFi with a program config, ...).

    Not bit exact, bounded: the order of the 16 float32 additions inside an MVMUL (oneDNN's here) and the rounding
    mode of Dst writes and of the packer (nearest even assumed; the ISA leaves the Dst mode open and calls its
    float model "a rough guide") — each Dst write can differ by 1 bf16 ulp where a float32 sum or a tie rounds
    differently (measured against the reference ``compute_config.isa_matmul_reference``:
    tests/emulator/test_compute_numerics.py::test_matmul_matches_isa_model);
    ``program_config=None`` runs one K block (ttnn's own choice of in0_block_w is not modelled): with a
    block-float intermediate format the device may requantise the partials at each of its block boundaries
    (<= 1 unit of that format per boundary); Wormhole's documented fp32_dest_acc_en bug (ttnn.matmul docstring:
    "output values can rarely be off by a negative power of two") is not modelled; Grayskull's multiplier widths
    are taken from Wormhole (unconfirmed).
    """
    return _matmul_impl("ttnn.matmul", input_tensor_a, input_tensor_b, None, transpose_a, transpose_b,
                        memory_config, dtype, program_config, activation, compute_kernel_config, core_grid,
                        output_tile, optional_output_tensor, global_cb, sub_device_id, prefetcher_pipes)


# -----------------------------------------------------------------------------
# softmax


def scale_mask_softmax_in_place(input_tensor: Tensor, scale: Optional[float] = None, mask: Optional[Tensor] = None, *,
                                program_config=SoftmaxDefaultProgramConfig(), is_causal_mask: bool = False,
                                compute_kernel_config=None, numeric_stable: bool = False) -> Tensor:
    """softmax(scale * x + mask) over the last dim, written into ``input_tensor``'s buffer (ttnn 0.81.1 golden:
    ``torch.softmax(x * scale + mask, -1)``).

    ``mask`` (additive) broadcasts over heads and query rows: ROW_MAJOR
    ``[B, 1, W/32, 32]`` (the W key positions in rows of 32, as the reference
    does) or TILE ``[B, 1, 1, W]``; a ``[B, 1, H, W]`` mask is applied per row.

    Faithful numerics (``compute_config.softmax_rows``; the stages of the 0.81.1 kernels softmax_sharded.cpp /
    softmax.cpp): x * scale (FPU multiply by the bf16 scale tile, fidelity phases), + mask (FPU add), with
    ``numeric_stable`` the row max subtracted (exact max), exp on the SFPU (math_approx_mode: the Schraudolph
    ``compute_config.exp_approx``, modelled exactly; otherwise exp then bf16 nearest-even), the row sum by
    ``reduce<SUM, REDUCE_ROW>`` (ones in SrcA, exps in SrcB, ``compute_config.reduce_row``), ``recip_tile``
    (``compute_config.sfpu_recip``, the 0.81.1 algorithm: approximate with math_approx_mode, precise with an FP32
    Dst), exps * recip (FPU multiply).  Dst is bf16 unless fp32_dest_acc_en; intermediates are Float16_b (Float32,
    read as TF32, with fp32_dest_acc_en).  ``numeric_stable=False`` (the 0.81.1 default) subtracts nothing, as the
    kernel: large inputs overflow exp (the approximate exp saturates to a NaN bit pattern, the accurate one to inf).

    ``compute_kernel_config=None``: HiFi4, math_approx_mode True, fp32_dest_acc_en = (input FLOAT32),
    packer_l1_acc False (tt-metal softmax_device_operation.cpp).

    Not bit exact, bounded: the accurate exp (exp_21f) is exp rounded to nearest-even bf16 (<= 1 bf16 ulp of
    the exp), the order of the additions inside each reduce MVMUL, the Dst / packer rounding mode (nearest even
    assumed): flipping it to ties away from zero moves outputs by <= 3 bf16 ulps of the row's largest output
    (tests/emulator/test_compute_numerics.py::test_softmax_model_bound).
    """
    op = "ttnn.scale_mask_softmax_in_place"
    x = _device_tensor(input_tensor, op, "input_tensor")
    device = x.device()
    _require_tile(x, op, "input_tensor")
    if x.dtype not in (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32):
        raise OpInputError(f"input must be bfloat16, bfloat8_b or float32, got {x.dtype}", op=op, rule="dtype")
    shape = x.shape.as_tuple()
    padded = x.padded_shape.as_tuple()
    h2, w2 = view_2d(padded)
    x_mc = x.memory_config()
    mv = None
    if mask is not None:
        m = _device_tensor(mask, op, "mask")
        _same_device(op, x, m)
        mshape = m.shape.as_tuple()
        if m.memory_config().is_sharded():
            if m.layout != Layout.TILE or mshape != shape:
                raise OpInputError("a sharded mask must be TILE with the input's shape", op=op, rule="mask_shape")
        else:
            if m.layout == Layout.ROW_MAJOR:
                expected = (mshape[0], 1, padded[-1] // TILE, TILE)
                if len(mshape) != 4 or mshape != expected:
                    raise OpInputError(f"a ROW_MAJOR mask must have shape {list(expected)}, got {list(mshape)}",
                                       op=op, rule="mask_shape")
            for i in range(1, len(shape) - 2):
                if i < len(mshape) and mshape[i] != 1:
                    raise OpInputError(f"mask dim {i} must be 1 (broadcast over heads), got {list(mshape)}", op=op,
                                       rule="mask_shape")
        if mshape[0] != shape[0]:
            raise OpInputError(f"mask batch {mshape[0]} must equal input batch {shape[0]}", op=op, rule="mask_shape")
        mvals = m._values(op, "mask").reshape(mshape[0], -1)
        per_batch = mvals.shape[1]
        rank = len(shape)
        if per_batch == shape[-1]:
            mv = mvals.reshape((mshape[0],) + (1,) * (rank - 2) + (shape[-1],))
        elif per_batch == shape[-1] * shape[-2]:
            mv = mvals.reshape((mshape[0],) + (1,) * (rank - 3) + (shape[-2], shape[-1]))
        elif m.layout == Layout.TILE and mshape[-2] == TILE and mshape[-1] == shape[-1]:
            mv = mvals.reshape(mshape[0], TILE, shape[-1])[:, 0].reshape(
                (mshape[0],) + (1,) * (rank - 2) + (shape[-1],))
        else:
            raise OpInputError(f"mask {list(mshape)} does not broadcast to {list(shape)}", op=op, rule="mask_shape")
    elif scale is not None:
        raise OpInputError("scale without mask is not supported (use ttnn.softmax)", op=op, rule="scale_without_mask")
    if isinstance(program_config, SoftmaxShardedMultiCoreProgramConfig):
        pc = program_config
        if not x_mc.is_sharded():
            raise ProgramConfigError("SoftmaxShardedMultiCoreProgramConfig needs a sharded input", op=op,
                                     rule="sharded_config_needs_sharded_input")
        _grid_check(pc.compute_with_storage_grid_size, device, op, "SoftmaxShardedMultiCoreProgramConfig")
        if pc.subblock_w == 0 or pc.block_w % pc.subblock_w:
            raise ProgramConfigError(f"block_w ({pc.block_w}) must be divisible by subblock_w ({pc.subblock_w})",
                                     op=op, rule="block_w_divisible_by_subblock_w")
        if h2 % TILE or w2 % TILE:
            raise ProgramConfigError(f"M ({h2}) and K ({w2}) must be tile multiples", op=op, rule="tile_multiple")
        if pc.block_w * TILE != w2:
            raise ProgramConfigError(
                f"block_w*32 ({pc.block_w}*32 = {pc.block_w * TILE}) must equal the row width {w2} (softmax rows are "
                f"not split)", op=op, rule="block_w_equals_row_width")
        g = pc.compute_with_storage_grid_size
        nshards = (h2 * w2) // (pc.block_w * TILE * pc.block_h * TILE) if pc.block_h else 0
        if pc.block_h == 0 or nshards != g.x * g.y:
            raise ProgramConfigError(
                f"number of shards (M*K/(block_h*32*block_w*32) = {h2}*{w2}/({pc.block_h * TILE}*{pc.block_w * TILE}) "
                f"= {nshards}) must equal the program grid's cores ({g.x}*{g.y} = {g.x * g.y})", op=op,
                rule="shards_vs_program_grid")
        ss = x_mc.shard_spec
        if ss.shape[0] != pc.block_h * TILE or ss.shape[1] != pc.block_w * TILE:
            raise ProgramConfigError(
                f"input shard {list(ss.shape)} must be [block_h*32, block_w*32] = [{pc.block_h * TILE}, "
                f"{pc.block_w * TILE}]", op=op, rule="block_vs_shard_shape")
    elif isinstance(program_config, SoftmaxDefaultProgramConfig):
        if x_mc.is_sharded():
            raise ProgramConfigError("a sharded input needs SoftmaxShardedMultiCoreProgramConfig", op=op,
                                     rule="sharded_input_needs_sharded_config")
    else:
        raise TypeError(f"{op}: program_config must be a Softmax program config, got {type(program_config).__name__}")
    if is_causal_mask and mv is None:
        raise OpInputError("is_causal_mask needs a mask", op=op, rule="mask_shape")
    settings = _compute_settings(op, compute_kernel_config, device, dict(
        SOFTMAX_DEFAULT_COMPUTE, fp32_dest_acc_en=x.dtype == DataType.FLOAT32))
    if isinstance(program_config, SoftmaxShardedMultiCoreProgramConfig):
        _cbs.softmax_sharded(op, device, program_config, x, mask, settings, bool(numeric_stable), bool(is_causal_mask))
    v = x._values(op, "input_tensor")
    y = _softmax_values(v, mv, scale, settings, bool(numeric_stable))
    x._set_values(round_to_dtype(y, x.dtype))
    device._count(op)
    return x


def _softmax_values(v: torch.Tensor, mv: Optional[torch.Tensor], scale: Optional[float],
                    settings: cc.ComputeSettings, numeric_stable: bool) -> torch.Tensor:
    """What the softmax kernel packs (before the output rounding); see ``scale_mask_softmax_in_place``."""
    if formats.fp32_numerics():
        z = v if scale is None else v * float(scale)
        if mv is not None:
            z = z + mv
        if numeric_stable:
            z = z - z.amax(dim=-1, keepdim=True)
        e = cc.exp_approx(z) if settings.math_approx_mode else torch.exp(z)
        return e * torch.reciprocal(e.sum(dim=-1, keepdim=True))
    sc = None if scale is None else float(cc.bf16_rne(torch.tensor(float(scale))))   # the fused_scale tile, bf16
    return cc.softmax_rows(v, mv, sc, settings.math_approx_mode, settings.phases, settings.fp32_dest_acc_en,
                           numeric_stable)
