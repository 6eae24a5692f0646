"""``ttnn.transformer``: head split / concat (exact data movement).

Three fused-QKV column layouts exist (H = hidden, NH heads of D columns):

* plain ``[q | k | v]``: what the golden function and the interleaved paths read;
* interleaved heads ``[q0 k0 v0 | q1 k1 v1 | ...]``: what the sharded path of
  ``ttnn.transformer.split_query_key_value_and_split_heads`` reads (below);
* grouped per core column: what ``ttnn.experimental.split_query_key_value_and_split_heads``
  reads (runtime/emulator/ttnn/experimental.py).

Paired with the wrong op, a layout gives wrong heads, as on a chip.  Sharded
outputs are L1 HEIGHT_SHARDED on the input's grid with the shard shapes the
device operations compute; a ``memory_config`` selects the layout and buffer
type.  ttnn replaces any shard spec in it by the computed one
(``compute_output_specs``, ``with_shard_spec``); the emulator rejects a given
one that disagrees (its grid for the split, all of it for the concat).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..errors import OpInputError, ProgramConfigError, UnsupportedError
from .operations import _device_tensor, _require_tile, _unsupported_if
from .tensor import BLOCK_FLOAT_DTYPES, TILE, Tensor, new_tensor
from .types import (
    BufferType,
    DataType,
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


def qkv_block_grid(op: str, x: Tensor, rows: int, width: int) -> Tuple[int, int]:
    """(G_w, G_h) of a BLOCK_SHARDED fused QKV, counted as tt-metal's head-split program factories count them.

    Both factories (``SplitFusedQKVAndSplitHeadsShardedProgramFactory::create``,
    ``CreateQKVHeadsProgramFactory::create``) take ``num_w_cores``/``num_h_cores`` from the shard grid's bounding
    box end (+1; x/y swapped for COL_MAJOR) and derive each core's block as ``[rows / G_h, width / G_w]``; a
    shard of any other shape would be read with the wrong stride, so it is rejected here.
    """
    mc = x.memory_config()
    if mc.memory_layout != TensorMemoryLayout.BLOCK_SHARDED:
        raise ProgramConfigError(f"a sharded QKV input must be BLOCK_SHARDED, got {mc.memory_layout}", op=op,
                                 rule="split_heads_input_layout")
    ss = mc.shard_spec
    end = ss.grid.bounding_box().end
    g_w, g_h = (end.x + 1, end.y + 1) if ss.orientation == ShardOrientation.ROW_MAJOR else (end.y + 1, end.x + 1)
    block = [rows // g_h, width // g_w]
    if ss.grid.size() != 1 or rows % g_h or width % g_w or list(ss.shape) != block:
        raise ProgramConfigError(
            f"shard {list(ss.shape)} on grid {ss.grid} ({ss.orientation.name}): the op reads blocks of "
            f"[{rows}/{g_h}, {width}/{g_w}] from a single core range starting at (0, 0)", op=op,
            rule="grid_vs_head_groups")
    return g_w, g_h


def sharded_output_configs(op: str, x: Tensor, memory_config: Optional[MemoryConfig], q_rows: int, k_rows: int,
                           d: int, s: int, k_transposed: bool) -> Tuple[MemoryConfig, MemoryConfig]:
    """(Q/V, K) memory configs: ``memory_config`` (default: the input's) with the computed shard specs."""
    out = memory_config if memory_config is not None else x.memory_config()
    if out.memory_layout != TensorMemoryLayout.HEIGHT_SHARDED:
        raise ProgramConfigError(f"Output memory config layout must be HEIGHT_SHARDED but got {out.memory_layout}",
                                 op=op, rule="split_heads_output_layout")
    if out.buffer_type != BufferType.L1:
        raise UnsupportedError(f"{out.buffer_type} sharded outputs", op=op, rule="unsupported_argument")
    ss = x.memory_config().shard_spec
    if out.shard_spec is not None and out.shard_spec.grid != ss.grid:
        raise ProgramConfigError(f"output shard grid {out.shard_spec.grid} must be the input grid {ss.grid} (ttnn "
                                 f"would silently use the computed one)", op=op, rule="output_shard_grid")
    qv = out.with_shard_spec(ShardSpec(ss.grid, [q_rows, d], ss.orientation))
    k = out.with_shard_spec(ShardSpec(ss.grid, [k_rows, s if k_transposed else d], ss.orientation))
    return qv, k


def make_heads(op: str, x: Tensor, heads: Tuple[torch.Tensor, torch.Tensor, torch.Tensor], transpose_key: bool,
               qv_mc: MemoryConfig, k_mc: MemoryConfig) -> Tuple[Tensor, Tensor, Tensor]:
    """Device tensors Q, K (K^T if ``transpose_key``), V from three ``[B, S, NH, D]`` value tensors."""
    q, k, v = (t.permute(0, 2, 1, 3).contiguous() for t in heads)
    if transpose_key:
        k = k.transpose(-1, -2).contiguous()
    dt, dev = x.dtype, x.device()
    ok = _groups_preserved(dt, q.shape[-1])  # whole D-wide (D % 32 == 0) column runs move: 16-groups survive
    return (new_tensor(q, dt, x.layout, dev, qv_mc, op, "query", already_rounded=ok),
            new_tensor(k, dt, x.layout, dev, k_mc, op, "key",
                       already_rounded=ok and not (transpose_key and dt in BLOCK_FLOAT_DTYPES)),
            new_tensor(v, dt, x.layout, dev, qv_mc, op, "value", already_rounded=ok))


def head_size(op: str, w3: int, nh: int, s: int) -> int:
    """D = 3H / (3 NH); D and S must be tile multiples (no tile padding inside the fused width)."""
    if nh <= 0 or w3 % (3 * nh):
        raise OpInputError(f"width {w3} is not 3 * num_heads ({nh}) * head_size", op=op, rule="qkv_shape")
    d = w3 // (3 * nh)
    if s % TILE or d % TILE:
        raise OpInputError(f"sequence ({s}) and head size ({d}) must be tile multiples", op=op, rule="tile_multiple")
    return d


def split_query_key_value_and_split_heads(input_tensor: Tensor, kv_input_tensor: Optional[Tensor] = None, *,
                                          num_heads: int, num_kv_heads: Optional[int] = None,
                                          transpose_key: bool = True, memory_config: Optional[MemoryConfig] = None,
                                          use_falcon7b_backend: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
    """``ttnn.transformer.split_query_key_value_and_split_heads`` (ttnn 0.81.1).

    Sources: the 0.81.1 docstring and golden function (wheel ``ttnn/operations/transformer.py``
    ``_golden_function``: plain ``[q | k | v]``, each reshaped to ``[B, S, NH, D]`` and permuted to
    ``[B, NH, S, D]``, K to ``[B, NH, D, S]`` if ``transpose_key``); tt-metal
    ``ttnn/cpp/ttnn/operations/transformer/split_query_key_value_and_split_heads/
    split_query_key_value_and_split_heads.cpp`` (``SplitQueryKeyValueAndSplitHeadsOperation::invoke``: rank 3,
    TILE, on device; sharded input -> ``ttnn.experimental.create_qkv_heads`` on the ``[B, 1, S, 3H]`` view with
    ``memory_config or input.memory_config()``; interleaved -> ``nlp_create_qkv_heads``, plain layout).

    Sharded path, as the docstring says: "the input query, key and value are expected to be concatenated such that
    the heads are interleaved (q1 k1 v1...qn kn vn)".  tt-metal ``.../experimental/transformer/create_qkv_heads/
    device/create_qkv_heads_program_factory.cpp`` (``CreateQKVHeadsProgramFactory::create``) reads groups of
    ``[q_i | k_i | v_i]`` (num_kv_heads = num_heads groups), ``groups / G_w`` consecutive groups per core column,
    so the layout is global: head i at columns ``3*D*i ..``.  Validations from
    ``create_qkv_heads_device_operation.cpp`` (``validate_on_program_cache_miss``) and the program factory:
    dtype FLOAT32/BFLOAT16/BFLOAT8_B, BLOCK_SHARDED, ``3H % (G_w * 32) == 0``, ``groups % G_w == 0``, output
    memory config HEIGHT_SHARDED (so the default, the input's BLOCK_SHARDED config, fails), batch == G_h.  Output
    shards: ``rows / (G_w * G_h)`` x D (Q, V) or x S (K^T) on the input grid and orientation.
    """
    op = "ttnn.transformer.split_query_key_value_and_split_heads"
    x = _device_tensor(input_tensor, op, "input_tensor")
    _unsupported_if(kv_input_tensor is not None, "kv_input_tensor", op)
    _unsupported_if(num_kv_heads is not None and num_kv_heads != num_heads, "num_kv_heads != num_heads", op)
    _unsupported_if(bool(use_falcon7b_backend), "use_falcon7b_backend=True", op)
    shape = x.shape.as_tuple()
    if len(shape) != 3:
        raise OpInputError(f"Invalid input tensor: expected 3 dimensions ([B, S, 3H]), but found {len(shape)}",
                           op=op, rule="qkv_shape")
    _require_tile(x, op, "input_tensor")
    b, s, w3 = shape
    nh = int(num_heads)
    d = head_size(op, w3, nh, s)
    vals = x._values(op, "input_tensor")
    if x.memory_config().is_sharded():
        if x.dtype not in (DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B):
            raise OpInputError(f"Unsupported data format {x.dtype}", op=op, rule="dtype")
        g_w, g_h = qkv_block_grid(op, x, b * s, w3)
        if w3 % (g_w * TILE) or nh % g_w:
            raise ProgramConfigError(
                f"QKV width {w3} must be a multiple of width cores {g_w} * 32 and the {nh} head groups a multiple "
                f"of the width cores", op=op, rule="heads_per_shard_column")
        if b != g_h:
            raise ProgramConfigError(f"Batch size {b} must be equal to num cores {g_h} (shard height must equal the "
                                     f"sequence length {s})", op=op, rule="shard_height_equals_seq")
        cores = g_w * g_h
        qv_mc, k_mc = sharded_output_configs(op, x, memory_config, b * nh * s // cores,
                                             b * nh * (d if transpose_key else s) // cores, d, s, transpose_key)
        hv = vals.reshape(b, s, nh, 3, d)  # [q0 k0 v0 | q1 k1 v1 | ...]
        heads = (hv[:, :, :, 0], hv[:, :, :, 1], hv[:, :, :, 2])
    else:
        out_mc = memory_config if memory_config is not None else x.memory_config()
        if out_mc.is_sharded():
            raise UnsupportedError("sharded outputs from an interleaved QKV input", op=op, rule="unsupported_argument")
        qv_mc = k_mc = out_mc
        hv = vals.reshape(b, s, 3, nh, d)  # plain [q | k | v] (golden)
        heads = (hv[:, :, 0], hv[:, :, 1], hv[:, :, 2])
    return make_heads(op, x, heads, transpose_key, qv_mc, k_mc)


def computed_shard(op: str, mc: MemoryConfig, expected: ShardSpec, what: str) -> MemoryConfig:
    """``mc`` with the op's computed shard spec (ttnn replaces any given one; a different given one is rejected)."""
    if mc.shard_spec is not None and mc.shard_spec != expected:
        raise ProgramConfigError(f"{what} shard spec {mc.shard_spec} does not match the computed {expected} (ttnn "
                                 f"would silently use the computed one)", op=op, rule="output_shard_shape")
    return mc.with_shard_spec(expected)


def concat_heads(op: str, input_tensor: Tensor, memory_config: Optional[MemoryConfig], four_d: bool) -> Tensor:
    """``[B, NH, S, D]`` -> ``[B, 1, S, NH * D]`` (``four_d``) or ``[B, S, NH * D]``, as tt-metal's
    ``nlp_concat_heads`` device operation does it.

    Sources: tt-metal ``ttnn/cpp/ttnn/operations/experimental/transformer/nlp_concat_heads/device/
    nlp_concat_heads_device_operation.cpp`` (``validate_on_program_cache_miss``: dtype FLOAT32/BFLOAT16/BFLOAT8_B,
    TILE; sharded input: not WIDTH_SHARDED, shard width == D, shard height a multiple of S, NH a multiple of the
    heads per shard, output not HEIGHT_SHARDED; interleaved input: INTERLEAVED output.  ``compute_output_specs``:
    output memory config ``memory_config or input.memory_config()``, sharded output shard
    ``[shard_h / heads_per_shard, D * heads_per_shard]`` on the input grid and orientation) and
    ``nlp_concat_heads_program_factory.cpp`` (``NLPConcatHeadsProgramFactory::create``: a sharded input is
    concatenated core-locally into a globally allocated output CB, so the output must be sharded too, and the
    BLOCK_SHARDED output is right only on a grid of NH / heads_per_shard columns x B rows).  Values: plain
    concatenation, head h at columns ``h*D ..`` (the golden of ``ttnn.transformer.concatenate_heads``).
    Emulated: HEIGHT_SHARDED inputs with L1 BLOCK_SHARDED outputs, and interleaved to interleaved.
    """
    x = _device_tensor(input_tensor, op, "input_tensor")
    _require_tile(x, op, "input_tensor")
    if x.dtype not in (DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B):
        raise OpInputError(f"Unsupported data format {x.dtype}", op=op, rule="dtype")
    shape = x.shape.as_tuple()
    if len(shape) != 4:
        raise OpInputError(f"input must be [B, NH, S, D], got {list(shape)}", op=op, rule="heads_shape")
    b, nh, s, d = shape
    if s % TILE or d % TILE:
        raise OpInputError(f"sequence ({s}) and head size ({d}) must be tile multiples", op=op, rule="tile_multiple")
    x_mc = x.memory_config()
    out_mc = memory_config if memory_config is not None else x_mc
    if x_mc.is_sharded():
        ss = x_mc.shard_spec
        if x_mc.memory_layout != TensorMemoryLayout.HEIGHT_SHARDED:
            raise UnsupportedError(f"a {x_mc.memory_layout} input (HEIGHT_SHARDED is emulated)", op=op,
                                   rule="unsupported_argument")
        sh, sw = ss.shape
        if sw != d or sh % s or nh % (sh // s):
            raise ProgramConfigError(
                f"shard {list(ss.shape)} must be D ({d}) wide and hold whole heads of {s} rows, and num_heads ({nh}) "
                f"must be a multiple of the heads per shard", op=op, rule="shard_holds_whole_heads")
        hps = sh // s
        if out_mc.memory_layout != TensorMemoryLayout.BLOCK_SHARDED:
            raise ProgramConfigError(
                f"a sharded input needs a sharded, not HEIGHT_SHARDED, output (BLOCK_SHARDED), got "
                f"{out_mc.memory_layout}", op=op, rule="concat_heads_output_layout")
        if out_mc.buffer_type != BufferType.L1:
            raise UnsupportedError(f"{out_mc.buffer_type} sharded outputs", op=op, rule="unsupported_argument")
        _check_grid_columns(op, ss, nh // hps, b)
        out_mc = computed_shard(op, out_mc, ShardSpec(ss.grid, [s, hps * d], ss.orientation), "output")
    elif out_mc.is_sharded():
        raise ProgramConfigError(f"an interleaved input needs an INTERLEAVED output, got {out_mc.memory_layout}",
                                 op=op, rule="concat_heads_output_layout")
    v = x._values(op, "input_tensor").permute(0, 2, 1, 3).reshape((b, 1, s, nh * d) if four_d else (b, s, nh * d))
    ok = _groups_preserved(x.dtype, d)
    return new_tensor(v.contiguous(), x.dtype, x.layout, x.device(), out_mc, op, already_rounded=ok)


def concatenate_heads(input_tensor: Tensor, *, memory_config: Optional[MemoryConfig] = None) -> Tensor:
    """``ttnn.transformer.concatenate_heads`` (ttnn 0.81.1): ``[B, NH, S, D]`` -> ``[B, S, NH * D]``.

    Sources: the 0.81.1 docstring ("concatenates heads back along the width dimension"; memory_config None means
    the input's) and golden (wheel ``ttnn/operations/transformer.py``: ``permute(0, 2, 1, 3)`` then reshape);
    tt-metal ``ttnn/cpp/ttnn/operations/transformer/concatenate_heads/concatenate_heads.cpp`` (rank 4, D % 32 == 0,
    then prim ``nlp_concat_heads`` and a squeeze of dim 1): see :func:`concat_heads` for its rules.
    """
    return concat_heads("ttnn.transformer.concatenate_heads", input_tensor, memory_config, four_d=False)
