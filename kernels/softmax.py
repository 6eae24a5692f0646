"""Fused scale + mask + softmax, in place on the height-sharded attention scores.

Circular buffers (`softmax_cbs`): tt-metal ttnn/cpp/ttnn/operations/normalization/softmax/device/multi_core/
softmax_op_multi_core.cpp, scale_mask_softmax_sharded_multi_core (the version with numeric_stable). c_0 input and
c_11 output sit on the sharded scores buffer; c_1 the reduce scaler and c_2 the scale are one Float16_b tile each;
with a mask, c_3 holds block_w mask tiles (twice that for an unsharded causal mask, block_w x block_h for a
sharded one) and c_8 block_w intermediate tiles; c_6 the exps (block_w), c_7 1/sum (one tile); numeric_stable
adds c_9 the row max (one tile) and c_10 x (block_w). Intermediates are Float16_b, Float32 with fp32_dest_acc_en.
"""
from __future__ import annotations

from .common import (MAX_SUBBLOCK_TILES, CircularBuffer, ProgramConfig, intermediate_format, largest_divisor_at_most,
                     require, tile_bytes)

SHARDED = "SoftmaxShardedMultiCoreProgramConfig"


def softmax_config(*, grid: tuple[int, int], block_h: int, block_w: int, override: dict, key: str,
                   max_subblock: int = MAX_SUBBLOCK_TILES) -> ProgramConfig:
    sub_w = override.get("subblock_w", largest_divisor_at_most(block_w, max_subblock))
    require(block_w % sub_w == 0, "block_w % subblock_w == 0", f"block_w={block_w}, subblock_w={sub_w}", f"{key}.subblock_w")
    require(sub_w <= max_subblock, f"subblock_w <= {max_subblock}", f"subblock_w={sub_w}", f"{key}.subblock_w")
    return ProgramConfig(SHARDED, dict(compute_with_storage_grid_size=grid, subblock_w=sub_w, block_h=block_h, block_w=block_w))


def softmax_cbs(*, block_h: int, block_w: int, in_dtype: str, mask_dtype: str | None, fp32_dest_acc_en: bool,
                numeric_stable: bool, causal_mask: bool = False, mask_sharded: bool = False) -> list[CircularBuffer]:
    im = tile_bytes(intermediate_format(fp32_dest_acc_en))
    bf16 = tile_bytes("float16_b")
    cbs = [CircularBuffer(0, "in0", block_w * block_h, tile_bytes(in_dtype), aliases="input"),
           CircularBuffer(1, "reduce_scaler", 1, bf16)]
    if mask_dtype is not None:
        mask_pages = block_w
        if causal_mask:
            mask_pages = block_w * block_h if mask_sharded else block_w * 2
        cbs += [CircularBuffer(8, "scaled_masked", block_w, im), CircularBuffer(2, "scale", 1, bf16),
                CircularBuffer(3, "mask", mask_pages, tile_bytes(mask_dtype),
                               aliases="mask" if mask_sharded else None)]
    cbs += [CircularBuffer(11, "out", block_w * block_h, tile_bytes(in_dtype), aliases="output"),
            CircularBuffer(6, "exps", block_w, im), CircularBuffer(7, "recip_sum_exps", 1, im)]
    if numeric_stable:
        cbs += [CircularBuffer(9, "max", 1, im), CircularBuffer(10, "x", block_w, im)]
    return sorted(cbs, key=lambda cb: cb.index)
