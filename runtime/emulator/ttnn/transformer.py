"""``ttnn.transformer``: head split / concat (exact data movement).

Column grouping of a block-sharded fused QKV tensor (the layout the compiler
emits, after tt-metal's BERT demo): with G = number of shard columns
(3H / shard width), each G-th of the columns holds ``[q_g | k_g | v_g]``,
each H/G wide, for heads g*NH/G .. (g+1)*NH/G - 1 in order.  An interleaved
QKV is the plain ``[q | k | v]`` (G = 1).

Sharded outputs are computed by the op (like ttnn): for a block-sharded QKV
on a grid of G columns x B rows with shard ``[S, 3H/G]``, Q and V are
HEIGHT_SHARDED on the same grid with shard ``[NH/G*S, D]`` and K^T with shard
``[NH/G*D, S]``; ``concatenate_heads`` of such a height-sharded
``[B, NH, S, D]`` gives a BLOCK_SHARDED ``[B, S, H]`` with shard
``[S, NH/G*D]``.  A ``memory_config`` passed to these ops selects the buffer
type and memory layout; its shard spec, if any, must agree with the computed
one (its grid at least).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..errors import OpInputError, ProgramConfigError, UnsupportedError
from .operations import _device_tensor, _require_tile, _unsupported_if
from .tensor import BLOCK_FLOAT_DTYPES, TILE, Tensor, new_tensor
from .types import (
    BufferType,
    MemoryConfig,
    ShardOrientation,
    ShardSpec,
    TensorMemoryLayout,
)

__all__ = ["split_query_key_value_and_split_heads", "concatenate_heads"]


def _groups_preserved(dtype, width: int, *offsets: int) -> bool:
    """True if moving rows of ``width`` columns from ``offsets`` keeps every 16-group intact."""
    if dtype not in BLOCK_FLOAT_DTYPES:
        return True
    return width % 16 == 0 and all(o % 16 == 0 for o in offsets)


def _check_grid_columns(op: str, ss: ShardSpec, groups: int, batch: int) -> None:
    """Core-local head split/concat needs the grid to be G head groups wide and B batches tall."""
    g = ss.grid.bounding_box().grid_size()
    cols, rows = (g.x, g.y) if ss.orientation == ShardOrientation.ROW_MAJOR else (g.y, g.x)
    if ss.grid.size() != 1 or cols != groups or rows != batch:
        raise ProgramConfigError(
            f"shard grid {ss.grid} ({ss.orientation.name}) must be {groups} head-group columns x {batch} batch rows "
            f"(got {cols} x {rows})", op=op, rule="grid_vs_head_groups")


def split_query_key_value_and_split_heads(input_tensor: Tensor, kv_input_tensor: Optional[Tensor] = None, *,
                                          num_heads: int, num_kv_heads: Optional[int] = None,
                                          transpose_key: bool = True, memory_config: Optional[MemoryConfig] = None,
                                          use_falcon7b_backend: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
    op = "ttnn.transformer.split_query_key_value_and_split_heads"
    x = _device_tensor(input_tensor, op, "input_tensor")
    _unsupported_if(kv_input_tensor is not None, "kv_input_tensor", op)
    _unsupported_if(num_kv_heads is not None and num_kv_heads != num_heads, "num_kv_heads != num_heads", op)
    _unsupported_if(bool(use_falcon7b_backend), "use_falcon7b_backend=True", op)
    _require_tile(x, op, "input_tensor")
    shape = x.shape.as_tuple()
    if len(shape) == 4 and shape[1] == 1:
        b, s, w3 = shape[0], shape[2], shape[3]
    elif len(shape) == 3:
        b, s, w3 = shape
    else:
        raise OpInputError(f"input must be [B, S, 3H] or [B, 1, S, 3H], got {list(shape)}", op=op, rule="qkv_shape")
    nh = int(num_heads)
    if nh <= 0 or w3 % (3 * nh):
        raise OpInputError(f"width {w3} is not 3 * num_heads ({nh}) * head_size", op=op, rule="qkv_shape")
    hidden = w3 // 3
    d = hidden // nh
    if s % TILE or d % TILE:
        raise OpInputError(f"sequence ({s}) and head size ({d}) must be tile multiples", op=op, rule="tile_multiple")
    x_mc = x.memory_config()
    device = x.device()
    if x_mc.is_sharded():
        ss = x_mc.shard_spec
        if x_mc.memory_layout != TensorMemoryLayout.BLOCK_SHARDED:
            raise ProgramConfigError(f"a sharded QKV input must be BLOCK_SHARDED, got {x_mc.memory_layout}", op=op,
                                     rule="split_heads_input_layout")
        sh, sw = ss.shape
        if w3 % sw:
            raise ProgramConfigError(f"shard width {sw} must divide the QKV width {w3}", op=op,
                                     rule="qkv_shard_width")
        groups = w3 // sw
        if nh % groups:
            raise ProgramConfigError(f"num_heads ({nh}) must be a multiple of the shard columns ({groups})", op=op,
                                     rule="heads_per_shard_column")
        if sh != s:
            raise ProgramConfigError(
                f"shard height {sh} must equal the sequence length {s} (one batch per core row)", op=op,
                rule="shard_height_equals_seq")
        hpg = nh // groups
        _check_grid_columns(op, ss, groups, b)
        out_mc = memory_config if memory_config is not None else MemoryConfig(
            TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1)
        if out_mc.memory_layout != TensorMemoryLayout.HEIGHT_SHARDED or out_mc.buffer_type != BufferType.L1:
            raise ProgramConfigError(
                f"outputs of a sharded split are L1 HEIGHT_SHARDED, got {out_mc.memory_layout}/{out_mc.buffer_type}",
                op=op, rule="split_heads_output_layout")
        if out_mc.shard_spec is not None and out_mc.shard_spec.grid != ss.grid:
            raise ProgramConfigError(f"output shard grid {out_mc.shard_spec.grid} must be the input grid {ss.grid}",
                                     op=op, rule="output_shard_grid")
        q_mc = MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1,
                            ShardSpec(ss.grid, [hpg * s, d], ss.orientation))
        k_mc = MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1,
                            ShardSpec(ss.grid, [hpg * d, s] if transpose_key else [hpg * s, d], ss.orientation))
        v_mc = q_mc
    else:
        groups = 1
        out_mc = memory_config if memory_config is not None else x_mc
        if out_mc.is_sharded():
            raise UnsupportedError("sharded outputs from an interleaved QKV input", op=op, rule="unsupported_argument")
        q_mc = k_mc = v_mc = out_mc
    hpg = nh // groups
    vals = x._values(op, "input_tensor").reshape(b, s, groups, 3, hpg, d)

    def heads(j: int) -> torch.Tensor:  # -> [B, NH, S, D]
        return vals[:, :, :, j].permute(0, 2, 3, 1, 4).reshape(b, nh, s, d)

    q = heads(0).contiguous()
    v = heads(2).contiguous()
    k = heads(1)
    k = (k.transpose(-1, -2) if transpose_key else k).contiguous()
    group_w = hidden // groups
    ok = _groups_preserved(x.dtype, d, group_w, d)
    dt = x.dtype
    q_t = new_tensor(q, dt, x.layout, device, q_mc, op, "query", already_rounded=ok)
    k_t = new_tensor(k, dt, x.layout, device, k_mc, op, "key",
                     already_rounded=ok and not (transpose_key and dt in BLOCK_FLOAT_DTYPES))
    v_t = new_tensor(v, dt, x.layout, device, v_mc, op, "value", already_rounded=ok)
    return q_t, k_t, v_t


def concatenate_heads(input_tensor: Tensor, *, memory_config: Optional[MemoryConfig] = None) -> Tensor:
    op = "ttnn.transformer.concatenate_heads"
    x = _device_tensor(input_tensor, op, "input_tensor")
    _require_tile(x, op, "input_tensor")
    shape = x.shape.as_tuple()
    if len(shape) != 4:
        raise OpInputError(f"input must be [B, NH, S, D], got {list(shape)}", op=op, rule="heads_shape")
    b, nh, s, d = shape
    if s % TILE or d % TILE:
        raise OpInputError(f"sequence ({s}) and head size ({d}) must be tile multiples", op=op, rule="tile_multiple")
    x_mc = x.memory_config()
    if x_mc.is_sharded():
        ss = x_mc.shard_spec
        if x_mc.memory_layout != TensorMemoryLayout.HEIGHT_SHARDED:
            raise ProgramConfigError(f"a sharded input must be HEIGHT_SHARDED, got {x_mc.memory_layout}", op=op,
                                     rule="concat_heads_input_layout")
        sh = ss.shape[0]
        if sh % s or nh % (sh // s):
            raise ProgramConfigError(
                f"shard height {sh} must hold whole heads of {s} rows, and num_heads ({nh}) must be a multiple of the "
                f"heads per core", op=op, rule="shard_holds_whole_heads")
        hpc = sh // s
        groups = nh // hpc
        if ss.grid.num_cores() < b * groups:
            raise ProgramConfigError(f"shard grid has {ss.grid.num_cores()} cores, {b * groups} needed", op=op,
                                     rule="shard_coverage")
        _check_grid_columns(op, ss, groups, b)
        out_mc = memory_config if memory_config is not None else MemoryConfig(
            TensorMemoryLayout.BLOCK_SHARDED, BufferType.L1)
        if out_mc.memory_layout != TensorMemoryLayout.BLOCK_SHARDED or out_mc.buffer_type != BufferType.L1:
            raise ProgramConfigError(
                f"the output of a sharded concat is L1 BLOCK_SHARDED, got {out_mc.memory_layout}/{out_mc.buffer_type}",
                op=op, rule="concat_heads_output_layout")
        expected = ShardSpec(ss.grid, [s, hpc * d], ss.orientation)
        given = out_mc.shard_spec
        if given is not None and (list(given.shape) != list(expected.shape) or given.grid != ss.grid
                                  or given.orientation != ss.orientation):
            raise ProgramConfigError(
                f"output shard spec {given} does not match the computed {expected}", op=op,
                rule="output_shard_shape")
        out_mc = out_mc.with_shard_spec(expected)
    else:
        out_mc = memory_config if memory_config is not None else x_mc
        if out_mc.is_sharded() and out_mc.shard_spec is None:
            raise UnsupportedError("a sharded output without shard_spec from an interleaved input", op=op,
                                   rule="unsupported_argument")
    v = x._values(op, "input_tensor").permute(0, 2, 1, 3).reshape(b, s, nh * d).contiguous()
    ok = _groups_preserved(x.dtype, d)
    return new_tensor(v, x.dtype, x.layout, x.device(), out_mc, op, already_rounded=ok)
