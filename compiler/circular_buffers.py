"""Which circular buffers each scheduled op's tt-metal program allocates: the op family's module in kernels/
sizes them (and cites the factory); this module only reads the op's config, dtypes and placements.

Ops outside the families modelled (embedding lookups, the eltwise add and the interleaved layernorm of the
embeddings, the QA head's auto-configured linear) get None: their CBs are not counted, and the plan says so.
"""
from __future__ import annotations

from kernels import attention, data_movement, layernorm, matmul, softmax
from kernels.allocator import ALIGNMENT
from kernels.common import TILE, CircularBuffer


def _tiles(shape) -> int:
    return (shape[0] // TILE) * (shape[1] // TILE)


def _compute(op) -> tuple[bool, bool]:
    f = op.compute_config.fields if op.compute_config else {}
    return bool(f.get("fp32_dest_acc_en")), bool(f.get("packer_l1_acc"))


def op_circular_buffers(op, *, dtype_of, placement_of, shape_of, weight_dtype, device,
                        layernorm_reduction: dict | None = None) -> list[CircularBuffer] | None:
    """dtype_of / placement_of / shape_of: of an IR value; weight_dtype: of a weight param."""
    fp32, l1_acc = _compute(op)
    cfg = op.program_config.fields if op.program_config else None
    if op.kind == "linear" and cfg is not None:
        w, b = op.weights
        src = placement_of(op.inputs[0])
        k_tiles = shape_of(op.inputs[0])[-1] // TILE
        return matmul.linear_cbs(cfg, k_tiles=k_tiles, in0_dtype=dtype_of(op.inputs[0]), in1_dtype=weight_dtype(w),
                                 out_dtype=op.dtype, bias_dtype=weight_dtype(b), fp32_dest_acc_en=fp32,
                                 packer_l1_acc=l1_acc,
                                 in0_shard_width_tiles=src.shard_shape[1] // TILE if src.sharded else None,
                                 out_sharded=op.placement.sharded)
    if op.kind == "matmul":
        a, b = op.inputs
        return matmul.batched_cbs(cfg, k_tiles=shape_of(a)[-1] // TILE, in0_dtype=dtype_of(a), in1_dtype=dtype_of(b),
                                  out_dtype=op.dtype, fp32_dest_acc_en=fp32, packer_l1_acc=l1_acc,
                                  in0_sharded=placement_of(a).sharded, in1_sharded=placement_of(b).sharded,
                                  out_sharded=op.placement.sharded)
    if op.kind == "scale_mask_softmax":
        scores, mask = op.inputs
        return softmax.softmax_cbs(block_h=cfg["block_h"], block_w=cfg["block_w"], in_dtype=dtype_of(scores),
                                   mask_dtype=dtype_of(mask), fp32_dest_acc_en=fp32,
                                   numeric_stable=op.call.kwargs.get("numeric_stable") == "True",
                                   mask_sharded=placement_of(mask).sharded)
    if op.kind == "layer_norm" and cfg is not None:
        p = op.placement
        gx, gy = p.grid
        rows_along = gx if p.orientation == "ROW_MAJOR" else gy
        height = 1
        for d in shape_of(op.inputs[0])[:-1]:
            height *= d
        # One shard row (batch 1): the factory's 1D multicast reduces over every core of the shard grid.
        num_blocks = gx * gy if height == p.shard_shape[0] else rows_along
        gamma, beta = op.weights
        red = layernorm_reduction or {}
        return layernorm.layernorm_sharded_cbs(
            block_h=cfg["block_h"], block_w=cfg["block_w"], k_tiles=shape_of(op.inputs[0])[-1] // TILE,
            num_blocks=num_blocks, in_dtype=dtype_of(op.inputs[0]), out_dtype=op.dtype,
            gamma_dtype=weight_dtype(gamma), beta_dtype=weight_dtype(beta), fp32_dest_acc_en=fp32,
            has_residual=len(op.inputs) > 1, use_welford=bool(red.get("use_welford")))
    if op.kind == "split_heads":
        src = placement_of(op.inputs[0])
        return attention.split_heads_cbs(block_ht=src.shard_shape[0] // TILE, block_wt=src.shard_shape[1] // TILE,
                                         dtype=dtype_of(op.inputs[0]))
    if op.kind == "concat_heads":
        return attention.concat_heads_cbs(shard_tiles=_tiles(op.placement.shard_shape), dtype=op.dtype,
                                          in_sharded=placement_of(op.inputs[0]).sharded,
                                          out_sharded=op.placement.sharded)
    if op.kind == "to_sharded":
        return data_movement.interleaved_to_sharded_cbs(shard_tiles=_tiles(op.placement.shard_shape),
                                                        in_dtype=dtype_of(op.inputs[0]), out_dtype=op.dtype,
                                                        dram_alignment=ALIGNMENT[device.arch][1])
    if op.kind == "to_interleaved":
        src = placement_of(op.inputs[0])
        return data_movement.sharded_to_interleaved_cbs(shard_tiles=_tiles(src.shard_shape),
                                                        in_dtype=dtype_of(op.inputs[0]), out_dtype=op.dtype)
    return None
