"""``ttnn.experimental``: the BERT-large head split and concat (exact data movement).

``split_query_key_value_and_split_heads`` is the op whose sharded path reads
the per-core-column grouped QKV layout that the compiler's ``prepare_weights``
writes (``fuse_qkv_columns``) and that tt-metal's metal_BERT_large_11 demo
builds (``QKV_INTERLEAVED``); the demo concats heads with ``nlp_concat_heads``.
``ttnn.experimental.concatenate_heads`` (an interleaved, [B, 16, 384, 64]-only
op the reference does not use) is not emulated.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

from ..errors import OpInputError, ProgramConfigError, UnsupportedError
from . import circular_buffers as _cbs
from .operations import _device_tensor, _require_tile, _unsupported_if
from .tensor import TILE, Tensor
from .transformer import concat_heads, head_size, make_heads, qkv_block_grid, sharded_output_configs
from .types import CoreCoord, DataType, MemoryConfig

__all__ = ["split_query_key_value_and_split_heads", "nlp_concat_heads"]

_HEADS_PER_CORE = 2  # num_heads_per_tensor, hard-coded in the sharded program factory


def split_query_key_value_and_split_heads(input_tensor: Tensor, compute_with_storage_grid_size, *,
                                          memory_config: Optional[MemoryConfig] = None, num_heads: int = 16,
                                          output_tensors: Optional[Sequence[Optional[Tensor]]] = None
                                          ) -> Tuple[Tensor, Tensor, Tensor]:
    """``ttnn.experimental.split_query_key_value_and_split_heads`` (ttnn 0.81.1) -> (Q, K^T, V).

    0.81.1 docstring: "Splits [B, 1, 384, 3072] fused qkv matrix into 3 heads with shapes [B, 16, 384, 64],
    [B, 16, 64, 384], and [B, 16, 384, 64]. Supports both sharded and interleaved inputs"; ``memory_config`` None
    means the input's.  K is always transposed.  Golden (wheel ``ttnn/operations/transformer.py``, shared with
    ``ttnn.transformer``): plain ``[q | k | v]``, which is what the interleaved path reads.

    tt-metal ``ttnn/cpp/ttnn/operations/experimental/transformer/split_query_key_value_and_split_heads/device/``:

    * ``split_query_key_value_and_split_heads_device_operation.cpp`` ``validate_on_program_cache_miss``: input on
      device, dtype BFLOAT16 or BFLOAT8_B; interleaved: batch 7..9; sharded: bounding-box end < the
      ``compute_with_storage_grid_size`` argument (x and y), a single core range, BLOCK_SHARDED.
      ``compute_output_specs``: Q/V ``[B, NH, S, D]`` with shard ``[NH / G_w * S, D]``, K ``[B, NH, D, S]`` with
      shard ``[NH / G_w * D, S]``, input grid and orientation, layout from ``memory_config``.
    * ``split_query_key_value_and_split_heads_sharded_program_factory.cpp`` (``...ShardedProgramFactory::create``)
      with kernels ``reader/writer_tm_tile_layout_create_qkv_heads_sharded.cpp``: ``num_heads_per_tensor = 2``
      (hard-coded); each core's block ``[B*S / G_h, 3H / G_w]`` is read as ``[q_a | q_b | k_a | k_b | v_a | v_b]``
      and shard i (orientation order) of each output gets batch ``i // G_w``, heads ``2*(i % G_w) + (0, 1)``.  So
      shard column g holds ``[q_g | k_g | v_g]`` for heads 2g, 2g+1, and the op is only right with NH == 2 * G_w
      and G_h == B (unchecked on chip, TT_ASSERT at most: the emulator rejects them).
    * ``split_query_key_value_and_split_heads_program_factory.cpp`` (interleaved ``...ProgramFactory::create``):
      cores (S / 32) x B, each reads one tile row of ``[q | k | v]``; ``out_w = 64`` and 16 heads are hard-coded,
      so only D == 64, NH == 16 is right (emulator rejects others).
    """
    op = "ttnn.experimental.split_query_key_value_and_split_heads"
    x = _device_tensor(input_tensor, op, "input_tensor")
    _unsupported_if(output_tensors is not None and any(t is not None for t in output_tensors), "output_tensors", op)
    grid = CoreCoord.coerce(compute_with_storage_grid_size)
    if x.dtype not in (DataType.BFLOAT16, DataType.BFLOAT8_B):
        raise OpInputError(f"Unsupported data format {x.dtype} (BFLOAT16 or BFLOAT8_B)", op=op, rule="dtype")
    shape = x.shape.as_tuple()
    if len(shape) != 4 or shape[1] != 1:
        raise OpInputError(f"input must be [B, 1, S, 3H], got {list(shape)}", op=op, rule="qkv_shape")
    _require_tile(x, op, "input_tensor")
    b, _, s, w3 = shape
    nh = int(num_heads)
    d = head_size(op, w3, nh, s)
    vals = x._values(op, "input_tensor")
    if x.memory_config().is_sharded():
        ss = x.memory_config().shard_spec
        end = ss.grid.bounding_box().end
        if not (end.x < grid.x and end.y < grid.y) or ss.grid.size() != 1:
            raise ProgramConfigError(
                f"shard grid {ss.grid} must be one core range whose bounding-box end ({end.x}, {end.y}) is less than "
                f"compute_with_storage_grid_size ({grid.x}, {grid.y})", op=op, rule="grid_vs_compute_grid")
        g_w, g_h = qkv_block_grid(op, x, b * s, w3)
        if nh != _HEADS_PER_CORE * g_w:
            raise ProgramConfigError(
                f"the sharded kernels read exactly {_HEADS_PER_CORE} heads per core column: num_heads ({nh}) must be "
                f"{_HEADS_PER_CORE} * {g_w} width cores", op=op, rule="two_heads_per_core")
        if g_h != b:
            raise ProgramConfigError(
                f"{g_h} height cores for batch {b}: shard height must equal the sequence length {s} (one batch per "
                f"core row)", op=op, rule="shard_height_equals_seq")
        qv_mc, k_mc = sharded_output_configs(op, x, memory_config, nh // g_w * s, nh // g_w * d, d, s, True)
        hv = vals.reshape(b, s, g_w, 3, _HEADS_PER_CORE, d)  # shard column g: [q_g | k_g | v_g]

        def heads(j):  # -> [B, S, NH, D], head 2g + i
            return hv[:, :, :, j].reshape(b, s, nh, d)

        outs = make_heads(op, x, (heads(0), heads(1), heads(2)), True, qv_mc, k_mc)
        _cbs.split_heads(op, x.device(), x)      # one CB of its own: the K transpose (kernels/attention.py)
        return outs
    if not 7 <= b <= 9:
        raise OpInputError(f"Input batch size must be between 7 to 9 for bert large TM ops! (got {b})", op=op,
                           rule="bert_large_batch")
    if d != 64 or nh != 16:
        raise OpInputError(f"the interleaved kernels hard-code 16 heads of 64 (got {nh} of {d})", op=op,
                           rule="bert_large_shape")
    gx, gy = x.device().spec.grid
    if not (s // TILE <= grid.x <= gx and b <= grid.y <= gy):
        raise ProgramConfigError(
            f"the interleaved path runs on (S/32 = {s // TILE}) x (B = {b}) cores, which must fit in "
            f"compute_with_storage_grid_size ({grid.x}, {grid.y}) within the device grid ({gx}, {gy})", op=op,
            rule="grid_vs_compute_grid")
    out_mc = memory_config if memory_config is not None else x.memory_config()
    if out_mc.is_sharded():
        raise UnsupportedError("sharded outputs from an interleaved QKV input", op=op, rule="unsupported_argument")
    hv = vals.reshape(b, s, 3, nh, d)  # plain [q | k | v]
    return make_heads(op, x, (hv[:, :, 0], hv[:, :, 1], hv[:, :, 2]), True, out_mc, out_mc)


def nlp_concat_heads(input_tensor: Tensor, *, memory_config: Optional[MemoryConfig] = None) -> Tensor:
    """``ttnn.experimental.nlp_concat_heads`` (ttnn 0.81.1): ``[B, NH, S, D]`` -> ``[B, 1, S, NH * D]``.

    0.81.1 docstring: "Shuffles [B, num_heads, S, head_dim] tensor into tensor with shape
    [B, 1, S, num_heads * head_dim]" (no golden function in the wheel).  Rules and layout: tt-metal
    ``nlp_concat_heads_device_operation.cpp`` / ``nlp_concat_heads_program_factory.cpp``, see
    ``transformer.concat_heads``.
    """
    out = concat_heads("ttnn.experimental.nlp_concat_heads", input_tensor, memory_config, four_d=True)
    _cbs.concat_heads("ttnn.experimental.nlp_concat_heads", out.device(), input_tensor, out)
    return out
